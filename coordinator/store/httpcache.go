package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// HTTPCache is the store as a conditional-request cache: the last ETag and
// answer of each polled URL.
type HTTPCache struct{ S *Store }

// Get returns the ETag and body stored for url; empty when none.
func (c HTTPCache) Get(ctx context.Context, url string) (string, []byte, error) {
	var etag string
	var body []byte
	err := c.S.DB.QueryRowContext(ctx, `SELECT etag, body FROM http_cache WHERE url=?`, url).Scan(&etag, &body)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil, nil
	}
	if err != nil {
		return "", nil, fmt.Errorf("store: http cache: %w", err)
	}
	return etag, body, nil
}

// Put stores the ETag and body of url.
func (c HTTPCache) Put(ctx context.Context, url, etag string, body []byte) error {
	_, err := c.S.DB.ExecContext(ctx, `INSERT INTO http_cache(url, etag, body, updated_at) VALUES (?,?,?,?)
		ON CONFLICT(url) DO UPDATE SET etag=excluded.etag, body=excluded.body, updated_at=excluded.updated_at`, url, etag, body, c.S.now())
	if err != nil {
		return fmt.Errorf("store: http cache: %w", err)
	}
	return nil
}

// Done reports whether the side effect key was completed (see Once).
func (s *Store) Done(ctx context.Context, key string) (bool, error) {
	var state string
	err := s.DB.QueryRowContext(ctx, `SELECT state FROM side_effects WHERE key=?`, key).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: side effect %s: %w", key, err)
	}
	return state == "done", nil
}
