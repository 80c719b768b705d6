package benchqueue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ironworks-ci/ironworks/benchkit/agent"
	"github.com/ironworks-ci/ironworks/benchkit/measure"
	"github.com/ironworks-ci/ironworks/benchkit/protocol"
	"github.com/ironworks-ci/ironworks/benchkit/results"
	"github.com/ironworks-ci/ironworks/benchkit/runner"
	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

const token = "agent-token-0123456789"

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newQueue(t *testing.T, clk *clock) (*Queue, *store.Store) {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "ironworks.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if clk != nil {
		st.Now = clk.now
	}
	return New(st), st
}

func serve(t *testing.T, q *Queue) *httptest.Server {
	srv := httptest.NewServer(q.Handler([]string{token}, nil))
	t.Cleanup(srv.Close)
	return srv
}

func benchSpec(name, command string, requires ...string) *config.Bench {
	return &config.Bench{
		Name: name, Component: "demo", Stage: "harden", Command: command, Parser: "json", Repeat: 3, Requires: requires,
		Timeout: config.Duration{Duration: time.Minute},
		Metrics: map[string]config.Metric{"size": {Direction: "lower", Threshold: config.Percent{Fraction: 0.05}}},
	}
}

func post(t *testing.T, url, tok string, v any) (*http.Response, []byte) {
	t.Helper()
	b, _ := json.Marshal(v)
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	return resp, buf.Bytes()
}

var host = measure.Host{CPUModel: "Test CPU", Cores: 4, MemoryGiB: 16, Kernel: "6.1", Arch: "amd64"}

// complete leases the next job over HTTP and posts samples for it.
func complete(t *testing.T, srv *httptest.Server, samples map[string][]float64) protocol.Job {
	t.Helper()
	resp, body := post(t, srv.URL+protocol.PathLease, token, protocol.LeaseRequest{Agent: "direct", Features: []string{"gpu"}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("lease: %s %s", resp.Status, body)
	}
	var job protocol.Job
	if err := json.Unmarshal(body, &job); err != nil {
		t.Fatal(err)
	}
	resp, body = post(t, srv.URL+protocol.PathResult, token, protocol.Result{JobID: job.ID, LeaseID: job.LeaseID, Agent: "direct", Host: host, Samples: samples})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("result: %s %s", resp.Status, body)
	}
	return job
}

var revs = map[string]Revision{"demo": {Repo: "file:///nowhere", Rev: "abc"}}

func TestAuth(t *testing.T) {
	q, _ := newQueue(t, nil)
	srv := serve(t, q)
	for _, tok := range []string{"", "wrong-token-0123456789", token + "x"} {
		resp, _ := post(t, srv.URL+protocol.PathLease, tok, protocol.LeaseRequest{Agent: "a"})
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("token %q: %s", tok, resp.Status)
		}
	}
	resp, _ := post(t, srv.URL+protocol.PathLease, token, protocol.LeaseRequest{Agent: "a"})
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("empty queue: %s", resp.Status)
	}
	dir := t.TempDir()
	f := filepath.Join(dir, "tokens")
	os.WriteFile(f, []byte("# agents\n"+token+"\n\nsecond-token-abcdefghij\n"), 0o600)
	if toks, err := ReadTokens(f); err != nil || len(toks) != 2 {
		t.Errorf("tokens %v %v", toks, err)
	}
	os.WriteFile(f, []byte("short\n"), 0o600)
	if _, err := ReadTokens(f); err == nil || !strings.Contains(err.Error(), "shorter than 16") {
		t.Errorf("short token: %v", err)
	}
	os.WriteFile(f, []byte("# none\n"), 0o600)
	if _, err := ReadTokens(f); err == nil {
		t.Error("empty token file accepted")
	}
	if _, err := ReadTokens(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing token file accepted")
	}
}

