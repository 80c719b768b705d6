package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/pipeline"
	"github.com/ironworks-ci/ironworks/coordinator/scheduler"
	"github.com/ironworks-ci/ironworks/coordinator/store"
	"github.com/ironworks-ci/ironworks/coordinator/web"
)

// actions carries out what operators and webhooks ask for. Each method only
// queues work and wakes the scheduler, so a webhook is answered at once.
type actions struct {
	p       *pipeline.Pipeline
	sched   *scheduler.Scheduler
	staging *stagingFlow // nil until serve wires it
}

var _ web.Actions = (*actions)(nil)

func (a *actions) Rebuild(ctx context.Context, runID int64, job string) (int64, error) {
	run, err := a.p.Store.Run(ctx, runID)
	if err != nil {
		return 0, err
	}
	if !contains(run.Jobs, job) {
		return 0, fmt.Errorf("run %d has no job %q: %w", runID, job, store.ErrNotFound)
	}
	cand, err := a.p.Store.Candidate(ctx, run.Candidate)
	if err != nil {
		return 0, err
	}
	nr, err := a.p.Enqueue(ctx, cand, run.Stage, pipeline.RunOptions{Kind: "rebuild", Jobs: []string{job}, New: true})
	if err != nil {
		return 0, err
	}
	a.sched.Wake()
	return nr.ID, nil
}

func (a *actions) RebuildFailed(ctx context.Context, candidateID string) (int, error) {
	cand, err := a.p.Store.Candidate(ctx, candidateID)
	if err != nil {
		return 0, err
	}
	runs, err := a.p.Store.Runs(ctx, store.RunFilter{Candidate: cand.ID, States: []string{store.RunDone}})
	if err != nil {
		return 0, err
	}
	// The newest result of each job decides whether it is still failed.
	latest := map[string]string{}
	stageOf := map[string]string{}
	for _, r := range runs {
		if r.Kind == "bisect" {
			continue
		}
		res, err := a.p.Store.JobResults(ctx, r.ID)
		if err != nil {
			return 0, err
		}
		for _, jr := range res {
			if _, seen := latest[jr.Job]; !seen {
				latest[jr.Job], stageOf[jr.Job] = jr.State, r.Stage
			}
		}
	}
	byStage := map[string][]string{}
	for job, st := range latest {
		switch st {
		case store.JobFailure, store.JobTimeout, store.JobError, store.JobCancelled:
			byStage[stageOf[job]] = append(byStage[stageOf[job]], job)
		}
	}
	n := 0
	for _, stage := range config.Stages {
		jobs := orderJobs(a.p, byStage[stage])
		if len(jobs) == 0 {
			continue
		}
		if _, err := a.p.Enqueue(ctx, cand, stage, pipeline.RunOptions{Kind: "rebuild", Jobs: jobs, New: true}); err != nil {
			return n, err
		}
		n += len(jobs)
	}
	a.sched.Wake()
	return n, nil
}

// orderJobs puts job IDs in the configuration's stage order.
func orderJobs(p *pipeline.Pipeline, ids []string) []string {
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	var out []string
	for _, st := range config.Stages {
		for _, j := range p.Cfg.StageJobs(st) {
			if want[j.ID()] {
				out = append(out, j.ID())
			}
		}
	}
	return out
}

func (a *actions) Cancel(ctx context.Context, runID int64) error {
	run, err := a.p.Store.Run(ctx, runID)
	if err != nil {
		return err
	}
	if run.State == store.RunDone || run.State == store.RunCancelled {
		return fmt.Errorf("run %d is %s already: %w", runID, run.State, web.ErrRefused)
	}
	if err := a.p.Store.Cancel(ctx, runID, scheduler.OperatorCancel); err != nil {
		return err
	}
	a.sched.Stop(runID) // kill its jobs if it is executing
	return nil
}

// Promote asks for a full run of the stage on the candidate; its gate decides.
func (a *actions) Promote(ctx context.Context, candidateID, stage string) error {
	i := config.StageIndex(stage)
	if i < 0 || i >= len(config.Stages) {
		return fmt.Errorf("unknown stage %q: %w", stage, web.ErrRefused)
	}
	cand, err := a.p.Store.Candidate(ctx, candidateID)
	if err != nil {
		return err
	}
	if i > 0 && stage != "forge" {
		ok, err := a.p.Store.Promoted(ctx, cand.ID, config.Stages[i-1])
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%s has not passed %s: %w", cand.ID, config.Stages[i-1], web.ErrRefused)
		}
	}
	if _, err := a.p.Enqueue(ctx, cand, stage, pipeline.RunOptions{}); err != nil {
		return err
	}
	a.sched.Wake()
	return nil
}

func (a *actions) Trigger(ctx context.Context, component, branch, sha string) error {
	a.sched.Wake()
	return nil
}

// PullRequest runs spark on a pull request's head, pinned with the other
// components at their target heads.
func (a *actions) PullRequest(ctx context.Context, ev web.PREvent) error {
	if err := a.recordPull(ctx, ev); err != nil {
		return err
	}
	switch ev.Action {
	case "opened", "reopened", "synchronize", "ready_for_review":
	case "labeled", "review_submitted":
		// Approval or the ready label may complete the staging rules.
		if a.staging != nil {
			a.staging.tryPromote(context.WithoutCancel(ctx), ev.Component, ev.Number)
		}
		return nil
	default:
		return nil
	}
	if ev.Draft || ev.HeadSHA == "" {
		return nil
	}
	if a.p.Cfg.Loaded[ev.Component] == nil {
		return fmt.Errorf("no component %q: %w", ev.Component, web.ErrRefused)
	}
	cand, err := prCandidate(ctx, a.p, ev.Component, ev.HeadRef, ev.HeadSHA, ev.Number)
	if errors.Is(err, errNoHead) {
		return fmt.Errorf("%w: %w", err, web.ErrRefused)
	}
	if err != nil {
		return err
	}
	if _, err := a.p.Enqueue(ctx, cand, "spark", pipeline.RunOptions{}); err != nil {
		return err
	}
	a.sched.Wake()
	return nil
}

func (a *actions) CheckRerun(ctx context.Context, sha string) error {
	cands, err := a.p.Store.Candidates(ctx, 200)
	if err != nil {
		return err
	}
	for _, c := range cands {
		for _, r := range c.Revisions {
			if r.Rev == sha {
				if _, err := a.RebuildFailed(ctx, c.ID); err != nil {
					return err
				}
				break
			}
		}
	}
	return nil
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
