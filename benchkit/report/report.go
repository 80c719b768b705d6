// Package report renders bench judgements: Markdown for pull-request comments
// and e-mail, JSON for machines, and an SVG trend chart per metric.
package report

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"math"
	"sort"
	"strings"

	"github.com/ironworks-ci/ironworks/benchkit/gate"
	"github.com/ironworks-ci/ironworks/benchkit/results"
	"github.com/ironworks-ci/ironworks/benchkit/stats"
)

// Report is every judgement of one candidate.
type Report struct {
	ID         string            `json:"id"`
	Candidate  string            `json:"candidate"`
	State      string            `json:"state"` // pass | fail | inconclusive | no-baseline
	Judgements []*gate.Judgement `json:"judgements"`
	Acks       []results.Ack     `json:"acks"`
}

// New combines judgements into a report whose ID is a hash of its content, so
// the same evidence always has the same ID.
func New(candidate string, js []*gate.Judgement, acks []results.Ack) *Report {
	r := &Report{Candidate: candidate, Judgements: js, Acks: acks, State: gate.Pass}
	if acks == nil {
		r.Acks = []results.Ack{}
	}
	rank := map[string]int{gate.Pass: 0, gate.NoBaseline: 1, gate.Inconclusive: 2, gate.Fail: 3}
	for _, j := range js {
		if rank[j.State] > rank[r.State] {
			r.State = j.State
		}
	}
	b, _ := json.Marshal(r)
	sum := sha256.Sum256(b)
	r.ID = "bench-" + hex.EncodeToString(sum[:])[:16]
	return r
}

// JSON renders the report.
func (r *Report) JSON() ([]byte, error) { return json.MarshalIndent(r, "", "  ") }

var icons = map[string]string{
	stats.Regressed: "🔴 regressed", stats.Improved: "🟢 improved", stats.Unchanged: "⚪ unchanged", stats.Inconclusive: "🟡 inconclusive",
}

// Markdown renders the report for a PR comment or an e-mail body.
func (r *Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "### Benchmarks of candidate `%s`: %s\n\n", r.Candidate, strings.ToUpper(r.State))
	for _, j := range r.Judgements {
		fmt.Fprintf(&b, "#### %s / %s (host class `%s`)\n\n", mdEscape(j.Series.Component), mdEscape(j.Series.Bench), j.Series.HostClass)
		if j.State == gate.NoBaseline {
			b.WriteString("No released candidate was measured on this host class: these samples are recorded, not judged.\n\n")
			continue
		}
		if j.Rounds > 0 {
			fmt.Fprintf(&b, "Baseline: candidate `%s`, measured side by side with this one in %d interleaved rounds.\n\n", j.Baseline, j.Rounds)
		} else {
			fmt.Fprintf(&b, "Baseline: released candidate `%s`.\n\n", j.Baseline)
		}
		b.WriteString("| metric | baseline | candidate | change | 99% interval | p | threshold | verdict |\n|---|---:|---:|---:|---:|---:|---:|---|\n")
		ms := append([]gate.MetricVerdict(nil), j.Metrics...)
		sort.SliceStable(ms, func(a, c int) bool { return ms[a].Gating && !ms[c].Gating })
		for _, m := range ms {
			v := icons[m.Verdict]
			if m.Borderline {
				v += " (borderline)"
			}
			if m.Acked != nil {
				v += fmt.Sprintf(" — acknowledged by %s: %s", mdEscape(orDash(m.Acked.By)), mdEscape(m.Acked.Reason))
			}
			if !m.Gating {
				v += " (informational)"
			}
			if m.Verdict == stats.Inconclusive && m.Note != "" {
				v += " — " + mdEscape(m.Note)
			}
			if m.BaseOutliers+m.CandOutliers > 0 {
				v += fmt.Sprintf(" (outliers: %d baseline, %d candidate)", m.BaseOutliers, m.CandOutliers)
			}
			fmt.Fprintf(&b, "| %s | %s (n=%d) | %s (n=%d) | %s | %s | %s | %.3g%% | %s |\n",
				mdEscape(m.Metric), num(m.BaseMedian), m.BaseN, num(m.CandMedian), m.CandN,
				pct(m.Change), interval(m.ChangeLo, m.ChangeHi), pval(m.P), m.Threshold*100, v)
		}
		b.WriteString("\n")
	}
	if len(r.Acks) > 0 {
		b.WriteString("Acknowledged regressions:\n\n")
		for _, a := range r.Acks {
			fmt.Fprintf(&b, "- `%s`%s: %s (%s)\n", mdEscape(a.Metric), benchSuffix(a.Bench), mdEscape(a.Reason), mdEscape(orDash(a.By)))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "<sub>Report %s. Medians; change is the Hodges-Lehmann shift; verdicts by Mann-Whitney U at p < 0.01 and a change of at least half the threshold.</sub>\n", r.ID)
	return b.String()
}

