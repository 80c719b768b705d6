package stats

import "context"

// Sampler takes n more candidate samples.
type Sampler func(ctx context.Context, n int) ([]float64, error)

// Confirm compares cand with base and, while the verdict needs confirmation
// (inconclusive or borderline), takes another batch of len(cand) samples and
// compares again, until the verdict is firm or the candidate has budget samples.
// It returns the last result and every candidate sample taken.
func Confirm(ctx context.Context, base, cand []float64, m Metric, more Sampler, budget int) (Result, []float64, error) {
	batch := len(cand)
	if batch == 0 {
		batch = 1
	}
	r := Compare(base, cand, m)
	for r.NeedsConfirmation() && len(cand) < budget {
		n := min(batch, budget-len(cand))
		extra, err := more(ctx, n)
		if err != nil {
			return r, cand, err
		}
		if len(extra) == 0 {
			break
		}
		cand = append(cand, extra...)
		r = Compare(base, cand, m)
	}
	return r, cand, nil
}
