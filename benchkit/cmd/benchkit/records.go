package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ironworks-ci/ironworks/benchkit/agent"
	"github.com/ironworks-ci/ironworks/benchkit/results"
	"github.com/ironworks-ci/ironworks/benchkit/runner"
	"github.com/ironworks-ci/ironworks/benchkit/stats"
	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/sandbox"
)

func init() {
	register(&command{name: "release-mark", summary: "record that a candidate was released (it becomes the baseline)", run: cmdReleaseMark})
	register(&command{name: "ack", summary: "accept a candidate's regression of a metric, with a reason", run: cmdAck})
	register(&command{name: "acks", summary: "print a candidate's acknowledged regressions as JSON (for the release manifest)", run: cmdAcks})
	register(&command{name: "agent", summary: "lease bench jobs from the coordinator, run them, post the samples", run: cmdAgent})
	register(&command{name: "simulate", summary: "measure false alarms and power of the verdict on synthetic samples", run: cmdSimulate})
}

func openDB(ctx context.Context, e *env, path string) (*results.DB, bool) {
	db, err := results.Open(ctx, path)
	if err != nil {
		fmt.Fprintf(e.stderr, "benchkit: %v\n", err)
		return nil, false
	}
	return db, true
}

func cmdReleaseMark(ctx context.Context, e *env, args []string) int {
	fs := newFlags(e, "release-mark", "Record that --candidate was released: later candidates on the same host class are compared with it.\n(The coordinator records releases in its own database when it stamps one.)")
	cand := fs.String("candidate", "", "released candidate ID (required)")
	dbPath := fs.String("db", defaultDB, "results database")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if !required(fs, "candidate") {
		return exitUsage
	}
	db, ok := openDB(ctx, e, *dbPath)
	if !ok {
		return exitInfra
	}
	defer db.Close()
	if err := db.MarkReleased(ctx, *cand); err != nil {
		fmt.Fprintf(e.stderr, "benchkit: %v\n", err)
		return exitInfra
	}
	fmt.Fprintf(e.stdout, "candidate %s marked released\n", *cand)
	return exitOK
}

func cmdAck(ctx context.Context, e *env, args []string) int {
	fs := newFlags(e, "ack", "Accept a regression of --metric in --candidate. The acknowledgement is kept with its reason and\nauthor and listed in reports and the release manifest; the gate no longer fails on it.")
	cand := fs.String("candidate", "", "candidate ID (required)")
	metric := fs.String("metric", "", "metric name (required)")
	bench := fs.String("bench", "", "bench entry (default: the metric in every entry)")
	reason := fs.String("reason", "", "why the regression is accepted (required)")
	by := fs.String("by", os.Getenv("USER"), "who accepts it")
	dbPath := fs.String("db", defaultDB, "results database")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if !required(fs, "candidate", "metric", "reason") {
		return exitUsage
	}
	db, ok := openDB(ctx, e, *dbPath)
	if !ok {
		return exitInfra
	}
	defer db.Close()
	if err := db.AddAck(ctx, results.Ack{Candidate: *cand, Bench: *bench, Metric: *metric, Reason: *reason, By: *by}); err != nil {
		fmt.Fprintf(e.stderr, "benchkit: %v\n", err)
		return exitUsage
	}
	fmt.Fprintf(e.stdout, "regression of %s in %s acknowledged\n", *metric, *cand)
	return exitOK
}

func cmdAcks(ctx context.Context, e *env, args []string) int {
	fs := newFlags(e, "acks", "Print the acknowledged regressions of --candidate as a JSON array.")
	cand := fs.String("candidate", "", "candidate ID (required)")
	dbPath := fs.String("db", defaultDB, "results database")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if !required(fs, "candidate") {
		return exitUsage
	}
	db, ok := openDB(ctx, e, *dbPath)
	if !ok {
		return exitInfra
	}
	defer db.Close()
	acks, err := db.Acks(ctx, *cand)
	if err != nil {
		fmt.Fprintf(e.stderr, "benchkit: %v\n", err)
		return exitInfra
	}
	b, _ := json.MarshalIndent(acks, "", "  ")
	fmt.Fprintln(e.stdout, string(b))
	return exitOK
}

