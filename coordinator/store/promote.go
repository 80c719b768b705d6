package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// HydraEval links a candidate at a stage to its lock commit and Hydra eval.
type HydraEval struct {
	Stage      string           `json:"stage"`
	Candidate  string           `json:"candidate"`
	Jobset     string           `json:"jobset"`
	LockCommit string           `json:"lock_commit"`
	EvalID     int64            `json:"eval_id"`
	GateBuild  int64            `json:"gate_build"`
	Builds     map[string]int64 `json:"builds"`
	// Jobs is what Hydra says of each job's build once it finished.
	Jobs      map[string]HydraBuild `json:"jobs"`
	State     string                `json:"state"`
	Message   string                `json:"message"`
	UpdatedAt time.Time             `json:"updated_at"`
}

// HydraBuild is Hydra's record of one finished build.
type HydraBuild struct {
	Build      int64          `json:"build"`
	Status     string         `json:"status"` // Hydra's words: succeeded, failed, dependency failed, ...
	StorePaths []string       `json:"store_paths"`
	Products   []BuildProduct `json:"products"`
}

// BuildProduct is one build product (nix-support/hydra-build-products).
type BuildProduct struct {
	Name   string `json:"name"`
	Type   string `json:"type"`
	Path   string `json:"path"`
	SHA256 string `json:"sha256,omitempty"` // Hydra hashes file products only
}

// PutHydraEval records (or replaces) what the Hydra engine knows about a
// candidate at a stage.
func (s *Store) PutHydraEval(ctx context.Context, h *HydraEval) error {
	if h.Builds == nil {
		h.Builds = map[string]int64{}
	}
	if h.Jobs == nil {
		h.Jobs = map[string]HydraBuild{}
	}
	_, err := s.DB.ExecContext(ctx, `INSERT INTO hydra_evals(stage, candidate, jobset, lock_commit, eval_id, gate_build, builds, jobs, state, message, updated_at)
		VALUES (?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT(stage, candidate) DO UPDATE SET jobset=excluded.jobset, lock_commit=excluded.lock_commit, eval_id=excluded.eval_id,
		gate_build=excluded.gate_build, builds=excluded.builds, jobs=excluded.jobs, state=excluded.state, message=excluded.message, updated_at=excluded.updated_at`,
		h.Stage, h.Candidate, h.Jobset, h.LockCommit, h.EvalID, h.GateBuild, mustJSON(h.Builds), mustJSON(h.Jobs), h.State, h.Message, s.now())
	if err != nil {
		return fmt.Errorf("store: hydra eval %s@%s: %w", h.Candidate, h.Stage, err)
	}
	return nil
}

