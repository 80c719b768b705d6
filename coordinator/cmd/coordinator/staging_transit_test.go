package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ironworks-ci/ironworks/coordinator/forge/githubtest"
)

const mergesRoute = "POST /repos/{o}/{r}/merges"

// stagingStatus returns the ironworks/staging statuses on sha.
func (e *pollEnv) stagingStatus(sha string) []githubtest.Status {
	var out []githubtest.Status
	for _, s := range e.prs.Statuses() {
		if s.SHA == sha && s.Context == "ironworks/staging" {
			out = append(out, s)
		}
	}
	return out
}

// A staging merge that fails in transit and was not made (502s, then
// connections closed without an answer, past the client's 7 tries) is no
// merge and nothing final on the PR: that pass logs that it will be tried
// again, and the next pass merges exactly once and names the merge commit
// in the comment.
func TestRunOnceStagingMergeTransit(t *testing.T) {
	e := newPollEnv(t, "[web]\nurl = \"https://ci.example.org\"\n")
	feat := e.branch(t, "feature", map[string]string{"feature.txt": "new\n"})
	e.gh.AddPull("o/app", githubtest.Pull{Number: 5, Title: "Feature", HeadSHA: feat, HeadRef: "feature", BaseRef: "master",
		Labels: []string{"ready-for-staging"}, Reviews: []githubtest.Review{{User: "reviewer", State: "APPROVED"}}})
	// GitHub's load balancer answers 502 before the API acts (what
	// api.github.com does under load), then the connection drops; the
	// request never reaches the merge. Seven failures: the first try and
	// the forge client's 6 retries.
	e.gh.FailNext(4, http.StatusBadGateway, mergesRoute)
	e.gh.DropNext(3, mergesRoute)
	code, out := e.once(t)
	if code != exitOK {
		t.Fatalf("pass with a merge lost in transit: exit %d, want %d (spark is green; the merge waits)\n%s", code, exitOK, out)
	}
	if n := e.gh.Count(mergesRoute); n != 7 {
		t.Errorf("%d merge requests, want 7 (one try and 6 retries)", n)
	}
	if m := e.gh.Merges(); len(m) != 0 {
		t.Fatalf("merges = %+v, want none: no request got through", m)
	}
	if !strings.Contains(out, "staging merge failed; tried again next pass") {
		t.Errorf("the pass does not log that the merge will be tried again:\n%s", out)
	}
	body := e.comment(t, 5)
	for _, final := range []string{"| staging |", "merged into staging", "refused", "not promoted"} {
		if strings.Contains(body, final) {
			t.Errorf("after a merge lost in transit the comment says %q:\n%s", final, body)
		}
	}
	if st := e.stagingStatus(feat); len(st) != 0 {
		t.Errorf("after a merge lost in transit the PR head has staging statuses %+v, want none", st)
	}

	before := e.gh.Count(mergesRoute)
	if code, out := e.once(t); code != exitOK {
		t.Fatalf("next pass: exit %d\n%s", code, out)
	}
	m := e.gh.Merges()
	if len(m) != 1 || m[0].Head != feat || m[0].Base != "staging" {
		t.Fatalf("merges after the next pass = %+v, want #5's head merged into staging once", m)
	}
	if n := e.gh.Count(mergesRoute) - before; n != 1 {
		t.Errorf("the next pass made %d merge requests, want 1", n)
	}
	if body := e.comment(t, 5); !strings.Contains(body, "merged into staging as "+m[0].SHA[:7]) {
		t.Errorf("the comment does not name the merge commit %s:\n%s", m[0].SHA[:7], body)
	}
	e.once(t)
	if n := len(e.gh.Merges()); n != 1 || e.gh.Count(mergesRoute)-before != 1 {
		t.Errorf("a third pass: %d merges, %d merge requests since the failure; want 1 and 1", n, e.gh.Count(mergesRoute)-before)
	}
}

// GitHub's refusals of a staging merge other than a conflict are final and
// explained on the PR (comment and status), and not asked again for that
// head by later passes. GitHub documents 403 and 422 ("Validation failed,
// or the endpoint has been spammed") for POST /repos/{o}/{r}/merges besides
// 409; the messages here ("Forbidden", "Unprocessable Entity") are the
// double's guess, real ones vary ("Resource not accessible by
// integration").
func TestRunOnceStagingMergeRefused(t *testing.T) {
	e := newPollEnv(t, "[web]\nurl = \"https://ci.example.org\"\n")
	approved := []githubtest.Review{{User: "reviewer", State: "APPROVED"}}
	forbidden := e.branch(t, "forbidden", map[string]string{"f.txt": "f\n"})
	e.gh.AddPull("o/app", githubtest.Pull{Number: 6, Title: "Forbidden", HeadSHA: forbidden, HeadRef: "forbidden", BaseRef: "master",
		Labels: []string{"ready-for-staging"}, Reviews: approved})
	e.gh.FailNext(1, http.StatusForbidden, mergesRoute)
	if code, out := e.once(t); code != exitOK {
		t.Fatalf("pass with a forbidden merge: exit %d\n%s", code, out)
	}
	if n := e.gh.Count(mergesRoute); n != 1 {
		t.Errorf("%d merge requests, want 1: a 403 is not retried", n)
	}
	if body := e.comment(t, 6); !strings.Contains(body, "GitHub refused the merge into staging: 403 Forbidden") {
		t.Errorf("the comment does not explain the refusal:\n%s", body)
	}
	if st := e.stagingStatus(forbidden); len(st) == 0 || !strings.Contains(st[len(st)-1].Description, "403 Forbidden") {
		t.Errorf("the PR head's ironworks/staging status does not explain the refusal: %+v", st)
	}

	invalid := e.branch(t, "invalid", map[string]string{"i.txt": "i\n"})
	e.gh.AddPull("o/app", githubtest.Pull{Number: 7, Title: "Invalid", HeadSHA: invalid, HeadRef: "invalid", BaseRef: "master",
		Labels: []string{"ready-for-staging"}, Reviews: approved})
	e.gh.FailNext(1, http.StatusUnprocessableEntity, mergesRoute)
	if code, out := e.once(t); code != exitOK {
		t.Fatalf("pass with an invalid merge: exit %d\n%s", code, out)
	}
	if n := e.gh.Count(mergesRoute); n != 2 {
		t.Errorf("%d merge requests after the second pass, want 2: #6's refusal is final, #7 is tried once", n)
	}
	if body := e.comment(t, 7); !strings.Contains(body, "GitHub refused the merge into staging: 422 Unprocessable Entity") {
		t.Errorf("the comment does not explain the refusal:\n%s", body)
	}
	if body := e.comment(t, 6); !strings.Contains(body, "403 Forbidden") {
		t.Errorf("#6's comment lost its refusal:\n%s", body)
	}
	e.once(t)
	if n, m := e.gh.Count(mergesRoute), e.gh.Merges(); n != 2 || len(m) != 0 {
		t.Errorf("an idle pass after two refusals: %d merge requests, merges %+v; want still 2 and none", n, m)
	}
}
