package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ironworks-ci/ironworks/coordinator/engine/local"
	"github.com/ironworks-ci/ironworks/coordinator/internal/fixture"
)

// A job's output_limit is honoured and the cap keeps the head and the tail,
// where the error is, saying how much was dropped between them.
func TestOutputLimitKeepsHeadAndTail(t *testing.T) {
	dir := t.TempDir()
	cfg, _ := writeShellProject(t, dir, `[jobs.noisy]
stage = "forge"
output_limit = "8KiB"
command = "echo first line; i=0; while [ $i -lt 5000 ]; do echo filler line $i; i=$((i+1)); done; echo 'error: the real failure' >&2; exit 3"
`, "")
	if code := realMain([]string{"run", "--once", "--config", cfg}, os.Stderr); code != exitGate {
		t.Fatalf("run --once = %d, want %d", code, exitGate)
	}
	b, err := os.ReadFile(local.LogPath(filepath.Join(dir, "state"), 1, "app:noisy"))
	if err != nil {
		t.Fatal(err)
	}
	log := string(b)
	for _, want := range []string{"first line", "error: the real failure", "bytes dropped here", "filler line 4999"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if strings.Contains(log, "filler line 2500\n") {
		t.Error("the middle of the output was kept")
	}
	// The log is the limit plus the coordinator's own header and notes.
	if len(b) > 8<<10+2<<10 {
		t.Errorf("log is %d bytes for an 8 KiB limit", len(b))
	}
}

// A state directory that cannot be used is an infrastructure error (exit 4)
// that names the directory, not a configuration error.
func TestUnusableStateDirIsInfraNamingPath(t *testing.T) {
	dir := t.TempDir()
	cfg, _ := writeShellProject(t, dir, "[jobs.build]\nstage = \"forge\"\ncommand = \"true\"\n", "")
	// A file where the state directory should be.
	if err := os.WriteFile(filepath.Join(dir, "state"), []byte("not a folder"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := buildBinary(t)
	for _, args := range [][]string{{"run", "--once"}, {"serve"}} {
		cmd := exec.Command(bin, append(args, "--config", cfg)...)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != exitInfra {
			t.Errorf("%v: %v, want exit %d\n%s", args, err, exitInfra, out)
		}
		if !strings.Contains(string(out), filepath.Join(dir, "state")) {
			t.Errorf("%v: the error does not name the state directory:\n%s", args, out)
		}
	}
}

// Passed runs leave no worktrees; failed ones keep theirs, the newest
// keep_failed_worktrees only.
func TestWorktreesRemovedAfterRuns(t *testing.T) {
	dir := t.TempDir()
	cfg, _ := writeShellProject(t, dir, "[jobs.build]\nstage = \"forge\"\ncommand = \"grep -q good README\"\n", "keep_failed_worktrees = 2\n")
	repo := fixture.Open(t, filepath.Join(dir, "src", "app"))
	for i := 1; i <= 4; i++ {
		repo.Commit(fmt.Sprintf("bad %d", i), map[string]string{"README": fmt.Sprintf("bad %d\n", i)})
		if code := realMain([]string{"run", "--once", "--config", cfg}, os.Stderr); code != exitGate {
			t.Fatalf("pass %d = %d, want %d", i, code, exitGate)
		}
	}
	repo.Commit("good", map[string]string{"README": "good\n"})
	if code := realMain([]string{"run", "--once", "--config", cfg}, os.Stderr); code != exitOK {
		t.Fatalf("good pass = %d", code)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "state", "work"))
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if strings.Join(left, " ") != "run-3 run-4" {
		t.Errorf("worktrees left: %v, want the two newest failed runs (run-3 run-4)", left)
	}
	// git forgot the removed worktrees.
	out, err := exec.Command("git", "-C", filepath.Join(dir, "state", "mirrors", "app.git"), "worktree", "list").Output()
	if err != nil || strings.Count(string(out), "\n") != 3 {
		t.Errorf("git worktree list: %v\n%s", err, out)
	}
}
