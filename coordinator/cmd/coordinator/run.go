package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/ironworks-ci/ironworks/coordinator/pipeline"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

func init() {
	register(&command{name: "run", summary: "run the pipeline: one full pass with --once", run: runCmd})
}

func runCmd(ctx context.Context, args []string) int {
	fs := newFlags("run", "Discover heads, make candidates and run every due stage to its verdict.\nExit status: 0 every gate passed or still waits (later passes re-check it), 1 some gate failed, 2 usage, 3 configuration, 4 infrastructure (also: news not delivered, left queued).")
	cfgPath := fs.String("config", "", "configuration file (default: the embedded defaults)")
	once := fs.Bool("once", false, "do one full pass and exit (required; use 'serve' for the daemon)")
	through := fs.String("through", "forge", "last stage to run: spark, forge, harden or temper")
	jobs := fs.String("job", "", "run only these jobs (comma-separated component:job, manual jobs included) on the newest heads")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if code, ok := checkStage("run", "--through", *through); !ok {
		return code
	}
	if !*once {
		fmt.Fprintln(os.Stderr, "coordinator run: --once is required (the daemon is 'coordinator serve')")
		return exitUsage
	}
	logger := newLogger(os.Stderr)
	cfg, st, p, err := openPipeline(ctx, *cfgPath, "run", logger)
	if err != nil {
		logger.Error("start", "err", err)
		return exitFor(err)
	}
	defer st.Close()
	n, _, err := openNotifiers(ctx, cfg, st, p, logger)
	if err != nil {
		logger.Error("configuration", "err", err)
		return exitConfig
	}
	if *jobs != "" {
		cands, err := p.Discover(ctx)
		if err != nil && !pipeline.Partial(err) {
			logger.Error("discover", "err", err)
			return exitInfra
		}
		run, err := p.RunJobs(ctx, cands[0], strings.Split(*jobs, ","))
		if err != nil {
			logger.Error("run", "err", err)
			return exitUsage
		}
		return outcome(ctx, os.Stdout, st, []*store.Run{run}, delivered(ctx, n, logger, report(logger, []*store.Run{run}, nil)))
	}
	runs, err := p.Once(ctx, *through)
	runs, err = n.withPRs(ctx, runs, err)
	return outcome(ctx, os.Stdout, st, runs, delivered(ctx, n, logger, report(logger, runs, err)))
}

func report(logger interface {
	Info(any, ...any)
	Error(any, ...any)
}, runs []*store.Run, err error) int {
	for _, r := range runs {
		logger.Info("verdict", "run", r.ID, "stage", r.Stage, "candidate", r.Candidate, "verdict", r.Verdict, "detail", summarize(r))
	}
	switch {
	case err == nil:
		for _, r := range runs {
			if r.Verdict != store.VerdictGreen {
				return exitGate
			}
		}
		return exitOK
	case errors.Is(err, pipeline.ErrGateFailed):
		for _, r := range runs {
			if r.Verdict == store.VerdictInfraError || r.Verdict == store.VerdictEvalError {
				return exitInfra
			}
		}
		return exitGate
	default:
		logger.Error("run failed", "err", err)
		return exitInfra
	}
}

func summarize(r *store.Run) string {
	if s, ok := r.Detail["reason"].(string); ok {
		return s
	}
	if s, ok := r.Detail["failed_job"].(string); ok {
		return "failed job " + s
	}
	return ""
}
