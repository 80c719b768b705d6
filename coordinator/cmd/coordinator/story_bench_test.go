package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The candidate page shows its bench jobs as the shipped benchkit agent
// leases and measures them (queued, then measured, with the agent's name
// and how long it took) and the bench gate's verdict.
func TestStoryBenchRunsOnCandidatePage(t *testing.T) {
	if _, err := exec.LookPath("bwrap"); err != nil {
		t.Skip("bubblewrap not installed (.ci/run installs it)")
	}
	bin := buildBinary(t)
	benchkit := filepath.Join(t.TempDir(), "benchkit")
	if out, err := exec.Command("go", "build", "-o", benchkit, "../../../benchkit/cmd/benchkit").CombinedOutput(); err != nil {
		t.Fatalf("go build benchkit: %v\n%s", err, out)
	}
	dir := t.TempDir()
	tokens := filepath.Join(dir, "bench-tokens")
	os.WriteFile(tokens, []byte("agent-token-0123456789\n"), 0o600)
	agentToken := filepath.Join(dir, "agent-token")
	os.WriteFile(agentToken, []byte("agent-token-0123456789\n"), 0o600)
	jobs := `[jobs.build]
stage = "forge"
command = "true"
[jobs.soak]
stage = "harden"
command = "true"
[bench.size]
stage = "harden"
command = "echo '{\"size\": 10}'"
parser = "json"
repeat = 3
[bench.size.metrics]
size = { direction = "lower", threshold = "5%" }
`
	cfg, _ := writeShellProject(t, dir, jobs, fmt.Sprintf("poll_interval = \"200ms\"\nbench_tokens_file = %q\n", tokens))
	base, _ := startServe(t, bin, dir, cfg)

	type panel struct {
		Candidate struct {
			ID string `json:"id"`
		} `json:"candidate"`
		Bench *struct {
			Verdict string `json:"verdict"`
			Runs    []struct {
				Bench, State, Agent, Took string
			} `json:"runs"`
		} `json:"bench"`
	}
	candidate := func() panel {
		t.Helper()
		resp, err := http.Get(base + "/api/dashboard")
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Rows []struct {
				Cells []struct{ Candidate string } `json:"cells"`
			} `json:"rows"`
		}
		json.NewDecoder(resp.Body).Decode(&d)
		resp.Body.Close()
		var p panel
		if len(d.Rows) == 0 || d.Rows[0].Cells[1].Candidate == "" {
			return p
		}
		resp, err = http.Get(base + "/api/candidates/" + d.Rows[0].Cells[1].Candidate)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		json.NewDecoder(resp.Body).Decode(&p)
		return p
	}
	waitFor := func(what string, ok func(panel) bool) panel {
		t.Helper()
		deadline := time.Now().Add(90 * time.Second)
		for {
			p := candidate()
			if ok(p) {
				return p
			}
			if time.Now().After(deadline) {
				t.Fatalf("never %s: %+v", what, p)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	// Harden passed its jobs; the bench gate queued the bench and waits.
	p := waitFor("a queued bench job", func(p panel) bool { return p.Bench != nil && len(p.Bench.Runs) > 0 })
	if p.Bench.Verdict != "pending" || p.Bench.Runs[0].State != "queued" || p.Bench.Runs[0].Agent != "" {
		t.Errorf("before any agent: %+v, want pending with a queued job", *p.Bench)
	}

	ctx, cancel := context.WithCancel(context.Background())
	agent := exec.CommandContext(ctx, benchkit, "agent", "--coordinator", base, "--token-file", agentToken,
		"--workdir", filepath.Join(dir, "agent"), "--poll", "100ms", "--name", "gpu-box-1")
	agent.Stdout, agent.Stderr = io.Discard, io.Discard
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); agent.Wait() }()
	p = waitFor("a measured bench with a verdict", func(p panel) bool {
		return p.Bench != nil && len(p.Bench.Runs) > 0 && p.Bench.Runs[0].State == "done" && p.Bench.Verdict != "pending"
	})
	r := p.Bench.Runs[0]
	if r.Agent != "gpu-box-1" || r.Took == "" || p.Bench.Verdict != "pass" {
		t.Errorf("after the agent: verdict %s, run %+v; want pass, agent gpu-box-1 and a duration", p.Bench.Verdict, r)
	}
	resp, err := http.Get(base + "/candidates/" + p.Candidate.ID)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`id="bench-verdict">pass<`, "gpu-box-1", ">measured<", "app/size"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("candidate page lacks %q", want)
		}
	}
}
