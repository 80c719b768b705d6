package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/store"
	"github.com/ironworks-ci/ironworks/coordinator/web"
)

// headsFirst returns up to limit candidates: the newest head candidates
// first (what the branches are), then the newest others (pull requests,
// bisection probes, manual ones).
func headsFirst(ctx context.Context, st *store.Store, limit int) ([]*store.Candidate, error) {
	if limit <= 0 {
		return []*store.Candidate{}, nil
	}
	all, err := st.Candidates(ctx, max(limit, 500))
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(all, func(a, b *store.Candidate) int {
		switch {
		case a.Origin == "head" && b.Origin != "head":
			return -1
		case a.Origin != "head" && b.Origin == "head":
			return 1
		}
		return 0
	})
	if len(all) > limit {
		all = all[:limit]
	}
	return all, nil
}

// cellWord is a target cell as one word: the verdict once the run is done,
// else its state.
func cellWord(c TargetCell) string {
	if c.State == store.RunDone && c.Verdict != "" {
		return c.Verdict
	}
	return c.State
}

// printExplanation writes the culprit, the upstream range and the probes of a
// red run, indented under it.
func printExplanation(w io.Writer, e *web.Explanation) {
	fmt.Fprintf(w, "    why: %s\n", e.Sentence())
	if c := e.Culprit; c != nil {
		fmt.Fprintf(w, "    culprit: %s %q by %s\n", store.ShortRev(c.Rev), c.Subject, c.Author)
	}
	if r := e.Range; r != nil && r.From != "" {
		fmt.Fprintf(w, "    %s range %s..%s: %d commit(s) since the last compatible pair\n", e.Upstream, store.ShortRev(r.From), store.ShortRev(r.To), r.Count)
	}
	if e.Bisect != "" {
		fmt.Fprintf(w, "    bisection: %s\n", e.Bisect)
	}
	for _, p := range e.Probes {
		v := p.Verdict
		if v == "" {
			v = "not tried"
		} else {
			v = fmt.Sprintf("%s (run %d)", v, p.RunID)
		}
		mark := ""
		if p.Culprit {
			mark = "  <- culprit"
		}
		fmt.Fprintf(w, "      %s %-40q %s%s\n", store.ShortRev(p.Rev), p.Subject, v, mark)
	}
}

// checkStage refuses an unknown stage name as a usage error (exit 2)
// before anything is opened.
func checkStage(cmd, flag, stage string) (int, bool) {
	if slices.Contains(config.Stages, stage) {
		return 0, true
	}
	fmt.Fprintf(os.Stderr, "coordinator %s: %s %q: want one of %s\n", cmd, flag, stage, strings.Join(config.Stages, ", "))
	return exitUsage, false
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// outcome ends `run --once` with one line per run that did not pass (its
// verdict word, culprit, range and probes; for a green run, the gate that
// waits or refused), or one line saying every gate passed, and returns code
// unchanged.
func outcome(ctx context.Context, w io.Writer, st *store.Store, runs []*store.Run, code int) int {
	red := 0
	for _, r := range runs {
		if fresh, err := st.Run(ctx, r.ID); err == nil {
			r = fresh
		}
		if r.Verdict == store.VerdictGreen {
			held := r.Detail["not_promoted"]
			if held == store.GatePending || held == store.GateFailed {
				if ok, err := st.Promoted(ctx, r.Candidate, r.Stage); err == nil && ok {
					continue // a re-check of the gate promoted it
				}
				// Green, but a gate waits or said no: not "every gate passed".
				red++
				fmt.Fprintf(w, "result: run %d %s %s%s\n", r.ID, r.Stage, r.Verdict, notPromoted(r, nil))
			}
			continue
		}
		red++
		line := fmt.Sprintf("result: run %d %s %s", r.ID, r.Stage, r.Verdict)
		if e := web.Explain(ctx, st, r); e != nil {
			line = fmt.Sprintf("result: run %d %s %s", r.ID, r.Stage, e.Sentence())
		}
		fmt.Fprintln(w, line)
	}
	if red == 0 && len(runs) > 0 {
		fmt.Fprintf(w, "result: %d run(s), every gate passed\n", len(runs))
	}
	return code
}
