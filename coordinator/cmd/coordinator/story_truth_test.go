package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ironworks-ci/ironworks/coordinator/internal/fixture"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

const storyToken = "story-operator-token"

// truthStory is merkletree and rust-fil-proofs stand-ins, each with a build
// and a test job at forge, an operator token, and the built coordinator.
type truthStory struct {
	t        *testing.T
	bin, dir string
	cfg      string
	up, down *fixture.Repo
}

func newTruthStory(t *testing.T) *truthStory {
	t.Helper()
	fixture.RequireCargo(t)
	s := &truthStory{t: t, bin: buildBinary(t), dir: t.TempDir()}
	s.up = fixture.Merkletree(t, filepath.Join(s.dir, "src", "merkletree"))
	s.down = fixture.Proofs(t, filepath.Join(s.dir, "src", "rust-fil-proofs"))
	adapters := map[string]string{
		"merkletree": `name = "merkletree"
repo = "unused"
[jobs.audit]
stage = "forge"
needs = ["test"]
command = "true"
[jobs.build]
stage = "forge"
command = "cargo build"
[jobs.test]
stage = "forge"
needs = ["build"]
command = "cargo test"
`,
		"rust-fil-proofs": `name = "rust-fil-proofs"
repo = "unused"
[[upstream]]
name = "merkletree"
pin = "cargo-patch"
[jobs.test]
stage = "forge"
needs = ["build", "merkletree:test"]
command = "cargo test --workspace"
[jobs.build]
stage = "forge"
needs = ["merkletree:build"]
command = "cargo build --workspace"
`,
	}
	if err := writeAdapters(s.dir, adapters); err != nil {
		t.Fatal(err)
	}
	tok := filepath.Join(s.dir, "operator-token")
	os.WriteFile(tok, []byte(storyToken+"\n"), 0o600)
	s.cfg = filepath.Join(s.dir, "ironworks.toml")
	os.WriteFile(s.cfg, []byte(demoComponents(s.up.URL(), s.down.URL())+fmt.Sprintf(`[web]
operator_token_file = %q
[engine]
poll_interval = "300ms"
`, tok)), 0o644)
	return s
}

// coordinator runs the built binary with the story's configuration.
func (s *truthStory) coordinator(args ...string) (code int, stdout, stderr string) {
	s.t.Helper()
	return binaryRun{bin: s.bin, cfg: s.cfg, dir: s.dir}.runSplit(s.t, args...)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

// breakInFifthOfEight commits eight upstream commits; the fifth renames the
// function the downstream calls. It returns the fifth and the last. They
// arrive together, as one push does: master moves once, after the eighth,
// so a serve polling meanwhile never sees part of them.
func (s *truthStory) breakInFifthOfEight() (culprit, head string, all []string) {
	s.up.Git("checkout", "-q", "--detach")
	defer s.up.Git("checkout", "-q", "-B", "master")
	for i := 1; i <= 8; i++ {
		if i == 5 {
			culprit = s.up.Commit("rename leaf_count to leaves_of", map[string]string{"src/lib.rs": strings.ReplaceAll(fixture.UpstreamLib, "leaf_count", "leaves_of")})
			all = append(all, culprit)
			continue
		}
		all = append(all, s.up.Commit(fmt.Sprintf("docs: note %d", i), map[string]string{"NOTES": fmt.Sprintf("note %d\n", i)}))
	}
	return culprit, all[7], all
}

func (s *truthStory) open() *store.Store {
	s.t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(s.dir, "state", "ironworks.db"))
	if err != nil {
		s.t.Fatal(err)
	}
	return st
}

// headRun is the newest forge stage run of a head candidate.
func (s *truthStory) headRun() *store.Run {
	s.t.Helper()
	st := s.open()
	defer st.Close()
	runs, err := st.Runs(context.Background(), store.RunFilter{Stage: "forge", Kind: "stage", Limit: 1})
	if err != nil || len(runs) == 0 {
		s.t.Fatalf("no forge run: %v", err)
	}
	return runs[0]
}

