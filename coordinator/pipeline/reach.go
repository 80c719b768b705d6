package pipeline

import (
	"context"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// Reacher is a Gate with work of its own, started as soon as a candidate
// reaches the gate's stage (is promoted at the stage before it), rather than
// when a run of that stage finishes: the bench gate queues the stage's
// benchmarks then, so that agents measure every candidate that gets there,
// whatever the stage's jobs do.
type Reacher interface {
	Gate
	Reach(ctx context.Context, cand *store.Candidate, stage string) error
}

// reached tells the gates of the stage after the one promoted at that the
// candidate reached it. A gate that cannot start its work now is logged:
// its Check starts it again.
func (p *Pipeline) reached(ctx context.Context, cand *store.Candidate, promoted *store.Promotion) {
	if promoted == nil {
		return
	}
	i := config.StageIndex(promoted.Stage)
	if i < 0 || i+1 >= len(config.Stages) {
		return
	}
	next := config.Stages[i+1]
	for _, g := range p.Gates[next] {
		if r, ok := g.(Reacher); ok {
			if err := r.Reach(ctx, cand, next); err != nil {
				p.log().Warn("starting the gate of the next stage", "stage", next, "candidate", cand.ID, "err", err)
			}
		}
	}
}

// HasWork reports whether a stage gets runs: it has jobs, or a gate with work
// of its own (a stage with only [bench.*] entries gets a run without jobs,
// whose promotion waits for the benchmarks).
func (p *Pipeline) HasWork(stage string) bool {
	if len(p.StageJobs(stage)) > 0 {
		return true
	}
	for _, g := range p.Gates[stage] {
		if _, ok := g.(Reacher); ok {
			return true
		}
	}
	return false
}
