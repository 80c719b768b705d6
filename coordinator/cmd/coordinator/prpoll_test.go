package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ironworks-ci/ironworks/coordinator/forge/githubtest"
	"github.com/ironworks-ci/ironworks/coordinator/internal/fixture"
)

// pollEnv is one component "app" with a spark and a forge job that pass
// while ok.txt says ok, its repository on disk (what the coordinator
// fetches) and on the GitHub double "o/app" (pull requests, reviews,
// merges), and a configuration with no webhook secret: no webhook ever
// arrives.
type pollEnv struct {
	dir, cfg, bin string
	repo          *fixture.Repo
	gh            *githubtest.Server
	prs           *githubtest.PRState
	ghMaster      string // master on the double
}

func newPollEnv(t *testing.T, extra string) *pollEnv { return newPollEnvWith(t, "", extra) }

// newPollEnvWith adds comp to [components.app] and extra at the end.
func newPollEnvWith(t *testing.T, comp, extra string) *pollEnv {
	t.Helper()
	e := &pollEnv{dir: t.TempDir(), bin: buildBinary(t)}
	e.gh = githubtest.New()
	t.Cleanup(e.gh.Close)
	e.gh.Token = "ghp_poll"
	e.prs = e.gh.EnablePRs()
	e.prs.Token = "ghp_poll"
	e.repo = fixture.NewRepo(t, filepath.Join(e.dir, "src", "app"))
	e.repo.Commit("works", map[string]string{"ok.txt": "ok\n"})
	e.ghMaster = e.gh.AddRepo("o/app", "master", map[string]string{"ok.txt": "ok\n"})
	os.MkdirAll(filepath.Join(e.dir, "adapters", "app"), 0o755)
	os.WriteFile(filepath.Join(e.dir, "adapters", "app", "adapter.toml"), []byte(`name = "app"
repo = "unused"
[jobs.quick]
stage = "spark"
command = "grep -qx ok ok.txt"
[jobs.check]
stage = "forge"
command = "grep -qx ok ok.txt && test ! -e broken.txt"
`), 0o644)
	os.WriteFile(filepath.Join(e.dir, "token"), []byte("ghp_poll\n"), 0o600)
	e.cfg = filepath.Join(e.dir, "ironworks.toml")
	os.WriteFile(e.cfg, []byte(fmt.Sprintf(`state_dir = "state"
adapters = ["adapters/app"]
[components.app]
repo = %q
%s
[github]
api_url = %q
token_file = %q
[github.repos]
app = "o/app"
%s`, e.repo.URL(), comp, e.gh.URL(), filepath.Join(e.dir, "token"), extra)), 0o644)
	return e
}

// branch commits files on a new branch of the repository on disk, pushed to
// the double too, and returns the commit; master stays checked out.
func (e *pollEnv) branch(t *testing.T, name string, files map[string]string) string {
	t.Helper()
	e.repo.Git("checkout", "-q", "-b", name, "master")
	sha := e.repo.Commit("work on "+name, files)
	e.repo.Git("checkout", "-q", "master")
	e.gh.AddCommit("o/app", sha, e.ghMaster, "work on "+name)
	return sha
}

func (e *pollEnv) once(t *testing.T) (int, string) {
	t.Helper()
	return runOnce(t, e.bin, e.cfg)
}

func (e *pollEnv) comment(t *testing.T, pr int) string {
	t.Helper()
	cs := e.prs.Comments("o/app", pr)
	if len(cs) != 1 {
		t.Fatalf("%d comments on #%d, want 1: %+v", len(cs), pr, cs)
	}
	return cs[0].Body
}

