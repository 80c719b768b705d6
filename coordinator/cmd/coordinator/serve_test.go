package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ironworks-ci/ironworks/coordinator/internal/fixture"
)

// The daemon end to end: a subscriber, a green pass promoted by the
// scheduler, then an upstream commit that breaks the downstream, seen by
// polling, e-mailed once (to the outbox folder, no SMTP configured), and a
// graceful stop on SIGTERM.
func TestServeEndToEnd(t *testing.T) {
	fixture.RequireCargo(t)
	bin := buildBinary(t)
	dir := t.TempDir()
	cfg := writeFixtureConfig(t, dir, filepath.Join(dir, "markers", "marker"))
	// Poll fast, listen on a free port.
	b, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, append(b, []byte("poll_interval = \"300ms\"\n[web]\nlisten = \"127.0.0.1:0\"\n")...), 0o644)
	up := fixture.Open(t, filepath.Join(dir, "src", "merkletree"))

	if out, err := exec.Command(bin, "subscribe", "--config", cfg, "--email", "maintainer@example.org", "--component", "rust-fil-proofs").CombinedOutput(); err != nil {
		t.Fatalf("subscribe: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "serve", "--config", cfg)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "listening on ") {
		t.Fatalf("serve did not report its address: %q %v", line, err)
	}
	base := strings.TrimSpace(strings.TrimPrefix(line, "listening on "))
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Fatalf("/healthz: %d", code)
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(90 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	forgeVerdict := func() string {
		_, body := get("/api/dashboard")
		var d struct {
			Rows []struct {
				Component string `json:"component"`
				Cells     []struct {
					Stage  string `json:"stage"`
					Status string `json:"status"`
				} `json:"cells"`
			} `json:"rows"`
		}
		json.Unmarshal([]byte(body), &d)
		for _, r := range d.Rows {
			for _, c := range r.Cells {
				if r.Component == "rust-fil-proofs" && c.Stage == "forge" {
					return c.Status
				}
			}
		}
		return ""
	}
	waitFor("forge green on the dashboard", func() bool { return forgeVerdict() == "green" })

	up.Commit("rename leaf_count", map[string]string{"src/lib.rs": strings.ReplaceAll(fixture.UpstreamLib, "leaf_count", "leaves_of")})
	outbox := filepath.Join(dir, "state", "outbox")
	waitFor("an incompatibility e-mail in the outbox", func() bool {
		files, _ := filepath.Glob(filepath.Join(outbox, "*.eml"))
		return len(files) > 0
	})
	time.Sleep(time.Second) // any duplicate would arrive now
	files, _ := filepath.Glob(filepath.Join(outbox, "*.eml"))
	if len(files) != 1 {
		t.Fatalf("%d e-mails, want exactly 1", len(files))
	}
	mail, _ := os.ReadFile(files[0])
	for _, want := range []string{"maintainer@example.org", "incompatible", "rename leaf_count", "List-Unsubscribe"} {
		if !strings.Contains(strings.ToLower(string(mail)), strings.ToLower(want)) {
			t.Errorf("e-mail lacks %q:\n%s", want, mail)
		}
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "ironworks_job_duration_seconds") {
		t.Errorf("/metrics: %d, no ironworks_job_duration_seconds", code)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve exited with %v after SIGTERM", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop within 30s of SIGTERM")
	}
}
