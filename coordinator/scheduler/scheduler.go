// Package scheduler drives the pipeline as a daemon: it polls heads, queues
// stage runs for new candidates, fires cron jobs on the newest heads, keeps one
// round of every continuous job going on the newest forge-green candidate, and
// executes queued runs with bounded concurrency.
package scheduler

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/charmbracelet/log"
	"github.com/robfig/cron/v3"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/pipeline"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// Scheduler runs the pipeline continuously.
type Scheduler struct {
	P       *pipeline.Pipeline
	Poll    time.Duration // head polling interval; default one minute
	Workers int           // runs executed at once; default 2
	Through string        // last stage queued automatically; default harden
	Now     func() time.Time
	Log     *log.Logger

	wake    chan struct{}
	mu      sync.Mutex
	running map[int64]context.CancelFunc
	started time.Time
	// discovery health: when a pass last discovered every component, and
	// the error of the newest pass that did not.
	lastDiscovered time.Time
	discoverErr    error
}

// Health is nil while discovery works; once it has failed for longer than two
// poll intervals it says why (serve's /healthz then answers 503).
func (s *Scheduler) Health() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	since := s.lastDiscovered
	if since.IsZero() {
		since = s.started
	}
	if s.discoverErr == nil || s.now().Sub(since) <= 2*s.poll() {
		return nil
	}
	return fmt.Errorf("discovery failing since %s: %w", since.UTC().Format(time.RFC3339), s.discoverErr)
}

func (s *Scheduler) noteDiscovery(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.discoverErr = err
	if err == nil {
		s.lastDiscovered = s.now()
	}
}

func (s *Scheduler) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Scheduler) log() *log.Logger {
	if s.Log != nil {
		return s.Log
	}
	return log.New(io.Discard)
}

// Wake asks for a pass now (a webhook arrived, a run finished).
func (s *Scheduler) Wake() {
	s.init()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Scheduler) poll() time.Duration {
	if s.Poll <= 0 {
		return time.Minute
	}
	return s.Poll
}

func (s *Scheduler) init() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.wake == nil {
		s.wake = make(chan struct{}, 1)
		s.running = map[int64]context.CancelFunc{}
		s.started = s.now()
	}
}

// Run passes and dispatches until ctx ends, then waits for executing runs to
// stop (their jobs are re-run on the next start).
func (s *Scheduler) Run(ctx context.Context) error {
	s.init()
	poll := s.poll()
	var wg sync.WaitGroup
	defer wg.Wait()
	ticker := time.NewTicker(poll)
	defer ticker.Stop()
	for {
		if err := s.Pass(ctx); err != nil && ctx.Err() == nil {
			s.log().Error("scheduler pass", "err", err)
		}
		s.dispatch(ctx, &wg)
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		case <-s.wake:
		}
	}
}

