package main

import (
	"context"
	"errors"
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

// notifiers are what both `serve` and `run --once` tell people with: the
// artifact store (log links), the GitHub client and the notify service.
type notifiers struct {
	artifacts artifacts.Store
	github    *forge.Client // nil without [github] token_file
	notify    *notify.Service
	prs       *prPoller // nil without [github] token_file
}

// openNotifiers opens the artifact store, the GitHub client and the notify
// service, and hooks the staging flow into the pipeline's OnFinish, so that
// both modes deliver the same things under the same idempotency keys.
func openNotifiers(ctx context.Context, cfg *config.Config, st *store.Store, p *pipeline.Pipeline, logger *log.Logger) (*notifiers, *stagingFlow, error) {
	if cfg.Web.URL == "" {
		logger.Warn("web.url is not set: links in e-mails and pull-request comments are relative paths")
	}
	key, err := stateKey(cfg.StateDir, "artifact-links.key")
	if err != nil {
		return nil, nil, err
	}
	arts, err := artifacts.FromConfig(ctx, cfg, key)
	if err != nil {
		return nil, nil, fmt.Errorf("artifacts: %w", err)
	}
	if eng, ok := p.Engine.(*local.Engine); ok {
		eng.Artifacts = arts
	}
	n := &notifiers{artifacts: arts}
	if cfg.GitHub != nil && cfg.GitHub.TokenFile != "" {
		if n.github, err = forge.NewFromConfig(cfg.GitHub); err != nil {
			return nil, nil, err
		}
	}
	if n.notify, err = notify.NewService(ctx, cfg, st, n.github, arts, logger); err != nil {
		return nil, nil, fmt.Errorf("notify: %w", err)
	}
	flow := newStagingFlow(p, cfg, n.github, logger)
	p.OnFinish = flow.onFinish
	if n.prs, err = newPRPoller(cfg, st, p, flow, logger); err != nil {
		return nil, nil, err
	}
	return n, flow, nil
}

// errUndelivered marks a pass whose news could not all be delivered; what
// was not delivered stays queued for the next pass or `serve`.
var errUndelivered = errors.New("some notifications were not delivered and stay queued")

// deliver makes one round of every notifier: e-mails queued and sent (or
// written to the outbox), pull-request statuses and comments. Each step runs
// even when an earlier one failed.
func (n *notifiers) deliver(ctx context.Context, logger *log.Logger) error {
	var errs []error
	queued, err := n.notify.Mailer.Poll(ctx)
	if err != nil {
		errs = append(errs, err)
	}
	sent, err := n.notify.Sender.SendDue(ctx)
	if err != nil {
		errs = append(errs, err)
	}
	reported := 0
	if n.notify.Reporter != nil {
		if reported, err = n.notify.Reporter.Poll(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	logger.Info("delivered", "emails_queued", queued, "emails_sent", sent, "pr_reports", reported)
	if len(errs) > 0 {
		logger.Error("delivery", "err", errors.Join(errs...))
		return errUndelivered
	}
	return nil
}

// delivered delivers the news of a `run --once` pass before it exits: a
// pass whose news could not all be delivered exits with exitInfra, whatever
// its verdicts, so that cron notices; the news stays queued.
func delivered(ctx context.Context, n *notifiers, logger *log.Logger, code int) int {
	if err := n.deliver(ctx, logger); err != nil {
		logger.Error("not all news went out: what was not delivered stays queued for the next run or serve")
		return exitInfra
	}
	return code
}
