package main

import (
	"context"
	"errors"
	"slices"

	"github.com/google/go-github/v66/github"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/forge"
	"github.com/ironworks-ci/ironworks/coordinator/staging"
	"github.com/ironworks-ci/ironworks/coordinator/store"
	"github.com/ironworks-ci/ironworks/coordinator/web"
)

// followedPull reports whether a pull request into base of component is one
// the coordinator builds: into a followed branch, not into staging.
func followedPull(cfg *config.Config, component, base string) bool {
	return slices.Contains(cfg.Branches(component), base) && base != stagingBranch(cfg)
}

// record keeps the open pull requests of repo that the poller handles, for
// the Pull requests page; the others of repo are marked closed.
func (pp *prPoller) record(ctx context.Context, component, repo string, prs []*github.PullRequest) error {
	var open []store.PullRequest
	for _, gp := range prs {
		if !followedPull(pp.p.Cfg, component, gp.GetBase().GetRef()) {
			continue
		}
		open = append(open, store.PullRequest{
			Number: gp.GetNumber(), Component: component, Title: gp.GetTitle(), URL: gp.GetHTMLURL(),
			HeadSHA: gp.GetHead().GetSHA(), HeadRef: gp.GetHead().GetRef(), BaseRef: gp.GetBase().GetRef(), Draft: gp.GetDraft(),
		})
	}
	return pp.p.Store.SyncOpenPulls(ctx, repo, open)
}

// recordPull keeps what a pull request webhook says of its pull request.
func (a *actions) recordPull(ctx context.Context, ev web.PREvent) error {
	repo, ok := forge.RepoOf(a.p.Cfg, ev.Component, "")
	if !ok || !followedPull(a.p.Cfg, ev.Component, ev.BaseRef) {
		return nil
	}
	return a.p.Store.PutPull(ctx, store.PullRequest{
		Repo: repo, Number: ev.Number, Component: ev.Component, Title: ev.Title, URL: ev.URL,
		HeadSHA: ev.HeadSHA, HeadRef: ev.HeadRef, BaseRef: ev.BaseRef, Draft: ev.Draft, Open: ev.Action != "closed",
	})
}

// pullsPage is the Pull requests page's source: the pull requests the
// poller and webhooks recorded, the spark runs of their heads' candidates,
// and the staging flow's events on each head.
type pullsPage struct {
	st  *store.Store
	cfg *config.Config
}

func (p pullsPage) Open(ctx context.Context) ([]*web.PullRequestView, error) {
	prs, err := p.st.OpenPulls(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*web.PullRequestView, 0, len(prs))
	for _, pr := range prs {
		v, err := p.view(ctx, pr, pr.HeadSHA)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// OfCandidate shows the pull request at the head the candidate pins.
func (p pullsPage) OfCandidate(ctx context.Context, c *store.Candidate) (*web.PullRequestView, error) {
	if c.Origin != "pr" || c.PR == 0 {
		return nil, nil
	}
	comp := ""
	for _, name := range p.cfg.Order() {
		if r, ok := c.Revisions[name]; ok && p.cfg.Loaded[name] != nil && r.Branch != p.cfg.Loaded[name].Branch {
			comp = name
			break
		}
	}
	repo, ok := forge.RepoOf(p.cfg, comp, "")
	if comp == "" || !ok {
		return nil, nil
	}
	pr, err := p.st.Pull(ctx, repo, c.PR)
	if errors.Is(err, store.ErrNotFound) {
		// Made before pull requests were recorded: what the events say.
		pr, err = &store.PullRequest{Repo: repo, Number: c.PR, Component: comp, Open: true}, nil
	}
	if err != nil {
		return nil, err
	}
	return p.view(ctx, pr, c.Revisions[comp].Rev)
}

// view is pr at head: the spark run of head's candidate and the staging
// flow's latest word on head.
func (p pullsPage) view(ctx context.Context, pr *store.PullRequest, head string) (*web.PullRequestView, error) {
	v := &web.PullRequestView{Repo: pr.Repo, Number: pr.Number, Component: pr.Component, Title: pr.Title, URL: pr.URL,
		Head: head, Draft: pr.Draft, Open: pr.Open}
	if pr.HeadSHA != "" && pr.HeadSHA != head {
		v.Current = pr.HeadSHA
	}
	cands, err := p.st.PullCandidates(ctx, pr.Number)
	if err != nil {
		return nil, err
	}
	for _, c := range cands {
		if c.Revisions[pr.Component].Rev != head {
			continue
		}
		runs, err := p.st.Runs(ctx, store.RunFilter{Candidate: c.ID, Stage: "spark", Limit: 1})
		if err != nil {
			return nil, err
		}
		if len(runs) > 0 {
			v.Spark, v.SparkCandidate = runs[0], c.ID
			break
		}
	}
	s, err := staging.StateOf(ctx, p.st, pr.Repo, pr.Number, head)
	if err != nil {
		return nil, err
	}
	v.Said, v.Merge = s.At, s.Merge
	switch s.Kind {
	case staging.EventNotReady:
		v.Reasons, v.Refused = s.Reasons, s.Refused
	case staging.EventStagingFailed:
		v.Failure, v.FailedJob, v.FailureRun = s.Failure, s.FailedJob, s.RunID
	}
	return v, nil
}
