package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/log"
	"github.com/google/go-github/v66/github"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/headwatch"
	"github.com/ironworks-ci/ironworks/coordinator/pipeline"
	"github.com/ironworks-ci/ironworks/coordinator/staging"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// prPoller finds pull requests without webhooks: each round it lists the
// open pull requests of every followed repository with conditional requests
// (an unchanged list is a 304, free of rate limit), gives each PR head a
// spark run, and re-checks approvals and labels of the PRs that could be
// promoted, so that a missed webhook never leaves a PR unbuilt or unmerged.
type prPoller struct {
	p    *pipeline.Pipeline
	w    *headwatch.Watcher
	flow *stagingFlow
	log  *log.Logger
}

// newPRPoller returns nil without a [github] token: there is nothing to poll.
func newPRPoller(cfg *config.Config, st *store.Store, p *pipeline.Pipeline, flow *stagingFlow, logger *log.Logger) (*prPoller, error) {
	if cfg.GitHub == nil || cfg.GitHub.TokenFile == "" || len(flow.promoters) == 0 {
		return nil, nil
	}
	b, err := os.ReadFile(cfg.GitHub.TokenFile)
	if err != nil {
		return nil, fmt.Errorf("github: token_file: %w", err)
	}
	api := cfg.GitHub.APIURL
	if api == "" {
		api = "https://api.github.com/"
	}
	w := headwatch.New(api, strings.TrimSpace(string(b)), store.HTTPCache{S: st})
	return &prPoller{p: p, w: w, flow: flow, log: logger}, nil
}

// poll makes one round over every followed repository and returns the spark
// runs of PR heads that wait to be executed. A repository that cannot be
// listed is logged and does not stop the others.
func (pp *prPoller) poll(ctx context.Context) []*store.Run {
	var pending []*store.Run
	for _, comp := range pp.p.Cfg.Order() {
		pr := pp.flow.promoters[comp]
		if pr == nil {
			continue
		}
		prs, changed, err := pp.w.OpenPulls(ctx, pr.Repo)
		if err != nil {
			if ctx.Err() == nil {
				pp.log.Warn("polling pull requests", "component", comp, "repo", pr.Repo, "err", err)
			}
			continue
		}
		if err := pp.record(ctx, comp, pr.Repo, prs); err != nil {
			pp.log.Warn("recording pull requests", "component", comp, "repo", pr.Repo, "err", err)
		}
		for _, gp := range prs {
			run, err := pp.pull(ctx, comp, gp, changed)
			if err != nil {
				if ctx.Err() != nil {
					return pending
				}
				pp.log.Warn("polled pull request", "component", comp, "pr", gp.GetNumber(), "err", err)
				continue
			}
			if run != nil && run.State != store.RunDone && run.State != store.RunCancelled {
				pending = append(pending, run)
			}
		}
	}
	return pending
}

// pull handles one open PR: its head's spark run (queued once), then the
// staging rules when they may now hold.
func (pp *prPoller) pull(ctx context.Context, comp string, gp *github.PullRequest, listChanged bool) (*store.Run, error) {
	cfg := pp.p.Cfg
	base := gp.GetBase().GetRef()
	if !followedPull(cfg, comp, base) {
		return nil, nil // not into a followed branch
	}
	number, head := gp.GetNumber(), gp.GetHead().GetSHA()
	var run *store.Run
	if !gp.GetDraft() && len(pp.p.StageJobs("spark")) > 0 {
		cand, err := prCandidate(ctx, pp.p, comp, gp.GetHead().GetRef(), head, number)
		if err != nil {
			return nil, err
		}
		if run, err = pp.p.Enqueue(ctx, cand, "spark", pipeline.RunOptions{}); err != nil {
			return nil, err
		}
	}
	promoter := pp.flow.promoters[comp]
	if done, err := pp.p.Store.Done(ctx, staging.MergeKey(promoter.Repo, number, head)); err != nil || done {
		return run, err
	}
	if run != nil && run.State != store.RunDone {
		return run, nil // its end re-checks the rules (stagingFlow.onFinish)
	}
	green, err := pp.flow.sparkGreen(ctx, head)
	if err != nil {
		return run, err
	}
	labelled := slices.ContainsFunc(gp.Labels, func(l *github.Label) bool { return l.GetName() == promoter.Label() })
	if green && labelled && !gp.GetDraft() {
		// Only an approval is left to know: ask for the reviews (a 304
		// while none was added). A PR that is ready by what we know and
		// not merged yet is tried again: a merge lost in transit is retried.
		reviews, changed, err := pp.w.Reviews(ctx, promoter.Repo, number)
		if err != nil {
			return run, err
		}
		ok, _ := staging.Approved(reviews)
		if !ok && !changed && !listChanged {
			return run, nil
		}
		if refused, err := pp.flow.refused(ctx, promoter.Repo, number, head); err != nil || refused {
			return run, err // final for this head: not asked again
		}
		pp.flow.tryPromote(ctx, comp, number)
		return run, nil
	}
	if listChanged {
		pp.flow.tryPromote(ctx, comp, number) // says on the PR why not
	}
	return run, nil
}

// loop polls every interval until ctx ends, waking the scheduler when PR
// heads wait for spark.
func (pp *prPoller) loop(ctx context.Context, every time.Duration, wake func()) {
	if every <= 0 {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if len(pp.poll(ctx)) > 0 {
			wake()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// pollOnce is run --once's round: poll, then execute the PR heads' spark
// runs, whose ends merge ready PRs into staging.
func (pp *prPoller) pollOnce(ctx context.Context) ([]*store.Run, error) {
	if pp == nil {
		return nil, nil
	}
	var done []*store.Run
	for _, r := range pp.poll(ctx) {
		run, err := pp.p.Execute(ctx, r.ID, pipeline.RunOptions{})
		if err != nil {
			return done, err
		}
		done = append(done, run)
	}
	return done, nil
}

// errNoHead means a component's target head was never discovered.
var errNoHead = errors.New("no head known yet")

// withPRs adds run --once's round of pull requests to the pass: the spark
// runs of PR heads found by polling join the pass's runs (and its verdict).
func (n *notifiers) withPRs(ctx context.Context, runs []*store.Run, err error) ([]*store.Run, error) {
	more, perr := n.prs.pollOnce(ctx)
	if err == nil {
		err = perr
	}
	return append(runs, more...), err
}

// prCandidate is the candidate of a PR head: the PR's component at head,
// the others at their target heads.
func prCandidate(ctx context.Context, p *pipeline.Pipeline, component, headRef, head string, number int) (*store.Candidate, error) {
	ad := p.Cfg.Loaded[component]
	if ad == nil {
		return nil, fmt.Errorf("no component %q", component)
	}
	targets, err := p.Store.Targets(ctx)
	if err != nil {
		return nil, err
	}
	revs := map[string]store.Revision{}
	for _, c := range p.Cfg.Order() {
		x := p.Cfg.Loaded[c]
		for _, t := range targets {
			if t.Component == c && t.Branch == x.Branch {
				revs[c] = store.Revision{Repo: x.Repo, Branch: x.Branch, Rev: t.Head}
			}
		}
	}
	revs[component] = store.Revision{Repo: ad.Repo, Branch: headRef, Rev: head}
	for c, r := range revs {
		if r.Rev == "" {
			return nil, fmt.Errorf("%s: %w", c, errNoHead)
		}
	}
	for _, c := range p.Cfg.Order() {
		if _, ok := revs[c]; !ok {
			return nil, fmt.Errorf("%s: %w", c, errNoHead)
		}
	}
	return p.Store.PutCandidate(ctx, revs, "pr", number)
}
