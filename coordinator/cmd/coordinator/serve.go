package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/ironworks-ci/ironworks/coordinator/scheduler"
)

func init() {
	register(&command{name: "serve", summary: "run the daemon: schedules, webhooks, web UI, metrics", run: serveCmd})
}

func serveCmd(ctx context.Context, args []string) int {
	fs := newFlags("serve", "Run until SIGTERM: poll heads, run stages and schedules, serve the web UI,\nthe JSON API, GitHub webhooks (POST /webhooks/github), /healthz and /metrics.")
	cfgPath := fs.String("config", "", "configuration file (default: the embedded defaults)")
	listen := fs.String("listen", "", "address to listen on (default: web.listen of the configuration)")
	through := fs.String("through", "harden", "last stage queued automatically")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	logger := newLogger(os.Stderr)
	cfg, st, p, err := openPipeline(ctx, *cfgPath, "serve", logger)
	if err != nil {
		logger.Error("start", "err", err)
		return exitFor(err)
	}
	defer st.Close()
	sched := &scheduler.Scheduler{P: p, Poll: cfg.Engine.PollInterval.Duration, Workers: 2, Through: *through, Log: logger}
	addr := cfg.Web.Listen
	if *listen != "" {
		addr = *listen
	}
	handler, err := newHandler(ctx, cfg, st, p, sched, logger)
	if err != nil {
		logger.Error("web", "err", err)
		return exitConfig
	}
	handler = syncHydraAtStart(ctx, p, logger, handler)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		logger.Error("listen", "addr", addr, "err", err)
		return exitInfra
	}
	srv := newHTTPServer(handler)
	logger.Info("serving", "addr", ln.Addr().String())
	fmt.Fprintf(os.Stdout, "listening on http://%s\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := sched.Run(ctx); err != nil {
			logger.Error("scheduler", "err", err)
		}
	}()
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			logger.Error("http", "err", err)
			return exitInfra
		}
	}
	logger.Info("shutting down")
	shut, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	_ = srv.Shutdown(shut)
	<-done
	logger.Info("stopped")
	return exitOK
}
