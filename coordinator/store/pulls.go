package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// PullRequest is a pull request of a followed repository as the coordinator
// last saw it, in the list of open pull requests or in a webhook.
type PullRequest struct {
	Repo      string    `json:"repo"` // owner/name
	Number    int       `json:"number"`
	Component string    `json:"component"`
	Title     string    `json:"title"`
	URL       string    `json:"url,omitempty"`
	HeadSHA   string    `json:"head_sha"`
	HeadRef   string    `json:"head_ref"`
	BaseRef   string    `json:"base_ref"`
	Draft     bool      `json:"draft"`
	Open      bool      `json:"open"`
	UpdatedAt time.Time `json:"updated_at"`
}

const pullCols = `repo, number, component, title, url, head_sha, head_ref, base_ref, draft, open, updated_at`

func putPull(ctx context.Context, db interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, p PullRequest, now int64) error {
	_, err := db.ExecContext(ctx, `INSERT INTO pull_requests(`+pullCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT(repo, number) DO UPDATE SET component=excluded.component, title=excluded.title, url=excluded.url,
			head_sha=excluded.head_sha, head_ref=excluded.head_ref, base_ref=excluded.base_ref, draft=excluded.draft,
			open=excluded.open, updated_at=excluded.updated_at`,
		p.Repo, p.Number, p.Component, p.Title, p.URL, p.HeadSHA, p.HeadRef, p.BaseRef, p.Draft, p.Open, now)
	if err != nil {
		return fmt.Errorf("store: pull request %s#%d: %w", p.Repo, p.Number, err)
	}
	return nil
}

// PutPull records what a webhook said of one pull request.
func (s *Store) PutPull(ctx context.Context, p PullRequest) error {
	return putPull(ctx, s.DB, p, s.now())
}

// SyncOpenPulls records the open pull requests of repo as listed by GitHub:
// each of open is stored open, every other one of repo is marked closed.
func (s *Store) SyncOpenPulls(ctx context.Context, repo string, open []PullRequest) error {
	return s.Tx(ctx, func(tx *sql.Tx) error {
		now := s.now()
		if _, err := tx.ExecContext(ctx, `UPDATE pull_requests SET open=0, updated_at=? WHERE repo=? AND open=1`, now, repo); err != nil {
			return fmt.Errorf("store: pull requests of %s: %w", repo, err)
		}
		for _, p := range open {
			p.Repo, p.Open = repo, true
			if err := putPull(ctx, tx, p, now); err != nil {
				return err
			}
		}
		return nil
	})
}

func scanPull(r scanner) (*PullRequest, error) {
	var p PullRequest
	var at int64
	if err := r.Scan(&p.Repo, &p.Number, &p.Component, &p.Title, &p.URL, &p.HeadSHA, &p.HeadRef, &p.BaseRef, &p.Draft, &p.Open, &at); err != nil {
		return nil, err
	}
	p.UpdatedAt = ms(at)
	return &p, nil
}

// OpenPulls lists the open pull requests, by repository and number.
func (s *Store) OpenPulls(ctx context.Context) ([]*PullRequest, error) {
	out, err := queryAll(ctx, s.DB, scanPull, `SELECT `+pullCols+` FROM pull_requests WHERE open=1 ORDER BY repo, number`)
	if err != nil {
		return nil, fmt.Errorf("store: open pull requests: %w", err)
	}
	return out, nil
}

// Pull returns one pull request of repo, open or not.
func (s *Store) Pull(ctx context.Context, repo string, number int) (*PullRequest, error) {
	p, err := scanPull(s.DB.QueryRowContext(ctx, `SELECT `+pullCols+` FROM pull_requests WHERE repo=? AND number=?`, repo, number))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("pull request %s#%d: %w", repo, number, ErrNotFound)
	}
	return p, err
}

// PullEvents lists the events of the given kinds whose payload names pull
// request number of repo ("repo" and "pr"), newest first, at most limit.
func (s *Store) PullEvents(ctx context.Context, repo string, number int, limit int, kinds ...string) ([]*Event, error) {
	if len(kinds) == 0 {
		return nil, nil
	}
	args := []any{}
	for _, k := range kinds {
		args = append(args, k)
	}
	args = append(args, repo, number, limit)
	out, err := queryAll(ctx, s.DB, scanEvent, `SELECT `+eventCols+` FROM events
		WHERE kind IN (?`+strings.Repeat(",?", len(kinds)-1)+`) AND json_extract(payload, '$.repo') = ? AND json_extract(payload, '$.pr') = ?
		ORDER BY id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: events of %s#%d: %w", repo, number, err)
	}
	return out, nil
}

// PullCandidates lists the candidates made for pull request number (of any
// repository: the caller matches the revision), newest first.
func (s *Store) PullCandidates(ctx context.Context, number int) ([]*Candidate, error) {
	out, err := queryAll(ctx, s.DB, scanCandidate, `SELECT id, revisions, origin, pr, created_at FROM candidates WHERE origin='pr' AND pr=? ORDER BY created_at DESC, rowid DESC`, number)
	if err != nil {
		return nil, fmt.Errorf("store: candidates of PR #%d: %w", number, err)
	}
	return out, nil
}
