package hydraengine_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	hydraengine "github.com/ironworks-ci/ironworks/coordinator/engine/hydra"
	"github.com/ironworks-ci/ironworks/coordinator/engine/hydra/hydraenginetest"
	"github.com/ironworks-ci/ironworks/coordinator/httpretry"
	"github.com/ironworks-ci/ironworks/coordinator/hydra"
	"github.com/ironworks-ci/ironworks/coordinator/pipeline"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

const sys = "x86_64-linux"

func openStore(t testing.TB) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "ironworks.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func forgeJobs() []*config.Job {
	return []*config.Job{
		hydraenginetest.Job("merkletree", "build", "forge", true),
		hydraenginetest.Job("merkletree", "test", "forge", true),
		hydraenginetest.Job("merkletree", "rustdoc", "forge", false),
	}
}

func candidate(t testing.TB, st *store.Store, mt string) *store.Candidate {
	t.Helper()
	c, err := st.PutCandidate(context.Background(), map[string]store.Revision{
		"merkletree": {Repo: "https://github.com/filecoin-project/merkletree", Branch: "master", Rev: mt},
	}, "head", 0)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type results struct {
	mu   sync.Mutex
	last map[string]store.JobResult
	seq  []store.JobResult
}

func (r *results) report(j store.JobResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last == nil {
		r.last = map[string]store.JobResult{}
	}
	r.last[j.Job] = j
	r.seq = append(r.seq, j)
}

func (r *results) get(job string) store.JobResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last[job]
}

func setup(t testing.TB) (*hydraenginetest.Rig, *store.Store) {
	r := hydraenginetest.New(t)
	r.AddStage("forge", "forge", forgeJobs())
	r.Hydra.AutoEvaluate = time.Millisecond
	return r, openStore(t)
}

func plan(c *store.Candidate) *pipeline.Plan {
	return &pipeline.Plan{RunID: 7, Stage: "forge", Candidate: c, Jobs: forgeJobs()}
}

func TestGreenEval(t *testing.T) {
	r, st := setup(t)
	for _, j := range []string{"build", "test", "rustdoc"} {
		r.SetOutcome("forge.merkletree."+j+"."+sys, 0)
	}
	e := r.Engine(t, hydraengine.Options{Store: st})
	c := candidate(t, st, strings.Repeat("a", 40))
	var res results
	if err := e.Execute(context.Background(), plan(c), res.report); err != nil {
		t.Fatal(err)
	}
	for _, j := range []string{"merkletree:build", "merkletree:test", "merkletree:rustdoc"} {
		got := res.get(j)
		if got.State != store.JobSuccess {
			t.Errorf("%s: %s (%s)", j, got.State, got.Reason)
		}
		if !strings.HasPrefix(got.Log, r.Hydra.URL()+"/build/") || !strings.HasSuffix(got.Log, "/log") {
			t.Errorf("%s: log link %q", j, got.Log)
		}
	}
	if n := r.Hydra.Triggers("ironworks", "forge"); n != 1 {
		t.Errorf("triggers = %d, want 1", n)
	}
	rec, err := st.HydraEvalOf(context.Background(), "forge", c.ID)
	if err != nil {
		t.Fatal(err)
	}
	head := r.GitHub.Head(r.LockRepo, "forge-lock")
	if rec.LockCommit != head || rec.EvalID == 0 || rec.GateBuild == 0 || rec.State != "evaluated" || len(rec.Builds) != 3 {
		t.Errorf("record = %+v, lock head %s", rec, head)
	}
	lock, _ := r.GitHub.FileAt(r.LockRepo, "forge-lock", "locks/forge.json")
	if !strings.Contains(lock, c.ID) || !strings.Contains(lock, strings.Repeat("a", 40)) {
		t.Errorf("lock file: %s", lock)
	}
	if n := r.Hydra.Count("GET /eval/{id}/builds"); n != 0 {
		t.Errorf("/eval/{id}/builds requested %d times", n)
	}
}

