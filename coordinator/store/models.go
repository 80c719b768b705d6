package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Revision pins one component of a candidate.
type Revision struct {
	Repo   string `json:"repo"`
	Branch string `json:"branch"`
	Rev    string `json:"rev"`
}

// Candidate is an immutable set of pinned revisions.
type Candidate struct {
	ID        string              `json:"id"`
	Revisions map[string]Revision `json:"revisions"`
	Origin    string              `json:"origin"`
	PR        int                 `json:"pr,omitempty"`
	CreatedAt time.Time           `json:"created_at"`
}

// CandidateID is the content hash of the revisions: the same pins always give
// the same candidate, whichever path discovered them.
func CandidateID(revs map[string]Revision) string {
	names := make([]string, 0, len(revs))
	for n := range revs {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s@%s\n", n, revs[n].Rev)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Short describes the candidate as component@rev7 pairs.
func (c *Candidate) Short() string {
	names := make([]string, 0, len(c.Revisions))
	for n := range c.Revisions {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + "@" + ShortRev(c.Revisions[n].Rev)
	}
	return strings.Join(parts, " ")
}

// ShortRev abbreviates a git revision for people.
func ShortRev(rev string) string {
	if len(rev) > 7 {
		return rev[:7]
	}
	return rev
}

// Run states and verdicts.
const (
	RunQueued    = "queued"
	RunRunning   = "running"
	RunDone      = "done"
	RunCancelled = "cancelled"

	VerdictGreen          = "green"
	VerdictUpstreamBroken = "upstream-broken"
	VerdictIncompatible   = "incompatible"
	VerdictNotAccepted    = "upstream-not-accepted"
	VerdictInfraError     = "infra-error"
	VerdictFailed         = "failed" // a single component failed with no upstream involved
	VerdictWaiting        = "waiting-for-worker"
	VerdictCancelled      = "cancelled"
	VerdictTimeout        = "timeout"       // a job of the candidate ran over its timeout: red
	VerdictAdapterError   = "adapter-error" // a job's command is missing or not executable: configuration
	VerdictEvalError      = "eval-error"    // Hydra could not fetch or evaluate the flake: nobody's component is blamed
)

// Job states.
const (
	JobPending    = "pending"
	JobRunning    = "running"
	JobSuccess    = "success"
	JobFailure    = "failure"
	JobSkipped    = "skipped"
	JobWaiting    = "waiting" // no worker offers the features it requires
	JobTimeout    = "timeout"
	JobError      = "error" // infrastructure fault
	JobCancelled  = "cancelled"
	JobNotAccept  = "not-accepted"  // upstream pin ignored by the build tool
	JobAdapterErr = "adapter-error" // exit 126/127: the adapter's command cannot run
	JobEvalErr    = "eval-error"    // Hydra could not fetch or evaluate the flake as a whole
)

// JobFinal reports whether a job state is terminal.
func JobFinal(state string) bool {
	switch state {
	case JobPending, JobRunning:
		return false
	}
	return true
}

// Run is one attempt of a candidate at a stage.
type Run struct {
	ID         int64          `json:"id"`
	Candidate  string         `json:"candidate"`
	Stage      string         `json:"stage"`
	Kind       string         `json:"kind"`
	Jobs       []string       `json:"jobs"`
	State      string         `json:"state"`
	Verdict    string         `json:"verdict"`
	Detail     map[string]any `json:"detail"`
	Engine     string         `json:"engine"`
	CreatedAt  time.Time      `json:"created_at"`
	StartedAt  time.Time      `json:"started_at"`
	FinishedAt time.Time      `json:"finished_at"`
}

// JobResult is the outcome of one job in one run.
type JobResult struct {
	RunID      int64     `json:"run_id"`
	Job        string    `json:"job"`
	State      string    `json:"state"`
	ExitCode   int       `json:"exit_code"`
	Reason     string    `json:"reason,omitempty"`
	Log        string    `json:"log,omitempty"`
	Attempt    int       `json:"attempt"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
}

// Duration is how long the job ran, zero when it has not finished.
func (j *JobResult) Duration() time.Duration {
	if j.StartedAt.IsZero() || j.FinishedAt.IsZero() {
		return 0
	}
	return j.FinishedAt.Sub(j.StartedAt)
}

// Promotion records that a candidate passed a stage's gate.
type Promotion struct {
	Candidate string         `json:"candidate"`
	Stage     string         `json:"stage"`
	RunID     int64          `json:"run_id"`
	Evidence  map[string]any `json:"evidence"`
	CreatedAt time.Time      `json:"created_at"`
}

// Event is one entry of the notification outbox.
type Event struct {
	ID        int64          `json:"id"`
	Key       string         `json:"key"`
	Kind      string         `json:"kind"`
	Component string         `json:"component"`
	Branch    string         `json:"branch"`
	Candidate string         `json:"candidate"`
	RunID     int64          `json:"run_id"`
	Payload   map[string]any `json:"payload"`
	CreatedAt time.Time      `json:"created_at"`
}

// Target is a followed (component, branch) and its last seen head.
type Target struct {
	Component string    `json:"component"`
	Branch    string    `json:"branch"`
	Head      string    `json:"head"`
	UpdatedAt time.Time `json:"updated_at"`
}

func ms(t int64) time.Time {
	if t == 0 {
		return time.Time{}
	}
	return time.UnixMilli(t)
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only plain data is marshalled here
	}
	return string(b)
}

// SetTarget records a target's head; it reports whether the head changed.
func (s *Store) SetTarget(ctx context.Context, component, branch, head string) (changed bool, err error) {
	err = s.Tx(ctx, func(tx *sql.Tx) error {
		var old string
		err := tx.QueryRowContext(ctx, `SELECT head FROM targets WHERE component=? AND branch=?`, component, branch).Scan(&old)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if old == head {
			return nil
		}
		changed = true
		_, err = tx.ExecContext(ctx, `INSERT INTO targets(component, branch, head, updated_at) VALUES (?,?,?,?)
			ON CONFLICT(component, branch) DO UPDATE SET head=excluded.head, updated_at=excluded.updated_at`,
			component, branch, head, s.now())
		return err
	})
	return changed, err
}

// Targets lists every target.
func (s *Store) Targets(ctx context.Context) ([]Target, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT component, branch, head, updated_at FROM targets ORDER BY component, branch`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Target
	for rows.Next() {
		var t Target
		var at int64
		if err := rows.Scan(&t.Component, &t.Branch, &t.Head, &at); err != nil {
			return nil, err
		}
		t.UpdatedAt = ms(at)
		out = append(out, t)
	}
	return out, rows.Err()
}

// PutCandidate stores a candidate unless it exists and returns the stored one.
func (s *Store) PutCandidate(ctx context.Context, revs map[string]Revision, origin string, pr int) (*Candidate, error) {
	id := CandidateID(revs)
	_, err := s.DB.ExecContext(ctx, `INSERT OR IGNORE INTO candidates(id, revisions, origin, pr, created_at) VALUES (?,?,?,?,?)`,
		id, mustJSON(revs), origin, pr, s.now())
	if err != nil {
		return nil, fmt.Errorf("store: put candidate: %w", err)
	}
	return s.Candidate(ctx, id)
}

// ErrAmbiguous is returned for an ID prefix that several candidates share.
var ErrAmbiguous = errors.New("ambiguous: several candidates' IDs start with it")

// Candidate loads one candidate; a unique ID prefix is accepted.
func (s *Store) Candidate(ctx context.Context, id string) (*Candidate, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT id, revisions, origin, pr, created_at FROM candidates WHERE id = ? OR id LIKE ? LIMIT 2`, id, id+"%")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Candidate
	for rows.Next() {
		c, err := scanCandidate(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	switch {
	case len(out) == 0:
		return nil, fmt.Errorf("candidate %q: %w", id, ErrNotFound)
	case len(out) > 1 && out[0].ID != id:
		return nil, fmt.Errorf("candidate %q: %w", id, ErrAmbiguous)
	}
	return out[0], rows.Err()
}

// Candidates lists the newest candidates first.
func (s *Store) Candidates(ctx context.Context, limit int) ([]*Candidate, error) {
	return queryAll(ctx, s.DB, scanCandidate, `SELECT id, revisions, origin, pr, created_at FROM candidates ORDER BY created_at DESC, rowid DESC LIMIT ?`, limit)
}

type scanner interface{ Scan(...any) error }

// queryAll runs a query and scans every row with scan.
func queryAll[T any](ctx context.Context, db *sql.DB, scan func(scanner) (T, error), q string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func scanCandidate(r scanner) (*Candidate, error) {
	var c Candidate
	var revs string
	var at int64
	if err := r.Scan(&c.ID, &revs, &c.Origin, &c.PR, &at); err != nil {
		return nil, err
	}
	c.CreatedAt = ms(at)
	if err := json.Unmarshal([]byte(revs), &c.Revisions); err != nil {
		return nil, fmt.Errorf("candidate %s: revisions: %w", c.ID, err)
	}
	return &c, nil
}

// CreateRun queues a run of candidate at stage covering jobs, with a pending
// result per job, in one transaction.
func (s *Store) CreateRun(ctx context.Context, candidate, stage, kind, engine string, jobs []string, detail map[string]any) (*Run, error) {
	if detail == nil {
		detail = map[string]any{}
	}
	var id int64
	err := s.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO runs(candidate, stage, kind, jobs, state, detail, engine, created_at) VALUES (?,?,?,?,?,?,?,?)`,
			candidate, stage, kind, mustJSON(jobs), RunQueued, mustJSON(detail), engine, s.now())
		if err != nil {
			return err
		}
		id, _ = res.LastInsertId()
		for _, j := range jobs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO job_results(run_id, job, state) VALUES (?,?,?)`, id, j, JobPending); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: create run: %w", err)
	}
	return s.Run(ctx, id)
}

const runCols = `id, candidate, stage, kind, jobs, state, verdict, detail, engine, created_at, started_at, finished_at`

func scanRun(r scanner) (*Run, error) {
	var run Run
	var jobs, detail string
	var c, st, f int64
	if err := r.Scan(&run.ID, &run.Candidate, &run.Stage, &run.Kind, &jobs, &run.State, &run.Verdict, &detail, &run.Engine, &c, &st, &f); err != nil {
		return nil, err
	}
	run.CreatedAt, run.StartedAt, run.FinishedAt = ms(c), ms(st), ms(f)
	if err := json.Unmarshal([]byte(jobs), &run.Jobs); err != nil {
		return nil, fmt.Errorf("run %d: jobs: %w", run.ID, err)
	}
	if err := json.Unmarshal([]byte(detail), &run.Detail); err != nil {
		return nil, fmt.Errorf("run %d: detail: %w", run.ID, err)
	}
	return &run, nil
}

// Run loads one run.
func (s *Store) Run(ctx context.Context, id int64) (*Run, error) {
	r, err := scanRun(s.DB.QueryRowContext(ctx, `SELECT `+runCols+` FROM runs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("run %d: %w", id, ErrNotFound)
	}
	return r, err
}