// HydraEvalOf returns the record of candidate at stage (ErrNotFound if none).
func (s *Store) HydraEvalOf(ctx context.Context, stage, candidate string) (*HydraEval, error) {
	var h HydraEval
	var builds, jobs string
	var at int64
	err := s.DB.QueryRowContext(ctx, `SELECT stage, candidate, jobset, lock_commit, eval_id, gate_build, builds, jobs, state, message, updated_at
		FROM hydra_evals WHERE stage=? AND candidate=?`, stage, candidate).
		Scan(&h.Stage, &h.Candidate, &h.Jobset, &h.LockCommit, &h.EvalID, &h.GateBuild, &builds, &jobs, &h.State, &h.Message, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("hydra eval of %s at %s: %w", candidate, stage, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	h.UpdatedAt = ms(at)
	if err := json.Unmarshal([]byte(builds), &h.Builds); err != nil {
		return nil, fmt.Errorf("hydra eval of %s at %s: builds: %w", candidate, stage, err)
	}
	if err := json.Unmarshal([]byte(jobs), &h.Jobs); err != nil {
		return nil, fmt.Errorf("hydra eval of %s at %s: jobs: %w", candidate, stage, err)
	}
	return &h, nil
}

// ErrBackwards refuses a promotion to a candidate older than the stage's current one.
var ErrBackwards = errors.New("promotion would move backwards")

// candidateOrder is the creation order of a candidate: (created_at, rowid).
func candidateOrder(ctx context.Context, tx *sql.Tx, id string) (int64, int64, error) {
	var at, row int64
	err := tx.QueryRowContext(ctx, `SELECT created_at, rowid FROM candidates WHERE id=?`, id).Scan(&at, &row)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, fmt.Errorf("candidate %s: %w", id, ErrNotFound)
	}
	return at, row, err
}

// StageHead returns the candidate a stage currently holds, "" if none.
func (s *Store) StageHead(ctx context.Context, stage string) (string, error) {
	var c string
	err := s.DB.QueryRowContext(ctx, `SELECT candidate FROM stage_heads WHERE stage=?`, stage).Scan(&c)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return c, err
}

// CheckForward reports ErrBackwards when candidate is older (in creation
// order) than the candidate stage holds; the same candidate is fine.
func (s *Store) CheckForward(ctx context.Context, stage, candidate string) error {
	return s.Tx(ctx, func(tx *sql.Tx) error { return checkForward(ctx, tx, stage, candidate) })
}

func checkForward(ctx context.Context, tx *sql.Tx, stage, candidate string) error {
	var head string
	err := tx.QueryRowContext(ctx, `SELECT candidate FROM stage_heads WHERE stage=?`, stage).Scan(&head)
	if errors.Is(err, sql.ErrNoRows) || head == candidate {
		return nil
	}
	if err != nil {
		return err
	}
	ha, hr, err := candidateOrder(ctx, tx, head)
	if err != nil {
		return err
	}
	ca, cr, err := candidateOrder(ctx, tx, candidate)
	if err != nil {
		return err
	}
	if ca < ha || (ca == ha && cr < hr) {
		return fmt.Errorf("%s already holds newer candidate %s, refusing %s: %w", stage, head, candidate, ErrBackwards)
	}
	return nil
}

// Promote records that p.Candidate passed p.Stage's gate, with its evidence,
// and moves the stage's head to it, in one transaction. It refuses to move
// backwards (ErrBackwards); promoting the same candidate again is a no-op
// (promoted = false). events are appended in the same transaction.
func (s *Store) Promote(ctx context.Context, p *Promotion, events []Event) (promoted bool, err error) {
	if p.Evidence == nil {
		p.Evidence = map[string]any{}
	}
	err = s.Tx(ctx, func(tx *sql.Tx) error {
		if err := checkForward(ctx, tx, p.Stage, p.Candidate); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO promotions(candidate, stage, run_id, evidence, created_at) VALUES (?,?,?,?,?)`,
			p.Candidate, p.Stage, p.RunID, mustJSON(p.Evidence), s.now())
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		promoted = true
		if _, err := tx.ExecContext(ctx, `INSERT INTO stage_heads(stage, candidate, run_id, updated_at) VALUES (?,?,?,?)
			ON CONFLICT(stage) DO UPDATE SET candidate=excluded.candidate, run_id=excluded.run_id, updated_at=excluded.updated_at`,
			p.Stage, p.Candidate, p.RunID, s.now()); err != nil {
			return err
		}
		for _, e := range events {
			if err := s.appendEvent(ctx, tx, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("store: promote %s to %s: %w", p.Candidate, p.Stage, err)
	}
	return promoted, nil
}

// Promotion returns the promotion of candidate at stage (ErrNotFound if none).
func (s *Store) Promotion(ctx context.Context, candidate, stage string) (*Promotion, error) {
	var p Promotion
	var ev string
	var at int64
	err := s.DB.QueryRowContext(ctx, `SELECT candidate, stage, run_id, evidence, created_at FROM promotions WHERE candidate=? AND stage=?`, candidate, stage).
		Scan(&p.Candidate, &p.Stage, &p.RunID, &ev, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("promotion of %s at %s: %w", candidate, stage, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	p.CreatedAt = ms(at)
	if err := json.Unmarshal([]byte(ev), &p.Evidence); err != nil {
		return nil, err
	}
	return &p, nil
}

// Release is one cut release.
type Release struct {
	Version   string          `json:"version"`
	Candidate string          `json:"candidate"`
	Manifest  json.RawMessage `json:"manifest"`
	By        string          `json:"by"`
	State     string          `json:"state"`
	CreatedAt time.Time       `json:"created_at"`
	DoneAt    time.Time       `json:"done_at"`
}

// StartRelease records a release unless one with that version exists; it
// returns the stored one either way, so a re-run continues with the manifest
// of the first attempt.
func (s *Store) StartRelease(ctx context.Context, version, candidate, by string, manifest []byte) (*Release, error) {
	if _, err := s.DB.ExecContext(ctx, `INSERT OR IGNORE INTO releases(version, candidate, manifest, by_user, created_at) VALUES (?,?,?,?,?)`,
		version, candidate, string(manifest), by, s.now()); err != nil {
		return nil, fmt.Errorf("store: release %s: %w", version, err)
	}
	return s.Release(ctx, version)
}

// SetReleaseManifest replaces a release's manifest.
func (s *Store) SetReleaseManifest(ctx context.Context, version string, manifest []byte) error {
	_, err := s.DB.ExecContext(ctx, `UPDATE releases SET manifest=? WHERE version=?`, string(manifest), version)
	return err
}

// FinishRelease marks a release done.
func (s *Store) FinishRelease(ctx context.Context, version string) error {
	_, err := s.DB.ExecContext(ctx, `UPDATE releases SET state='done', done_at=? WHERE version=? AND state!='done'`, s.now(), version)
	return err
}

// Release loads one release (ErrNotFound if none).
func (s *Store) Release(ctx context.Context, version string) (*Release, error) {
	var r Release
	var m string
	var c, d int64
	err := s.DB.QueryRowContext(ctx, `SELECT version, candidate, manifest, by_user, state, created_at, done_at FROM releases WHERE version=?`, version).
		Scan(&r.Version, &r.Candidate, &m, &r.By, &r.State, &c, &d)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("release %s: %w", version, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	r.Manifest = json.RawMessage(m)
	r.CreatedAt, r.DoneAt = ms(c), ms(d)
	return &r, nil
}

// EventsOfKind lists events of kind for candidate ("" for any), oldest first.
func (s *Store) EventsOfKind(ctx context.Context, kind, candidate string) ([]*Event, error) {
	return queryAll(ctx, s.DB, scanEvent, `SELECT `+eventCols+` FROM events WHERE kind=? AND (?='' OR candidate=?) ORDER BY id`, kind, candidate, candidate)
}