func TestLeaseFeaturesAndBadInput(t *testing.T) {
	ctx := context.Background()
	q, _ := newQueue(t, nil)
	srv := serve(t, q)
	if err := q.Enqueue(ctx, "c1", "demo", revs, benchSpec("gpu-bench", "true", "gpu")); err != nil {
		t.Fatal(err)
	}
	if err := q.Enqueue(ctx, "c1", "demo", revs, benchSpec("gpu-bench", "true", "gpu")); err != nil {
		t.Fatal(err) // a second enqueue is a no-op
	}
	if err := q.Enqueue(ctx, "c1", "other", revs, benchSpec("x", "true")); err == nil {
		t.Error("enqueue without the component's revision accepted")
	}
	resp, _ := post(t, srv.URL+protocol.PathLease, token, protocol.LeaseRequest{Agent: "cpu-only", Features: []string{"big-memory"}})
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("agent without gpu got %s", resp.Status)
	}
	resp, body := post(t, srv.URL+protocol.PathLease, token, protocol.LeaseRequest{Agent: "gpu-host", Features: []string{"gpu"}})
	var job protocol.Job
	json.Unmarshal(body, &job)
	if resp.StatusCode != http.StatusOK || job.Bench.Name != "gpu-bench" || job.Sources["demo"].Rev != "abc" || job.Bench.Metrics["size"].Threshold.Fraction != 0.05 {
		t.Fatalf("lease: %s %s", resp.Status, body)
	}
	if jobs, _ := q.Jobs(ctx, "c1"); len(jobs) != 1 {
		t.Errorf("enqueued twice: %+v", jobs)
	}
	for _, tt := range []struct {
		body any
		want string
	}{
		{protocol.Result{JobID: job.ID, LeaseID: job.LeaseID, Host: host}, `field "samples"`},
		{protocol.Result{JobID: job.ID, LeaseID: job.LeaseID, Samples: map[string][]float64{"size": {1}}}, `field "host.cores"`},
		{protocol.Result{JobID: job.ID, LeaseID: job.LeaseID, Host: host, Samples: map[string][]float64{"size": {}}}, `field "samples.size"`},
		{protocol.Result{JobID: job.ID, LeaseID: job.LeaseID, Host: host, Samples: map[string][]float64{"size": {-1e308, 1e308}}}, `sample 1: -1e+308 is out of range`},
		{protocol.Result{JobID: job.ID, Host: host, Samples: map[string][]float64{"size": {1}}}, `field "lease_id"`},
		{map[string]any{"job_id": "seven"}, "bad request body"},
		{map[string]any{"job_id": 1, "surprise": true}, "unknown field"},
	} {
		resp, body := post(t, srv.URL+protocol.PathResult, token, tt.body)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), tt.want) {
			t.Errorf("%+v: %s %s, want 400 %q", tt.body, resp.Status, body, tt.want)
		}
	}
	resp, body = post(t, srv.URL+protocol.PathLease, token, protocol.LeaseRequest{})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"agent"`) {
		t.Errorf("lease without agent: %s %s", resp.Status, body)
	}
	// Nothing was recorded by the bad posts.
	if n := count(t, q, "bench_runs"); n != 0 {
		t.Errorf("%d runs recorded from bad input", n)
	}
}

func count(t *testing.T, q *Queue, table string) int {
	var n int
	if err := q.st.DB.QueryRow(`SELECT count(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestDuplicateResultCountsOnce(t *testing.T) {
	ctx := context.Background()
	q, _ := newQueue(t, nil)
	srv := serve(t, q)
	q.Enqueue(ctx, "c1", "demo", revs, benchSpec("b", "true"))
	job := complete(t, srv, map[string][]float64{"size": {1, 2, 3}})
	res := protocol.Result{JobID: job.ID, LeaseID: job.LeaseID, Agent: "direct", Host: host, Samples: map[string][]float64{"size": {1, 2, 3}}}
	resp, body := post(t, srv.URL+protocol.PathResult, token, res)
	var rep protocol.ResultReply
	json.Unmarshal(body, &rep)
	if resp.StatusCode != http.StatusOK || !rep.Duplicate {
		t.Fatalf("repeat post: %s %s", resp.Status, body)
	}
	if runs, samples := count(t, q, "bench_runs"), count(t, q, "bench_samples"); runs != 1 || samples != 3 {
		t.Errorf("after a duplicate post: %d runs, %d samples; want 1 and 3", runs, samples)
	}
	// A heartbeat for a finished job says the lease is gone.
	resp, _ = post(t, srv.URL+protocol.PathHeartbeat, token, protocol.Heartbeat{JobID: job.ID, LeaseID: job.LeaseID})
	if resp.StatusCode != http.StatusConflict {
		t.Errorf("heartbeat after completion: %s", resp.Status)
	}
}

func TestLeaseExpiryAndAttempts(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	q, _ := newQueue(t, clk)
	q.LeaseTTL = time.Minute
	q.Enqueue(ctx, "c1", "demo", revs, benchSpec("b", "true"))
	first, _ := q.Lease(ctx, "a1", nil)
	if first == nil || first.Attempt != 1 {
		t.Fatalf("lease %+v", first)
	}
	if j, _ := q.Lease(ctx, "a2", nil); j != nil {
		t.Fatal("a leased job was leased again")
	}
	clk.add(40 * time.Second)
	if _, err := q.Heartbeat(ctx, first.ID, first.LeaseID); err != nil {
		t.Fatalf("heartbeat: %v", err)
	}
	clk.add(40 * time.Second) // renewed: still alive at 80s
	if j, _ := q.Lease(ctx, "a2", nil); j != nil {
		t.Fatal("a renewed lease was re-queued")
	}
	clk.add(61 * time.Second)
	second, _ := q.Lease(ctx, "a2", nil)
	if second == nil || second.ID != first.ID || second.Attempt != 2 || second.LeaseID == first.LeaseID {
		t.Fatalf("expired lease not re-queued: %+v", second)
	}
	// The first agent's late heartbeat and result are refused.
	if _, err := q.Heartbeat(ctx, first.ID, first.LeaseID); !errors.Is(err, ErrLeaseGone) {
		t.Errorf("stale heartbeat: %v", err)
	}
	if _, err := q.Complete(ctx, &protocol.Result{JobID: first.ID, LeaseID: first.LeaseID, Host: host, Samples: map[string][]float64{"size": {1}}}); !errors.Is(err, ErrLeaseGone) {
		t.Errorf("stale result: %v", err)
	}
	clk.add(2 * time.Minute)
	third, _ := q.Lease(ctx, "a3", nil)
	if third == nil || third.Attempt != 3 {
		t.Fatalf("third attempt %+v", third)
	}
	clk.add(2 * time.Minute)
	if j, _ := q.Lease(ctx, "a4", nil); j != nil {
		t.Fatalf("leased after every attempt: %+v", j)
	}
	v, err := q.Verdict(ctx, "c1")
	if err != nil || v.State != StateFail || !strings.Contains(strings.Join(v.Details, "\n"), "lease expired after every attempt") {
		t.Fatalf("verdict after exhausted attempts: %+v %v", v, err)
	}
}

func TestVerdictFlow(t *testing.T) {
	ctx := context.Background()
	q, st := newQueue(t, nil)
	srv := serve(t, q)
	spec := benchSpec("b", "true")
	if v, _ := q.Verdict(ctx, "rel"); v.State != StateNone {
		t.Errorf("no jobs: %s", v.State)
	}
	q.Enqueue(ctx, "rel", "demo", revs, spec)
	if v, _ := q.Verdict(ctx, "rel"); v.State != StatePending {
		t.Errorf("queued: %s", v.State)
	}
	complete(t, srv, map[string][]float64{"size": {100, 101, 99, 100, 102}})
	v, err := q.Verdict(ctx, "rel")
	if err != nil || v.State != StatePass || len(v.ReportIDs) != 1 || !strings.Contains(v.Details[0], "no released baseline") {
		t.Fatalf("first candidate: %+v %v", v, err)
	}
	q.MarkReleased(ctx, "rel")

	// 6% slower in 5 samples: significant at 0.01 but within a factor ten of
	// it, so borderline: a confirmation round is queued before failing.
	q.Enqueue(ctx, "c2", "demo", revs, spec)
	complete(t, srv, map[string][]float64{"size": {106, 107, 105, 106, 108}})
	v, _ = q.Verdict(ctx, "c2")
	if v.State != StatePending || !strings.Contains(strings.Join(v.Details, "\n"), "confirmation run 1") {
		t.Fatalf("borderline: %+v", v)
	}
	if jobs, _ := q.Jobs(ctx, "c2"); len(jobs) != 2 || jobs[1].Round != 1 {
		t.Fatalf("confirmation job: %+v", jobs)
	}
	complete(t, srv, map[string][]float64{"size": {106, 107, 106, 105, 107}})
	v, _ = q.Verdict(ctx, "c2")
	if v.State != StateFail || !strings.Contains(strings.Join(v.Details, "\n"), "size regressed") {
		t.Fatalf("confirmed regression: %+v", v)
	}
	js, md, err := q.Report(ctx, v.ReportIDs[0])
	if err != nil || !strings.Contains(md, "regressed") || !strings.Contains(js, `"baseline": "rel"`) {
		t.Errorf("report: %v\n%s\n%s", err, md, js)
	}
	evs, _ := st.EventsAfter(ctx, 0, 10)
	if len(evs) != 1 || evs[0].Kind != "bench-regression" || evs[0].Candidate != "c2" {
		t.Errorf("events %+v", evs)
	}
	q.Verdict(ctx, "c2") // asking again adds no second event
	if evs, _ := st.EventsAfter(ctx, 0, 10); len(evs) != 1 {
		t.Errorf("%d events after asking twice", len(evs))
	}

	// Acknowledged, the regression passes and the ack is there for the
	// manifest. (c2 is no stored candidate, so the ack goes to the results
	// store directly; Queue.Ack's checks are TestAckRefusals'.)
	if err := q.Results().AddAck(ctx, results.Ack{Candidate: "c2", Metric: "size", Reason: "new feature costs 6%", By: "bob"}); err != nil {
		t.Fatal(err)
	}
	v, _ = q.Verdict(ctx, "c2")
	if v.State != StatePass {
		t.Fatalf("acknowledged: %+v", v)
	}
	acks, _ := q.Acks(ctx, "c2")
	if len(acks) != 1 || acks[0].Reason != "new feature costs 6%" {
		t.Errorf("acks %+v", acks)
	}
	if _, md, _ := q.Report(ctx, v.ReportIDs[0]); !strings.Contains(md, "acknowledged by bob") {
		t.Errorf("report lacks the ack:\n%s", md)
	}

	// A failed bench command fails the gate with its error.
	q.Enqueue(ctx, "c3", "demo", revs, spec)
	j, _ := q.Lease(ctx, "a", nil)
	if _, err := q.Complete(ctx, &protocol.Result{JobID: j.ID, LeaseID: j.LeaseID, Error: "exit status 101"}); err != nil {
		t.Fatal(err)
	}
	if v, _ := q.Verdict(ctx, "c3"); v.State != StateFail || !strings.Contains(v.Details[0], "exit status 101") {
		t.Errorf("failed job: %+v", v)
	}
}

// gitRepo makes a repository whose bench.sh prints {"size": N}, and, when
// $HOME/slow exists, first sleeps (the job an agent is killed in).
func gitRepo(t *testing.T, size int) (dir, rev string) {
	t.Helper()
	dir = t.TempDir()
	script := fmt.Sprintf("#!/bin/sh\nif [ -e \"$HOME/slow\" ]; then sleep 30; fi\nif [ -n \"$HOLD\" ]; then sleep \"$HOLD\"; fi\necho '{\"size\": %d}'\n", size)
	os.WriteFile(filepath.Join(dir, "bench.sh"), []byte(script), 0o755)
	run := func(args ...string) string {
		cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@e", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@e")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	run("init", "-q")
	run("add", "bench.sh")
	run("commit", "-q", "-m", "bench")
	return dir, run("rev-parse", "HEAD")
}

func newAgent(t *testing.T, srv *httptest.Server, name, home string) *agent.Agent {
	r := &runner.Runner{Host: host, BaseEnv: []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home}}
	return &agent.Agent{URL: srv.URL, Token: token, Name: name, Workdir: t.TempDir(), Runner: r, Poll: 50 * time.Millisecond}
}

