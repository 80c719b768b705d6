package pipeline

import (
	"context"
	"fmt"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// Once does one full pass: resume what a previous process left, discover
// heads, and run every stage up to and including through for each candidate.
// It returns the runs it executed; ErrGateFailed when any did not pass.
func (p *Pipeline) Once(ctx context.Context, through string) ([]*store.Run, error) {
	last := config.StageIndex(through)
	if last < 0 || last >= len(config.Stages) {
		return nil, fmt.Errorf("unknown stage %q", through)
	}
	if err := p.Resume(ctx); err != nil {
		return nil, err
	}
	// Gates that waited for results arriving after their run (benchmarks)
	// are checked again on every pass, as serve's scheduler does. A gate that
	// cannot answer now does not stop the pass; the pass ends in its error.
	recheck := p.Recheck(ctx)
	if recheck != nil {
		p.log().Warn("re-checking gates that were waiting", "err", recheck)
		recheck = fmt.Errorf("re-checking waiting gates: %w", recheck)
	}
	cands, err := p.Discover(ctx)
	if err != nil && !Partial(err) {
		return nil, err
	}
	unreachable := err // the others are still built; the pass ends in this error
	var runs []*store.Run
	failed := false
	for _, c := range cands {
		for _, stage := range config.Stages[:last+1] {
			if !p.HasWork(stage) {
				continue
			}
			run, err := p.Enqueue(ctx, c, stage, RunOptions{})
			if err != nil {
				return runs, err
			}
			run, err = p.Execute(ctx, run.ID, RunOptions{})
			if err != nil {
				return runs, err
			}
			runs = append(runs, run)
			if run.Verdict != store.VerdictGreen || run.Detail["not_promoted"] == "gate failed" {
				// A green run whose extra gate (benchmarks) failed is a
				// failed gate too.
				failed = true
				break
			}
		}
	}
	if unreachable != nil {
		return runs, unreachable
	}
	if failed {
		return runs, ErrGateFailed
	}
	return runs, recheck
}

// RunJobs runs the named jobs (manual ones included) of a candidate in a run
// of their own, as `coordinator run --job` asks.
func (p *Pipeline) RunJobs(ctx context.Context, cand *store.Candidate, jobs []string) (*store.Run, error) {
	stage := ""
	for _, id := range jobs {
		j, ok := p.Cfg.JobsByID[id]
		if !ok {
			return nil, fmt.Errorf("unknown job %q (want component:job)", id)
		}
		if stage != "" && j.Stage != stage {
			return nil, fmt.Errorf("jobs of different stages (%s, %s) cannot share a run", stage, j.Stage)
		}
		stage = j.Stage
	}
	run, err := p.Enqueue(ctx, cand, stage, RunOptions{Kind: "manual", Jobs: jobs, New: true})
	if err != nil {
		return nil, err
	}
	return p.Execute(ctx, run.ID, RunOptions{})
}
