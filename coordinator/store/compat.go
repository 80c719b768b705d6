package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// CompatRecord is the recorded verdict of one (upstream rev, downstream rev)
// pair and the run that decided it: a head candidate's run, a bisection
// probe or a rebuild.
type CompatRecord struct {
	Upstream      string    `json:"upstream"`
	UpstreamRev   string    `json:"upstream_rev"`
	Downstream    string    `json:"downstream"`
	DownstreamRev string    `json:"downstream_rev"`
	Verdict       string    `json:"verdict"`
	RunID         int64     `json:"run_id"`
	CreatedAt     time.Time `json:"created_at"`
}

// CompatRecords lists every recorded pair of upstream and downstream, newest first.
func (s *Store) CompatRecords(ctx context.Context, up, down string) ([]CompatRecord, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT upstream, upstream_rev, downstream, downstream_rev, verdict, run_id, created_at
		FROM compat WHERE upstream=? AND downstream=? ORDER BY created_at DESC, rowid DESC`, up, down)
	if err != nil {
		return nil, fmt.Errorf("store: compat %s -> %s: %w", up, down, err)
	}
	defer rows.Close()
	var out []CompatRecord
	for rows.Next() {
		var c CompatRecord
		var at int64
		if err := rows.Scan(&c.Upstream, &c.UpstreamRev, &c.Downstream, &c.DownstreamRev, &c.Verdict, &c.RunID, &at); err != nil {
			return nil, err
		}
		c.CreatedAt = ms(at)
		out = append(out, c)
	}
	return out, rows.Err()
}

// PreviousDuration is how long job took in its newest finished, successful
// or failed result before run runID; zero when it never finished before.
func (s *Store) PreviousDuration(ctx context.Context, job string, runID int64) (time.Duration, error) {
	var st, f int64
	err := s.DB.QueryRowContext(ctx, `SELECT started_at, finished_at FROM job_results
		WHERE job=? AND run_id<? AND state IN (?,?) AND started_at>0 AND finished_at>=started_at ORDER BY run_id DESC LIMIT 1`,
		job, runID, JobSuccess, JobFailure).Scan(&st, &f)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: previous duration of %s: %w", job, err)
	}
	return time.Duration(f-st) * time.Millisecond, nil
}

// Fingerprint changes whenever a run is created, starts, finishes or is
// cancelled, a job of an unfinished run changes state, or a candidate is
// promoted: live pages reload when it moves.
func (s *Store) Fingerprint(ctx context.Context) (string, error) {
	var maxID, active, lastEnd, proms, jobsDone, jobsRunning int64
	err := s.DB.QueryRowContext(ctx, `SELECT
		(SELECT ifnull(max(id), 0) FROM runs),
		(SELECT count(*) FROM runs WHERE state IN (?,?)),
		(SELECT ifnull(max(finished_at), 0) FROM runs),
		(SELECT count(*) FROM promotions),
		(SELECT count(*) FROM job_results WHERE state NOT IN (?,?) AND run_id IN (SELECT id FROM runs WHERE state IN (?,?))),
		(SELECT count(*) FROM job_results WHERE state=? AND run_id IN (SELECT id FROM runs WHERE state IN (?,?)))`,
		RunQueued, RunRunning, JobPending, JobRunning, RunQueued, RunRunning, JobRunning, RunQueued, RunRunning).
		Scan(&maxID, &active, &lastEnd, &proms, &jobsDone, &jobsRunning)
	if err != nil {
		return "", fmt.Errorf("store: fingerprint: %w", err)
	}
	return fmt.Sprintf("%d.%d.%d.%d.%d.%d", maxID, active, lastEnd, proms, jobsDone, jobsRunning), nil
}
