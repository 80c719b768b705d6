package store

import "context"

// Fired returns when each scheduled job last fired, by job and branch
// ("job@branch"), in one query so that a scheduler pass stays cheap.
func (s *Store) Fired(ctx context.Context) (map[string]int64, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT job, branch, last_fired FROM schedules`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var job, branch string
		var at int64
		if err := rows.Scan(&job, &branch, &at); err != nil {
			return nil, err
		}
		out[job+"@"+branch] = at
	}
	return out, rows.Err()
}

// SetFired records that a scheduled job fired for branch at a time (unix ms)
// with the run it started.
func (s *Store) SetFired(ctx context.Context, job, branch string, at, runID int64) error {
	_, err := s.DB.ExecContext(ctx, `INSERT INTO schedules(job, branch, last_fired, run_id) VALUES (?,?,?,?)
		ON CONFLICT(job, branch) DO UPDATE SET last_fired=excluded.last_fired, run_id=excluded.run_id`, job, branch, at, runID)
	return err
}

// ActiveJobs returns the job IDs of queued and running runs, in one query.
func (s *Store) ActiveJobs(ctx context.Context) (map[string]bool, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT DISTINCT j.value FROM runs, json_each(runs.jobs) AS j WHERE runs.state IN (?, ?)`, RunQueued, RunRunning)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = true
	}
	return out, rows.Err()
}
