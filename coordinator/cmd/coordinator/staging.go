package main

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"strings"

	"github.com/charmbracelet/log"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/forge"
	"github.com/ironworks-ci/ironworks/coordinator/pipeline"
	"github.com/ironworks-ci/ironworks/coordinator/staging"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// stagingFlow connects pull requests to the staging branch: a PR whose spark
// run is green (and that is approved and labelled) is merged into staging; a
// forge failure of a staging commit is reported back on the PR it came from.
type stagingFlow struct {
	p         *pipeline.Pipeline
	cfg       *config.Config
	promoters map[string]*staging.Promoter // by component
	log       *log.Logger
}

func newStagingFlow(p *pipeline.Pipeline, cfg *config.Config, gh *forge.Client, logger *log.Logger) *stagingFlow {
	f := &stagingFlow{p: p, cfg: cfg, promoters: map[string]*staging.Promoter{}, log: logger}
	if gh == nil {
		return f
	}
	for _, c := range cfg.Order() {
		repo, ok := forge.RepoOf(cfg, c, "")
		if !ok {
			continue
		}
		f.promoters[c] = &staging.Promoter{
			Forge: gh, Store: p.Store, Repo: repo, StagingBranch: cfg.GitHub.StagingBranch,
			BaseBranch: cfg.Loaded[c].Branch, ReadyLabel: cfg.GitHub.ReadyLabel, SparkGreen: f.sparkGreen,
		}
	}
	return f
}

// sparkGreen reports whether some candidate pinning head passed spark.
func (f *stagingFlow) sparkGreen(ctx context.Context, head string) (bool, error) {
	cands, err := f.p.Store.Candidates(ctx, 500)
	if err != nil {
		return false, err
	}
	for _, c := range cands {
		for _, r := range c.Revisions {
			if r.Rev != head {
				continue
			}
			if ok, err := f.p.Store.Promoted(ctx, c.ID, "spark"); err != nil || ok {
				return ok, err
			}
		}
	}
	return false, nil
}

// tryPromote merges PR number of component into staging when it is ready,
// and says on the PR what came of it: merged, or why not (the reasons, or
// GitHub's final refusal of the merge). A merge that failed in transit is
// only logged: the next pass or poll tries it again.
func (f *stagingFlow) tryPromote(ctx context.Context, component string, number int) {
	pr := f.promoters[component]
	if pr == nil || number == 0 {
		return
	}
	sha, head, err := pr.PromoteHead(ctx, number)
	var nr *staging.NotReadyError
	switch {
	case errors.As(err, &nr):
		f.log.Info("not promoted to staging", "component", component, "pr", number, "why", strings.Join(nr.Reasons, "; "))
		if err := staging.ReportNotReady(ctx, f.p.Store, component, nr); err != nil {
			f.log.Warn("recording why a PR is not promoted", "pr", number, "err", err)
		}
	case err != nil && (errors.Is(err, forge.ErrConflict) || forge.Permanent(err)):
		f.log.Warn("staging merge refused", "component", component, "pr", number, "err", err)
		refused := &staging.NotReadyError{Repo: pr.Repo, Number: number, Head: head, Reasons: []string{"GitHub refused the merge into " + stagingBranch(f.cfg) + ": " + refusal(err)}, Refused: true}
		if err := staging.ReportNotReady(ctx, f.p.Store, component, refused); err != nil {
			f.log.Warn("recording a refused staging merge", "pr", number, "err", err)
		}
	case err != nil:
		f.log.Warn("staging merge failed; tried again next pass", "component", component, "pr", number, "err", err)
	default:
		f.log.Info("promoted to staging", "component", component, "pr", number, "merge", store.ShortRev(sha))
		if err := staging.ReportMerged(ctx, f.p.Store, component, pr.Repo, number, head, sha); err != nil {
			f.log.Warn("recording a staging merge", "pr", number, "err", err)
		}
	}
}

// refusal is the part of a refused merge's error people act on.
func refusal(err error) string {
	if errors.Is(err, forge.ErrConflict) {
		return "merge conflict"
	}
	return forge.Answer(err)
}

// refused reports whether GitHub refused for good the staging merge of PR
// number at head: polling does not ask again for that head (a new push, or
// a label or review webhook, does).
func (f *stagingFlow) refused(ctx context.Context, repo string, number int, head string) (bool, error) {
	s, err := staging.StateOf(ctx, f.p.Store, repo, number, head)
	if err != nil {
		return false, err
	}
	return s.Kind == staging.EventNotReady && s.Refused, nil
}

// onFinish is the pipeline's OnFinish hook.
func (f *stagingFlow) onFinish(ctx context.Context, run *store.Run, cand *store.Candidate) {
	switch {
	case cand.Origin == "pr" && run.Stage == "spark":
		// Green may complete the rules; red is a reason shown on the PR.
		for c, r := range cand.Revisions {
			if r.Branch != f.cfg.Loaded[c].Branch {
				f.tryPromote(ctx, c, cand.PR)
			}
		}
	case run.Stage == "forge" && run.Verdict != store.VerdictGreen && cand.Origin == "head":
		for c, r := range cand.Revisions {
			pr := f.promoters[c]
			if pr == nil || r.Branch != stagingBranch(f.cfg) {
				continue
			}
			msg, err := f.p.Mirrors.Message(ctx, c, r.Rev)
			if err != nil {
				continue
			}
			if n := promotedPR(msg); n > 0 {
				reason, _ := run.Detail["reason"].(string)
				if reason == "" {
					reason = pipeline.Summary(run.Stage, pipeline.Judgement{Verdict: run.Verdict, Detail: run.Detail})
				}
				fail := staging.Failure{Component: c, Branch: r.Branch, Repo: pr.Repo, PR: n, PRURL: trailer(msg, "PR"), Head: trailer(msg, "Head"),
					Candidate: cand.ID, RunID: run.ID, Stage: run.Stage, Reason: reason}
				if fj, ok := run.Detail["failed_job"].(string); ok && fj != "" {
					fail.FailedJob, fail.LogKey = fj, pipeline.LogKey(run.ID, fj)
					if f.p.LogTail != nil {
						fail.LogTail = f.p.LogTail(run.ID, fj, 20)
					}
				}
				if err := staging.ReportFailure(ctx, f.p.Store, fail); err != nil {
					f.log.Warn("reporting a staging failure", "pr", n, "err", err)
				}
			}
		}
	}
}

func stagingBranch(cfg *config.Config) string {
	if cfg.GitHub != nil && cfg.GitHub.StagingBranch != "" {
		return cfg.GitHub.StagingBranch
	}
	return "staging"
}

// trailer returns the value of a "Key: value" trailer line of msg, or "".
func trailer(msg, key string) string {
	for _, line := range strings.Split(msg, "\n") {
		if v, ok := strings.CutPrefix(line, key+": "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

var promoteSubject = regexp.MustCompile(`(?m)^Promote #(\d+) to staging`)

// promotedPR reads the PR number from a staging merge commit's message, or 0.
func promotedPR(msg string) int {
	m := promoteSubject.FindStringSubmatch(msg)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}
