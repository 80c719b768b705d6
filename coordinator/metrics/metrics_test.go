package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestRegisterExposesEverySeries(t *testing.T) {
	reg := prometheus.NewRegistry()
	if err := Register(reg, func() float64 { return 3 }); err != nil {
		t.Fatal(err)
	}
	// A second registration (another part of the coordinator) is harmless.
	if err := Register(reg, nil); err != nil {
		t.Fatalf("second Register: %v", err)
	}
	ObserveJob("forge", "success", 90*time.Second)
	ObserveRemote("github", 304)
	ObserveRemote("hydra", 0)
	Promotions.WithLabelValues("forge").Inc()
	Webhooks.WithLabelValues("push", "accepted").Inc()

	want := `
# HELP ironworks_queue_depth Runs queued and not yet started.
# TYPE ironworks_queue_depth gauge
ironworks_queue_depth 3
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "ironworks_queue_depth"); err != nil {
		t.Error(err)
	}
	n, err := testutil.GatherAndCount(reg, "ironworks_job_duration_seconds", "ironworks_promotions_total",
		"ironworks_remote_requests_total", "ironworks_remote_errors_total", "ironworks_webhooks_total")
	if err != nil {
		t.Fatal(err)
	}
	if n < 5 {
		t.Errorf("gathered %d series, want at least 5", n)
	}
	if got := testutil.ToFloat64(RemoteRequests.WithLabelValues("github", "304")); got < 1 {
		t.Errorf("github 304 counter = %v", got)
	}
}

func TestRegisterRejectsClash(t *testing.T) {
	reg := prometheus.NewRegistry()
	// A different collector under one of our names is a programming error that must surface.
	clash := prometheus.NewCounter(prometheus.CounterOpts{Name: "ironworks_promotions_total", Help: "x"})
	reg.MustRegister(clash)
	if err := Register(reg, nil); err == nil {
		t.Fatal("Register accepted a clashing collector")
	}
}
