package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/charmbracelet/log"

	"github.com/ironworks-ci/ironworks/coordinator/benchqueue"
	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/engine/local"
	"github.com/ironworks-ci/ironworks/coordinator/pipeline"
	"github.com/ironworks-ci/ironworks/coordinator/source"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// openPipeline loads the configuration, opens the store and wires the pipeline.
// It holds the state directory's lock until the store is closed.
func openPipeline(ctx context.Context, cfgPath, command string, logger *log.Logger) (*config.Config, *store.Store, *pipeline.Pipeline, error) {
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		return nil, nil, nil, err
	}
	release, err := lockState(cfg.StateDir, command)
	if err != nil {
		return nil, nil, nil, err
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		release()
		return nil, nil, nil, err
	}
	st.OnClose(release)
	p, err := newPipeline(ctx, cfg, st, logger)
	if err != nil {
		st.Close()
		return nil, nil, nil, err
	}
	return cfg, st, p, nil
}

// newPipeline wires the pipeline for a configuration: the local engine by
// default, the Hydra engine with [engine] default = "hydra", and the bench
// gate at every stage that has bench entries.
func newPipeline(ctx context.Context, cfg *config.Config, st *store.Store, logger *log.Logger) (*pipeline.Pipeline, error) {
	mirrors := source.New(filepath.Join(cfg.StateDir, "mirrors"))
	mirrors.Timeout = cfg.Engine.GitTimeout.Duration
	par := cfg.Engine.Parallelism
	if par == 0 {
		par = runtime.NumCPU()
	}
	var eng pipeline.Engine
	if cfg.Engine.Default == "local" {
		sb, err := newSandbox(ctx, cfg)
		if err != nil {
			return nil, err
		}
		if !sb.Enabled() {
			logger.Warn("jobs run unsandboxed (engine.sandbox = \"off\"): every job can read the secrets and the state")
		}
		eng = &local.Engine{
			StateDir:    cfg.StateDir,
			Mirrors:     mirrors,
			Offered:     cfg.Engine.Features,
			Parallelism: par,
			OutputLimit: int64(cfg.Engine.OutputLimit),
			PassEnv:     cfg.Engine.PassEnv,
			Secrets:     secrets(cfg),
			Sandbox:     sb,
			SandboxRO:   cfg.Engine.SandboxRO,
			SandboxRW:   cfg.Engine.SandboxRW,
			KeepFailed:  *cfg.Engine.KeepFailedWorktrees,
			TargetLimit: int64(cfg.Engine.TargetLimit),
			Log:         logger,
		}
	}
	if cfg.Engine.Default == "hydra" {
		h, err := hydraEngine(cfg, st, mirrors, logger)
		if err != nil {
			return nil, err
		}
		eng = h
	}
	p := &pipeline.Pipeline{
		Cfg:         cfg,
		Store:       st,
		Engine:      eng,
		Mirrors:     mirrors,
		Log:         logger,
		BisectLimit: cfg.Engine.BisectLimit,
		Gates:       map[string][]pipeline.Gate{},
		LogTail: func(runID int64, job string, lines int) string {
			return tail(local.LogPath(cfg.StateDir, runID, job), lines)
		},
	}
	addHydraGates(p, eng)
	q := benchqueue.New(st)
	for _, stage := range config.Stages {
		if len(benchEntries(cfg, stage)) > 0 {
			p.Gates[stage] = append(p.Gates[stage], &benchGate{q: q, cfg: cfg})
		}
	}
	return p, nil
}

// benchEntries lists the bench entries of a stage across components.
func benchEntries(cfg *config.Config, stage string) []*config.Bench {
	var out []*config.Bench
	for _, comp := range cfg.Order() {
		a := cfg.Loaded[comp]
		names := make([]string, 0, len(a.Bench))
		for n := range a.Bench {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if a.Bench[n].Stage == stage {
				out = append(out, a.Bench[n])
			}
		}
	}
	return out
}

// benchGate holds a stage's promotion until benchkit agents have measured the
// candidate and found no unacknowledged regression against the baseline.
type benchGate struct {
	q   *benchqueue.Queue
	cfg *config.Config
}

func (g *benchGate) Check(ctx context.Context, cand *store.Candidate, stage string) (pass, pending bool, evidence map[string]any, err error) {
	if err := g.Reach(ctx, cand, stage); err != nil {
		return false, false, nil, err
	}
	res, err := g.q.Verdict(ctx, cand.ID)
	if err != nil {
		return false, false, nil, err
	}
	evidence = map[string]any{"bench": res.State, "benchmark_reports": res.ReportIDs, "bench_details": res.Details}
	switch res.State {
	case benchqueue.StatePass, benchqueue.StateNone:
		return true, false, evidence, nil
	case benchqueue.StatePending:
		return false, true, evidence, nil
	}
	return false, false, evidence, nil
}

// secrets reads every secret file the configuration names, so that the engine
// can keep their values out of jobs. Unreadable files are skipped here; the
// component that needs the secret reports the error.
func secrets(cfg *config.Config) []string {
	var out []string
	for _, f := range secretFiles(cfg) {
		if b, err := os.ReadFile(f); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if s := strings.TrimSpace(line); s != "" {
					out = append(out, s)
				}
			}
		}
	}
	return out
}

// tail returns the last n lines of a file, reading at most 64 KiB of it.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	const max = 64 << 10
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	off := st.Size() - max
	if off < 0 {
		off = 0
	}
	buf := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil {
		return ""
	}
	lines := bytes.Split(bytes.TrimRight(buf, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