// Stop interrupts a run this scheduler is executing (its jobs are killed);
// the caller records why, e.g. with store.Cancel first.
func (s *Scheduler) Stop(runID int64) {
	s.init()
	s.mu.Lock()
	cancel := s.running[runID]
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// Pass discovers heads and queues what is due. It executes nothing.
func (s *Scheduler) Pass(ctx context.Context) (passErr error) {
	s.init()
	cands, err := s.P.Discover(ctx)
	if ctx.Err() == nil {
		s.noteDiscovery(err)
	}
	if err != nil && !pipeline.Partial(err) {
		return err
	}
	// An unreachable component is reported after the others are queued.
	defer func(unreachable error) {
		if unreachable != nil && passErr == nil {
			passErr = unreachable
		}
	}(err)
	through := s.Through
	if through == "" {
		through = "forge"
	}
	current := map[string]bool{}
	for _, c := range cands {
		current[c.ID] = true
		for _, stage := range config.Stages[:config.StageIndex(through)+1] {
			jobs := unscheduled(s.P, stage)
			if len(jobs) == 0 && (len(s.P.StageJobs(stage)) > 0 || !s.P.HasWork(stage)) {
				continue // nothing but scheduled jobs, or nothing at all
			}
			if stage != "spark" && stage != "forge" {
				prev := config.Stages[config.StageIndex(stage)-1]
				if ok, err := s.P.Store.Promoted(ctx, c.ID, prev); err != nil || !ok {
					break
				}
			}
			if held, err := s.cancelled(ctx, c.ID, stage); err != nil || held {
				if err != nil {
					return err
				}
				continue
			}
			if _, err := s.P.Enqueue(ctx, c, stage, pipeline.RunOptions{Jobs: jobs}); err != nil {
				return err
			}
		}
	}
	if err := s.supersede(ctx, current); err != nil {
		return err
	}
	if err := s.P.Recheck(ctx); err != nil {
		return err
	}
	return s.scheduled(ctx, cands)
}

// OperatorCancel is the reason an operator's cancel records: the scheduler
// does not queue that candidate's stage again until it changes (a new commit
// is a new candidate) or an operator asks (rebuild, promote).
const OperatorCancel = "cancelled by an operator"

// cancelled reports whether the newest stage run of a candidate at stage was
// cancelled by an operator.
func (s *Scheduler) cancelled(ctx context.Context, cand, stage string) (bool, error) {
	runs, err := s.P.Store.Runs(ctx, store.RunFilter{Candidate: cand, Stage: stage, Kind: "stage", Limit: 1})
	if err != nil || len(runs) == 0 {
		return false, err
	}
	r := runs[0]
	return r.State == store.RunCancelled && r.Detail["reason"] == OperatorCancel, nil
}

// unscheduled is what a stage run covers in the daemon: scheduled jobs run in
// rounds of their own.
func unscheduled(p *pipeline.Pipeline, stage string) []string {
	var ids []string
	for _, id := range p.StageJobs(stage) {
		if p.Cfg.JobsByID[id].Schedule == "" {
			ids = append(ids, id)
		}
	}
	return ids
}

// supersede cancels queued (not yet started) head runs of candidates that are
// no longer the heads.
func (s *Scheduler) supersede(ctx context.Context, current map[string]bool) error {
	queued, err := s.P.Store.Runs(ctx, store.RunFilter{States: []string{store.RunQueued}, Kind: "stage"})
	if err != nil {
		return err
	}
	for _, r := range queued {
		if current[r.Candidate] {
			continue
		}
		c, err := s.P.Store.Candidate(ctx, r.Candidate)
		if err != nil || c.Origin != "head" {
			continue
		}
		s.log().Info("superseded", "run", r.ID, "candidate", r.Candidate)
		if err := s.P.Store.Cancel(ctx, r.ID, "superseded by a newer commit"); err != nil {
			return err
		}
	}
	return nil
}

// ScheduledJob is a job with a cron or continuous schedule.
type ScheduledJob struct {
	ID, Stage, Component string
	Continuous           bool
	Cron                 cron.Schedule
}

// ScheduledJobs lists the jobs of cfg that have a schedule.
func ScheduledJobs(cfg *config.Config) ([]ScheduledJob, error) {
	var out []ScheduledJob
	for _, stage := range config.Stages {
		for _, j := range cfg.StageJobs(stage) {
			switch {
			case j.Schedule == "" || j.Manual:
			case j.Schedule == config.Continuous:
				out = append(out, ScheduledJob{ID: j.ID(), Stage: j.Stage, Component: j.Component, Continuous: true})
			default:
				sched, err := config.CronParser.Parse(j.Schedule)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", j.ID(), err)
				}
				out = append(out, ScheduledJob{ID: j.ID(), Stage: j.Stage, Component: j.Component, Cron: sched})
			}
		}
	}
	return out, nil
}

// Target is what Due decides for: a candidate at the head of a target branch,
// and the newest candidate of that branch that passed forge.
type Target struct {
	Branch     string
	Head       string // candidate ID
	ForgeGreen string // candidate ID, "" if none
}

// Firing is one scheduled round to queue.
type Firing struct {
	Job       ScheduledJob
	Branch    string
	Candidate string
}

// Due decides which scheduled rounds to start. It is pure so that a pass over
// many targets costs only memory work: cron jobs fire on the head when their
// next time after the last firing has come; continuous jobs start on the
// newest forge-green candidate when no round of them is queued or running.
func Due(now time.Time, jobs []ScheduledJob, targets map[string][]Target, fired map[string]int64, active map[string]bool) []Firing {
	var out []Firing
	for _, j := range jobs {
		for _, t := range targets[j.Component] {
			key := j.ID + "@" + t.Branch
			if j.Continuous {
				if !active[j.ID] && t.ForgeGreen != "" {
					out = append(out, Firing{Job: j, Branch: t.Branch, Candidate: t.ForgeGreen})
				}
				continue
			}
			at, ok := fired[key]
			if !ok {
				// Never fired: run it once now, then on its schedule.
				out = append(out, Firing{Job: j, Branch: t.Branch, Candidate: t.Head})
				continue
			}
			last := time.UnixMilli(at)
			if !j.Cron.Next(last).After(now) && !active[j.ID] {
				out = append(out, Firing{Job: j, Branch: t.Branch, Candidate: t.Head})
			}
		}
	}
	return out
}

