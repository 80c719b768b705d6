package benchqueue

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/ironworks-ci/ironworks/benchkit/protocol"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// TestSideBySideFlow: before any release an entry is queued alone; after
// one, the job carries the release as its baseline, a result without the
// baseline's samples (or with samples out of range) is refused naming the
// field, and the verdict judges the candidate against the baseline samples
// of its own attempts, confirmation rounds included, not the release's
// stored history.
func TestSideBySideFlow(t *testing.T) {
	ctx := context.Background()
	q, st := newQueue(t, nil)
	srv := serve(t, q)
	spec := benchSpec("b", "true")
	rel, _ := st.PutCandidate(ctx, map[string]store.Revision{"demo": {Repo: "file:///nowhere", Rev: "r1"}}, "head", 0)
	if err := q.EnqueueSideBySide(ctx, rel.ID, "demo", revs, spec); err != nil {
		t.Fatal(err)
	}
	job := complete(t, srv, map[string][]float64{"size": {200, 201, 199}}) // the release's stored history
	if job.Baseline != nil {
		t.Fatalf("first candidate measured against %+v", job.Baseline)
	}
	q.Verdict(ctx, rel.ID)
	q.MarkReleased(ctx, rel.ID)

	cand, _ := st.PutCandidate(ctx, map[string]store.Revision{"demo": {Repo: "file:///nowhere", Rev: "r2"}}, "head", 0)
	if err := q.EnqueueSideBySide(ctx, cand.ID, "demo", revs, spec); err != nil {
		t.Fatal(err)
	}
	resp, body := post(t, srv.URL+protocol.PathLease, token, protocol.LeaseRequest{Agent: "direct", Features: []string{"gpu"}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("lease: %s %s", resp.Status, body)
	}
	var j protocol.Job
	json.Unmarshal(body, &j)
	if j.Baseline == nil || j.Baseline.Candidate != rel.ID || j.Baseline.Sources["demo"].Rev != "r1" {
		t.Fatalf("job baseline %+v", j.Baseline)
	}
	for _, tt := range []struct {
		res  protocol.Result
		want string
	}{
		{protocol.Result{JobID: j.ID, LeaseID: j.LeaseID, Host: host, Samples: map[string][]float64{"size": {100, 101, 99}}}, `field "baseline_samples": required`},
		{protocol.Result{JobID: j.ID, LeaseID: j.LeaseID, Host: host, Samples: map[string][]float64{"size": {100}}, BaselineSamples: map[string][]float64{"size": {1e300}}}, `field "baseline_samples": metric "size" sample 1`},
	} {
		resp, body := post(t, srv.URL+protocol.PathResult, token, tt.res)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), tt.want) {
			t.Errorf("%s %s, want 400 %q", resp.Status, body, tt.want)
		}
	}
	if jobs, _ := q.Jobs(ctx, cand.ID); jobs[0].State != Leased {
		t.Fatalf("a refused result changed the job: %+v", jobs[0])
	}
	// Measured side by side on a host 10% slow in this session: both sides
	// slow alike, so no regression, although the candidate is slower than
	// the release's stored 200.
	resp, body = post(t, srv.URL+protocol.PathResult, token, protocol.Result{JobID: j.ID, LeaseID: j.LeaseID, Agent: "direct", Host: host,
		Samples: map[string][]float64{"size": {220, 221, 219}}, BaselineSamples: map[string][]float64{"size": {220, 219, 221}}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("result: %s %s", resp.Status, body)
	}
	v, err := q.Verdict(ctx, cand.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Three samples a side cannot rule out 5%: a confirmation round, again
	// side by side.
	if v.State != StatePending {
		t.Fatalf("verdict %+v", v)
	}
	for v.State == StatePending {
		resp, body := post(t, srv.URL+protocol.PathLease, token, protocol.LeaseRequest{Agent: "direct", Features: []string{"gpu"}})
		var k protocol.Job
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &k) != nil || k.Baseline == nil || k.Round == 0 {
			t.Fatalf("confirmation lease %s %s", resp.Status, body)
		}
		post(t, srv.URL+protocol.PathResult, token, protocol.Result{JobID: k.ID, LeaseID: k.LeaseID, Agent: "direct", Host: host,
			Samples: map[string][]float64{"size": {220, 220, 221}}, BaselineSamples: map[string][]float64{"size": {221, 220, 219}}})
		if v, err = q.Verdict(ctx, cand.ID); err != nil {
			t.Fatal(err)
		}
	}
	if v.State != StatePass || !strings.Contains(strings.Join(v.Details, "\n"), "pass against "+rel.ID) {
		t.Fatalf("side-by-side verdict %+v", v)
	}
	js, _, _ := q.Report(ctx, v.ReportIDs[0])
	if !strings.Contains(js, `"rounds": `) || !strings.Contains(js, `"base_n": `) {
		t.Errorf("report %s", js)
	}
}

