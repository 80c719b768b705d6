package hydraengine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/httpretry"
	"github.com/ironworks-ci/ironworks/coordinator/hydra"
	"github.com/ironworks-ci/ironworks/coordinator/pipeline"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// evalFailure is Hydra refusing to evaluate: the run ends with its message.
type evalFailure struct {
	state  string // store.JobEvalErr for fetch and whole-flake evaluation errors, store.JobError otherwise
	record string // hydra_evals state
	reason string
}

// Execute implements pipeline.Engine.
func (e *Engine) Execute(ctx context.Context, p *pipeline.Plan, report func(store.JobResult)) error {
	var jobs []*config.Job
	for _, j := range p.Jobs {
		if st, ok := p.Done[j.ID()]; !ok || !store.JobFinal(st) {
			jobs = append(jobs, j)
		}
	}
	if len(jobs) == 0 {
		return nil
	}
	jobset := e.Jobset(p.Stage)
	full := e.o.Project + ":" + jobset
	start := e.o.Now()
	finish := func(j *config.Job, state, reason string) {
		report(store.JobResult{RunID: p.RunID, Job: j.ID(), State: state, Reason: reason, StartedAt: start, FinishedAt: e.o.Now()})
	}
	commit, changed, err := e.lock(ctx, p)
	if err != nil {
		for _, j := range jobs {
			finish(j, store.JobError, err.Error())
		}
		return err
	}
	e.o.Log.Info("lock written", "stage", p.Stage, "candidate", p.Candidate.ID, "commit", commit, "new_commit", changed)
	for _, j := range jobs {
		report(store.JobResult{RunID: p.RunID, Job: j.ID(), State: store.JobRunning, StartedAt: start, Reason: "waiting for Hydra " + full})
	}
	rec := &store.HydraEval{Stage: p.Stage, Candidate: p.Candidate.ID, Jobset: full, LockCommit: commit, State: "locked"}
	e.record(ctx, rec)

	ev, fail, err := e.awaitEval(ctx, jobset, commit)
	if err != nil {
		reason := err.Error()
		if errors.Is(err, ErrEvalDeadline) {
			rec.State, rec.Message = "timeout", reason
			e.record(ctx, rec)
		}
		for _, j := range jobs {
			finish(j, store.JobError, reason)
		}
		return err
	}
	if fail != nil {
		rec.State, rec.Message = fail.record, fail.reason
		e.record(ctx, rec)
		for _, j := range jobs {
			finish(j, fail.state, fail.reason)
		}
		return nil
	}
	rec.EvalID, rec.State = int64(ev.ID), "evaluated"
	return e.awaitBuilds(ctx, p, jobs, int64(ev.ID), rec, report)
}

// lock generates the candidate's Cargo.lock files and writes the stage's lock.
func (e *Engine) lock(ctx context.Context, p *pipeline.Plan) (string, bool, error) {
	cargo, err := e.CargoLocks(ctx, p.Candidate, p.Adapters)
	if err != nil {
		return "", false, err
	}
	return e.WriteLock(ctx, p.Stage, p.Candidate, cargo)
}

func (e *Engine) record(ctx context.Context, rec *store.HydraEval) {
	if e.o.Store == nil {
		return
	}
	if err := e.o.Store.PutHydraEval(ctx, rec); err != nil {
		e.o.Log.Warn("recording Hydra eval", "err", err)
	}
}

