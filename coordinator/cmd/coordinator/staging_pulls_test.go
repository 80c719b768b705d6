package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

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

// A pull request the coordinator learns of by webhook only is listed too
// (title from the webhook), and a closed webhook takes it off the page.
func TestServePullsFromWebhooks(t *testing.T) {
	e := newPollEnv(t, "[engine]\npoll_interval = \"1h\"\n")
	secret := filepath.Join(e.dir, "hook-secret")
	os.WriteFile(secret, []byte("hook-secret\n"), 0o600)
	cfg, _ := os.ReadFile(e.cfg)
	os.WriteFile(e.cfg, []byte(strings.Replace(string(cfg), "[github]\n", fmt.Sprintf("[github]\nwebhook_secret_file = %q\n", secret), 1)), 0o644)
	hooked := e.branch(t, "hooked", map[string]string{"hooked.txt": "h\n"})
	base, _ := startServe(t, e.bin, e.dir, e.cfg)
	// serve polls once at its start (then hourly); the PR is not in
	// GitHub's list then, so only the webhook can tell of it.
	deadline := time.Now().Add(30 * time.Second)
	for e.gh.Count("GET /repos/{o}/{r}/pulls") == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	send := func(delivery, action string) {
		t.Helper()
		body := fmt.Sprintf(`{"action":%q,"repository":{"full_name":"o/app"},"pull_request":{"number":9,"title":"Hooked in","html_url":"https://github.com/o/app/pull/9","state":"open","draft":false,"head":{"sha":%q,"ref":"hooked"},"base":{"ref":"master"},"labels":[]}}`, action, hooked)
		req, _ := http.NewRequest(http.MethodPost, base+"/webhooks/github", strings.NewReader(body))
		mac := hmac.New(sha256.New, []byte("hook-secret"))
		mac.Write([]byte(body))
		req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
		req.Header.Set("X-GitHub-Event", "pull_request")
		req.Header.Set("X-GitHub-Delivery", delivery)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			t.Fatalf("webhook %s: %d %s", action, resp.StatusCode, b)
		}
	}
	send("d-1", "opened")
	row := pullRow(t, fetch(t, base+"/pulls"), "o/app#9")
	for _, w := range []string{"Hooked in", `href="https://github.com/o/app/pull/9"`, store.ShortRev(hooked)} {
		if !strings.Contains(row, w) {
			t.Errorf("the webhook's PR row lacks %q:\n%s", w, row)
		}
	}
	send("d-2", "closed")
	if page := fetch(t, base+"/pulls"); strings.Contains(page, `data-pr="o/app#9"`) {
		t.Errorf("a closed PR is still listed:\n%s", page)
	}
}
