package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ironworks-ci/ironworks/benchkit/results"
	"github.com/ironworks-ci/ironworks/benchkit/stats"
	"github.com/ironworks-ci/ironworks/coordinator/config"

	"github.com/ironworks-ci/ironworks/coordinator/store"
	"github.com/ironworks-ci/ironworks/coordinator/web"
)

// subscriptionsPage is the Subscriptions page's source: the subscriptions
// of the store, one row per address.
type subscriptionsPage struct{ st *store.Store }

func (s subscriptionsPage) List(ctx context.Context) ([]web.Subscription, error) {
	subs, err := s.st.Subscriptions(ctx)
	if err != nil {
		return nil, err
	}
	var out []web.Subscription
	at := map[string]int{}
	for _, sub := range subs {
		i, ok := at[sub.Email]
		if !ok {
			i = len(out)
			at[sub.Email] = i
			out = append(out, web.Subscription{Email: sub.Email, CreatedAt: sub.CreatedAt})
		}
		row := &out[i]
		row.Components = appendNew(row.Components, sub.Component)
		row.Branches = appendNew(row.Branches, sub.Branch)
		for _, k := range sub.Events {
			row.Kinds = appendNew(row.Kinds, k)
		}
		if sub.CreatedAt.Before(row.CreatedAt) {
			row.CreatedAt = sub.CreatedAt
		}
	}
	return out, nil
}

// appendNew appends v unless it is empty or already in list.
func appendNew(list []string, v string) []string {
	if v == "" || slices.Contains(list, v) {
		return list
	}
	return append(list, v)
}

// benchPage is the Benchmarks pages' source: the medians per candidate of
// every metric benchkit recorded (agents' results and `benchkit run --db`),
// one series per component, bench entry, host class and metric, with the
// band the newest release's median and the metric's threshold accept.
type benchPage struct {
	st  *store.Store
	cfg *config.Config
}

// benchSeriesLimit bounds a chart to the newest candidates.
const benchSeriesLimit = 100

// benchName names a series: component:bench:metric@host-class.
func benchName(se results.Series, metric string) string {
	return se.Component + ":" + se.Bench + ":" + metric + "@" + se.HostClass
}

// parseBenchName reverses benchName.
func parseBenchName(name string) (results.Series, string, bool) {
	i := strings.LastIndex(name, "@")
	if i < 0 {
		return results.Series{}, "", false
	}
	rest, class := name[:i], name[i+1:]
	comp, rest, ok1 := strings.Cut(rest, ":")
	bench, metric, ok2 := strings.Cut(rest, ":")
	if !ok1 || !ok2 || comp == "" || bench == "" || metric == "" || class == "" {
		return results.Series{}, "", false
	}
	return results.Series{Component: comp, Bench: bench, HostClass: class}, metric, true
}

func (b benchPage) Metrics(ctx context.Context) ([]string, error) {
	rows, err := b.st.DB.QueryContext(ctx, `SELECT DISTINCT r.component, r.bench, r.host_class, s.metric
		FROM bench_runs r JOIN bench_samples s ON s.run_id = r.id ORDER BY 1, 2, 4, 3`)
	if err != nil {
		return nil, fmt.Errorf("benchmarks: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var se results.Series
		var metric string
		if err := rows.Scan(&se.Component, &se.Bench, &se.HostClass, &metric); err != nil {
			return nil, err
		}
		out = append(out, benchName(se, metric))
	}
	return out, rows.Err()
}

func (b benchPage) Series(ctx context.Context, name string) ([]web.Point, web.Band, error) {
	se, metric, ok := parseBenchName(name)
	if !ok {
		return nil, web.Band{}, fmt.Errorf("benchmark %q: want component:bench:metric@host-class: %w", name, store.ErrNotFound)
	}
	db := results.New(b.st.DB)
	trend, err := db.Trend(ctx, se, metric, benchSeriesLimit)
	if err != nil {
		return nil, web.Band{}, err
	}
	var pts []web.Point
	var band web.Band
	base, err := db.Baseline(ctx, se, "")
	if err != nil && !errors.Is(err, results.ErrNoBaseline) {
		return nil, web.Band{}, err
	}
	for _, p := range trend {
		label := store.ShortRev(p.Candidate)
		if p.Released {
			label += " (released)"
		}
		pts = append(pts, web.Point{At: p.At, Value: p.Median, Candidate: p.Candidate, Label: label})
		if p.Candidate == base {
			t := stats.DefaultThreshold
			if a := b.cfg.Loaded[se.Component]; a != nil && a.Bench[se.Bench] != nil {
				if m, ok := a.Bench[se.Bench].Metrics[metric]; ok && m.Threshold.Fraction > 0 {
					t = m.Threshold.Fraction
				}
			}
			band = web.Band{Low: p.Median * (1 - t), High: p.Median * (1 + t)}
		}
	}
	return pts, band, nil
}