// The story from the terminal: green, an API break in the 5th of 8 upstream
// commits, the culprit found, the fix. The last line of run --once, status
// (text and JSON) and logs say the verdict word, the culprit commit with its
// subject and author, the range and the probes, and where the logs are; after
// the fix they say green.
func TestStoryCulpritInRunStatusAndLogs(t *testing.T) {
	s := newTruthStory(t)
	_, broken := s.storyToCulprit()

	// The fix: run --once ends green, status says so for the head and no
	// longer names a culprit, logs reads the fixed run's job.
	s.up.Commit("restore leaf_count", map[string]string{"src/lib.rs": fixture.UpstreamLib})
	code, out, errOut := s.coordinator("run", "--once")
	if code != exitOK || !strings.Contains(lastLine(out), "every gate passed") {
		t.Fatalf("pass after the fix: exit %d, last line %q\n%s", code, lastLine(out), errOut)
	}
	fixed := s.headRun()
	if fixed.Verdict != store.VerdictGreen || fixed.ID == broken.ID {
		t.Fatalf("head run after the fix: %d %s, want a new green run", fixed.ID, fixed.Verdict)
	}
	code, text, errOut := s.coordinator("status", "--limit", "1")
	if code != exitOK || !strings.Contains(text, "forge=green") || strings.Contains(text, "culprit:") {
		t.Errorf("status after the fix: exit %d, want forge=green and no culprit:\n%s%s", code, text, errOut)
	}
	code, logText, errOut := s.coordinator("logs", fmt.Sprint(fixed.ID), "rust-fil-proofs:build")
	if code != exitOK || strings.Contains(logText, "leaf_count") || !strings.Contains(logText, "Finished") {
		t.Errorf("logs of the fixed build: exit %d, want cargo's Finished and no complaint about leaf_count:\n%s%s", code, logText, errOut)
	}
}

