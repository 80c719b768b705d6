package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/ironworks-ci/ironworks/benchkit/results"

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
	p := &web.BenchPanel{Verdict: benchqueue.StatePending, Runs: []web.BenchRun{}, Acks: []web.BenchAck{}}
	sum, err := b.q.Summary(ctx, candidate)
	if err != nil {
		return nil, err
	}
	if sum.State != "" {
		p.Verdict = sum.State
	}
	for _, a := range sum.Acks {
		p.Acks = append(p.Acks, benchAck(sum, a))
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

// benchAck describes an acknowledgement with the regressions it accepted in
// the gate's newest verdict.
func benchAck(sum *benchqueue.Summary, a results.Ack) web.BenchAck {
	w := web.BenchAck{Metric: a.Metric, Where: "every bench entry", By: a.By, Reason: a.Reason, At: a.CreatedAt}
	if a.Bench != "" {
		w.Where = "bench entry " + a.Bench
	}
	var where, change []string
	for _, r := range sum.Regressions {
		if r.Acked != nil && r.Metric == a.Metric && r.Acked.Bench == a.Bench {
			where = append(where, r.Component+"/"+r.Bench+" on "+r.HostClass)
			change = append(change, fmt.Sprintf("%+.2f%%", r.Change*100))
		}
	}
	if len(where) > 0 {
		w.Where, w.Change = strings.Join(where, ", "), strings.Join(change, ", ")
	}
	return w
}

// addViews gives the web UI what its views read beside the store: the
// mirrors (commit subjects, authors, upstream history) and the bench queue.
func addViews(opts *web.Options, p *pipeline.Pipeline, st *store.Store) {
	opts.Mirrors = p.Mirrors
	opts.BenchJobs = benchPanel{benchqueue.New(st)}
}
