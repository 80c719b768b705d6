package main

import (
	"fmt"
	"net"
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

// hangingRemote accepts connections and never answers, as a wedged git
// server or a black-holing proxy does.
func hangingRemote(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for _, c := range conns {
			c.Close()
		}
	})
	return "http://" + ln.Addr().String() + "/dead.git"
}

// A component whose remote stops answering: run --once ends within its
// git_timeout naming the component (exit 4), and the other component's new
// commit is still built, with the dead one at its last known head.
func TestUnreachableComponentDoesNotStopOthers(t *testing.T) {
	dir := t.TempDir()
	app := fixture.NewRepo(t, filepath.Join(dir, "src", "app"))
	app.Commit("first", map[string]string{"README": "app\n"})
	dead := fixture.NewRepo(t, filepath.Join(dir, "src", "dead"))
	dead.Commit("first", map[string]string{"README": "dead\n"})
	for _, c := range []string{"app", "dead"} {
		os.MkdirAll(filepath.Join(dir, "adapters", c), 0o755)
		os.WriteFile(filepath.Join(dir, "adapters", c, "adapter.toml"), []byte(fmt.Sprintf("name = %q\nrepo = \"unused\"\n[jobs.build]\nstage = \"forge\"\ncommand = \"cat README\"\n", c)), 0o644)
	}
	write := func(deadRepo string) string {
		cfg := filepath.Join(dir, "ironworks.toml")
		os.WriteFile(cfg, []byte(fmt.Sprintf(`state_dir = "state"
adapters = ["adapters/app", "adapters/dead"]
[components.app]
repo = %q
[components.dead]
repo = %q
[engine]
git_timeout = "2s"
`, app.URL(), deadRepo)), 0o644)
		return cfg
	}
	if code := realMain([]string{"run", "--once", "--config", write(dead.URL())}, os.Stderr); code != exitOK {
		t.Fatalf("first pass = %d", code)
	}
	app.Commit("second", map[string]string{"README": "app 2\n"})
	cfg := write(hangingRemote(t))
	bin := buildBinary(t)
	cmd := exec.Command(bin, "run", "--once", "--config", cfg)
	cmd.Dir = dir
	start := time.Now()
	out, err := cmd.CombinedOutput()
	elapsed := time.Since(start)
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitInfra {
		t.Fatalf("run --once with a dead remote: %v, want exit %d\n%s", err, exitInfra, out)
	}
	if !strings.Contains(string(out), "dead") || !strings.Contains(string(out), "no answer within 2s") {
		t.Errorf("the failure does not name the component and the deadline:\n%s", out)
	}
	if !strings.Contains(string(out), "verdict=green") || !strings.Contains(string(out), "app@"+app.Head()[:7]) {
		t.Errorf("the other component's new head was not built:\n%s", out)
	}
	t.Logf("ended after %s", elapsed.Round(time.Millisecond))

	// serve reports the failing discovery on /healthz once it lasts two polls.
	os.WriteFile(cfg, append(mustRead(t, cfg), []byte("poll_interval = \"300ms\"\n")...), 0o644)
	base, _ := startServe(t, bin, dir, cfg)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			b := make([]byte, 512)
			n, _ := resp.Body.Read(b)
			resp.Body.Close()
			if resp.StatusCode == http.StatusServiceUnavailable && strings.Contains(string(b[:n]), "dead") {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("/healthz never reported the failing discovery")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// SIGTERM of serve while a job runs for ever and a remote never answers: it
// stops within 30 s, killing the job.
func TestServeStopsPromptlyOnSIGTERM(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	markers := filepath.Join(dir, "markers")
	cfg, _ := writeShellProject(t, dir, fmt.Sprintf(`[jobs.forever]
stage = "forge"
timeout = "1h"
command = "touch %s/started; sleep 3000"
`, markers), "poll_interval = \"200ms\"\n")
	_, serve := startServe(t, bin, dir, cfg)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(markers, "started")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the job never started")
		}
		time.Sleep(50 * time.Millisecond)
	}
	start := time.Now()
	serve.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- serve.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve exited with %v after SIGTERM", err)
		}
		t.Logf("stopped in %s", time.Since(start).Round(time.Millisecond))
	case <-time.After(30 * time.Second):
		serve.Process.Kill()
		t.Fatal("serve did not stop within 30 s of SIGTERM")
	}
}
