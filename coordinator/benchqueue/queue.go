// Package benchqueue is the coordinator's side of off-Hydra benchmarks: a
// queue of bench jobs that benchkit agents lease over HTTP (they dial out; no
// agent has an inbound port), the samples they post, and the harden gate's
// bench verdict of a candidate.
//
// Leases expire unless renewed by heartbeats; an expired lease puts the job
// back in the queue for another agent. A result is recorded under its lease ID,
// so a result posted twice counts once, and a result from a lease that expired
// and was re-leased is refused.
package benchqueue

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ironworks-ci/ironworks/benchkit/parse"
	"github.com/ironworks-ci/ironworks/benchkit/protocol"
	"github.com/ironworks-ci/ironworks/benchkit/results"
	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// Job states.
const (
	Queued = "queued"
	Leased = "leased"
	Done   = "done"
	Failed = "failed"
)

// Queue is the bench job queue over the coordinator's store.
type Queue struct {
	st      *store.Store
	results *results.DB
	// LeaseTTL is how long a lease lives without a heartbeat (default 2 minutes).
	LeaseTTL time.Duration
	// MaxAttempts bounds how often a job is leased before it fails as an
	// infrastructure error (default 3).
	MaxAttempts int
	// ConfirmRounds bounds the confirmation runs of a candidate's bench entry
	// (default 3: up to four times the entry's repeat samples).
	ConfirmRounds int
}

// New returns the queue over st, whose migrations created its tables.
func New(st *store.Store) *Queue {
	r := results.New(st.DB)
	r.Now = st.Now
	return &Queue{st: st, results: r, LeaseTTL: 2 * time.Minute, MaxAttempts: 3, ConfirmRounds: 3}
}

// Results is the samples store inside the coordinator's database.
func (q *Queue) Results() *results.DB { return q.results }

func (q *Queue) now() time.Time { return q.st.Now() }

// Revision pins one component for a bench job.
type Revision = protocol.Source

// Enqueue adds the first run of a bench entry for a candidate; enqueueing the
// same (candidate, component, bench) again does nothing. revisions holds the
// repository and revision of every component of the candidate; component
// names the one whose checkout the command runs in.
func (q *Queue) Enqueue(ctx context.Context, candidateID, component string, revisions map[string]Revision, bench *config.Bench) error {
	return q.enqueue(ctx, candidateID, component, revisions, bench, 0, nil, nil)
}

func (q *Queue) enqueue(ctx context.Context, candidateID, component string, revisions map[string]Revision, bench *config.Bench, round int, baseline *protocol.Baseline, bisect *protocol.BisectSpec) error {
	if candidateID == "" || component == "" || bench == nil || bench.Name == "" {
		return errors.New("benchqueue: enqueue needs a candidate, a component and a named bench entry")
	}
	if _, ok := revisions[component]; !ok {
		return fmt.Errorf("benchqueue: enqueue %s/%s: no revision for component %s", component, bench.Name, component)
	}
	spec, err := json.Marshal(bench)
	if err != nil {
		return fmt.Errorf("benchqueue: %w", err)
	}
	srcs, _ := json.Marshal(revisions)
	req := bench.Requires
	if req == nil {
		req = []string{}
	}
	reqs, _ := json.Marshal(req)
	base, bis := "", ""
	if baseline != nil {
		b, _ := json.Marshal(baseline)
		base = string(b)
	}
	if bisect != nil {
		b, _ := json.Marshal(bisect)
		bis = string(b)
	}
	_, err = q.st.DB.ExecContext(ctx, `INSERT OR IGNORE INTO bench_jobs(candidate, component, bench, round, spec, sources, requires, state, created_at, baseline, bisect) VALUES (?,?,?,?,?,?,?,?,?,?,?)`,
		candidateID, component, bench.Name, round, string(spec), string(srcs), string(reqs), Queued, q.now().UnixMilli(), base, bis)
	if err != nil {
		return fmt.Errorf("benchqueue: enqueue %s/%s for %s: %w", component, bench.Name, candidateID, err)
	}
	return nil
}

// expire puts jobs whose lease ran out back in the queue, or fails them once
// they have used every attempt.
func (q *Queue) expire(ctx context.Context, tx *sql.Tx) error {
	now := q.now().UnixMilli()
	if _, err := tx.ExecContext(ctx, `UPDATE bench_jobs SET state=?, error='lease expired after every attempt', finished_at=? WHERE state=? AND lease_expires < ? AND attempt >= ?`,
		Failed, now, Leased, now, q.MaxAttempts); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `UPDATE bench_jobs SET state=?, lease_id='', agent='' WHERE state=? AND lease_expires < ?`, Queued, Leased, now)
	return err
}