// storyToCulprit plays green and the break through run --once and checks
// every CLI view; it returns the culprit and the head run.
func (s *truthStory) storyToCulprit() (culprit string, run *store.Run) {
	t := s.t
	code, out, errOut := s.coordinator("run", "--once")
	if code != exitOK {
		t.Fatalf("first pass: exit %d\n%s%s", code, errOut, out)
	}
	if l := lastLine(out); !strings.Contains(l, "every gate passed") {
		t.Errorf("last line of a green pass = %q", l)
	}
	culprit, upHead, commits := s.breakInFifthOfEight()
	code, out, errOut = s.coordinator("run", "--once")
	if code != exitGate {
		t.Fatalf("second pass: exit %d, want %d\n%s%s", code, exitGate, errOut, out)
	}
	last := lastLine(out)
	for _, want := range []string{"incompatible", "rust-fil-proofs with merkletree", store.ShortRev(culprit), `"rename leaf_count to leaves_of"`, "Fixture Author", "8 commits since the last compatible pair", "tried"} {
		if !strings.Contains(last, want) {
			t.Errorf("last line of run --once lacks %q:\n%s", want, last)
		}
	}
	run = s.headRun()
	if run.Verdict != store.VerdictIncompatible {
		t.Fatalf("head run verdict %s, want incompatible", run.Verdict)
	}

	// status: head candidate first, verdict words, culprit, probes, log paths.
	code, text, errOut := s.coordinator("status", "--limit", "1")
	if code != exitOK {
		t.Fatalf("status: exit %d\n%s", code, errOut)
	}
	for _, want := range []string{
		"forge=incompatible", "(head) merkletree@" + store.ShortRev(upHead),
		"culprit: " + store.ShortRev(culprit) + ` "rename leaf_count to leaves_of" by Fixture Author`,
		"merkletree range", "8 commit(s) since the last compatible pair", "<- culprit",
		"log " + filepath.Join(s.dir, "state", "logs", fmt.Sprint(run.ID), "rust-fil-proofs", "build.log"),
	} {
		if !strings.Contains(text, want) {
			t.Errorf("status text lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "forge=red") || strings.Contains(text, "(bisect)") {
		t.Errorf("status text says red instead of the verdict, or shows a probe before the head:\n%s", text)
	}
	code, js, _ := s.coordinator("status", "--json")
	if code != exitOK {
		t.Fatalf("status --json: exit %d", code)
	}
	var st struct {
		Benchmarks []any `json:"benchmarks"`
		Cells      []struct {
			Component, Stage, Verdict string
		} `json:"cells"`
		Candidates []struct {
			Origin   string `json:"origin"`
			Promoted []string
			Runs     []struct {
				ID          int64 `json:"id"`
				Explanation *struct {
					Culprit struct{ Rev, Subject, Author string } `json:"culprit"`
					Range   struct{ Count int }                   `json:"upstream_range"`
					Probes  []struct {
						Rev, Verdict string
						RunID        int64 `json:"run_id"`
					} `json:"probes"`
				} `json:"explanation"`
				Results []struct {
					Job     string `json:"job"`
					State   string `json:"state"`
					LogPath string `json:"log_path"`
				} `json:"results"`
			} `json:"runs"`
		} `json:"candidates"`
	}
	if err := json.Unmarshal([]byte(js), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, js)
	}
	for _, l := range strings.Split(js, "\n") {
		if strings.Contains(l, "null") {
			t.Errorf("status --json has null (empty lists must be []): %s", strings.TrimSpace(l))
		}
	}
	if st.Benchmarks == nil || st.Candidates[0].Promoted == nil {
		t.Errorf("empty lists are not []: benchmarks %v promoted %v", st.Benchmarks, st.Candidates[0].Promoted)
	}
	if st.Candidates[0].Origin != "head" {
		t.Errorf("first candidate of status --json is %s, want the head", st.Candidates[0].Origin)
	}
	var verdict string
	for _, c := range st.Cells {
		if c.Component == "rust-fil-proofs" && c.Stage == "forge" {
			verdict = c.Verdict
		}
	}
	if verdict != store.VerdictIncompatible {
		t.Errorf("status --json cell rust-fil-proofs forge = %q, want incompatible", verdict)
	}
	found := false
	for _, r := range st.Candidates[0].Runs {
		e := r.Explanation
		if r.ID != run.ID || e == nil {
			continue
		}
		found = true
		if e.Culprit.Rev != culprit || e.Culprit.Subject != "rename leaf_count to leaves_of" || !strings.Contains(e.Culprit.Author, "Fixture Author") {
			t.Errorf("json culprit = %+v, want %s", e.Culprit, culprit)
		}
		if e.Range.Count != 8 || len(e.Probes) != 8 {
			t.Errorf("json range %d commits, %d probes; want 8 and 8", e.Range.Count, len(e.Probes))
		}
		// Probes newest first: the culprit and after are incompatible, the
		// one before it was tried and passes.
		for i, p := range e.Probes {
			if p.Rev != commits[7-i] {
				t.Errorf("probe %d is %s, want %s", i, p.Rev, commits[7-i])
			}
		}
		if p := e.Probes[3]; p.Verdict != store.VerdictIncompatible || p.RunID == 0 {
			t.Errorf("probe at the culprit = %+v, want incompatible with a run", p)
		}
		if p := e.Probes[4]; p.Verdict != store.VerdictGreen || p.RunID == 0 {
			t.Errorf("probe before the culprit = %+v, want green with a run", p)
		}
		for _, j := range r.Results {
			if j.State != store.JobSkipped && j.LogPath == "" {
				t.Errorf("job %s has no log_path", j.Job)
			}
		}
	}
	if !found {
		t.Errorf("status --json: no explanation for run %d:\n%s", run.ID, js)
	}

	// logs: the failing job's log, by ID or by name; errors are usage.
	code, logText, errOut := s.coordinator("logs", fmt.Sprint(run.ID), "rust-fil-proofs:build")
	if code != exitOK || !strings.Contains(logText, "leaf_count") {
		t.Errorf("logs: exit %d, log lacks the compiler's complaint about leaf_count:\n%s%s", code, logText, errOut)
	}
	code, followed, _ := s.coordinator("logs", "--follow", fmt.Sprint(run.ID), "rust-fil-proofs:build")
	if code != exitOK || followed != logText {
		t.Errorf("logs --follow of a finished job: exit %d, differs from the log", code)
	}
	if code, _, errOut := s.coordinator("logs", fmt.Sprint(run.ID), "build"); code != exitUsage || !strings.Contains(errOut, "ambiguous") {
		t.Errorf("logs of an ambiguous job name: exit %d %q, want 2 naming the ambiguity", code, errOut)
	}
	if code, _, errOut := s.coordinator("logs", "99999", "rust-fil-proofs:build"); code != exitUsage || !strings.Contains(errOut, "run 99999") {
		t.Errorf("logs of a missing run: exit %d %q, want 2", code, errOut)
	}
	if code, _, errOut := s.coordinator("logs", fmt.Sprint(run.ID), "rust-fil-proofs:nope"); code != exitUsage || !strings.Contains(errOut, "no job") {
		t.Errorf("logs of a missing job: exit %d %q, want 2", code, errOut)
	}
	if code, _, _ := s.coordinator("logs", "x"); code != exitUsage {
		t.Errorf("logs with one argument: exit %d, want 2", code)
	}
	if code, _, errOut := s.coordinator("run", "--once", "--through", "stamp"); code != exitUsage || !strings.Contains(errOut, "--through") {
		t.Errorf("run --through stamp: exit %d %q, want 2", code, errOut)
	}
	return culprit, run
}

// The story in headless Chromium, played by serve while the dashboard stays
// open: green; an API break in the 5th of 8 upstream commits, after which
// the dashboard says incompatible and is never green again (not for a
// bisection probe, not for the old run) until the fix's own run is green;
// the candidate page names the culprit, the compatibility view shows the
// failing pairs from the culprit on; every page fits 390 px. Screenshots at
// 1400 and 390 px.
func TestStoryBrowserCulpritCompatAndSmallScreens(t *testing.T) {
	s := newTruthStory(t)
	base, _ := startServe(t, s.bin, s.dir, s.cfg)
	ctx := storyBrowser(t)
	shots := screenshotDir(t)

	// The dashboard tab records every state its forge cell of
	// rust-fil-proofs shows, as the page updates itself.
	rfp := chromedp.CSS(`tr[data-target="rust-fil-proofs/master"] td[data-stage="forge"]`)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1400, 900), chromedp.Navigate(base+"/"), chromedp.WaitVisible(rfp)); err != nil {
		t.Fatal(err)
	}
	run1(t, ctx, chromedp.Evaluate[bool](cellRecorder))
	green := s.waitHeadRun()
	if green.Verdict != store.VerdictGreen {
		t.Fatalf("first head run %d: %s, want green", green.ID, green.Verdict)
	}
	waitCell(t, ctx, "green", green.ID)
	saveShot(t, ctx, shots, "story-green-1400.png")

	culprit, _, commits := s.breakInFifthOfEight()
	run := s.waitHeadRun()
	if run.Verdict != store.VerdictIncompatible || run.Detail["culprit"] == nil {
		t.Fatalf("head run %d after the break: %s %v, want incompatible with a culprit", run.ID, run.Verdict, run.Detail)
	}
	waitCell(t, ctx, "red", run.ID)
	if text := run1(t, ctx, chromedp.Text(rfp)); !strings.Contains(text, "incompatible") {
		t.Errorf("dashboard rust-fil-proofs forge = %q, want incompatible", text)
	}
	saveShot(t, ctx, shots, "story-dashboard-1400.png")

	// The other pages, in a second tab.
	pctx, closeTab := chromedp.NewContext(ctx)
	defer closeTab()
	page := fmt.Sprintf("%s/candidates/%s", base, run.Candidate)
	if err := chromedp.Do(pctx, chromedp.EmulateViewport(1400, 900), chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS(".explain .culprit"))); err != nil {
		t.Fatal(err)
	}
	c := run1(t, pctx, chromedp.Text(chromedp.CSS(fmt.Sprintf("#run-%d .explain", run.ID))))
	for _, want := range []string{"incompatible", store.ShortRev(culprit), "rename leaf_count to leaves_of", "Fixture Author", "8 commit(s) since the last compatible pair", "← culprit"} {
		if !strings.Contains(c, want) {
			t.Errorf("candidate page explanation lacks %q:\n%s", want, c)
		}
	}
	// Jobs in pipeline order, not alphabetical: audit needs test needs build.
	order := run1(t, pctx, chromedp.Evaluate[[]string](fmt.Sprintf(`Array.from(document.querySelectorAll("#run-%d tr[data-job]")).map(tr => tr.dataset.job)`, run.ID)))
	if strings.Join(order, " ") != "merkletree:build merkletree:test merkletree:audit rust-fil-proofs:build rust-fil-proofs:test" {
		t.Errorf("jobs listed as %v, want pipeline order", order)
	}
	revs := run1(t, pctx, chromedp.Text(chromedp.CSS("#revisions")))
	if !strings.Contains(revs, "docs: note 8") || !strings.Contains(revs, "Fixture Author") {
		t.Errorf("revisions lack commit subject and author:\n%s", revs)
	}
	saveShot(t, pctx, shots, "story-candidate-1400.png")

	if err := chromedp.Do(pctx, chromedp.Navigate(base+"/compat"), chromedp.WaitVisible(chromedp.CSS(`section[data-pair="merkletree/rust-fil-proofs"]`))); err != nil {
		t.Fatal(err)
	}
	// Rows newest first; the downstream head column is the only one.
	rows := run1(t, pctx, chromedp.Evaluate[[]map[string]string](`Array.from(document.querySelectorAll('section[data-pair="merkletree/rust-fil-proofs"] tbody tr')).map(tr => ({rev: tr.dataset.rev, verdict: tr.querySelector("td").dataset.verdict}))`))
	at := map[string]string{}
	for _, r := range rows {
		at[r["rev"]] = r["verdict"]
	}
	// Every pair built from the culprit on failed (a commit bisection
	// skipped is shown as not built); the culprit, the head and the commit
	// before the culprit were built.
	for i, rev := range commits {
		switch {
		case i >= 4 && at[rev] != store.VerdictIncompatible && at[rev] != "":
			t.Errorf("compat view: merkletree commit %d (%s) = %q, want incompatible", i+1, store.ShortRev(rev), at[rev])
		case (i == 4 || i == 7) && at[rev] != store.VerdictIncompatible:
			t.Errorf("compat view: merkletree commit %d (%s) = %q, want incompatible", i+1, store.ShortRev(rev), at[rev])
		case i == 3 && at[rev] != store.VerdictGreen:
			t.Errorf("compat view: the commit before the culprit = %q, want green", at[rev])
		}
	}
	since := run1(t, pctx, chromedp.Text(chromedp.CSS("#broken-merkletree-rust-fil-proofs")))
	if !strings.Contains(since, "since "+store.ShortRev(culprit)) || !strings.Contains(since, "rename leaf_count to leaves_of") || !strings.Contains(since, "last compatible "+store.ShortRev(commits[3])) {
		t.Errorf("compat view summary = %q, want broken since the culprit, last compatible the commit before", since)
	}
	saveShot(t, pctx, shots, "story-compat-1400.png")

	// 390 px: no page is wider than the window.
	pages := map[string]string{
		"dashboard": base + "/", "candidate": page, "compat": base + "/compat", "history": base + "/history",
		"job": fmt.Sprintf("%s/runs/%d/jobs/rust-fil-proofs:build", base, run.ID), "login": base + "/login",
	}
	for name, u := range pages {
		if err := chromedp.Do(pctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Navigate(u), chromedp.WaitVisible(chromedp.CSS("main"))); err != nil {
			t.Fatal(err)
		}
		w := run1(t, pctx, chromedp.Evaluate[struct{ Scroll, Inner int }](`({Scroll: document.documentElement.scrollWidth, Inner: window.innerWidth})`))
		if w.Inner != 390 || w.Scroll > w.Inner {
			t.Errorf("%s page at 390 px is %d px wide (window %d)", name, w.Scroll, w.Inner)
		}
		saveShot(t, pctx, shots, "story-"+name+"-390.png")
	}
	if err := chromedp.Do(pctx, chromedp.EmulateViewport(1400, 900), chromedp.Navigate(base+"/history"), chromedp.WaitVisible(chromedp.CSS("#history"))); err != nil {
		t.Fatal(err)
	}
	hist := run1(t, pctx, chromedp.Text(chromedp.CSS("#history")))
	if !strings.Contains(hist, "culprit "+store.ShortRev(culprit)) || !strings.Contains(hist, "merkletree@") {
		t.Errorf("history lacks the culprit or readable candidates:\n%s", hist)
	}

	// The fix: the dashboard, open all along, turns green by itself.
	fix := s.up.Commit("restore leaf_count", map[string]string{"src/lib.rs": fixture.UpstreamLib})
	fixed := s.waitHeadRun()
	if fixed.Verdict != store.VerdictGreen {
		t.Fatalf("head run %d after the fix: %s, want green", fixed.ID, fixed.Verdict)
	}
	waitCell(t, ctx, "green", fixed.ID)
	saveShot(t, ctx, shots, "story-fixed-1400.png")
	// From the first time it said incompatible until the fix's run, the
	// cell was never green.
	seen := run1(t, ctx, chromedp.Evaluate[[]cellState](`window.seenCells`))
	broken := -1
	for i, c := range seen {
		if broken < 0 && c.Status == "red" && strings.Contains(c.Text, "incompatible") {
			broken = i
		}
		if broken >= 0 && c.Status == "green" && !strings.HasSuffix(c.Href, fmt.Sprintf("#run-%d", fixed.ID)) {
			t.Errorf("dashboard green (%s) while rust-fil-proofs was incompatible; the cell's states: %+v", c.Href, seen)
			break
		}
	}
	if broken < 0 {
		t.Errorf("the open dashboard never said incompatible by itself; the cell's states: %+v", seen)
	}
	if err := chromedp.Do(pctx, chromedp.Navigate(base+"/compat"), chromedp.WaitVisible(chromedp.CSS("section.pair"))); err != nil {
		t.Fatal(err)
	}
	fixVerdict := run1(t, pctx, chromedp.Evaluate[string](fmt.Sprintf(`document.querySelector('tr[data-rev="%s"] td[data-verdict]').dataset.verdict`, fix)))
	if fixVerdict != store.VerdictGreen {
		t.Errorf("compat view: the fix %s = %q, want green", store.ShortRev(fix), fixVerdict)
	}
}

