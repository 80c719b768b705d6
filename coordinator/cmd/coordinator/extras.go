package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/charmbracelet/log"

	"github.com/ironworks-ci/ironworks/coordinator/artifacts"
	"github.com/ironworks-ci/ironworks/coordinator/benchqueue"
	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/forge"
	"github.com/ironworks-ci/ironworks/coordinator/notify"
	"github.com/ironworks-ci/ironworks/coordinator/pipeline"
	"github.com/ironworks-ci/ironworks/coordinator/store"
	"github.com/ironworks-ci/ironworks/coordinator/web"
)

// services are the daemon's concerns beside the pipeline: they get HTTP
// routes on the web server and background loops.
type services struct {
	artifacts artifacts.Store
	notify    *notify.Service
	github    *forge.Client // nil without [github] token_file
	staging   *stagingFlow
	prs       *prPoller // nil without [github] token_file
	loops     []func(context.Context)
}

// addExtras opens the artifact store, the notifiers and the bench queue, and
// mounts their handlers on the web server.
func addExtras(ctx context.Context, cfg *config.Config, st *store.Store, p *pipeline.Pipeline, opts *web.Options, logger *log.Logger) (*services, error) {
	n, flow, err := openNotifiers(ctx, cfg, st, p, logger)
	if err != nil {
		return nil, err
	}
	arts, svc := n.artifacts, n.notify
	if f, ok := arts.(*artifacts.FS); ok {
		opts.Extra["/artifacts/"] = f.Handler()
	}
	operator := func(r *http.Request) bool {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		return ok && opts.OperatorToken != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(opts.OperatorToken)) == 1
	}
	sub := notify.NewHandler(cfg, st, svc.Signer, operator)
	for _, pattern := range []string{"/api/subscriptions", "/api/subscriptions/", "/unsubscribe"} {
		opts.Extra[pattern] = sub
	}
	if f := cfg.Engine.BenchTokensFile; f != "" {
		tokens, err := benchqueue.ReadTokens(f)
		if err != nil {
			return nil, fmt.Errorf("engine.bench_tokens_file: %w", err)
		}
		opts.Extra["/api/bench/"] = benchqueue.New(st).Handler(tokens, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	}
	s := &services{artifacts: arts, notify: svc, github: n.github, staging: flow, prs: n.prs}
	s.loops = append(s.loops,
		func(ctx context.Context) {
			if err := svc.Run(ctx); err != nil {
				logger.Error("notifications", "err", err)
			}
		},
		func(ctx context.Context) {
			artifacts.RunExpiry(ctx, arts, time.Hour, func(format string, args ...any) { logger.Warn(fmt.Sprintf(format, args...)) })
		})
	return s, nil
}

// stateKey returns a random 32-byte key kept in the state directory, made on
// first use, so that signed links survive restarts.
func stateKey(stateDir, name string) ([]byte, error) {
	path := filepath.Join(stateDir, name)
	b, err := os.ReadFile(path)
	if err == nil && len(b) == 32 {
		return b, nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	b = make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, err
	}
	return b, os.WriteFile(path, b, 0o600)
}
