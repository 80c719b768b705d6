package main

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ironworks-ci/ironworks/coordinator/benchqueue"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

const rss = "max-resident-set-size-kb"

// benchStatusOf is the bench gate of a candidate and its harden runs as
// `coordinator status --json` prints them.
func (s *benchStory) benchStatusOf(cand string) (*benchqueue.Summary, []RunStatus) {
	s.t.Helper()
	var st Status
	if err := json.Unmarshal([]byte(s.coordinator(exitOK, "status", "--json")), &st); err != nil {
		s.t.Fatal(err)
	}
	for _, c := range st.Candidates {
		if c.ID == cand {
			var harden []RunStatus
			for _, r := range c.Runs {
				if r.Stage == "harden" {
					harden = append(harden, r)
				}
			}
			return c.Bench, harden
		}
	}
	s.t.Fatalf("status lists no candidate %s", cand)
	return nil, nil
}

// TestBenchAckLetsAcceptedRegressionThrough: a candidate using 10% more
// memory than the release fails its bench-only harden gate (run --once
// exits 1; status says the gate failed on the RSS). Acknowledgements that
// name no regression the gate found are refused with what was wrong, and
// change nothing. `bench-ack` of the RSS regression (by a prefix of the
// candidate's ID) makes the next `run --once` re-check the gate, count the
// metric as accepted and promote harden; status and the report show who
// accepted it and why. A later candidate with the same regression, measured
// against the same release, still fails: an acknowledgement belongs to its
// candidate. `promote` releases the acknowledged candidate; its manifest
// lists the passing report, its verdict and the acknowledgement with the
// regression it accepted.
func TestBenchAckLetsAcceptedRegressionThrough(t *testing.T) {
	s := newBenchStory(t)
	ctx := context.Background()
	released := s.releaseBaseline()
	next, out := s.regress(released)

	// Failed, and status says why.
	sum, harden := s.benchStatusOf(next)
	if sum == nil || sum.State != benchqueue.StateFail || len(sum.Regressions) != 1 || len(sum.Acks) != 0 {
		t.Fatalf("bench status of the regression: %+v\n%s", sum, out)
	}
	reg := sum.Regressions[0]
	if reg.Metric != rss || !reg.Gating || reg.Acked != nil || reg.Baseline != released || math.Abs(reg.Change-0.10) > 0.005 {
		t.Fatalf("regression %+v", reg)
	}
	if len(harden) != 1 || harden[0].Verdict != store.VerdictGreen || harden[0].Detail["not_promoted"] != store.GateFailed {
		t.Fatalf("harden runs of %s: %+v", next, harden)
	}
	text := s.coordinator(exitOK, "status")
	if !strings.Contains(text, "bench gate fail (report "+sum.Report+")") || !strings.Contains(text, "(not promoted: gate failed)") ||
		!strings.Contains(text, "app/window-post on ") || !strings.Contains(text, rss+" +10.00% against "+released+", regressed\n") {
		t.Fatalf("status text does not say the bench gate failed on the RSS:\n%s", text)
	}

	// Acknowledgements of nothing the gate found: refused, nothing changes.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--candidate", "0123456789abcdef", "--metric", rss}, `unknown candidate "0123456789abcdef"`},
		{[]string{"--candidate", next, "--metric", "seal-commit-phase2-wall-time-ms"}, `metric "seal-commit-phase2-wall-time-ms" is not gated by the benchmarks of candidate ` + next + ` (gated: ` + rss + ` in app/window-post)`},
		{[]string{"--candidate", next, "--metric", rss, "--bench", "winning-post"}, `candidate ` + next + ` has no bench entry "winning-post" (its entries: app/window-post)`},
		{[]string{"--candidate", released, "--metric", rss}, `metric "` + rss + `" did not regress in candidate ` + released},
	} {
		code, stdout, stderr := s.run(append([]string{"bench-ack", "--reason", "on purpose", "--by", "dave"}, tc.args...)...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) || !strings.Contains(stderr, "nothing recorded") || stdout != "" {
			t.Errorf("bench-ack %v: exit %d, stdout %q, stderr %q; want exit %d naming %q", tc.args, code, stdout, stderr, exitUsage, tc.want)
		}
	}
	st, q := s.open()
	for _, c := range []string{next, released} {
		if acks, err := q.Acks(ctx, c); err != nil || len(acks) != 0 {
			t.Fatalf("refused acknowledgements recorded for %s: %+v %v", c, acks, err)
		}
	}
	st.Close()
	s.coordinator(exitGate, "run", "--once", "--through", "harden")

	// Accepted: the next pass promotes, with the acknowledgement counted.
	ack := s.coordinator(exitOK, "bench-ack", "--candidate", next[:10], "--metric", rss, "--reason", "bigger trees on purpose", "--by", "dave")
	if !strings.Contains(ack, "regression of "+rss+" in app/window-post on ") || !strings.Contains(ack, "(+10.00% against "+released+") acknowledged for candidate "+next+" by dave") ||
		!strings.Contains(ack, "checked again on the next pass") {
		t.Fatalf("bench-ack said:\n%s", ack)
	}
	s.coordinator(exitOK, "run", "--once", "--through", "harden")
	st, q = s.open()
	p, err := st.Promotion(ctx, next, "harden")
	if err != nil {
		st.Close()
		t.Fatalf("harden not promoted after the acknowledgement: %v", err)
	}
	ids, _ := p.Evidence["benchmark_reports"].([]any)
	if len(ids) != 1 || p.Evidence["bench"] != benchqueue.StatePass {
		t.Fatalf("harden evidence %v", p.Evidence)
	}
	passed := ids[0].(string)
	_, md, err := q.Report(ctx, passed)
	st.Close()
	if err != nil || !strings.Contains(md, "acknowledged by dave: bigger trees on purpose") || !strings.Contains(md, "+10.00%") {
		t.Fatalf("report %s: %v\n%s", passed, err, md)
	}
	sum, _ = s.benchStatusOf(next)
	if sum.State != benchqueue.StatePass || sum.Report != passed || len(sum.Acks) != 1 || sum.Acks[0].By != "dave" ||
		len(sum.Regressions) != 1 || sum.Regressions[0].Acked == nil || sum.Regressions[0].Acked.Reason != "bigger trees on purpose" {
		t.Fatalf("bench status after the acknowledgement: %+v", sum)
	}
	text = s.coordinator(exitOK, "status")
	if !strings.Contains(text, "bench gate pass (report "+passed+")") || !strings.Contains(text, "regressed, acknowledged by dave: bigger trees on purpose") ||
		!strings.Contains(text, "ack "+rss+" in every bench entry by dave at ") || strings.Contains(text, "(not promoted: gate pending)") {
		t.Fatalf("status text does not show the acknowledgement:\n%s", text)
	}

	// The same regression in the next candidate, measured against the same
	// release: not acknowledged, it fails. (Its harden run waits for the
	// measurement first: the pass that re-checks the waiting gate and finds
	// it failed exits 1 too.)
	s.repo.Commit("docs", map[string]string{"README": "bigger trees\n"})
	s.coordinator(exitOK, "run", "--once", "--through", "harden")
	st, q = s.open()
	third := s.newestForge(st)
	measure(t, s.benchkit, s.dir, q, third)
	st.Close()
	s.coordinator(exitGate, "run", "--once", "--through", "harden")
	if _, harden := s.benchStatusOf(third); len(harden) != 1 || harden[0].Detail["not_promoted"] != store.GateFailed {
		t.Fatalf("harden runs of %s: %+v", third, harden)
	}
	if sum, _ := s.benchStatusOf(third); sum.State != benchqueue.StateFail || len(sum.Acks) != 0 || len(sum.Regressions) != 1 || sum.Regressions[0].Baseline != released {
		t.Fatalf("bench status of the unacknowledged candidate %s: %+v", third, sum)
	}

	// Released: the manifest lists the report, its verdict and the ack.
	m := s.release("v1.1.0")
	if m.Candidate != next || len(m.BenchmarkReports) != 1 || m.BenchmarkReports[0] != passed || m.BenchmarkVerdicts[passed] != "pass" {
		t.Fatalf("manifest: %+v", m)
	}
	if len(m.BenchAcks) != 1 {
		t.Fatalf("manifest bench_acks: %+v", m.BenchAcks)
	}
	a := m.BenchAcks[0]
	if a.Candidate != next || a.Metric != rss || a.By != "dave" || a.Reason != "bigger trees on purpose" || a.Report != passed ||
		len(a.Regressions) != 1 || a.Regressions[0].Bench != "window-post" || a.Regressions[0].Baseline != released || math.Abs(a.Regressions[0].Change-0.10) > 0.005 {
		t.Fatalf("manifest acknowledgement: %+v", a)
	}
}