// A PR whose webhook never arrived is found by run --once's polling: its
// head gets a spark run and a status, the comment says why it is not
// promoted, an approval seen by a later pass merges it into staging, and a
// PR that is ready before its spark ends is merged when spark turns green.
// Idle passes cost no rate limit: their polls are answered 304.
func TestRunOncePollsPullRequests(t *testing.T) {
	e := newPollEnv(t, "[web]\nurl = \"https://ci.example.org\"\n")
	feat := e.branch(t, "feature", map[string]string{"feature.txt": "new\n"})
	e.gh.AddPull("o/app", githubtest.Pull{Number: 5, Title: "Feature", HeadSHA: feat, HeadRef: "feature", BaseRef: "master", Labels: []string{"ready-for-staging"}})
	if code, out := e.once(t); code != exitOK {
		t.Fatalf("first pass: exit %d\n%s", code, out)
	}
	var spark bool
	for _, s := range e.prs.Statuses() {
		spark = spark || s.SHA == feat && s.Context == "ironworks/spark" && s.State == "success" && strings.HasPrefix(s.TargetURL, "https://ci.example.org/runs/")
	}
	if !spark {
		t.Fatalf("no ironworks/spark success with a run link on the PR head %s: %+v", feat, e.prs.Statuses())
	}
	if body := e.comment(t, 5); !strings.Contains(body, "not promoted: no approving review") {
		t.Fatalf("the comment does not say why the PR is not promoted:\n%s", body)
	}
	if n := len(e.gh.Merges()); n != 0 {
		t.Fatalf("%d merges of an unapproved PR", n)
	}

	// The second pass reads the reviews for the first time; the third has
	// nothing new to learn and must cost nothing.
	e.once(t)
	used, free, lists := e.gh.RateUsed(), e.gh.NotModified(), e.gh.Count("GET /repos/{o}/{r}/pulls")
	if code, out := e.once(t); code != exitOK {
		t.Fatalf("idle pass: exit %d\n%s", code, out)
	}
	if got := e.gh.RateUsed() - used; got != 0 {
		t.Errorf("an idle pass made %d requests counted against the rate limit, want 0", got)
	}
	if got := e.gh.NotModified() - free; got != 2 {
		t.Errorf("an idle pass got %d 304s, want 2 (the PR list and the reviews of the labelled, green PR)", got)
	}
	if got := e.gh.Count("GET /repos/{o}/{r}/pulls") - lists; got != 1 {
		t.Errorf("an idle pass listed the PRs %d times, want 1", got)
	}

	// Approved on GitHub; no webhook tells us.
	e.gh.UpdatePull("o/app", 5, func(p *githubtest.Pull) {
		p.Reviews = append(p.Reviews, githubtest.Review{User: "reviewer", State: "APPROVED", CommitID: feat})
	})
	if code, out := e.once(t); code != exitOK {
		t.Fatalf("pass after the approval: exit %d\n%s", code, out)
	}
	merges := e.gh.Merges()
	if len(merges) != 1 || merges[0].Base != "staging" || merges[0].Head != feat || !strings.HasPrefix(merges[0].Message, "Promote #5 to staging") {
		t.Fatalf("merges after the approval = %+v, want #5's head merged into staging", merges)
	}
	if body := e.comment(t, 5); !strings.Contains(body, "merged into staging as") {
		t.Errorf("the comment does not say the PR was merged:\n%s", body)
	}
	used = e.gh.RateUsed()
	e.once(t)
	if got := e.gh.RateUsed() - used; got != 0 || len(e.gh.Merges()) != 1 {
		t.Errorf("a pass after the merge: %d counted requests, %d merges; want 0 and still 1", got, len(e.gh.Merges()))
	}

	// Ready (approved and labelled) before its spark ran: merged as soon
	// as spark is green, in the same pass.
	quick := e.branch(t, "quick", map[string]string{"quick.txt": "q\n"})
	e.gh.AddPull("o/app", githubtest.Pull{Number: 6, Title: "Quick", HeadSHA: quick, HeadRef: "quick", BaseRef: "master",
		Labels: []string{"ready-for-staging"}, Reviews: []githubtest.Review{{User: "reviewer", State: "APPROVED"}}})
	// GitHub makes the merge but its answer is lost: the retry finds it
	// made (204), and there is still one merge.
	e.gh.LoseNext(1, "POST /repos/{o}/{r}/merges")
	if code, out := e.once(t); code != exitOK {
		t.Fatalf("pass with a ready PR: exit %d\n%s", code, out)
	}
	if m := e.gh.Merges(); len(m) != 2 || m[1].Head != quick {
		t.Fatalf("merges = %+v, want #6 merged once in the pass its spark turned green", m)
	}
	if body := e.comment(t, 6); !strings.Contains(body, "merged into staging as "+e.gh.Merges()[1].SHA[:7]) {
		t.Errorf("#6's comment does not name its merge commit %s:\n%s", e.gh.Merges()[1].SHA[:7], body)
	}

	// A draft is not built; a red spark is a reason shown on the PR.
	red := e.branch(t, "red", map[string]string{"ok.txt": "no\n"})
	e.gh.AddPull("o/app", githubtest.Pull{Number: 7, Title: "Red", HeadSHA: red, HeadRef: "red", BaseRef: "master", Labels: []string{"ready-for-staging"}})
	draft := e.branch(t, "draft", map[string]string{"draft.txt": "d\n"})
	e.gh.AddPull("o/app", githubtest.Pull{Number: 8, Title: "Draft", Draft: true, HeadSHA: draft, HeadRef: "draft", BaseRef: "master"})
	if code, out := e.once(t); code != exitGate {
		t.Fatalf("pass with a red PR: exit %d, want %d\n%s", code, exitGate, out)
	}
	if body := e.comment(t, 7); !strings.Contains(body, "spark jobs are not all green") || !strings.Contains(body, "failure") {
		t.Errorf("the red PR's comment lacks its spark failure and why it is not promoted:\n%s", body)
	}
	t.Logf("comment of #7:\n%s", e.comment(t, 7))
	if body := e.comment(t, 8); !strings.Contains(body, "the pull request is a draft") {
		t.Errorf("the draft's comment does not say it is a draft:\n%s", body)
	}
	for _, s := range e.prs.Statuses() {
		if s.SHA == draft && s.Context == "ironworks/spark" {
			t.Errorf("a draft got a spark status: %+v", s)
		}
	}
	if n := len(e.gh.Merges()); n != 2 {
		t.Errorf("%d merges, want still 2", n)
	}

	// GitHub refuses the merge (a conflict with staging): final, said on the PR.
	clash := e.branch(t, "clash", map[string]string{"clash.txt": "c\n"})
	e.gh.SetConflict("o/app", clash)
	e.gh.AddPull("o/app", githubtest.Pull{Number: 9, Title: "Clash", HeadSHA: clash, HeadRef: "clash", BaseRef: "master",
		Labels: []string{"ready-for-staging"}, Reviews: []githubtest.Review{{User: "reviewer", State: "APPROVED"}}})
	if code, out := e.once(t); code != exitOK {
		t.Fatalf("pass with a conflicting PR: exit %d, want %d (its spark is green; the refusal is the PR's)\n%s", code, exitOK, out)
	}
	if body := e.comment(t, 9); !strings.Contains(body, "GitHub refused the merge into staging: merge conflict") {
		t.Errorf("the comment does not explain the refused merge:\n%s", body)
	}
	if n := len(e.gh.Merges()); n != 2 {
		t.Errorf("%d merges, want still 2", n)
	}
}

