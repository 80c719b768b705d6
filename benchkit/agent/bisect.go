package agent

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/ironworks-ci/ironworks/benchkit/bisect"
	"github.com/ironworks-ci/ironworks/benchkit/parse"
	"github.com/ironworks-ci/ironworks/benchkit/protocol"
	"github.com/ironworks-ci/ironworks/benchkit/runner"
	"github.com/ironworks-ci/ironworks/coordinator/sandbox"
)

// bisect runs a bisection job: the bisected component's commits from the
// release's revision to the candidate's, listed from the agent's mirror;
// every probe is a checkout of the candidate's sources with that component
// at the probed revision (pinned under the fixed downstream when it is an
// upstream), measured side by side with the good end (benchkit/bisect).
func (a *Agent) bisect(ctx context.Context, job *protocol.Job) (*protocol.BisectResult, error) {
	spec := job.Bisect
	src, ok := job.Sources[spec.Component]
	if !ok {
		return nil, fmt.Errorf("bisection of %s: the job carries no source for it", spec.Component)
	}
	dir := filepath.Join(a.Workdir, "jobs", fmt.Sprintf("%d-%d", job.ID, job.Attempt))
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := os.MkdirAll(a.cargoHome(), 0o755); err != nil {
		return nil, err
	}
	// Both ends in the mirror (checkout fetches what is missing).
	for _, rev := range []string{spec.Good, spec.Bad} {
		if err := a.checkout(ctx, protocol.Source{Repo: src.Repo, Rev: rev}, filepath.Join(dir, "ends", rev)); err != nil {
			return nil, fmt.Errorf("bisection of %s: %w", spec.Component, err)
		}
	}
	mirror := a.mirror(src.Repo)
	commits, err := bisect.Commits(ctx, mirror, spec.Good, spec.Bad)
	if err != nil {
		return nil, err
	}
	b := job.Bench
	probe := func(ctx context.Context, rev string) (runner.Job, error) {
		sources := maps.Clone(job.Sources)
		sources[spec.Component] = protocol.Source{Repo: src.Repo, Rev: rev}
		pd := filepath.Join(dir, "probes", rev)
		revs := map[string]string{}
		work := filepath.Join(pd, job.Component)
		if _, err := os.Stat(work); err != nil {
			if revs, work, err = a.checkoutAll(ctx, pd, job.Component, sources, b.Upstream); err != nil {
				os.RemoveAll(pd) // the next attempt checks out again
				return runner.Job{}, err
			}
		} else {
			for c, s := range sources {
				revs[c] = s.Rev
			}
		}
		spec := sandbox.Spec{RW: []string{pd, a.cargoHome()}, RO: []string{filepath.Join(a.Workdir, "mirrors")}}
		return runner.Job{Component: job.Component, Bench: &b, Candidate: rev, Revisions: revs, Workdir: work, Kind: "bisect",
			Env: []string{"CARGO_HOME=" + a.cargoHome()}, Sandbox: spec}, nil
	}
	measure := func(ctx context.Context, good, commit string, rounds int) (parse.Samples, parse.Samples, error) {
		gj, err := probe(ctx, good)
		if err != nil {
			return nil, nil, err
		}
		cj, err := probe(ctx, commit)
		if err != nil {
			return nil, nil, err
		}
		return a.Runner.Interleave(ctx, gj, cj, rounds, true)
	}
	a.logf("agent: bisecting %s %s..%s (%d commits) for %s/%s", spec.Component, short(spec.Good), short(spec.Bad), len(commits)-1, job.Component, b.Name)
	res, err := (&bisect.Bench{Spec: &b, Measure: measure, Log: a.Log}).Bisect(ctx, commits)
	if err != nil {
		return nil, err
	}
	out := &protocol.BisectResult{BenchResult: *res, Component: spec.Component}
	if res.Culprit != "" {
		if b, err := exec.CommandContext(ctx, "git", "-C", mirror, "log", "-1", "--format=%s%x00%an <%ae>", res.Culprit).Output(); err == nil {
			out.Subject, out.Author, _ = strings.Cut(strings.TrimSpace(string(b)), "\x00")
		}
	}
	return out, nil
}

func short(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
}