// RunFilter selects runs; zero fields match everything.
type RunFilter struct {
	Candidate string
	Stage     string
	States    []string
	Kind      string
	Verdict   string
	Limit     int
}

// Runs lists runs matching f, newest first.
func (s *Store) Runs(ctx context.Context, f RunFilter) ([]*Run, error) {
	q := `SELECT ` + runCols + ` FROM runs WHERE 1=1`
	var args []any
	if f.Candidate != "" {
		q += ` AND candidate = ?`
		args = append(args, f.Candidate)
	}
	if f.Stage != "" {
		q += ` AND stage = ?`
		args = append(args, f.Stage)
	}
	if f.Kind != "" {
		q += ` AND kind = ?`
		args = append(args, f.Kind)
	}
	if f.Verdict != "" {
		q += ` AND verdict = ?`
		args = append(args, f.Verdict)
	}
	if len(f.States) > 0 {
		q += ` AND state IN (?` + strings.Repeat(",?", len(f.States)-1) + `)`
		for _, st := range f.States {
			args = append(args, st)
		}
	}
	q += ` ORDER BY id DESC`
	if f.Limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, f.Limit)
	}
	return queryAll(ctx, s.DB, scanRun, q, args...)
}

// StartRun marks a queued run running. Starting a running run again (after a
// restart) is allowed and keeps its original start time.
func (s *Store) StartRun(ctx context.Context, id int64) error {
	_, err := s.DB.ExecContext(ctx, `UPDATE runs SET state=?, started_at=CASE WHEN started_at=0 THEN ? ELSE started_at END WHERE id=? AND state IN (?,?)`,
		RunRunning, s.now(), id, RunQueued, RunRunning)
	return err
}

