// Package hydraengine runs a stage's jobs on Hydra: it writes the candidate
// into the stage's lock file on a lock branch, triggers the stage's flake
// jobset, waits for the evaluation whose locked revision is that lock commit,
// and reads the gating jobs through the stage's aggregate, never through the
// eval's full build list.
//
// Naming contract with the Nix side (docs/hydra.md): the jobset of stage S
// evaluates hydraJobs.S; job J of component C is the attribute C.J.<system>
// inside it (merkletree.build.x86_64-linux) and the aggregate "gate" has every
// gating job of the stage as constituent.
package hydraengine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync/atomic"
	"time"

	"github.com/charmbracelet/log"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/forge"
	"github.com/ironworks-ci/ironworks/coordinator/hydra"
	"github.com/ironworks-ci/ironworks/coordinator/pipeline"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// GateJob is the aggregate attribute every stage jobset defines.
const GateJob = "gate"

// DefaultSystem is the Nix system of job attributes unless configured.
const DefaultSystem = "x86_64-linux"

// ErrEvalDeadline means Hydra produced no evaluation of the lock commit in time.
var ErrEvalDeadline = errors.New("no Hydra evaluation within the deadline")

// LockWriter writes a file on a branch unless it already holds equivalent
// content; *forge.Client implements it.
type LockWriter interface {
	WriteFile(ctx context.Context, owner, repo, branch, base, path string, content []byte, message string, same func(old []byte) bool) (commit string, changed bool, err error)
}

var _ LockWriter = (*forge.Client)(nil)

// Options configure an Engine.
type Options struct {
	Hydra    *hydra.Client
	Locks    LockWriter
	Store    *store.Store // optional: records lock commits and evals (gates and releases read them)
	Project  string
	LockRepo string // owner/name
	LockBase string
	// LockBranch names a stage's lock branch; "{stage}" is replaced. Default "{stage}-lock".
	LockBranch   string
	Jobsets      map[string]string // stage -> jobset; default: the stage's name
	System       string
	PollInterval time.Duration // default 30s
	EvalDeadline time.Duration // default 30m
	EvalPages    int           // eval list pages searched for a lock commit; default 3
	Features     []string
	Log          *log.Logger
	Now          func() time.Time
}

// Engine is the Hydra engine.
type Engine struct {
	o     Options
	polls atomic.Int64
}

var _ pipeline.Engine = (*Engine)(nil)

// New checks opts and returns an engine.
func New(o Options) (*Engine, error) {
	if o.Hydra == nil || o.Locks == nil {
		return nil, errors.New("hydra engine: needs a Hydra client and a lock writer")
	}
	if o.Project == "" {
		return nil, errors.New("hydra engine: hydra.project is required")
	}
	if _, _, err := forge.SplitRepo(o.LockRepo); err != nil {
		return nil, fmt.Errorf("hydra engine: hydra.lock_repo: %w", err)
	}
	if o.LockBranch == "" {
		o.LockBranch = "{stage}-lock"
	}
	if o.System == "" {
		o.System = DefaultSystem
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 30 * time.Second
	}
	if o.EvalDeadline <= 0 {
		o.EvalDeadline = 30 * time.Minute
	}
	if o.EvalPages <= 0 {
		o.EvalPages = 3
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = log.New(nopWriter{})
	}
	return &Engine{o: o}, nil
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }

// ParseJobsets reads hydra.jobsets entries "stage=jobset".
func ParseJobsets(entries []string) (map[string]string, error) {
	out := map[string]string{}
	for _, e := range entries {
		st, js, ok := strings.Cut(e, "=")
		if !ok || st == "" || js == "" || config.StageIndex(st) < 0 {
			return nil, fmt.Errorf("hydra.jobsets: %q: want stage=jobset with a known stage", e)
		}
		out[st] = js
	}
	return out, nil
}

// FromConfig builds the engine from the [hydra] section.
func FromConfig(cfg *config.Config, h *hydra.Client, locks LockWriter, st *store.Store, logger *log.Logger) (*Engine, error) {
	if cfg.Hydra == nil {
		return nil, errors.New("hydra engine: no [hydra] section")
	}
	js, err := ParseJobsets(cfg.Hydra.Jobsets)
	if err != nil {
		return nil, err
	}
	return New(Options{
		Hydra: h, Locks: locks, Store: st, Project: cfg.Hydra.Project,
		LockRepo: cfg.Hydra.LockRepo, LockBase: cfg.Hydra.LockBase, LockBranch: cfg.Hydra.LockBranch,
		Jobsets: js, System: cfg.Hydra.System, PollInterval: cfg.Hydra.PollInterval.Duration,
		EvalDeadline: cfg.Hydra.EvalDeadline.Duration, Features: cfg.Engine.Features, Log: logger,
	})
}

