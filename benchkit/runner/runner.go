// Package runner executes an adapter's bench entry: warm-up runs, then the
// measured repetitions, each measured by package measure and parsed by the
// entry's parser, and stores the samples.
package runner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/ironworks-ci/ironworks/benchkit/gate"
	"github.com/ironworks-ci/ironworks/benchkit/measure"
	"github.com/ironworks-ci/ironworks/benchkit/parse"
	"github.com/ironworks-ci/ironworks/benchkit/results"
	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/sandbox"
)

// Metrics benchkit measures itself, next to what the tool reports.
const (
	MetricWall     = "benchkit.wall-ms"
	MetricCPU      = "benchkit.cpu-ms"
	MetricMaxRSS   = "benchkit.max-rss-kb"
	MetricTreeRSS  = "benchkit.tree-rss-peak-kb"
	MetricGPUUtil  = "benchkit.gpu-util-max-pct"
	MetricGPUMem   = "benchkit.gpu-mem-max-mib"
	MetricGPUUtilM = "benchkit.gpu-util-mean-pct"
)

// Job is one bench entry to run for a candidate.
type Job struct {
	Component string
	Bench     *config.Bench
	Candidate string
	Revisions map[string]string // component -> revision
	Workdir   string
	Kind      string       // run | confirm | bisect
	Key       string       // idempotency key of the stored run; random when ""
	Env       []string     // variables set after every other (CARGO_HOME of an agent)
	Sandbox   sandbox.Spec // what the command may see, with Runner.Sandbox
}

// Runner runs jobs on this host.
type Runner struct {
	Host measure.Host
	GPU  *measure.NvidiaSMI // nil: no GPU
	Log  io.Writer          // the commands' stderr and progress; nil discards
	// BaseEnv is the environment every command starts from (default: the
	// allow-listed variables of benchkit's own environment, see Env).
	BaseEnv []string
	// Sandbox isolates every command (benchkit agent); nil runs them as is.
	Sandbox *sandbox.Sandbox
}

// New detects the host and its GPU.
func New(ctx context.Context, log io.Writer) *Runner {
	gpu := measure.FindNvidiaSMI(ctx)
	return &Runner{Host: measure.DetectHost(ctx, gpu), GPU: gpu, Log: log}
}

// passEnv lists the variables of benchkit's environment a benchmark sees; the
// rest (tokens, credentials) never reach it.
var passEnv = []string{"PATH", "HOME", "USER", "LOGNAME", "LANG", "TMPDIR", "TERM", "CARGO_HOME", "RUSTUP_HOME", "GOPATH", "GOCACHE", "GOMODCACHE", "LD_LIBRARY_PATH"}
var passPrefixes = []string{"LC_", "CUDA_", "NVIDIA_", "FIL_PROOFS_"}

// Env builds a command's environment: allow-listed variables of environ, the
// entry's env, and IRONWORKS_* values (never substituted into the command).
func Env(environ []string, j Job) []string {
	var env []string
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		keep := false
		for _, p := range passEnv {
			keep = keep || k == p
		}
		for _, p := range passPrefixes {
			keep = keep || strings.HasPrefix(k, p)
		}
		if keep {
			env = append(env, kv)
		}
	}
	keys := make([]string, 0, len(j.Bench.Env))
	for k := range j.Bench.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+j.Bench.Env[k])
	}
	env = append(env, "IRONWORKS_CANDIDATE="+j.Candidate, "IRONWORKS_COMPONENT="+j.Component, "IRONWORKS_BENCH="+j.Bench.Name, "IRONWORKS_WORKDIR="+j.Workdir)
	comps := make([]string, 0, len(j.Revisions))
	for c := range j.Revisions {
		comps = append(comps, c)
	}
	sort.Strings(comps)
	for _, c := range comps {
		env = append(env, "IRONWORKS_REV_"+envName(c)+"="+j.Revisions[c])
	}
	return env
}

func envName(component string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z' || r >= '0' && r <= '9':
			return r
		}
		return '_'
	}, component)
}

