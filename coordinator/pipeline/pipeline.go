package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/charmbracelet/log"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/source"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// Gate is an extra check a stage's promotion waits for beyond its jobs, such
// as benchmark verdicts at harden.
type Gate interface {
	// Check returns pass=true to allow promotion; pending=true when the gate has
	// not decided yet. evidence is recorded with the promotion.
	Check(ctx context.Context, cand *store.Candidate, stage string) (pass, pending bool, evidence map[string]any, err error)
}

// Pipeline moves candidates through stages.
type Pipeline struct {
	Cfg     *config.Config
	Store   *store.Store
	Engine  Engine
	Mirrors *source.Mirrors
	Log     *log.Logger
	// Gates adds checks to a stage's gate, by stage.
	Gates map[string][]Gate
	// LogTail returns the last lines of a job's log for notifications; optional.
	LogTail func(runID int64, job string, lines int) string
	// Bisect bounds the probes spent looking for a culprit; 0 means 16.
	BisectLimit int
	// OnJob is called for every job state change (metrics, live views); optional.
	OnJob func(run *store.Run, r store.JobResult)
	// OnFinish is called when a run reached its verdict (staging merges,
	// reports to pull requests); optional.
	OnFinish func(ctx context.Context, run *store.Run, cand *store.Candidate)
}

func (p *Pipeline) log() *log.Logger {
	if p.Log != nil {
		return p.Log
	}
	return log.New(io.Discard)
}

// Discover syncs every component's mirror, records target heads and returns the
// candidates for the current heads: one with every component on its default
// branch, and one per extra target branch.
func (p *Pipeline) Discover(ctx context.Context) ([]*store.Candidate, error) {
	heads := map[string]map[string]string{}
	unreachable := &UnreachableError{Errs: map[string]error{}}
	var missing []error
	for _, c := range p.Cfg.Order() {
		a := p.Cfg.Loaded[c]
		start := time.Now()
		if err := p.Mirrors.Sync(ctx, c, a.Repo); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			// One unreachable remote must not stop the others: its last
			// known heads stand in until it answers again.
			p.log().Error("discover: remote unreachable; using its last known heads", "component", c, "err", err)
			unreachable.Errs[c] = err
		}
		heads[c] = map[string]string{}
		for _, b := range p.Cfg.Branches(c) {
			h, err := p.Mirrors.Head(ctx, c, b)
			if err != nil && unreachable.Errs[c] != nil {
				missing = append(missing, fmt.Errorf("discover %s: %w", c, unreachable.Errs[c]))
				break
			}
			if err != nil {
				return nil, fmt.Errorf("discover: %w", err)
			}
			heads[c][b] = h
			changed, err := p.Store.SetTarget(ctx, c, b, h)
			if err != nil {
				return nil, err
			}
			if changed {
				p.log().Info("new head", "component", c, "branch", b, "rev", store.ShortRev(h))
			}
		}
		p.log().Debug("synced", "component", c, "elapsed", time.Since(start).Round(time.Millisecond))
	}
	if len(missing) > 0 {
		// Never seen at all: no candidate can be made without it.
		return nil, errors.Join(missing...)
	}
	base := map[string]store.Revision{}
	for _, c := range p.Cfg.Order() {
		a := p.Cfg.Loaded[c]
		base[c] = store.Revision{Repo: a.Repo, Branch: a.Branch, Rev: heads[c][a.Branch]}
	}
	var out []*store.Candidate
	cand, err := p.Store.PutCandidate(ctx, base, "head", 0)
	if err != nil {
		return nil, err
	}
	out = append(out, cand)
	for _, c := range p.Cfg.Order() {
		for _, b := range p.Cfg.Branches(c)[1:] {
			revs := maps.Clone(base)
			revs[c] = store.Revision{Repo: base[c].Repo, Branch: b, Rev: heads[c][b]}
			cand, err := p.Store.PutCandidate(ctx, revs, "head", 0)
			if err != nil {
				return nil, err
			}
			out = append(out, cand)
		}
	}
	if len(unreachable.Errs) > 0 {
		return out, unreachable
	}
	return out, nil
}