// TestServeLetsAcknowledgedRegressionThrough: with `coordinator serve`
// running, a candidate whose bench gate failed on a regression stays
// unpromoted pass after pass; `bench-ack` of the regression lets serve's
// next pass promote it, and the candidate's page shows who accepted what
// and why.
func TestServeLetsAcknowledgedRegressionThrough(t *testing.T) {
	s := newBenchStory(t)
	ctx := context.Background()
	released := s.releaseBaseline()
	next, _ := s.regress(released)
	url, _ := startServe(t, s.bin, s.dir, s.cfg)
	st, _ := s.open()
	defer st.Close()
	// Several of serve's passes (poll_interval 200ms) leave the failed gate
	// as it is.
	time.Sleep(time.Second)
	if ok, err := st.Promoted(ctx, next, "harden"); ok || err != nil {
		t.Fatalf("serve promoted the unacknowledged regression (%v)", err)
	}
	s.coordinator(exitOK, "bench-ack", "--candidate", next, "--metric", rss, "--reason", "bigger trees on purpose", "--by", "dave")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if ok, err := st.Promoted(ctx, next, "harden"); err != nil {
			t.Fatal(err)
		} else if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not promote %s after the acknowledgement", next)
		}
		time.Sleep(100 * time.Millisecond)
	}
	resp, err := http.Get(url + "/candidates/" + next)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page := html.UnescapeString(string(b))
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `id="bench-verdict">pass<`) || !strings.Contains(page, `<ul id="bench-acks"><li data-metric="`+rss+`">`) ||
		!strings.Contains(page, "regressed +10.00% in app/window-post on ") || !strings.Contains(page, "acknowledged by dave") || !strings.Contains(page, "bigger trees on purpose") {
		t.Fatalf("candidate page (%d) does not show the acknowledgement:\n%s", resp.StatusCode, page)
	}
	// The regression's bisection job is listed as such.
	if !strings.Contains(page, `<td>bisection</td>`) {
		t.Errorf("candidate page does not call the bisection job one:\n%s", page)
	}
}
