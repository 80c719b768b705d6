// Package promotion decides from Hydra's evidence whether a candidate passed
// a stage: the stage's gate aggregate and every gating job finished
// successfully now. The pipeline records the promotion (store.Promote: only
// forward, never twice, with this evidence).
package promotion

import (
	"context"
	"errors"
	"fmt"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	hydraengine "github.com/ironworks-ci/ironworks/coordinator/engine/hydra"
	"github.com/ironworks-ci/ironworks/coordinator/hydra"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// Gate reads the verdict of a stage from Hydra.
type Gate struct {
	Hydra  *hydra.Client
	Store  *store.Store
	System string // default x86_64-linux
}

// Decision is a gate's answer.
type Decision struct {
	Promote bool
	// Pending: Hydra has not finished deciding (a restarted gate or
	// constituent); a later pass asks again instead of giving up.
	Pending  bool
	Reason   string
	Evidence map[string]any
}

func refuse(format string, args ...any) *Decision {
	return &Decision{Reason: fmt.Sprintf(format, args...)}
}

// Decide looks at the Hydra evaluation recorded for c at stage (the one the
// Hydra engine mapped to the lock commit) and promotes only when its gate
// aggregate and every gating job of jobs finished successfully now, and the
// stage would move forward. Builds that were restarted (finished = 0) are not
// final and refuse promotion. An error means Hydra or the store could not be
// read; a refusal is a Decision with Promote false and the reason.
func (g *Gate) Decide(ctx context.Context, stage string, c *store.Candidate, jobs []*config.Job) (*Decision, error) {
	rec, err := g.Store.HydraEvalOf(ctx, stage, c.ID)
	if errors.Is(err, store.ErrNotFound) {
		return refuse("no Hydra evaluation recorded for %s at %s", c.ID, stage), nil
	}
	if err != nil {
		return nil, err
	}
	if rec.State != "evaluated" || rec.EvalID == 0 {
		return refuse("Hydra has no evaluation of %s at %s (%s): %s", c.ID, stage, rec.State, rec.Message), nil
	}
	if err := g.Store.CheckForward(ctx, stage, c.ID); errors.Is(err, store.ErrBackwards) {
		return refuse("%v", err), nil
	} else if err != nil {
		return nil, err
	}
	system := g.System
	if system == "" {
		system = hydraengine.DefaultSystem
	}
	gate, err := g.Hydra.EvalJob(ctx, rec.EvalID, hydraengine.GateName(stage, system))
	if errors.Is(err, hydra.ErrNotFound) {
		return refuse("Hydra eval %d has no %q aggregate", rec.EvalID, hydraengine.GateName(stage, system)), nil
	}
	if err != nil {
		return nil, err
	}
	gb, err := g.Hydra.Build(ctx, gate)
	if err != nil {
		return nil, err
	}
	if !gb.Done() {
		d := refuse("gate build %d of eval %d is not finished (restarted?)", gate, rec.EvalID)
		d.Pending = true
		return d, nil
	}
	if !gb.Succeeded() {
		return refuse("gate build %d of eval %d %s", gate, rec.EvalID, gb.StatusName()), nil
	}
	cons, err := g.Hydra.Constituents(ctx, gate)
	if err != nil {
		return nil, err
	}
	byJob := map[string]*hydra.Build{}
	for i := range cons {
		byJob[string(cons[i].Job)] = &cons[i]
		if !cons[i].Done() {
			d := refuse("constituent %s (build %d) is not finished (restarted?)", cons[i].Job, cons[i].ID)
			d.Pending = true
			return d, nil
		}
		if !cons[i].Succeeded() {
			return refuse("constituent %s (build %d) %s", cons[i].Job, cons[i].ID, cons[i].StatusName()), nil
		}
	}
	builds := map[string]int64{}
	for _, j := range jobs {
		if j.Stage != stage || !j.IsGating() {
			continue
		}
		attr := hydraengine.JobName(stage, j.Component, j.Name, system)
		b := byJob[attr]
		if b == nil {
			id, err := g.Hydra.EvalJob(ctx, rec.EvalID, attr)
			if errors.Is(err, hydra.ErrNotFound) {
				return refuse("gating job %s is missing from Hydra eval %d", attr, rec.EvalID), nil
			}
			if err != nil {
				return nil, err
			}
			if b, err = g.Hydra.Build(ctx, id); err != nil {
				return nil, err
			}
		}
		if !b.Succeeded() {
			return refuse("gating job %s (build %d) %s", attr, b.ID, b.StatusName()), nil
		}
		builds[j.ID()] = int64(b.ID)
	}
	ev := map[string]any{
		"engine": "hydra", "jobset": rec.Jobset, "lock_commit": rec.LockCommit,
		"hydra_eval": rec.EvalID, "gate_build": gate, "builds": builds,
	}
	return &Decision{Promote: true, Reason: fmt.Sprintf("gate build %d of Hydra eval %d succeeded", gate, rec.EvalID), Evidence: ev}, nil
}
