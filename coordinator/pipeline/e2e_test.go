package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/engine/local"
	"github.com/ironworks-ci/ironworks/coordinator/internal/fixture"
	"github.com/ironworks-ci/ironworks/coordinator/pipeline"
	"github.com/ironworks-ci/ironworks/coordinator/source"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// slimAdapters are the two components with only their forge build and test
// jobs: the same shape as the real adapters, fewer cargo invocations.
var slimAdapters = map[string]string{
	"merkletree": `name = "merkletree"
repo = "https://example.invalid/merkletree"
crate = "merkletree"
[jobs.build]
stage = "forge"
command = "cargo build"
timeout = "5m"
[jobs.test]
stage = "forge"
needs = ["build"]
command = "cargo test"
timeout = "5m"
`,
	"rust-fil-proofs": `name = "rust-fil-proofs"
repo = "https://example.invalid/rust-fil-proofs"
[[upstream]]
name = "merkletree"
pin = "cargo-patch"
[jobs.build]
stage = "forge"
needs = ["merkletree:build"]
command = "cargo build --workspace"
timeout = "5m"
[jobs.test]
stage = "forge"
needs = ["build", "merkletree:test"]
command = "cargo test --workspace"
timeout = "5m"
`,
}

type env struct {
	t     *testing.T
	dir   string
	up    *fixture.Repo
	down  *fixture.Repo
	cfg   *config.Config
	store *store.Store
	p     *pipeline.Pipeline
}

