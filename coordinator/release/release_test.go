package release_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	hydraengine "github.com/ironworks-ci/ironworks/coordinator/engine/hydra"
	"github.com/ironworks-ci/ironworks/coordinator/engine/hydra/hydraenginetest"
	"github.com/ironworks-ci/ironworks/coordinator/internal/fixture"
	"github.com/ironworks-ci/ironworks/coordinator/pipeline"
	"github.com/ironworks-ci/ironworks/coordinator/promotion"
	"github.com/ironworks-ci/ironworks/coordinator/release"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

type world struct {
	rig  *hydraenginetest.Rig
	cfg  *config.Config
	st   *store.Store
	cand *store.Candidate
	dir  string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	rig := hydraenginetest.New(t)
	rig.Hydra.AutoEvaluate = time.Millisecond
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	os.WriteFile(token, []byte(rig.Token+"\n"), 0o600)
	toml := fmt.Sprintf(`state_dir = %q
adapters = ["embedded:merkletree"]
[engine]
default = "hydra"
[hydra]
url = %q
project = "ironworks"
user = "ironworks"
password_file = %q
lock_repo = %q
[github]
api_url = %q
token_file = %q
[github.repos]
merkletree = "filecoin-project/merkletree"
`, filepath.Join(dir, "state"), rig.Hydra.URL(), rig.PWFile, rig.LockRepo, rig.GitHub.URL(), token)
	cfgFile := filepath.Join(dir, "ironworks.toml")
	os.WriteFile(cfgFile, []byte(toml), 0o600)
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), filepath.Join(cfg.StateDir, "ironworks.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	rev := rig.GitHub.AddRepo("filecoin-project/merkletree", "master", map[string]string{"Cargo.toml": "[package]\n"})
	cand, err := st.PutCandidate(context.Background(), map[string]store.Revision{
		"merkletree": {Repo: "https://github.com/filecoin-project/merkletree", Branch: "master", Rev: rev},
	}, "head", 0)
	if err != nil {
		t.Fatal(err)
	}
	return &world{rig: rig, cfg: cfg, st: st, cand: cand, dir: dir}
}

// passStage runs the stage on the Hydra engine and records the gate's decision.
func (w *world) passStage(t *testing.T, stage string) *promotion.Decision {
	t.Helper()
	ctx := context.Background()
	jobs := w.cfg.StageJobs(stage)
	w.rig.AddStage(stage, stage, jobs)
	for _, j := range jobs {
		w.rig.SetOutcome(hydraengine.JobName(stage, j.Component, j.Name, "x86_64-linux"), 0)
	}
	eng := w.rig.Engine(t, hydraengine.Options{Store: w.st})
	run, err := w.st.CreateRun(ctx, w.cand.ID, stage, "stage", "hydra", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Execute(ctx, &pipeline.Plan{RunID: run.ID, Stage: stage, Candidate: w.cand, Jobs: jobs}, func(store.JobResult) {}); err != nil {
		t.Fatal(err)
	}
	g := &promotion.Gate{Hydra: w.rig.Client, Store: w.st}
	d, err := g.Decide(ctx, stage, w.cand, jobs)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Promote {
		t.Fatalf("%s not promoted: %s", stage, d.Reason)
	}
	if _, err := record(ctx, w.st, stage, w.cand, run.ID, d); err != nil {
		t.Fatal(err)
	}
	return d
}

func (w *world) opts(out *bytes.Buffer) release.Options {
	return release.Options{Config: w.cfg, Store: w.st, Hydra: w.rig.Client, Forge: w.rig.Forge, To: "release",
		Latest: true, Version: "v1.0.0", By: "alice", Out: out, Now: func() time.Time { return time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC) }}
}

func TestReleaseRefusedBeforeHarden(t *testing.T) {
	w := newWorld(t)
	w.passStage(t, "forge")
	var out bytes.Buffer
	o := w.opts(&out)
	o.Latest, o.Candidate = false, w.cand.ID
	err := release.Run(context.Background(), o)
	var ref *release.Refusal
	if !errors.As(err, &ref) || !strings.Contains(ref.Reason, "has not passed harden") {
		t.Fatalf("err = %v", err)
	}
	if n := releaseRefs(w); n != 0 {
		t.Errorf("%d refs created by a refused promotion", n)
	}
}