func TestFailedGatingJob(t *testing.T) {
	r, st := setup(t)
	r.SetOutcome("forge.merkletree.build."+sys, 0)
	r.SetOutcome("forge.merkletree.test."+sys, 1)
	r.SetOutcome("forge.merkletree.rustdoc."+sys, 0)
	e := r.Engine(t, hydraengine.Options{Store: st})
	var res results
	if err := e.Execute(context.Background(), plan(candidate(t, st, strings.Repeat("b", 40))), res.report); err != nil {
		t.Fatal(err)
	}
	got := res.get("merkletree:test")
	if got.State != store.JobFailure || got.ExitCode != 1 || !strings.Contains(got.Reason, "failed") || !strings.HasSuffix(got.Log, "/log") {
		t.Errorf("test job: %+v", got)
	}
	if got := res.get("merkletree:build"); got.State != store.JobSuccess {
		t.Errorf("build job: %+v", got)
	}
}

func TestEvaluationError(t *testing.T) {
	r, st := setup(t)
	const msg = "error: attribute 'merkletree' missing at /nix/store/x-source/flake.nix:12:5"
	r.Hydra.FailEval("ironworks", "forge", msg)
	e := r.Engine(t, hydraengine.Options{Store: st})
	c := candidate(t, st, strings.Repeat("c", 40))
	var res results
	if err := e.Execute(context.Background(), plan(c), res.report); err != nil {
		t.Fatal(err)
	}
	for _, j := range []string{"merkletree:build", "merkletree:test"} {
		got := res.get(j)
		if got.State != store.JobEvalErr || !strings.Contains(got.Reason, msg) {
			t.Errorf("%s: %+v", j, got)
		}
	}
	rec, _ := st.HydraEvalOf(context.Background(), "forge", c.ID)
	if rec.State != "eval-error" || !strings.Contains(rec.Message, msg) {
		t.Errorf("record: %+v", rec)
	}
	// The plain jobset page hides errormsg: the engine must have read /errors.
	if r.Hydra.Count("GET /jobset/{p}/{j}/errors") == 0 {
		t.Error("never read /jobset/{p}/{j}/errors")
	}
}

func TestFetchError(t *testing.T) {
	r, st := setup(t)
	r.Hydra.FailFetch("ironworks", "forge", "fatal: could not read from remote repository")
	e := r.Engine(t, hydraengine.Options{Store: st})
	var res results
	if err := e.Execute(context.Background(), plan(candidate(t, st, strings.Repeat("d", 40))), res.report); err != nil {
		t.Fatal(err)
	}
	if got := res.get("merkletree:build"); got.State != store.JobEvalErr || !strings.Contains(got.Reason, "could not read from remote") {
		t.Errorf("%+v", got)
	}
}

func TestMissingJob(t *testing.T) {
	r := hydraenginetest.New(t)
	// The flake defines only build: test failed to evaluate.
	r.AddStage("forge", "forge", forgeJobs()[:1])
	r.Hydra.AutoEvaluate = time.Millisecond
	r.SetOutcome("forge.merkletree.build."+sys, 0)
	st := openStore(t)
	e := r.Engine(t, hydraengine.Options{Store: st})
	var res results
	if err := e.Execute(context.Background(), plan(candidate(t, st, strings.Repeat("e", 40))), res.report); err != nil {
		t.Fatal(err)
	}
	if got := res.get("merkletree:test"); got.State != store.JobFailure || !strings.Contains(got.Reason, "has no job forge.merkletree.test."+sys) {
		t.Errorf("%+v", got)
	}
	if got := res.get("merkletree:build"); got.State != store.JobSuccess {
		t.Errorf("%+v", got)
	}
}

