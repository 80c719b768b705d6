package main

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/ironworks-ci/ironworks/coordinator/benchqueue"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// benchStatus is a candidate's bench gate for `coordinator status`: its
// newest verdict, the regressions it found and the acknowledgements; nil for
// a candidate without bench jobs.
func benchStatus(ctx context.Context, st *store.Store, candidate string) (*benchqueue.Summary, error) {
	q := benchqueue.New(st)
	jobs, err := q.Jobs(ctx, candidate)
	if err != nil || len(jobs) == 0 {
		return nil, err
	}
	s, err := q.Summary(ctx, candidate)
	if err != nil {
		return nil, err
	}
	if s.State == "" {
		s.State = benchqueue.StatePending
	}
	return s, nil
}

// printBenchStatus prints a candidate's bench gate under its header.
func printBenchStatus(w io.Writer, s *benchqueue.Summary) {
	if s == nil {
		return
	}
	fmt.Fprintf(w, "  bench gate %s", s.State)
	if s.Report != "" {
		fmt.Fprintf(w, " (report %s)", s.Report)
	}
	fmt.Fprintln(w)
	for _, r := range s.Regressions {
		if !r.Gating {
			continue
		}
		what := "regressed"
		if r.Acked != nil {
			what = fmt.Sprintf("regressed, acknowledged by %s: %s", orUnknown(r.Acked.By), r.Acked.Reason)
		}
		fmt.Fprintf(w, "    %s/%s on %s: %s %+.2f%% against %s, %s\n", r.Component, r.Bench, r.HostClass, r.Metric, r.Change*100, r.Baseline, what)
	}
	for _, a := range s.Acks {
		bench := a.Bench
		if bench == "" {
			bench = "every bench entry"
		}
		fmt.Fprintf(w, "    ack %s in %s by %s at %s: %s\n", a.Metric, bench, orUnknown(a.By), a.CreatedAt.UTC().Format("2006-01-02 15:04:05Z"), a.Reason)
	}
}

// notPromoted says why a green run was not promoted, for its status line;
// nothing once its candidate is promoted at the run's stage (a re-checked
// gate promotes without rewriting the run).
func notPromoted(r *store.Run, promoted []string) string {
	if slices.Contains(promoted, r.Stage) {
		return ""
	}
	if why, ok := r.Detail["not_promoted"].(string); ok && why != "" && r.Verdict == store.VerdictGreen {
		if hydra, ok := r.Detail["hydra_gate"].(string); ok && hydra != "" {
			why += ": " + hydra
		}
		return " (not promoted: " + why + ")"
	}
	return ""
}
