package parse

import (
	"errors"
	"strings"
	"testing"
)

const benchyWindowPost = `2026-01-01T00:00:00 INFO window-post: starting
{"git":{"hash":"abc","date":"2026-01-01"},"system":{"system":"Linux","processor-cores-logical":32,"memory-total-bytes":274877906944},"benchmarks":{"inputs":{"sector-size":34359738368},"outputs":{"gen-window-post-cpu-time-ms":81234,"gen-window-post-wall-time-ms":5123,"verify-window-post-wall-time-ms":12,"seal-commit-phase2-wall-time-ms":0}},"max-resident-set-size-kb":1048576}
`

const criterionOut = `
running 0 tests

get merkle-tree leafs 1mib
                        time:   [1.2340 ms 1.2400 ms 1.2460 ms]
                        change: [-1.0% +0.2% +1.1%] (p = 0.61 > 0.05)
                        No change in performance detected.
Found 3 outliers among 100 measurements (3.00%)
short                   time:   [812.10 ns 815.00 µs 820.00 ns]
tiny                    time:   [10.0 ps 12.0 ps 14.0 ps]
`

const goTestOut = `goos: linux
goarch: amd64
pkg: example.com/x
cpu: Some CPU
BenchmarkEncode/small-8         	 1000000	      1052 ns/op	     128 B/op	       2 allocs/op
BenchmarkEncode/small-8         	 1000000	      1048 ns/op	     128 B/op	       2 allocs/op
BenchmarkHash-8                 	     500	   2400000 ns/op	 436.90 MB/s
PASS
ok  	example.com/x	3.2s
`