// A crash after the first tag, then a re-run: the release completes with
// exactly one tag per repository. A second crash window (effect made, record
// lost) is covered by forgetting the tag steps' records before re-running.
func TestReleaseCrashAndRerun(t *testing.T) {
	w := newWorld(t)
	w.passStage(t, "forge")
	w.passStage(t, "harden")
	ctx := context.Background()
	var out bytes.Buffer
	o := w.opts(&out)
	crash := errors.New("injected crash")
	o.AfterStep = func(step string) error {
		if strings.Contains(step, ":tag:") {
			return crash
		}
		return nil
	}
	if err := release.Run(ctx, o); !errors.Is(err, crash) {
		t.Fatalf("first run: %v", err)
	}
	if _, err := w.st.DB.Exec(`DELETE FROM side_effects WHERE key LIKE '%:tag:%'`); err != nil {
		t.Fatal(err)
	}
	o.AfterStep = nil
	if err := release.Run(ctx, o); err != nil {
		t.Fatalf("re-run: %v\n%s", err, out.String())
	}
	if err := release.Run(ctx, o); err != nil { // and once more: a no-op
		t.Fatalf("third run: %v", err)
	}
	count := map[string]int{}
	for _, rc := range w.rig.GitHub.RefCreations() {
		count[rc.Repo+" "+rc.Ref]++
	}
	want := map[string]int{
		"filecoin-project/merkletree refs/tags/v1.0.0":     1,
		w.rig.LockRepo + " refs/tags/v1.0.0":               1,
		w.rig.LockRepo + " refs/heads/release-lock/v1.0.0": 1,
	}
	for k, n := range want {
		if count[k] != n {
			t.Errorf("%s created %d times, want %d (all: %v)", k, count[k], n, count)
		}
	}
	if got := w.rig.GitHub.Tag("filecoin-project/merkletree", "v1.0.0"); got != w.cand.Revisions["merkletree"].Rev {
		t.Errorf("component tag at %s", got)
	}
	lockHead := w.rig.GitHub.Head(w.rig.LockRepo, "release-lock/v1.0.0")
	if got := w.rig.GitHub.Tag(w.rig.LockRepo, "v1.0.0"); got != lockHead {
		t.Errorf("lock tag at %s, branch at %s", got, lockHead)
	}
	committed, ok := w.rig.GitHub.FileAt(w.rig.LockRepo, lockHead, "manifest.json")
	if !ok {
		t.Fatal("manifest.json not on the release lock branch")
	}
	local, err := os.ReadFile(filepath.Join(w.cfg.StateDir, "releases", "v1.0.0", "manifest.json"))
	if err != nil || string(local) != committed {
		t.Fatalf("local manifest differs from committed one: %v", err)
	}
	var m release.Manifest
	if err := json.Unmarshal(local, &m); err != nil {
		t.Fatal(err)
	}
	if m.Schema != 1 || m.Version != "v1.0.0" || m.Candidate != w.cand.ID || m.By != "alice" || m.Hydra == nil ||
		m.Hydra.Evals["forge"] == 0 || m.Hydra.Evals["harden"] == 0 || len(m.Hydra.StorePaths) == 0 ||
		m.Promotions["harden"] == nil || len(m.HardenReports) == 0 || m.ReleaseLock == nil || m.Tags["filecoin-project/merkletree"] != "v1.0.0" {
		t.Errorf("manifest: %s", local)
	}
	if lock, _ := w.rig.GitHub.FileAt(w.rig.LockRepo, lockHead, "locks/release.json"); !strings.Contains(lock, w.cand.ID) {
		t.Errorf("release lock: %s", lock)
	}
	if ok, _ := w.st.Promoted(ctx, w.cand.ID, "stamp"); !ok {
		t.Error("release not recorded as stamp promotion")
	}
	rel, err := w.st.Release(ctx, "v1.0.0")
	if err != nil || rel.State != "done" {
		t.Errorf("release row %+v %v", rel, err)
	}
}

func TestReleaseDryRunChangesNothing(t *testing.T) {
	w := newWorld(t)
	w.passStage(t, "forge")
	w.passStage(t, "harden")
	var out bytes.Buffer
	o := w.opts(&out)
	o.DryRun = true
	if err := release.Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if n := releaseRefs(w); n != 0 {
		t.Errorf("dry run created %d refs", n)
	}
	if _, err := os.Stat(filepath.Join(w.cfg.StateDir, "releases")); !os.IsNotExist(err) {
		t.Errorf("dry run wrote releases: %v", err)
	}
	if _, err := w.st.Release(context.Background(), "v1.0.0"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("dry run recorded a release: %v", err)
	}
	for _, want := range []string{"would tag filecoin-project/merkletree v1.0.0", "would write locks/release.json", `"schema": 1`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("plan lacks %q:\n%s", want, out.String())
		}
	}
}

