package bisect

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ironworks-ci/ironworks/benchkit/parse"
	"github.com/ironworks-ci/ironworks/benchkit/stats"
	"github.com/ironworks-ci/ironworks/coordinator/config"
)

// simHost is a benchmark host for bisections: every commit from culprit on
// is regress slower (culprit < 0: none is); runs have coefficient of
// variation cv; every measurement (one side-by-side session) holds one clock
// state, 3% slow half of the time, shared by both sides.
type simHost struct {
	rng      *rand.Rand
	culprit  int
	regress  float64
	cv       float64
	sessions int
}

func (h *simHost) index(c string) int {
	var i int
	fmt.Sscanf(c, "c%d", &i)
	return i
}

func (h *simHost) measure(_ context.Context, good, commit string, rounds int) (parse.Samples, parse.Samples, error) {
	h.sessions++
	state := 1.0
	if h.rng.Float64() < 0.5 {
		state = 1.03
	}
	mean := func(c string) float64 {
		if h.culprit >= 0 && h.index(c) >= h.culprit {
			return 100 * (1 + h.regress)
		}
		return 100
	}
	g, c := stats.Interleaved(rounds, func(_ int, isBase bool) float64 {
		m := mean(commit)
		if isBase {
			m = mean(good)
		}
		return m * state * (1 + h.cv*h.rng.NormFloat64())
	})
	return parse.Samples{"wall-ms": g}, parse.Samples{"wall-ms": c}, nil
}

var simSpec = &config.Bench{Name: "sim", Repeat: 10, Metrics: map[string]config.Metric{"wall-ms": {Direction: "lower", Threshold: config.Percent{Fraction: 0.05}}}}

// TestBenchBisectSimulation: 16 commits after the good one, CV 2%, 10
// interleaved rounds per pair and up to 40 with confirmation, the host in a
// random clock state per session. A 5% regression at a random commit is
// pinned to that commit in at least 95% of seeded runs; with no regression,
// at least 95% of runs name no culprit.
func TestBenchBisectSimulation(t *testing.T) {
	const trials = 200
	commits := synthetic(17)
	right, none, rounds, samples := 0, 0, 0, 0
	for i := range trials {
		h := &simHost{rng: rand.New(rand.NewPCG(uint64(i), 42)), culprit: 1 + i%16, regress: 0.05, cv: 0.02}
		b := &Bench{Spec: simSpec, Measure: h.measure, Budget: 40}
		res, err := b.Bisect(context.Background(), commits)
		if err != nil {
			t.Fatal(err)
		}
		if res.Culprit == commits[h.culprit] {
			right++
		}
		rounds += res.Rounds
		samples += res.Samples
		h = &simHost{rng: rand.New(rand.NewPCG(uint64(i), 43)), culprit: -1, cv: 0.02}
		b.Measure = h.measure
		res, err = b.Bisect(context.Background(), commits)
		if err != nil {
			t.Fatal(err)
		}
		if res.Culprit == "" && res.Ends != EndsRegressed {
			none++
		}
	}
	// The same host, the good end measured once and every probe alone in a
	// session of its own (how bisect measured before): the sessions' clock
	// states, not the code, decide.
	once := 0
	for i := range trials {
		h := &simHost{rng: rand.New(rand.NewPCG(uint64(i), 42)), culprit: 1 + i%16, regress: 0.05, cv: 0.02}
		var goodS parse.Samples
		stored := func(ctx context.Context, good, commit string, rounds int) (parse.Samples, parse.Samples, error) {
			if goodS == nil {
				goodS, _, _ = h.measure(ctx, good, good, rounds)
			}
			_, c, err := h.measure(ctx, commit, commit, rounds)
			return goodS, c, err
		}
		res, err := (&Bench{Spec: simSpec, Measure: stored, Budget: 40}).Bisect(context.Background(), commits)
		if err != nil {
			t.Fatal(err)
		}
		if res.Culprit == commits[h.culprit] {
			once++
		}
	}
	t.Logf("good end measured once, probes alone: culprit right in %d/%d runs (%.1f%%)", once, trials, 100*float64(once)/trials)
	t.Logf("culprit right in %d/%d runs (%.1f%%), no culprit without a regression in %d/%d; mean %.1f judged pairs and %.0f runs per bisection",
		right, trials, 100*float64(right)/trials, none, trials, float64(rounds)/trials, float64(samples)/trials)
	if right < trials*95/100 {
		t.Errorf("right culprit in %d of %d runs, want >= 95%%", right, trials)
	}
	if none < trials*95/100 {
		t.Errorf("no culprit without a regression in %d of %d runs, want >= 95%%", none, trials)
	}
}

// TestBenchBisectEnds: nothing regressed between the ends, so no culprit and
// no probe; the ends measured, the pairs recorded.
func TestBenchBisectEnds(t *testing.T) {
	commits := synthetic(9)
	const noise = 0.0
	measure := func(bad int) PairMeasure {
		return func(_ context.Context, good, commit string, rounds int) (parse.Samples, parse.Samples, error) {
			var i int
			fmt.Sscanf(commit, "c%d", &i)
			g, c := stats.Interleaved(rounds, func(k int, isBase bool) float64 {
				v := 100 + float64(k%3) + noise
				if !isBase && bad >= 0 && i >= bad {
					v *= 1.2
				}
				return v
			})
			return parse.Samples{"wall-ms": g}, parse.Samples{"wall-ms": c}, nil
		}
	}
	b := &Bench{Spec: simSpec, Measure: measure(-1), Rounds: 5}
	res, err := b.Bisect(context.Background(), commits)
	if err != nil {
		t.Fatal(err)
	}
	if res.Culprit != "" || res.Ends != EndsNoRegression || res.Rounds != 1 || len(res.Pairs) != 1 || res.Pairs[0].Commit != "c08" || res.Samples != 10 {
		t.Errorf("no regression: %+v", res)
	}
	b.Measure = measure(3)
	res, err = b.Bisect(context.Background(), commits)
	if err != nil {
		t.Fatal(err)
	}
	if res.Culprit != "c03" || res.Ends != EndsRegressed || res.Pairs[0].Commit != "c08" || res.Pairs[0].Metric != "wall-ms" || res.Pairs[0].Change < 0.15 {
		t.Errorf("regression at c03: %+v", res)
	}
	b.Measure = func(context.Context, string, string, int) (parse.Samples, parse.Samples, error) {
		return nil, nil, errors.New("benchy: no JSON report on stdout")
	}
	if _, err := b.Bisect(context.Background(), commits); err == nil || !strings.Contains(err.Error(), "measuring the ends: benchy") {
		t.Errorf("ends failing to measure: %v", err)
	}
	if _, err := b.Bisect(context.Background(), commits[:1]); err == nil {
		t.Error("one commit accepted")
	}
}
