package measure

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// GPUQuery is the nvidia-smi query benchkit issues, in column order.
const GPUQuery = "index,name,driver_version,utilization.gpu,memory.used,memory.total"

// GPUReading is one line of `nvidia-smi --query-gpu=GPUQuery
// --format=csv,noheader,nounits`. Values nvidia-smi cannot report ("[N/A]",
// "[Not Supported]") are NaN.
type GPUReading struct {
	Index       int
	Name        string
	Driver      string
	UtilPct     float64
	MemUsedMiB  float64
	MemTotalMiB float64
}

// ParseNvidiaSMI reads nvidia-smi CSV output for GPUQuery. A header line (from
// --format=csv without noheader) is skipped, and units ("%", "MiB") are
// accepted after values.
func ParseNvidiaSMI(data []byte) ([]GPUReading, error) {
	var out []GPUReading
	sc := bufio.NewScanner(bytes.NewReader(data))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		f := strings.Split(line, ",")
		for i := range f {
			f[i] = strings.TrimSpace(f[i])
		}
		if len(f) != 6 {
			return nil, fmt.Errorf("nvidia-smi: line %d: want 6 columns (%s), got %d", n, GPUQuery, len(f))
		}
		if f[0] == "index" {
			continue
		}
		idx, err := strconv.Atoi(f[0])
		if err != nil || idx < 0 {
			return nil, fmt.Errorf("nvidia-smi: line %d: column index: %q is not a GPU index", n, f[0])
		}
		r := GPUReading{Index: idx, Name: f[1], Driver: f[2]}
		cols := []struct {
			name string
			dst  *float64
		}{{"utilization.gpu", &r.UtilPct}, {"memory.used", &r.MemUsedMiB}, {"memory.total", &r.MemTotalMiB}}
		for i, c := range cols {
			v, err := smiNumber(f[3+i])
			if err != nil {
				return nil, fmt.Errorf("nvidia-smi: line %d: column %s: %w", n, c.name, err)
			}
			*c.dst = v
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("nvidia-smi: %w", err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("nvidia-smi: no GPU lines")
	}
	return out, nil
}

func smiNumber(s string) (float64, error) {
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		return math.NaN(), nil // [N/A], [Not Supported]
	}
	s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSuffix(s, "%"), "MiB"))
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0, fmt.Errorf("%q is not a non-negative number", s)
	}
	return v, nil
}

// NvidiaSMI samples GPUs through the nvidia-smi tool.
type NvidiaSMI struct {
	Path  string        // the nvidia-smi executable
	Every time.Duration // sampling interval; default 1s
}

// FindNvidiaSMI returns a sampler when nvidia-smi is on PATH and answers, or
// nil: no GPU is then recorded as absent, never as zero.
func FindNvidiaSMI(ctx context.Context) *NvidiaSMI {
	p, err := exec.LookPath("nvidia-smi")
	if err != nil {
		return nil
	}
	g := &NvidiaSMI{Path: p}
	if _, err := g.Query(ctx); err != nil {
		return nil
	}
	return g
}

// Query reads every GPU once.
func (g *NvidiaSMI) Query(ctx context.Context) ([]GPUReading, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, g.Path, "--query-gpu="+GPUQuery, "--format=csv,noheader,nounits").Output()
	if err != nil {
		return nil, fmt.Errorf("nvidia-smi: %w", err)
	}
	return ParseNvidiaSMI(out)
}

// GPUStats summarises the GPU readings taken during one run, over all GPUs.
type GPUStats struct {
	Samples       int     `json:"samples"`
	UtilMaxPct    float64 `json:"util_max_pct"`
	UtilMeanPct   float64 `json:"util_mean_pct"`
	MemUsedMaxMiB float64 `json:"mem_used_max_mib"`
}

// Summarise folds readings into stats; NaN readings are skipped.
func Summarise(batches [][]GPUReading) *GPUStats {
	s := &GPUStats{}
	var sum float64
	var n int
	for _, b := range batches {
		s.Samples++
		var mem float64
		for _, r := range b {
			if !math.IsNaN(r.UtilPct) {
				sum += r.UtilPct
				n++
				s.UtilMaxPct = max(s.UtilMaxPct, r.UtilPct)
			}
			if !math.IsNaN(r.MemUsedMiB) {
				mem += r.MemUsedMiB
			}
		}
		s.MemUsedMaxMiB = max(s.MemUsedMaxMiB, mem)
	}
	if n > 0 {
		s.UtilMeanPct = sum / float64(n)
	}
	return s
}

// Sample queries the GPUs every g.Every until stop is closed.
func (g *NvidiaSMI) Sample(ctx context.Context, stop <-chan struct{}) *GPUStats {
	every := g.Every
	if every <= 0 {
		every = time.Second
	}
	var batches [][]GPUReading
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if rs, err := g.Query(ctx); err == nil {
			batches = append(batches, rs)
		}
		select {
		case <-stop:
			return Summarise(batches)
		case <-ctx.Done():
			return Summarise(batches)
		case <-t.C:
		}
	}
}
