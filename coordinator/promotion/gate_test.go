package promotion_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	hydraengine "github.com/ironworks-ci/ironworks/coordinator/engine/hydra"
	"github.com/ironworks-ci/ironworks/coordinator/engine/hydra/hydraenginetest"
	"github.com/ironworks-ci/ironworks/coordinator/pipeline"
	"github.com/ironworks-ci/ironworks/coordinator/promotion"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

const sys = "x86_64-linux"

var jobs = []*config.Job{
	hydraenginetest.Job("merkletree", "build", "forge", true),
	hydraenginetest.Job("merkletree", "test", "forge", true),
}

func setup(t *testing.T) (*hydraenginetest.Rig, *store.Store, *hydraengine.Engine) {
	r := hydraenginetest.New(t)
	r.AddStage("forge", "forge", jobs)
	r.Hydra.AutoEvaluate = time.Millisecond
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return r, st, r.Engine(t, hydraengine.Options{Store: st})
}

func execute(t *testing.T, st *store.Store, e *hydraengine.Engine, rev string) (*store.Candidate, int64) {
	t.Helper()
	ctx := context.Background()
	c, err := st.PutCandidate(ctx, map[string]store.Revision{"merkletree": {Repo: "https://github.com/filecoin-project/merkletree", Rev: rev}}, "head", 0)
	if err != nil {
		t.Fatal(err)
	}
	run, _ := st.CreateRun(ctx, c.ID, "forge", "stage", "hydra", []string{"merkletree:build", "merkletree:test"}, nil)
	if err := e.Execute(ctx, &pipeline.Plan{RunID: run.ID, Stage: "forge", Candidate: c, Jobs: jobs}, func(store.JobResult) {}); err != nil {
		t.Fatal(err)
	}
	return c, run.ID
}

func TestGreenEvalPromoted(t *testing.T) {
	r, st, e := setup(t)
	r.SetOutcome("forge.merkletree.build."+sys, 0)
	r.SetOutcome("forge.merkletree.test."+sys, 0)
	c, runID := execute(t, st, e, strings.Repeat("a", 40))
	g := &promotion.Gate{Hydra: r.Client, Store: st}
	ctx := context.Background()
	d, err := g.Decide(ctx, "forge", c, jobs)
	if err != nil || !d.Promote {
		t.Fatalf("%+v %v", d, err)
	}
	if d.Evidence["hydra_eval"].(int64) == 0 || d.Evidence["gate_build"].(int64) == 0 || len(d.Evidence["builds"].(map[string]int64)) != 2 {
		t.Errorf("evidence %v", d.Evidence)
	}
	ok, err := record(ctx, st, "forge", c, runID, d)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if ok, _ := record(ctx, st, "forge", c, runID, d); ok {
		t.Error("promoted twice")
	}
	p, err := st.Promotion(ctx, c.ID, "forge")
	if err != nil || p.Evidence["gate_build"] == nil {
		t.Errorf("%+v %v", p, err)
	}
	evs, _ := st.EventsOfKind(ctx, "promotion", c.ID)
	if len(evs) != 1 {
		t.Errorf("%d promotion events", len(evs))
	}
}

func TestFailedGatingJobNotPromoted(t *testing.T) {
	r, st, e := setup(t)
	r.SetOutcome("forge.merkletree.build."+sys, 0)
	r.SetOutcome("forge.merkletree.test."+sys, 1)
	c, _ := execute(t, st, e, strings.Repeat("b", 40))
	d, err := (&promotion.Gate{Hydra: r.Client, Store: st}).Decide(context.Background(), "forge", c, jobs)
	if err != nil || d.Promote || !strings.Contains(d.Reason, "dependency failed") {
		t.Fatalf("%+v %v", d, err)
	}
}

func TestEvalErrorNotPromoted(t *testing.T) {
	r, st, e := setup(t)
	r.Hydra.FailEval("ironworks", "forge", "error: infinite recursion encountered")
	c, _ := execute(t, st, e, strings.Repeat("c", 40))
	d, err := (&promotion.Gate{Hydra: r.Client, Store: st}).Decide(context.Background(), "forge", c, jobs)
	if err != nil || d.Promote || !strings.Contains(d.Reason, "infinite recursion") {
		t.Fatalf("%+v %v", d, err)
	}
}

// A gate that succeeded and was then restarted is not final: no promotion.
func TestRestartedGateNotPromoted(t *testing.T) {
	r, st, e := setup(t)
	r.SetOutcome("forge.merkletree.build."+sys, 0)
	r.SetOutcome("forge.merkletree.test."+sys, 0)
	c, _ := execute(t, st, e, strings.Repeat("d", 40))
	rec, _ := st.HydraEvalOf(context.Background(), "forge", c.ID)
	r.Hydra.Restart(rec.GateBuild)
	d, err := (&promotion.Gate{Hydra: r.Client, Store: st}).Decide(context.Background(), "forge", c, jobs)
	if err != nil || d.Promote || !d.Pending || !strings.Contains(d.Reason, "not finished") {
		t.Fatalf("%+v %v", d, err)
	}
	// It re-finishes failed: refused, and no longer pending.
	r.Hydra.FinishBuild(rec.GateBuild, 1)
	d, err = (&promotion.Gate{Hydra: r.Client, Store: st}).Decide(context.Background(), "forge", c, jobs)
	if err != nil || d.Promote || d.Pending || !strings.Contains(d.Reason, "failed") {
		t.Fatalf("re-finished failed: %+v %v", d, err)
	}
}

func TestNeverBackwards(t *testing.T) {
	r, st, e := setup(t)
	r.SetOutcome("forge.merkletree.build."+sys, 0)
	r.SetOutcome("forge.merkletree.test."+sys, 0)
	ctx := context.Background()
	g := &promotion.Gate{Hydra: r.Client, Store: st}
	old, _ := execute(t, st, e, strings.Repeat("e", 40))
	time.Sleep(2 * time.Millisecond) // creation order is by millisecond, then rowid
	newer, runID := execute(t, st, e, strings.Repeat("f", 40))
	d, err := g.Decide(ctx, "forge", newer, jobs)
	if err != nil || !d.Promote {
		t.Fatalf("%+v %v", d, err)
	}
	if _, err := record(ctx, st, "forge", newer, runID, d); err != nil {
		t.Fatal(err)
	}
	d, err = g.Decide(ctx, "forge", old, jobs)
	if err != nil || d.Promote || !strings.Contains(d.Reason, "backwards") {
		t.Fatalf("older candidate: %+v %v", d, err)
	}
	_, err = st.Promote(ctx, &store.Promotion{Candidate: old.ID, Stage: "forge"}, nil)
	if !errors.Is(err, store.ErrBackwards) {
		t.Errorf("store accepted a backwards promotion: %v", err)
	}
	if head, _ := st.StageHead(ctx, "forge"); head != newer.ID {
		t.Errorf("head %s", head)
	}
}

func TestNoEvalRecorded(t *testing.T) {
	r, st, _ := setup(t)
	c, _ := st.PutCandidate(context.Background(), map[string]store.Revision{"merkletree": {Rev: "x"}}, "head", 0)
	d, err := (&promotion.Gate{Hydra: r.Client, Store: st}).Decide(context.Background(), "forge", c, jobs)
	if err != nil || d.Promote || !strings.Contains(d.Reason, "no Hydra evaluation") {
		t.Fatalf("%+v %v", d, err)
	}
	if _, err := record(context.Background(), st, "forge", c, 0, d); err == nil {
		t.Error("recorded a refusal")
	}
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
