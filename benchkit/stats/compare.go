// Package stats decides whether a benchmark metric changed between a baseline
// and a candidate: a Mann-Whitney U test for "is there a difference at all",
// the Hodges-Lehmann shift for "how big", and the metric's minimum effect from
// adapter.toml for "does it matter".
//
// The decision, for a metric with threshold T (the smallest change that must be
// caught) and significance level Alpha:
//
//	regressed     p < Alpha and the estimated worsening is at least T/2
//	improved      p < Alpha and the estimated improvement is at least T/2
//	unchanged     otherwise, when the confidence interval of the change
//	              (level 1-Alpha) rules out a worsening of T or more
//	inconclusive  otherwise: the samples are too few or too noisy to tell
//
// T/2 rather than T is the bar because a true change of exactly T gives an
// estimate below T half of the time: requiring the estimate to reach T would
// catch a T-sized regression with only 50% power. A regressed verdict whose
// estimate lies below T, or whose p-value is within a factor of ten of Alpha, is
// Borderline: the gate confirms it with more samples before failing.
package stats

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"

	mstats "github.com/aclements/go-moremath/stats"
)

// Verdicts.
const (
	Improved     = "improved"
	Unchanged    = "unchanged"
	Regressed    = "regressed"
	Inconclusive = "inconclusive"
)

// DefaultAlpha is the significance level of the U test. 0.01 keeps false alarms
// of a gate that runs on every candidate rare (see docs/benchkit.md for the
// measured rates).
const DefaultAlpha = 0.01

// Unbounded marks an open end of a confidence interval. It is the largest
// float rather than infinity so that results stay valid JSON.
const Unbounded = math.MaxFloat64

// DefaultThreshold applies to metrics adapter.toml does not list.
const DefaultThreshold = 0.05

// Metric is how one metric is judged.
type Metric struct {
	HigherIsBetter bool
	Threshold      float64 // fraction, 0.05 for 5%
}

// Result is the comparison of one metric.
type Result struct {
	Verdict    string  `json:"verdict"`
	Borderline bool    `json:"borderline,omitempty"`
	P          float64 `json:"p"`
	// Change is the estimated relative change of the candidate against the
	// baseline median (Hodges-Lehmann shift / baseline median): +0.05 is 5%
	// larger, whichever direction is better.
	Change float64 `json:"change"`
	// ChangeLo and ChangeHi bound Change at confidence 1-Alpha (∓Unbounded when
	// the samples are too few for a bounded interval).
	ChangeLo       float64 `json:"change_lo"`
	ChangeHi       float64 `json:"change_hi"`
	BaseMedian     float64 `json:"base_median"`
	CandMedian     float64 `json:"candidate_median"`
	BaseN          int     `json:"base_n"`
	CandN          int     `json:"candidate_n"`
	Threshold      float64 `json:"threshold"`
	HigherIsBetter bool    `json:"higher_is_better,omitempty"`
	Note           string  `json:"note,omitempty"`
}

// NeedsConfirmation reports whether more samples should be taken before the
// verdict is acted on.
func (r Result) NeedsConfirmation() bool {
	return r.Verdict == Inconclusive || r.Borderline
}

// Worse is the change in the bad direction: positive means worse.
func (r Result) Worse() float64 {
	if r.HigherIsBetter {
		return -r.Change
	}
	return r.Change
}

// Compare judges candidate samples against baseline samples at DefaultAlpha.
func Compare(base, cand []float64, m Metric) Result {
	return CompareAlpha(base, cand, m, DefaultAlpha)
}