// newEnv makes fixture repositories and a pipeline over them. adapterDirs maps
// component to an adapter folder; nil writes slimAdapters.
func newEnv(t *testing.T, adapterDirs map[string]string) *env {
	t.Helper()
	fixture.RequireCargo(t)
	dir := t.TempDir()
	e := &env{t: t, dir: dir}
	e.up = fixture.Merkletree(t, filepath.Join(dir, "src", "merkletree"))
	e.down = fixture.Proofs(t, filepath.Join(dir, "src", "rust-fil-proofs"))
	if adapterDirs == nil {
		adapterDirs = map[string]string{}
		for name, body := range slimAdapters {
			d := filepath.Join(dir, "adapters", name)
			os.MkdirAll(d, 0o755)
			if err := os.WriteFile(filepath.Join(d, "adapter.toml"), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			adapterDirs[name] = d
		}
	}
	cfgText := fmt.Sprintf(`state_dir = %q
adapters = [%q, %q]
[components.merkletree]
repo = %q
[components.rust-fil-proofs]
repo = %q
[engine]
parallelism = 2
`, filepath.Join(dir, "state"), adapterDirs["merkletree"], adapterDirs["rust-fil-proofs"], e.up.URL(), e.down.URL())
	cfgPath := filepath.Join(dir, "ironworks.toml")
	os.WriteFile(cfgPath, []byte(cfgText), 0o644)
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	e.cfg = cfg
	st, err := store.Open(context.Background(), filepath.Join(cfg.StateDir, "ironworks.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e.store = st
	mirrors := source.New(filepath.Join(cfg.StateDir, "mirrors"))
	e.p = &pipeline.Pipeline{
		Cfg: cfg, Store: st, Mirrors: mirrors,
		Engine: &local.Engine{StateDir: cfg.StateDir, Mirrors: mirrors, Parallelism: 2, Offered: cfg.Engine.Features},
	}
	return e
}

// once runs one pass through forge and returns its only forge run.
func (e *env) once() *store.Run {
	e.t.Helper()
	runs, err := e.p.Once(context.Background(), "forge")
	if err != nil && !errors.Is(err, pipeline.ErrGateFailed) {
		e.t.Fatalf("Once: %v", err)
	}
	if len(runs) != 1 {
		e.t.Fatalf("Once ran %d runs, want 1", len(runs))
	}
	return runs[0]
}

func (e *env) results(run *store.Run) map[string]*store.JobResult {
	e.t.Helper()
	rs, err := e.store.JobResults(context.Background(), run.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	m := map[string]*store.JobResult{}
	for _, r := range rs {
		m[r.Job] = r
	}
	return m
}

// dump logs every job's log of a run, to explain a surprising verdict.
func (e *env) dump(run *store.Run) {
	e.t.Helper()
	for j, r := range e.results(run) {
		b, _ := os.ReadFile(local.LogPath(e.cfg.StateDir, run.ID, j))
		e.t.Logf("%s: %s %s\n%s", j, r.State, r.Reason, b)
	}
}

func (e *env) promoted(run *store.Run) bool {
	ok, err := e.store.Promoted(context.Background(), run.Candidate, run.Stage)
	if err != nil {
		e.t.Fatal(err)
	}
	return ok
}

func renamed() map[string]string {
	return map[string]string{"src/lib.rs": strings.ReplaceAll(fixture.UpstreamLib, "leaf_count", "leaves_of")}
}

// TestUpstreamBreaksDownstream walks the Filecoin buildbot story through the
// verdicts one commit at a time, as a maintainer would see it.
func TestUpstreamBreaksDownstream(t *testing.T) {
	e := newEnv(t, nil)

	// (a) Both green: forge promoted.
	run := e.once()
	if run.Verdict != store.VerdictGreen || !e.promoted(run) {
		t.Fatalf("(a) verdict %s promoted=%v detail=%v", run.Verdict, e.promoted(run), run.Detail)
	}
	good := e.up.Head()

	// (b) The upstream changes its API: incompatible, the downstream's log is
	// kept, the range since the last compatible pair recorded.
	bad := e.up.Commit("rename leaf_count", renamed())
	run = e.once()
	if run.Verdict != store.VerdictIncompatible {
		e.dump(run)
		t.Fatalf("(b) verdict %s, want incompatible; detail %v", run.Verdict, run.Detail)
	}
	if e.promoted(run) {
		t.Fatal("(b) incompatible candidate promoted")
	}
	res := e.results(run)
	if res["rust-fil-proofs:build"].State != store.JobFailure {
		t.Fatalf("(b) downstream build %s, want failure", res["rust-fil-proofs:build"].State)
	}
	logText, err := os.ReadFile(local.LogPath(e.cfg.StateDir, run.ID, "rust-fil-proofs:build"))
	if err != nil || !strings.Contains(string(logText), "leaf_count") {
		t.Fatalf("(b) downstream log not kept or without the compiler error: %v\n%s", err, logText)
	}
	rng := run.Detail["upstream_range"].(map[string]any)
	if rng["from"] != good || rng["to"] != bad {
		t.Fatalf("(b) upstream range %v, want %s..%s", rng, good, bad)
	}
	if c := run.Detail["culprit"].(map[string]any); c["rev"] != bad {
		t.Fatalf("(b) culprit %v, want %s", c, bad)
	}

	// Fixed upstream: green again.
	e.up.Commit("restore leaf_count", map[string]string{"src/lib.rs": fixture.UpstreamLib})
	if run = e.once(); run.Verdict != store.VerdictGreen {
		t.Fatalf("fix: verdict %s", run.Verdict)
	}

	// (c) The upstream does not compile: upstream-broken, downstream skipped.
	e.up.Commit("broken", map[string]string{"src/lib.rs": fixture.UpstreamLib + "\nfn broken( {\n"})
	run = e.once()
	if run.Verdict != store.VerdictUpstreamBroken {
		t.Fatalf("(c) verdict %s, want upstream-broken", run.Verdict)
	}
	res = e.results(run)
	for j, cause := range map[string]string{"rust-fil-proofs:build": "merkletree:build", "rust-fil-proofs:test": "rust-fil-proofs:build"} {
		if res[j].State != store.JobSkipped || !strings.Contains(res[j].Reason, cause) {
			t.Errorf("(c) %s: %s %q, want skipped naming %s", j, res[j].State, res[j].Reason, cause)
		}
	}
	e.up.Commit("fix build", map[string]string{"src/lib.rs": fixture.UpstreamLib})
	if run = e.once(); run.Verdict != store.VerdictGreen {
		t.Fatalf("fix: verdict %s", run.Verdict)
	}

	// (d) A semver-major bump is silently ignored by Cargo: it must be its
	// own verdict, never green.
	e.up.Commit("merkletree 1.0.0", map[string]string{"Cargo.toml": fixture.UpstreamManifest("1.0.0")})
	run = e.once()
	if run.Verdict != store.VerdictNotAccepted || e.promoted(run) {
		t.Fatalf("(d) verdict %s promoted=%v, want upstream-not-accepted", run.Verdict, e.promoted(run))
	}
	res = e.results(run)
	if r := res["rust-fil-proofs:build"]; r.State != store.JobNotAccept || !strings.Contains(r.Reason, "1.0.0") {
		t.Fatalf("(d) downstream build %s %q", r.State, r.Reason)
	}
	e.up.Commit("merkletree 0.23.1", map[string]string{"Cargo.toml": fixture.UpstreamManifest("0.23.1")})
	if run = e.once(); run.Verdict != store.VerdictGreen {
		t.Fatalf("0.23.1: verdict %s detail %v", run.Verdict, run.Detail)
	}
	lastGood := e.up.Head()

	// (f) Eight upstream commits arrive at once; the fifth breaks the API.
	var revs []string
	for i := 1; i <= 8; i++ {
		files := map[string]string{fmt.Sprintf("notes/%d.txt", i): fmt.Sprintf("change %d\n", i)}
		if i == 5 {
			files["src/lib.rs"] = renamed()["src/lib.rs"]
		}
		revs = append(revs, e.up.Commit(fmt.Sprintf("change %d", i), files))
	}
	before := countRuns(t, e.store, "bisect")
	run = e.once()
	if run.Verdict != store.VerdictIncompatible {
		t.Fatalf("(f) verdict %s", run.Verdict)
	}
	culprit := run.Detail["culprit"].(map[string]any)
	if culprit["rev"] != revs[4] {
		t.Fatalf("(f) culprit %v, want change 5 (%s)", culprit, revs[4])
	}
	probes := countRuns(t, e.store, "bisect") - before
	// 8 commits: the bad end re-tested, log2(8) = 3 downstream builds (one
	// more at most for rounding), and the pair before and at the culprit again.
	if probes < 5 || probes > 7 {
		t.Fatalf("(f) %d bisection probes for 8 commits, want 1 + about log2(8)=3 + 2", probes)
	}
	if b := run.Detail["bisect"].(map[string]any); b["confirmed"] != true {
		t.Fatalf("(f) culprit not confirmed: %v", b)
	}
	if rng := run.Detail["upstream_range"].(map[string]any); rng["from"] != lastGood || int(rng["count"].(float64)) != 8 {
		t.Fatalf("(f) range %v", rng)
	}
	t.Logf("(f) culprit found in %d probes", probes)
}

func countRuns(t *testing.T, st *store.Store, kind string) int {
	t.Helper()
	runs, err := st.Runs(context.Background(), store.RunFilter{Kind: kind})
	if err != nil {
		t.Fatal(err)
	}
	return len(runs)
}

// (e) A job over its timeout is a failure of the candidate: verdict timeout,
// naming the timeout.
func TestJobTimeoutIsTimeoutVerdict(t *testing.T) {
	dir := t.TempDir()
	adapters := map[string]string{}
	for name, body := range slimAdapters {
		if name == "merkletree" {
			body = strings.Replace(body, `command = "cargo test"
timeout = "5m"`, `command = "sleep 30"
timeout = "1s"`, 1)
		}
		d := filepath.Join(dir, name)
		os.MkdirAll(d, 0o755)
		os.WriteFile(filepath.Join(d, "adapter.toml"), []byte(body), 0o644)
		adapters[name] = d
	}
	e := newEnv(t, adapters)
	run := e.once()
	if run.Verdict != store.VerdictTimeout {
		t.Fatalf("verdict %s, want timeout", run.Verdict)
	}
	reason, _ := run.Detail["reason"].(string)
	if !strings.Contains(reason, "timed out after 1s") || !strings.Contains(reason, "merkletree:test") {
		t.Fatalf("reason %q does not name the timeout and job", reason)
	}
	if e.promoted(run) {
		t.Fatal("promoted despite a timeout")
	}
}

// The real adapters build and test the fixture crates through spark and forge.
func TestRealAdaptersOnFixtures(t *testing.T) {
	root, err := filepath.Abs("../../adapters")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, map[string]string{
		"merkletree":      filepath.Join(root, "merkletree"),
		"rust-fil-proofs": filepath.Join(root, "rust-fil-proofs"),
	})
	runs, err := e.p.Once(context.Background(), "forge")
	if err != nil {
		for _, r := range runs {
			for j, res := range e.results(r) {
				if res.State != store.JobSuccess {
					b, _ := os.ReadFile(local.LogPath(e.cfg.StateDir, r.ID, j))
					t.Logf("%s: %s %s\n%s", j, res.State, res.Reason, b)
				}
			}
		}
		t.Fatalf("Once: %v", err)
	}
	if len(runs) != 2 || runs[0].Stage != "spark" || runs[1].Stage != "forge" {
		t.Fatalf("runs %v", runs)
	}
	for _, r := range runs {
		if !e.promoted(r) {
			t.Errorf("%s not promoted: %v", r.Stage, r.Detail)
		}
	}
	res := e.results(runs[1])
	if res["rust-fil-proofs:test-isolated-porep"].State != store.JobSuccess {
		t.Fatalf("isolated porep tests: %+v", res["rust-fil-proofs:test-isolated-porep"])
	}
}
