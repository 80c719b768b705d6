package pipeline_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/engine/local"
	"github.com/ironworks-ci/ironworks/coordinator/internal/fixture"
	"github.com/ironworks-ci/ironworks/coordinator/pipeline"
	"github.com/ironworks-ci/ironworks/coordinator/source"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// docs/adapters.md's walkthrough: a third component is an adapter folder and
// a line in the configuration. The consumer adapter of the offline Nix check
// runs here through the unchanged coordinator: built against merkletree, and
// broken by the same upstream commit as rust-fil-proofs.
func TestThirdComponentFromTheWalkthrough(t *testing.T) {
	fixture.RequireCargo(t)
	dir := t.TempDir()
	up := fixture.Merkletree(t, filepath.Join(dir, "src", "merkletree"))
	down := fixture.Proofs(t, filepath.Join(dir, "src", "rust-fil-proofs"))
	third := fixture.Consumer(t, filepath.Join(dir, "src", "consumer"))
	var dirs []string
	for _, name := range []string{"merkletree", "rust-fil-proofs"} {
		d := filepath.Join(dir, "adapters", name)
		os.MkdirAll(d, 0o755)
		os.WriteFile(filepath.Join(d, "adapter.toml"), []byte(slimAdapters[name]), 0o644)
		dirs = append(dirs, d)
	}
	consumer, err := filepath.Abs("../../nix/testing/adapters/consumer")
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "ironworks.toml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`state_dir = "state"
adapters = [%q, %q, %q]
[components.merkletree]
repo = %q
[components.rust-fil-proofs]
repo = %q
[components.consumer]
repo = %q
`, dirs[0], dirs[1], consumer, up.URL(), down.URL(), third.URL())), 0o644)
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(cfg.StateDir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	mirrors := source.New(filepath.Join(cfg.StateDir, "mirrors"))
	p := &pipeline.Pipeline{Cfg: cfg, Store: st, Mirrors: mirrors,
		Engine: &local.Engine{StateDir: cfg.StateDir, Mirrors: mirrors, Parallelism: 2}}

	runs, err := p.Once(ctx, "forge")
	if err != nil {
		t.Fatalf("green pass: %v (%+v)", err, runs)
	}
	res, _ := st.JobResults(ctx, runs[len(runs)-1].ID)
	seen := 0
	for _, r := range res {
		if r.Job == "consumer:build" || r.Job == "consumer:test" {
			seen++
			if r.State != store.JobSuccess {
				t.Fatalf("%s: %s %s", r.Job, r.State, r.Reason)
			}
		}
	}
	if seen != 2 {
		t.Fatalf("consumer jobs ran %d times, want build and test", seen)
	}

	up.Commit("rename leaf_count", renamed())
	runs, _ = p.Once(ctx, "forge")
	forge := runs[len(runs)-1]
	if forge.Verdict != store.VerdictIncompatible {
		t.Fatalf("verdict %s, want incompatible", forge.Verdict)
	}
	res, _ = st.JobResults(ctx, forge.ID)
	for _, r := range res {
		if r.Job == "consumer:build" && r.State != store.JobFailure {
			t.Fatalf("consumer:build %s after the API break, want failure", r.State)
		}
	}
}
