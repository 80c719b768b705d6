package main

import (
	// The pin methods adapters name in [[upstream]] pin.
	_ "github.com/ironworks-ci/ironworks/adapters/cargopatch"

	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ironworks-ci/ironworks/adapters/hook"
	"github.com/ironworks-ci/ironworks/benchkit/bisect"
	"github.com/ironworks-ci/ironworks/benchkit/parse"
	"github.com/ironworks-ci/ironworks/benchkit/runner"
	"github.com/ironworks-ci/ironworks/coordinator/config"
)

func init() {
	register(&command{name: "bisect", summary: "find the first commit between --good and --bad at which the bench regressed", run: cmdBisect})
}

func cmdBisect(ctx context.Context, e *env, args []string) int {
	fs := newFlags(e, "bisect", `Find the commit of --repo between --good and --bad (git rev-list --ancestry-path) at which the bench
regressed. Every judgement measures two commits side by side, each in a temporary worktree, in interleaved
rounds (the entry's repeat, more while the verdict needs confirmation, up to --budget): first the ends
(--bad against --good: unless it regressed there is no culprit), then about log2(N) probes, each against
--good measured again next to it. Prints the culprit, the rounds and the samples. Exit 0: culprit found,
or no regression between the ends (no culprit); 3: the ends could not be told apart; 4: a run failed.

With --upstream NAME, --repo is that upstream of the --adapter's component (its [[upstream]] entry) and
the bench runs in a checkout of --downstream at one fixed revision, with each probed upstream revision
pinned into it by the entry's pin method (cargo-patch); a revision the downstream would not build
against (a semver-major bump) is skipped with the reason.`)
	good := fs.String("good", "", "known good revision (required)")
	bad := fs.String("bad", "", "known bad revision (required)")
	repo := fs.String("repo", "", "git repository of the component (required)")
	adapter := fs.String("adapter", "", "adapter directory (required)")
	bench := fs.String("bench", "", "bench entry (required)")
	budget := fs.Int("budget", 0, "interleaved rounds per judged pair the confirmation may reach (default 4x repeat)")
	upstream := fs.String("upstream", "", "bisect this upstream of the component (its [[upstream]] name) under a fixed downstream")
	downstream := fs.String("downstream", "", "with --upstream: git checkout of the component, kept at --downstream-rev")
	downRev := fs.String("downstream-rev", "HEAD", "with --upstream: the downstream revision every probe builds")
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
	if *upstream != "" {
		pj, code := pinnedJobs(ctx, e, a, be, *upstream, *repo, *downstream, *downRev, tmp)
		if pj == nil {
			return code
		}
		return runBisect(ctx, e, r, be, commits, pj, *budget, *asJSON, *good, *bad)
	}
	job := func(commit string) (runner.Job, error) {
		wt := filepath.Join(tmp, commit)
		if _, err := os.Stat(wt); err != nil {
			if _, err := bisect.Worktree(ctx, *repo, wt, commit); err != nil {
				return runner.Job{}, err
			}
		}
		return runner.Job{Component: a.Name, Bench: be, Candidate: commit, Revisions: map[string]string{a.Name: commit}, Workdir: wt, Kind: "bisect"}, nil
	}
	return runBisect(ctx, e, r, be, commits, job, *budget, *asJSON, *good, *bad)
}

