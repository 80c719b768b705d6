package runner

import (
	"context"
	"fmt"

	"github.com/ironworks-ci/ironworks/benchkit/gate"
	"github.com/ironworks-ci/ironworks/benchkit/parse"
	"github.com/ironworks-ci/ironworks/benchkit/results"
	"github.com/ironworks-ci/ironworks/benchkit/stats"
)

// Interleave measures the baseline and the candidate side by side on this
// host: after their warm-ups (when warm), rounds rounds of one run of each,
// alternating which goes first (AB BA AB ...), so that whatever state the
// host is in hits both sides alike and a drift cancels over two rounds.
func (r *Runner) Interleave(ctx context.Context, base, cand Job, rounds int, warm bool) (baseS, candS parse.Samples, err error) {
	if warm {
		for _, j := range []Job{base, cand} {
			if _, err := r.Measure(ctx, j, 0, true); err != nil {
				return nil, nil, err
			}
		}
	}
	baseS, candS = parse.Samples{}, parse.Samples{}
	var runErr error
	stats.Interleaved(rounds, func(i int, isBase bool) float64 {
		if runErr != nil {
			return 0
		}
		j, into := cand, candS
		if isBase {
			j, into = base, baseS
		}
		r.logf("benchkit: round %d/%d: %s", i/2+1, rounds, side(isBase))
		s, err := r.Measure(ctx, j, 1, false)
		if err != nil {
			runErr = fmt.Errorf("%s side: %w", side(isBase), err)
			return 0
		}
		for k, vs := range s {
			into[k] = append(into[k], vs...)
		}
		return 0
	})
	if runErr != nil {
		return nil, nil, runErr
	}
	return baseS, candS, nil
}

func side(isBase bool) string {
	if isBase {
		return "baseline"
	}
	return "candidate"
}

// SideBySide is Gate with the baseline measured next to the candidate rather
// than read from the release's stored samples: interleaved rounds of both
// (the entry's repeat), judged against each other, more rounds while the
// judgement needs confirmation or a gating metric's baseline holds an
// outlier, until budget samples per side. Both sides' samples are stored
// (kind "side-by-side"): the release's samples stay history, not the
// comparison.
func (r *Runner) SideBySide(ctx context.Context, db *results.DB, base, cand Job, budget int) (*gate.Judgement, error) {
	n := max(cand.Bench.Repeat, 1)
	if budget < n {
		budget = 4 * n
	}
	base.Bench = cand.Bench
	bs, cs, err := r.Interleave(ctx, base, cand, n, true)
	if err != nil {
		return nil, err
	}
	taken := n
	remeasured := false
	for {
		acks, err := db.Acks(ctx, cand.Candidate)
		if err != nil {
			return nil, err
		}
		j := gate.Decide(&gate.Judgement{Candidate: cand.Candidate, Baseline: base.Candidate, Series: r.Series(cand)}, bs, cs, cand.Bench, acks)
		j.Rounds = taken
		outlier := gate.BaselineOutliers(j) && !remeasured
		if (!j.NeedsConfirmation() && !outlier) || taken >= budget {
			if err := r.store(ctx, db, base, bs); err != nil {
				return nil, err
			}
			if err := r.store(ctx, db, cand, cs); err != nil {
				return nil, err
			}
			return j, nil
		}
		if outlier {
			remeasured = true
			r.logf("benchkit: %s/%s: the baseline holds an outlier: measuring both sides again", cand.Component, cand.Bench.Name)
		}
		more := min(n, budget-taken)
		r.logf("benchkit: %s/%s needs confirmation: %d more rounds (%d of %d)", cand.Component, cand.Bench.Name, more, taken+more, budget)
		b2, c2, err := r.Interleave(ctx, base, cand, more, false)
		if err != nil {
			return nil, err
		}
		for k, vs := range b2 {
			bs[k] = append(bs[k], vs...)
		}
		for k, vs := range c2 {
			cs[k] = append(cs[k], vs...)
		}
		taken += more
	}
}

func (r *Runner) store(ctx context.Context, db *results.DB, j Job, s parse.Samples) error {
	_, _, err := db.AddRun(ctx, results.Run{
		Key: "local-" + randomHex(), Candidate: j.Candidate, Component: j.Component, Bench: j.Bench.Name,
		Host: r.Host, HostClass: r.Host.Class(), Revisions: j.Revisions, Kind: "side-by-side",
	}, s)
	return err
}
