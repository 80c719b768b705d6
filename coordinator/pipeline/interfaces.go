// Package pipeline moves candidates through stages: it plans runs, hands them to
// an engine, judges the results at each stage's gate and records promotions and
// the events notifiers consume. It knows engines and artifact stores only
// through the interfaces below, never HTTP details.
package pipeline

import (
	"context"
	"io"
	"time"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// Engine executes the jobs of a plan and reports every job state change.
type Engine interface {
	// Name identifies the engine in runs and logs ("local", "hydra", "bench").
	Name() string
	// Features lists the worker features the engine can offer (gpu, big-memory).
	Features() []string
	// Execute runs p.Jobs respecting their needs. It returns when every job has
	// reached a final state or ctx is cancelled; an error means the engine itself
	// failed (the run's verdict becomes infra-error).
	Execute(ctx context.Context, p *Plan, report func(store.JobResult)) error
}

// Plan is what an engine is asked to execute.
type Plan struct {
	RunID     int64
	Stage     string
	Candidate *store.Candidate
	// Jobs to execute, upstream jobs first. Needs outside Jobs are already
	// satisfied (their states are in Done).
	Jobs     []*config.Job
	Adapters map[string]*config.Adapter
	// Done holds the final states of jobs of this run finished before (a
	// resumed run), by job ID.
	Done map[string]string
}

// ArtifactStore keeps logs and other artifacts.
type ArtifactStore interface {
	Put(ctx context.Context, key string, r io.Reader) error
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	URL(ctx context.Context, key string, ttl time.Duration) (string, error)
}