// Lease gives the oldest queued job whose requirements the agent's features
// cover, or nil.
func (q *Queue) Lease(ctx context.Context, agent string, features []string) (*protocol.Job, error) {
	var job *protocol.Job
	err := q.st.Tx(ctx, func(tx *sql.Tx) error {
		if err := q.expire(ctx, tx); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT id, candidate, component, round, spec, sources, requires, attempt, baseline, bisect FROM bench_jobs WHERE state=? ORDER BY id`, Queued)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var j protocol.Job
			var spec, srcs, reqs, base, bis string
			if err := rows.Scan(&j.ID, &j.Candidate, &j.Component, &j.Round, &spec, &srcs, &reqs, &j.Attempt, &base, &bis); err != nil {
				return err
			}
			if bis != "" {
				j.Bisect = &protocol.BisectSpec{}
				if err := json.Unmarshal([]byte(bis), j.Bisect); err != nil {
					return fmt.Errorf("job %d bisect: %w", j.ID, err)
				}
			}
			if base != "" {
				j.Baseline = &protocol.Baseline{}
				if err := json.Unmarshal([]byte(base), j.Baseline); err != nil {
					return fmt.Errorf("job %d baseline: %w", j.ID, err)
				}
			}
			var need []string
			if err := json.Unmarshal([]byte(reqs), &need); err != nil {
				return fmt.Errorf("job %d requires: %w", j.ID, err)
			}
			if !covers(features, need) {
				continue
			}
			if err := json.Unmarshal([]byte(spec), &j.Bench); err != nil {
				return fmt.Errorf("job %d spec: %w", j.ID, err)
			}
			if err := json.Unmarshal([]byte(srcs), &j.Sources); err != nil {
				return fmt.Errorf("job %d sources: %w", j.ID, err)
			}
			job = &j
			break
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		if job == nil {
			return nil
		}
		job.Attempt++
		job.LeaseID = randomID()
		job.LeaseExpires = q.now().Add(q.LeaseTTL)
		job.HeartbeatEvery = q.LeaseTTL / 3
		_, err = tx.ExecContext(ctx, `UPDATE bench_jobs SET state=?, attempt=?, lease_id=?, agent=?, lease_expires=? WHERE id=? AND state=?`,
			Leased, job.Attempt, job.LeaseID, agent, job.LeaseExpires.UnixMilli(), job.ID, Queued)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("benchqueue: lease: %w", err)
	}
	return job, nil
}

func covers(have, need []string) bool {
	for _, n := range need {
		if !slices.Contains(have, n) {
			return false
		}
	}
	return true
}

// ErrLeaseGone means the lease expired (and the job went back to the queue or
// to another agent) or never existed: the agent must drop the job.
var ErrLeaseGone = errors.New("lease expired or unknown")

// Heartbeat renews a lease.
func (q *Queue) Heartbeat(ctx context.Context, jobID int64, leaseID string) (time.Time, error) {
	exp := q.now().Add(q.LeaseTTL)
	res, err := q.st.DB.ExecContext(ctx, `UPDATE bench_jobs SET lease_expires=? WHERE id=? AND lease_id=? AND state=? AND lease_expires >= ?`,
		exp.UnixMilli(), jobID, leaseID, Leased, q.now().UnixMilli())
	if err != nil {
		return time.Time{}, fmt.Errorf("benchqueue: heartbeat: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return time.Time{}, ErrLeaseGone
	}
	return exp, nil
}

// Complete records an attempt's result. A repeat of a recorded lease's result
// returns dup true and changes nothing; a result of a lease that is gone
// returns ErrLeaseGone.
func (q *Queue) Complete(ctx context.Context, r *protocol.Result) (dup bool, err error) {
	if err := validate(r); err != nil {
		return false, err
	}
	key := "lease:" + r.LeaseID
	err = q.st.Tx(ctx, func(tx *sql.Tx) error {
		var state, leaseID, cand, comp, bench string
		var round int
		var srcs, base, bis string
		err := tx.QueryRowContext(ctx, `SELECT state, lease_id, candidate, component, bench, round, sources, baseline, bisect FROM bench_jobs WHERE id=?`, r.JobID).
			Scan(&state, &leaseID, &cand, &comp, &bench, &round, &srcs, &base, &bis)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: no job %d", ErrLeaseGone, r.JobID)
		}
		if err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM bench_runs WHERE key=?`, key).Scan(&n); err != nil {
			return err
		}
		if n > 0 || (leaseID == r.LeaseID && state != Leased) {
			dup = true
			return nil
		}
		if leaseID != r.LeaseID || state != Leased {
			return ErrLeaseGone
		}
		now := q.now().UnixMilli()
		if r.Error != "" {
			_, err := tx.ExecContext(ctx, `UPDATE bench_jobs SET state=?, error=?, finished_at=? WHERE id=?`, Failed, r.Error, now, r.JobID)
			return err
		}
		if bis != "" {
			return q.finishBisection(ctx, tx, r, cand, comp, bench, bis)
		}
		var sources map[string]protocol.Source
		_ = json.Unmarshal([]byte(srcs), &sources)
		revs := map[string]string{}
		for c, s := range sources {
			revs[c] = s.Rev
		}
		kind := "run"
		if round > 0 {
			kind = "confirm"
		}
		if base != "" {
			if err := q.storeBaseline(ctx, tx, key, comp, bench, base, r); err != nil {
				return err
			}
		}
		if _, _, err := q.results.AddRunTx(ctx, tx, results.Run{
			Key: key, Candidate: cand, Component: comp, Bench: bench, Host: r.Host, HostClass: r.Host.Class(), Revisions: revs, Kind: kind,
		}, r.Samples); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE bench_jobs SET state=?, finished_at=? WHERE id=?`, Done, now, r.JobID)
		return err
	})
	return dup, err
}

// BadResult is a result that cannot be recorded; it names the field.
type BadResult struct{ Field, Msg string }

func (e *BadResult) Error() string { return fmt.Sprintf("result: field %q: %s", e.Field, e.Msg) }

func validate(r *protocol.Result) error {
	switch {
	case r.JobID <= 0:
		return &BadResult{"job_id", "required"}
	case r.LeaseID == "":
		return &BadResult{"lease_id", "required"}
	case r.Error != "":
		return nil
	case len(r.Samples) == 0 && r.Bisect == nil:
		return &BadResult{"samples", "no metrics (send error instead)"}
	case r.Host.Cores <= 0:
		return &BadResult{"host.cores", "must be positive"}
	}
	for m, vs := range r.Samples {
		if m == "" {
			return &BadResult{"samples", "empty metric name"}
		}
		if len(vs) == 0 {
			return &BadResult{"samples." + m, "no values"}
		}
	}
	if err := parse.CheckRange(r.Samples); err != nil {
		return &BadResult{"samples", err.Error()}
	}
	if err := parse.CheckRange(r.BaselineSamples); err != nil {
		return &BadResult{"baseline_samples", err.Error()}
	}
	return nil
}

// JobInfo describes a job for status pages and tests.
type JobInfo struct {
	ID        int64  `json:"id"`
	Candidate string `json:"candidate"`
	Component string `json:"component"`
	Bench     string `json:"bench"`
	Round     int    `json:"round"`
	State     string `json:"state"`
	Attempt   int    `json:"attempt"`
	Agent     string `json:"agent"`
	Error     string `json:"error,omitempty"`
	// CreatedAt is when the job was queued, FinishedAt when its samples (or
	// its failure) arrived; zero while it is open.
	CreatedAt  time.Time `json:"created_at"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
}

// Jobs lists the jobs of a candidate in creation order.
func (q *Queue) Jobs(ctx context.Context, candidate string) ([]JobInfo, error) {
	rows, err := q.st.DB.QueryContext(ctx, `SELECT id, candidate, component, bench, round, state, attempt, agent, error, created_at, finished_at FROM bench_jobs WHERE candidate=? ORDER BY id`, candidate)
	if err != nil {
		return nil, fmt.Errorf("benchqueue: jobs: %w", err)
	}
	defer rows.Close()
	var out []JobInfo
	for rows.Next() {
		var j JobInfo
		var created, finished int64
		if err := rows.Scan(&j.ID, &j.Candidate, &j.Component, &j.Bench, &j.Round, &j.State, &j.Attempt, &j.Agent, &j.Error, &created, &finished); err != nil {
			return nil, err
		}
		j.CreatedAt = time.UnixMilli(created)
		if finished > 0 {
			j.FinishedAt = time.UnixMilli(finished)
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

// MarkReleased records a released candidate: the baseline of later ones. The
// pipeline calls it when it stamps a release.
func (q *Queue) MarkReleased(ctx context.Context, candidate string) error {
	return q.results.MarkReleased(ctx, candidate)
}

// Acks lists a candidate's acknowledged regressions, for the release manifest.
func (q *Queue) Acks(ctx context.Context, candidate string) ([]results.Ack, error) {
	return q.results.Acks(ctx, candidate)
}

func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
