package web

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

const (
	testToken  = "operator-token-for-tests"
	testSecret = "webhook-secret-for-tests"
)

// call is one recorded Actions call.
type call struct {
	Method string
	Args   []any
	At     time.Time
}

// recorder implements Actions by recording each call and making the state
// change a real coordinator would make in the store, so tests observe effects.
type recorder struct {
	st   *store.Store
	mu   sync.Mutex
	log  []call
	fail error // returned by every call when set
	// notify receives every call, when set.
	notify chan call
}

func (r *recorder) record(m string, args ...any) error {
	c := call{Method: m, Args: args, At: time.Now()}
	r.mu.Lock()
	r.log = append(r.log, c)
	err := r.fail
	r.mu.Unlock()
	if r.notify != nil {
		r.notify <- c
	}
	return err
}

func (r *recorder) calls(method string) []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []call
	for _, c := range r.log {
		if method == "" || c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

func (r *recorder) Rebuild(ctx context.Context, runID int64, job string) (int64, error) {
	if err := r.record("Rebuild", runID, job); err != nil {
		return 0, err
	}
	if _, err := r.st.JobResult(ctx, runID, job); err != nil {
		return 0, err
	}
	return runID, r.st.ResetJob(ctx, runID, job)
}

func (r *recorder) RebuildFailed(ctx context.Context, id string) (int, error) {
	if err := r.record("RebuildFailed", id); err != nil {
		return 0, err
	}
	c, err := r.st.Candidate(ctx, id)
	if err != nil {
		return 0, err
	}
	runs, err := r.st.Runs(ctx, store.RunFilter{Candidate: c.ID})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, run := range runs {
		jobs, err := r.st.JobResults(ctx, run.ID)
		if err != nil {
			return 0, err
		}
		for _, j := range jobs {
			if j.State == store.JobFailure {
				if err := r.st.ResetJob(ctx, run.ID, j.Job); err != nil {
					return n, err
				}
				n++
			}
		}
	}
	return n, nil
}

func (r *recorder) Cancel(ctx context.Context, runID int64) error {
	if err := r.record("Cancel", runID); err != nil {
		return err
	}
	return r.st.Cancel(ctx, runID, "cancelled by operator")
}

func (r *recorder) Promote(ctx context.Context, id, stage string) error {
	if err := r.record("Promote", id, stage); err != nil {
		return err
	}
	if stage == "temper" {
		return fmt.Errorf("forge gate is red: %w", ErrRefused)
	}
	return nil
}

func (r *recorder) Trigger(ctx context.Context, comp, branch, sha string) error {
	if err := r.record("Trigger", comp, branch, sha); err != nil {
		return err
	}
	_, err := r.st.SetTarget(ctx, comp, branch, sha)
	return err
}

func (r *recorder) PullRequest(ctx context.Context, e PREvent) error {
	return r.record("PullRequest", e)
}

func (r *recorder) CheckRerun(ctx context.Context, sha string) error {
	return r.record("CheckRerun", sha)
}

// env is a server over a real store with seeded pipeline state.
type env struct {
	t      testing.TB
	st     *store.Store
	cfg    *config.Config
	acts   *recorder
	srv    *Server
	http   *httptest.Server
	logDir string

	cand    *store.Candidate
	run     *store.Run // forge, running: build success, test running, clippy pending
	failed  *store.Run // spark, done failed
	queued  *store.Run
	headMT  string
	headRFP string
}

func testConfig(t testing.TB, dir string) *config.Config {
	cfg, err := config.Parse("test.toml", []byte(`state_dir = "state"
adapters = ["embedded:merkletree", "embedded:rust-fil-proofs"]
[components.merkletree]
branches = ["release"]
`), dir)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func newEnv(t testing.TB, mod func(*Options)) *env {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(context.Background(), filepath.Join(dir, "ironworks.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{t: t, st: st, cfg: testConfig(t, dir), logDir: filepath.Join(dir, "logs")}
	e.acts = &recorder{st: st}
	opts := Options{
		Store: st, Config: e.cfg, Actions: e.acts,
		LogPath:       func(run int64, job string) string { return logPath(e.logDir, run, job) },
		OperatorToken: testToken, WebhookSecret: []byte(testSecret),
		TailInterval: 20 * time.Millisecond,
	}
	if mod != nil {
		mod(&opts)
	}
	e.srv, err = New(opts)
	if err != nil {
		t.Fatal(err)
	}
	e.http = httptest.NewServer(e.srv.Handler())
	t.Cleanup(e.http.Close)
	return e
}

// logPath mirrors the local engine: <state>/logs/<run>/<component>/<job>.log.
func logPath(dir string, run int64, job string) string {
	comp, name, _ := strings.Cut(job, ":")
	return filepath.Join(dir, fmt.Sprint(run), comp, name+".log")
}

// seed stores a pipeline in motion: targets, a candidate, a running forge
// run, a failed spark run and a queued harden run.
func (e *env) seed() {
	t, ctx := e.t, context.Background()
	t.Helper()
	e.headMT, e.headRFP = strings.Repeat("a1", 20), strings.Repeat("c3", 20)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := e.st.SetTarget(ctx, "merkletree", "master", e.headMT)
	must(err)
	_, err = e.st.SetTarget(ctx, "rust-fil-proofs", "master", e.headRFP)
	must(err)
	e.cand, err = e.st.PutCandidate(ctx, map[string]store.Revision{
		"merkletree":      {Repo: "https://github.com/filecoin-project/merkletree", Branch: "master", Rev: e.headMT},
		"rust-fil-proofs": {Repo: "https://github.com/filecoin-project/rust-fil-proofs", Branch: "master", Rev: e.headRFP},
	}, "head", 0)
	must(err)
	e.failed, err = e.st.CreateRun(ctx, e.cand.ID, "spark", "stage", "local", []string{"merkletree:fmt", "rust-fil-proofs:clippy"}, nil)
	must(err)
	must(e.st.StartRun(ctx, e.failed.ID))
	now := time.Now()
	must(e.st.UpdateJob(ctx, &store.JobResult{RunID: e.failed.ID, Job: "merkletree:fmt", State: store.JobSuccess, StartedAt: now.Add(-time.Minute), FinishedAt: now.Add(-50 * time.Second)}))
	must(e.st.UpdateJob(ctx, &store.JobResult{RunID: e.failed.ID, Job: "rust-fil-proofs:clippy", State: store.JobFailure, ExitCode: 101, StartedAt: now.Add(-time.Minute), FinishedAt: now.Add(-20 * time.Second)}))
	_, err = e.st.Finish(ctx, e.failed.ID, store.VerdictFailed, map[string]any{"reason": "clippy failed"}, nil, nil)
	must(err)

	e.run, err = e.st.CreateRun(ctx, e.cand.ID, "forge", "stage", "local", []string{"merkletree:build", "merkletree:test", "rust-fil-proofs:build"}, nil)
	must(err)
	must(e.st.StartRun(ctx, e.run.ID))
	must(e.st.UpdateJob(ctx, &store.JobResult{RunID: e.run.ID, Job: "merkletree:build", State: store.JobSuccess, StartedAt: now.Add(-3 * time.Minute), FinishedAt: now.Add(-time.Minute)}))
	must(e.st.UpdateJob(ctx, &store.JobResult{RunID: e.run.ID, Job: "merkletree:test", State: store.JobRunning, StartedAt: now.Add(-time.Minute)}))
	e.writeLog(e.run.ID, "merkletree:build", "   Compiling merkletree v0.23.0\n\x1b[1m\x1b[32m    Finished\x1b[0m release [optimized] target(s) in 41.2s\n")
	e.writeLog(e.run.ID, "merkletree:test", "running 12 tests\ntest store::tests::disk ... ok\n")

	e.queued, err = e.st.CreateRun(ctx, e.cand.ID, "harden", "schedule", "local", []string{"merkletree:slow-test"}, nil)
	must(err)
}

func (e *env) writeLog(run int64, job, text string) {
	e.t.Helper()
	p := logPath(e.logDir, run, job)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		e.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		e.t.Fatal(err)
	}
}

func sign(body []byte, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// do sends a request to the test server without following redirects.
func (e *env) do(req *http.Request) *http.Response {
	e.t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp
}

func (e *env) deliveries() int {
	var n int
	if err := e.st.DB.QueryRow(`SELECT count(*) FROM webhook_deliveries`).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

var errBoom = errors.New("boom")
