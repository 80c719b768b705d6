package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ironworks-ci/ironworks/benchkit/results"
	"github.com/ironworks-ci/ironworks/coordinator/benchqueue"
	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// syncBuffer is a bytes.Buffer the agent and the test may use at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A bench command leased by the shipped `benchkit agent` from the
// coordinator's real queue cannot read the agent's token file or another
// job's checkout; it reports what it found as its metric, so the stored
// sample says whether anything leaked, and its denials are in the agent's log.
func TestAgentSandboxHidesTokenAndOtherJobs(t *testing.T) {
	if _, err := exec.LookPath("bwrap"); err != nil {
		t.Skip("bubblewrap not installed (.ci/run installs it)")
	}
	ctx := context.Background()
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "agent.token")
	const token = "agent-token-0123456789abcdef"
	os.WriteFile(tokenFile, []byte(token+"\n"), 0o600)
	workdir := filepath.Join(dir, "agent")
	decoy := filepath.Join(workdir, "jobs", "0-1", "other", "private.txt")
	os.MkdirAll(filepath.Dir(decoy), 0o755)
	os.WriteFile(decoy, []byte("another job's file\n"), 0o644)

	src := filepath.Join(dir, "src", "demo")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "bench.sh"), []byte(fmt.Sprintf(`#!/bin/sh
leaks=0
for f in %q %q; do
  if cat "$f" >/dev/null 2>&1; then leaks=$((leaks+1)); echo "LEAKED $f" >&2; else echo "DENIED $f: $(cat "$f" 2>&1)" >&2; fi
done
echo "{\"size\": $((leaks+1))}"
`, tokenFile, decoy)), 0o644)
	for _, args := range [][]string{{"init", "-q"}, {"add", "bench.sh"}, {"-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "-m", "bench"}} {
		if out, err := exec.Command("git", append([]string{"-C", src}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}
	out, _ := exec.Command("git", "-C", src, "rev-parse", "HEAD").Output()
	head := strings.TrimSpace(string(out))
	st, err := store.Open(ctx, filepath.Join(dir, "state", "ironworks.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	q := benchqueue.New(st)
	srv := httptest.NewServer(q.Handler([]string{token}, nil))
	defer srv.Close()
	bench := &config.Bench{
		Name: "b", Component: "demo", Stage: "harden", Command: "sh bench.sh", Parser: "json", Repeat: 1,
		Timeout: config.Duration{Duration: time.Minute},
		Metrics: map[string]config.Metric{"size": {Direction: "lower", Threshold: config.Percent{Fraction: 0.05}}},
	}
	if err := q.Enqueue(ctx, "c1", "demo", map[string]benchqueue.Revision{"demo": {Repo: "file://" + src, Rev: head}}, bench); err != nil {
		t.Fatal(err)
	}
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	var stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- realMain(actx, []string{"agent", "--coordinator", srv.URL, "--token-file", tokenFile, "--workdir", workdir, "--poll", "50ms"},
			&env{stdout: &bytes.Buffer{}, stderr: &stderr})
	}()
	deadline := time.Now().Add(time.Minute)
	for {
		jobs, _ := q.Jobs(ctx, "c1")
		if len(jobs) > 0 && jobs[0].State == benchqueue.Done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agent never finished the job:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	<-done
	runs, _ := q.Results().Runs(ctx, "c1")
	if len(runs) == 0 {
		t.Fatal("no stored run")
	}
	s, _ := q.Results().Samples(ctx, "c1", results.Series{Component: "demo", Bench: "b", HostClass: runs[0].Host.Class()})
	if len(s["size"]) != 1 || s["size"][0] != 1 {
		t.Errorf("size = %v, want [1] (nothing leaked)\n%s", s["size"], stderr.String())
	}
	log := stderr.String()
	if strings.Contains(log, "LEAKED") || strings.Count(log, "DENIED") != 2 {
		t.Errorf("agent log:\n%s", log)
	}
	if strings.Contains(log, token) {
		t.Error("the token is in the agent's log")
	}
}

// An agent whose sandbox cannot work refuses to start (exit 4, naming the
// opt-out) instead of running bench commands unsandboxed.
func TestAgentRefusesUnusableSandbox(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "agent.token")
	os.WriteFile(tokenFile, []byte("agent-token-0123456789abcdef\n"), 0o600)
	bin := t.TempDir()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal(err)
	}
	os.Symlink(sh, filepath.Join(bin, "sh"))
	t.Setenv("PATH", bin) // no bwrap
	code, _, stderr := bk(t, "agent", "--coordinator", "http://127.0.0.1:1", "--token-file", tokenFile, "--workdir", filepath.Join(dir, "w"))
	if code != exitInfra || !strings.Contains(stderr, "--sandbox off") {
		t.Errorf("agent without bwrap: exit %d, want %d naming --sandbox off\n%s", code, exitInfra, stderr)
	}
}
