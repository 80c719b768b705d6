// Package hydraengine runs a stage's jobs on Hydra: it writes the candidate
// into the stage's lock file on a lock branch, triggers the stage's flake
// jobset, waits for the evaluation whose locked revision is that lock commit,
// and reads the gating jobs through the stage's aggregate, never through the
// eval's full build list.
//
// The contract with the Nix side (nix/lib/locks.nix, nix/lib/project.nix,
// docs/hydra.md) is in contract.go: the lock files a lock branch carries and
// the job names Hydra's evaluation of the flake produces.
package hydraengine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/charmbracelet/log"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/forge"
	"github.com/ironworks-ci/ironworks/coordinator/hydra"
	"github.com/ironworks-ci/ironworks/coordinator/pipeline"
	"github.com/ironworks-ci/ironworks/coordinator/source"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// DefaultSystem is the Nix system of job attributes unless configured.
const DefaultSystem = "x86_64-linux"

// ErrEvalDeadline means Hydra produced no evaluation of the lock commit in time.
var ErrEvalDeadline = errors.New("no Hydra evaluation within the deadline")

// LockWriter reads files and commits a set of files onto a base branch's
// tree; *forge.Client implements it.
type LockWriter interface {
	File(ctx context.Context, owner, repo, ref, path string) (content []byte, blobSHA string, err error)
	CommitFiles(ctx context.Context, owner, repo, branch, base string, files map[string][]byte, message string) (commit string, changed bool, err error)
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
	// Mirrors fetches components for generating Cargo.lock files (cargolock.go);
	// nil: no lock is generated and every component builds with its own.
	Mirrors *source.Mirrors
	Log     *log.Logger
	Now     func() time.Time
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
	if err := checkNames(o.Project, o.Jobsets); err != nil {
		return nil, err
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
func FromConfig(cfg *config.Config, h *hydra.Client, locks LockWriter, st *store.Store, mirrors *source.Mirrors, logger *log.Logger) (*Engine, error) {
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
		EvalDeadline: cfg.Hydra.EvalDeadline.Duration, Features: cfg.Engine.Features, Mirrors: mirrors, Log: logger,
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

// WriteLock makes stage's lock branch carry main's current tree plus the
// lock files of candidate c (LockFiles) and returns its head commit: the
// revision Hydra's locked flake URL will carry. The same candidate on the
// same main makes no new commit (the previous lock's updatedAt is kept, so
// the tree is the same); a retry after a lost answer finds its commit there.
func (e *Engine) WriteLock(ctx context.Context, stage string, c *store.Candidate, cargo map[string][]byte) (commit string, changed bool, err error) {
	owner, repo, _ := forge.SplitRepo(e.o.LockRepo)
	branch := e.LockBranch(stage)
	lock := NewLock(stage, c, cargo, e.o.Now())
	if old, _, err := e.o.Locks.File(ctx, owner, repo, branch, LockPath(stage)); err == nil {
		if prev, err := ParseLock(old); err == nil && prev.Equivalent(lock) {
			lock.UpdatedAt = prev.UpdatedAt
		}
	} else if !errors.Is(err, forge.ErrNotFound) {
		return "", false, fmt.Errorf("hydra engine: reading %s lock: %w", stage, err)
	}
	msg := fmt.Sprintf("%s: lock candidate %s\n\n%s\n", stage, c.ID, c.Short())
	commit, changed, err = e.o.Locks.CommitFiles(ctx, owner, repo, branch, e.o.LockBase, LockFiles(lock, cargo), msg)
	if err != nil {
		return "", false, fmt.Errorf("hydra engine: writing %s lock: %w", stage, err)
	}
	return commit, changed, nil
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

// Client is the engine's Hydra client.
func (e *Engine) Client() *hydra.Client { return e.o.Hydra }

// System is the Nix system of the engine's job names.
func (e *Engine) System() string { return e.o.System }
