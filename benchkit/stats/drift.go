package stats

import (
	"context"
	"io"
	"math/rand/v2"
)

// DriftConfig describes a host whose speed drifts between measurement
// batches: every batch (one session of runs on the host) holds one clock
// state for its whole length, slow with probability PSlow (the runs are
// StateShift slower) and fast otherwise, and within a batch the host drifts
// linearly by Drift from its first run to its last. It is the noise a stored
// baseline cannot cancel: measured in another batch than the candidate, it
// differs from it by the host's state, not by the code.
type DriftConfig struct {
	Seed       uint64
	Trials     int
	N          int // runs per side
	CV         float64
	Shifts     []float64
	Threshold  float64
	Budget     int     // samples per side the confirmation loop may reach
	StateShift float64 // slowdown of a slow batch (0.03: 3%)
	PSlow      float64 // probability that a batch is slow
	Drift      float64 // linear drift over a batch (0.02: the last run 2% slower than the first)
}

// DriftMethods are the ways of measuring compared by SimulateDrift.
var DriftMethods = []string{
	"stored baseline",
	"stored baseline + confirmation",
	"interleaved ABAB",
	"interleaved ABAB + confirmation",
}

// DriftRow is the alarm rate of each method at one true change.
type DriftRow struct {
	Shift  float64            `json:"shift"`
	Alarms map[string]float64 `json:"alarms"`
	// MeanRounds is the average number of interleaved rounds (one run of
	// each side) the confirmed interleaved method took.
	MeanRounds float64 `json:"mean_rounds"`
}

// driftHost draws runs from a simulated host.
type driftHost struct {
	rng *rand.Rand
	cfg DriftConfig
}

// batch opens a batch of length runs: its state and drift apply to run i.
func (h *driftHost) batch(length int) func(i int, mean float64) float64 {
	state := 1.0
	if h.rng.Float64() < h.cfg.PSlow {
		state += h.cfg.StateShift
	}
	return func(i int, mean float64) float64 {
		drift := 1.0
		if length > 1 {
			drift += h.cfg.Drift * float64(i) / float64(length-1)
		}
		return mean * state * drift * (1 + h.cfg.CV*h.rng.NormFloat64())
	}
}

// alone measures n runs of one side in a batch of its own.
func (h *driftHost) alone(mean float64, n int) []float64 {
	run := h.batch(n)
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = run(i, mean)
	}
	return xs
}

// Interleaved measures rounds of both sides in one batch, alternating which
// side goes first (AB BA AB ...), so that the batch's state hits both sides
// alike and a linear drift cancels over every two rounds.
func Interleaved(rounds int, measure func(i int, baseline bool) float64) (base, cand []float64) {
	for r := range rounds {
		first := r%2 == 0 // true: baseline first
		for k := range 2 {
			isBase := (k == 0) == first
			x := measure(2*r+k, isBase)
			if isBase {
				base = append(base, x)
			} else {
				cand = append(cand, x)
			}
		}
	}
	return base, cand
}

func (h *driftHost) interleaved(baseMean, candMean float64, rounds int) (base, cand []float64) {
	run := h.batch(2 * rounds)
	return Interleaved(rounds, func(i int, isBase bool) float64 {
		if isBase {
			return run(i, baseMean)
		}
		return run(i, candMean)
	})
}

// SimulateDrift compares, on the same simulated host, a candidate judged
// against a baseline measured in an earlier batch (the stored release
// samples) with a candidate measured side by side with its baseline in
// interleaved rounds. Confirmation takes another batch: of the candidate
// alone for the stored baseline, of both sides interleaved otherwise.
func SimulateDrift(cfg DriftConfig) []DriftRow {
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x2545f4914f6cdd1d))
	h := &driftHost{rng: rng, cfg: cfg}
	m := Metric{Threshold: cfg.Threshold}
	var rows []DriftRow
	for _, shift := range cfg.Shifts {
		count := map[string]int{}
		rounds := 0
		cm := 100 * (1 + shift)
		for range cfg.Trials {
			stored := h.alone(100, cfg.N)
			cand := h.alone(cm, cfg.N)
			if Compare(stored, cand, m).Verdict == Regressed {
				count[DriftMethods[0]]++
			}
			more := func(_ context.Context, n int) ([]float64, error) { return h.alone(cm, n), nil }
			if r, _, _ := Confirm(context.Background(), stored, cand, m, more, cfg.Budget); r.Verdict == Regressed {
				count[DriftMethods[1]]++
			}
			base, cs := h.interleaved(100, cm, cfg.N)
			r := Compare(base, cs, m)
			if r.Verdict == Regressed {
				count[DriftMethods[2]]++
			}
			taken := cfg.N
			for r.NeedsConfirmation() && taken < cfg.Budget {
				n := min(cfg.N, cfg.Budget-taken)
				b2, c2 := h.interleaved(100, cm, n)
				base, cs = append(base, b2...), append(cs, c2...)
				taken += n
				r = Compare(base, cs, m)
			}
			rounds += taken
			if r.Verdict == Regressed {
				count[DriftMethods[3]]++
			}
		}
		row := DriftRow{Shift: shift, Alarms: map[string]float64{}, MeanRounds: float64(rounds) / float64(cfg.Trials)}
		for _, meth := range DriftMethods {
			row.Alarms[meth] = float64(count[meth]) / float64(cfg.Trials)
		}
		rows = append(rows, row)
	}
	return rows
}

// WriteDriftTable writes rows as a Markdown table.
func WriteDriftTable(w io.Writer, rows []DriftRow) error {
	return writeAlarmTable(w, DriftMethods, "mean rounds (interleaved + confirmation)", len(rows), func(i int) (float64, map[string]float64, float64) {
		return rows[i].Shift, rows[i].Alarms, rows[i].MeanRounds
	})
}
