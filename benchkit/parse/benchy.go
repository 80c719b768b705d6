package parse

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
)

// MaxSample bounds the magnitude of every sample benchkit accepts: 2^64, the
// largest value of the unsigned counters tools report (benchy prints u64
// milliseconds, bytes and counts). Anything larger is a broken report, and
// values near the float64 limit (±1e308) would overflow the pairwise
// differences of the shift estimate.
const MaxSample = 1 << 64

// CheckRange reports the first sample of s that is not finite or lies outside
// ±MaxSample, naming its metric and position.
func CheckRange(s Samples) error {
	for _, m := range s.Names() {
		for i, v := range s[m] {
			if !finite(v) || v > MaxSample || v < -MaxSample {
				return fmt.Errorf("metric %q sample %d: %g is out of range (want a finite number within ±2^64)", m, i+1, v)
			}
		}
	}
	return nil
}

// benchyField is where a benchy report put a value that is not a number, so
// that a gated metric of that name is reported as such.
type benchyField struct {
	line  int
	field string
}

// Benchy reads fil-proofs-tooling's benchy reports (docs/benchkit.md lists the
// forms, benchkit/parse/testdata holds one fixture of each):
//
//   - window-post, window-post-fake, winning-post, porep: one compact JSON
//     object {"git", "system", "benchmarks": {"inputs", "outputs"}} without a
//     trailing newline; window-post --task-numbers N prints N such objects
//     back to back, each one sample.
//   - prodbench: the same wrapper, with snake_case output keys.
//   - hash-constraints: "benchmarks" is an array of {hash-fn, constraints,
//     bytes}; each hash function and input size is its own metric,
//     "<hash-fn>-<bytes>-bytes-constraints".
//   - scripts/benchy.sh: jq's pretty-printed merge of the report with GNU
//     time's {"benchmarks": {"outputs": {"max-resident-set-size-kb": N}}},
//     over many lines. A top-level "max-resident-set-size-kb" is read too.
//
// Log lines before the first line that starts with "{" and after the last
// report are ignored. Numeric outputs become metrics under their own names;
// outputs that are not numbers (none today) are skipped unless gated (see
// Gated). Every value must be a non-negative number up to 2^64.
func Benchy(out []byte) (Samples, error) {
	s, _, err := benchy(out)
	return s, err
}

// reportStart finds the first line of out that starts with "{": its number
// and byte offset, or 0 and -1.
func reportStart(out []byte) (line, start int) {
	for off := 0; off < len(out); line++ {
		end := bytes.IndexByte(out[off:], '\n')
		if end < 0 {
			end = len(out) - off
		}
		if l := bytes.TrimSpace(out[off : off+end]); len(l) > 0 && l[0] == '{' {
			return line + 1, off
		}
		off += end + 1
	}
	return 0, -1
}

func benchy(out []byte) (Samples, map[string]benchyField, error) {
	_, start := reportStart(out)
	if start < 0 {
		return nil, nil, &Error{Parser: "benchy", Msg: "no JSON report on stdout"}
	}
	lineAt := func(off int) int { return 1 + bytes.Count(out[:off], []byte("\n")) }
	s := Samples{}
	skipped := map[string]benchyField{}
	dec := json.NewDecoder(bytes.NewReader(out[start:]))
	dec.UseNumber()
	for reports := 0; ; reports++ {
		off := start + int(dec.InputOffset())
		rest := bytes.TrimLeft(out[off:], " \t\r\n")
		if len(rest) == 0 || (reports > 0 && rest[0] != '{') {
			break // the end, or log lines after the reports
		}
		off = len(out) - len(rest)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, &Error{Parser: "benchy", Line: lineAt(off), Msg: "bad JSON: " + err.Error()}
		}
		r := benchyReport{out: out, off: off, line: lineAt, s: s, skipped: skipped}
		if err := r.read(raw); err != nil {
			return nil, nil, err
		}
	}
	if len(s) == 0 {
		return nil, nil, &Error{Parser: "benchy", Line: lineAt(start), Field: "benchmarks.outputs", Msg: "no numeric outputs"}
	}
	return s, skipped, nil
}

// benchyReport reads one report object that starts at out[off].
type benchyReport struct {
	out     []byte
	off     int
	line    func(off int) int
	s       Samples
	skipped map[string]benchyField
}

// lineOf finds the line of the first occurrence of key (quoted) in the
// report: reports from benchy.sh spread over many lines.
func (r *benchyReport) lineOf(key string) int {
	q, _ := json.Marshal(key)
	if i := bytes.Index(r.out[r.off:], q); i >= 0 {
		return r.line(r.off + i)
	}
	return r.line(r.off)
}

func (r *benchyReport) fail(key, field, msg string) error {
	return &Error{Parser: "benchy", Line: r.lineOf(key), Field: field, Msg: msg}
}