func TestAgentRunsJobWithHeartbeats(t *testing.T) {
	ctx := context.Background()
	q, _ := newQueue(t, nil)
	q.LeaseTTL = 450 * time.Millisecond
	srv := serve(t, q)
	repo, rev := gitRepo(t, 42)
	spec := benchSpec("b", "./bench.sh")
	spec.Env = map[string]string{"HOLD": "0.6"} // each run outlives the lease: heartbeats keep it
	spec.Repeat = 2
	if err := q.Enqueue(ctx, "c1", "demo", map[string]Revision{"demo": {Repo: repo, Rev: rev}}, spec); err != nil {
		t.Fatal(err)
	}
	a := newAgent(t, srv, "agent-1", t.TempDir())
	did, err := a.Once(ctx)
	if err != nil || !did {
		t.Fatalf("once: %v %v", did, err)
	}
	jobs, _ := q.Jobs(ctx, "c1")
	if jobs[0].State != Done || jobs[0].Attempt != 1 {
		t.Fatalf("job %+v", jobs[0])
	}
	s, _ := q.Results().Samples(ctx, "c1", results.Series{Component: "demo", Bench: "b", HostClass: host.Class()})
	if len(s["size"]) != 2 || s["size"][0] != 42 || len(s[runner.MetricWall]) != 2 || s[runner.MetricWall][0] < 600 {
		t.Errorf("samples %v", s)
	}
	runs, _ := q.Results().Runs(ctx, "c1")
	if len(runs) != 1 || runs[0].Revisions["demo"] != rev || runs[0].Host.CPUModel != "Test CPU" {
		t.Errorf("runs %+v", runs)
	}
	if did, err := a.Once(ctx); did || err != nil {
		t.Errorf("empty queue: %v %v", did, err)
	}
}