// A finished build that is restarted goes back to finished = 0 with its old
// failing buildstatus: the engine must keep waiting, then report the new result.
func TestRestartedBuildWaits(t *testing.T) {
	r, st := setup(t)
	r.Hydra.AutoEvaluate = 0
	r.SetOutcome("forge.merkletree.build."+sys, 0)
	r.SetOutcome("forge.merkletree.test."+sys, 1)
	r.SetOutcome("forge.merkletree.rustdoc."+sys, 0)
	e := r.Engine(t, hydraengine.Options{Store: st})
	c := candidate(t, st, strings.Repeat("f", 40))
	ctx := context.Background()
	if _, _, err := e.WriteLock(ctx, "forge", c, nil); err != nil {
		t.Fatal(err)
	}
	evalID := r.Hydra.Evaluate("ironworks", "forge")
	if evalID == 0 {
		t.Fatal("no eval")
	}
	testBuild := r.Hydra.BuildID(evalID, "forge.merkletree.test."+sys)
	gate := r.Hydra.BuildID(evalID, hydraengine.GateName("forge", sys))
	// Someone restarts the failed test (and its failed aggregate).
	r.Hydra.Restart(testBuild)
	r.Hydra.Restart(gate)

	var res results
	done := make(chan error, 1)
	go func() { done <- e.Execute(ctx, plan(c), res.report) }()
	deadline := time.Now().Add(5 * time.Second)
	for e.Polls() < 20 {
		if time.Now().After(deadline) {
			t.Fatal("engine never polled")
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("Execute returned while the restarted build was unfinished: %v", err)
	default:
	}
	if got := res.get("merkletree:test"); store.JobFinal(got.State) {
		t.Fatalf("concluded %s from a restarted build", got.State)
	}
	r.Hydra.FinishBuild(testBuild, 0)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := res.get("merkletree:test"); got.State != store.JobSuccess {
		t.Errorf("after rebuild: %+v", got)
	}
	if n := r.Hydra.Triggers("ironworks", "forge"); n != 0 {
		t.Errorf("triggered %d times though the eval existed", n)
	}
}

// Unchanged inputs: the same candidate again makes no lock commit, no
// trigger and no eval; the verdict of the eval of that lock commit is reused.
func TestUnchangedLockReusesEval(t *testing.T) {
	r, st := setup(t)
	r.SetOutcome("forge.merkletree.build."+sys, 0)
	r.SetOutcome("forge.merkletree.test."+sys, 1)
	r.SetOutcome("forge.merkletree.rustdoc."+sys, 0)
	e := r.Engine(t, hydraengine.Options{Store: st})
	c := candidate(t, st, strings.Repeat("1", 40))
	var heads []string
	for i := range 2 {
		var res results
		if err := e.Execute(context.Background(), plan(c), res.report); err != nil {
			t.Fatal(err)
		}
		if got := res.get("merkletree:test"); got.State != store.JobFailure {
			t.Errorf("round %d: %+v", i, got)
		}
		heads = append(heads, r.GitHub.Head(r.LockRepo, "forge-lock"))
	}
	main := r.GitHub.Head(r.LockRepo, "main")
	if heads[0] != heads[1] || r.GitHub.CommitInfo(r.LockRepo, heads[0]).Parents[0] != main {
		t.Errorf("lock heads %v: want one lock commit on top of main %s", heads, main)
	}
	if n := r.Hydra.Triggers("ironworks", "forge"); n != 1 {
		t.Errorf("triggers = %d, want 1", n)
	}
	if n := len(r.Hydra.Evals("ironworks", "forge")); n != 1 {
		t.Errorf("evals = %d, want 1", n)
	}
}

func TestEvalDeadline(t *testing.T) {
	r, st := setup(t)
	r.Hydra.AutoEvaluate = 0 // the evaluator is stuck
	e := r.Engine(t, hydraengine.Options{Store: st, EvalDeadline: 60 * time.Millisecond})
	c := candidate(t, st, strings.Repeat("2", 40))
	var res results
	err := e.Execute(context.Background(), plan(c), res.report)
	if !errors.Is(err, hydraengine.ErrEvalDeadline) {
		t.Fatalf("err = %v", err)
	}
	if got := res.get("merkletree:build"); got.State != store.JobError || !strings.Contains(got.Reason, "60ms") {
		t.Errorf("%+v", got)
	}
	rec, _ := st.HydraEvalOf(context.Background(), "forge", c.ID)
	if rec.State != "timeout" {
		t.Errorf("record %+v", rec)
	}
}

// Minutes of 502s and timeouts, compressed: every request first meets a
// burst of errors or a slow answer; the engine retries, triggers once and
// still reaches the right verdict.
func TestOutageRetries(t *testing.T) {
	r, st := setup(t)
	r.SetOutcome("forge.merkletree.build."+sys, 0)
	r.SetOutcome("forge.merkletree.test."+sys, 7)
	r.SetOutcome("forge.merkletree.rustdoc."+sys, 0)
	client := r.NewClient(t, httpretry.Options{RetryMax: 4, WaitMin: time.Millisecond, WaitMax: 3 * time.Millisecond, Timeout: 40 * time.Millisecond})
	e := r.Engine(t, hydraengine.Options{Store: st, Hydra: client})
	r.Hydra.FailNext(60, 502, "", "")
	r.Hydra.FailNext(10, 503, "0", "push")
	r.Hydra.Slow(8, 200*time.Millisecond, "push")
	r.Hydra.Slow(8, 200*time.Millisecond, "")
	var res results
	if err := e.Execute(context.Background(), plan(candidate(t, st, strings.Repeat("3", 40))), res.report); err != nil {
		t.Fatal(err)
	}
	if got := res.get("merkletree:test"); got.State != store.JobTimeout || got.ExitCode != 7 {
		t.Errorf("test job %+v", got)
	}
	if got := res.get("merkletree:build"); got.State != store.JobSuccess {
		t.Errorf("build job %+v", got)
	}
	if n := r.Hydra.Triggers("ironworks", "forge"); n != 1 {
		t.Errorf("triggers = %d, want 1", n)
	}
	t.Logf("requests: %s", client.StatsString())
}

// The gating verdict of an eval of 200,000 builds comes from the gate
// aggregate: no build list is downloaded and a handful of requests suffice.
func TestHugeEvalGatesWithoutBuildList(t *testing.T) {
	if testing.Short() {
		t.Skip("200,000 builds")
	}
	r, st := setup(t)
	for _, j := range []string{"build", "test", "rustdoc"} {
		r.SetOutcome("forge.merkletree."+j+"."+sys, 0)
	}
	for i := range 200_000 {
		r.Extra = append(r.Extra, "pkgs.p"+itoa(i)+"."+sys)
	}
	e := r.Engine(t, hydraengine.Options{Store: st})
	var res results
	if err := e.Execute(context.Background(), plan(candidate(t, st, strings.Repeat("4", 40))), res.report); err != nil {
		t.Fatal(err)
	}
	if got := res.get("merkletree:test"); got.State != store.JobSuccess {
		t.Fatalf("%+v", got)
	}
	if n := r.Hydra.Count("GET /eval/{id}/builds"); n != 0 {
		t.Fatalf("downloaded the build list %d times", n)
	}
	total := r.Client.Requests()
	t.Logf("requests for a 200,000-build eval: %d (%s)", total, r.Client.StatsString())
	// login, evals x2, jobset polls, push, 3 jobs + gate, gate build,
	// constituents, rustdoc build: bounded whatever the eval's size.
	if total > 20 {
		t.Errorf("%d requests", total)
	}
}

func itoa(i int) string {
	const digits = "0123456789"
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{digits[i%10]}, b...)
	}
	return string(b)
}