// Name implements pipeline.Engine.
func (e *Engine) Name() string { return "hydra" }

// Features implements pipeline.Engine.
func (e *Engine) Features() []string { return e.o.Features }

// Polls is how many poll intervals the engine has waited so far.
func (e *Engine) Polls() int64 { return e.polls.Load() }

// Jobset returns the jobset of a stage.
func (e *Engine) Jobset(stage string) string {
	if j := e.o.Jobsets[stage]; j != "" {
		return j
	}
	return stage
}

// LockBranch returns the lock branch of a stage.
func (e *Engine) LockBranch(stage string) string {
	return strings.ReplaceAll(e.o.LockBranch, "{stage}", stage)
}

// Attr is the Hydra job attribute of a job inside its stage's jobset.
func (e *Engine) Attr(j *config.Job) string { return Attr(j.Component, j.Name, e.o.System) }

// Attr is the attribute of job of component for system: component.job.system.
func Attr(component, job, system string) string { return component + "." + job + "." + system }

// LockPath is the lock file of a stage on its lock branch.
func LockPath(stage string) string { return "locks/" + stage + ".json" }

// Lock is the content of locks/<stage>.json, which the stage's flake reads.
type Lock struct {
	Schema    int                     `json:"schema"`
	Stage     string                  `json:"stage"`
	Candidate string                  `json:"candidate"`
	Revisions map[string]LockRevision `json:"revisions"`
	UpdatedAt string                  `json:"updatedAt"`
}

// LockRevision pins one component.
type LockRevision struct {
	Repo     string `json:"repo"`
	Branch   string `json:"branch,omitempty"`
	Revision string `json:"revision"`
}

// NewLock builds the lock of candidate c at stage.
func NewLock(stage string, c *store.Candidate, at time.Time) *Lock {
	l := &Lock{Schema: 1, Stage: stage, Candidate: c.ID, Revisions: map[string]LockRevision{}, UpdatedAt: at.UTC().Format(time.RFC3339)}
	for n, r := range c.Revisions {
		l.Revisions[n] = LockRevision{Repo: r.Repo, Branch: r.Branch, Revision: r.Rev}
	}
	return l
}

// Equivalent reports whether two locks pin the same thing; updatedAt does
// not count, so re-writing an unchanged lock makes no commit and Hydra sees
// unchanged inputs.
func (l *Lock) Equivalent(o *Lock) bool {
	return l.Schema == o.Schema && l.Stage == o.Stage && l.Candidate == o.Candidate && maps.Equal(l.Revisions, o.Revisions)
}

// Marshal renders the lock as committed: indented, with a final newline.
func (l *Lock) Marshal() []byte {
	b, _ := json.MarshalIndent(l, "", "  ")
	return append(b, '\n')
}

// WriteLock writes candidate c into stage's lock and returns the lock
// branch's head commit: the revision Hydra's locked flake URL will carry.
func (e *Engine) WriteLock(ctx context.Context, stage string, c *store.Candidate) (commit string, changed bool, err error) {
	owner, repo, _ := forge.SplitRepo(e.o.LockRepo)
	lock := NewLock(stage, c, e.o.Now())
	same := func(old []byte) bool {
		var prev Lock
		return json.Unmarshal(old, &prev) == nil && prev.Equivalent(lock)
	}
	msg := fmt.Sprintf("%s: lock candidate %s\n\n%s\n", stage, c.ID, c.Short())
	commit, changed, err = e.o.Locks.WriteFile(ctx, owner, repo, e.LockBranch(stage), e.o.LockBase, LockPath(stage), lock.Marshal(), msg, same)
	if err != nil {
		return "", false, fmt.Errorf("hydra engine: writing %s lock: %w", stage, err)
	}
	return commit, changed, nil
}

// FlakeURL is the (unlocked) flake a stage's jobset evaluates.
func (e *Engine) FlakeURL(stage string) string {
	return "github:" + e.o.LockRepo + "?ref=" + e.LockBranch(stage)
}

// EnsureJobset creates or updates the flake jobset of stage: triggers only
// (checkinterval 0), so that every evaluation is one the coordinator asked for.
func (e *Engine) EnsureJobset(ctx context.Context, stage string) error {
	_, err := e.o.Hydra.PutJobset(ctx, e.o.Project, e.Jobset(stage), &hydra.JobsetSpec{
		Description: "Ironworks stage " + stage, Type: 1, Flake: e.FlakeURL(stage),
		Enabled: 1, CheckInterval: 0, SchedulingShares: 100, KeepNr: 10, Visible: true,
	})
	if err != nil {
		return fmt.Errorf("hydra engine: jobset for %s: %w", stage, err)
	}
	return nil
}

func (e *Engine) sleep(ctx context.Context) error {
	e.polls.Add(1)
	t := time.NewTimer(e.o.PollInterval)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
