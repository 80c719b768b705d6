// Package metrics holds the coordinator's Prometheus collectors. They are
// package variables so that every part of the coordinator (pipeline, engines,
// remote clients, web) counts into the same series without passing them
// around; Register exposes them on a registry.
package metrics

import (
	"errors"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	// JobDuration observes how long finished jobs ran, by stage and final state.
	JobDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "ironworks_job_duration_seconds",
		Help: "Duration of finished jobs by stage and final state.",
		// Jobs range from a 10 s fmt check to multi-hour sector tests.
		Buckets: []float64{5, 15, 30, 60, 120, 300, 600, 1200, 2700, 5400, 10800, 21600},
	}, []string{"stage", "state"})

	// Promotions counts candidates promoted past a stage's gate.
	Promotions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ironworks_promotions_total",
		Help: "Promotions recorded, by stage.",
	}, []string{"stage"})

	// RemoteRequests counts HTTP responses from remote services by status code.
	RemoteRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ironworks_remote_requests_total",
		Help: "Responses received from remote services (hydra, github) by HTTP status code.",
	}, []string{"service", "code"})

	// RemoteErrors counts remote calls that failed without a usable response.
	RemoteErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ironworks_remote_errors_total",
		Help: "Remote calls that failed after retries (transport errors, unexpected status).",
	}, []string{"service"})

	// Webhooks counts GitHub webhook deliveries by event and what was done with them.
	Webhooks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ironworks_webhooks_total",
		Help: "GitHub webhook deliveries by event and result (accepted, duplicate, ignored, unauthorized, bad_request, error).",
	}, []string{"event", "result"})
)

// ObserveJob records one finished job.
func ObserveJob(stage, state string, d time.Duration) {
	JobDuration.WithLabelValues(stage, state).Observe(d.Seconds())
}

// ObserveRemote counts one remote response (code > 0) or failure (code 0).
func ObserveRemote(service string, code int) {
	if code == 0 {
		RemoteErrors.WithLabelValues(service).Inc()
		return
	}
	RemoteRequests.WithLabelValues(service, strconv.Itoa(code)).Inc()
}

// Register adds every collector to reg, plus ironworks_queue_depth read from
// queueDepth at scrape time when it is not nil. Collectors reg already holds
// are left as they are, so Register may be called more than once.
func Register(reg prometheus.Registerer, queueDepth func() float64) error {
	cs := []prometheus.Collector{JobDuration, Promotions, RemoteRequests, RemoteErrors, Webhooks}
	if queueDepth != nil {
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ironworks_queue_depth",
			Help: "Runs queued and not yet started.",
		}, queueDepth))
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return err
			}
		}
	}
	return nil
}
