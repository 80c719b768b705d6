package parse

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBenchyFixtures reads every output form of fil-proofs-tooling's benchy
// (testdata/README.md names the source of each).
func TestBenchyFixtures(t *testing.T) {
	tests := []struct {
		file    string
		metrics int // how many metrics the report holds
		want    map[string][]float64
	}{
		{"window-post-32gib.json", 16, map[string][]float64{
			"gen-window-post-wall-time-ms": {301442}, "seal-pre-commit-phase1-cpu-time-ms": {41873123}, "verify-window-post-wall-time-ms": {612},
		}},
		{"window-post-skip-phases.json", 16, map[string][]float64{
			"seal-commit-phase2-wall-time-ms": {0}, "gen-window-post-wall-time-ms": {301442},
		}},
		{"window-post-task-numbers-2.json", 16, map[string][]float64{
			"gen-window-post-wall-time-ms": {301442, 303175},
		}},
		{"window-post-fake.json", 4, map[string][]float64{"gen-window-post-wall-time-ms": {299871}}},
		{"winning-post-32gib.json", 6, map[string][]float64{
			"gen-winning-post-wall-time-ms": {951}, "gen-winning-post-sector-challenge-cpu-time-ms": {2},
		}},
		{"porep-2kib.json", 12, map[string][]float64{"seal-commit-phase2-wall-time-ms": {911}}},
		{"prodbench.json", 31, map[string][]float64{
			"porep_proof_gen_wall_time_ms": {1022}, "porep_constraints": {134217728}, "post_finalize_ticket_time_ms": {0},
		}},
		{"hash-constraints.json", 8, map[string][]float64{
			"blake2s-32-bytes-constraints": {10824}, "blake2s-256-bytes-constraints": {84576}, "pedersen-64-bytes-constraints": {2268},
		}},
		{"benchy-sh-window-post-32gib.json", 17, map[string][]float64{
			"max-resident-set-size-kb": {201326592}, "gen-window-post-wall-time-ms": {301442},
		}},
		{"benchy-sh-window-post-32gib-rss+10pct.json", 17, map[string][]float64{"max-resident-set-size-kb": {221459251}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			s, err := Parse("benchy", fixture(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if len(s) != tt.metrics {
				t.Errorf("%d metrics, want %d: %v", len(s), tt.metrics, s.Names())
			}
			for m, want := range tt.want {
				if !slices.Equal(s[m], want) {
					t.Errorf("%s = %v, want %v", m, s[m], want)
				}
			}
		})
	}
}

// TestBenchyLogsAroundReport: log lines before the report and after it do not
// disturb it; merkleproofs, which prints no report, is refused.
func TestBenchyLogsAroundReport(t *testing.T) {
	out := "2026-05-12T09:30:00.000 INFO benchy > Benchy Window PoSt: sector-size=34359738368\n" + string(fixture(t, "window-post-32gib.json")) + "\n2026-05-12T09:31:00.000 INFO benchy > done\n"
	s, err := Benchy([]byte(out))
	if err != nil || s["gen-window-post-wall-time-ms"][0] != 301442 {
		t.Fatalf("%v %v", s, err)
	}
	if _, err := Benchy([]byte("2026-05-12T09:30:00.000 INFO merkleproofs > generated 1024 proofs\n")); err == nil || !strings.Contains(err.Error(), "no JSON report on stdout") {
		t.Errorf("merkleproofs output: %v", err)
	}
}

// TestGatedMetrics: a gated metric that is missing or not a number fails the
// measurement naming it, its line and field; an ungated one does not.
func TestGatedMetrics(t *testing.T) {
	plain := fixture(t, "window-post-32gib.json")
	if _, err := Gated("benchy", plain, []string{"gen-window-post-wall-time-ms"}); err != nil {
		t.Fatal(err)
	}
	// The real adapter mistake: plain benchy has no RSS figure.
	_, err := Gated("benchy", plain, []string{"gen-window-post-wall-time-ms", "max-resident-set-size-kb"})
	var pe *Error
	if !errors.As(err, &pe) || pe.Field != "benchmarks.outputs.max-resident-set-size-kb" || !strings.Contains(err.Error(), "gated metric missing") {
		t.Fatalf("missing RSS: %v", err)
	}
	if _, err := Gated("benchy", fixture(t, "benchy-sh-window-post-32gib.json"), []string{"max-resident-set-size-kb"}); err != nil {
		t.Fatalf("benchy.sh RSS: %v", err)
	}
	// A string where the number should be, on line 5 of a pretty report.
	str := "{\n  \"benchmarks\": {\n    \"outputs\": {\n      \"gen-window-post-wall-time-ms\": 5,\n      \"max-resident-set-size-kb\": \"201326592\"\n    }\n  }\n}\n"
	if s, err := Parse("benchy", []byte(str)); err != nil || len(s) != 1 {
		t.Fatalf("ungated string: %v %v", s, err)
	}
	_, err = Gated("benchy", []byte(str), []string{"max-resident-set-size-kb"})
	if err == nil || err.Error() != `benchy: line 5: field "benchmarks.outputs.max-resident-set-size-kb": gated metric is not a number` {
		t.Fatalf("string RSS: %v", err)
	}
	if _, err := Gated("criterion", []byte(criterionOut), []string{"nope"}); err == nil || !strings.Contains(err.Error(), `field "nope": gated metric missing`) {
		t.Errorf("criterion: %v", err)
	}
	if _, err := Gated("benchy", []byte("no report"), nil); err == nil {
		t.Error("parse error not passed on")
	}
}

func TestCheckRange(t *testing.T) {
	if err := CheckRange(Samples{"m": {1, 2, 1e12}}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []Samples{{"m": {-1e308, 1e308}}, {"m": {1, 2e19}}} {
		if err := CheckRange(s); err == nil || !strings.Contains(err.Error(), `metric "m" sample`) {
			t.Errorf("%v: %v", s, err)
		}
	}
	if _, err := SampleFile("a.json", []byte(`{"m": [-1e308, 1e308]}`)); err == nil || !strings.Contains(err.Error(), `a.json: metric "m" sample 1`) {
		t.Errorf("sample file: %v", err)
	}
	if _, err := Parse("json", []byte(`{"m": [1, 1e300]}`)); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Errorf("json parser: %v", err)
	}
}

func FuzzBenchyForms(f *testing.F) {
	entries, _ := os.ReadDir("testdata")
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".json") {
			f.Add(fixture(f, e.Name()))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Gated("benchy", b, []string{"max-resident-set-size-kb"})
		checkContract(t, s, err)
		if err == nil && len(s["max-resident-set-size-kb"]) == 0 {
			t.Fatal("gated metric missing without an error")
		}
		for _, vs := range s {
			for _, v := range vs {
				if v < 0 || v > MaxSample {
					t.Fatalf("out of range %v accepted", v)
				}
			}
		}
	})
}
