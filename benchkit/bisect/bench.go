package bisect

import (
	"context"
	"fmt"
	"io"

	"github.com/ironworks-ci/ironworks/benchkit/gate"
	"github.com/ironworks-ci/ironworks/benchkit/parse"
	"github.com/ironworks-ci/ironworks/coordinator/config"
)

// PairMeasure measures the good commit and commit side by side, in rounds
// interleaved rounds (one run of each), and returns both sides' samples.
type PairMeasure func(ctx context.Context, good, commit string, rounds int) (goodS, commitS parse.Samples, err error)

// Bench bisects a benchmark regression. Every judgement, the ends' included,
// measures the good commit again next to the commit it judges, so a host
// that drifts between probes cannot make a commit look bad.
type Bench struct {
	Spec    *config.Bench
	Measure PairMeasure
	// Rounds per first measurement of a pair (default: the entry's repeat);
	// Budget bounds the rounds of one pair with confirmation (default 4x).
	Rounds, Budget int
	Log            io.Writer
}

// Ends says what measuring the two ends found.
const (
	EndsRegressed    = "regressed"     // the bad end regressed against the good end: bisected
	EndsNoRegression = "no-regression" // nothing to find: no culprit
	EndsInconclusive = "inconclusive"  // too noisy to tell even after confirmation: no culprit
)

// PairRecord is one judged pair.
type PairRecord struct {
	Commit  string `json:"commit"`
	Outcome string `json:"outcome"` // good | bad | skip
	State   string `json:"state"`   // the gate's state
	Rounds  int    `json:"rounds"`
	// Change is the estimated change of the first regressed (else first)
	// gating metric against the good commit.
	Metric string  `json:"metric,omitempty"`
	Change float64 `json:"change"`
	Error  string  `json:"error,omitempty"`
}

// BenchResult is a bisection of a benchmark regression.
type BenchResult struct {
	// Culprit is empty unless the ends showed a regression.
	Culprit  string            `json:"culprit"`
	Suspects []string          `json:"suspects"`
	Ends     string            `json:"ends"`
	Probed   map[string]string `json:"probed"`
	// Rounds counts the judged pairs, the ends' included; Samples the runs
	// measured, both sides of every pair.
	Rounds  int          `json:"rounds"`
	Samples int          `json:"samples"`
	Pairs   []PairRecord `json:"pairs"`
}

// judge measures good and commit side by side and confirms with more rounds
// while the judgement needs it.
func (b *Bench) judge(ctx context.Context, good, commit string) (Outcome, PairRecord, error) {
	n := b.Rounds
	if n <= 0 {
		n = max(b.Spec.Repeat, 1)
	}
	budget := b.Budget
	if budget < n {
		budget = 4 * n
	}
	rec := PairRecord{Commit: commit}
	gs, cs, err := b.Measure(ctx, good, commit, n)
	if err != nil {
		if ctx.Err() != nil {
			return Skip, rec, ctx.Err()
		}
		rec.Outcome, rec.Error = Skip.String(), err.Error()
		b.logf("benchkit: %s: %v (skipped)", commit, err)
		return Skip, rec, nil
	}
	rec.Rounds = n
	for {
		j := gate.Decide(&gate.Judgement{Candidate: commit, Baseline: good}, gs, cs, b.Spec, nil)
		rec.State, rec.Metric, rec.Change = j.State, "", 0
		for _, m := range j.Metrics {
			if m.Gating && (rec.Metric == "" || m.Verdict == "regressed") {
				rec.Metric, rec.Change = m.Metric, m.Change
				if m.Verdict == "regressed" {
					break
				}
			}
		}
		if j.NeedsConfirmation() && rec.Rounds < budget {
			more := min(n, budget-rec.Rounds)
			g2, c2, err := b.Measure(ctx, good, commit, more)
			if err != nil {
				if ctx.Err() != nil {
					return Skip, rec, ctx.Err()
				}
				rec.Outcome, rec.Error = Skip.String(), err.Error()
				return Skip, rec, nil
			}
			for k, v := range g2 {
				gs[k] = append(gs[k], v...)
			}
			for k, v := range c2 {
				cs[k] = append(cs[k], v...)
			}
			rec.Rounds += more
			continue
		}
		out := Skip
		switch j.State {
		case gate.Fail:
			out = Bad
		case gate.Pass:
			out = Good
		}
		rec.Outcome = out.String()
		b.logf("benchkit: %s against %s: %s after %d rounds (%s %+.2f%%)", short(commit), short(good), j.State, rec.Rounds, rec.Metric, rec.Change*100)
		return out, rec, nil
	}
}

// Bisect first measures the ends side by side: unless the bad end regressed
// against the good one there is no culprit. Then it bisects the commits in
// between (commits ordered oldest first, commits[0] the good end), each
// probe measured next to the good end again.
func (b *Bench) Bisect(ctx context.Context, commits []string) (*BenchResult, error) {
	if len(commits) < 2 {
		return nil, fmt.Errorf("bisect: need a good and a bad commit")
	}
	good, bad := commits[0], commits[len(commits)-1]
	res := &BenchResult{Probed: map[string]string{}, Suspects: []string{}, Pairs: []PairRecord{}}
	record := func(out Outcome, rec PairRecord) {
		res.Rounds++
		res.Samples += 2 * rec.Rounds
		res.Pairs = append(res.Pairs, rec)
		res.Probed[rec.Commit] = out.String()
	}
	out, rec, err := b.judge(ctx, good, bad)
	if err != nil {
		return nil, err
	}
	record(out, rec)
	switch {
	case rec.Error != "":
		return nil, fmt.Errorf("bisect: measuring the ends: %s", rec.Error)
	case out == Good:
		res.Ends = EndsNoRegression
		return res, nil
	case out == Skip:
		res.Ends = EndsInconclusive
		return res, nil
	}
	res.Ends = EndsRegressed
	r, err := Run(ctx, commits, func(ctx context.Context, c string) (Outcome, error) {
		out, rec, err := b.judge(ctx, good, c)
		if err == nil {
			record(out, rec)
		}
		return out, err
	})
	if err != nil {
		return nil, err
	}
	res.Culprit, res.Suspects = r.Culprit, r.Suspects
	return res, nil
}

func (b *Bench) logf(format string, args ...any) {
	if b.Log != nil {
		fmt.Fprintf(b.Log, format+"\n", args...)
	}
}

func short(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}