// runBisect bisects commits, each measured by the job that job makes for it.
func runBisect(ctx context.Context, e *env, r *runner.Runner, be *config.Bench, commits []string, job func(string) (runner.Job, error), budget int, asJSON bool, good, bad string) int {
	measure := func(ctx context.Context, good, commit string, rounds int) (parse.Samples, parse.Samples, error) {
		gj, err := job(good)
		if err != nil {
			return nil, nil, err
		}
		cj, err := job(commit)
		if err != nil {
			return nil, nil, err
		}
		return r.Interleave(ctx, gj, cj, rounds, true)
	}
	b := &bisect.Bench{Spec: be, Measure: measure, Budget: budget, Log: e.stderr}
	res, err := b.Bisect(ctx, commits)
	if err != nil {
		fmt.Fprintf(e.stderr, "benchkit: %v\n", err)
		return exitInfra
	}
	if asJSON {
		out, _ := json.MarshalIndent(res, "", "  ")
		fmt.Fprintln(e.stdout, string(out))
	} else {
		switch res.Ends {
		case bisect.EndsRegressed:
			fmt.Fprintf(e.stdout, "first bad commit: %s\n", res.Culprit)
			if len(res.Suspects) > 1 {
				fmt.Fprintf(e.stdout, "skipped commits make these suspects too: %v\n", res.Suspects)
			}
		case bisect.EndsNoRegression:
			fmt.Fprintf(e.stdout, "no culprit: %s does not regress against %s\n", bad, good)
		default:
			fmt.Fprintf(e.stdout, "no culprit: %s and %s cannot be told apart (inconclusive after confirmation)\n", bad, good)
		}
		fmt.Fprintf(e.stdout, "%d judged pairs over %d commits, %d runs\n", res.Rounds, len(commits)-1, res.Samples)
		for _, p := range res.Pairs {
			fmt.Fprintf(e.stdout, "  %s  %-5s %-12s %d rounds  %s %+.2f%%\n", p.Commit, p.Outcome, p.State, p.Rounds, p.Metric, p.Change*100)
		}
	}
	if res.Ends == bisect.EndsInconclusive {
		return exitInconclusive
	}
	return exitOK
}

// pinnedJobs makes, for each upstream revision, a scratch folder holding a
// worktree of the downstream at its fixed revision and one of the upstream
// at the revision, pinned together by the upstream entry's pin method; the
// bench runs in the downstream.
func pinnedJobs(ctx context.Context, e *env, a *config.Adapter, be *config.Bench, name, repo, downstream, downRev, tmp string) (func(string) (runner.Job, error), int) {
	var up *config.Upstream
	for i := range a.Upstream {
		if a.Upstream[i].Name == name {
			up = &a.Upstream[i]
		}
	}
	if up == nil {
		fmt.Fprintf(e.stderr, "benchkit: %s: no [[upstream]] named %q\n", a.File, name)
		return nil, exitUsage
	}
	if downstream == "" {
		fmt.Fprintln(e.stderr, "benchkit bisect: --upstream needs --downstream")
		return nil, exitUsage
	}
	pinner, err := hook.Pin(up.Pin)
	if err != nil {
		fmt.Fprintf(e.stderr, "benchkit: %s: upstream %s: %v\n", a.File, name, err)
		return nil, exitUsage
	}
	fixed, err := bisect.Resolve(ctx, downstream, downRev)
	if err != nil {
		fmt.Fprintf(e.stderr, "benchkit: --downstream: %v\n", err)
		return nil, exitUsage
	}
	abs, err := filepath.Abs(repo)
	if err != nil {
		fmt.Fprintf(e.stderr, "benchkit: --repo: %v\n", err)
		return nil, exitUsage
	}
	return func(commit string) (runner.Job, error) {
		scratch := filepath.Join(tmp, commit)
		down := filepath.Join(scratch, "downstream")
		if _, err := os.Stat(down); err != nil {
			upDir := filepath.Join(scratch, "upstream")
			if _, err := bisect.Worktree(ctx, downstream, down, fixed); err != nil {
				return runner.Job{}, err
			}
			if _, err := bisect.Worktree(ctx, repo, upDir, commit); err != nil {
				return runner.Job{}, err
			}
			detail, err := pinner.Pin(ctx, hook.PinRequest{Upstream: *up, UpstreamDir: upDir, UpstreamURL: "file://" + abs, UpstreamRev: commit,
				DownstreamDir: down, ScratchDir: scratch, Env: os.Environ()})
			if err != nil {
				os.RemoveAll(down) // the next attempt pins again
				return runner.Job{}, fmt.Errorf("pin %s@%s: %w", name, commit, err)
			}
			fmt.Fprintf(e.stderr, "benchkit: %s\n", detail)
		}
		return runner.Job{Component: a.Name, Bench: be, Candidate: commit, Revisions: map[string]string{a.Name: fixed, name: commit}, Workdir: down, Kind: "bisect"}, nil
	}, exitOK
}