func TestDoneJobsAreSkipped(t *testing.T) {
	r, st := setup(t)
	e := r.Engine(t, hydraengine.Options{Store: st})
	p := plan(candidate(t, st, strings.Repeat("5", 40)))
	p.Done = map[string]string{"merkletree:build": store.JobSuccess, "merkletree:test": store.JobSuccess, "merkletree:rustdoc": store.JobFailure}
	var res results
	if err := e.Execute(context.Background(), p, res.report); err != nil {
		t.Fatal(err)
	}
	if len(res.seq) != 0 || r.Client.Requests() != 0 {
		t.Errorf("reported %v with %d requests", res.seq, r.Client.Requests())
	}
}

func TestParseJobsets(t *testing.T) {
	m, err := hydraengine.ParseJobsets([]string{"forge=staging", "harden=nightly"})
	if err != nil || m["forge"] != "staging" || m["harden"] != "nightly" {
		t.Fatalf("%v %v", m, err)
	}
	for _, bad := range []string{"forge", "=x", "nope=x", "forge="} {
		if _, err := hydraengine.ParseJobsets([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// A lock branch carries main's current tree: a fix of the flake on main
// reaches the next lock commit even for the same candidate, and a lost answer
// on the ref update is recognised by the tree on retry (no second commit).
func TestLockBranchFollowsMain(t *testing.T) {
	r, st := setup(t)
	e := r.Engine(t, hydraengine.Options{Store: st})
	c := candidate(t, st, strings.Repeat("3", 40))
	ctx := context.Background()
	first, changed, err := e.WriteLock(ctx, "forge", c, map[string][]byte{"merkletree": []byte("# lock\n")})
	if err != nil || !changed {
		t.Fatalf("first write: %v changed=%v", err, changed)
	}
	fix := r.GitHub.CommitTo(r.LockRepo, "main", "fix the flake", map[string]string{"nix/lib/fix.nix": "{ }\n"})
	// The ref update takes effect but its answer is lost, twice more than
	// the client retries: the write fails; the next one finds it done.
	r.GitHub.LoseNextAnswers(3, "PATCH /repos/{o}/{r}/git/refs")
	if _, _, err := e.WriteLock(ctx, "forge", c, map[string][]byte{"merkletree": []byte("# lock\n")}); err == nil {
		t.Fatal("lost answers were not reported")
	}
	second, changed, err := e.WriteLock(ctx, "forge", c, map[string][]byte{"merkletree": []byte("# lock\n")})
	if err != nil || changed {
		t.Fatalf("retry after the lost answer: %v changed=%v (want the commit found, not made again)", err, changed)
	}
	if n := r.GitHub.Count("PATCH /repos/{o}/{r}/git/refs/{ref...}"); n != 3 {
		t.Errorf("ref updates = %d, want 3 (one attempt and two client retries)", n)
	}
	info := r.GitHub.CommitInfo(r.LockRepo, second)
	if second == first || len(info.Parents) != 1 || info.Parents[0] != first {
		t.Fatalf("lock commits %s then %s (parents %v): want one new commit on the first", first, second, info.Parents)
	}
	tree := r.GitHub.Tree(r.LockRepo, second)
	for _, p := range []string{"nix/lib/fix.nix", "flake.nix", hydraengine.LockPath("forge"), hydraengine.JobsetPath, hydraengine.CargoLockPath("merkletree")} {
		if _, ok := tree[p]; !ok {
			t.Errorf("lock commit lacks %s", p)
		}
	}
	if string(tree[hydraengine.JobsetPath]) != "{\"stages\":[\"forge\"]}\n" {
		t.Errorf("jobset.json = %q", tree[hydraengine.JobsetPath])
	}
	lock, err := hydraengine.ParseLock(tree[hydraengine.LockPath("forge")])
	if err != nil || lock.Components["merkletree"].CargoLock != "cargo/merkletree.lock" {
		t.Fatalf("lock %+v %v", lock, err)
	}
	_ = fix
	// Same candidate, same main: no commit.
	if third, changed, err := e.WriteLock(ctx, "forge", c, map[string][]byte{"merkletree": []byte("# lock\n")}); err != nil || changed || third != second {
		t.Fatalf("unchanged write: %s changed=%v %v", third, changed, err)
	}
}

func FuzzParseLock(f *testing.F) {
	f.Add([]byte(`{"stage":"forge","candidate":"c","updatedAt":"x","components":{"m":{"repo":"r","rev":"` + strings.Repeat("a", 40) + `"}}}`))
	f.Add([]byte(`{"stage":"forge","components":{"m":{"repo":"r","rev":"master"}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := hydraengine.ParseLock(b)
		if err != nil {
			return
		}
		again, err := hydraengine.ParseLock(l.Marshal())
		if err != nil || !again.Equivalent(l) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// A wrong Hydra password ends the run at once as an infrastructure error
// naming the login, not after the eval deadline.
func TestWrongPasswordEndsRun(t *testing.T) {
	r, st := setup(t)
	if err := os.WriteFile(r.PWFile, []byte("wrong\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := r.Engine(t, hydraengine.Options{Store: st, EvalDeadline: time.Minute})
	var res results
	start := time.Now()
	err := e.Execute(context.Background(), plan(candidate(t, st, strings.Repeat("4", 40))), res.report)
	if !errors.Is(err, hydra.ErrLogin) || time.Since(start) > 10*time.Second {
		t.Fatalf("err = %v after %s, want ErrLogin at once", err, time.Since(start))
	}
	if got := res.get("merkletree:build"); got.State != store.JobError || !strings.Contains(got.Reason, "login") {
		t.Errorf("%+v", got)
	}
	if n := r.Hydra.Count("POST /login"); n != 1 {
		t.Errorf("logins = %d, want 1", n)
	}
	if n := r.Hydra.Triggers("ironworks", "forge"); n != 0 {
		t.Errorf("triggers = %d, want 0", n)
	}
}
