// Package parse reads benchmark tools' output into metric samples. Every parser
// returns a clear error naming the line and field it could not read, and never
// a partial result.
package parse

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/perf/benchfmt"
)

// Samples maps a metric name to its values, in the order the tool printed them.
type Samples map[string][]float64

// Names lists the metrics in sorted order.
func (s Samples) Names() []string {
	out := make([]string, 0, len(s))
	for k := range s {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Error is a parse failure, located in the tool's output.
type Error struct {
	Parser string
	Line   int    // 1-based; 0 when not tied to a line
	Field  string // JSON path or column, when known
	Msg    string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Parser)
	if e.Line > 0 {
		fmt.Fprintf(&b, ": line %d", e.Line)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, ": field %q", e.Field)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// Parsers by the names adapter.toml uses.
var Parsers = map[string]func([]byte) (Samples, error){
	"benchy":    Benchy,
	"criterion": Criterion,
	"gotest":    GoTest,
	"json":      JSON,
}

// Parse runs the named parser on a tool's standard output.
func Parse(parser string, stdout []byte) (Samples, error) {
	p, ok := Parsers[parser]
	if !ok {
		return nil, &Error{Parser: parser, Msg: "unknown parser (want benchy, criterion, gotest or json)"}
	}
	s, err := p(stdout)
	if err != nil {
		return nil, err
	}
	if err := CheckRange(s); err != nil {
		return nil, &Error{Parser: parser, Msg: err.Error()}
	}
	return s, nil
}

// HigherIsBetter is the direction assumed for a metric adapter.toml does not
// list: rates (a unit or name ending in "/s", "-per-second" or "-per-sec")
// are higher-is-better; everything else (times, sizes, counts) lower-is-better.
func HigherIsBetter(metric string) bool {
	m := strings.ToLower(metric)
	return strings.HasSuffix(m, "/s") || strings.HasSuffix(m, "-per-second") || strings.HasSuffix(m, "-per-sec")
}

// lastJSONLine finds the last line of out that looks like a JSON object: tools
// log around their report, and benchy's contract is one report line.
func lastJSONLine(out []byte) (line []byte, n int) {
	lines := bytes.Split(out, []byte("\n"))
	for i := len(lines) - 1; i >= 0; i-- {
		l := bytes.TrimSpace(lines[i])
		if len(l) > 0 && l[0] == '{' {
			return l, i + 1
		}
	}
	return nil, 0
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// criterionTime matches criterion's estimate line, which follows the benchmark
// ID on the same line when the ID is short and alone on the line before
// otherwise: "<id>   time:   [1.2 ms 1.3 ms 1.4 ms]".
var criterionTime = regexp.MustCompile(`^(.*?)\s*time:\s+\[(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\]`)

// Criterion reads the estimate lines criterion (0.3 and later) prints on
// stdout. The metric is the benchmark ID as printed, the value the middle
// (point) estimate in nanoseconds. Stdout rather than
// target/criterion/<id>/new/estimates.json because it belongs to this one run
// (the JSON file outlives runs and is shared by concurrent ones) and because
// the ID on stdout is the one users write in adapter.toml.
func Criterion(out []byte) (Samples, error) {
	s := Samples{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64*1024), 4<<20)
	prev, n := "", 0
	for sc.Scan() {
		n++
		raw := strings.TrimRight(sc.Text(), " \t\r")
		m := criterionTime.FindStringSubmatch(strings.TrimSpace(raw))
		if m == nil {
			if t := strings.TrimSpace(raw); t != "" {
				prev = t
			}
			continue
		}
		id := strings.TrimSpace(m[1])
		if id == "" {
			id = prev
		}
		if rest, ok := strings.CutPrefix(id, "Benchmarking "); ok {
			// Progress lines, when a tool sends them to stdout too.
			id = rest
			if i := strings.LastIndex(id, ": "); i > 0 {
				id = id[:i]
			}
		}
		if id == "" {
			return nil, &Error{Parser: "criterion", Line: n, Msg: "estimate line without a benchmark ID"}
		}
		v, err := criterionNS(m[4], m[5])
		if err != nil {
			return nil, &Error{Parser: "criterion", Line: n, Field: id, Msg: err.Error()}
		}
		s[id] = append(s[id], v)
		prev = ""
	}
	if err := sc.Err(); err != nil {
		return nil, &Error{Parser: "criterion", Line: n, Msg: err.Error()}
	}
	if len(s) == 0 {
		return nil, &Error{Parser: "criterion", Msg: `no "time: [...]" estimate lines on stdout`}
	}
	return s, nil
}

func criterionNS(num, unit string) (float64, error) {
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || !finite(v) || v < 0 {
		return 0, fmt.Errorf("bad estimate %q", num)
	}
	mult := map[string]float64{"ps": 1e-3, "ns": 1, "µs": 1e3, "us": 1e3, "μs": 1e3, "ms": 1e6, "s": 1e9}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("unknown time unit %q", unit)
	}
	return v * mult, nil
}

// GoTest reads `go test -bench` output (the Go benchmark format, through
// golang.org/x/perf/benchfmt). Each value becomes the metric
// "<BenchmarkName> <unit>" with the GOMAXPROCS suffix dropped, e.g.
// "BenchmarkEncode/small ns/op", in the unit the tool printed.
func GoTest(out []byte) (Samples, error) {
	r := benchfmt.NewReader(bytes.NewReader(out), "stdout")
	s := Samples{}
	for r.Scan() {
		switch rec := r.Result().(type) {
		case *benchfmt.SyntaxError:
			return nil, &Error{Parser: "gotest", Line: rec.Line, Msg: rec.Msg}
		case *benchfmt.Result:
			base, parts := rec.Name.Parts()
			name := "Benchmark" + string(base)
			for _, p := range parts {
				if len(p) > 0 && p[0] == '/' {
					name += string(p)
				}
			}
			for _, v := range rec.Values {
				// benchfmt tidies some units (ns/op to sec/op) and keeps the
				// printed ones in Orig*: report what the tool printed.
				unit, val := v.OrigUnit, v.OrigValue
				if unit == "" {
					unit, val = v.Unit, v.Value
				}
				if !finite(val) {
					_, line := rec.Pos()
					return nil, &Error{Parser: "gotest", Line: line, Field: unit, Msg: "not a finite number"}
				}
				k := name + " " + unit
				s[k] = append(s[k], val)
			}
		}
	}
	if err := r.Err(); err != nil {
		return nil, &Error{Parser: "gotest", Msg: err.Error()}
	}
	if len(s) == 0 {
		return nil, &Error{Parser: "gotest", Msg: "no Benchmark result lines"}
	}
	return s, nil
}

// JSON reads a generic report: the last line of stdout that holds a JSON
// object, or the whole of stdout when that is one object spread over lines.
// Every number becomes a metric; nested objects are flattened with "." (so
// {"db": {"read-ms": 3}} gives "db.read-ms"); an array of numbers gives one
// sample per element; strings, booleans and null are ignored.
func JSON(out []byte) (Samples, error) {
	var doc map[string]any
	n := 0
	if err := json.Unmarshal(bytes.TrimSpace(out), &doc); err != nil {
		line, ln := lastJSONLine(out)
		if line == nil {
			return nil, &Error{Parser: "json", Msg: "no JSON object on stdout"}
		}
		doc, n = nil, ln
		if err := json.Unmarshal(line, &doc); err != nil {
			return nil, &Error{Parser: "json", Line: ln, Msg: "bad JSON: " + err.Error()}
		}
	}
	s := Samples{}
	if err := flatten(s, "", doc); err != nil {
		err.Line = n
		return nil, err
	}
	if len(s) == 0 {
		return nil, &Error{Parser: "json", Line: n, Msg: "the object holds no numbers"}
	}
	return s, nil
}

func flatten(s Samples, prefix string, v any) *Error {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			name := k
			if prefix != "" {
				name = prefix + "." + k
			}
			if err := flatten(s, name, x); err != nil {
				return err
			}
		}
	case float64:
		s[prefix] = append(s[prefix], v)
	case []any:
		for i, x := range v {
			f, ok := x.(float64)
			if !ok {
				return &Error{Parser: "json", Field: fmt.Sprintf("%s[%d]", prefix, i), Msg: "arrays must hold numbers only"}
			}
			s[prefix] = append(s[prefix], f)
		}
	}
	return nil
}

// SampleFile reads a plain sample file, {"metric": [samples...]}, as given to
// `benchkit compare --baseline A.json --candidate B.json`. name is used in errors.
func SampleFile(name string, data []byte) (Samples, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%s: want a JSON object {\"metric\": [numbers...]}: %w", name, err)
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("%s: no metrics", name)
	}
	s := Samples{}
	for k, v := range raw {
		var xs []float64
		if err := json.Unmarshal(v, &xs); err != nil {
			return nil, fmt.Errorf("%s: field %q: want an array of numbers", name, k)
		}
		if len(xs) == 0 {
			return nil, fmt.Errorf("%s: field %q: no samples", name, k)
		}
		s[k] = xs
	}
	if err := CheckRange(s); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return s, nil
}