// awaitEval returns the evaluation of the lock commit. An existing one is
// reused (Hydra makes no new eval for unchanged inputs); otherwise the jobset
// is triggered once and polled with one request per poll until the check it
// ran has finished.
func (e *Engine) awaitEval(ctx context.Context, jobset, commit string) (*hydra.Eval, *evalFailure, error) {
	h, project := e.o.Hydra, e.o.Project
	full := project + ":" + jobset
	match := func(ev *hydra.Eval) bool {
		rev, err := ev.Revision("")
		return err == nil && rev == commit
	}
	deadline := e.o.Now().Add(e.o.EvalDeadline)
	for listed := false; !listed; {
		ev, err := h.FindEval(ctx, project, jobset, e.o.EvalPages, 0, match)
		if err == nil {
			if ev != nil {
				return ev, nil, nil
			}
			listed = true
			continue
		}
		if errors.Is(err, hydra.ErrNotFound) {
			return nil, nil, fmt.Errorf("hydra engine: jobset %s does not exist: %w", full, err)
		}
		if errors.Is(err, hydra.ErrLogin) {
			return nil, nil, fmt.Errorf("hydra engine: %s: %w", full, err)
		}
		e.o.Log.Warn("listing Hydra evals", "jobset", full, "err", err)
		if e.o.Now().After(deadline) {
			return nil, nil, fmt.Errorf("hydra engine: %s: %w (%s) for lock commit %s: last error: %v", full, ErrEvalDeadline, e.o.EvalDeadline, commit, err)
		}
		if err := e.sleep(ctx); err != nil {
			return nil, nil, err
		}
	}
	triggered := false
	// checkedBefore is the jobset's lastcheckedtime when a push of ours
	// failed: a push whose answer was lost still triggers, so before pushing
	// again the engine looks whether Hydra has checked the jobset since (or
	// a trigger is pending). At most one extra push per lost answer.
	var checkedBefore *int64
	for {
		if e.o.Now().After(deadline) {
			return nil, nil, fmt.Errorf("hydra engine: %s: %w (%s) for lock commit %s", full, ErrEvalDeadline, e.o.EvalDeadline, commit)
		}
		js, err := h.Jobset(ctx, project, jobset)
		switch {
		case errors.Is(err, hydra.ErrNotFound):
			return nil, nil, fmt.Errorf("hydra engine: jobset %s does not exist: %w", full, err)
		case err != nil:
			e.o.Log.Warn("polling Hydra jobset", "jobset", full, "err", err)
		case !triggered:
			if js.TriggerTime.Valid {
				// A trigger is already pending (ours from an attempt whose
				// answer was lost, or anyone's): it will evaluate the lock.
				triggered = true
				break
			}
			if checkedBefore != nil && js.LastCheckedTime.Valid && js.LastCheckedTime.V != *checkedBefore {
				// Our lost push went through and Hydra has checked since.
				triggered = true
				continue
			}
			// Sent once: the HTTP client must not repeat a trigger whose
			// answer was lost; the next poll looks at the jobset instead.
			if _, err := h.Push(httpretry.Once(ctx), false, full); err != nil {
				if errors.Is(err, hydra.ErrLogin) {
					return nil, nil, fmt.Errorf("hydra engine: triggering %s: %w", full, err)
				}
				before := int64(-1)
				if js.LastCheckedTime.Valid {
					before = js.LastCheckedTime.V
				}
				checkedBefore = &before
				e.o.Log.Warn("triggering Hydra jobset failed; looking at the jobset before pushing again", "jobset", full, "err", err)
				break
			}
			triggered = true
		case js.Idle():
			// The check our trigger asked for has run.
			if js.FetchErrorMsg != "" {
				return nil, &evalFailure{state: store.JobEvalErr, record: "fetch-error",
					reason: fmt.Sprintf("Hydra could not fetch the inputs of %s: %s", full, js.FetchErrorMsg)}, nil
			}
			ev, err := h.FindEval(ctx, project, jobset, e.o.EvalPages, 0, match)
			if err != nil {
				e.o.Log.Warn("listing Hydra evals", "jobset", full, "err", err)
				break
			}
			if ev != nil {
				return ev, nil, nil
			}
			errs, err := h.JobsetErrors(ctx, project, jobset)
			if err != nil {
				e.o.Log.Warn("reading Hydra jobset errors", "jobset", full, "err", err)
				break
			}
			if errs.ErrorMsg != "" {
				return nil, &evalFailure{state: store.JobEvalErr, record: "eval-error",
					reason: fmt.Sprintf("Hydra evaluation of %s failed: %s", full, errs.ErrorMsg)}, nil
			}
			// Evaluated without error yet no listed eval carries the commit:
			// the eval row has hasnewbuilds = 0 (same builds as the newest
			// listed eval), which Hydra hides from lists. Its verdict is that
			// of the newest listed eval.
			page, err := h.Evals(ctx, project, jobset, 1)
			if err != nil {
				e.o.Log.Warn("listing Hydra evals", "jobset", full, "err", err)
				break
			}
			if len(page.Evals) > 0 {
				e.o.Log.Info("lock commit evaluated with no new builds; using the newest eval", "jobset", full, "eval", page.Evals[0].ID)
				return &page.Evals[0], nil, nil
			}
			return nil, &evalFailure{state: store.JobError, record: "eval-error",
				reason: fmt.Sprintf("Hydra checked %s but produced no evaluation of lock commit %s", full, commit)}, nil
		}
		if err := e.sleep(ctx); err != nil {
			return nil, nil, err
		}
	}
}