func TestReleaseVersionReuseRefused(t *testing.T) {
	w := newWorld(t)
	w.passStage(t, "forge")
	w.passStage(t, "harden")
	ctx := context.Background()
	var out bytes.Buffer
	if err := release.Run(ctx, w.opts(&out)); err != nil {
		t.Fatal(err)
	}
	other, _ := w.st.PutCandidate(ctx, map[string]store.Revision{"merkletree": {Repo: "https://github.com/filecoin-project/merkletree", Rev: strings.Repeat("9", 40)}}, "head", 0)
	w.st.Promote(ctx, &store.Promotion{Candidate: other.ID, Stage: "harden"}, nil)
	o := w.opts(&out)
	o.Latest, o.Candidate = false, other.ID
	var ref *release.Refusal
	if err := release.Run(ctx, o); !errors.As(err, &ref) || !strings.Contains(ref.Reason, "already cut") {
		t.Fatalf("err = %v", err)
	}
}

// Without [github] and [hydra], tags are annotated tags in local mirrors.
func TestLocalRelease(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "merkletree")
	rev := fixture.NewRepo(t, src).Commit("one", map[string]string{"README": "x\n"})
	cfg, err := config.Parse("t.toml", []byte(fmt.Sprintf("state_dir = %q\nadapters = [\"embedded:merkletree\"]\n[components.merkletree]\nrepo = %q\n", filepath.Join(dir, "state"), "file://"+src)), dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, filepath.Join(cfg.StateDir, "ironworks.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c, _ := st.PutCandidate(ctx, map[string]store.Revision{"merkletree": {Repo: "file://" + src, Branch: "master", Rev: rev}}, "head", 0)
	st.Promote(ctx, &store.Promotion{Candidate: c.ID, Stage: "harden", Evidence: map[string]any{"benchmark_reports": []any{"bench-7"}}}, nil)
	st.AppendEvent(ctx, store.Event{Key: "ack1", Kind: "bench-ack", Candidate: c.ID, Payload: map[string]any{"metric": "wall", "reason": "expected"}})
	// As benchqueue records them: the regression, then the culprit bisection found.
	st.AppendEvent(ctx, store.Event{Key: "bench-regression:1", Kind: "bench-regression", Candidate: c.ID, Payload: map[string]any{"report": "bench-7"}})
	st.AppendEvent(ctx, store.Event{Key: "bench-culprit:1", Kind: "bench-regression", Candidate: c.ID, Payload: map[string]any{"report": "bench-7",
		"culprit": map[string]any{"rev": rev, "subject": "bigger trees", "author": "eve"}, "upstream": "merkletree"}})
	var out bytes.Buffer
	o := release.Options{Config: cfg, Store: st, To: "release", Candidate: c.ID, Version: "v0.1.0", By: "bob", Out: &out}
	for range 2 {
		if err := release.Run(ctx, o); err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
	}
	mirror := filepath.Join(cfg.StateDir, "mirrors", "merkletree.git")
	got, err := exec.Command("git", "-C", mirror, "rev-parse", "v0.1.0^{commit}").Output()
	if err != nil || strings.TrimSpace(string(got)) != rev {
		t.Fatalf("tag: %s %v", got, err)
	}
	if typ, _ := exec.Command("git", "-C", mirror, "cat-file", "-t", "v0.1.0").Output(); strings.TrimSpace(string(typ)) != "tag" {
		t.Errorf("not an annotated tag: %s", typ)
	}
	b, err := os.ReadFile(filepath.Join(cfg.StateDir, "releases", "v0.1.0", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m release.Manifest
	json.Unmarshal(b, &m)
	if m.Hydra != nil || len(m.BenchAcks) != 1 || len(m.BenchmarkReports) != 1 || m.BenchmarkReports[0] != "bench-7" || m.Tags["merkletree"] != "v0.1.0" ||
		len(m.BenchmarkCulprits) != 1 || m.BenchmarkCulprits[0]["upstream"] != "merkletree" {
		t.Errorf("manifest %s", b)
	}
}

// releaseRefs counts refs a release made (lock branches of stages aside).
func releaseRefs(w *world) int {
	n := 0
	for _, rc := range w.rig.GitHub.RefCreations() {
		if strings.Contains(rc.Ref, "v1.0.0") {
			n++
		}
	}
	return n
}

// record stores a positive decision as the pipeline does: the promotion
// with its evidence and a "promotion" event.
func record(ctx context.Context, st *store.Store, stage string, c *store.Candidate, runID int64, d *promotion.Decision) (bool, error) {
	if !d.Promote {
		return false, fmt.Errorf("promotion: refusing to record a negative decision: %s", d.Reason)
	}
	ev := store.Event{Key: "promotion:" + stage + ":" + c.ID, Kind: "promotion", Candidate: c.ID, RunID: runID,
		Payload: map[string]any{"stage": stage, "evidence": d.Evidence, "summary": c.Short()}}
	return st.Promote(ctx, &store.Promotion{Candidate: c.ID, Stage: stage, RunID: runID, Evidence: d.Evidence}, []store.Event{ev})
}