// serve polls too: a PR whose webhook never arrived is built and merged
// into staging, and then its idle polls are 304s that cost no rate limit.
func TestServePollsPullRequests(t *testing.T) {
	e := newPollEnv(t, "[web]\nlisten = \"127.0.0.1:0\"\nurl = \"https://ci.example.org\"\n[engine]\npoll_interval = \"300ms\"\n")
	feat := e.branch(t, "feature", map[string]string{"feature.txt": "new\n"})
	e.gh.AddPull("o/app", githubtest.Pull{Number: 5, Title: "Feature", HeadSHA: feat, HeadRef: "feature", BaseRef: "master",
		Labels: []string{"ready-for-staging"}, Reviews: []githubtest.Review{{User: "reviewer", State: "APPROVED"}}})
	logFile := filepath.Join(e.dir, "serve.log")
	lf, _ := os.Create(logFile)
	defer lf.Close()
	cmd := exec.Command(e.bin, "serve", "--config", e.cfg)
	cmd.Dir = e.dir
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = lf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() }()
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || !strings.HasPrefix(line, "listening on ") {
		t.Fatalf("serve did not start: %q %v", line, err)
	}
	deadline := time.Now().Add(90 * time.Second)
	for len(e.gh.Merges()) == 0 || len(e.prs.Comments("o/app", 5)) == 0 || !strings.Contains(e.prs.Comments("o/app", 5)[0].Body, "merged into staging") {
		if time.Now().After(deadline) {
			logs, _ := os.ReadFile(logFile)
			t.Fatalf("the PR was never merged into staging and said so (merges %+v)\n%s", e.gh.Merges(), logs)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if m := e.gh.Merges(); len(m) != 1 || m[0].Head != feat {
		t.Fatalf("merges = %+v, want #5's head once", m)
	}
	time.Sleep(6 * time.Second) // the reporter's last round (every 5 s) is over
	used, free := e.gh.RateUsed(), e.gh.NotModified()
	time.Sleep(3 * time.Second) // about ten polls
	if got := e.gh.RateUsed() - used; got != 0 {
		t.Errorf("idle polling made %d requests counted against the rate limit, want 0", got)
	}
	if got := e.gh.NotModified() - free; got < 3 {
		t.Errorf("idle polling got %d 304s in 3 s at 300 ms, want several", got)
	}
	if n := len(e.gh.Merges()); n != 1 {
		t.Errorf("%d merges, want 1", n)
	}
}