// UnreachableError is returned by Discover, with the candidates, when some
// components' remotes did not answer: their last known heads were used.
type UnreachableError struct{ Errs map[string]error }

func (e *UnreachableError) Error() string {
	var parts []string
	for _, c := range slices.Sorted(maps.Keys(e.Errs)) {
		parts = append(parts, fmt.Sprintf("%s: %v", c, e.Errs[c]))
	}
	return "unreachable (last known heads used): " + strings.Join(parts, "; ")
}

// Partial reports whether err is an UnreachableError: candidates came with it.
func Partial(err error) bool {
	var ue *UnreachableError
	return errors.As(err, &ue)
}

// RunOptions shape one stage run.
type RunOptions struct {
	Kind string // stage (default), schedule, bisect, manual, rebuild
	// Jobs restricts the run to these job IDs (and nothing else); empty means
	// every non-manual, unscheduled job of the stage.
	Jobs []string
	// New forces a new run even when one exists for the candidate and stage.
	New bool
	// NoBisect disables the culprit search of an incompatible verdict.
	NoBisect bool
}

// StageJobs returns the IDs of the jobs a stage's gate requires and a plain
// run of the stage covers: every job of the stage that is not manual.
func (p *Pipeline) StageJobs(stage string) []string {
	var ids []string
	for _, j := range p.Cfg.StageJobs(stage) {
		if !j.Manual {
			ids = append(ids, j.ID())
		}
	}
	return ids
}

// Enqueue returns the run of cand at stage, creating it (queued) unless one
// that is not cancelled exists already and opts.New is false.
func (p *Pipeline) Enqueue(ctx context.Context, cand *store.Candidate, stage string, opts RunOptions) (*store.Run, error) {
	kind := opts.Kind
	if kind == "" {
		kind = "stage"
	}
	jobs := opts.Jobs
	if len(jobs) == 0 {
		jobs = p.StageJobs(stage)
	}
	if !opts.New {
		runs, err := p.Store.Runs(ctx, store.RunFilter{Candidate: cand.ID, Stage: stage, Kind: kind})
		if err != nil {
			return nil, err
		}
		for _, r := range runs {
			if r.State != store.RunCancelled && slices.Equal(r.Jobs, jobs) {
				if again, err := p.retry(ctx, r, time.Now()); again != nil || err != nil {
					return again, err
				}
				return r, nil
			}
		}
	}
	for _, id := range jobs {
		if _, ok := p.Cfg.JobsByID[id]; !ok {
			return nil, fmt.Errorf("unknown job %q", id)
		}
	}
	return p.Store.CreateRun(ctx, cand.ID, stage, kind, p.Engine.Name(), jobs, nil)
}

