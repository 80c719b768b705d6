package main

import (
	"context"

	"github.com/ironworks-ci/ironworks/coordinator/benchqueue"
	"github.com/ironworks-ci/ironworks/coordinator/pipeline"
	"github.com/ironworks-ci/ironworks/coordinator/store"
	"github.com/ironworks-ci/ironworks/coordinator/web"
)

// benchPanel shows a candidate's bench jobs, as agents lease and measure
// them, and the bench gate's verdict on its page.
type benchPanel struct{ q *benchqueue.Queue }

func (b benchPanel) BenchPanel(ctx context.Context, candidate string) (*web.BenchPanel, error) {
	jobs, err := b.q.Jobs(ctx, candidate)
	if err != nil || len(jobs) == 0 {
		return nil, err
	}
	p := &web.BenchPanel{Verdict: benchqueue.StatePending, Runs: []web.BenchRun{}}
	if state, err := b.q.ReportState(ctx, candidate); err != nil {
		return nil, err
	} else if state != "" {
		p.Verdict = state
	}
	for _, j := range jobs {
		r := web.BenchRun{Component: j.Component, Bench: j.Bench, Round: j.Round, State: j.State, Agent: j.Agent,
			Attempt: j.Attempt, Error: j.Error, Queued: j.CreatedAt, Finished: j.FinishedAt}
		if !j.FinishedAt.IsZero() {
			r.Took = j.FinishedAt.Sub(j.CreatedAt).Round(100 * 1e6).String()
		}
		p.Runs = append(p.Runs, r)
	}
	return p, nil
}

// addViews gives the web UI what its views read beside the store: the
// mirrors (commit subjects, authors, upstream history) and the bench queue.
func addViews(opts *web.Options, p *pipeline.Pipeline, st *store.Store) {
	opts.Mirrors = p.Mirrors
	opts.BenchJobs = benchPanel{benchqueue.New(st)}
}