func TestParsers(t *testing.T) {
	tests := []struct {
		parser, out string
		want        map[string][]float64
	}{
		{"benchy", benchyWindowPost, map[string][]float64{
			"gen-window-post-wall-time-ms": {5123}, "gen-window-post-cpu-time-ms": {81234},
			"max-resident-set-size-kb": {1048576}, "seal-commit-phase2-wall-time-ms": {0},
		}},
		{"criterion", criterionOut, map[string][]float64{
			"get merkle-tree leafs 1mib": {1.24e6}, "short": {815e3}, "tiny": {0.012},
		}},
		{"gotest", goTestOut, map[string][]float64{
			"BenchmarkEncode/small ns/op": {1052, 1048}, "BenchmarkEncode/small B/op": {128, 128},
			"BenchmarkHash ns/op": {2.4e6}, "BenchmarkHash MB/s": {436.9},
		}},
		{"json", "log line\n{\"a\": 1.5, \"nested\": {\"b\": 2}, \"arr\": [1, 2, 3], \"label\": \"x\"}\n", map[string][]float64{
			"a": {1.5}, "nested.b": {2}, "arr": {1, 2, 3},
		}},
		{"json", "{\n  \"multi\": 4\n}\n", map[string][]float64{"multi": {4}}},
	}
	for _, tt := range tests {
		t.Run(tt.parser, func(t *testing.T) {
			got, err := Parse(tt.parser, []byte(tt.out))
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range tt.want {
				g := got[k]
				if len(g) != len(want) {
					t.Fatalf("%s = %v, want %v (all: %v)", k, g, want, got)
				}
				for i := range want {
					if d := g[i] - want[i]; d > 1e-9*want[i]+1e-12 || d < -1e-9*want[i]-1e-12 {
						t.Errorf("%s[%d] = %v, want %v", k, i, g[i], want[i])
					}
				}
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		parser, out, want string
	}{
		{"benchy", "only logs\n", "no JSON report on stdout"},
		{"benchy", `{"git":{}}`, `field "benchmarks": missing`},
		{"benchy", `{"benchmarks":{"inputs":{}}}`, `field "benchmarks.outputs": missing`},
		{"benchy", `{"benchmarks":{"outputs":{"a":"x"}}}`, "no numeric outputs"},
		{"benchy", `{"benchmarks":{"outputs":{"a":1}},"max-resident-set-size-kb":-4}`, `field "max-resident-set-size-kb": -4 is out of range`},
		{"benchy", `{"benchmarks":{"outputs":{"a":1e308}}}`, `field "benchmarks.outputs.a": 1e308 is out of range`},
		{"benchy", `{"benchmarks":[{"constraints":1}]}`, `field "benchmarks[0].hash-fn": missing`},
		{"benchy", `{"benchmarks":[{"hash-fn":"sha256","constraints":1}]}`, `field "benchmarks[0].bytes"`},
		{"benchy", `{"benchmarks":[{"hash-fn":"sha256","bytes":32}]}`, `field "benchmarks[0].constraints": missing`},
		{"benchy", `{"benchmarks":[{"hash-fn":"sha256","bytes":-3,"constraints":1}]}`, `-3 is not a positive integer`},
		{"benchy", `{"benchmarks":"x"}`, `field "benchmarks": want an object`},
		{"benchy", `{"benchmarks":{"outputs":[1]}}`, `field "benchmarks.outputs": want an object`},
		{"benchy", "{\"benchmarks\":{\"outputs\":{\"a\":1}}}{\"benchmarks\":", "line 1: bad JSON"},
		{"benchy", "{\n  \"benchmarks\": {\n    \"outputs\": {\n      \"m\": -1\n    }\n  }\n}\n", `benchy: line 4: field "benchmarks.outputs.m"`},
		{"benchy", `[1, 2]`, "no JSON report on stdout"},
		{"benchy", `{"git":1}{"benchmarks":{"outputs":{"a":1}}}`, `field "benchmarks": missing`},
		{"benchy", `{"benchmarks": {`, "bad JSON"},
		{"criterion", "nothing here\n", "no \"time: [...]\""},
		{"criterion", "x time: [1 ms 2 furlongs 3 ms]\n", `unknown time unit "furlongs"`},
		{"criterion", "   time:   [1 ms 2 ms 3 ms]\n", "line 1: estimate line without a benchmark ID"},
		{"gotest", "PASS\n", "no Benchmark result lines"},
		{"gotest", "BenchmarkX-8 100 abc ns/op\n", "gotest: line 1"},
		{"json", "no object\n", "no JSON object"},
		{"json", "{\"a\": \"x\"}", "holds no numbers"},
		{"json", "{\"a\": [1, \"x\"]}", `field "a[1]"`},
		{"json", "{\"a\": }", "bad JSON"},
		{"nope", "", "unknown parser"},
	}
	for _, tt := range tests {
		t.Run(tt.parser+"/"+tt.want, func(t *testing.T) {
			got, err := Parse(tt.parser, []byte(tt.out))
			if err == nil {
				t.Fatalf("no error; got %v", got)
			}
			var pe *Error
			if !errors.As(err, &pe) {
				t.Errorf("error %T is not *parse.Error", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

func TestSampleFile(t *testing.T) {
	s, err := SampleFile("a.json", []byte(`{"wall-ms": [1, 2, 3], "rss": [4]}`))
	if err != nil || len(s["wall-ms"]) != 3 || s["rss"][0] != 4 {
		t.Fatalf("%v %v", s, err)
	}
	for _, tt := range []struct{ in, want string }{
		{`[1,2]`, "b.json: want a JSON object"},
		{`{}`, "b.json: no metrics"},
		{`{"m": "x"}`, `b.json: field "m": want an array of numbers`},
		{`{"m": [1, "x"]}`, `b.json: field "m"`},
		{`{"m": []}`, `b.json: field "m": no samples`},
	} {
		if _, err := SampleFile("b.json", []byte(tt.in)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.in, err, tt.want)
		}
	}
}

func TestHigherIsBetter(t *testing.T) {
	for m, want := range map[string]bool{
		"BenchmarkHash MB/s": true, "throughput-per-second": true, "gen-window-post-wall-time-ms": false,
		"max-resident-set-size-kb": false, "BenchmarkX ns/op": false,
	} {
		if HigherIsBetter(m) != want {
			t.Errorf("HigherIsBetter(%q) = %v", m, !want)
		}
	}
}

// The fuzz targets check the parsers' contract on any input: no panic, and
// either an error or at least one metric with only finite values.
func checkContract(t *testing.T, s Samples, err error) {
	if err != nil {
		if s != nil {
			t.Fatalf("partial result %v with error %v", s, err)
		}
		return
	}
	if len(s) == 0 {
		t.Fatal("no error and no metrics")
	}
	for k, vs := range s {
		for _, v := range vs {
			if !finite(v) {
				t.Fatalf("%s: non-finite %v", k, v)
			}
		}
	}
}

func FuzzBenchy(f *testing.F) {
	for _, s := range []string{benchyWindowPost, `{"benchmarks":{"outputs":{}}}`, "{"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { s, err := Benchy(b); checkContract(t, s, err) })
}

func FuzzCriterion(f *testing.F) {
	for _, s := range []string{criterionOut, "a time: [1 s 2 s 3 s]", "time: [1 ns 2 ns 3 ns]"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { s, err := Criterion(b); checkContract(t, s, err) })
}

func FuzzGoTest(f *testing.F) {
	for _, s := range []string{goTestOut, "BenchmarkX 1 1 ns/op", "Unit ns/op assume=exact\nBenchmarkX 1 2 ns/op"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { s, err := GoTest(b); checkContract(t, s, err) })
}

func FuzzJSON(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a":{"b":[1,2]}}`, "x\n{\"a\":1e308}", `{"a":[]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := JSON(b)
		if err == nil {
			// An empty array is a metric without samples; everything else has values.
			for k, vs := range s {
				for _, v := range vs {
					if !finite(v) {
						t.Fatalf("%s: %v", k, v)
					}
				}
			}
		} else if s != nil {
			t.Fatal("partial result")
		}
	})
}

func FuzzSampleFile(f *testing.F) {
	for _, s := range []string{`{"m":[1,2,3]}`, `{"m":[]}`, `[]`, `{"m":[1,"x"]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := SampleFile("f.json", b)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.json: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for k, vs := range s {
			if len(vs) == 0 {
				t.Fatalf("%s: accepted without samples", k)
			}
		}
	})
}
