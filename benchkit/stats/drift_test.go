package stats

import (
	"strings"
	"testing"
)

// TestInterleavedCancelsBatchNoise is a smaller run of `benchkit simulate
// --drift`: a host that holds a clock state (3% slow half of the time) for a
// whole batch and drifts 2% within it. At 10 runs per side and CV 2%, a
// candidate judged against a baseline stored from another batch raises false
// alarms in about one comparison in six; measured side by side in
// interleaved rounds, at most 1%, and a 5% regression is still caught at
// least 95% of the time.
func TestInterleavedCancelsBatchNoise(t *testing.T) {
	cfg := DriftConfig{Seed: 3, Trials: 2000, N: 10, CV: 0.02, Shifts: []float64{0, 0.05}, Threshold: 0.05, Budget: 40,
		StateShift: 0.03, PSlow: 0.5, Drift: 0.02}
	rows := SimulateDrift(cfg)
	aa, reg := rows[0].Alarms, rows[1].Alarms
	if aa[DriftMethods[0]] < 0.08 {
		t.Errorf("stored baseline false alarms %.2f%%: the simulated host is not the bimodal one", aa[DriftMethods[0]]*100)
	}
	for _, m := range DriftMethods[2:] {
		if aa[m] > 0.01 {
			t.Errorf("%s: false alarms %.2f%% > 1%%", m, aa[m]*100)
		}
	}
	if reg[DriftMethods[3]] < 0.95 {
		t.Errorf("interleaved + confirmation: power at 5%% = %.2f%% < 95%%", reg[DriftMethods[3]]*100)
	}
	var b strings.Builder
	if err := WriteDriftTable(&b, rows); err != nil || !strings.Contains(b.String(), "interleaved ABAB + confirmation") {
		t.Errorf("table: %v\n%s", err, b.String())
	}
	t.Logf("\n%s", b.String())
}

// TestInterleavedOrder: rounds alternate which side runs first, so a linear
// drift adds the same total to both sides.
func TestInterleavedOrder(t *testing.T) {
	var order []bool
	base, cand := Interleaved(4, func(i int, isBase bool) float64 {
		order = append(order, isBase)
		return float64(i)
	})
	want := []bool{true, false, false, true, true, false, false, true}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("order %v, want %v", order, want)
		}
	}
	if Mean(base) != Mean(cand) {
		t.Errorf("linear drift not cancelled: base %v cand %v", base, cand)
	}
}

func TestOutliers(t *testing.T) {
	for _, tt := range []struct {
		xs   []float64
		want int
	}{
		{[]float64{100, 101, 99, 100, 300}, 1}, // one 3x run among five
		{[]float64{100, 102, 98, 101, 99, 100, 103, 97}, 0},
		{[]float64{5, 5, 5, 5}, 0},
		{[]float64{5, 5, 5, 9}, 1},
		{[]float64{1, 100}, 0}, // too few to tell
	} {
		if got := Outliers(tt.xs); got != tt.want {
			t.Errorf("Outliers(%v) = %d, want %d", tt.xs, got, tt.want)
		}
	}
}