// awaitBuilds resolves each job's build in the eval (one request each, once),
// then polls only the gate aggregate until it finishes, reads its
// constituents in one request, and polls individually whatever is still
// unfinished (non-gating jobs, restarted builds). finished = 0 is never
// final, whatever buildstatus says.
func (e *Engine) awaitBuilds(ctx context.Context, p *pipeline.Plan, jobs []*config.Job, evalID int64, rec *store.HydraEval, report func(store.JobResult)) error {
	h := e.o.Hydra
	pending := map[int64][]*config.Job{}
	rec.Builds = map[string]int64{}
	for _, j := range jobs {
		var id int64
		err := e.retry(ctx, func() error {
			var err error
			id, err = h.EvalJob(ctx, evalID, e.jobName(j))
			return err
		})
		if errors.Is(err, hydra.ErrNotFound) {
			report(store.JobResult{RunID: p.RunID, Job: j.ID(), State: store.JobFailure, FinishedAt: e.o.Now(),
				Reason: fmt.Sprintf("Hydra eval %d has no job %s (it failed to evaluate or is not defined): %s", evalID, e.jobName(j), h.EvalURL(evalID))})
			continue
		}
		if err != nil {
			return err
		}
		rec.Builds[j.ID()] = id
		pending[id] = append(pending[id], j)
	}
	var gate int64
	err := e.retry(ctx, func() error {
		var err error
		gate, err = h.EvalJob(ctx, evalID, GateName(p.Stage, e.o.System))
		return err
	})
	if err != nil && !errors.Is(err, hydra.ErrNotFound) {
		return err
	}
	rec.GateBuild = gate
	e.record(ctx, rec)

	rec.Jobs = map[string]store.HydraBuild{}
	conclude := func(b *hydra.Build) {
		for _, j := range pending[int64(b.ID)] {
			rec.Jobs[j.ID()] = evidence(b)
			report(e.result(p.RunID, j, b))
		}
		delete(pending, int64(b.ID))
	}
	gateDone := gate == 0
	for len(pending) > 0 {
		if !gateDone {
			b, err := h.Build(ctx, gate)
			switch {
			case err != nil:
				e.o.Log.Warn("polling Hydra gate", "build", gate, "err", err)
			case b.Done():
				cons, err := h.Constituents(ctx, gate)
				if err != nil {
					e.o.Log.Warn("reading gate constituents", "build", gate, "err", err)
					break
				}
				gateDone = true
				for i := range cons {
					if cons[i].Done() {
						conclude(&cons[i])
					}
				}
				continue
			}
		} else {
			for id := range pending {
				b, err := h.Build(ctx, id)
				if err != nil {
					e.o.Log.Warn("polling Hydra build", "build", id, "err", err)
					continue
				}
				if b.Done() {
					conclude(b)
				}
			}
			if len(pending) == 0 {
				break
			}
		}
		if err := e.sleep(ctx); err != nil {
			return err
		}
	}
	e.record(ctx, rec)
	return nil
}

// evidence is what the run keeps of a finished build: its id and status,
// its store paths and its build products with Hydra's sha256.
func evidence(b *hydra.Build) store.HydraBuild {
	hb := store.HydraBuild{Build: int64(b.ID), Status: b.StatusName(), StorePaths: []string{}, Products: []store.BuildProduct{}}
	for _, k := range slices.Sorted(maps.Keys(b.BuildOutputs)) {
		hb.StorePaths = append(hb.StorePaths, string(b.BuildOutputs[k].Path))
	}
	for _, k := range slices.Sorted(maps.Keys(b.BuildProducts)) {
		p := b.BuildProducts[k]
		hb.Products = append(hb.Products, store.BuildProduct{Name: string(p.Name), Type: string(p.Type), Path: string(p.Path), SHA256: string(p.SHA256)})
	}
	return hb
}

// retry repeats a call that failed for a reason other than 404 at each poll
// until ctx ends: the HTTP client already retried with backoff, so this only
// outlasts long outages.
func (e *Engine) retry(ctx context.Context, fn func() error) error {
	for {
		err := fn()
		if err == nil || errors.Is(err, hydra.ErrNotFound) {
			return err
		}
		e.o.Log.Warn("Hydra request failed; retrying at the next poll", "err", err)
		if err := e.sleep(ctx); err != nil {
			return err
		}
	}
}

// jobName is j's Hydra job (JobName).
func (e *Engine) jobName(j *config.Job) string {
	return JobName(j.Stage, j.Component, j.Name, e.o.System)
}

func (e *Engine) result(runID int64, j *config.Job, b *hydra.Build) store.JobResult {
	r := store.JobResult{RunID: runID, Job: j.ID(), Log: e.o.Hydra.LogURL(int64(b.ID))}
	if b.StartTime.Valid {
		r.StartedAt = time.Unix(b.StartTime.V, 0)
	}
	if b.StopTime.Valid {
		r.FinishedAt = time.Unix(b.StopTime.V, 0)
	} else {
		r.FinishedAt = e.o.Now()
	}
	if b.Succeeded() {
		r.State = store.JobSuccess
		r.Reason = fmt.Sprintf("Hydra build %d succeeded", b.ID)
		return r
	}
	r.State = store.JobFailure
	if b.BuildStatus.Valid {
		r.ExitCode = int(b.BuildStatus.V)
		if b.BuildStatus.V == 7 {
			r.State = store.JobTimeout
		}
	}
	r.Reason = fmt.Sprintf("Hydra build %d %s: %s", b.ID, b.StatusName(), e.o.Hydra.BuildURL(int64(b.ID)))
	return r
}
