package hydraengine_test

import (
	"context"
	"strings"
	"testing"
	"time"

	hydraengine "github.com/ironworks-ci/ironworks/coordinator/engine/hydra"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// BenchmarkPollNothingNew measures HTTP requests per poll while a stage waits
// on Hydra and nothing changes (gate unfinished): the goal is at most one
// request per watched jobset per poll.
func BenchmarkPollNothingNew(b *testing.B) {
	r, st := setup(b)
	r.SetOutcome("forge.merkletree.build."+sys, 0) // test and rustdoc stay queued
	e := r.Engine(b, hydraengine.Options{Store: st, PollInterval: time.Microsecond})
	c := candidate(b, st, strings.Repeat("7", 40))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var res results
	done := make(chan error, 1)
	go func() { done <- e.Execute(ctx, plan(c), res.report) }()
	for r.Hydra.Count("GET /build/{id}") == 0 {
		time.Sleep(time.Millisecond)
	}
	b.ResetTimer()
	startReq, startPolls := r.Client.Requests(), e.Polls()
	for e.Polls()-startPolls < int64(b.N) {
		time.Sleep(50 * time.Microsecond)
	}
	reqs, polls := r.Client.Requests()-startReq, e.Polls()-startPolls
	b.StopTimer()
	cancel()
	<-done
	b.ReportMetric(float64(reqs)/float64(polls), "requests/poll")
}

// BenchmarkPromotionCycle measures the requests of one whole green stage run:
// lock write, trigger, evaluation wait, gate, constituents.
func BenchmarkPromotionCycle(b *testing.B) {
	r, st := setup(b)
	for _, j := range []string{"build", "test", "rustdoc"} {
		r.SetOutcome("forge.merkletree."+j+"."+sys, 0)
	}
	e := r.Engine(b, hydraengine.Options{Store: st, PollInterval: 100 * time.Microsecond})
	start := r.Client.Requests()
	for i := 0; i < b.N; i++ {
		c := candidate(b, st, strings.Repeat("0", 30)+itoa(1_000_000_000+i))
		var res results
		if err := e.Execute(context.Background(), plan(c), res.report); err != nil {
			b.Fatal(err)
		}
		if res.get("merkletree:test").State != store.JobSuccess {
			b.Fatal("not green")
		}
	}
	b.ReportMetric(float64(r.Client.Requests()-start)/float64(b.N), "requests/cycle")
}
