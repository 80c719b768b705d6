package results

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/ironworks-ci/ironworks/benchkit/measure"
	"github.com/ironworks-ci/ironworks/benchkit/parse"
)

func TestBaselinePerHostClass(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	clock := time.Unix(1_800_000_000, 0)
	db.Now = func() time.Time { clock = clock.Add(time.Second); return clock }
	cpu := measure.Host{CPUModel: "A", Cores: 8, MemoryGiB: 64, Kernel: "6.1", Arch: "amd64"}
	gpu := cpu
	gpu.GPUModel, gpu.GPUDriver = "NVIDIA H100", "550"
	add := func(key, cand string, h measure.Host, v float64) {
		t.Helper()
		if _, dup, err := db.AddRun(ctx, Run{Key: key, Candidate: cand, Component: "c", Bench: "b", Host: h}, parse.Samples{"m": {v, v + 1}}); err != nil || dup {
			t.Fatalf("add %s: %v %v", key, dup, err)
		}
	}
	add("k1", "rel1", cpu, 10)
	add("k2", "rel2", gpu, 20)
	add("k3", "cand", cpu, 30)
	add("k4", "cand", gpu, 40)
	if _, dup, _ := db.AddRun(ctx, Run{Key: "k4", Candidate: "cand", Component: "c", Bench: "b", Host: gpu}, parse.Samples{"m": {1}}); !dup {
		t.Error("repeated key recorded twice")
	}
	se := Series{Component: "c", Bench: "b", HostClass: cpu.Class()}
	if _, err := db.Baseline(ctx, se, "cand"); !errors.Is(err, ErrNoBaseline) {
		t.Fatalf("baseline before any release: %v", err)
	}
	db.MarkReleased(ctx, "rel1")
	db.MarkReleased(ctx, "rel2")
	db.MarkReleased(ctx, "rel1") // the first mark stands
	if b, _ := db.Baseline(ctx, se, "cand"); b != "rel1" {
		t.Errorf("CPU host baseline %q, want rel1 (rel2 ran on a GPU host)", b)
	}
	seGPU := Series{Component: "c", Bench: "b", HostClass: gpu.Class()}
	if b, _ := db.Baseline(ctx, seGPU, "cand"); b != "rel2" {
		t.Errorf("GPU host baseline %q", b)
	}
	s, _ := db.Samples(ctx, "cand", seGPU)
	if len(s["m"]) != 2 || s["m"][0] != 40 {
		t.Errorf("samples %v", s)
	}
	hcs, _ := db.HostClasses(ctx, "cand", "c", "b")
	if len(hcs) != 2 {
		t.Errorf("host classes %v", hcs)
	}
	pts, err := db.Trend(ctx, se, "m", 10)
	if err != nil || len(pts) != 2 || pts[0].Candidate != "rel1" || !pts[0].Released || pts[1].Released || pts[1].Median != 30.5 {
		t.Errorf("trend %+v %v", pts, err)
	}
	if err := db.AddAck(ctx, Ack{Candidate: "cand", Metric: "m"}); err == nil {
		t.Error("ack without a reason accepted")
	}
	if _, _, err := db.AddRun(ctx, Run{Key: "x"}, nil); err == nil {
		t.Error("run without candidate accepted")
	}
}