func (s *Scheduler) scheduled(ctx context.Context, cands []*store.Candidate) error {
	jobs, err := ScheduledJobs(s.P.Cfg)
	if err != nil || len(jobs) == 0 {
		return err
	}
	targets, err := s.targets(ctx, cands)
	if err != nil {
		return err
	}
	fired, err := s.P.Store.Fired(ctx)
	if err != nil {
		return err
	}
	active, err := s.P.Store.ActiveJobs(ctx)
	if err != nil {
		return err
	}
	for _, f := range Due(s.now(), jobs, targets, fired, active) {
		cand, err := s.P.Store.Candidate(ctx, f.Candidate)
		if err != nil {
			return err
		}
		run, err := s.P.Enqueue(ctx, cand, f.Job.Stage, pipeline.RunOptions{Kind: "schedule", Jobs: []string{f.Job.ID}, New: true})
		if err != nil {
			return err
		}
		active[f.Job.ID] = true
		s.log().Info("scheduled round", "job", f.Job.ID, "branch", f.Branch, "run", run.ID)
		if err := s.P.Store.SetFired(ctx, f.Job.ID, f.Branch, s.now().UnixMilli(), run.ID); err != nil {
			return err
		}
	}
	return nil
}

// targets maps each component to its target branches with their head and
// newest forge-green candidates.
func (s *Scheduler) targets(ctx context.Context, cands []*store.Candidate) (map[string][]Target, error) {
	proms, err := s.P.Store.Promotions(ctx, "forge")
	if err != nil {
		return nil, err
	}
	out := map[string][]Target{}
	for _, comp := range s.P.Cfg.Order() {
		for _, b := range s.P.Cfg.Branches(comp) {
			t := Target{Branch: b}
			for _, c := range cands {
				if c.Revisions[comp].Branch == b {
					t.Head = c.ID
					break
				}
			}
			for _, p := range proms { // newest first
				pc, err := s.P.Store.Candidate(ctx, p.Candidate)
				if err == nil && pc.Revisions[comp].Branch == b {
					t.ForgeGreen = pc.ID
					break
				}
			}
			if t.Head != "" {
				out[comp] = append(out[comp], t)
			}
		}
	}
	return out, nil
}

// dispatch starts queued runs, oldest first, up to Workers at once.
func (s *Scheduler) dispatch(ctx context.Context, wg *sync.WaitGroup) {
	workers := s.Workers
	if workers <= 0 {
		workers = 2
	}
	queued, err := s.P.Store.Runs(ctx, store.RunFilter{States: []string{store.RunQueued, store.RunRunning}})
	if err != nil {
		s.log().Error("dispatch", "err", err)
		return
	}
	for i := len(queued) - 1; i >= 0; i-- { // oldest first
		r := queued[i]
		if r.Kind == "bisect" {
			// A bisection probe is executed by the run that bisects, inside
			// its own execution (and re-made by it when resumed): executing
			// it here too would run the same probe twice at once.
			continue
		}
		s.mu.Lock()
		if _, busy := s.running[r.ID]; busy || len(s.running) >= workers {
			s.mu.Unlock()
			continue
		}
		runCtx, cancel := context.WithCancel(ctx)
		s.running[r.ID] = cancel
		s.mu.Unlock()
		wg.Add(1)
		go func(id int64) {
			defer wg.Done()
			defer cancel()
			defer func() {
				s.mu.Lock()
				delete(s.running, id)
				s.mu.Unlock()
				s.Wake() // the next continuous round may start now
			}()
			if _, err := s.P.Execute(runCtx, id, pipeline.RunOptions{}); err != nil && runCtx.Err() == nil {
				s.log().Error("run", "run", id, "err", err)
			}
		}(r.ID)
	}
}
