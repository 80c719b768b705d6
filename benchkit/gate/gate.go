// Package gate judges a candidate's benchmark samples against its baseline:
// the newest released candidate measured on the same host class.
package gate

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/ironworks-ci/ironworks/benchkit/parse"
	"github.com/ironworks-ci/ironworks/benchkit/results"
	"github.com/ironworks-ci/ironworks/benchkit/stats"
	"github.com/ironworks-ci/ironworks/coordinator/config"
)

// States of a judgement.
const (
	Pass         = "pass"         // nothing gating regressed (or every regression is acknowledged)
	Fail         = "fail"         // a gating metric regressed and nobody acknowledged it
	Inconclusive = "inconclusive" // a gating metric could not be decided
	NoBaseline   = "no-baseline"  // no released candidate was measured on this host class
)

// MetricVerdict is the judgement of one metric.
type MetricVerdict struct {
	Metric string `json:"metric"`
	stats.Result
	// Gating metrics are those adapter.toml lists (every metric when it lists
	// none); the others are reported but never fail the gate.
	Gating bool         `json:"gating"`
	Acked  *results.Ack `json:"acked,omitempty"`
	// BaseOutliers and CandOutliers count the samples far off their side's
	// median (stats.Outliers): reported, and a baseline measured side by side
	// that holds one is measured again.
	BaseOutliers int `json:"base_outliers,omitempty"`
	CandOutliers int `json:"candidate_outliers,omitempty"`
}

// Judgement is a candidate's verdict in one series.
type Judgement struct {
	Candidate string          `json:"candidate"`
	Baseline  string          `json:"baseline,omitempty"`
	Series    results.Series  `json:"series"`
	State     string          `json:"state"`
	Metrics   []MetricVerdict `json:"metrics"`
	// Rounds counts the interleaved rounds (one run of each side) of a
	// side-by-side measurement; 0 when the baseline was stored samples.
	Rounds int `json:"rounds,omitempty"`
}

// BaselineOutliers reports whether a gating metric's baseline samples hold
// an outlier.
func BaselineOutliers(j *Judgement) bool {
	for _, m := range j.Metrics {
		if m.Gating && m.BaseOutliers > 0 {
			return true
		}
	}
	return false
}

// NeedsConfirmation reports whether a gating metric is inconclusive or
// borderline, so more samples should be taken before acting.
func (j *Judgement) NeedsConfirmation() bool {
	for _, m := range j.Metrics {
		if m.Gating && m.NeedsConfirmation() && m.Acked == nil {
			return true
		}
	}
	return false
}

// Spec returns how metric is judged: as adapter.toml says, or by the naming
// convention of parse.HigherIsBetter with stats.DefaultThreshold.
func Spec(b *config.Bench, metric string) (stats.Metric, bool) {
	if b != nil {
		if m, ok := b.Metrics[metric]; ok {
			return stats.Metric{HigherIsBetter: m.Direction == "higher", Threshold: m.Threshold.Fraction}, true
		}
	}
	return stats.Metric{HigherIsBetter: parse.HigherIsBetter(metric), Threshold: stats.DefaultThreshold}, b == nil || len(b.Metrics) == 0
}

// Judge compares candidate with its baseline in the series.
func Judge(ctx context.Context, db *results.DB, se results.Series, candidate string, b *config.Bench) (*Judgement, error) {
	j := &Judgement{Candidate: candidate, Series: se}
	cand, err := db.Samples(ctx, candidate, se)
	if err != nil {
		return nil, err
	}
	if len(cand) == 0 {
		return nil, fmt.Errorf("gate: candidate %s has no samples of %s/%s on host class %s", candidate, se.Component, se.Bench, se.HostClass)
	}
	base, err := db.Baseline(ctx, se, candidate)
	if errors.Is(err, results.ErrNoBaseline) {
		j.State = NoBaseline
		return j, nil
	}
	if err != nil {
		return nil, err
	}
	j.Baseline = base
	baseS, err := db.Samples(ctx, base, se)
	if err != nil {
		return nil, err
	}
	acks, err := db.Acks(ctx, candidate)
	if err != nil {
		return nil, err
	}
	return Decide(j, baseS, cand, b, acks), nil
}

// Decide judges every metric present on both sides and sets j.State.
func Decide(j *Judgement, base, cand parse.Samples, b *config.Bench, acks []results.Ack) *Judgement {
	names := make([]string, 0, len(cand))
	for m := range cand {
		if _, ok := base[m]; ok {
			names = append(names, m)
		}
	}
	sort.Strings(names)
	j.Metrics = j.Metrics[:0]
	j.State = Pass
	bench := j.Series.Bench
	for _, m := range names {
		spec, gating := Spec(b, m)
		mv := MetricVerdict{Metric: m, Result: stats.Compare(base[m], cand[m], spec), Gating: gating,
			BaseOutliers: stats.Outliers(base[m]), CandOutliers: stats.Outliers(cand[m])}
		if mv.Verdict == stats.Regressed {
			mv.Acked = results.Acked(acks, bench, m)
		}
		j.Metrics = append(j.Metrics, mv)
		if !gating || mv.Acked != nil {
			continue
		}
		switch {
		case mv.Verdict == stats.Regressed:
			j.State = Fail
		case mv.Verdict == stats.Inconclusive && j.State == Pass:
			j.State = Inconclusive
		}
	}
	// A metric adapter.toml gates on that the tool stopped reporting is a failure
	// to measure, not a pass.
	if b != nil {
		for m := range b.Metrics {
			if _, ok := cand[m]; !ok {
				spec, _ := Spec(b, m)
				j.Metrics = append(j.Metrics, MetricVerdict{Metric: m, Gating: true, Result: stats.Result{Verdict: stats.Inconclusive, P: 1,
					Threshold: spec.Threshold, HigherIsBetter: spec.HigherIsBetter, Note: "the candidate did not report this metric"}})
				if j.State == Pass {
					j.State = Inconclusive
				}
			}
		}
	}
	return j
}