func (r *benchyReport) read(raw json.RawMessage) error {
	var top map[string]json.RawMessage
	if err := unmarshalNumbers(raw, &top); err != nil {
		return &Error{Parser: "benchy", Line: r.line(r.off), Msg: "the report is not a JSON object"}
	}
	b, ok := top["benchmarks"]
	if !ok || string(b) == "null" {
		return &Error{Parser: "benchy", Line: r.line(r.off), Field: "benchmarks", Msg: "missing"}
	}
	if rss, ok := top["max-resident-set-size-kb"]; ok {
		if err := r.number("max-resident-set-size-kb", "max-resident-set-size-kb", rss); err != nil {
			return err
		}
	}
	if bytes.HasPrefix(bytes.TrimSpace(b), []byte("[")) {
		return r.hashConstraints(b)
	}
	var bm map[string]json.RawMessage
	if err := unmarshalNumbers(b, &bm); err != nil {
		return r.fail("benchmarks", "benchmarks", "want an object {inputs, outputs} or an array (hash-constraints)")
	}
	outputs, ok := bm["outputs"]
	if !ok || string(outputs) == "null" {
		return r.fail("benchmarks", "benchmarks.outputs", "missing")
	}
	var o map[string]json.RawMessage
	if err := unmarshalNumbers(outputs, &o); err != nil {
		return r.fail("outputs", "benchmarks.outputs", "want an object")
	}
	keys := make([]string, 0, len(o))
	for k := range o {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := r.number(k, "benchmarks.outputs."+k, o[k]); err != nil {
			return err
		}
	}
	return nil
}

// number records raw as a sample of metric, or notes it as skipped when it is
// not a number.
func (r *benchyReport) number(metric, field string, raw json.RawMessage) error {
	var n json.Number
	if err := unmarshalNumbers(raw, &n); err != nil || !isNumberLiteral(raw) {
		if _, seen := r.skipped[metric]; !seen {
			r.skipped[metric] = benchyField{line: r.lineOf(metric), field: field}
		}
		return nil
	}
	v, err := strconv.ParseFloat(n.String(), 64)
	if err != nil || !finite(v) || v < 0 || v > MaxSample {
		return r.fail(metric, field, fmt.Sprintf("%s is out of range (benchy reports unsigned integers up to 2^64)", n))
	}
	r.s[metric] = append(r.s[metric], v)
	return nil
}

// hashConstraints reads hash-constraints' array of {hash-fn, constraints, bytes}.
func (r *benchyReport) hashConstraints(b json.RawMessage) error {
	var list []map[string]json.RawMessage
	if err := unmarshalNumbers(b, &list); err != nil {
		return r.fail("benchmarks", "benchmarks", "want an array of {hash-fn, constraints, bytes}")
	}
	for i, item := range list {
		field := fmt.Sprintf("benchmarks[%d]", i)
		var name string
		if err := json.Unmarshal(item["hash-fn"], &name); err != nil || name == "" {
			return r.fail("hash-fn", field+".hash-fn", "missing or not a string")
		}
		var size json.Number
		if err := unmarshalNumbers(item["bytes"], &size); err != nil || !isNumberLiteral(item["bytes"]) {
			return r.fail("bytes", field+".bytes", "missing or not a number")
		}
		if v, err := strconv.ParseUint(size.String(), 10, 64); err != nil || v == 0 {
			return r.fail("bytes", field+".bytes", fmt.Sprintf("%s is not a positive integer", size))
		}
		c, ok := item["constraints"]
		if !ok {
			return r.fail("hash-fn", field+".constraints", "missing")
		}
		if err := r.number(fmt.Sprintf("%s-%s-bytes-constraints", name, size), field+".constraints", c); err != nil {
			return err
		}
	}
	return nil
}

// isNumberLiteral tells a JSON number from a string holding one, which
// json.Number accepts too.
func isNumberLiteral(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) > 0 && (t[0] == '-' || t[0] >= '0' && t[0] <= '9')
}

func unmarshalNumbers(raw json.RawMessage, v any) error {
	if len(raw) == 0 {
		return fmt.Errorf("empty")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	return dec.Decode(v)
}

// Gated parses a tool's output like Parse and then requires every metric of
// gated: a gated metric that is missing, or that the tool printed as
// something other than a number, fails the measurement with its name and
// where it was expected, so that a gate never passes on a metric nobody
// measured.
func Gated(parser string, out []byte, gated []string) (Samples, error) {
	var s Samples
	var skipped map[string]benchyField
	var err error
	if parser == "benchy" {
		s, skipped, err = benchy(out)
	} else {
		s, err = Parse(parser, out)
	}
	if err != nil {
		return nil, err
	}
	names := append([]string(nil), gated...)
	sort.Strings(names)
	for _, m := range names {
		if _, ok := s[m]; ok {
			continue
		}
		if f, ok := skipped[m]; ok {
			return nil, &Error{Parser: parser, Line: f.line, Field: f.field, Msg: "gated metric is not a number"}
		}
		e := &Error{Parser: parser, Field: m, Msg: "gated metric missing from the output (reported: " + joinNames(s) + ")"}
		if parser == "benchy" {
			e.Field = "benchmarks.outputs." + m
			e.Line, _ = reportStart(out)
		}
		return nil, e
	}
	return s, nil
}

func joinNames(s Samples) string {
	names := s.Names()
	if len(names) > 8 {
		names = append(names[:8], fmt.Sprintf("and %d more", len(s)-8))
	}
	out := ""
	for i, n := range names {
		if i > 0 {
			out += ", "
		}
		out += n
	}
	return out
}
