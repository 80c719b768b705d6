package pipeline

import (
	"context"
	"fmt"
	"slices"

	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// blames reports whether a verdict names someone's code as broken: the
// verdicts a flaky test must not produce without being re-run.
func blames(verdict string) bool {
	switch verdict {
	case store.VerdictIncompatible, store.VerdictFailed, store.VerdictUpstreamBroken:
		return true
	}
	return false
}

// attempts is how many times a failing job of a blaming run is run in all
// (engine.attempts); 0 means 2.
func (p *Pipeline) attempts() int {
	if n := p.Cfg.Engine.Attempts; n > 0 {
		return n
	}
	return 2
}

// retryFailures re-runs the failed jobs of a run whose verdict would blame
// someone (and the jobs they made skip), up to attempts in all, until the
// verdict no longer blames. It returns the jobs that failed and then passed:
// the flaky ones.
func (p *Pipeline) retryFailures(ctx context.Context, cand *store.Candidate, run *store.Run, report func(store.JobResult)) (flaky []string, err error) {
	failedOnce := map[string]bool{}
	for attempt := 2; attempt <= p.attempts(); attempt++ {
		results, err := p.Store.JobResults(ctx, run.ID)
		if err != nil {
			return nil, err
		}
		if !blames(Judge(p.Cfg, cand, run, results).Verdict) {
			break
		}
		plan := &Plan{RunID: run.ID, Stage: run.Stage, Candidate: cand, Adapters: p.Cfg.Loaded, Done: map[string]string{}}
		for _, r := range results {
			switch r.State {
			case store.JobFailure:
				failedOnce[r.Job] = true
			case store.JobSkipped:
			default:
				plan.Done[r.Job] = r.State
				continue
			}
			if err := p.Store.ResetJob(ctx, run.ID, r.Job); err != nil {
				return nil, err
			}
			plan.Jobs = append(plan.Jobs, p.Cfg.JobsByID[r.Job])
		}
		for _, j := range plan.Jobs {
			for _, n := range j.Needs {
				if _, in := plan.Done[n]; !in && !slices.Contains(run.Jobs, n) {
					plan.Done[n] = p.priorState(ctx, cand.ID, n)
				}
			}
		}
		p.log().Info("re-running failed jobs", "run", run.ID, "attempt", attempt, "jobs", len(plan.Jobs))
		if err := p.Engine.Execute(ctx, plan, report); err != nil {
			return nil, err
		}
	}
	results, err := p.Store.JobResults(ctx, run.ID)
	if err != nil {
		return nil, err
	}
	for _, r := range results {
		if failedOnce[r.Job] && r.State == store.JobSuccess {
			flaky = append(flaky, r.Job)
		}
	}
	return flaky, nil
}

// markFlaky records flaky jobs in a run's detail.
func markFlaky(j *Judgement, jobs []string) {
	if len(jobs) == 0 {
		return
	}
	var prev []string
	if s, ok := j.Detail["flaky"].([]string); ok {
		prev = s
	}
	for _, job := range jobs {
		if !slices.Contains(prev, job) {
			prev = append(prev, job)
		}
	}
	j.Detail["flaky"] = prev
	j.Detail["flaky_count"] = len(prev)
}

// flakyEvents are the `flaky` events of a run: one per component with a job
// that failed and then passed the same candidate.
func (p *Pipeline) flakyEvents(cand *store.Candidate, run *store.Run, j Judgement, base func() map[string]any) []store.Event {
	jobs, _ := j.Detail["flaky"].([]string)
	byComp := map[string][]string{}
	for _, id := range jobs {
		if job := p.Cfg.JobsByID[id]; job != nil {
			byComp[job.Component] = append(byComp[job.Component], id)
		}
	}
	var out []store.Event
	for _, c := range p.Cfg.Order() {
		if len(byComp[c]) == 0 {
			continue
		}
		payload := base()
		payload["flaky"] = byComp[c]
		payload["summary"] = fmt.Sprintf("%s: flaky: %v failed, then passed on the same revisions", run.Stage, byComp[c])
		e := p.runEvent(cand, run, "flaky", payload)
		e.Key = fmt.Sprintf("flaky:%s:%d", c, run.ID)
		e.Component, e.Branch = c, cand.Revisions[c].Branch
		out = append(out, e)
	}
	return out
}

// adapterErrorEvent is the `adapter-error` event of a run whose job command
// could not run at all: news for the operators, not the component's developers.
func (p *Pipeline) adapterErrorEvent(cand *store.Candidate, run *store.Run, j Judgement, base func() map[string]any) []store.Event {
	if j.Verdict != store.VerdictAdapterError {
		return nil
	}
	comp, _ := j.Detail["component"].(string)
	e := p.runEvent(cand, run, "adapter-error", base())
	e.Key = fmt.Sprintf("adapter-error:%s:%d", comp, run.ID)
	e.Component, e.Branch = comp, cand.Revisions[comp].Branch
	return []store.Event{e}
}

// evalErrorEvent is the "eval-error" event of a run whose flake Hydra could
// not fetch or evaluate: news for whoever subscribed to that kind, about the
// candidate as a whole (its subject), with Hydra's message as the reason.
func (p *Pipeline) evalErrorEvent(cand *store.Candidate, run *store.Run, j Judgement, base func() map[string]any) []store.Event {
	if j.Verdict != store.VerdictEvalError {
		return nil
	}
	e := p.runEvent(cand, run, "eval-error", base())
	e.Key = fmt.Sprintf("eval-error:%d", run.ID)
	return []store.Event{e}
}

// FlakyJobs are the jobs a finished run's detail names as flaky (failed,
// then passed when run again), read back from the store (where the list is
// JSON) or from a judgement not stored yet.
func FlakyJobs(detail map[string]any) []string {
	switch l := detail["flaky"].(type) {
	case []string:
		return l
	case []any:
		jobs := make([]string, 0, len(l))
		for _, j := range l {
			jobs = append(jobs, fmt.Sprint(j))
		}
		return jobs
	}
	return nil
}