// CompareAlpha is Compare at significance level alpha.
func CompareAlpha(base, cand []float64, m Metric, alpha float64) Result {
	if m.Threshold <= 0 {
		m.Threshold = DefaultThreshold
	}
	r := Result{
		P: 1, BaseN: len(base), CandN: len(cand), Threshold: m.Threshold, HigherIsBetter: m.HigherIsBetter,
		ChangeLo: -Unbounded, ChangeHi: Unbounded,
	}
	if len(base) < 2 || len(cand) < 2 {
		r.Verdict = Inconclusive
		r.Note = "need at least 2 samples on each side"
		return r
	}
	r.BaseMedian = Median(base)
	r.CandMedian = Median(cand)
	scale := math.Abs(r.BaseMedian)
	if scale == 0 {
		scale = math.Abs(r.CandMedian)
	}
	if scale == 0 {
		// Both centred on zero (a counter that never moves): nothing to compare.
		r.Verdict = Unchanged
		r.ChangeLo, r.ChangeHi = 0, 0
		r.Note = "both medians are zero"
		return r
	}
	diffs := pairwiseDiffs(base, cand)
	r.Change = Median(diffs) / scale
	if k := trim(len(base), len(cand), alpha); k >= 0 {
		r.ChangeLo, r.ChangeHi = diffs[k]/scale, diffs[len(diffs)-1-k]/scale
	}
	if constant(base) && constant(cand) {
		// A deterministic metric (a byte or constraint count): the change is
		// known exactly, however few the samples.
		r.ChangeLo, r.ChangeHi = r.Change, r.Change
		if r.Change != 0 {
			r.P = 0
		}
	} else if res, err := mstats.MannWhitneyUTest(base, cand, mstats.LocationDiffers); err == nil {
		r.P = res.P
	} else {
		r.Note = "U test: " + err.Error()
	}
	// worse and hi are in the bad direction: positive is worse.
	worse, hi := r.Change, r.ChangeHi
	if m.HigherIsBetter {
		worse, hi = -worse, -r.ChangeLo
	}
	switch {
	case r.P < alpha && worse >= m.Threshold/2:
		r.Verdict = Regressed
		r.Borderline = worse < m.Threshold || r.P >= alpha/10
	case r.P < alpha && worse <= -m.Threshold/2:
		r.Verdict = Improved
	case hi < m.Threshold:
		r.Verdict = Unchanged
	default:
		r.Verdict = Inconclusive
		if r.Note == "" {
			r.Note = fmt.Sprintf("cannot rule out a %.3g%% worsening with %d+%d samples", m.Threshold*100, len(base), len(cand))
		}
	}
	return r
}

func constant(xs []float64) bool {
	for _, x := range xs {
		if x != xs[0] {
			return false
		}
	}
	return true
}

// pairwiseDiffs returns every cand[j]-base[i], sorted: their median is the
// Hodges-Lehmann shift estimate, their order statistics its confidence bounds.
func pairwiseDiffs(base, cand []float64) []float64 {
	d := make([]float64, 0, len(base)*len(cand))
	for _, c := range cand {
		for _, b := range base {
			d = append(d, c-b)
		}
	}
	sort.Float64s(d)
	return d
}

type trimKey struct {
	n1, n2 int
	alpha  float64
}

var (
	trimMu    sync.Mutex
	trimCache = map[trimKey]int{}
)

// trim returns how many pairwise differences to drop from each end for a
// distribution-free (Moses) confidence interval of the shift at level 1-alpha:
// the largest k with P(U <= k-1) <= alpha/2 under the null, or -1 when even the
// full range of differences does not reach that confidence.
func trim(n1, n2 int, alpha float64) int {
	key := trimKey{n1, n2, alpha}
	trimMu.Lock()
	defer trimMu.Unlock()
	if k, ok := trimCache[key]; ok {
		return k
	}
	var cdf func(float64) float64
	if n1 <= 50 && n2 <= 50 {
		cdf = mstats.UDist{N1: n1, N2: n2}.CDF
	} else {
		mu := float64(n1*n2) / 2
		sd := math.Sqrt(float64(n1*n2*(n1+n2+1)) / 12)
		cdf = func(u float64) float64 { return mstats.NormalDist{Mu: mu, Sigma: sd}.CDF(u + 0.5) }
	}
	k := -1
	for t := 1; t <= n1*n2/2; t++ {
		if cdf(float64(t-1)) > alpha/2 {
			break
		}
		k = t
	}
	trimCache[key] = k
	return k
}

// Median of xs (which it does not modify).
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Mean of xs.
func Mean(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// StdDev is the sample standard deviation of xs.
func StdDev(xs []float64) float64 {
	if len(xs) < 2 {
		return 0
	}
	m := Mean(xs)
	var s float64
	for _, x := range xs {
		s += (x - m) * (x - m)
	}
	return math.Sqrt(s / float64(len(xs)-1))
}

// Outliers counts the samples of xs whose modified z-score (distance from
// the median in units of 1.4826 median absolute deviations, Iglewicz and
// Hoaglin) exceeds 3.5: a 3x slow run among five, not the spread of normal
// noise. With a zero deviation, every sample off the median counts.
func Outliers(xs []float64) int {
	if len(xs) < 3 {
		return 0
	}
	med := Median(xs)
	dev := make([]float64, len(xs))
	for i, x := range xs {
		dev[i] = math.Abs(x - med)
	}
	mad := Median(dev) * 1.4826
	n := 0
	for _, d := range dev {
		if (mad == 0 && d > 0) || (mad > 0 && d/mad > 3.5) {
			n++
		}
	}
	return n
}
