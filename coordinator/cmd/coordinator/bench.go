package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/ironworks-ci/ironworks/benchkit/results"
	"github.com/ironworks-ci/ironworks/coordinator/benchqueue"
)

func init() {
	register(&command{name: "bench-verdict", summary: "print a candidate's benchmark gate verdict as JSON", run: runBenchVerdict})
	register(&command{name: "bench-ack", summary: "accept a candidate's benchmark regression, with a reason", run: runBenchAck})
}

func runBenchVerdict(ctx context.Context, args []string) int {
	fs := newFlags("bench-verdict", "Print the bench gate's verdict of --candidate (pending, pass, fail or none) with its details\nand report IDs as JSON. Exit 0 pass/pending/none, 1 fail.")
	cfgPath := fs.String("config", "", "configuration file (default: the embedded default)")
	cand := fs.String("candidate", "", "candidate ID (required)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *cand == "" {
		fmt.Fprintln(os.Stderr, "coordinator bench-verdict: --candidate is required")
		return exitUsage
	}
	_, st, err := openState(ctx, *cfgPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "coordinator: %v\n", err)
		return exitConfig
	}
	defer st.Close()
	v, err := benchqueue.New(st).Verdict(ctx, *cand)
	if err != nil {
		fmt.Fprintf(os.Stderr, "coordinator: %v\n", err)
		return exitInfra
	}
	b, _ := json.MarshalIndent(v, "", "  ")
	fmt.Println(string(b))
	if v.State == benchqueue.StateFail {
		return exitGate
	}
	return exitOK
}

func runBenchAck(ctx context.Context, args []string) int {
	fs := newFlags("bench-ack", "Accept a regression of --metric in --candidate; it no longer fails the bench gate and is carried\ninto the release manifest with its reason and author.")
	cfgPath := fs.String("config", "", "configuration file (default: the embedded default)")
	cand := fs.String("candidate", "", "candidate ID (required)")
	metric := fs.String("metric", "", "metric name (required)")
	bench := fs.String("bench", "", "bench entry (default: the metric in every entry)")
	reason := fs.String("reason", "", "why the regression is accepted (required)")
	by := fs.String("by", os.Getenv("USER"), "who accepts it")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *cand == "" || *metric == "" || *reason == "" {
		fmt.Fprintln(os.Stderr, "coordinator bench-ack: --candidate, --metric and --reason are required")
		return exitUsage
	}
	_, st, err := openState(ctx, *cfgPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "coordinator: %v\n", err)
		return exitConfig
	}
	defer st.Close()
	if err := benchqueue.New(st).Ack(ctx, results.Ack{Candidate: *cand, Bench: *bench, Metric: *metric, Reason: *reason, By: *by}); err != nil {
		fmt.Fprintf(os.Stderr, "coordinator: %v\n", err)
		return exitUsage
	}
	fmt.Printf("regression of %s in %s acknowledged\n", *metric, *cand)
	return exitOK
}