// JobResults lists the results of a run in job order of the run.
func (s *Store) JobResults(ctx context.Context, runID int64) ([]*JobResult, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT run_id, job, state, exit_code, reason, log, attempt, started_at, finished_at FROM job_results WHERE run_id=? ORDER BY rowid`, runID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*JobResult
	for rows.Next() {
		var j JobResult
		var st, f int64
		if err := rows.Scan(&j.RunID, &j.Job, &j.State, &j.ExitCode, &j.Reason, &j.Log, &j.Attempt, &st, &f); err != nil {
			return nil, err
		}
		j.StartedAt, j.FinishedAt = ms(st), ms(f)
		out = append(out, &j)
	}
	return out, rows.Err()
}

// UpdateJob writes one job's state. A terminal result is never overwritten by a
// late, non-terminal one (a crashed worker's echo), except through ResetJob.
func (s *Store) UpdateJob(ctx context.Context, j *JobResult) error {
	_, err := s.DB.ExecContext(ctx, `UPDATE job_results SET state=?, exit_code=?, reason=?, log=?,
		started_at=CASE WHEN ?=0 THEN started_at ELSE ? END, finished_at=?
		WHERE run_id=? AND job=? AND state NOT IN (?,?,?,?,?,?,?,?,?)`,
		j.State, j.ExitCode, j.Reason, j.Log, unix(j.StartedAt), unix(j.StartedAt), unix(j.FinishedAt), j.RunID, j.Job,
		JobSuccess, JobFailure, JobSkipped, JobTimeout, JobError, JobCancelled, JobNotAccept, JobWaiting, JobAdapterErr)
	if err != nil {
		return fmt.Errorf("store: update job %s of run %d: %w", j.Job, j.RunID, err)
	}
	return nil
}

// ResetJob puts a job back to pending for another attempt (rebuild, or a job
// that was running when the coordinator died).
func (s *Store) ResetJob(ctx context.Context, runID int64, job string) error {
	_, err := s.DB.ExecContext(ctx, `UPDATE job_results SET state=?, exit_code=0, reason='', started_at=0, finished_at=0, attempt=attempt+1 WHERE run_id=? AND job=?`,
		JobPending, runID, job)
	return err
}

func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// Finish closes a run with its verdict. In the same transaction it records the
// promotion (if any; a second promotion of the same candidate and stage is a
// no-op) and appends events. It is idempotent: finishing a finished run does nothing.
func (s *Store) Finish(ctx context.Context, runID int64, verdict string, detail map[string]any, promote *Promotion, events []Event, states ...TargetState) (finished bool, err error) {
	err = s.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE runs SET state=?, verdict=?, detail=?, finished_at=? WHERE id=? AND state IN (?,?)`,
			RunDone, verdict, mustJSON(detail), s.now(), runID, RunQueued, RunRunning)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		finished = true
		if promote != nil {
			res, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO promotions(candidate, stage, run_id, evidence, created_at) VALUES (?,?,?,?,?)`,
				promote.Candidate, promote.Stage, runID, mustJSON(promote.Evidence), s.now())
			if err != nil {
				return err
			}
			// The stage's head moves with the promotion, as Promote does.
			if n, _ := res.RowsAffected(); n > 0 {
				if _, err := tx.ExecContext(ctx, `INSERT INTO stage_heads(stage, candidate, run_id, updated_at) VALUES (?,?,?,?)
					ON CONFLICT(stage) DO UPDATE SET candidate=excluded.candidate, run_id=excluded.run_id, updated_at=excluded.updated_at`,
					promote.Stage, promote.Candidate, runID, s.now()); err != nil {
					return err
				}
			}
		}
		for _, e := range events {
			if err := s.appendEvent(ctx, tx, e); err != nil {
				return err
			}
		}
		for _, t := range states {
			t.RunID = runID
			if err := s.setTargetState(ctx, tx, t); err != nil {
				return err
			}
		}
		return nil
	})
	return finished, err
}

// Cancel cancels a queued or running run, with a reason.
func (s *Store) Cancel(ctx context.Context, runID int64, reason string) error {
	return s.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE runs SET state=?, verdict=?, detail=json_set(detail, '$.reason', ?), finished_at=? WHERE id=? AND state IN (?,?)`,
			RunCancelled, VerdictCancelled, reason, s.now(), runID, RunQueued, RunRunning); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE job_results SET state=?, reason=? WHERE run_id=? AND state IN (?,?)`, JobCancelled, reason, runID, JobPending, JobRunning)
		return err
	})
}

// Promotions lists promotions, newest first; stage "" lists all.
func (s *Store) Promotions(ctx context.Context, stage string) ([]*Promotion, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT candidate, stage, run_id, evidence, created_at FROM promotions WHERE ?='' OR stage=? ORDER BY created_at DESC, rowid DESC`, stage, stage)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Promotion
	for rows.Next() {
		var p Promotion
		var ev string
		var at int64
		if err := rows.Scan(&p.Candidate, &p.Stage, &p.RunID, &ev, &at); err != nil {
			return nil, err
		}
		p.CreatedAt = ms(at)
		if err := json.Unmarshal([]byte(ev), &p.Evidence); err != nil {
			return nil, err
		}
		out = append(out, &p)
	}
	return out, rows.Err()
}