// Measure runs the entry's warm-ups (when warm) and n measured repetitions
// and returns their samples: the tool's metrics and benchkit's own.
func (r *Runner) Measure(ctx context.Context, j Job, n int, warm bool) (parse.Samples, error) {
	b := j.Bench
	base := r.BaseEnv
	if base == nil {
		base = os.Environ()
	}
	opts := measure.Options{Command: b.Command, Dir: j.Workdir, Env: append(Env(base, j), j.Env...), Timeout: b.Timeout.Duration, Stderr: r.Log, GPU: r.GPU,
		Sandbox: r.Sandbox, Spec: j.Sandbox}
	if warm {
		for i := range b.Warmup {
			r.logf("benchkit: %s/%s warm-up %d/%d", j.Component, b.Name, i+1, b.Warmup)
			if _, err := measure.Run(ctx, opts); err != nil {
				return nil, fmt.Errorf("%s/%s warm-up: %w", j.Component, b.Name, err)
			}
		}
	}
	gated := gatedMetrics(b)
	out := parse.Samples{}
	for i := range n {
		r.logf("benchkit: %s/%s run %d/%d", j.Component, b.Name, i+1, n)
		m, err := measure.Run(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("%s/%s run %d: %w", j.Component, b.Name, i+1, err)
		}
		s, err := parse.Gated(b.Parser, m.Stdout, gated)
		if err != nil {
			return nil, fmt.Errorf("%s/%s run %d: output of %q: %w", j.Component, b.Name, i+1, b.Command, err)
		}
		for k, vs := range s {
			out[k] = append(out[k], vs...)
		}
		out[MetricWall] = append(out[MetricWall], float64(m.Wall.Microseconds())/1000)
		out[MetricCPU] = append(out[MetricCPU], float64((m.User+m.Sys).Microseconds())/1000)
		out[MetricMaxRSS] = append(out[MetricMaxRSS], float64(m.MaxRSSKB))
		out[MetricTreeRSS] = append(out[MetricTreeRSS], float64(m.TreeRSSPeakKB))
		if m.GPU != nil && m.GPU.Samples > 0 {
			out[MetricGPUUtil] = append(out[MetricGPUUtil], m.GPU.UtilMaxPct)
			out[MetricGPUUtilM] = append(out[MetricGPUUtilM], m.GPU.UtilMeanPct)
			out[MetricGPUMem] = append(out[MetricGPUMem], m.GPU.MemUsedMaxMiB)
		}
	}
	return out, nil
}

// gatedMetrics lists the metrics adapter.toml gates on that the tool must report
// (benchkit's own benchkit.* figures are measured, not parsed).
func gatedMetrics(b *config.Bench) []string {
	var out []string
	for m := range b.Metrics {
		if !strings.HasPrefix(m, "benchkit.") {
			out = append(out, m)
		}
	}
	sort.Strings(out)
	return out
}

// Series is the job's series on this host.
func (r *Runner) Series(j Job) results.Series {
	return results.Series{Component: j.Component, Bench: j.Bench.Name, HostClass: r.Host.Class()}
}

// RunAndStore measures n repetitions and stores them as one run.
func (r *Runner) RunAndStore(ctx context.Context, db *results.DB, j Job, n int, warm bool) (parse.Samples, error) {
	s, err := r.Measure(ctx, j, n, warm)
	if err != nil {
		return nil, err
	}
	key := j.Key
	if key == "" {
		key = "local-" + randomHex()
	}
	_, _, err = db.AddRun(ctx, results.Run{
		Key: key, Candidate: j.Candidate, Component: j.Component, Bench: j.Bench.Name,
		Host: r.Host, HostClass: r.Host.Class(), Revisions: j.Revisions, Kind: j.Kind,
	}, s)
	return s, err
}

// Gate runs the entry for the candidate, judges it against the baseline and,
// while the judgement needs confirmation, runs another batch of repetitions,
// until it is firm or the candidate has budget samples per metric.
func (r *Runner) Gate(ctx context.Context, db *results.DB, j Job, budget int) (*gate.Judgement, error) {
	n := max(j.Bench.Repeat, 1)
	if budget < n {
		budget = 4 * n
	}
	if _, err := r.RunAndStore(ctx, db, j, n, true); err != nil {
		return nil, err
	}
	taken := n
	for {
		jd, err := gate.Judge(ctx, db, r.Series(j), j.Candidate, j.Bench)
		if err != nil {
			return nil, err
		}
		if !jd.NeedsConfirmation() || taken >= budget {
			return jd, nil
		}
		more := min(n, budget-taken)
		r.logf("benchkit: %s/%s needs confirmation: %d more runs (%d of %d)", j.Component, j.Bench.Name, more, taken+more, budget)
		cj := j
		cj.Kind, cj.Key = "confirm", ""
		if _, err := r.RunAndStore(ctx, db, cj, more, false); err != nil {
			return nil, err
		}
		taken += more
	}
}

func (r *Runner) logf(format string, args ...any) {
	if r.Log != nil {
		fmt.Fprintf(r.Log, format+"\n", args...)
	}
}

func randomHex() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
