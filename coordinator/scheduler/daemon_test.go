package scheduler

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/engine/local"
	"github.com/ironworks-ci/ironworks/coordinator/internal/fixture"
	"github.com/ironworks-ci/ironworks/coordinator/pipeline"
	"github.com/ironworks-ci/ironworks/coordinator/source"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

const daemonAdapter = `name = "up"
repo = "x"
[jobs.build]
stage = "forge"
command = "true"
[jobs.release-notes]
stage = "forge"
manual = true
command = "echo notes > notes.txt"
[jobs.slow]
stage = "harden"
schedule = "continuous"
command = "true"
[jobs.fast]
stage = "harden"
schedule = "0 */4 * * *"
command = "true"
`

func newDaemon(t *testing.T) (*Scheduler, *fixture.Repo) {
	t.Helper()
	dir := t.TempDir()
	repo := fixture.NewRepo(t, filepath.Join(dir, "up"))
	repo.Commit("one", map[string]string{"a": "1"})
	os.MkdirAll(filepath.Join(dir, "adapters", "up"), 0o755)
	os.WriteFile(filepath.Join(dir, "adapters", "up", "adapter.toml"), []byte(daemonAdapter), 0o644)
	cfgPath := filepath.Join(dir, "c.toml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf("state_dir = \"state\"\nadapters = [\"adapters/up\"]\n[components.up]\nrepo = %q\n", repo.URL())), 0o644)
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), filepath.Join(cfg.StateDir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	m := source.New(filepath.Join(cfg.StateDir, "mirrors"))
	p := &pipeline.Pipeline{Cfg: cfg, Store: st, Mirrors: m, Engine: &local.Engine{StateDir: cfg.StateDir, Mirrors: m}}
	return &Scheduler{P: p, Through: "harden"}, repo
}

func runsOf(t *testing.T, st *store.Store, f store.RunFilter) []*store.Run {
	t.Helper()
	rs, err := st.Runs(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// A queued run whose commit was superseded before it started is cancelled;
// a continuous job gets exactly one round at a time on the forge-green
// candidate; manual jobs stay out of stage runs until asked for.
func TestDaemonPasses(t *testing.T) {
	ctx := context.Background()
	s, repo := newDaemon(t)
	st := s.P.Store
	if err := s.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	first := runsOf(t, st, store.RunFilter{Stage: "forge"})
	if len(first) != 1 || first[0].State != store.RunQueued {
		t.Fatalf("after one pass: %+v", first)
	}
	if slices.Contains(first[0].Jobs, "up:release-notes") {
		t.Fatal("a manual job was queued in a stage run")
	}

	repo.Commit("two", map[string]string{"a": "2"})
	if err := s.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	old, err := st.Run(ctx, first[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if old.State != store.RunCancelled || old.Detail["reason"] != "superseded by a newer commit" {
		t.Fatalf("superseded run: %s %v", old.State, old.Detail)
	}
	queued := runsOf(t, st, store.RunFilter{Stage: "forge", States: []string{store.RunQueued}})
	if len(queued) != 1 {
		t.Fatalf("%d queued forge runs, want 1", len(queued))
	}
	run, err := s.P.Execute(ctx, queued[0].ID, pipeline.RunOptions{})
	if err != nil || run.Verdict != store.VerdictGreen {
		t.Fatalf("forge: %v %v", err, run)
	}

	// Forge green: the continuous and cron jobs get one round each.
	for i := 0; i < 3; i++ {
		if err := s.Pass(ctx); err != nil {
			t.Fatal(err)
		}
	}
	rounds := runsOf(t, st, store.RunFilter{Kind: "schedule"})
	var slow, fast int
	for _, r := range rounds {
		switch {
		case slices.Equal(r.Jobs, []string{"up:slow"}):
			slow++
		case slices.Equal(r.Jobs, []string{"up:fast"}):
			fast++
		}
	}
	if slow != 1 || fast != 1 {
		t.Fatalf("after three passes: %d continuous and %d cron rounds, want 1 each", slow, fast)
	}
	// When the continuous round ends, the next pass starts the next one.
	for _, r := range rounds {
		if _, err := s.P.Execute(ctx, r.ID, pipeline.RunOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	slow = 0
	for _, r := range runsOf(t, st, store.RunFilter{Kind: "schedule"}) {
		if slices.Equal(r.Jobs, []string{"up:slow"}) {
			slow++
		}
	}
	if slow != 2 {
		t.Fatalf("%d continuous rounds after the first ended, want 2", slow)
	}

	cand, err := st.Candidate(ctx, run.Candidate)
	if err != nil {
		t.Fatal(err)
	}
	manual, err := s.P.RunJobs(ctx, cand, []string{"up:release-notes"})
	if err != nil || manual.Verdict != store.VerdictGreen || manual.Kind != "manual" {
		t.Fatalf("manual job: %v %+v", err, manual)
	}
	if _, err := s.P.RunJobs(ctx, cand, []string{"up:nope"}); err == nil {
		t.Fatal("an unknown job was accepted")
	}
}

// An operator's cancel of an executing run kills its jobs and stands: the run
// is not resumed.
func TestStopKillsRunningJobs(t *testing.T) {
	ctx := context.Background()
	s, _ := newDaemon(t)
	s.P.Cfg.JobsByID["up:build"].Command = "sleep 60"
	if err := s.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	run := runsOf(t, s.P.Store, store.RunFilter{Stage: "forge"})[0]
	var wg sync.WaitGroup
	s.dispatch(ctx, &wg)
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, _ := s.P.Store.JobResults(ctx, run.ID)
		if len(res) > 0 && res[0].State == store.JobRunning {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the job never started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	if err := s.P.Store.Cancel(ctx, run.ID, "cancelled by an operator"); err != nil {
		t.Fatal(err)
	}
	s.Stop(run.ID)
	wg.Wait()
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("the run took %s to stop", d)
	}
	got, _ := s.P.Store.Run(ctx, run.ID)
	res, _ := s.P.Store.JobResults(ctx, run.ID)
	if got.State != store.RunCancelled || res[0].State != store.JobCancelled {
		t.Fatalf("after cancel: run %s, job %s", got.State, res[0].State)
	}
}
