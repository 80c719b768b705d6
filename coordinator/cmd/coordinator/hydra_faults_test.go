package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	hydraengine "github.com/ironworks-ci/ironworks/coordinator/engine/hydra"
	"github.com/ironworks-ci/ironworks/coordinator/engine/hydra/hydraenginetest"
	"github.com/ironworks-ci/ironworks/coordinator/forge/githubtest"
	"github.com/ironworks-ci/ironworks/coordinator/internal/fixture"
	"github.com/ironworks-ci/ironworks/coordinator/pipeline"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// hydraStory is `coordinator run --once` with the Hydra engine against the
// in-test GitHub and Hydra of hydraenginetest: the lock branches are written
// by the engine, and each stage's jobset evaluates the lock file on the head
// of its lock branch into the jobs the contract names (the job names are
// checked against the real flake's evaluation in
// TestHydraEvaluatesTheFlakeOnEngineLocks; here the evaluation is the rig's,
// so that the faults can be timed and counted without Nix).
type hydraStory struct {
	t     *testing.T
	rig   *hydraenginetest.Rig
	cfg   string
	state string
	up    *fixture.Repo
	cfgd  *config.Config
	bin   string
	prs   *githubtest.PRState
}

func newHydraStory(t *testing.T, extra string) *hydraStory {
	t.Helper()
	// Long enough that retried 502s on a loaded machine never reach it.
	return newHydraStoryDeadline(t, "60s", extra)
}