// Promoted reports whether candidate passed stage.
func (s *Store) Promoted(ctx context.Context, candidate, stage string) (bool, error) {
	var n int
	err := s.DB.QueryRowContext(ctx, `SELECT count(*) FROM promotions WHERE candidate=? AND stage=?`, candidate, stage).Scan(&n)
	return n > 0, err
}

// AppendEvent adds an event outside any other transaction; a repeated key is ignored.
func (s *Store) AppendEvent(ctx context.Context, e Event) error {
	return s.Tx(ctx, func(tx *sql.Tx) error { return s.appendEvent(ctx, tx, e) })
}

func (s *Store) appendEvent(ctx context.Context, tx *sql.Tx, e Event) error {
	if e.Payload == nil {
		e.Payload = map[string]any{}
	}
	if e.Key == "" {
		return errors.New("event without idempotency key")
	}
	_, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO events(key, kind, component, branch, candidate, run_id, payload, created_at) VALUES (?,?,?,?,?,?,?,?)`,
		e.Key, e.Kind, e.Component, e.Branch, e.Candidate, e.RunID, mustJSON(e.Payload), s.now())
	return err
}

// EventsAfter lists up to limit events with id > after, oldest first.
func (s *Store) EventsAfter(ctx context.Context, after int64, limit int) ([]*Event, error) {
	return queryAll(ctx, s.DB, scanEvent, `SELECT `+eventCols+` FROM events WHERE id > ? ORDER BY id LIMIT ?`, after, limit)
}

const eventCols = `id, key, kind, component, branch, candidate, run_id, payload, created_at`

func scanEvent(r scanner) (*Event, error) {
	var e Event
	var p string
	var at int64
	if err := r.Scan(&e.ID, &e.Key, &e.Kind, &e.Component, &e.Branch, &e.Candidate, &e.RunID, &p, &at); err != nil {
		return nil, err
	}
	e.CreatedAt = ms(at)
	if err := json.Unmarshal([]byte(p), &e.Payload); err != nil {
		return nil, fmt.Errorf("event %d: payload: %w", e.ID, err)
	}
	return &e, nil
}

// Cursor returns how far consumer has read the event log.
func (s *Store) Cursor(ctx context.Context, consumer string) (int64, error) {
	var id int64
	err := s.DB.QueryRowContext(ctx, `SELECT event_id FROM cursors WHERE consumer=?`, consumer).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return id, err
}

// SetCursor records that consumer has handled every event up to id.
func (s *Store) SetCursor(ctx context.Context, consumer string, id int64) error {
	_, err := s.DB.ExecContext(ctx, `INSERT INTO cursors(consumer, event_id) VALUES (?,?) ON CONFLICT(consumer) DO UPDATE SET event_id=max(event_id, excluded.event_id)`, consumer, id)
	return err
}

// Once runs fn at most once to completion per key: a key already done returns
// its stored result without calling fn. fn must itself be safe to repeat if the
// process dies between its effect and the record (look before you write).
func (s *Store) Once(ctx context.Context, key, kind string, fn func() (string, error)) (string, error) {
	var state, result string
	err := s.DB.QueryRowContext(ctx, `SELECT state, result FROM side_effects WHERE key=?`, key).Scan(&state, &result)
	if err == nil && state == "done" {
		return result, nil
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", err
	}
	if _, err := s.DB.ExecContext(ctx, `INSERT OR IGNORE INTO side_effects(key, kind, state, created_at) VALUES (?,?,?,?)`, key, kind, "started", s.now()); err != nil {
		return "", err
	}
	result, err = fn()
	if err != nil {
		return "", err
	}
	_, err = s.DB.ExecContext(ctx, `UPDATE side_effects SET state='done', result=?, done_at=? WHERE key=?`, result, s.now(), key)
	return result, err
}

// RecordCompat remembers the verdict of an (upstream, downstream) revision pair.
func (s *Store) RecordCompat(ctx context.Context, up, upRev, down, downRev, verdict string, runID int64) error {
	_, err := s.DB.ExecContext(ctx, `INSERT INTO compat(upstream, upstream_rev, downstream, downstream_rev, verdict, run_id, created_at) VALUES (?,?,?,?,?,?,?)
		ON CONFLICT DO UPDATE SET verdict=excluded.verdict, run_id=excluded.run_id, created_at=excluded.created_at`,
		up, upRev, down, downRev, verdict, runID, s.now())
	return err
}

// LastCompatible returns the revisions of the newest (upstream, downstream)
// pair recorded green, or "" and "" if there is none.
func (s *Store) LastCompatible(ctx context.Context, up, down string) (upRev, downRev string, err error) {
	err = s.DB.QueryRowContext(ctx, `SELECT upstream_rev, downstream_rev FROM compat WHERE upstream=? AND downstream=? AND verdict=? ORDER BY created_at DESC, rowid DESC LIMIT 1`,
		up, down, VerdictGreen).Scan(&upRev, &downRev)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", nil
	}
	return upRev, downRev, err
}

// CompatVerdict returns the recorded verdict of a pair, or "".
func (s *Store) CompatVerdict(ctx context.Context, up, upRev, down, downRev string) (string, error) {
	var v string
	err := s.DB.QueryRowContext(ctx, `SELECT verdict FROM compat WHERE upstream=? AND upstream_rev=? AND downstream=? AND downstream_rev=?`, up, upRev, down, downRev).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, err
}
