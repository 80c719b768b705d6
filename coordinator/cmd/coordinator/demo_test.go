package main

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ironworks-ci/ironworks/coordinator/internal/fixture"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// coordinator demo plays the whole story with git and cargo only: it ends
// naming the culprit, and the UI it serves shows the culprit on the
// candidate page and the failing stretch in the compatibility view, until
// it is interrupted.
func TestDemoEndsWithCulpritAndServesIt(t *testing.T) {
	fixture.RequireCargo(t)
	bin := buildBinary(t)
	dir := filepath.Join(t.TempDir(), "demo")
	cmd := exec.Command(bin, "demo", "--dir", dir, "--listen", "127.0.0.1:0", "--pace", "0")
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var out []string
	var see, done string
	timeout := time.After(5 * time.Minute)
	for done == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("demo ended early:\n%s", strings.Join(out, "\n"))
			}
			out = append(out, l)
			if strings.HasPrefix(l, "demo:     see ") {
				see = l
			}
			if strings.HasPrefix(l, "demo: done: ") {
				done = l
			}
		case <-timeout:
			t.Fatalf("demo did not finish:\n%s", strings.Join(out, "\n"))
		}
	}
	go func() {
		for range lines {
		}
	}()
	for _, want := range []string{"incompatible with merkletree", `"rename leaf_count to leaves"`, "Hasty Contributor", "found by bisection", "fixed, forge green"} {
		if !strings.Contains(done, want) {
			t.Errorf("last story line lacks %q:\n%s", want, done)
		}
	}
	f := strings.Fields(see) // demo: see URL#run-N and URL/compat
	if len(f) < 5 {
		t.Fatalf("no page named: %q", see)
	}
	candidate, compat := strings.Split(f[2], "#")[0], f[4]
	culprit := strings.TrimSpace(strings.Fields(strings.SplitN(done, "culprit ", 2)[1])[0])
	// The culprit is the fifth of the eight upstream commits between the
	// first (green) one and the fix.
	log, err := exec.Command("git", "-C", filepath.Join(dir, "src", "merkletree"), "log", "--reverse", "--format=%H %s").Output()
	if err != nil {
		t.Fatal(err)
	}
	commits := strings.Split(strings.TrimSpace(string(log)), "\n")
	if len(commits) != 10 {
		t.Fatalf("merkletree has %d commits, want the first, eight story commits and the fix:\n%s", len(commits), log)
	}
	fifth := strings.SplitN(commits[5], " ", 2)
	if fifth[1] != "rename leaf_count to leaves" || culprit != store.ShortRev(fifth[0]) {
		t.Errorf("culprit %s, want the fifth of eight commits %s %q", culprit, store.ShortRev(fifth[0]), fifth[1])
	}
	if !slices.Contains(out, "demo: 2/4 8 merkletree commits pushed; commit 5 renames leaf_count, which rust-fil-proofs calls") {
		t.Errorf("the demo does not say that the fifth of eight commits breaks:\n%s", strings.Join(out, "\n"))
	}
	for page, wants := range map[string][]string{
		candidate: {"Culprit", culprit, "rename leaf_count to leaves", "Hasty Contributor"},
		compat:    {"incompatible", culprit, "keep leaf_count as an alias of leaves"},
	} {
		resp, err := http.Get(page)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, w := range wants {
			if !strings.Contains(string(b), w) {
				t.Errorf("%s lacks %q", page, w)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "ironworks.toml")); err != nil {
		t.Errorf("the demo's configuration is not where it said: %v", err)
	}
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Errorf("demo after Ctrl-C: %v", err)
	}
}

// The demo says what it lacks and changes nothing: without git or cargo on
// PATH, or with a --dir that already holds a demo.
func TestDemoErrors(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	noTools := binaryRun{bin: bin, env: []string{"PATH=" + filepath.Join(dir, "empty")}}
	if code, out := noTools.run(t, "demo", "--dir", filepath.Join(dir, "d"), "--pace", "0"); code != exitConfig || !strings.Contains(out, "git is not on PATH") {
		t.Errorf("demo without git: exit %d %s, want exit 3 naming git", code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "d")); err == nil {
		t.Errorf("demo without git made its folder")
	}
	os.MkdirAll(filepath.Join(dir, "d", "src", "merkletree"), 0o755)
	if code, out := (binaryRun{bin: bin}).run(t, "demo", "--dir", filepath.Join(dir, "d"), "--pace", "0"); code != exitUsage || !strings.Contains(out, "give --dir a new folder") {
		t.Errorf("demo in a used folder: exit %d %s, want exit 2 asking for a new folder", code, out)
	}
	if code, _, _ := captureCLI(t, "demo", "--pace"); code != exitUsage {
		t.Errorf("demo --pace without a value: %d, want 2", code)
	}
}