// TestBisectionJob: a side-by-side regression queues a bisection of the
// component whose revision moved; its result must be a bisection of that
// component (400 naming the field otherwise); a culprit becomes a
// bench-regression event carrying it, once.
func TestBisectionJob(t *testing.T) {
	ctx := context.Background()
	q, st := newQueue(t, nil)
	srv := serve(t, q)
	spec := benchSpec("b", "true")
	rel, _ := st.PutCandidate(ctx, map[string]store.Revision{"demo": {Repo: "file:///nowhere", Rev: "r1", Branch: "master"}}, "head", 0)
	q.EnqueueSideBySide(ctx, rel.ID, "demo", map[string]Revision{"demo": {Repo: "file:///nowhere", Rev: "r1"}}, spec)
	complete(t, srv, map[string][]float64{"size": {100, 100, 100}})
	q.Verdict(ctx, rel.ID)
	q.MarkReleased(ctx, rel.ID)
	cand, _ := st.PutCandidate(ctx, map[string]store.Revision{"demo": {Repo: "file:///nowhere", Rev: "r2", Branch: "master"}}, "head", 0)
	q.EnqueueSideBySide(ctx, cand.ID, "demo", map[string]Revision{"demo": {Repo: "file:///nowhere", Rev: "r2"}}, spec)
	_, body := post(t, srv.URL+protocol.PathLease, token, protocol.LeaseRequest{Agent: "direct", Features: []string{"gpu"}})
	var j protocol.Job
	json.Unmarshal(body, &j)
	post(t, srv.URL+protocol.PathResult, token, protocol.Result{JobID: j.ID, LeaseID: j.LeaseID, Agent: "direct", Host: host,
		Samples: map[string][]float64{"size": {120, 120, 120}}, BaselineSamples: map[string][]float64{"size": {100, 100, 100}}})
	v, err := q.Verdict(ctx, cand.ID)
	if err != nil || v.State != StateFail || !strings.Contains(strings.Join(v.Details, "\n"), "bisecting demo r1..r2 for the culprit") {
		t.Fatalf("regression verdict %+v %v", v, err)
	}
	if v2, _ := q.Verdict(ctx, cand.ID); len(v2.Details) != len(v.Details) {
		t.Errorf("a second verdict changed the details: %v", v2.Details)
	}
	resp, body := post(t, srv.URL+protocol.PathLease, token, protocol.LeaseRequest{Agent: "direct", Features: []string{"gpu"}})
	var k protocol.Job
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &k) != nil || k.Bisect == nil || k.Bisect.Component != "demo" || k.Bisect.Good != "r1" || k.Bisect.Bad != "r2" || k.Round >= 0 || k.Baseline == nil {
		t.Fatalf("bisection lease %s %s", resp.Status, body)
	}
	for _, tt := range []struct {
		res  protocol.Result
		want string
	}{
		{protocol.Result{JobID: k.ID, LeaseID: k.LeaseID, Host: host, Samples: map[string][]float64{"size": {1}}}, `field "bisect": required`},
		{protocol.Result{JobID: k.ID, LeaseID: k.LeaseID, Host: host, Bisect: &protocol.BisectResult{Component: "other"}}, `field "bisect.component"`},
	} {
		resp, body := post(t, srv.URL+protocol.PathResult, token, tt.res)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), tt.want) {
			t.Errorf("%s %s, want 400 %q", resp.Status, body, tt.want)
		}
	}
	res := protocol.Result{JobID: k.ID, LeaseID: k.LeaseID, Agent: "direct", Host: host, Bisect: &protocol.BisectResult{Component: "demo", Subject: "slow path", Author: "eve"}}
	res.Bisect.Culprit, res.Bisect.Ends, res.Bisect.Rounds, res.Bisect.Samples = "r2", "regressed", 1, 6
	for range 2 { // posted twice: one event
		if resp, body := post(t, srv.URL+protocol.PathResult, token, res); resp.StatusCode != http.StatusOK {
			t.Fatalf("bisection result: %s %s", resp.Status, body)
		}
	}
	evs, _ := st.EventsOfKind(ctx, "bench-regression", cand.ID)
	culprits := 0
	for _, e := range evs {
		if c, ok := e.Payload["culprit"].(map[string]any); ok && c["rev"] == "r2" && c["subject"] == "slow path" && e.Component == "demo" && e.Branch == "master" {
			culprits++
		}
	}
	if culprits != 1 {
		t.Errorf("%d culprit events in %+v", culprits, evs)
	}
	v, _ = q.Verdict(ctx, cand.ID)
	if !strings.Contains(strings.Join(v.Details, "\n"), "bisection of demo r1..r2: culprit r2 (slow path)") {
		t.Errorf("details %v", v.Details)
	}
}
