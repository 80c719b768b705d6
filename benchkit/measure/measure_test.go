package measure

import (
	"context"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	allocBin  string
	buildErr  error
)

// BuildAlloc compiles testdata/alloc once per test binary.
func buildAlloc(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "benchkit-alloc")
		if err != nil {
			buildErr = err
			return
		}
		allocBin = filepath.Join(dir, "alloc")
		out, err := exec.Command("go", "build", "-o", allocBin, "./testdata/alloc").CombinedOutput()
		if err != nil {
			buildErr = errors.New(string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("build alloc: %v", buildErr)
	}
	return allocBin
}

func run(t *testing.T, cmd string) *Result {
	t.Helper()
	r, err := Run(context.Background(), Options{Command: cmd, Dir: t.TempDir(), Env: []string{"PATH=" + os.Getenv("PATH")}})
	if err != nil {
		t.Fatalf("%s: %v", cmd, err)
	}
	return r
}

func TestRSSFollowsAllocation(t *testing.T) {
	t.Parallel()
	bin := buildAlloc(t)
	small := run(t, bin+" -mib 64")
	big := run(t, bin+" -mib 128")
	ratio := float64(big.MaxRSSKB) / float64(small.MaxRSSKB)
	t.Logf("max RSS 64 MiB: %d KiB, 128 MiB: %d KiB, ratio %.3f", small.MaxRSSKB, big.MaxRSSKB, ratio)
	if ratio < 1.7 || ratio > 2.3 {
		t.Errorf("twice the allocation gave %.2fx the peak RSS", ratio)
	}
	if small.MaxRSSKB < 64<<10 || small.MaxRSSKB > 100<<10 {
		t.Errorf("64 MiB workload measured %d KiB", small.MaxRSSKB)
	}
	if !strings.Contains(string(small.Stdout), `"allocated-mib": 64`) {
		t.Errorf("stdout not captured: %q", small.Stdout)
	}
}

func TestTimesFollowWork(t *testing.T) {
	t.Parallel()
	bin := buildAlloc(t)
	// CPU time of a fixed amount of work does not depend on how busy the
	// machine is, so the assertions hold on a loaded CI runner too.
	idle := run(t, bin+" -mib 1 -hold 100ms")
	one := run(t, bin+" -mib 1 -hold 0s -work 150")
	two := run(t, bin+" -mib 1 -hold 0s -work 300")
	cpu := func(r *Result) time.Duration { return r.User + r.Sys }
	t.Logf("idle wall %v cpu %v; 150M steps wall %v cpu %v; 300M steps wall %v cpu %v",
		idle.Wall, cpu(idle), one.Wall, cpu(one), two.Wall, cpu(two))
	if idle.Wall < 100*time.Millisecond || cpu(idle) > idle.Wall/2 {
		t.Errorf("sleeping 100ms measured wall %v, CPU %v", idle.Wall, cpu(idle))
	}
	if ratio := float64(cpu(two)) / float64(cpu(one)); ratio < 1.5 || ratio > 2.6 {
		t.Errorf("twice the work took %.2fx the CPU time", ratio)
	}
	if one.Wall < cpu(one)*9/10 {
		t.Errorf("a single-threaded run had wall %v < CPU %v", one.Wall, cpu(one))
	}
}

func TestTreeRSS(t *testing.T) {
	t.Parallel()
	bin := buildAlloc(t)
	// Two concurrent 48 MiB workers: wait4 sees the largest one, the group
	// sampler their sum.
	r := run(t, bin+" -mib 48 -hold 400ms & "+bin+" -mib 48 -hold 400ms; wait")
	t.Logf("max RSS %d KiB, tree peak %d KiB", r.MaxRSSKB, r.TreeRSSPeakKB)
	if r.MaxRSSKB < 48<<10 || r.MaxRSSKB > 80<<10 {
		t.Errorf("largest process %d KiB, want about 48 MiB", r.MaxRSSKB)
	}
	if math.Abs(float64(r.TreeRSSPeakKB)/float64(r.MaxRSSKB)-2) > 0.35 {
		t.Errorf("tree peak %d KiB is not about twice the largest process %d KiB", r.TreeRSSPeakKB, r.MaxRSSKB)
	}
}

func TestRunFailures(t *testing.T) {
	t.Parallel()
	bin := buildAlloc(t)
	r, err := Run(context.Background(), Options{Command: bin + " -mib 1 -hold 0s -fail", Dir: t.TempDir()})
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 3 || r == nil || r.ExitCode != 3 {
		t.Fatalf("failing command: %v %+v", err, r)
	}
	start := time.Now()
	_, err = Run(context.Background(), Options{Command: "sleep 30 & sleep 30; wait", Dir: t.TempDir(), Timeout: 200 * time.Millisecond, Env: []string{"PATH=" + os.Getenv("PATH")}})
	if !errors.As(err, &ee) || !ee.TimedOut {
		t.Fatalf("timeout: %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("the timed-out tree was not killed promptly (%v)", time.Since(start))
	}
	if _, err := Run(context.Background(), Options{Command: "true", Dir: "/nonexistent/dir"}); err == nil {
		t.Error("a missing working directory was accepted")
	}
}

func TestStdoutCap(t *testing.T) {
	r, err := Run(context.Background(), Options{Command: "i=0; while [ $i -lt 100 ]; do echo line$i; i=$((i+1)); done", Dir: t.TempDir(), StdoutLimit: 20})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Stdout) != 20 || !strings.HasSuffix(string(r.Stdout), "line99\n") {
		t.Errorf("capped stdout %q", r.Stdout)
	}
}

