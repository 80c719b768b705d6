package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	hydraengine "github.com/ironworks-ci/ironworks/coordinator/engine/hydra"
	"github.com/ironworks-ci/ironworks/coordinator/engine/hydra/hydraenginetest"
	"github.com/ironworks-ci/ironworks/coordinator/forge/githubtest"
	"github.com/ironworks-ci/ironworks/coordinator/hydra/hydratest"
	"github.com/ironworks-ci/ironworks/coordinator/internal/fixture"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// The Hydra path whole, with the contract between Go and Nix proven by
// consuming what the other side produced: `coordinator run --once` with the
// hydra engine writes the lock branches into an in-test GitHub that holds
// this repository's flake (its adapters, nix/lib), and the in-test Hydra's
// evaluation of a lock commit is `nix eval` of that flake's hydraJobs at that
// commit (stand-in nixpkgs), its builds `nix build` of those attributes. No
// lock and no job name is written by the test.
func TestHydraEvaluatesTheFlakeOnEngineLocks(t *testing.T) {
	fixture.RequireCargo(t)
	hydraenginetest.RequireNix(t)
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	up := fixture.Merkletree(t, filepath.Join(dir, "src", "merkletree"))
	down := fixture.Proofs(t, filepath.Join(dir, "src", "rust-fil-proofs"))

	const lockRepo, token = "ironworks-ci/ironworks", "ghp-flake-test"
	gh := githubtest.New()
	t.Cleanup(gh.Close)
	gh.Token = token
	main := gh.AddRepo(lockRepo, "main", hydraenginetest.RepoFiles(t, root))

	flake := hydraenginetest.NewFlake(t, root)
	hyd := hydratest.New()
	t.Cleanup(hyd.Close)
	hyd.AddUser("ironworks", "s3cret")
	hyd.AutoEvaluate = time.Millisecond
	hyd.Builder = flake.Builder(hyd)
	for _, stage := range []string{"spark", "forge"} {
		hyd.AddJobset("ironworks", stage, "github:"+lockRepo+"?ref="+stage+"-lock")
		hyd.SetResolver("ironworks", stage, flake.Resolver(gh, lockRepo, stage+"-lock"))
	}

	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pw, tok := write("hydra-password", "s3cret\n"), write("github-token", token+"\n")
	state := filepath.Join(dir, "state")
	cfg := write("ironworks.toml", fmt.Sprintf(`state_dir = %q
adapters = [%q, %q]
[components.merkletree]
repo = %q
[components.rust-fil-proofs]
repo = %q
[engine]
default = "hydra"
[hydra]
url = %q
project = "ironworks"
user = "ironworks"
password_file = %q
lock_repo = %q
poll_interval = "20ms"
eval_deadline = "5m"
[github]
api_url = %q
token_file = %q
`, state, filepath.Join(root, "adapters/merkletree"), filepath.Join(root, "adapters/rust-fil-proofs"),
		up.URL(), down.URL(), hyd.URL(), pw, lockRepo, gh.URL(), tok))

	var stderr bytes.Buffer
	if code := realMain([]string{"run", "--config", cfg, "--once", "--through", "forge"}, &stderr); code != exitOK {
		t.Fatalf("run --once: exit %d\n%s", code, lastLines(stderr.String(), 40))
	}

	// Every job the engine asked Hydra for is one the flake's evaluation made.
	for _, a := range hyd.Asked() {
		if !a.Found {
			t.Errorf("engine asked eval %d for %s, which the flake does not define", a.Eval, a.Job)
		}
	}
	if len(hyd.Asked()) == 0 || len(flake.Builds) == 0 {
		t.Fatalf("asked %v, built %v", hyd.Asked(), flake.Builds)
	}
	// The lock branches carry main's tree plus the lock files the flake read.
	st, err := store.Open(context.Background(), filepath.Join(state, "ironworks.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, stage := range []string{"spark", "forge"} {
		head := gh.Head(lockRepo, stage+"-lock")
		c := gh.CommitInfo(lockRepo, head)
		if c == nil || len(c.Parents) != 1 || c.Parents[0] != main {
			t.Errorf("%s-lock head %s is not one commit on main %s", stage, head, main)
			continue
		}
		tree := gh.Tree(lockRepo, head)
		for _, p := range []string{hydraengine.LockPath(stage), hydraengine.JobsetPath, hydraengine.CargoLockPath("merkletree"), hydraengine.CargoLockPath("rust-fil-proofs"), "flake.nix", "nix/lib/locks.nix"} {
			if _, ok := tree[p]; !ok {
				t.Errorf("%s-lock lacks %s", stage, p)
			}
		}
		if !strings.Contains(string(tree[hydraengine.CargoLockPath("rust-fil-proofs")]), "git+"+up.URL()+"?rev=") {
			t.Errorf("rust-fil-proofs' Cargo.lock does not pin merkletree from %s:\n%s", up.URL(), tree[hydraengine.CargoLockPath("rust-fil-proofs")])
		}
	}
	cands, err := st.Candidates(context.Background(), 1)
	if err != nil || len(cands) != 1 {
		t.Fatalf("candidates %v %v", cands, err)
	}
	rec, err := st.HydraEvalOf(context.Background(), "forge", cands[0].ID)
	if err != nil || rec.State != "evaluated" || rec.GateBuild == 0 || len(rec.Builds) == 0 {
		t.Fatalf("forge eval record %+v %v", rec, err)
	}
	// The promotion carries Hydra's evidence, decided by promotion.Gate.
	proms, err := st.Promotions(context.Background(), "forge")
	if err != nil || len(proms) != 1 {
		t.Fatalf("forge promotions %v %v", proms, err)
	}
	ev := proms[0].Evidence
	if fmt.Sprint(ev["hydra_eval"]) != fmt.Sprint(rec.EvalID) || fmt.Sprint(ev["gate_build"]) != fmt.Sprint(rec.GateBuild) || ev["lock_commit"] != rec.LockCommit {
		t.Errorf("promotion evidence %v, want eval %d gate %d lock %s", ev, rec.EvalID, rec.GateBuild, rec.LockCommit)
	}
	st.Close()

	// The upstream breaks its API: Hydra's build of rust-fil-proofs against it
	// fails, which is an incompatibility with the breaking commit as culprit.
	bad := up.Commit("rename leaf_count", map[string]string{"src/lib.rs": strings.ReplaceAll(fixture.UpstreamLib, "leaf_count", "leaves_of")})
	stderr.Reset()
	if code := realMain([]string{"run", "--config", cfg, "--once", "--through", "forge"}, &stderr); code != exitGate {
		t.Fatalf("run --once after the break: exit %d, want %d\n%s", code, exitGate, lastLines(stderr.String(), 40))
	}
	st, err = store.Open(context.Background(), filepath.Join(state, "ironworks.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// spark's clippy of rust-fil-proofs already builds against merkletree.
	runs, err := st.Runs(context.Background(), store.RunFilter{Kind: "stage", Limit: 1})
	if err != nil || len(runs) != 1 || runs[0].Stage != "spark" {
		t.Fatalf("newest run %v %v, want the spark run", runs, err)
	}
	run := runs[0]
	if run.Verdict != store.VerdictIncompatible {
		t.Fatalf("verdict %s, want incompatible; detail %v", run.Verdict, run.Detail)
	}
	if c, _ := run.Detail["culprit"].(map[string]any); c == nil || c["rev"] != bad {
		t.Fatalf("culprit %v, want %s", run.Detail["culprit"], bad)
	}
	for _, a := range hyd.Asked() {
		if !a.Found {
			t.Errorf("engine asked eval %d for %s, which the flake does not define", a.Eval, a.Job)
		}
	}
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
