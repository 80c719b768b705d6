package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// ClaimDelivery records a webhook delivery id; it reports false when the id was
// seen before, so the caller must not act on it again.
func (s *Store) ClaimDelivery(ctx context.Context, id, event string) (fresh bool, err error) {
	res, err := s.DB.ExecContext(ctx, `INSERT OR IGNORE INTO webhook_deliveries(id, event, received_at) VALUES (?,?,?)`, id, event, s.now())
	if err != nil {
		return false, fmt.Errorf("store: claim delivery %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ReleaseDelivery forgets a claimed delivery whose handling failed, so that
// GitHub's redelivery of it is acted on.
func (s *Store) ReleaseDelivery(ctx context.Context, id string) error {
	_, err := s.DB.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE id=?`, id)
	return err
}

// PruneDeliveries drops delivery records older than before; GitHub does not
// redeliver after a few days, so they need not be kept for ever.
func (s *Store) PruneDeliveries(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.DB.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE received_at < ?`, before.UnixMilli())
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	return s.DB.QueryRowContext(ctx, `SELECT 1`).Scan(&one)
}

// CountRuns counts runs in any of states.
func (s *Store) CountRuns(ctx context.Context, states ...string) (int, error) {
	q := `SELECT count(*) FROM runs`
	args := make([]any, len(states))
	for i, st := range states {
		if i == 0 {
			q += ` WHERE state IN (?`
		} else {
			q += `,?`
		}
		args[i] = st
	}
	if len(states) > 0 {
		q += `)`
	}
	var n int
	err := s.DB.QueryRowContext(ctx, q, args...).Scan(&n)
	return n, err
}

// TargetRun is the newest run at a stage of a candidate that pins component
// at branch and covers at least one of the component's jobs.
type TargetRun struct {
	Component string
	Branch    string
	Run       *Run
}

// LatestTargetRuns returns, for every (component, branch, stage), the newest
// run whose candidate pins component at branch and whose jobs include one of
// component's (or that lists no jobs yet). Only runs of head candidates count:
// a bisection probe pins an older upstream and says nothing of the branch's
// state, a pull request's run is not the branch's, and a cancelled run
// proved nothing. The newest candidate with such a run wins, then its
// newest run: a rebuild of an older candidate's job does not speak for the
// branch's head.
func (s *Store) LatestTargetRuns(ctx context.Context) ([]TargetRun, error) {
	rows, err := s.DB.QueryContext(ctx, `WITH x AS (
		SELECT r.id AS id, je.key AS component, json_extract(je.value, '$.branch') AS branch,
			row_number() OVER (PARTITION BY je.key, json_extract(je.value, '$.branch'), r.stage ORDER BY c.created_at DESC, c.rowid DESC, r.id DESC) AS n
		FROM runs r JOIN candidates c ON c.id = r.candidate, json_each(c.revisions) je
		WHERE c.origin = 'head' AND r.kind != 'bisect' AND r.state != 'cancelled' AND (json_array_length(r.jobs) = 0 OR EXISTS (
			SELECT 1 FROM json_each(r.jobs) j WHERE substr(j.value, 1, length(je.key) + 1) = je.key || ':')))
		SELECT x.component, ifnull(x.branch, ''), `+prefixed("runs.", runCols)+`
		FROM x JOIN runs ON runs.id = x.id WHERE x.n = 1 ORDER BY x.component, x.branch, runs.stage`)
	if err != nil {
		return nil, fmt.Errorf("store: latest target runs: %w", err)
	}
	defer rows.Close()
	var out []TargetRun
	for rows.Next() {
		var tr TargetRun
		run, err := scanRun(prefixScanner{rows, []any{&tr.Component, &tr.Branch}})
		if err != nil {
			return nil, err
		}
		tr.Run = run
		out = append(out, tr)
	}
	return out, rows.Err()
}

// HistoryFilter selects finished and unfinished runs for the history view;
// zero fields match everything.
type HistoryFilter struct {
	Stage     string `json:"stage"`
	Verdict   string `json:"verdict"`
	State     string `json:"state"`
	Component string `json:"component"` // the candidate pins this component...
	Branch    string `json:"branch"`    // ...at this branch (with or without Component)
	Limit     int    `json:"limit"`
	Offset    int    `json:"offset"`
}

// History lists runs matching f, newest first, and how many match in all.
func (s *Store) History(ctx context.Context, f HistoryFilter) ([]*Run, int, error) {
	where := ` FROM runs r JOIN candidates c ON c.id = r.candidate WHERE 1=1`
	var args []any
	add := func(cond string, v ...any) {
		where += ` AND ` + cond
		args = append(args, v...)
	}
	if f.Stage != "" {
		add(`r.stage = ?`, f.Stage)
	}
	if f.Verdict != "" {
		add(`r.verdict = ?`, f.Verdict)
	}
	if f.State != "" {
		add(`r.state = ?`, f.State)
	}
	if f.Component != "" || f.Branch != "" {
		add(`EXISTS (SELECT 1 FROM json_each(c.revisions) je WHERE (? = '' OR je.key = ?) AND (? = '' OR json_extract(je.value, '$.branch') = ?))`,
			f.Component, f.Component, f.Branch, f.Branch)
	}
	var total int
	if err := s.DB.QueryRowContext(ctx, `SELECT count(*)`+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store: history: %w", err)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	q := `SELECT ` + prefixed("r.", runCols) + where + ` ORDER BY r.id DESC LIMIT ? OFFSET ?`
	rows, err := s.DB.QueryContext(ctx, q, append(args, limit, max(f.Offset, 0))...)
	if err != nil {
		return nil, 0, fmt.Errorf("store: history: %w", err)
	}
	defer rows.Close()
	var out []*Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, r)
	}
	return out, total, rows.Err()
}

// JobResult loads one job's result.
func (s *Store) JobResult(ctx context.Context, runID int64, job string) (*JobResult, error) {
	var j JobResult
	var st, f int64
	err := s.DB.QueryRowContext(ctx, `SELECT run_id, job, state, exit_code, reason, log, attempt, started_at, finished_at FROM job_results WHERE run_id=? AND job=?`, runID, job).
		Scan(&j.RunID, &j.Job, &j.State, &j.ExitCode, &j.Reason, &j.Log, &j.Attempt, &st, &f)
	if err == sql.ErrNoRows {
		return nil, fmt.Errorf("job %s of run %d: %w", job, runID, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	j.StartedAt, j.FinishedAt = ms(st), ms(f)
	return &j, nil
}

func prefixed(p, cols string) string {
	names := strings.Split(cols, ",")
	for i, n := range names {
		names[i] = p + strings.TrimSpace(n)
	}
	return strings.Join(names, ", ")
}

// prefixScanner scans leading columns into pre before handing the rest on.
type prefixScanner struct {
	r   scanner
	pre []any
}

func (p prefixScanner) Scan(dest ...any) error { return p.r.Scan(append(p.pre, dest...)...) }
