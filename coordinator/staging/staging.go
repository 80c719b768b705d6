// Package staging promotes pull requests from spark to staging: a PR that is
// approved, labelled ready-for-staging, not a draft, and whose spark jobs are
// all green is merged into the staging branch with a real merge commit whose
// trailers tie it to the PR. A staging failure goes back to the PR as a
// "staging-failed" event in the store's outbox, which the PR notifier turns
// into a status and the PR comment.
package staging

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-github/v66/github"

	"github.com/ironworks-ci/ironworks/coordinator/forge"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// EventStagingFailed is the event kind of a staging failure reported to a PR.
const EventStagingFailed = "staging-failed"

// ErrNotReady means the PR does not meet the promotion rules.
var ErrNotReady = errors.New("pull request not ready for staging")

// ErrNoSpark is SparkGreen's answer for a head no spark run has finished
// on yet (a draft, or a PR whose run is still queued): a reason of its own,
// since "not all green" would blame jobs that never ran.
var ErrNoSpark = errors.New("no finished spark run")

// Promoter merges ready PRs of one repository into its staging branch.
type Promoter struct {
	Forge         *forge.Client
	Store         *store.Store
	Repo          string // owner/name
	StagingBranch string // default "staging"
	BaseBranch    string // where a missing staging branch starts; default: the repository's default branch
	ReadyLabel    string // default "ready-for-staging"
	// SparkGreen reports whether every spark job passed on a head commit;
	// the pipeline supplies it.
	SparkGreen func(ctx context.Context, headSHA string) (bool, error)
	Now        func() time.Time
}

// Check is the verdict of the promotion rules on one PR.
type Check struct {
	Ready   bool
	Reasons []string // why not, one per failed rule
	PR      *github.PullRequest
}

// Label is the label that marks a PR ready for staging.
func (p *Promoter) Label() string {
	if p.ReadyLabel == "" {
		return "ready-for-staging"
	}
	return p.ReadyLabel
}

func (p *Promoter) staging() string {
	if p.StagingBranch == "" {
		return "staging"
	}
	return p.StagingBranch
}

// Approved applies GitHub's review rule: each reviewer's latest deciding
// review counts (COMMENTED does not replace an approval; DISMISSED clears
// it); at least one APPROVED and no CHANGES_REQUESTED.
func Approved(reviews []*github.PullRequestReview) (bool, []string) {
	latest := map[string]string{}
	var order []string
	for _, r := range reviews {
		user := r.GetUser().GetLogin()
		switch st := r.GetState(); st {
		case "APPROVED", "CHANGES_REQUESTED", "DISMISSED":
			if _, seen := latest[user]; !seen {
				order = append(order, user)
			}
			latest[user] = st
		}
	}
	approved := false
	var blockers []string
	for _, u := range order {
		switch latest[u] {
		case "APPROVED":
			approved = true
		case "CHANGES_REQUESTED":
			blockers = append(blockers, u)
		}
	}
	return approved && len(blockers) == 0, blockers
}

// Check evaluates the rules on PR number.
func (p *Promoter) Check(ctx context.Context, number int) (*Check, error) {
	owner, repo, err := forge.SplitRepo(p.Repo)
	if err != nil {
		return nil, err
	}
	pr, _, err := p.Forge.GH.PullRequests.Get(ctx, owner, repo, number)
	if err != nil {
		return nil, fmt.Errorf("staging: %s#%d: %w", p.Repo, number, err)
	}
	c := &Check{PR: pr}
	if pr.GetState() != "open" {
		c.Reasons = append(c.Reasons, "the pull request is "+pr.GetState())
	}
	if pr.GetDraft() {
		c.Reasons = append(c.Reasons, "the pull request is a draft")
	}
	labelled := false
	for _, l := range pr.Labels {
		labelled = labelled || l.GetName() == p.Label()
	}
	if !labelled {
		c.Reasons = append(c.Reasons, fmt.Sprintf("label %q is missing", p.Label()))
	}
	var reviews []*github.PullRequestReview
	opts := &github.ListOptions{PerPage: 100}
	for {
		page, resp, err := p.Forge.GH.PullRequests.ListReviews(ctx, owner, repo, number, opts)
		if err != nil {
			return nil, fmt.Errorf("staging: reviews of %s#%d: %w", p.Repo, number, err)
		}
		reviews = append(reviews, page...)
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	if ok, blockers := Approved(reviews); !ok {
		if len(blockers) > 0 {
			c.Reasons = append(c.Reasons, "changes requested by "+strings.Join(blockers, ", "))
		} else {
			c.Reasons = append(c.Reasons, "no approving review")
		}
	}
	head := pr.GetHead().GetSHA()
	if p.SparkGreen == nil {
		c.Reasons = append(c.Reasons, "spark results unknown")
	} else if green, err := p.SparkGreen(ctx, head); errors.Is(err, ErrNoSpark) {
		c.Reasons = append(c.Reasons, "spark has not run on "+store.ShortRev(head)+" yet")
	} else if err != nil {
		return nil, fmt.Errorf("staging: spark results of %s: %w", head, err)
	} else if !green {
		c.Reasons = append(c.Reasons, "spark jobs are not all green on "+store.ShortRev(head))
	}
	c.Ready = len(c.Reasons) == 0
	return c, nil
}

// Promote merges PR number into staging if it is ready, once per head
// commit (store.Once), and returns the merge commit.
func (p *Promoter) Promote(ctx context.Context, number int) (string, error) {
	merge, _, err := p.PromoteHead(ctx, number)
	return merge, err
}

// PromoteHead is Promote that also returns the PR's head commit the rules
// were checked on (empty only when they could not be checked).
func (p *Promoter) PromoteHead(ctx context.Context, number int) (merge, head string, err error) {
	c, err := p.Check(ctx, number)
	if err != nil {
		return "", "", err
	}
	head = c.PR.GetHead().GetSHA()
	// A head merged once stays merged: a label removed or a review dismissed
	// afterwards is no reason to call it "not promoted" (the merge is the
	// answer, from the record, without asking GitHub again).
	if done, err := p.Store.Done(ctx, MergeKey(p.Repo, number, head)); err != nil {
		return "", head, err
	} else if done {
		merge, err = p.Store.Once(ctx, MergeKey(p.Repo, number, head), "staging-merge", func() (string, error) {
			return "", fmt.Errorf("staging: %s#%d: merge record of %s vanished", p.Repo, number, store.ShortRev(head))
		})
		return merge, head, err
	}
	if !c.Ready {
		return "", head, &NotReadyError{Repo: p.Repo, Number: number, Head: head, Reasons: c.Reasons}
	}
	owner, repo, _ := forge.SplitRepo(p.Repo)
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	merge, err = p.Store.Once(ctx, MergeKey(p.Repo, number, head), "staging-merge", func() (string, error) {
		if _, err := p.Forge.EnsureBranch(ctx, owner, repo, p.staging(), p.BaseBranch); err != nil {
			return "", err
		}
		msg := forge.PromotionMessage(c.PR.GetHTMLURL(), number, c.PR.GetTitle(), head, c.PR.GetHead().GetRef(), now())
		sha, _, err := p.Forge.Merge(ctx, owner, repo, p.staging(), head, msg)
		return sha, err
	})
	return merge, head, err
}
