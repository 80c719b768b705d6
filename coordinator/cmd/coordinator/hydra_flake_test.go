package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ironworks-ci/ironworks/coordinator/benchqueue"
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
	// The project's adapters without their harden jobs (32 GiB sectors are
	// not here) and with one benchmark, rust-fil-proofs' window-post-32gib
	// (its harden stage is that benchmark alone, measured by benchkit off
	// Hydra), so that the story ends in a release; the flake reads the same
	// files.
	files := hydraenginetest.RepoFiles(t, root)
	adapters := map[string]string{}
	for _, name := range []string{"merkletree", "rust-fil-proofs"} {
		p := "adapters/" + name + "/adapter.toml"
		files[p] = hardenOnlyBench(files[p], "window-post-32gib")
		adapters[name] = filepath.Join(dir, "adapters", name)
		if err := os.MkdirAll(adapters[name], 0o755); err != nil {
			t.Fatal(err)
		}
		for f, body := range files {
			if strings.HasPrefix(f, "adapters/"+name+"/") {
				if err := os.WriteFile(filepath.Join(adapters[name], filepath.Base(f)), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	main := gh.AddRepo(lockRepo, "main", files)
	// The entry runs the repository's scripts/benchy.sh, which needs a GPU
	// and 32 GiB sector data: its stand-in prints what the script prints
	// (GNU time's RSS merged into benchy's report), transcribed from
	// fil-proofs-tooling in benchkit/parse/testdata.
	report, err := os.ReadFile("../../../benchkit/parse/testdata/benchy-sh-window-post-32gib.json")
	if err != nil {
		t.Fatal(err)
	}
	down.Commit("benchy.sh stand-in", map[string]string{
		"fil-proofs-tooling/scripts/benchy.sh":             "#!/usr/bin/env bash\n# Stand-in for the GPU run: prints the transcribed report.\ncat \"$(dirname \"$0\")/window-post-32gib.out\"\n",
		"fil-proofs-tooling/scripts/window-post-32gib.out": string(report),
	})

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
[github.repos]
merkletree = "filecoin-project/merkletree"
rust-fil-proofs = "filecoin-project/rust-fil-proofs"
`, state, adapters["merkletree"], adapters["rust-fil-proofs"],
		up.URL(), down.URL(), hyd.URL(), pw, lockRepo, gh.URL(), tok))

	// The components are on (the in-test) GitHub too, where the release
	// tags them and statuses are posted on their commits.
	mirror := func() {
		for full, r := range map[string]*fixture.Repo{"filecoin-project/merkletree": up, "filecoin-project/rust-fil-proofs": down} {
			if err := gh.MirrorGit(full, r.Dir); err != nil {
				t.Fatal(err)
			}
		}
	}
	mirror()
	var stderr bytes.Buffer
	// pass runs `run --once --through through` (when: which pass, for the
	// failure) and fails the test unless it exits want.
	pass := func(through, when string, want int) {
		t.Helper()
		stderr.Reset()
		if code := realMain([]string{"run", "--config", cfg, "--once", "--through", through}, &stderr); code != want {
			t.Fatalf("run --once --through %s %s: exit %d, want %d\n%s", through, when, code, want, lastLines(stderr.String(), 40))
		}
	}
	open := func() *store.Store {
		t.Helper()
		st, err := store.Open(context.Background(), filepath.Join(state, "ironworks.db"))
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	pass("forge", "on the green candidate", exitOK)

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
	st := open()
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

	// status --json shows Hydra's evidence of each run.
	out, err := exec.Command(buildBinary(t), "status", "--json", "--config", cfg).Output()
	if err != nil {
		t.Fatalf("status --json: %v", err)
	}
	var status Status
	if err := json.Unmarshal(out, &status); err != nil {
		t.Fatal(err)
	}
	var shown *store.HydraEval
	for _, r := range status.Candidates[0].Runs {
		if r.Stage == "forge" {
			shown = r.Hydra
		}
	}
	if shown == nil || shown.EvalID != rec.EvalID || shown.GateBuild != rec.GateBuild || len(shown.Jobs) == 0 {
		t.Fatalf("status --json forge hydra evidence %+v, want eval %d gate %d with jobs", shown, rec.EvalID, rec.GateBuild)
	}
	for id, b := range shown.Jobs {
		if b.Build == 0 || b.Status != "succeeded" || len(b.StorePaths) == 0 || len(b.Products) == 0 {
			t.Errorf("evidence of %s: %+v", id, b)
		}
	}

	// harden is the benchmark alone: nothing to build on Hydra, so its run
	// has no jobs and Hydra has no say; the shipped benchkit agent measures
	// the entry, and the next pass promotes with the report.
	pass("harden", "before the benchmark", exitOK)
	st = open()
	measureOn(t, buildBenchkit(t), dir, benchqueue.New(st), cands[0].ID, "gpu")
	st.Close()
	pass("harden", "after the benchmark", exitOK)
	st = open()
	hp, err := st.Promotion(context.Background(), cands[0].ID, "harden")
	st.Close()
	if err != nil {
		t.Fatalf("harden not promoted after the benchmark: %v\n%s", err, lastLines(stderr.String(), 40))
	}
	reports, _ := hp.Evidence["benchmark_reports"].([]any)
	if len(reports) != 1 {
		t.Fatalf("harden evidence %v, want one benchmark report", hp.Evidence)
	}

	// The release: manifest.json carries Hydra's evidence of every stage.
	stderr.Reset()
	if code := realMain([]string{"promote", "--config", cfg, "--to", "release", "--latest-good", "--version", "v0.1.0", "--by", "carol"}, &stderr); code != exitOK {
		t.Fatalf("promote --to release: exit %d\n%s", code, lastLines(stderr.String(), 30))
	}
	checkManifest(t, filepath.Join(state, "releases", "v0.1.0", "manifest.json"), rec, fmt.Sprint(reports[0]))
	for _, full := range []string{"filecoin-project/merkletree", "filecoin-project/rust-fil-proofs", lockRepo} {
		if gh.Tag(full, "v0.1.0") == "" {
			t.Errorf("%s has no tag v0.1.0", full)
		}
	}

	// The candidate page of serve shows the same evidence.
	base, srv := startServe(t, buildBinary(t), dir, cfg)
	code, page := httpGet(t, base+"/candidates/"+cands[0].ID)
	if code != http.StatusOK {
		t.Fatalf("candidate page: %d\n%s", code, page)
	}
	for _, want := range []string{"Hydra · forge", fmt.Sprintf("gate build %d", rec.GateBuild), shown.Jobs["merkletree:build"].Products[0].SHA256} {
		if !strings.Contains(page, want) {
			t.Errorf("candidate page lacks %q", want)
		}
	}
	srv.Process.Signal(os.Interrupt)
	srv.Wait()

	// The upstream breaks its API: Hydra's build of rust-fil-proofs against it
	// fails, which is an incompatibility with the breaking commit as culprit.
	bad := up.Commit("rename leaf_count", map[string]string{"src/lib.rs": strings.ReplaceAll(fixture.UpstreamLib, "leaf_count", "leaves_of")})
	mirror()
	pass("forge", "after the break", exitGate)
	st = open()
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

// checkManifest checks a release manifest's Hydra evidence: an eval id per
// stage that ran on Hydra, the gate build in the promotion evidence, store
// paths, build products whose sha256 is that of the file in the store, and
// the benchmark report of harden.
func checkManifest(t *testing.T, path string, forge *store.HydraEval, report string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Hydra struct {
			Evals      map[string]int64 `json:"evals"`
			StorePaths []string         `json:"store_paths"`
		} `json:"hydra"`
		Promotions map[string]struct {
			Evidence map[string]any `json:"evidence"`
		} `json:"promotions"`
		Artifacts []struct {
			Name, Path, SHA256 string
		} `json:"artifacts"`
		BenchmarkReports []string `json:"benchmark_reports"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m.Hydra.Evals["forge"] != forge.EvalID || m.Hydra.Evals["spark"] == 0 || len(m.Hydra.Evals) != 2 {
		t.Errorf("manifest evals %v, want spark and forge (%d)", m.Hydra.Evals, forge.EvalID)
	}
	if fmt.Sprint(m.Promotions["forge"].Evidence["gate_build"]) != fmt.Sprint(forge.GateBuild) {
		t.Errorf("manifest forge evidence %v, want gate build %d", m.Promotions["forge"].Evidence, forge.GateBuild)
	}
	if len(m.Hydra.StorePaths) == 0 {
		t.Error("manifest has no store paths")
	}
	if len(m.Artifacts) == 0 {
		t.Errorf("manifest has no artifacts:\n%s", b)
	}
	for _, a := range m.Artifacts {
		body, err := os.ReadFile(a.Path)
		sum := sha256.Sum256(body)
		if err != nil || hex.EncodeToString(sum[:]) != a.SHA256 {
			t.Errorf("artifact %s: sha256 %s is not that of %s (%v)", a.Name, a.SHA256, a.Path, err)
		}
	}
	if len(m.BenchmarkReports) != 1 || m.BenchmarkReports[0] != report {
		t.Errorf("manifest benchmark_reports %v, want [%s]", m.BenchmarkReports, report)
	}
}

// hardenOnlyBench drops an adapter.toml's harden and temper jobs and its
// benchmarks (every table whose header starts [bench.) but bench.
func hardenOnlyBench(toml, bench string) string {
	var out, block []string
	keep := func() {
		drop := false
		if len(block) > 0 && strings.HasPrefix(block[0], "[bench.") && !strings.HasPrefix(block[0], "[bench."+bench+"]") && !strings.HasPrefix(block[0], "[bench."+bench+".") {
			drop = true
		}
		for _, l := range block {
			if f := strings.Fields(l); strings.HasPrefix(block[0], "[jobs.") && len(f) == 3 && f[0] == "stage" && (f[2] == `"harden"` || f[2] == `"temper"`) {
				drop = true
			}
		}
		if !drop {
			out = append(out, block...)
		}
		block = nil
	}
	for _, l := range strings.Split(toml, "\n") {
		if strings.HasPrefix(l, "[") {
			keep()
		}
		block = append(block, l)
	}
	keep()
	return strings.Join(out, "\n")
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
