package web

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// fakePulls is a PullRequests source with fixed answers.
type fakePulls struct {
	list []*PullRequestView
	err  error
	of   map[string]*PullRequestView // by candidate id
}

func (f *fakePulls) Open(context.Context) ([]*PullRequestView, error) { return f.list, f.err }
func (f *fakePulls) OfCandidate(_ context.Context, c *store.Candidate) (*PullRequestView, error) {
	return f.of[c.ID], f.err
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// rowOf returns the table row of the pull request data-pr="pr".
func rowOf(t *testing.T, page, pr string) string {
	t.Helper()
	i := strings.Index(page, `<tr data-pr="`+pr+`">`)
	if i < 0 {
		t.Fatalf("no row for %s:\n%s", pr, page)
	}
	row, _, _ := strings.Cut(page[i:], "</tr>")
	return row
}

func TestPullsPage(t *testing.T) {
	e := newEnv(t, nil)
	if code, body := get(t, e.http.URL+"/pulls"); code != 200 || !strings.Contains(body, "not followed here") {
		t.Fatalf("without a source: %d\n%s", code, body)
	}

	spark := &store.Run{ID: 41, Stage: "spark", State: store.RunDone, Verdict: store.VerdictFailed}
	green := &store.Run{ID: 40, Stage: "spark", State: store.RunDone, Verdict: store.VerdictGreen}
	src := &fakePulls{list: []*PullRequestView{
		{Repo: "o/app", Number: 1, Title: "Merged <b>one</b>", URL: "https://github.com/o/app/pull/1", Head: strings.Repeat("a", 40), Spark: green, Merge: strings.Repeat("m", 40)},
		{Repo: "o/app", Number: 2, Title: "Draft", Head: strings.Repeat("b", 40), Draft: true, Reasons: []string{"the pull request is a draft"}},
		{Repo: "o/app", Number: 3, Title: "Red", Head: strings.Repeat("c", 40), Spark: spark, Reasons: []string{"spark jobs are not all green on ccccccc"}},
		{Repo: "o/app", Number: 4, Title: "Clash", Head: strings.Repeat("d", 40), Spark: green, Refused: true, Reasons: []string{"GitHub refused the merge into staging: 403 Forbidden"}},
		{Repo: "o/app", Number: 5, Title: "Broke staging", Head: strings.Repeat("e", 40), Spark: green, Merge: strings.Repeat("f", 40), Failure: "forge failed", FailedJob: "app:check", FailureRun: 77},
		{Repo: "o/app", Number: 6, Title: "New", Head: strings.Repeat("0", 40)},
	}}
	e = newEnv(t, func(o *Options) { o.Pulls = src })
	code, body := get(t, e.http.URL+"/pulls")
	if code != 200 {
		t.Fatalf("/pulls: %d\n%s", code, body)
	}
	for pr, want := range map[string][]string{
		"o/app#1": {`href="https://github.com/o/app/pull/1"`, "Merged &lt;b&gt;one&lt;/b&gt;", "aaaaaaa", `href="/runs/40"`, "passed", "merged into staging as <span class=\"mono\">mmmmmmm</span>", `data-state="merged"`},
		"o/app#2": {"draft", "not built (draft)", "not promoted:", "<li>the pull request is a draft</li>"},
		"o/app#3": {`href="/runs/41"`, "st-red", "failed", "<li>spark jobs are not all green on ccccccc</li>"},
		"o/app#4": {"refused by GitHub:", "403 Forbidden", `data-state="refused"`},
		"o/app#5": {"merged into staging as", "failed in staging: forge failed", "app:check", `href="/runs/77"`},
		"o/app#6": {"no run", "not looked at yet"},
	} {
		row := rowOf(t, body, pr)
		for _, w := range want {
			if !strings.Contains(row, w) {
				t.Errorf("row %s lacks %q:\n%s", pr, w, row)
			}
		}
	}
	if !strings.Contains(body, `<a href="/pulls">Pull requests</a>`) {
		t.Error("the header does not link /pulls")
	}
	src.err = errBoom
	if code, body := get(t, e.http.URL+"/pulls"); code != 500 || strings.Contains(body, "boom") {
		t.Errorf("a failing source: %d, want 500 without the error's text\n%s", code, body)
	}
}

func TestCandidatePageShowsPull(t *testing.T) {
	src := &fakePulls{of: map[string]*PullRequestView{}}
	e := newEnv(t, func(o *Options) { o.Pulls = src })
	ctx := context.Background()
	head := strings.Repeat("b2", 20)
	cand, err := e.st.PutCandidate(ctx, map[string]store.Revision{"merkletree": {Repo: "https://github.com/filecoin-project/merkletree", Branch: "feature", Rev: head}}, "pr", 12)
	if err != nil {
		t.Fatal(err)
	}
	src.of[cand.ID] = &PullRequestView{Repo: "filecoin-project/merkletree", Number: 12, Title: "Faster", Head: head, Current: strings.Repeat("9", 40), Open: true,
		Reasons: []string{`label "ready-for-staging" is missing`}}
	code, body := get(t, e.http.URL+"/candidates/"+cand.ID)
	if code != 200 {
		t.Fatalf("candidate page: %d", code)
	}
	for _, w := range []string{`id="pull"`, "filecoin-project/merkletree#12", "Faster", "the pull request's head is now <span class=\"mono\">9999999</span>", "not promoted:", "label &#34;ready-for-staging&#34; is missing"} {
		if !strings.Contains(body, w) {
			t.Errorf("candidate page lacks %q:\n%s", w, body)
		}
	}
	// A head candidate has no pull request section.
	e.seed()
	if _, body := get(t, e.http.URL+"/candidates/"+e.cand.ID); strings.Contains(body, `id="pull"`) {
		t.Error("a head candidate shows a pull request")
	}
	src.err = errBoom
	if code, _ := get(t, e.http.URL+"/candidates/"+cand.ID); code != 500 {
		t.Errorf("a failing source: candidate page %d, want 500", code)
	}
}
