package notify

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/forge"
	"github.com/ironworks-ci/ironworks/coordinator/forge/githubtest"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

func runPayload(stage, verdict, summary, sha string, jobs ...map[string]any) map[string]any {
	js := make([]any, len(jobs))
	for i, j := range jobs {
		js[i] = j
	}
	return map[string]any{
		"stage": stage, "verdict": verdict, "summary": summary, "run_url": "/runs/" + stage,
		"revisions": map[string]any{"merkletree": map[string]any{"repo": "https://github.com/filecoin-project/merkletree.git", "branch": "master", "rev": sha}},
		"jobs":      js,
	}
}

func TestPRReportStatusesAndOneComment(t *testing.T) {
	e := newEnv(t, "")
	gh := githubtest.New()
	defer gh.Close()
	prs := gh.EnablePRs()
	prs.PageSize = 1
	const repo = "filecoin-project/merkletree"
	prs.AddPR(githubtest.PR{Repo: repo, Number: 41, State: "closed", HeadSHA: "old", Commits: []string{"aaaa1111"}})
	prs.AddPR(githubtest.PR{Repo: repo, Number: 42, HeadSHA: "aaaa1111"})
	e.cfg.GitHub = &config.GitHub{}
	r := &PRReporter{Store: e.st, Forge: forge.New(gh.URL(), "", nil), Cfg: e.cfg, Linker: prefixLinker("https://logs.example.org/"), Log: quiet}
	ctx := context.Background()
	poll := func(want int) {
		t.Helper()
		n, err := r.Poll(ctx)
		if err != nil || n != want {
			t.Fatalf("Poll = %d, %v; want %d", n, err, want)
		}
	}

	e.emit(KindRunStarted, "merkletree", "master", runPayload("spark", "", "", "aaaa1111",
		map[string]any{"job": "merkletree:fmt", "state": "pending"}))
	e.emit(KindRunFinished, "merkletree", "master", runPayload("spark", "green", "2 jobs green", "aaaa1111",
		map[string]any{"job": "merkletree:fmt", "state": "success", "duration_ms": 3000, "log_key": "runs/1/fmt.log"},
		map[string]any{"job": "merkletree:clippy", "state": "success", "duration_ms": 95000}))
	e.emit(KindRunStarted, "merkletree", "master", runPayload("forge", "", "waiting for Hydra's evaluation", "aaaa1111"))
	e.emit(KindFailure, "merkletree", "master", runPayload("forge", "failed", "not a run event", "aaaa1111"))
	poll(3)
	st := prs.Statuses()
	if len(st) != 3 {
		t.Fatalf("statuses %+v", st)
	}
	want := []githubtest.Status{
		{Repo: repo, SHA: "aaaa1111", State: "pending", Context: "ironworks/spark", Description: "running 1 job(s)", TargetURL: "https://ci.example.org/runs/spark"},
		{Repo: repo, SHA: "aaaa1111", State: "success", Context: "ironworks/spark", Description: "2 jobs green", TargetURL: "https://ci.example.org/runs/spark"},
		{Repo: repo, SHA: "aaaa1111", State: "pending", Context: "ironworks/forge", Description: "waiting for Hydra's evaluation", TargetURL: "https://ci.example.org/runs/forge"},
	}
	for i := range want {
		if st[i] != want[i] {
			t.Errorf("status %d = %+v\nwant %+v", i, st[i], want[i])
		}
	}
	cms := prs.Comments(repo, 42)
	if len(cms) != 1 || prs.Calls("create-comment") != 1 {
		t.Fatalf("comments %+v", cms)
	}
	body := cms[0].Body
	for _, s := range []string{forge.Marker, "| spark | ✅ success | green | `aaaa111` | 2 jobs green |  | [run ",
		"| forge | ⏳ pending |", "| merkletree:fmt | success | 3s | [log](https://logs.example.org/runs/1/fmt.log", "| merkletree:clippy | success | 1m35s |  |"} {
		if !strings.Contains(body, s) {
			t.Errorf("comment lacks %q:\n%s", s, body)
		}
	}
	if strings.Index(body, "| spark |") > strings.Index(body, "| forge |") {
		t.Errorf("stages out of order:\n%s", body)
	}

	// The forge evaluation fails: an error status with the message, and the
	// same comment edited.
	e.emit(KindRunFinished, "merkletree", "master", runPayload("forge", "infra-error", "Hydra evaluation error: attribute 'x' missing\nat default.nix:3", "aaaa1111",
		map[string]any{"job": "merkletree:build", "state": "error", "reason": "eval | error"}))
	poll(1)
	st = prs.Statuses()
	last := st[len(st)-1]
	if last.State != "error" || last.Context != "ironworks/forge" || !strings.Contains(last.Description, "Hydra evaluation error: attribute 'x' missing at default.nix:3") {
		t.Fatalf("eval error status %+v", last)
	}
	cms = prs.Comments(repo, 42)
	if len(cms) != 1 || cms[0].Edits != 3 || prs.Calls("create-comment") != 1 || !strings.Contains(cms[0].Body, "| forge | ⚠️ error |") || !strings.Contains(cms[0].Body, `error: eval \| error`) {
		t.Fatalf("comment after the eval error: %+v", cms)
	}
	if n := prs.Calls("list-comments"); n != 1 {
		t.Errorf("listed comments %d times; the id should be remembered", n)
	}
	poll(0)

	// A component whose repository is not on GitHub gets nothing, quietly.
	e.emit(KindRunFinished, "merkletree", "master", map[string]any{"stage": "spark", "verdict": "green",
		"revisions": map[string]any{"merkletree": map[string]any{"repo": "file:///srv/merkletree.git", "rev": "bbbb"}}})
	poll(1)
	if len(prs.Statuses()) != len(st) {
		t.Fatal("status sent for a non-GitHub repository")
	}
}

