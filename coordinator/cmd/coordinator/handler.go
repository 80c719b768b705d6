package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/charmbracelet/log"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/engine/local"
	"github.com/ironworks-ci/ironworks/coordinator/metrics"
	"github.com/ironworks-ci/ironworks/coordinator/pipeline"
	"github.com/ironworks-ci/ironworks/coordinator/scheduler"
	"github.com/ironworks-ci/ironworks/coordinator/store"
	"github.com/ironworks-ci/ironworks/coordinator/web"
)

// newHandler builds the daemon's HTTP handler: the web UI, the JSON API,
// webhooks, /healthz and /metrics.
func newHandler(ctx context.Context, cfg *config.Config, st *store.Store, p *pipeline.Pipeline, sched *scheduler.Scheduler, logger *log.Logger) (http.Handler, error) {
	acts := &actions{p: p, sched: sched}
	opts := web.Options{
		Store:   st,
		Config:  cfg,
		Actions: acts,
		LogPath: func(runID int64, job string) string { return local.LogPath(cfg.StateDir, runID, job) },
		Private: cfg.Web.Private,
		Logger:  logger,
		Extra:   map[string]http.Handler{},
		Health:  sched.Health,
	}
	opts.Subscriptions = subscriptionsPage{st}
	opts.Bench = benchPage{st: st, cfg: cfg}
	opts.Pulls = pullsPage{st: st, cfg: cfg}
	addViews(&opts, p, st)
	if f := cfg.Web.OperatorTokenFile; f != "" {
		tok, err := web.ReadSecret(f)
		if err != nil {
			return nil, fmt.Errorf("web.operator_token_file: %w", err)
		}
		opts.OperatorToken = tok
	}
	if cfg.GitHub != nil && cfg.GitHub.WebhookSecretFile != "" {
		sec, err := web.ReadSecret(cfg.GitHub.WebhookSecretFile)
		if err != nil {
			return nil, fmt.Errorf("github.webhook_secret_file: %w", err)
		}
		opts.WebhookSecret = []byte(sec)
	}
	p.OnJob = func(run *store.Run, r store.JobResult) {
		if store.JobFinal(r.State) && !r.StartedAt.IsZero() && !r.FinishedAt.IsZero() {
			metrics.ObserveJob(run.Stage, r.State, r.FinishedAt.Sub(r.StartedAt))
		}
	}
	svcs, err := addExtras(ctx, cfg, st, p, &opts, logger)
	if err != nil {
		return nil, err
	}
	acts.staging = svcs.staging
	srv, err := web.New(opts)
	if err != nil {
		return nil, err
	}
	go pruneDeliveries(ctx, st, logger)
	for _, loop := range svcs.loops {
		go loop(ctx)
	}
	if svcs.prs != nil {
		go svcs.prs.loop(ctx, cfg.Engine.PollInterval.Duration, sched.Wake)
	}
	return srv.Handler(), nil
}

// pruneDeliveries forgets webhook delivery ids older than a week, daily.
func pruneDeliveries(ctx context.Context, st *store.Store, logger *log.Logger) {
	t := time.NewTicker(24 * time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := st.PruneDeliveries(ctx, time.Now().Add(-7*24*time.Hour)); err != nil {
				logger.Warn("pruning webhook deliveries", "err", err)
			}
		}
	}
}