// cellRecorder keeps in window.seenCells every state the dashboard's forge
// cell of rust-fil-proofs shows, as the page updates itself.
const cellRecorder = `(() => {
  window.seenCells = [];
  const rec = () => {
    const td = document.querySelector('tr[data-target="rust-fil-proofs/master"] td[data-stage="forge"]');
    if (!td) return;
    const a = td.querySelector("a");
    const c = {Status: td.dataset.status, Text: td.textContent.trim(), Href: a ? a.getAttribute("href") : ""};
    const l = window.seenCells[window.seenCells.length - 1];
    if (!l || l.Status !== c.Status || l.Text !== c.Text || l.Href !== c.Href) window.seenCells.push(c);
  };
  rec();
  new MutationObserver(rec).observe(document.body, {subtree: true, childList: true, attributes: true, characterData: true});
  return true;
})()`

type cellState struct{ Status, Text, Href string }

// waitCell waits until the open dashboard's forge cell of rust-fil-proofs
// shows status for run id, by itself.
func waitCell(t *testing.T, ctx context.Context, status string, id int64) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		seen := run1(t, ctx, chromedp.Evaluate[[]cellState](`window.seenCells`))
		if n := len(seen); n > 0 && seen[n-1].Status == status && strings.HasSuffix(seen[n-1].Href, fmt.Sprintf("#run-%d", id)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the dashboard never showed run %d %s by itself; the cell's states: %+v", id, status, seen)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitHeadRun waits until the forge run of the candidate of both branches'
// heads is done (its bisection included) and returns it.
func (s *truthStory) waitHeadRun() *store.Run {
	s.t.Helper()
	id := store.CandidateID(map[string]store.Revision{"merkletree": {Rev: s.up.Head()}, "rust-fil-proofs": {Rev: s.down.Head()}})
	st := s.open()
	defer st.Close()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		runs, err := st.Runs(context.Background(), store.RunFilter{Candidate: id, Stage: "forge", Kind: "stage", Limit: 1})
		if err != nil {
			s.t.Fatal(err)
		}
		if len(runs) > 0 && runs[0].State == store.RunDone {
			return runs[0]
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the forge run of head candidate %s never finished", id)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func storyBrowser(t *testing.T) context.Context {
	t.Helper()
	path := "/usr/bin/chromium"
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is not installed, and CI must run the browser tests")
		}
		t.Skip("chromium is not installed")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Flag("headless", true), chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true), chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1400, 900),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 5*time.Minute)
	t.Cleanup(func() { cancelT(); cancelC(); cancelA() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// screenshotDir is where the story's screenshots go: docs/screenshots with
// IRONWORKS_SCREENSHOT=1, else the test's temporary folder.
func screenshotDir(t *testing.T) string {
	if os.Getenv("IRONWORKS_SCREENSHOT") == "1" {
		return filepath.Join("..", "..", "..", "docs", "screenshots")
	}
	return t.TempDir()
}

func saveShot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	b := run1(t, ctx, chromedp.FullScreenshot(100))
	if len(b) < 5000 {
		t.Errorf("screenshot %s is only %d bytes", name, len(b))
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func run1[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