func TestPRReportRetriesWhenGitHubIsDown(t *testing.T) {
	e := newEnv(t, "")
	gh := githubtest.New()
	prs := gh.EnablePRs()
	url := gh.URL()
	gh.Close()
	r := &PRReporter{Store: e.st, Forge: forge.New(url, "", noRetry()), Cfg: e.cfg, Log: quiet}
	e.emit(KindRunFinished, "merkletree", "master", runPayload("spark", "failed", "fmt failed", "cccc"))
	if _, err := r.Poll(context.Background()); err == nil {
		t.Fatal("no error while GitHub is down")
	}
	if c, _ := e.st.Cursor(context.Background(), PRConsumer); c != 0 {
		t.Fatalf("cursor advanced to %d past an unreported event", c)
	}
	_ = prs
}

func TestStatusOf(t *testing.T) {
	for _, tc := range []struct{ kind, verdict, state string }{
		{KindRunStarted, "", "pending"},
		{KindRunFinished, store.VerdictGreen, "success"},
		{KindRunFinished, store.VerdictIncompatible, "failure"},
		{KindRunFinished, store.VerdictUpstreamBroken, "failure"},
		{KindRunFinished, store.VerdictNotAccepted, "failure"},
		{KindRunFinished, store.VerdictInfraError, "error"},
		{KindRunFinished, store.VerdictWaiting, "pending"},
		{KindRunFinished, store.VerdictCancelled, "error"},
		{KindRunFinished, "weird", "error"},
	} {
		st, desc := statusOf(tc.kind, &Payload{Verdict: tc.verdict})
		if st != tc.state || desc == "" {
			t.Errorf("%s/%s: %q %q; want %q", tc.kind, tc.verdict, st, desc, tc.state)
		}
	}
}

func noRetry() *http.Client { return &http.Client{Timeout: 5 * time.Second} }

// The comment names the verdict and the culprit bisection found.
func TestRenderPRCommentCulprit(t *testing.T) {
	culprit := culpritText(&Commit{Rev: "0123456789abcdef", Subject: "rename | leaf_count\nmore", Author: "Ann"})
	body := RenderPRComment([]*store.PRStage{{Stage: "forge", State: "failure", Verdict: store.VerdictIncompatible, SHA: "abcdef0123", Summary: "broke", Culprit: culprit, RunID: 3, RunURL: "https://ci/runs/3"}})
	want := "| forge | ❌ failure | incompatible | `abcdef0` | broke | 0123456 rename \\| leaf_count more (Ann) | [run 3](https://ci/runs/3) |"
	if !strings.Contains(body, want) {
		t.Fatalf("comment lacks %q:\n%s", want, body)
	}
	if culpritText(nil) != "" {
		t.Fatal("no culprit must give an empty cell")
	}
}