func TestNoGPU(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // no nvidia-smi here
	if g := FindNvidiaSMI(context.Background()); g != nil {
		t.Fatalf("found a GPU sampler without nvidia-smi: %+v", g)
	}
	r, err := Run(context.Background(), Options{Command: "true", Dir: t.TempDir()})
	if err != nil || r.GPU != nil {
		t.Fatalf("GPU stats without a GPU: %+v %v", r, err)
	}
	h := DetectHost(context.Background(), nil)
	if h.GPUModel != "" || h.Cores <= 0 || h.Kernel == "" || h.MemoryGiB <= 0 {
		t.Errorf("host %+v", h)
	}
	if !strings.Contains(h.String(), "no GPU") {
		t.Errorf("host string %q", h.String())
	}
}

func TestHostClass(t *testing.T) {
	a := Host{CPUModel: "X", Cores: 8, MemoryGiB: 64, Kernel: "6.1", Arch: "amd64", Hostname: "a"}
	b := a
	b.Hostname = "b"
	if a.Class() != b.Class() {
		t.Error("hostname changed the class")
	}
	for _, change := range []func(*Host){
		func(h *Host) { h.GPUModel = "NVIDIA H100" },
		func(h *Host) { h.GPUDriver = "550" },
		func(h *Host) { h.Kernel = "6.2" },
		func(h *Host) { h.Cores = 16 },
		func(h *Host) { h.MemoryGiB = 128 },
		func(h *Host) { h.CPUModel = "Y" },
	} {
		c := a
		change(&c)
		if c.Class() == a.Class() {
			t.Errorf("%+v shares a class with %+v", c, a)
		}
	}
	if memTotalGiB("MemTotal:       65842000 kB\n") != 63 || memTotalGiB("MemTotal:       66000000 kB\n") != 63 {
		t.Error("MemTotal not rounded to GiB")
	}
}

const smiFixture = `0, NVIDIA H100 80GB HBM3, 550.54.15, 87, 40321, 81559
1, NVIDIA H100 80GB HBM3, 550.54.15, [N/A], 12, 81559
`

func TestParseNvidiaSMI(t *testing.T) {
	rs, err := ParseNvidiaSMI([]byte("index, name, driver_version, utilization.gpu [%], memory.used [MiB], memory.total [MiB]\n" + smiFixture))
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[0].UtilPct != 87 || rs[0].MemUsedMiB != 40321 || rs[0].Driver != "550.54.15" || !math.IsNaN(rs[1].UtilPct) {
		t.Fatalf("%+v", rs)
	}
	model, driver := describeGPUs(rs)
	if model != "2x NVIDIA H100 80GB HBM3" || driver != "550.54.15" {
		t.Errorf("describe: %q %q", model, driver)
	}
	s := Summarise([][]GPUReading{rs, {{UtilPct: 10, MemUsedMiB: 100}}})
	if s.Samples != 2 || s.UtilMaxPct != 87 || s.UtilMeanPct != 48.5 || s.MemUsedMaxMiB != 40333 {
		t.Errorf("summary %+v", s)
	}
	// Units after the values (--format=csv without nounits) are accepted.
	if rs, err := ParseNvidiaSMI([]byte("0, T4, 535.1, 5 %, 100 MiB, 15360 MiB\n")); err != nil || rs[0].MemTotalMiB != 15360 {
		t.Errorf("with units: %+v %v", rs, err)
	}
	for _, bad := range []struct{ in, want string }{
		{"", "no GPU lines"},
		{"0, A, 1, 2\n", "line 1: want 6 columns"},
		{"x, A, 1, 2, 3, 4\n", "column index"},
		{"0, A, 1, -2, 3, 4\n", "column utilization.gpu"},
		{"0, A, 1, 2, lots, 4\n", "column memory.used"},
	} {
		if _, err := ParseNvidiaSMI([]byte(bad.in)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: error %v, want %q", bad.in, err, bad.want)
		}
	}
}

// TestGPUSampler drives the sampling loop with a stand-in nvidia-smi that
// prints the fixture (this machine has no GPU); the device check of the real
// tool is recorded in docs/benchkit.md.
func TestGPUSampler(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "nvidia-smi")
	if err := os.WriteFile(script, []byte("#!/bin/sh\ncat <<'EOF'\n"+smiFixture+"EOF\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+":"+os.Getenv("PATH"))
	g := FindNvidiaSMI(context.Background())
	if g == nil {
		t.Fatal("stand-in nvidia-smi not found")
	}
	g.Every = 20 * time.Millisecond
	r, err := Run(context.Background(), Options{Command: "sleep 0.2", Dir: dir, GPU: g, Env: []string{"PATH=/usr/bin:/bin"}})
	if err != nil {
		t.Fatal(err)
	}
	if r.GPU == nil || r.GPU.Samples < 2 || r.GPU.UtilMaxPct != 87 || r.GPU.MemUsedMaxMiB != 40333 {
		t.Errorf("GPU stats %+v", r.GPU)
	}
	if h := DetectHost(context.Background(), g); h.GPUModel != "2x NVIDIA H100 80GB HBM3" {
		t.Errorf("host GPU %q", h.GPUModel)
	}
}

func FuzzParseNvidiaSMI(f *testing.F) {
	f.Add([]byte(smiFixture))
	f.Add([]byte("0, T4, 535.1, 5 %, 100 MiB, 15360 MiB\n"))
	f.Add([]byte("index, name, a, b, c, d\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, err := ParseNvidiaSMI(b)
		if err != nil {
			if rs != nil {
				t.Fatal("partial result")
			}
			return
		}
		for _, r := range rs {
			for _, v := range []float64{r.UtilPct, r.MemUsedMiB, r.MemTotalMiB} {
				if v < 0 || math.IsInf(v, 0) {
					t.Fatalf("bad value %v in %+v", v, r)
				}
			}
		}
	})
}
