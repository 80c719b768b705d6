package main

import (
	"context"
	"fmt"

	"github.com/charmbracelet/log"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	hydra "github.com/ironworks-ci/ironworks/coordinator/engine/hydra"
	"github.com/ironworks-ci/ironworks/coordinator/forge"
	"github.com/ironworks-ci/ironworks/coordinator/httpretry"
	hydraclient "github.com/ironworks-ci/ironworks/coordinator/hydra"
	"github.com/ironworks-ci/ironworks/coordinator/metrics"
	"github.com/ironworks-ci/ironworks/coordinator/pipeline"
	"github.com/ironworks-ci/ironworks/coordinator/promotion"
	"github.com/ironworks-ci/ironworks/coordinator/source"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// hydraEngine builds the Hydra engine of [hydra]: its client, GitHub for the
// lock branches, the store for its evidence and the mirrors for Cargo.lock
// generation.
func hydraEngine(cfg *config.Config, st *store.Store, mirrors *source.Mirrors, logger *log.Logger) (*hydra.Engine, error) {
	hc, err := hydraclient.NewFromConfig(cfg.Hydra, httpretry.Options{}, func(endpoint string, status int) {
		metrics.ObserveRemote("hydra", status)
	})
	if err != nil {
		return nil, err
	}
	if cfg.GitHub == nil {
		return nil, fmt.Errorf("the hydra engine writes lock files through GitHub: configure [github]")
	}
	gh, err := forge.NewFromConfig(cfg.GitHub)
	if err != nil {
		return nil, err
	}
	return hydra.FromConfig(cfg, hc, gh, st, mirrors, logger)
}

// addHydraGates makes every stage's promotion on Hydra wait for
// promotion.Gate: the stage's gate aggregate and each gating job finished
// successfully now (a restarted gate that re-finished failed refuses). A
// stage whose runs have no jobs (only [bench.*] entries, or only manual
// jobs) builds nothing on Hydra, so Hydra has no say in it: its other gates
// (benchmarks) decide.
func addHydraGates(p *pipeline.Pipeline, eng pipeline.Engine) {
	h, ok := eng.(*hydra.Engine)
	if !ok {
		return
	}
	g := &hydraGate{g: &promotion.Gate{Hydra: h.Client(), Store: p.Store, System: h.System()}, cfg: p.Cfg}
	for _, stage := range config.Stages {
		if len(p.StageJobs(stage)) > 0 {
			p.Gates[stage] = append(p.Gates[stage], g)
		}
	}
}

type hydraGate struct {
	g   *promotion.Gate
	cfg *config.Config
}

func (g *hydraGate) Check(ctx context.Context, cand *store.Candidate, stage string) (pass, pending bool, evidence map[string]any, err error) {
	d, err := g.g.Decide(ctx, stage, cand, g.cfg.StageJobs(stage))
	if err != nil {
		return false, false, nil, err
	}
	if !d.Promote {
		// Pending (restarted on Hydra): Recheck asks again on later passes.
		return false, d.Pending, map[string]any{"hydra_gate": d.Reason}, nil
	}
	return true, false, d.Evidence, nil
}