func benchSuffix(b string) string {
	if b == "" {
		return ""
	}
	return " in " + mdEscape(b)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// mdEscape keeps metric names and reasons from breaking the table or
// injecting markup.
func mdEscape(s string) string {
	r := strings.NewReplacer("|", `\|`, "\n", " ", "\r", " ", "<", "&lt;", ">", "&gt;", "`", "'", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`)
	return r.Replace(s)
}

func num(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e6 || (a > 0 && a < 1e-3):
		return fmt.Sprintf("%.4g", v)
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	default:
		return fmt.Sprintf("%.4g", v)
	}
}

func pct(f float64) string { return fmt.Sprintf("%+.2f%%", f*100) }

func interval(lo, hi float64) string {
	if math.Abs(lo) >= stats.Unbounded || math.Abs(hi) >= stats.Unbounded {
		return "unbounded"
	}
	return fmt.Sprintf("[%+.2f%%, %+.2f%%]", lo*100, hi*100)
}

func pval(p float64) string {
	if p < 0.0001 {
		return "<0.0001"
	}
	return fmt.Sprintf("%.4f", p)
}

// SVG draws a metric's trend: the median of each recent candidate (released
// ones filled), and the baseline band, the baseline median ± the threshold.
func SVG(metric string, points []results.Point, baseline, threshold float64) string {
	const w, h, left, right, top, bottom = 640.0, 260.0, 70.0, 20.0, 30.0, 40.0
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="11">`+"\n", w, h, w, h)
	fmt.Fprintf(&b, `<title>%s</title>`+"\n", esc(metric))
	fmt.Fprintf(&b, `<text x="%.0f" y="18" font-size="13">%s</text>`+"\n", left, esc(metric))
	if len(points) == 0 {
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f">no samples</text></svg>`+"\n", left, h/2)
		return b.String()
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range points {
		lo, hi = math.Min(lo, p.Median), math.Max(hi, p.Median)
	}
	bandLo, bandHi := baseline*(1-threshold), baseline*(1+threshold)
	if baseline != 0 {
		lo, hi = math.Min(lo, bandLo), math.Max(hi, bandHi)
	}
	if hi == lo {
		hi, lo = hi+1, lo-1
	}
	pad := (hi - lo) * 0.08
	lo, hi = lo-pad, hi+pad
	y := func(v float64) float64 { return top + (hi-v)/(hi-lo)*(h-top-bottom) }
	x := func(i int) float64 {
		if len(points) == 1 {
			return (left + w - right) / 2
		}
		return left + float64(i)/float64(len(points)-1)*(w-left-right)
	}
	fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" fill="none" stroke="#ccc"/>`+"\n", left, top, w-left-right, h-top-bottom)
	if baseline != 0 {
		fmt.Fprintf(&b, `<rect class="band" x="%.0f" y="%.1f" width="%.0f" height="%.1f" fill="#2a7" fill-opacity="0.15"><title>baseline %s ± %.3g%%</title></rect>`+"\n",
			left, y(bandHi), w-left-right, y(bandLo)-y(bandHi), esc(num(baseline)), threshold*100)
		fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#2a7" stroke-dasharray="4 3"/>`+"\n", left, w-right, y(baseline), y(baseline))
	}
	for _, v := range []float64{lo + pad, hi - pad} {
		fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, y(v)+4, esc(num(v)))
	}
	var path strings.Builder
	for i, p := range points {
		if i == 0 {
			fmt.Fprintf(&path, "M%.1f %.1f", x(i), y(p.Median))
		} else {
			fmt.Fprintf(&path, " L%.1f %.1f", x(i), y(p.Median))
		}
	}
	fmt.Fprintf(&b, `<path d="%s" fill="none" stroke="#36c" stroke-width="1.5"/>`+"\n", path.String())
	for i, p := range points {
		fill := "#fff"
		if p.Released {
			fill = "#36c"
		}
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="4" fill="%s" stroke="#36c"><title>%s: %s</title></circle>`+"\n",
			x(i), y(p.Median), fill, esc(p.Candidate), esc(num(p.Median)))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle">%s</text>`+"\n", x(i), h-bottom+16, esc(short(p.Candidate)))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func short(s string) string {
	if r := []rune(s); len(r) > 8 {
		return string(r[:8])
	}
	return s
}

// esc makes s safe as SVG (XML) text: markup escaped, and the characters XML
// 1.0 forbids even escaped dropped.
func esc(s string) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' && r != '\n' || r == 0xFFFE || r == 0xFFFF {
			return -1
		}
		return r
	}, s)
	return html.EscapeString(s)
}