// newHydraStoryDeadline is newHydraStory with hydra.eval_deadline set to
// deadline and extra appended to [engine].
func newHydraStoryDeadline(t *testing.T, deadline, extra string) *hydraStory {
	t.Helper()
	fixture.RequireCargo(t)
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	up := fixture.Merkletree(t, filepath.Join(dir, "src", "merkletree"))
	down := fixture.Proofs(t, filepath.Join(dir, "src", "rust-fil-proofs"))
	rig := hydraenginetest.New(t)
	rig.Hydra.AutoEvaluate = time.Millisecond
	tok := filepath.Join(dir, "github-token")
	if err := os.WriteFile(tok, []byte(rig.Token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	cfg := filepath.Join(dir, "ironworks.toml")
	body := fmt.Sprintf(`state_dir = %q
adapters = [%q, %q]
[components.merkletree]
repo = %q
[components.rust-fil-proofs]
repo = %q
[hydra]
url = %q
project = %q
user = "ironworks"
password_file = %q
lock_repo = %q
poll_interval = "5ms"
eval_deadline = %q
[github]
api_url = %q
token_file = %q
[github.repos]
merkletree = "filecoin-project/merkletree"
rust-fil-proofs = "filecoin-project/rust-fil-proofs"
[engine]
default = "hydra"
%s
`, state, filepath.Join(root, "adapters/merkletree"), filepath.Join(root, "adapters/rust-fil-proofs"),
		up.URL(), down.URL(), rig.Hydra.URL(), rig.Project, rig.PWFile, rig.LockRepo, deadline, rig.GitHub.URL(), tok, extra)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, stage := range []string{"spark", "forge"} {
		rig.AddStage(stage, stage, c.StageJobs(stage))
		for _, j := range c.StageJobs(stage) {
			rig.SetOutcome(hydraengine.JobName(stage, j.Component, j.Name, rig.System), 0)
		}
	}
	return &hydraStory{t: t, rig: rig, cfg: cfg, state: state, up: up, cfgd: c, bin: buildBinary(t), prs: rig.GitHub.EnablePRs()}
}

// smtp adds an [smtp] section sending to r, served on loopback.
func (s *hydraStory) smtp(t *testing.T, r *relay) {
	serveRelay(t, r, appendSMTP(t, s.cfg))
}

// run runs the built coordinator with args and --config.
func (s *hydraStory) run(args ...string) (int, string) {
	s.t.Helper()
	return binaryRun{bin: s.bin, cfg: s.cfg}.run(s.t, args...)
}

// runs returns the stage runs of the story, newest first.
func (s *hydraStory) runs() []*store.Run {
	s.t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(s.state, "ironworks.db"))
	if err != nil {
		s.t.Fatal(err)
	}
	defer st.Close()
	runs, err := st.Runs(context.Background(), store.RunFilter{Kind: "stage"})
	if err != nil {
		s.t.Fatal(err)
	}
	return runs
}

func (s *hydraStory) newest(stage string) *store.Run {
	s.t.Helper()
	for _, r := range s.runs() {
		if r.Stage == stage {
			return r
		}
	}
	s.t.Fatalf("no %s run", stage)
	return nil
}

// A POST /api/push whose answer is lost (Hydra triggered, the client saw a
// 502) is not repeated: the engine looks at the jobset, finds the trigger
// pending (or the check done), and waits for the eval. Two lost answers
// in a row cost at most one extra push each.
func TestHydraLostPushIsNotRepeated(t *testing.T) {
	s := newHydraStory(t, "")
	// Hydra must not evaluate at once, or the pending trigger is gone before
	// the engine looks; a real evaluator takes seconds.
	s.rig.Hydra.AutoEvaluate = 50 * time.Millisecond
	s.rig.Hydra.LoseNext(1, "POST /api/push")
	if code, out := s.run("run", "--once", "--through", "spark"); code != exitOK {
		t.Fatalf("run --once: exit %d\n%s", code, lastLines(out, 30))
	}
	if n := s.rig.Hydra.Count("POST /api/push"); n != 1 {
		t.Errorf("POST /api/push requests = %d, want 1 (the lost answer is not repeated)", n)
	}
	if r := s.newest("spark"); r.Verdict != store.VerdictGreen {
		t.Errorf("spark verdict %s: %v", r.Verdict, r.Detail)
	}
}

// A push answered 502 by a proxy before it reached Hydra (nothing happened)
// is pushed once more after the engine saw no trigger and no check.
func TestHydraRefusedPushIsSentAgainOnce(t *testing.T) {
	s := newHydraStory(t, "")
	s.rig.Hydra.FailNext(1, 502, "", "POST /api/push")
	if code, out := s.run("run", "--once", "--through", "spark"); code != exitOK {
		t.Fatalf("run --once: exit %d\n%s", code, lastLines(out, 30))
	}
	if n := s.rig.Hydra.Count("POST /api/push"); n != 2 {
		t.Errorf("POST /api/push requests = %d, want 2 (one refused, one accepted)", n)
	}
	if n := s.rig.Hydra.Triggers(s.rig.Project, "spark"); n != 1 {
		t.Errorf("accepted triggers = %d, want 1", n)
	}
}

// A burst of 502s on every endpoint shorter than the HTTP client's retry
// budget changes nothing: green, one trigger, and every request counted.
func TestHydra502BurstWithinRetryBudget(t *testing.T) {
	s := newHydraStory(t, "")
	s.rig.Hydra.FailNext(3, 502, "", "GET ")
	if code, out := s.run("run", "--once", "--through", "spark"); code != exitOK {
		t.Fatalf("run --once: exit %d\n%s", code, lastLines(out, 30))
	}
	if n := s.rig.Hydra.Triggers(s.rig.Project, "spark"); n != 1 {
		t.Errorf("triggers = %d, want 1", n)
	}
	if n := s.rig.Hydra.Count("POST /api/push"); n != 1 {
		t.Errorf("pushes = %d, want 1", n)
	}
}

// A wrong Hydra password ends the pass within seconds as infra-error naming
// the login, with one login request and no trigger.
func TestHydraWrongPassword(t *testing.T) {
	s := newHydraStory(t, "")
	if err := os.WriteFile(s.rig.PWFile, []byte("wrong\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	code, out := s.run("run", "--once", "--through", "spark")
	if code != exitInfra {
		t.Fatalf("exit %d, want %d\n%s", code, exitInfra, lastLines(out, 30))
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("took %s", d)
	}
	r := s.newest("spark")
	if r.Verdict != store.VerdictInfraError || !strings.Contains(fmt.Sprint(r.Detail["reason"]), "login") {
		t.Errorf("verdict %s, detail %v: want infra-error naming the login", r.Verdict, r.Detail)
	}
	if n := s.rig.Hydra.Count("POST /login"); n != 1 {
		t.Errorf("logins = %d, want 1", n)
	}
	if n := s.rig.Hydra.Triggers(s.rig.Project, "spark"); n != 0 {
		t.Errorf("triggers = %d, want 0", n)
	}
}

// A whole-flake evaluation error or a fetch error is a verdict of its own:
// eval-error, with Hydra's message, blaming no component and changing no
// target state. The next pass tries again after the backoff, and a fixed
// flake goes green without a human.
func TestHydraEvalErrorBlamesNobody(t *testing.T) {
	for _, tc := range []struct {
		name, msg string
		fail      func(s *hydraStory, msg string)
	}{
		{"eval", "error: undefined variable 'mkCargoJob' at /nix/store/x-source/nix/lib/project.nix:12:5", func(s *hydraStory, msg string) {
			s.rig.Hydra.FailEval(s.rig.Project, "spark", msg)
		}},
		{"fetch", "fatal: could not read from remote repository", func(s *hydraStory, msg string) {
			s.rig.Hydra.FailFetch(s.rig.Project, "spark", msg)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newHydraStory(t, `retry_backoff = "1ms"`)
			r := &relay{}
			s.smtp(t, r)
			// Subscribed to the kind (with any component: the flake is
			// everyone's), and one subscribed to the defaults only.
			if code, out := s.run("subscribe", "--email", "release@example.org", "--component", "merkletree", "--events", "eval-error"); code != exitOK {
				t.Fatalf("subscribe: %d\n%s", code, out)
			}
			if code, out := s.run("subscribe", "--email", "dev@example.org", "--component", "rust-fil-proofs"); code != exitOK {
				t.Fatalf("subscribe: %d\n%s", code, out)
			}
			tc.fail(s, tc.msg)
			code, out := s.run("run", "--once", "--through", "spark")
			if code != exitInfra {
				t.Fatalf("exit %d, want %d\n%s", code, exitInfra, lastLines(out, 30))
			}
			if m := r.messages(); len(m) != 1 || !strings.HasPrefix(m[0], "release@example.org|") || !strings.Contains(m[0], tc.msg) {
				t.Errorf("e-mails %q, want one to the eval-error subscriber with Hydra's message", m)
			}
			// The commits are told: an error status (nobody's failure).
			var spark []githubtest.Status
			for _, st := range s.prs.Statuses() {
				if st.Context == "ironworks/spark" && st.State != "pending" {
					spark = append(spark, st)
				}
			}
			if len(spark) == 0 {
				t.Errorf("no final ironworks/spark status: %+v", s.prs.Statuses())
			}
			for _, st := range spark {
				if st.State != "error" || !strings.Contains(st.Description, "evaluated") {
					t.Errorf("status %+v, want error saying the flake could not be evaluated", st)
				}
			}
			run := s.newest("spark")
			if run.Verdict != store.VerdictEvalError || !strings.Contains(fmt.Sprint(run.Detail["reason"]), tc.msg) {
				t.Fatalf("verdict %s detail %v, want eval-error with Hydra's message", run.Verdict, run.Detail)
			}
			for _, k := range []string{"component", "downstream", "upstream", "culprit"} {
				if v, ok := run.Detail[k]; ok {
					t.Errorf("eval-error blames %s=%v", k, v)
				}
			}
			st, err := store.Open(context.Background(), filepath.Join(s.state, "ironworks.db"))
			if err != nil {
				t.Fatal(err)
			}
			states, err := st.TargetStates(context.Background())
			st.Close()
			if err != nil || len(states) != 0 {
				t.Errorf("target states %v %v, want none", states, err)
			}
			// The flake is fixed: the next pass retries and goes green.
			s.rig.Hydra.FailEval(s.rig.Project, "spark", "")
			s.rig.Hydra.FailFetch(s.rig.Project, "spark", "")
			if code, out := s.run("run", "--once", "--through", "spark"); code != exitOK {
				t.Fatalf("second pass: exit %d\n%s", code, lastLines(out, 30))
			}
			if r := s.newest("spark"); r.Verdict != store.VerdictGreen || pipeline.Attempt(r.Detail) != 2 {
				t.Errorf("retry: verdict %s detail %v, want green attempt 2", r.Verdict, r.Detail)
			}
		})
	}
}

// A 502 burst longer than every retry budget (the eval deadline passes)
// ends the pass infra-error; the next pass, after the backoff, finds the
// evaluation that appeared meanwhile and ends green without a human. The
// last attempt says so and is not retried.
func TestHydraInfraErrorIsRetried(t *testing.T) {
	s := newHydraStoryDeadline(t, "3s", "retries = 1\nretry_backoff = \"1ms\"")
	s.rig.Hydra.FailNext(1<<20, 502, "", "/evals")
	code, out := s.run("run", "--once", "--through", "spark")
	if code != exitInfra {
		t.Fatalf("exit %d, want %d\n%s", code, exitInfra, lastLines(out, 30))
	}
	first := s.newest("spark")
	if first.Verdict != store.VerdictInfraError || first.Detail["retry_at"] == nil {
		t.Fatalf("first: %s %v, want infra-error with retry_at", first.Verdict, first.Detail)
	}
	if code, out := s.run("status"); code != exitOK || !strings.Contains(out, "attempt 1 of 2") {
		t.Errorf("status does not show the attempt count:\n%s", out)
	}
	s.rig.Hydra.ClearFaults()
	if code, out := s.run("run", "--once", "--through", "spark"); code != exitOK {
		t.Fatalf("second pass: exit %d\n%s", code, lastLines(out, 30))
	}
	if r := s.newest("spark"); r.Verdict != store.VerdictGreen || r.ID == first.ID {
		t.Fatalf("retry: %+v", r)
	}
	if n := s.rig.Hydra.Triggers(s.rig.Project, "spark"); n > 2 {
		t.Errorf("triggers = %d, want at most 2", n)
	}
}

// sparkGate returns the build of spark's gate aggregate in the newest eval.
func (s *hydraStory) sparkGate() int64 {
	s.t.Helper()
	evals := s.rig.Hydra.Evals(s.rig.Project, "spark")
	if len(evals) == 0 {
		s.t.Fatal("spark was never evaluated")
	}
	id := s.rig.Hydra.BuildID(evals[len(evals)-1], hydraengine.GateName("spark", s.rig.System))
	if id == 0 {
		s.t.Fatal("spark's eval has no gate")
	}
	return id
}

// The gate aggregate finished, the engine read it, and then it was restarted
// (finished = 0, the old buildstatus kept) before the gate decision looked:
// the run is green but not promoted, the gate is pending. The restarted gate
// re-finishes failed: the next pass refuses, naming the build, with exit 1
// (a gate said no), and asks Hydra for nothing new: no push, no trigger.
// Re-finished succeeded instead, the next pass promotes.
func TestHydraRestartedGateEndingFailedIsNotPromoted(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
	}{{"failed", 1}, {"succeeded", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			s := newHydraStory(t, "")
			s.rig.Hydra.RestartAfterServed(hydraengine.GateName("spark", s.rig.System))
			code, out := s.run("run", "--once", "--through", "spark")
			if code != exitOK {
				t.Fatalf("pass 1: exit %d\n%s", code, lastLines(out, 30))
			}
			gate := s.sparkGate()
			// Nothing failed (exit 0), but the pass does not say the gate passed.
			if l := lastLine(out); !strings.Contains(l, "spark green (not promoted: gate pending: gate build") || strings.Contains(out, "every gate passed") {
				t.Errorf("pass 1 ends %q, want spark green, not promoted, the gate pending", l)
			}
			first := s.newest("spark")
			if first.Verdict != store.VerdictGreen || first.Detail["not_promoted"] != store.GatePending ||
				!strings.Contains(fmt.Sprint(first.Detail["hydra_gate"]), fmt.Sprintf("gate build %d", gate)) ||
				!strings.Contains(fmt.Sprint(first.Detail["hydra_gate"]), "not finished (restarted?)") {
				t.Fatalf("pass 1: %s %v, want green, gate %d pending as restarted", first.Verdict, first.Detail, gate)
			}
			code, out = s.run("status")
			if code != exitOK || !strings.Contains(out, "promoted=[]") || !strings.Contains(out, "not promoted: gate pending") ||
				!strings.Contains(out, fmt.Sprintf("gate build %d", gate)) {
				t.Errorf("status does not show spark waiting for gate build %d:\n%s", gate, out)
			}
			pushes, triggers := s.rig.Hydra.Count("POST /api/push"), s.rig.Hydra.Triggers(s.rig.Project, "spark")
			if pushes != 1 || triggers != 1 {
				t.Errorf("pass 1: pushes %d, triggers %d, want 1 and 1", pushes, triggers)
			}

			s.rig.Hydra.FinishBuild(gate, tc.status)
			want := exitGate
			if tc.status == 0 {
				want = exitOK
			}
			code, out = s.run("run", "--once", "--through", "spark")
			if code != want {
				t.Fatalf("pass 2: exit %d, want %d\n%s", code, want, lastLines(out, 30))
			}
			if n := s.rig.Hydra.Count("POST /api/push"); n != pushes {
				t.Errorf("pass 2 pushed: %d pushes, want %d", n, pushes)
			}
			if n := s.rig.Hydra.Triggers(s.rig.Project, "spark"); n != triggers {
				t.Errorf("pass 2 triggered: %d, want %d", n, triggers)
			}
			second := s.newest("spark")
			if second.ID != first.ID {
				t.Errorf("pass 2 made run %d, want the gate of run %d decided", second.ID, first.ID)
			}
			promoted := s.promoted("spark")
			if tc.status == 0 {
				if !promoted {
					t.Errorf("the re-finished gate succeeded and spark is not promoted: %v", second.Detail)
				}
				if l := lastLine(out); !strings.Contains(l, "every gate passed") {
					t.Errorf("pass 2 ends %q, want every gate passed", l)
				}
				return
			}
			if promoted {
				t.Fatal("a gate that re-finished failed was promoted")
			}
			if l := lastLine(out); !strings.Contains(l, fmt.Sprintf("spark green (not promoted: gate failed: gate build %d", gate)) {
				t.Errorf("pass 2 ends %q, want the failed gate named", l)
			}
			why := fmt.Sprint(second.Detail["hydra_gate"])
			if second.Detail["not_promoted"] != store.GateFailed || !strings.Contains(why, fmt.Sprintf("gate build %d", gate)) || !strings.Contains(why, "failed") {
				t.Errorf("pass 2: detail %v, want the gate failed, naming build %d", second.Detail, gate)
			}
			if code, out := s.run("status"); code != exitOK || !strings.Contains(out, "not promoted: gate failed") || strings.Contains(out, "gate pending") {
				t.Errorf("status does not show the failed gate:\n%s", out)
			}
		})
	}
}

// promoted reports whether the story's candidate is promoted at stage.
func (s *hydraStory) promoted(stage string) bool {
	s.t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(s.state, "ironworks.db"))
	if err != nil {
		s.t.Fatal(err)
	}
	defer st.Close()
	ok, err := st.Promoted(context.Background(), s.newest(stage).Candidate, stage)
	if err != nil {
		s.t.Fatal(err)
	}
	return ok
}

