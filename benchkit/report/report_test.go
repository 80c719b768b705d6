package report

import (
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/ironworks-ci/ironworks/benchkit/gate"
	"github.com/ironworks-ci/ironworks/benchkit/parse"
	"github.com/ironworks-ci/ironworks/benchkit/results"
	"github.com/ironworks-ci/ironworks/benchkit/stats"
	"github.com/ironworks-ci/ironworks/coordinator/config"
)

func wellFormed(t *testing.T, svg string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(svg))
	for {
		_, err := d.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v\n%s", err, svg)
		}
	}
}

func TestSVG(t *testing.T) {
	pts := []results.Point{
		{Candidate: "rel1", Median: 100, Released: true, At: time.Unix(1, 0)},
		{Candidate: `<script>"&'`, Median: 104},
		{Candidate: "c3\x01ü", Median: 130},
	}
	svg := SVG(`wall <ms> & "quotes"`, pts, 100, 0.05)
	wellFormed(t, svg)
	if strings.Contains(svg, "<script>") || !strings.Contains(svg, "&lt;script&gt;") {
		t.Error("labels not escaped")
	}
	if strings.Count(svg, "<circle") != 3 || !strings.Contains(svg, `class="band"`) || !strings.Contains(svg, `fill="#36c" stroke`) {
		t.Errorf("points, band or released marker missing:\n%s", svg)
	}
	wellFormed(t, SVG("empty", nil, 0, 0.05))
	wellFormed(t, SVG("flat", []results.Point{{Candidate: "a", Median: 5}}, 0, 0.05))
}

func TestMarkdown(t *testing.T) {
	j := &gate.Judgement{Candidate: "c2", Baseline: "rel1", State: gate.Fail,
		Series: results.Series{Component: "rust-fil-proofs", Bench: "window-post-32gib", HostClass: "abc123"},
		Metrics: []gate.MetricVerdict{
			{Metric: "gen|wall", Gating: true, Result: stats.Result{Verdict: stats.Regressed, Borderline: true, Change: 0.06, ChangeLo: 0.02, ChangeHi: 0.09, P: 0.004, BaseMedian: 100, CandMedian: 106, BaseN: 10, CandN: 20, Threshold: 0.05}},
			{Metric: "benchkit.wall-ms", Result: stats.Result{Verdict: stats.Inconclusive, ChangeLo: -stats.Unbounded, ChangeHi: stats.Unbounded, P: 0.3, Threshold: 0.05}},
		}}
	acks := []results.Ack{{Candidate: "c2", Metric: "rss", Reason: "needed | for *speed*", By: "dan"}}
	r := New("c2", []*gate.Judgement{j, {Candidate: "c2", State: gate.NoBaseline, Series: results.Series{Component: "m", Bench: "b"}}}, acks)
	md := r.Markdown()
	for _, want := range []string{"FAIL", "gen\\|wall", "(borderline)", "+6.00%", "[+2.00%, +9.00%]", "unbounded", "(informational)", "needed \\| for \\*speed\\*", "No released candidate", r.ID} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if r.State != gate.Fail {
		t.Errorf("state %s", r.State)
	}
	if New("c2", []*gate.Judgement{j}, acks).ID != r.ID && New("c2", []*gate.Judgement{j}, nil).ID == r.ID {
		t.Error("report IDs do not follow content")
	}
	if _, err := r.JSON(); err != nil {
		t.Errorf("JSON with infinite bounds: %v", err)
	}
}

// A gated metric the candidate did not report says so, with its threshold,
// instead of looking like a tiny p-value at threshold 0%.
func TestReportMissingMetric(t *testing.T) {
	spec := &config.Bench{Metrics: map[string]config.Metric{"max-resident-set-size-kb": {Direction: "lower", Threshold: config.Percent{Fraction: 0.03}}}}
	j := gate.Decide(&gate.Judgement{Candidate: "c", Baseline: "b", Series: results.Series{Component: "x", Bench: "y"}},
		parse.Samples{"wall": {1, 2, 3}}, parse.Samples{"wall": {1, 2, 3}}, spec, nil)
	md := New("c", []*gate.Judgement{j}, nil).Markdown()
	if !strings.Contains(md, "the candidate did not report this metric") || !strings.Contains(md, "| 3% |") || strings.Contains(md, "<0.0001") {
		t.Errorf("report:\n%s", md)
	}
}