// Execute runs (or resumes) a queued or running run to its verdict. A run that
// is already done is returned as it is.
func (p *Pipeline) Execute(ctx context.Context, runID int64, opts RunOptions) (*store.Run, error) {
	run, err := p.Store.Run(ctx, runID)
	if err != nil {
		return nil, err
	}
	if run.State == store.RunDone || run.State == store.RunCancelled {
		return run, nil
	}
	cand, err := p.Store.Candidate(ctx, run.Candidate)
	if err != nil {
		return nil, err
	}
	results, err := p.Store.JobResults(ctx, run.ID)
	if err != nil {
		return nil, err
	}
	plan := &Plan{RunID: run.ID, Stage: run.Stage, Candidate: cand, Adapters: p.Cfg.Loaded, Done: map[string]string{}}
	for _, r := range results {
		if store.JobFinal(r.State) {
			plan.Done[r.Job] = r.State
			continue
		}
		if r.State == store.JobRunning {
			// The coordinator died while it ran: run it again from scratch.
			if err := p.Store.ResetJob(ctx, run.ID, r.Job); err != nil {
				return nil, err
			}
		}
		plan.Jobs = append(plan.Jobs, p.Cfg.JobsByID[r.Job])
	}
	// Needs outside the run were satisfied by earlier stages of the candidate.
	for _, j := range plan.Jobs {
		for _, n := range j.Needs {
			if _, in := plan.Done[n]; in || slices.Contains(run.Jobs, n) {
				continue
			}
			plan.Done[n] = p.priorState(ctx, cand.ID, n)
		}
	}
	if err := p.Store.StartRun(ctx, run.ID); err != nil {
		return nil, err
	}
	if run.State == store.RunQueued && run.Kind != "bisect" {
		if err := p.Store.AppendEvent(ctx, p.runEvent(cand, run, "run-started", nil)); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	p.log().Info("run started", "run", run.ID, "stage", run.Stage, "candidate", cand.Short(), "jobs", len(plan.Jobs))
	var execErr error
	reportJob := func(r store.JobResult) {
		r.RunID = run.ID
		if err := p.Store.UpdateJob(context.WithoutCancel(ctx), &r); err != nil {
			p.log().Error("recording job result", "err", err)
		}
		if p.OnJob != nil {
			p.OnJob(run, r)
		}
	}
	if len(plan.Jobs) > 0 {
		execErr = p.Engine.Execute(ctx, plan, reportJob)
	}
	var flaky []string
	if execErr == nil && ctx.Err() == nil {
		flaky, execErr = p.retryFailures(ctx, cand, run, reportJob)
	}
	if ctx.Err() != nil {
		// Interrupted. An operator's cancel stands; a shutdown's jobs run
		// again on resume.
		bg := context.WithoutCancel(ctx)
		if now, err := p.Store.Run(bg, run.ID); err == nil && now.State == store.RunCancelled {
			return now, nil
		}
		if rs, err := p.Store.JobResults(bg, run.ID); err == nil {
			for _, r := range rs {
				if r.State == store.JobCancelled || r.State == store.JobRunning {
					_ = p.Store.ResetJob(bg, run.ID, r.Job)
				}
			}
		}
		return run, ctx.Err()
	}
	results, err = p.Store.JobResults(ctx, run.ID)
	if err != nil {
		return nil, err
	}
	j := Judge(p.Cfg, cand, run, results)
	markFlaky(&j, flaky)
	if execErr != nil {
		j.Verdict = store.VerdictInfraError
		j.Detail["reason"] = "engine: " + execErr.Error()
	}
	p.noteRetry(run, &j, time.Now())
	run, err = p.finish(ctx, cand, run, j, opts)
	if err != nil {
		return nil, err
	}
	p.log().Info("run finished", "run", run.ID, "stage", run.Stage, "verdict", run.Verdict, "elapsed", time.Since(start).Round(time.Millisecond))
	if p.OnFinish != nil {
		p.OnFinish(ctx, run, cand)
	}
	return run, nil
}

// priorState is the final state of a job in the newest finished run of cand
// that ran it, or "missing".
func (p *Pipeline) priorState(ctx context.Context, candID, job string) string {
	runs, err := p.Store.Runs(ctx, store.RunFilter{Candidate: candID, States: []string{store.RunDone}})
	if err != nil {
		return "missing"
	}
	for _, r := range runs {
		if !slices.Contains(r.Jobs, job) {
			continue
		}
		res, err := p.Store.JobResults(ctx, r.ID)
		if err != nil {
			continue
		}
		for _, jr := range res {
			if jr.Job == job && store.JobFinal(jr.State) {
				return jr.State
			}
		}
	}
	return "missing"
}

// Judgement is the outcome of a run at its gate.
type Judgement struct {
	Verdict string
	Detail  map[string]any
	// States is each component's state in this run: green, red, or "" (not decided).
	States map[string]string
}

// Judge decides a run's verdict from its job results. The order matters:
// infrastructure first (nobody's code is to blame), then a refused pin, then
// whose code broke.
func Judge(cfg *config.Config, cand *store.Candidate, run *store.Run, results []*store.JobResult) Judgement {
	j := Judgement{Detail: map[string]any{}, States: map[string]string{}}
	byComp := map[string][]*store.JobResult{}
	for _, r := range results {
		job := cfg.JobsByID[r.Job]
		if job == nil {
			continue
		}
		byComp[job.Component] = append(byComp[job.Component], r)
	}
	var infra, notAccepted, waiting, cancelled, timedOut, adapterErr, evalErr *store.JobResult
	for _, c := range cfg.Order() {
		rs := byComp[c]
		if len(rs) == 0 {
			continue
		}
		state := store.VerdictGreen
		for _, r := range rs {
			job := cfg.JobsByID[r.Job]
			if !job.IsGating() {
				continue
			}
			switch r.State {
			case store.JobSuccess:
			case store.JobFailure:
				state = "red"
				if _, ok := j.Detail["failed_job"]; !ok {
					j.Detail["failed_job"] = r.Job
				}
			case store.JobNotAccept:
				notAccepted = firstOf(notAccepted, r)
				state = "red"
			case store.JobTimeout:
				timedOut = firstOf(timedOut, r)
				state = "red"
			case store.JobAdapterErr:
				adapterErr = firstOf(adapterErr, r)
				if state == store.VerdictGreen {
					state = ""
				}
			case store.JobEvalErr:
				evalErr = firstOf(evalErr, r)
				if state == store.VerdictGreen {
					state = ""
				}
			case store.JobError:
				infra = firstOf(infra, r)
				if state == store.VerdictGreen {
					state = ""
				}
			case store.JobWaiting:
				waiting = firstOf(waiting, r)
				if state == store.VerdictGreen {
					state = ""
				}
			case store.JobCancelled:
				cancelled = firstOf(cancelled, r)
				if state == store.VerdictGreen {
					state = ""
				}
			default: // skipped, pending
				if state == store.VerdictGreen {
					state = ""
				}
			}
		}
		j.States[c] = state
	}
	inRun := func(c string) bool { return len(byComp[c]) > 0 }
	switch {
	case evalErr != nil:
		// The flake as a whole: no component is blamed or decided.
		j.Verdict = store.VerdictEvalError
		j.Detail["reason"] = evalErr.Reason
	case infra != nil:
		j.Verdict = store.VerdictInfraError
		j.Detail["reason"] = infra.Job + ": " + infra.Reason
		j.Detail["failed_job"] = infra.Job
	case adapterErr != nil:
		j.Verdict = store.VerdictAdapterError
		j.Detail["reason"] = adapterErr.Job + ": " + adapterErr.Reason
		j.Detail["failed_job"] = adapterErr.Job
		j.Detail["component"] = cfg.JobsByID[adapterErr.Job].Component
	case timedOut != nil:
		j.Verdict = store.VerdictTimeout
		j.Detail["reason"] = timedOut.Job + ": " + timedOut.Reason
		j.Detail["failed_job"] = timedOut.Job
		j.Detail["component"] = cfg.JobsByID[timedOut.Job].Component
	case notAccepted != nil:
		j.Verdict = store.VerdictNotAccepted
		j.Detail["reason"] = notAccepted.Reason
		j.Detail["failed_job"] = notAccepted.Job
		comp := cfg.JobsByID[notAccepted.Job].Component
		j.Detail["downstream"] = comp
		if ups := cfg.Loaded[comp].Upstream; len(ups) > 0 {
			j.Detail["upstream"] = ups[0].Name
		}
	default:
		for _, c := range cfg.Order() {
			if j.States[c] != "red" {
				continue
			}
			for _, d := range cfg.Downstreams(c) {
				if inRun(d) {
					j.Verdict = store.VerdictUpstreamBroken
					j.Detail["upstream"] = c
					j.Detail["downstream"] = d
				}
			}
			if j.Verdict != "" {
				break
			}
			for _, u := range cfg.Loaded[c].Upstream {
				if j.States[u.Name] == store.VerdictGreen || (!inRun(u.Name) && cand.Revisions[u.Name].Rev != "") {
					j.Verdict = store.VerdictIncompatible
					j.Detail["upstream"] = u.Name
					j.Detail["downstream"] = c
					break
				}
			}
			if j.Verdict == "" {
				j.Verdict = store.VerdictFailed
				j.Detail["component"] = c
			}
			break
		}
		if j.Verdict != "" {
			break
		}
		switch {
		case cancelled != nil:
			j.Verdict = store.VerdictCancelled
			j.Detail["reason"] = cancelled.Reason
		case waiting != nil:
			j.Verdict = store.VerdictWaiting
			j.Detail["reason"] = waiting.Job + ": " + waiting.Reason
		default:
			j.Verdict = store.VerdictGreen
		}
	}
	if j.Verdict != store.VerdictGreen {
		if fj, ok := j.Detail["failed_job"].(string); ok {
			for _, r := range results {
				if r.Job == fj && r.Reason != "" {
					j.Detail["failed_reason"] = r.Reason
				}
			}
		}
	}
	return j
}

func firstOf(a, b *store.JobResult) *store.JobResult {
	if a != nil {
		return a
	}
	return b
}

// finish records the verdict, compatibility, promotion and events of a run.
func (p *Pipeline) finish(ctx context.Context, cand *store.Candidate, run *store.Run, j Judgement, opts RunOptions) (*store.Run, error) {
	// Compatibility of every (upstream, downstream) pair the run decided.
	for _, c := range p.Cfg.Order() {
		for _, u := range p.Cfg.Loaded[c].Upstream {
			if j.States[c] == "" || cand.Revisions[u.Name].Rev == "" {
				continue
			}
			if j.States[u.Name] == "red" {
				continue // the downstream was not really tried
			}
			v := store.VerdictGreen
			if j.States[c] == "red" {
				v = j.Verdict
			}
			if err := p.Store.RecordCompat(ctx, u.Name, cand.Revisions[u.Name].Rev, c, cand.Revisions[c].Rev, v, run.ID); err != nil {
				return nil, err
			}
		}
	}
	if j.Verdict == store.VerdictIncompatible && run.Kind != "bisect" {
		if err := p.explainIncompatible(ctx, cand, run, &j, opts); err != nil {
			return nil, err
		}
	}
	var promote *store.Promotion
	if j.Verdict == store.VerdictGreen && run.Kind != "bisect" {
		pr, reason, why, err := p.gate(ctx, cand, run)
		if err != nil {
			return nil, err
		}
		if pr != nil {
			promote = pr
		} else if reason != "" {
			j.Detail["not_promoted"] = reason
			maps.Copy(j.Detail, why)
		}
	}
	events, states, err := p.events(ctx, cand, run, j, promote)
	if err != nil {
		return nil, err
	}
	if _, err := p.Store.Finish(ctx, run.ID, j.Verdict, j.Detail, promote, events, states...); err != nil {
		return nil, err
	}
	p.reached(ctx, cand, promote)
	return p.Store.Run(ctx, run.ID)
}

// gate decides promotion of a green run: the stage's extra gates, and never
// backwards (a candidate older than the stage's newest promotion is not promoted).
// A refusal comes with its reason and with what the extra gate that said no
// or wait told (why: kept in the run's detail, for the user).
func (p *Pipeline) gate(ctx context.Context, cand *store.Candidate, run *store.Run) (*store.Promotion, string, map[string]any, error) {
	if ok, err := p.Store.Promoted(ctx, cand.ID, run.Stage); err != nil || ok {
		return nil, "already promoted", nil, err
	}
	if i := config.StageIndex(run.Stage); i > 0 && run.Stage != "forge" {
		prev := config.Stages[i-1]
		ok, err := p.Store.Promoted(ctx, cand.ID, prev)
		if err != nil {
			return nil, "", nil, err
		}
		if !ok {
			return nil, fmt.Sprintf("not promoted at %s yet", prev), nil, nil
		}
	}
	// The gate looks at the newest result of every gating job across the
	// candidate's runs of the stage: scheduled jobs run in runs of their own.
	missing, err := p.unproven(ctx, cand.ID, run.Stage, run.ID)
	if err != nil {
		return nil, "", nil, err
	}
	if len(missing) > 0 {
		return nil, "not yet green: " + strings.Join(missing, ", "), nil, nil
	}
	evidence := map[string]any{"run": run.ID, "engine": run.Engine}
	for _, g := range p.Gates[run.Stage] {
		pass, pending, ev, err := g.Check(ctx, cand, run.Stage)
		if err != nil {
			return nil, "", nil, err
		}
		for k, v := range ev {
			evidence[k] = v
		}
		if pending {
			return nil, store.GatePending, ev, nil
		}
		if !pass {
			return nil, store.GateFailed, ev, nil
		}
	}
	proms, err := p.Store.Promotions(ctx, run.Stage)
	if err != nil {
		return nil, "", nil, err
	}
	for _, prev := range proms {
		if prev.Candidate == cand.ID {
			continue
		}
		pc, err := p.Store.Candidate(ctx, prev.Candidate)
		if err != nil {
			return nil, "", nil, err
		}
		if p.olderOrEqual(ctx, cand, pc) {
			return nil, fmt.Sprintf("older than %s, promoted already", pc.ID), nil, nil
		}
		break
	}
	return &store.Promotion{Candidate: cand.ID, Stage: run.Stage, RunID: run.ID, Evidence: evidence}, "", nil, nil
}

// olderOrEqual reports whether every revision of a is an ancestor of b's.
func (p *Pipeline) olderOrEqual(ctx context.Context, a, b *store.Candidate) bool {
	for c, ra := range a.Revisions {
		rb, ok := b.Revisions[c]
		if !ok || ra.Branch != rb.Branch || !p.Mirrors.IsAncestor(ctx, c, ra.Rev, rb.Rev) {
			return false
		}
	}
	return true
}

func (p *Pipeline) runEvent(cand *store.Candidate, run *store.Run, kind string, payload map[string]any) store.Event {
	if payload == nil {
		payload = map[string]any{}
	}
	payload["stage"] = run.Stage
	payload["revisions"] = cand.Revisions
	payload["run_url"] = fmt.Sprintf("/runs/%d", run.ID)
	if cand.PR != 0 {
		payload["pr"] = cand.PR
	}
	e := store.Event{Key: fmt.Sprintf("%s:%d", kind, run.ID), Kind: kind, Candidate: cand.ID, RunID: run.ID, Payload: payload}
	e.Component, e.Branch = p.subject(cand)
	return e
}

// events builds the run-finished event and, for state changes of targets, the
// failure / incompatible / recovery / promotion events.
func (p *Pipeline) events(ctx context.Context, cand *store.Candidate, run *store.Run, j Judgement, promote *store.Promotion) ([]store.Event, []store.TargetState, error) {
	if run.Kind == "bisect" {
		return nil, nil, nil
	}
	results, err := p.Store.JobResults(ctx, run.ID)
	if err != nil {
		return nil, nil, err
	}
	var jobs []map[string]any
	for _, r := range results {
		jobs = append(jobs, map[string]any{"job": r.Job, "state": r.State, "duration_ms": r.Duration().Milliseconds(), "log_key": r.Log, "reason": r.Reason})
	}
	base := func() map[string]any {
		m := map[string]any{"verdict": j.Verdict, "jobs": jobs, "summary": Summary(run.Stage, j)}
		for _, k := range []string{"upstream", "downstream", "upstream_range", "downstream_range", "culprit", "failed_job", "reason", "failed_reason", "bisect", "flaky", "culprit_unconfirmed"} {
			if v, ok := j.Detail[k]; ok {
				m[k] = v
			}
		}
		if fj, ok := j.Detail["failed_job"].(string); ok && p.LogTail != nil {
			m["log_tail"] = p.LogTail(run.ID, fj, 30)
			m["log_key"] = LogKey(run.ID, fj)
		}
		return m
	}
	finished := p.runEvent(cand, run, "run-finished", base())
	events := append([]store.Event{finished}, p.flakyEvents(cand, run, j, base)...)
	events = append(events, p.adapterErrorEvent(cand, run, j, base)...)
	events = append(events, p.evalErrorEvent(cand, run, j, base)...)
	// A PR's candidate says nothing about the target branches.
	if cand.Origin == "pr" {
		return events, nil, nil
	}
	var states []store.TargetState
	for _, c := range p.Cfg.Order() {
		st := j.States[c]
		if st == "" {
			continue
		}
		branch := cand.Revisions[c].Branch
		prev, err := p.Store.TargetStateOf(ctx, c, branch, run.Stage)
		if err != nil {
			return nil, nil, err
		}
		states = append(states, store.TargetState{Component: c, Branch: branch, Stage: run.Stage, State: st, Verdict: j.Verdict})
		if prev == st || (prev == "" && st == store.VerdictGreen) {
			continue
		}
		kind := "recovery"
		if st == "red" {
			switch {
			case j.Verdict == store.VerdictIncompatible && j.Detail["downstream"] == c:
				kind = "incompatible"
			case j.Verdict == store.VerdictNotAccepted:
				kind = "upstream-not-accepted"
			default:
				kind = "failure"
			}
		}
		e := p.runEvent(cand, run, kind, base())
		e.Key = fmt.Sprintf("%s:%s:%s:%s:%d", kind, c, branch, run.Stage, run.ID)
		e.Component, e.Branch = c, branch
		events = append(events, e)
	}
	if promote != nil {
		e := p.runEvent(cand, run, "promotion", base())
		e.Key = "promotion:" + cand.ID + ":" + run.Stage
		for _, c := range p.Cfg.Order() {
			e.Component, e.Branch = c, cand.Revisions[c].Branch
		}
		events = append(events, e)
	}
	return events, states, nil
}

// LogKey is the artifact key of a job's log, whatever engine ran it.
func LogKey(runID int64, job string) string {
	comp, name, _ := strings.Cut(job, ":")
	return fmt.Sprintf("logs/%d/%s/%s.log", runID, comp, name)
}

// Summary is the one-line description of a run's outcome.
func Summary(stage string, j Judgement) string {
	d := j.Detail
	switch j.Verdict {
	case store.VerdictGreen:
		if f, ok := d["flaky"].([]string); ok && len(f) > 0 {
			return fmt.Sprintf("%s: green, flaky: %s failed then passed", stage, strings.Join(f, ", "))
		}
		return stage + ": green"
	case store.VerdictIncompatible:
		s := fmt.Sprintf("%s: %v is incompatible with %v", stage, d["downstream"], d["upstream"])
		if c, ok := d["culprit"].(source.Commit); ok {
			s += fmt.Sprintf(" since %s (%s)", store.ShortRev(c.Rev), c.Subject)
		}
		return s
	case store.VerdictUpstreamBroken:
		return fmt.Sprintf("%s: %v is broken (%v); %v not tried", stage, d["upstream"], d["failed_job"], d["downstream"])
	case store.VerdictNotAccepted:
		return fmt.Sprintf("%s: %v", stage, d["reason"])
	case store.VerdictInfraError:
		return fmt.Sprintf("%s: infrastructure error: %v%s", stage, d["reason"], RetryText(d))
	case store.VerdictEvalError:
		return fmt.Sprintf("%s: the flake could not be evaluated: %v%s", stage, d["reason"], RetryText(d))
	case store.VerdictFailed:
		return fmt.Sprintf("%s: %v failed (%v)", stage, d["component"], d["failed_job"])
	}
	if r, ok := d["reason"]; ok {
		return fmt.Sprintf("%s: %s (%v)", stage, j.Verdict, r)
	}
	return stage + ": " + j.Verdict
}

// ErrGateFailed is returned by Once when some run did not pass its gate.
var ErrGateFailed = errors.New("a gate did not pass")

// Resume executes every run a previous process left queued or running.
func (p *Pipeline) Resume(ctx context.Context) error {
	runs, err := p.Store.Runs(ctx, store.RunFilter{States: []string{store.RunQueued, store.RunRunning}})
	if err != nil {
		return err
	}
	sort.Slice(runs, func(a, b int) bool { return runs[a].ID < runs[b].ID })
	for _, r := range runs {
		if r.Kind == "bisect" {
			// A probe is re-created by the run that needs it.
			if err := p.Store.Cancel(ctx, r.ID, "interrupted probe"); err != nil {
				return err
			}
			continue
		}
		p.log().Info("resuming run", "run", r.ID, "stage", r.Stage)
		if _, err := p.Execute(ctx, r.ID, RunOptions{}); err != nil {
			return err
		}
	}
	return nil
}

// unproven lists the gating jobs of stage whose newest final result for the
// candidate, in finished runs and the current one, is not success.
func (p *Pipeline) unproven(ctx context.Context, candID, stage string, current int64) ([]string, error) {
	runs, err := p.Store.Runs(ctx, store.RunFilter{Candidate: candID, Stage: stage})
	if err != nil {
		return nil, err
	}
	latest := map[string]string{}
	for _, r := range runs { // newest first
		if r.Kind == "bisect" || (r.State != store.RunDone && r.ID != current) {
			continue
		}
		res, err := p.Store.JobResults(ctx, r.ID)
		if err != nil {
			return nil, err
		}
		for _, jr := range res {
			if _, seen := latest[jr.Job]; !seen && store.JobFinal(jr.State) {
				latest[jr.Job] = jr.State
			}
		}
	}
	var missing []string
	for _, id := range p.StageJobs(stage) {
		if !p.Cfg.JobsByID[id].IsGating() {
			continue
		}
		if latest[id] != store.JobSuccess {
			missing = append(missing, id)
		}
	}
	return missing, nil
}

// Recheck re-evaluates the gates of green runs whose promotion waited on an
// extra gate (benchmark verdicts arrive after the run) and promotes those
// that pass now. The scheduler calls it on every pass.
func (p *Pipeline) Recheck(ctx context.Context) error {
	runs, err := p.Store.Runs(ctx, store.RunFilter{States: []string{store.RunDone}, Verdict: store.VerdictGreen, Limit: 200})
	if err != nil {
		return err
	}
	for _, r := range runs {
		if r.Detail["not_promoted"] != "gate pending" {
			continue
		}
		cand, err := p.Store.Candidate(ctx, r.Candidate)
		if err != nil {
			return err
		}
		pr, reason, why, err := p.gate(ctx, cand, r)
		if err != nil || pr == nil {
			if err == nil && (reason == store.GateFailed || reason == store.GatePending) {
				// Decided now: the pass reports it as a failed gate. Still
				// pending: what the gate says now (it may have changed).
				err = p.Store.SetNotPromoted(ctx, r.ID, reason, why)
			}
			if err != nil {
				return err
			}
			continue
		}
		e := p.runEvent(cand, r, "promotion", map[string]any{"verdict": r.Verdict, "summary": r.Stage + ": promoted"})
		e.Key = "promotion:" + cand.ID + ":" + r.Stage
		if _, err := p.Store.Promote(ctx, pr, []store.Event{e}); err != nil {
			return err
		}
		p.reached(ctx, cand, pr)
		p.log().Info("promoted after gate", "candidate", cand.ID, "stage", r.Stage)
	}
	return nil
}