// lockCommits returns the commits of stage's lock branch that are not on the
// lock repository's main, newest first.
func (s *hydraStory) lockCommits(stage string) []*githubtest.Commit {
	s.t.Helper()
	gh, repo := s.rig.GitHub, s.rig.LockRepo
	main := gh.Head(repo, "main")
	var out []*githubtest.Commit
	for sha := gh.Head(repo, stage+"-lock"); sha != "" && sha != main; {
		c := gh.CommitInfo(repo, sha)
		if c == nil || len(out) > 10 {
			s.t.Fatalf("lock branch %s-lock does not lead to main %s: %v", stage, main, out)
		}
		out = append(out, c)
		sha = ""
		if len(c.Parents) > 0 {
			sha = c.Parents[0]
		}
	}
	return out
}

// The lock branch exists (a deployment made it from main) and GitHub acts on
// the ref update but its answer is lost (a 502 from its load balancer).
//
// Once: the HTTP client sends the same PATCH again; the ref already points
// at the new commit, a fast-forward of itself, so GitHub answers 200 (as
// real GitHub does for a ref moved to where it is). One pass, green.
//
// Past the client's retry budget (7 lost answers): the pass ends
// infra-error; the next one re-reads the branch, finds the lock commit's
// tree there and writes nothing (no commit, no ref update), and is green.
//
// Both: one lock commit, on main; one trigger.
func TestHydraLostLockWrite(t *testing.T) {
	for _, tc := range []struct {
		name   string
		lost   int
		passes int
	}{{"once", 1, 1}, {"past the retry budget", 7, 2}} {
		t.Run(tc.name, func(t *testing.T) {
			s := newHydraStory(t, `retry_backoff = "1ms"`)
			gh, repo := s.rig.GitHub, s.rig.LockRepo
			gh.Lock()
			r := gh.RepoLocked(repo)
			r.Branches["spark-lock"] = r.Branches["main"]
			gh.Unlock()
			gh.LoseNextAnswers(tc.lost, "PATCH /repos/{o}/{r}/git/refs")
			code, out := s.run("run", "--once", "--through", "spark")
			if tc.passes == 2 {
				if code != exitInfra {
					t.Fatalf("pass 1: exit %d, want %d\n%s", code, exitInfra, lastLines(out, 30))
				}
				if n := s.rig.Hydra.Count("POST /api/push"); n != 0 {
					t.Errorf("pass 1 pushed %d times, want 0", n)
				}
				code, out = s.run("run", "--once", "--through", "spark")
			}
			if code != exitOK {
				t.Fatalf("pass %d: exit %d\n%s", tc.passes, code, lastLines(out, 30))
			}
			if r := s.newest("spark"); r.Verdict != store.VerdictGreen || pipeline.Attempt(r.Detail) != tc.passes || !s.promoted("spark") {
				t.Errorf("spark %s %v, want green attempt %d, promoted", r.Verdict, r.Detail, tc.passes)
			}
			locks := s.lockCommits("spark")
			if len(locks) != 1 || len(locks[0].Parents) != 1 || locks[0].Parents[0] != gh.Head(repo, "main") {
				t.Fatalf("lock commits %v, want one, on main", locks)
			}
			if _, ok := locks[0].Tree[hydraengine.LockPath("spark")]; !ok {
				t.Errorf("the lock commit has no %s", hydraengine.LockPath("spark"))
			}
			if n := gh.Count("POST /repos/{o}/{r}/git/commits"); n != 1 {
				t.Errorf("commits created = %d, want 1", n)
			}
			// The lost ones and the one answered: the client's resends.
			if n, want := gh.Count("PATCH /repos/{o}/{r}/git/refs/{ref...}"), min(tc.lost+1, 7); n != want {
				t.Errorf("ref updates = %d, want %d", n, want)
			}
			if n := s.rig.Hydra.Triggers(s.rig.Project, "spark"); n != 1 {
				t.Errorf("triggers = %d, want 1", n)
			}
		})
	}
}

