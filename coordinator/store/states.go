package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// TargetState is the last known state of a target at a stage.
type TargetState struct {
	Component string    `json:"component"`
	Branch    string    `json:"branch"`
	Stage     string    `json:"stage"`
	State     string    `json:"state"` // green | red
	Verdict   string    `json:"verdict"`
	RunID     int64     `json:"run_id"`
	ChangedAt time.Time `json:"changed_at"`
}

// TargetStateOf returns the recorded state, or "" when none is recorded.
func (s *Store) TargetStateOf(ctx context.Context, component, branch, stage string) (string, error) {
	var st string
	err := s.DB.QueryRowContext(ctx, `SELECT state FROM target_states WHERE component=? AND branch=? AND stage=?`, component, branch, stage).Scan(&st)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return st, err
}

// TargetStates lists every recorded target state.
func (s *Store) TargetStates(ctx context.Context) ([]TargetState, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT component, branch, stage, state, verdict, run_id, changed_at FROM target_states ORDER BY component, branch, stage`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []TargetState
	for rows.Next() {
		var t TargetState
		var at int64
		if err := rows.Scan(&t.Component, &t.Branch, &t.Stage, &t.State, &t.Verdict, &t.RunID, &at); err != nil {
			return nil, err
		}
		t.ChangedAt = ms(at)
		out = append(out, t)
	}
	return out, rows.Err()
}

func (s *Store) setTargetState(ctx context.Context, tx *sql.Tx, t TargetState) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO target_states(component, branch, stage, state, verdict, run_id, changed_at) VALUES (?,?,?,?,?,?,?)
		ON CONFLICT(component, branch, stage) DO UPDATE SET verdict=excluded.verdict, run_id=excluded.run_id,
			changed_at=CASE WHEN state=excluded.state THEN changed_at ELSE excluded.changed_at END, state=excluded.state`,
		t.Component, t.Branch, t.Stage, t.State, t.Verdict, t.RunID, s.now())
	return err
}
