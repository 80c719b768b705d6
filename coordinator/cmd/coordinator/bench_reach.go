package main

import (
	"context"

	"github.com/ironworks-ci/ironworks/coordinator/benchqueue"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// Reach queues the stage's bench entries for a candidate that reached the
// stage (the pipeline calls it on promotion at the stage before, Check on
// every gate check), each to be measured side by side with the newest
// release. Enqueueing twice does nothing: the queue keys on candidate and
// entry.
func (g *benchGate) Reach(ctx context.Context, cand *store.Candidate, stage string) error {
	revs := map[string]benchqueue.Revision{}
	for c, r := range cand.Revisions {
		revs[c] = benchqueue.Revision{Repo: r.Repo, Rev: r.Rev}
	}
	for _, b := range benchEntries(g.cfg, stage) {
		if err := g.q.EnqueueSideBySide(ctx, cand.ID, b.Component, revs, b); err != nil {
			return err
		}
	}
	return nil
}
