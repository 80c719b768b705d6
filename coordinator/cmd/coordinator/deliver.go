package main

import (
	"context"
	"fmt"

	"github.com/charmbracelet/log"

	"github.com/ironworks-ci/ironworks/coordinator/artifacts"
	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/engine/local"
	"github.com/ironworks-ci/ironworks/coordinator/forge"
	"github.com/ironworks-ci/ironworks/coordinator/notify"
	"github.com/ironworks-ci/ironworks/coordinator/pipeline"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// openDelivery wires what `run --once` tells people with, as serve does: the
// artifact store (job logs go there as they end, links come from it), the
// e-mail notifier and, with [github] token_file, the pull-request reporter.
func openDelivery(ctx context.Context, cfg *config.Config, st *store.Store, p *pipeline.Pipeline, logger *log.Logger) (*services, error) {
	key, err := stateKey(cfg.StateDir, "artifact-links.key")
	if err != nil {
		return nil, err
	}
	arts, err := artifacts.FromConfig(ctx, cfg, key)
	if err != nil {
		return nil, fmt.Errorf("artifacts: %w", err)
	}
	if eng, ok := p.Engine.(*local.Engine); ok {
		eng.Artifacts = arts
	}
	var gh *forge.Client
	if cfg.GitHub != nil && cfg.GitHub.TokenFile != "" {
		if gh, err = forge.NewFromConfig(cfg.GitHub); err != nil {
			return nil, err
		}
	}
	svc, err := notify.NewService(ctx, cfg, st, gh, arts, logger)
	if err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	return &services{artifacts: arts, notify: svc, github: gh}, nil
}

// deliver sends what the pass produced before run --once exits. Anything
// that could not go out stays queued (the next run or serve sends it) and
// makes the exit status 4.
func deliver(ctx context.Context, svc *notify.Service, logger *log.Logger, code int) int {
	undelivered, err := svc.Deliver(ctx)
	if err != nil {
		logger.Error("delivery", "err", err)
	}
	if undelivered > 0 {
		logger.Error("e-mails not delivered: they stay queued and go out on the next run or serve", "count", undelivered)
	}
	if err != nil || undelivered > 0 {
		return exitInfra
	}
	return code
}
