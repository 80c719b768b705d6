package main

import (
	"context"
	"net/http"

	"github.com/charmbracelet/log"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/pipeline"
	"github.com/ironworks-ci/ironworks/coordinator/scheduler"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// newHandler builds the daemon's HTTP handler.
func newHandler(ctx context.Context, cfg *config.Config, st *store.Store, p *pipeline.Pipeline, sched *scheduler.Scheduler, logger *log.Logger) (http.Handler, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if err := st.DB.PingContext(r.Context()); err != nil {
			http.Error(w, "database: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /metrics", promhttp.Handler())
	return mux, nil
}
