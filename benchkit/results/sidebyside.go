package results

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/ironworks-ci/ironworks/benchkit/parse"
)

// ErrNoRelease means no candidate was marked released.
var ErrNoRelease = errors.New("no released candidate")

// LatestRelease returns the newest released candidate other than exclude,
// whatever it was measured on: the baseline a side-by-side measurement
// measures again next to the candidate.
func (d *DB) LatestRelease(ctx context.Context, exclude string) (string, error) {
	var c string
	err := d.DB.QueryRowContext(ctx, `SELECT candidate FROM bench_releases WHERE candidate != ? ORDER BY released_at DESC, rowid DESC LIMIT 1`, exclude).Scan(&c)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNoRelease
	}
	if err != nil {
		return "", fmt.Errorf("results: latest release: %w", err)
	}
	return c, nil
}

// SamplesOfRuns returns the samples of the runs stored under keys (their
// idempotency keys) in the series: one side of side-by-side measurements,
// without the candidate's other runs.
func (d *DB) SamplesOfRuns(ctx context.Context, se Series, keys []string) (parse.Samples, error) {
	out := parse.Samples{}
	if len(keys) == 0 {
		return out, nil
	}
	args := []any{se.Component, se.Bench, se.HostClass}
	for _, k := range keys {
		args = append(args, k)
	}
	rows, err := d.DB.QueryContext(ctx, `SELECT s.metric, s.value FROM bench_samples s JOIN bench_runs r ON r.id = s.run_id
		WHERE r.component=? AND r.bench=? AND r.host_class=? AND r.key IN (?`+strings.Repeat(",?", len(keys)-1)+`) ORDER BY r.id, s.metric, s.iteration`, args...)
	if err != nil {
		return nil, fmt.Errorf("results: samples of runs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var m string
		var v float64
		if err := rows.Scan(&m, &v); err != nil {
			return nil, err
		}
		out[m] = append(out[m], v)
	}
	return out, rows.Err()
}
