package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
)

// Reasons a green run's promotion is held, in its detail's not_promoted,
// that a later re-check of the stage's gates (Pipeline.Recheck) may change.
const (
	GatePending = "gate pending" // an extra gate (benchmarks) waits for results
	GateFailed  = "gate failed"  // an extra gate said no
)

// ReopenGatesTx marks the candidate's done, green runs whose extra gate
// failed as waiting again (GatePending), inside the caller's transaction:
// something the gate reads changed (a benchmark regression was
// acknowledged), so the next re-check of waiting gates decides them anew. It
// returns how many runs it reopened.
func (s *Store) ReopenGatesTx(ctx context.Context, tx *sql.Tx, candidate string) (int64, error) {
	res, err := tx.ExecContext(ctx, `UPDATE runs SET detail=json_set(detail, '$.not_promoted', ?)
		WHERE candidate=? AND state=? AND verdict=? AND kind != 'bisect' AND json_extract(detail, '$.not_promoted')=?`,
		GatePending, candidate, RunDone, VerdictGreen, GateFailed)
	if err != nil {
		return 0, fmt.Errorf("store: reopen the gates of %s: %w", candidate, err)
	}
	return res.RowsAffected()
}

// SetNotPromoted records why a done run is (still) not promoted, as a
// re-check of its gate found: reason in not_promoted, and the keys of why
// (what the gate that refused said) merged into the run's detail.
func (s *Store) SetNotPromoted(ctx context.Context, runID int64, reason string, why map[string]any) error {
	patch := map[string]any{}
	maps.Copy(patch, why)
	patch["not_promoted"] = reason
	b, err := json.Marshal(patch)
	if err != nil {
		return fmt.Errorf("store: run %d: %w", runID, err)
	}
	if _, err := s.DB.ExecContext(ctx, `UPDATE runs SET detail=json_patch(detail, ?) WHERE id=? AND state=?`, string(b), runID, RunDone); err != nil {
		return fmt.Errorf("store: run %d: %w", runID, err)
	}
	return nil
}
