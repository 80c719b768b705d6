package stats

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"text/tabwriter"

	mstats "github.com/aclements/go-moremath/stats"
)

// SimConfig describes a simulation of the gate on synthetic samples: Trials
// baseline/candidate pairs of N samples each, normally distributed with
// coefficient of variation CV, the candidate shifted by each of Shifts (0 is
// the A/A case; 0.05 a 5% regression of a lower-is-better metric).
type SimConfig struct {
	Seed      uint64
	Trials    int
	N         int
	CV        float64
	Shifts    []float64
	Threshold float64 // benchkit's minimum effect
	Budget    int     // candidate samples the confirmation loop may reach
	// Outliers is the probability that a sample is 20% slow (a noisy neighbour).
	Outliers float64
}

// Methods compared by Simulate, in table order.
var Methods = []string{
	"benchkit single-shot",
	"benchkit + confirmation",
	"fixed 10% threshold (mean)",
	"t prediction 0.99 (each run)",
	"t prediction 0.99 (mean)",
}

// SimRow is the alarm rate (fraction of trials flagged as a regression) of
// each method at one shift.
type SimRow struct {
	Shift  float64            `json:"shift"`
	Alarms map[string]float64 `json:"alarms"`
	// MeanCandSamples is the average number of candidate samples the
	// confirmation loop used.
	MeanCandSamples float64 `json:"mean_candidate_samples"`
}

// Simulate runs cfg and returns one row per shift. Every method sees the same
// samples in every trial.
func Simulate(cfg SimConfig) []SimRow {
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	m := Metric{Threshold: cfg.Threshold}
	tq := tQuantile(0.99, float64(cfg.N-1))
	var rows []SimRow
	for _, shift := range cfg.Shifts {
		count := map[string]int{}
		used := 0
		draw := func(mean float64, n int) []float64 {
			xs := make([]float64, n)
			for i := range xs {
				xs[i] = mean * (1 + cfg.CV*rng.NormFloat64())
				if cfg.Outliers > 0 && rng.Float64() < cfg.Outliers {
					xs[i] *= 1.2
				}
			}
			return xs
		}
		for range cfg.Trials {
			base := draw(100, cfg.N)
			cand := draw(100*(1+shift), cfg.N)

			if Compare(base, cand, m).Verdict == Regressed {
				count[Methods[0]]++
			}
			more := func(_ context.Context, n int) ([]float64, error) { return draw(100*(1+shift), n), nil }
			r, all, _ := Confirm(context.Background(), base, append([]float64(nil), cand...), m, more, cfg.Budget)
			used += len(all)
			if r.Verdict == Regressed {
				count[Methods[1]]++
			}
			if Mean(cand)/Mean(base)-1 > 0.10 {
				count[Methods[2]]++
			}
			// Bencher's t-test: the baseline history predicts the next value;
			// an alert fires when a value lies above the 0.99 boundary.
			mu, sd := Mean(base), StdDev(base)
			limit := mu + tq*sd*math.Sqrt(1+1/float64(cfg.N))
			for _, x := range cand {
				if x > limit {
					count[Methods[3]]++
					break
				}
			}
			if Mean(cand) > limit {
				count[Methods[4]]++
			}
		}
		row := SimRow{Shift: shift, Alarms: map[string]float64{}, MeanCandSamples: float64(used) / float64(cfg.Trials)}
		for _, meth := range Methods {
			row.Alarms[meth] = float64(count[meth]) / float64(cfg.Trials)
		}
		rows = append(rows, row)
	}
	return rows
}

// tQuantile is the p quantile of Student's t with dof degrees of freedom.
func tQuantile(p, dof float64) float64 {
	return mstats.InvCDF(mstats.TDist{V: dof})(p)
}

// WriteSimTable writes rows as a Markdown table.
func WriteSimTable(w io.Writer, cfg SimConfig, rows []SimRow) error {
	return writeAlarmTable(w, Methods, "mean candidate samples (confirmation)", len(rows), func(i int) (float64, map[string]float64, float64) {
		return rows[i].Shift, rows[i].Alarms, rows[i].MeanCandSamples
	})
}

// writeAlarmTable writes a Markdown table of n rows: the true change, the
// alarm rate of each method, and one last figure named last.
func writeAlarmTable(w io.Writer, methods []string, last string, n int, row func(i int) (shift float64, alarms map[string]float64, extra float64)) error {
	tw := tabwriter.NewWriter(w, 0, 4, 1, ' ', 0)
	fmt.Fprintf(tw, "| true change\t| %s\t| %s\t|\n", joinCols(methods), last)
	fmt.Fprintf(tw, "|---\t%s|---\t|\n", repeatCol(len(methods)))
	for i := range n {
		shift, alarms, extra := row(i)
		fmt.Fprintf(tw, "| %+.1f%%\t", shift*100)
		for _, meth := range methods {
			fmt.Fprintf(tw, "| %.2f%%\t", alarms[meth]*100)
		}
		fmt.Fprintf(tw, "| %.1f\t|\n", extra)
	}
	return tw.Flush()
}

func joinCols(cols []string) string {
	s := ""
	for i, c := range cols {
		if i > 0 {
			s += "\t| "
		}
		s += c
	}
	return s
}

func repeatCol(n int) string {
	s := ""
	for range n {
		s += "|---\t"
	}
	return s
}