// GitHub's git data API is down (502) for longer than the HTTP client's
// retry budget (httpretry: 6 retries, 7 requests) while the lock is written:
// the pass ends infra-error, pushes nothing to Hydra (there is no lock to
// evaluate) and says when it tries again. GitHub comes back; the next pass
// retries (attempt 2) and is green, without a human, with one lock commit.
func TestHydraGitHubDownForOnePass(t *testing.T) {
	s := newHydraStory(t, `retry_backoff = "1ms"`)
	gh := s.rig.GitHub
	gh.FailNext(1<<20, 502, "git/")
	code, out := s.run("run", "--once", "--through", "spark")
	if code != exitInfra {
		t.Fatalf("pass 1: exit %d, want %d\n%s", code, exitInfra, lastLines(out, 30))
	}
	first := s.newest("spark")
	if first.Verdict != store.VerdictInfraError || first.Detail["retry_at"] == nil || !strings.Contains(fmt.Sprint(first.Detail), "lock") {
		t.Fatalf("pass 1: %s %v, want infra-error writing the lock, with retry_at", first.Verdict, first.Detail)
	}
	if n := s.rig.Hydra.Count("POST /api/push"); n != 0 {
		t.Errorf("pass 1 pushed %d times, want 0 (no lock was written)", n)
	}
	if n := gh.Count("GET /repos/{o}/{r}/git/ref/{ref...}"); n != 7 {
		t.Errorf("git data requests in pass 1 = %d, want 7 (the first one and six retries)", n)
	}
	if code, out := s.run("status"); code != exitOK || !strings.Contains(out, "attempt 1 of 4") {
		t.Errorf("status does not show attempt 1 of 4:\n%s", out)
	}
	gh.ClearFaults()
	if code, out := s.run("run", "--once", "--through", "spark"); code != exitOK {
		t.Fatalf("pass 2: exit %d\n%s", code, lastLines(out, 30))
	}
	r := s.newest("spark")
	if r.Verdict != store.VerdictGreen || pipeline.Attempt(r.Detail) != 2 || r.ID == first.ID || !s.promoted("spark") {
		t.Fatalf("pass 2: run %d %s %v, want a green attempt 2, promoted", r.ID, r.Verdict, r.Detail)
	}
	if locks := s.lockCommits("spark"); len(locks) != 1 {
		t.Errorf("lock commits %v, want one", locks)
	}
	if n := s.rig.Hydra.Triggers(s.rig.Project, "spark"); n != 1 {
		t.Errorf("triggers = %d, want 1", n)
	}
}
