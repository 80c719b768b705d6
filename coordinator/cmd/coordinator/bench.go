package main

import (
	"context"
	"encoding/json"
	"errors"
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
	fs := newFlags("bench-ack", "Accept a regression of --metric that the bench gate found in --candidate (that candidate only);\nit no longer fails the gate, whose next check (run --once, serve) lets the candidate through,\nand is carried into the release manifest with its reason and author. Exit 2 when there is no\nsuch regression to accept (unknown candidate, metric not gated, metric did not regress).")
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
	res, err := benchqueue.New(st).Ack(ctx, results.Ack{Candidate: *cand, Bench: *bench, Metric: *metric, Reason: *reason, By: *by})
	var refusal *benchqueue.AckRefusal
	switch {
	case errors.As(err, &refusal):
		fmt.Fprintf(os.Stderr, "coordinator bench-ack: %s; nothing recorded\n", refusal.Reason)
		return exitUsage
	case err != nil:
		fmt.Fprintf(os.Stderr, "coordinator bench-ack: %v\n", err)
		return exitInfra
	}
	for _, r := range res.Regressions {
		fmt.Printf("regression of %s in %s/%s on %s (%+.2f%% against %s) acknowledged for candidate %s by %s\n",
			r.Metric, r.Component, r.Bench, r.HostClass, r.Change*100, r.Baseline, res.Ack.Candidate, orUnknown(res.Ack.By))
	}
	if res.Reopened > 0 {
		fmt.Println("its bench gate is checked again on the next pass (run --once, or serve's next tick)")
	}
	return exitOK
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}

// manifestAcks lists a candidate's acknowledged regressions for the release
// manifest's bench_acks: each acknowledgement (candidate, bench, metric,
// reason, by, created_at) with the bench report whose verdict counted it
// ("report") and the regressions it accepted there ("regressions":
// component, bench, host class, change, baseline).
func manifestAcks(ctx context.Context, q *benchqueue.Queue, candidate string) ([]map[string]any, error) {
	sum, err := q.Summary(ctx, candidate)
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	for _, a := range sum.Acks {
		b, err := json.Marshal(a)
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, err
		}
		regs := []map[string]any{}
		for _, r := range sum.Regressions {
			if r.Acked != nil && r.Metric == a.Metric && r.Acked.Bench == a.Bench {
				regs = append(regs, map[string]any{"component": r.Component, "bench": r.Bench, "host_class": r.HostClass, "change": r.Change, "baseline": r.Baseline})
			}
		}
		if len(regs) > 0 {
			m["report"] = sum.Report
		}
		m["regressions"] = regs
		out = append(out, m)
	}
	return out, nil
}
