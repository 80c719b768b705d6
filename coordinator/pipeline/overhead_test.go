package pipeline_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
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

// BenchmarkOverhead measures the coordinator's own overhead with no-op jobs
// (two components, two jobs each, `true` as the command): from a new commit
// seen by discovery to the first job started, and from the last job finished
// to the promotion recorded. Reported as ms-to-first-job and ms-to-promotion.
func BenchmarkOverhead(b *testing.B) {
	dir := b.TempDir()
	up := fixture.NewRepo(b, filepath.Join(dir, "up"))
	up.Commit("init", map[string]string{"a": "1"})
	down := fixture.NewRepo(b, filepath.Join(dir, "down"))
	down.Commit("init", map[string]string{"a": "1"})
	adapters := map[string]string{
		"up":   "name = \"up\"\nrepo = \"x\"\n[jobs.build]\nstage = \"forge\"\ncommand = \"true\"\n[jobs.test]\nstage = \"forge\"\nneeds = [\"build\"]\ncommand = \"true\"\n",
		"down": "name = \"down\"\nrepo = \"x\"\n[jobs.build]\nstage = \"forge\"\ncommand = \"true\"\n[jobs.test]\nstage = \"forge\"\nneeds = [\"build\"]\ncommand = \"true\"\n",
	}
	for n, body := range adapters {
		os.MkdirAll(filepath.Join(dir, "adapters", n), 0o755)
		os.WriteFile(filepath.Join(dir, "adapters", n, "adapter.toml"), []byte(body), 0o644)
	}
	cfgPath := filepath.Join(dir, "c.toml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf("state_dir = \"state\"\nadapters = [\"adapters/up\", \"adapters/down\"]\n[components.up]\nrepo = %q\n[components.down]\nrepo = %q\n", up.URL(), down.URL())), 0o644)
	cfg, err := config.Load(cfgPath)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(cfg.StateDir, "db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	mirrors := source.New(filepath.Join(cfg.StateDir, "mirrors"))
	var mu sync.Mutex
	var firstStart, lastEnd time.Time
	p := &pipeline.Pipeline{Cfg: cfg, Store: st, Mirrors: mirrors,
		Engine: &local.Engine{StateDir: cfg.StateDir, Mirrors: mirrors, Parallelism: 2},
		OnJob: func(_ *store.Run, r store.JobResult) {
			mu.Lock()
			defer mu.Unlock()
			now := time.Now()
			if r.State == store.JobRunning && firstStart.IsZero() {
				firstStart = now
			}
			if store.JobFinal(r.State) {
				lastEnd = now
			}
		}}
	var toFirst, toPromo time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		up.Commit(fmt.Sprintf("c%d", i), map[string]string{"a": fmt.Sprint(i)})
		cands, err := p.Discover(ctx)
		if err != nil {
			b.Fatal(err)
		}
		firstStart, lastEnd = time.Time{}, time.Time{}
		b.StartTimer()
		seen := time.Now()
		run, err := p.Enqueue(ctx, cands[0], "forge", pipeline.RunOptions{})
		if err != nil {
			b.Fatal(err)
		}
		run, err = p.Execute(ctx, run.ID, pipeline.RunOptions{})
		if err != nil {
			b.Fatal(err)
		}
		done := time.Now()
		if ok, _ := st.Promoted(ctx, run.Candidate, "forge"); !ok {
			b.Fatalf("not promoted: %v %v", run.Verdict, run.Detail)
		}
		toFirst += firstStart.Sub(seen)
		toPromo += done.Sub(lastEnd)
	}
	b.ReportMetric(float64(toFirst.Microseconds())/1000/float64(b.N), "ms-to-first-job")
	b.ReportMetric(float64(toPromo.Microseconds())/1000/float64(b.N), "ms-to-promotion")
}