func cmdAgent(ctx context.Context, e *env, args []string) int {
	fs := newFlags(e, "agent", "Dial out to the coordinator, lease bench jobs whose requirements --features cover, check out the\nexact revisions, run the entry and post the samples. Runs until interrupted.")
	url := fs.String("coordinator", "", "coordinator base URL (required)")
	tokenFile := fs.String("token-file", "", "file holding this agent's bearer token (required)")
	var features listFlag
	fs.Var(&features, "features", "worker features this host offers, e.g. gpu,big-memory")
	host, _ := os.Hostname()
	name := fs.String("name", host, "agent name shown in the coordinator")
	workdir := fs.String("workdir", ".benchkit/agent", "mirrors and per-job checkouts")
	poll := fs.Duration("poll", 10*time.Second, "wait between leases when the queue is empty")
	sandboxMode := fs.String("sandbox", sandbox.Bwrap, "isolate bench commands: bwrap, or off (they can then read the token)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if !required(fs, "coordinator", "token-file") {
		return exitUsage
	}
	if *sandboxMode != sandbox.Bwrap && *sandboxMode != sandbox.Off {
		fmt.Fprintf(e.stderr, "benchkit agent: --sandbox %q: want bwrap or off\n", *sandboxMode)
		return exitUsage
	}
	tok, err := os.ReadFile(*tokenFile)
	if err != nil {
		fmt.Fprintf(e.stderr, "benchkit agent: token: %v\n", err)
		return exitUsage
	}
	token := strings.TrimSpace(string(tok))
	if token == "" {
		fmt.Fprintf(e.stderr, "benchkit agent: token file %s is empty\n", *tokenFile)
		return exitUsage
	}
	abs, err := filepath.Abs(*workdir)
	if err != nil {
		fmt.Fprintf(e.stderr, "benchkit agent: --workdir: %v\n", err)
		return exitUsage
	}
	sb := &sandbox.Sandbox{Mode: *sandboxMode, Hide: []string{*tokenFile, abs}}
	if err := sb.Check(ctx); err != nil {
		fmt.Fprintf(e.stderr, "benchkit agent: %v (--sandbox off to run them unsandboxed)\n", err)
		return exitInfra
	}
	if !sb.Enabled() {
		fmt.Fprintln(e.stderr, "benchkit agent: bench commands run unsandboxed (--sandbox off): they can read the token")
	}
	r := runner.New(ctx, e.stderr)
	r.Sandbox = sb
	a := &agent.Agent{URL: *url, Token: token, Name: *name, Features: features, Workdir: abs, Runner: r, Log: e.stderr, Poll: *poll}
	fmt.Fprintf(e.stderr, "benchkit agent %s: host class %s (%s), features %v\n", *name, a.Runner.Host.Class(), a.Runner.Host, []string(features))
	if err := a.Run(ctx); err != nil {
		fmt.Fprintf(e.stderr, "benchkit agent: %v\n", err)
		return exitInfra
	}
	return exitOK
}

func cmdSimulate(ctx context.Context, e *env, args []string) int {
	fs := newFlags(e, "simulate", "Run the verdict on synthetic normal samples (baseline and candidate, --n each, --cv noise, the candidate\nshifted by 0, 2.5, 5 and 10%) and print the alarm rate of benchkit next to a fixed 10% threshold and\nBencher-style Student-t prediction intervals at boundary 0.99. Reproducible for a given --seed.")
	seed := fs.Uint64("seed", 1, "random seed")
	trials := fs.Int("trials", 10000, "comparisons per shift")
	n := fs.Int("n", 10, "runs per side")
	cv := fs.Float64("cv", 0.02, "coefficient of variation of a run")
	thresholdFlag := fs.String("threshold", "5%", "benchkit's minimum effect, a percentage as in adapter.toml and compare")
	budget := fs.Int("budget", 40, "candidate samples the confirmation runs may reach")
	outliers := fs.Float64("outliers", 0, "probability that a run is 20% slow")
	batches := fs.Bool("batches", false, "simulate a host that holds a clock state per batch: stored baseline against interleaved ABAB measurement")
	stateShift := fs.Float64("state-shift", 0.03, "with --batches: slowdown of a slow batch")
	pSlow := fs.Float64("p-slow", 0.5, "with --batches: probability that a batch is slow")
	drift := fs.Float64("drift", 0.02, "with --batches: linear drift from a batch's first run to its last")
	asJSON := fs.Bool("json", false, "print JSON")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	var th config.Percent
	if err := th.UnmarshalText([]byte(*thresholdFlag)); err != nil || th.Fraction <= 0 {
		fmt.Fprintf(e.stderr, "benchkit simulate: --threshold: bad threshold %q (want a percentage such as 5%%)\n", *thresholdFlag)
		return exitUsage
	}
	threshold := &th.Fraction
	if *n < 2 || *trials < 1 || *cv < 0 {
		fmt.Fprintln(e.stderr, "benchkit simulate: need --n >= 2, --trials >= 1, --cv >= 0")
		return exitUsage
	}
	if *batches {
		dc := stats.DriftConfig{Seed: *seed, Trials: *trials, N: *n, CV: *cv, Shifts: []float64{0, 0.025, 0.05, 0.10}, Threshold: *threshold, Budget: *budget,
			StateShift: *stateShift, PSlow: *pSlow, Drift: *drift}
		rows := stats.SimulateDrift(dc)
		if *asJSON {
			b, _ := json.MarshalIndent(map[string]any{"config": dc, "rows": rows}, "", "  ")
			fmt.Fprintln(e.stdout, string(b))
			return exitOK
		}
		fmt.Fprintf(e.stdout, "seed %d, %d trials per row, %d runs per side, CV %.3g%%, threshold %.3g%%, budget %d; batches %.3g%% slow with p %.3g, drift %.3g%% per batch\n\n",
			*seed, *trials, *n, *cv*100, *threshold*100, *budget, *stateShift*100, *pSlow, *drift*100)
		if err := stats.WriteDriftTable(e.stdout, rows); err != nil {
			return exitInfra
		}
		return exitOK
	}
	cfg := stats.SimConfig{Seed: *seed, Trials: *trials, N: *n, CV: *cv, Shifts: []float64{0, 0.025, 0.05, 0.10}, Threshold: *threshold, Budget: *budget, Outliers: *outliers}
	rows := stats.Simulate(cfg)
	if *asJSON {
		b, _ := json.MarshalIndent(map[string]any{"config": cfg, "rows": rows}, "", "  ")
		fmt.Fprintln(e.stdout, string(b))
		return exitOK
	}
	fmt.Fprintf(e.stdout, "seed %d, %d trials per row, %d runs per side, CV %.3g%%, threshold %.3g%%, confirmation budget %d, outliers %.3g\n\n",
		*seed, *trials, *n, *cv*100, *threshold*100, *budget, *outliers)
	if err := stats.WriteSimTable(e.stdout, cfg, rows); err != nil {
		return exitInfra
	}
	return exitOK
}
