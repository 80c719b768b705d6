// Package results keeps benchmark samples in SQLite: benchkit's own database
// file, or the coordinator's database, which holds the same tables.
package results

import (
	"context"
	"database/sql"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/ironworks-ci/ironworks/benchkit/measure"
	"github.com/ironworks-ci/ironworks/benchkit/parse"
	"github.com/ironworks-ci/ironworks/benchkit/stats"
)

//go:embed schema.sql
var Schema string

// DB is a results database.
type DB struct {
	DB  *sql.DB
	Now func() time.Time
}

// Open opens (creating if needed) benchkit's database file at path.
func Open(ctx context.Context, path string) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("results: open %s: %w", path, err)
	}
	if _, err := db.ExecContext(ctx, Schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("results: schema of %s: %w", path, err)
	}
	return New(db), nil
}

// New uses an open database that already has the tables of schema.sql (the
// coordinator's, through its migration).
func New(db *sql.DB) *DB { return &DB{DB: db, Now: time.Now} }

// Close closes the database.
func (d *DB) Close() error { return d.DB.Close() }

// Run is one execution of a bench entry: its repetitions' samples share it.
type Run struct {
	ID        int64             `json:"id"`
	Key       string            `json:"key"`
	Candidate string            `json:"candidate"`
	Component string            `json:"component"`
	Bench     string            `json:"bench"`
	Host      measure.Host      `json:"host"`
	HostClass string            `json:"host_class"`
	Revisions map[string]string `json:"revisions"`
	Kind      string            `json:"kind"`
	CreatedAt time.Time         `json:"created_at"`
}

// Series names the samples that may be compared with each other.
type Series struct {
	Component, Bench, HostClass string
}

// AddRun records a run and its samples in one transaction. A run whose Key was
// recorded before is ignored (dup true): a result posted twice counts once.
func (d *DB) AddRun(ctx context.Context, r Run, s parse.Samples) (id int64, dup bool, err error) {
	tx, err := d.DB.BeginTx(ctx, nil)
	if err != nil {
		return 0, false, fmt.Errorf("results: %w", err)
	}
	defer tx.Rollback()
	id, dup, err = d.AddRunTx(ctx, tx, r, s)
	if err != nil || dup {
		return id, dup, err
	}
	return id, false, tx.Commit()
}

