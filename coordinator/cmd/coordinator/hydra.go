package main

import (
	"fmt"

	"github.com/charmbracelet/log"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	hydra "github.com/ironworks-ci/ironworks/coordinator/engine/hydra"
	"github.com/ironworks-ci/ironworks/coordinator/forge"
	"github.com/ironworks-ci/ironworks/coordinator/httpretry"
	hydraclient "github.com/ironworks-ci/ironworks/coordinator/hydra"
	"github.com/ironworks-ci/ironworks/coordinator/metrics"
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
