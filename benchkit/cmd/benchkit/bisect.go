package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ironworks-ci/ironworks/benchkit/bisect"
	"github.com/ironworks-ci/ironworks/benchkit/gate"
	"github.com/ironworks-ci/ironworks/benchkit/parse"
	"github.com/ironworks-ci/ironworks/benchkit/runner"
	"github.com/ironworks-ci/ironworks/coordinator/config"
)

func init() {
	register(&command{name: "bisect", summary: "find the first commit between --good and --bad at which the bench regressed", run: cmdBisect})
}

func cmdBisect(ctx context.Context, e *env, args []string) int {
	fs := newFlags(e, "bisect", `Measure --good once, then bisect the commits of --repo between --good and --bad (git rev-list
--ancestry-path): each probe checks the commit out in a temporary worktree, runs the bench entry there and
compares it with --good (a gating metric regressed: bad; inconclusive after --budget samples: skipped).
About log2(N) rounds for N commits. Prints the culprit; exit 0 found, 4 when a run failed.`)
	good := fs.String("good", "", "known good revision (required)")
	bad := fs.String("bad", "", "known bad revision (required)")
	repo := fs.String("repo", "", "git repository of the component (required)")
	adapter := fs.String("adapter", "", "adapter directory (required)")
	bench := fs.String("bench", "", "bench entry (required)")
	budget := fs.Int("budget", 0, "samples per probe the confirmation runs may reach (default 4x repeat)")
	asJSON := fs.Bool("json", false, "print JSON")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if !required(fs, "good", "bad", "repo", "adapter", "bench") {
		return exitUsage
	}
	a, err := config.LoadAdapter(*adapter)
	if err != nil {
		fmt.Fprintf(e.stderr, "benchkit: %v\n", err)
		return exitUsage
	}
	be, ok := a.Bench[*bench]
	if !ok {
		fmt.Fprintf(e.stderr, "benchkit: %s: no [bench.%s]\n", a.File, *bench)
		return exitUsage
	}
	commits, err := bisect.Commits(ctx, *repo, *good, *bad)
	if err != nil {
		fmt.Fprintf(e.stderr, "benchkit: %v\n", err)
		return exitUsage
	}
	tmp, err := os.MkdirTemp("", "benchkit-bisect")
	if err != nil {
		fmt.Fprintf(e.stderr, "benchkit: %v\n", err)
		return exitInfra
	}
	defer os.RemoveAll(tmp)
	r := runner.New(ctx, e.stderr)
	n := max(be.Repeat, 1)
	limit := *budget
	if limit < n {
		limit = 4 * n
	}
	measureAt := func(commit string, runs int, warm bool) (parse.Samples, error) {
		wt := filepath.Join(tmp, commit)
		if _, err := os.Stat(wt); err != nil {
			if _, err := bisect.Worktree(ctx, *repo, wt, commit); err != nil {
				return nil, err
			}
		}
		return r.Measure(ctx, runner.Job{Component: a.Name, Bench: be, Candidate: commit, Revisions: map[string]string{a.Name: commit}, Workdir: wt, Kind: "bisect"}, runs, warm)
	}
	base, err := measureAt(commits[0], n, true)
	if err != nil {
		fmt.Fprintf(e.stderr, "benchkit: good %s: %v\n", commits[0], err)
		return exitInfra
	}
	probe := func(ctx context.Context, commit string) (bisect.Outcome, error) {
		s, err := measureAt(commit, n, true)
		if err != nil {
			fmt.Fprintf(e.stderr, "benchkit: %s: %v (skipped)\n", commit, err)
			return bisect.Skip, nil
		}
		for {
			j := gate.Decide(&gate.Judgement{Candidate: commit, Baseline: commits[0]}, base, s, be, nil)
			fmt.Fprintf(e.stderr, "benchkit: %s: %s\n", commit, j.State)
			if j.NeedsConfirmation() && len(s[firstMetric(j)]) < limit {
				more, err := measureAt(commit, n, false)
				if err != nil {
					return bisect.Skip, nil
				}
				for k, v := range more {
					s[k] = append(s[k], v...)
				}
				continue
			}
			switch j.State {
			case gate.Fail:
				return bisect.Bad, nil
			case gate.Pass:
				return bisect.Good, nil
			}
			return bisect.Skip, nil
		}
	}
	res, err := bisect.Run(ctx, commits, probe)
	if err != nil {
		fmt.Fprintf(e.stderr, "benchkit: %v\n", err)
		return exitInfra
	}
	if *asJSON {
		b, _ := json.MarshalIndent(res, "", "  ")
		fmt.Fprintln(e.stdout, string(b))
	} else {
		fmt.Fprintf(e.stdout, "first bad commit: %s (%d rounds over %d commits)\n", res.Culprit, res.Rounds, len(commits)-1)
		if len(res.Suspects) > 1 {
			fmt.Fprintf(e.stdout, "skipped commits make these suspects too: %v\n", res.Suspects)
		}
	}
	return exitOK
}

// firstMetric names a gating metric that needs confirmation, to count its samples.
func firstMetric(j *gate.Judgement) string {
	for _, m := range j.Metrics {
		if m.Gating && m.NeedsConfirmation() {
			return m.Metric
		}
	}
	return ""
}