// AddRunTx is AddRun inside the caller's transaction.
func (d *DB) AddRunTx(ctx context.Context, tx *sql.Tx, r Run, s parse.Samples) (id int64, dup bool, err error) {
	if r.Key == "" || r.Candidate == "" || r.Component == "" || r.Bench == "" {
		return 0, false, errors.New("results: a run needs key, candidate, component and bench")
	}
	if r.HostClass == "" {
		r.HostClass = r.Host.Class()
	}
	if r.Kind == "" {
		r.Kind = "run"
	}
	host, _ := json.Marshal(r.Host)
	revs, _ := json.Marshal(r.Revisions)
	res, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO bench_runs(key, candidate, component, bench, host_class, host, revisions, kind, created_at) VALUES (?,?,?,?,?,?,?,?,?)`,
		r.Key, r.Candidate, r.Component, r.Bench, r.HostClass, string(host), string(revs), r.Kind, d.Now().UnixMilli())
	if err != nil {
		return 0, false, fmt.Errorf("results: add run: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		err := tx.QueryRowContext(ctx, `SELECT id FROM bench_runs WHERE key=?`, r.Key).Scan(&id)
		return id, true, err
	}
	id, _ = res.LastInsertId()
	for _, m := range s.Names() {
		for i, v := range s[m] {
			if _, err := tx.ExecContext(ctx, `INSERT INTO bench_samples(run_id, metric, iteration, value) VALUES (?,?,?,?)`, id, m, i, v); err != nil {
				return 0, false, fmt.Errorf("results: add sample: %w", err)
			}
		}
	}
	return id, false, nil
}

// HostClasses lists the host classes candidate was measured on in a bench.
func (d *DB) HostClasses(ctx context.Context, candidate, component, bench string) ([]string, error) {
	rows, err := d.DB.QueryContext(ctx, `SELECT DISTINCT host_class FROM bench_runs WHERE candidate=? AND component=? AND bench=? ORDER BY host_class`, candidate, component, bench)
	if err != nil {
		return nil, fmt.Errorf("results: host classes: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// Samples returns every sample of candidate in the series, over all its runs.
func (d *DB) Samples(ctx context.Context, candidate string, se Series) (parse.Samples, error) {
	rows, err := d.DB.QueryContext(ctx, `SELECT s.metric, s.value FROM bench_samples s JOIN bench_runs r ON r.id = s.run_id
		WHERE r.candidate=? AND r.component=? AND r.bench=? AND r.host_class=? ORDER BY r.id, s.metric, s.iteration`,
		candidate, se.Component, se.Bench, se.HostClass)
	if err != nil {
		return nil, fmt.Errorf("results: samples: %w", err)
	}
	defer rows.Close()
	out := parse.Samples{}
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

// Runs lists the runs of candidate (every series), oldest first.
func (d *DB) Runs(ctx context.Context, candidate string) ([]Run, error) {
	rows, err := d.DB.QueryContext(ctx, `SELECT id, key, candidate, component, bench, host_class, host, revisions, kind, created_at FROM bench_runs WHERE candidate=? ORDER BY id`, candidate)
	if err != nil {
		return nil, fmt.Errorf("results: runs: %w", err)
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		var r Run
		var host, revs string
		var at int64
		if err := rows.Scan(&r.ID, &r.Key, &r.Candidate, &r.Component, &r.Bench, &r.HostClass, &host, &revs, &r.Kind, &at); err != nil {
			return nil, err
		}
		_ = json.Unmarshal([]byte(host), &r.Host)
		_ = json.Unmarshal([]byte(revs), &r.Revisions)
		r.CreatedAt = time.UnixMilli(at)
		out = append(out, r)
	}
	return out, rows.Err()
}

// MarkReleased records that candidate was released: it becomes the baseline
// of later candidates. Marking twice keeps the first time.
func (d *DB) MarkReleased(ctx context.Context, candidate string) error {
	_, err := d.DB.ExecContext(ctx, `INSERT OR IGNORE INTO bench_releases(candidate, released_at) VALUES (?,?)`, candidate, d.Now().UnixMilli())
	if err != nil {
		return fmt.Errorf("results: release-mark: %w", err)
	}
	return nil
}

// ErrNoBaseline means no released candidate has samples in the series.
var ErrNoBaseline = errors.New("no released candidate has samples on this host class")

// Baseline returns the newest released candidate, other than exclude, with
// samples in the series.
func (d *DB) Baseline(ctx context.Context, se Series, exclude string) (string, error) {
	var c string
	err := d.DB.QueryRowContext(ctx, `SELECT rel.candidate FROM bench_releases rel
		WHERE rel.candidate != ? AND EXISTS (SELECT 1 FROM bench_runs r WHERE r.candidate = rel.candidate AND r.component=? AND r.bench=? AND r.host_class=?)
		ORDER BY rel.released_at DESC, rel.rowid DESC LIMIT 1`, exclude, se.Component, se.Bench, se.HostClass).Scan(&c)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNoBaseline
	}
	if err != nil {
		return "", fmt.Errorf("results: baseline: %w", err)
	}
	return c, nil
}

// Point is one candidate's median of a metric, for trend charts.
type Point struct {
	Candidate string    `json:"candidate"`
	Median    float64   `json:"median"`
	Released  bool      `json:"released"`
	At        time.Time `json:"at"`
}

// Trend returns the medians of metric for the newest limit candidates in the
// series, oldest first.
func (d *DB) Trend(ctx context.Context, se Series, metric string, limit int) ([]Point, error) {
	rows, err := d.DB.QueryContext(ctx, `SELECT r.candidate, min(r.created_at), group_concat(s.value), EXISTS (SELECT 1 FROM bench_releases rel WHERE rel.candidate = r.candidate)
		FROM bench_runs r JOIN bench_samples s ON s.run_id = r.id
		WHERE r.component=? AND r.bench=? AND r.host_class=? AND s.metric=?
		GROUP BY r.candidate ORDER BY min(r.id) DESC LIMIT ?`, se.Component, se.Bench, se.HostClass, metric, limit)
	if err != nil {
		return nil, fmt.Errorf("results: trend: %w", err)
	}
	defer rows.Close()
	var out []Point
	for rows.Next() {
		var p Point
		var at int64
		var vals string
		if err := rows.Scan(&p.Candidate, &at, &vals, &p.Released); err != nil {
			return nil, err
		}
		var xs []float64
		if err := json.Unmarshal([]byte("["+vals+"]"), &xs); err != nil {
			return nil, fmt.Errorf("results: trend values: %w", err)
		}
		p.Median = stats.Median(xs)
		p.At = time.UnixMilli(at)
		out = append([]Point{p}, out...)
	}
	return out, rows.Err()
}

// Ack accepts a regression of a metric in a candidate, with a reason.
type Ack struct {
	Candidate string    `json:"candidate"`
	Bench     string    `json:"bench,omitempty"` // "" for every bench
	Metric    string    `json:"metric"`
	Reason    string    `json:"reason"`
	By        string    `json:"by,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// AddAck records an acknowledgement; acknowledging again replaces the reason.
func (d *DB) AddAck(ctx context.Context, a Ack) error { return d.addAck(ctx, d.DB, a) }

// AddAckTx is AddAck inside the caller's transaction (on the same database),
// so that an acknowledgement and what it changes commit together.
func (d *DB) AddAckTx(ctx context.Context, tx *sql.Tx, a Ack) error { return d.addAck(ctx, tx, a) }

func (d *DB) addAck(ctx context.Context, db interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, a Ack) error {
	if a.Candidate == "" || a.Metric == "" {
		return errors.New("results: an acknowledgement needs a candidate and a metric")
	}
	if len(a.Reason) < 3 {
		return errors.New("results: an acknowledgement needs a reason")
	}
	_, err := db.ExecContext(ctx, `INSERT INTO bench_acks(candidate, bench, metric, reason, by, created_at) VALUES (?,?,?,?,?,?)
		ON CONFLICT(candidate, bench, metric) DO UPDATE SET reason=excluded.reason, by=excluded.by, created_at=excluded.created_at`,
		a.Candidate, a.Bench, a.Metric, a.Reason, a.By, d.Now().UnixMilli())
	if err != nil {
		return fmt.Errorf("results: ack: %w", err)
	}
	return nil
}

// Acks lists the acknowledged regressions of candidate, for the release manifest.
func (d *DB) Acks(ctx context.Context, candidate string) ([]Ack, error) {
	rows, err := d.DB.QueryContext(ctx, `SELECT candidate, bench, metric, reason, by, created_at FROM bench_acks WHERE candidate=? ORDER BY bench, metric`, candidate)
	if err != nil {
		return nil, fmt.Errorf("results: acks: %w", err)
	}
	defer rows.Close()
	out := []Ack{}
	for rows.Next() {
		var a Ack
		var at int64
		if err := rows.Scan(&a.Candidate, &a.Bench, &a.Metric, &a.Reason, &a.By, &at); err != nil {
			return nil, err
		}
		a.CreatedAt = time.UnixMilli(at)
		out = append(out, a)
	}
	return out, rows.Err()
}

// Acked reports whether a regression of metric in bench is acknowledged for candidate.
func Acked(acks []Ack, bench, metric string) *Ack {
	for i, a := range acks {
		if a.Metric == metric && (a.Bench == "" || a.Bench == bench) {
			return &acks[i]
		}
	}
	return nil
}
