package main

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/ironworks-ci/ironworks/coordinator/forge/githubtest"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// fetch GETs u from the running binary and returns its body.
func fetch(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d\n%s", u, resp.StatusCode, b)
	}
	return string(b)
}

// pullRow is the Pull requests page's row of pull request repo#number.
func pullRow(t *testing.T, page, pr string) string {
	t.Helper()
	i := strings.Index(page, `<tr data-pr="`+pr+`">`)
	if i < 0 {
		t.Fatalf("the Pull requests page has no row for %s:\n%s", pr, page)
	}
	row, _, _ := strings.Cut(page[i:], "</tr>")
	return row
}

var runLink = regexp.MustCompile(`href="/runs/(\d+)" class="badge st-(\w+) spark"`)

// Why each PR is or is not in staging is on the web UI, from what the
// pipeline and the staging flow stored: run --once polls four pull requests
// (no webhook) and builds them; then serve's Pull requests page shows the
// ready one merged into staging with its merge commit, and the draft, the
// unlabelled and the red one with their reasons, each with its spark
// verdict and run; the merged PR's candidate page says so too; the page
// fits a 390 px window.
func TestServePullsPage(t *testing.T) {
	e := newPollEnv(t, "[web]\nurl = \"https://ci.example.org\"\n")
	approved := []githubtest.Review{{User: "reviewer", State: "APPROVED"}}
	ready := e.branch(t, "ready", map[string]string{"ready.txt": "r\n"})
	draft := e.branch(t, "draft", map[string]string{"draft.txt": "d\n"})
	nolabel := e.branch(t, "nolabel", map[string]string{"nolabel.txt": "n\n"})
	red := e.branch(t, "red", map[string]string{"ok.txt": "no\n"})
	for _, p := range []githubtest.Pull{
		{Number: 1, Title: "Ready <one>", HeadSHA: ready, HeadRef: "ready", Labels: []string{"ready-for-staging"}, Reviews: approved},
		{Number: 2, Title: "Draft", HeadSHA: draft, HeadRef: "draft", Draft: true, Labels: []string{"ready-for-staging"}, Reviews: approved},
		{Number: 3, Title: "No label", HeadSHA: nolabel, HeadRef: "nolabel", Reviews: approved},
		{Number: 4, Title: "Red", HeadSHA: red, HeadRef: "red", Labels: []string{"ready-for-staging"}, Reviews: approved},
	} {
		p.BaseRef = "master"
		e.gh.AddPull("o/app", p)
	}
	if code, out := e.once(t); code != exitGate {
		t.Fatalf("pass with a red PR: exit %d, want %d\n%s", code, exitGate, out)
	}
	merges := e.gh.Merges()
	if len(merges) != 1 || merges[0].Head != ready {
		t.Fatalf("merges = %+v, want #1 merged into staging", merges)
	}

	base, _ := startServe(t, e.bin, e.dir, e.cfg)
	page := fetch(t, base+"/pulls")
	if !strings.Contains(page, `<a href="/pulls">Pull requests</a>`) {
		t.Error("the header does not link the Pull requests page")
	}
	want := map[string][]string{
		"o/app#1": {"Ready &lt;one&gt;", `href="https://github.com/o/app/pull/1"`, store.ShortRev(ready), "passed", "merged into staging as <span class=\"mono\">" + store.ShortRev(merges[0].SHA) + "</span>"},
		"o/app#2": {"Draft", store.ShortRev(draft), "not built (draft)", "not promoted:", "<li>the pull request is a draft</li>"},
		"o/app#3": {"No label", store.ShortRev(nolabel), "passed", "not promoted:", "<li>label &#34;ready-for-staging&#34; is missing</li>"},
		"o/app#4": {"Red", store.ShortRev(red), "failed", "not promoted:", "<li>spark jobs are not all green on " + store.ShortRev(red) + "</li>"},
	}
	sparkOf := map[string]string{"o/app#1": "green", "o/app#3": "green", "o/app#4": "red"}
	runs := map[string]string{}
	for pr, ws := range want {
		row := pullRow(t, page, pr)
		for _, w := range ws {
			if !strings.Contains(row, w) {
				t.Errorf("%s's row lacks %q:\n%s", pr, w, row)
			}
		}
		m := runLink.FindStringSubmatch(row)
		switch {
		case sparkOf[pr] == "" && m != nil:
			t.Errorf("%s's row links a spark run: %s", pr, row)
		case sparkOf[pr] != "" && (m == nil || m[2] != sparkOf[pr]):
			t.Errorf("%s's row has no %s spark run linked:\n%s", pr, sparkOf[pr], row)
		case m != nil:
			runs[pr] = m[1]
		}
		if pr != "o/app#1" && strings.Contains(row, "merged into staging") {
			t.Errorf("%s's row says merged:\n%s", pr, row)
		}
	}
	// The links are the PR heads' own spark runs: /runs/N is the candidate
	// of the merged PR, whose page shows its pull request's state.
	if id := runs["o/app#1"]; id != "" {
		cand := fetch(t, fmt.Sprintf("%s/runs/%s", base, id))
		sec, _, _ := strings.Cut(cand[max(strings.Index(cand, `id="pull"`), 0):], "</section>")
		for _, w := range []string{"o/app#1", store.ShortRev(ready), "merged into staging as <span class=\"mono\">" + store.ShortRev(merges[0].SHA)} {
			if !strings.Contains(sec, w) {
				t.Errorf("the merged PR's candidate page lacks %q in its pull request section:\n%s", w, sec)
			}
		}
	}

	ctx := storyBrowser(t)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Navigate(base+"/pulls"), chromedp.WaitVisible(chromedp.CSS("#pulls"))); err != nil {
		t.Fatal(err)
	}
	w := run1(t, ctx, chromedp.Evaluate[struct{ Scroll, Inner int }](`({Scroll: document.documentElement.scrollWidth, Inner: window.innerWidth})`))
	if w.Scroll > w.Inner {
		t.Errorf("the Pull requests page at 390 px is %d px wide (window %d)", w.Scroll, w.Inner)
	}
	saveShot(t, ctx, screenshotDir(t), "story-pulls-390.png")
}