func TestAgentKilledMidJob(t *testing.T) {
	ctx := context.Background()
	q, _ := newQueue(t, nil)
	q.LeaseTTL = 600 * time.Millisecond
	srv := serve(t, q)
	repo, rev := gitRepo(t, 7)
	spec := benchSpec("b", "./bench.sh")
	spec.Repeat = 1
	q.Enqueue(ctx, "c1", "demo", map[string]Revision{"demo": {Repo: repo, Rev: rev}}, spec)

	slowHome := t.TempDir()
	os.WriteFile(filepath.Join(slowHome, "slow"), nil, 0o644)
	a1 := newAgent(t, srv, "agent-1", slowHome)
	kill, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { _, err := a1.Once(kill); done <- err }()
	// Wait until agent 1 holds the lease and is inside its 30 s bench (kept
	// alive by heartbeats past its lease), then kill it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		jobs, _ := q.Jobs(ctx, "c1")
		if jobs[0].State == Leased {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("agent 1 never leased the job")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(q.LeaseTTL + 200*time.Millisecond)
	if jobs, _ := q.Jobs(ctx, "c1"); jobs[0].State != Leased || jobs[0].Agent != "agent-1" {
		t.Fatalf("agent 1 lost its lease while alive: %+v", jobs[0])
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("killed agent did not stop")
	}
	a2 := newAgent(t, srv, "agent-2", t.TempDir())
	// Until the lease expires the job is not handed out again...
	var expires int64
	if err := q.st.DB.QueryRow(`SELECT lease_expires FROM bench_jobs`).Scan(&expires); err != nil {
		t.Fatal(err)
	}
	did, _ := a2.Once(ctx)
	if did && time.Now().Before(time.UnixMilli(expires)) {
		t.Fatal("job re-leased before its lease expired")
	}
	time.Sleep(time.Until(time.UnixMilli(expires)) + 50*time.Millisecond)
	// ...then it runs again on another agent.
	if !did {
		var err error
		did, err = a2.Once(ctx)
		if err != nil {
			t.Fatalf("agent 2: %v", err)
		}
	}
	if !did {
		t.Fatal("agent 2 got no job after the lease expired")
	}
	jobs, _ := q.Jobs(ctx, "c1")
	if jobs[0].State != Done || jobs[0].Attempt != 2 || jobs[0].Agent != "agent-2" {
		t.Errorf("job after the kill: %+v", jobs[0])
	}
	if n := count(t, q, "bench_runs"); n != 1 {
		t.Errorf("%d runs recorded, want 1", n)
	}
}
