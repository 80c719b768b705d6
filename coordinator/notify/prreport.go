package notify

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/charmbracelet/log"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/forge"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// PRConsumer is the name of the pull-request reporter's cursor.
const PRConsumer = "pr-report"

// PRReporter reports runs back to GitHub: one commit status per stage
// (context ironworks/<stage>) on the component's commit, and one comment per
// pull request, edited in place, summarising every stage.
type PRReporter struct {
	Store  *store.Store
	Forge  *forge.Client
	Cfg    *config.Config
	Linker Linker
	Log    *log.Logger
}

func (p *PRReporter) logger() *log.Logger {
	if p.Log != nil {
		return p.Log
	}
	return log.Default()
}

// Poll reports every run event not yet reported. A GitHub error that may
// pass (network, 5xx, rate limit) stops the round and the event is retried
// next time; every call it makes is idempotent.
func (p *PRReporter) Poll(ctx context.Context) (int, error) {
	done := 0
	for {
		after, err := p.Store.Cursor(ctx, PRConsumer)
		if err != nil {
			return done, err
		}
		events, err := p.Store.EventsAfter(ctx, after, 100)
		if err != nil {
			return done, err
		}
		if len(events) == 0 {
			return done, nil
		}
		for _, e := range events {
			if reported(e.Kind) {
				err := p.report(ctx, e)
				if err != nil && !forge.Permanent(err) {
					return done, fmt.Errorf("pr report: event %d: %w", e.ID, err)
				}
				if err != nil {
					p.logger().Error("pull request report refused by GitHub; skipped", "event", e.ID, "err", err)
				} else {
					done++
				}
			}
			if err := p.Store.SetCursor(ctx, PRConsumer, e.ID); err != nil {
				return done, err
			}
		}
	}
}

// Run polls until ctx ends.
func (p *PRReporter) Run(ctx context.Context, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := p.Poll(ctx); err != nil && ctx.Err() == nil {
			p.logger().Warn("pull request reporter", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// statusOf maps a run event to a commit status state and description.
// Evaluation errors and waiting are reported, never left silent.
func statusOf(kind string, pl *Payload) (state, desc string) {
	desc = oneLine(pl.Summary)
	if kind == KindRunStarted {
		if desc == "" {
			desc = fmt.Sprintf("running %d job(s)", len(pl.Jobs))
		}
		return "pending", desc
	}
	switch pl.Verdict {
	case store.VerdictGreen:
		state = "success"
	case store.VerdictWaiting:
		state = "pending"
	case store.VerdictFailed, store.VerdictIncompatible, store.VerdictUpstreamBroken, store.VerdictNotAccepted, store.VerdictTimeout:
		state = "failure"
	case store.VerdictInfraError, store.VerdictEvalError:
		state = "error"
	case store.VerdictCancelled:
		state, desc = "error", orDefault(desc, "cancelled")
	default:
		state = "error"
		desc = orDefault(desc, "unknown verdict "+pl.Verdict)
	}
	if desc == "" {
		desc = pl.Verdict
	}
	return state, desc
}

func (p *PRReporter) link(path string) string {
	c := composer{webURL: strings.TrimRight(p.Cfg.Web.URL, "/")}
	return c.link(path)
}

func (p *PRReporter) report(ctx context.Context, e *store.Event) error {
	pl, err := ParsePayload(e.Payload)
	if err != nil {
		pl = parseLenient(e.Payload)
	}
	if e.Kind != KindRunStarted && e.Kind != KindRunFinished {
		return p.reportStaging(ctx, e, pl)
	}
	head := false
	if e.Candidate != "" {
		if c, err := p.Store.Candidate(ctx, e.Candidate); err == nil {
			head = c.Origin == "head"
		}
	}
	if e.Component != "" && !head {
		// A pull request's candidate reports on the pull request's commit.
		return p.reportComponent(ctx, e, pl, e.Component)
	}
	// A head candidate is every component at once: its status goes on
	// every component's commit (the merkletree commit that broke
	// rust-fil-proofs turns red on merkletree's pull request too).
	var errs []error
	for _, c := range slices.Sorted(maps.Keys(pl.Revisions)) {
		if err := p.reportComponent(ctx, e, pl, c); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (p *PRReporter) reportComponent(ctx context.Context, e *store.Event, pl *Payload, component string) error {
	rev := pl.Revisions[component]
	if rev.Rev == "" {
		return nil // nothing to attach a status to
	}
	repo, ok := forge.RepoOf(p.Cfg, component, rev.Repo)
	if !ok {
		p.logger().Debug("no GitHub repository for component", "component", component)
		return nil
	}
	owner, name, err := forge.ParseRepo(repo)
	if err != nil {
		return err
	}
	stage := orDefault(pl.Stage, "run")
	state, desc := statusOf(e.Kind, pl)
	err = p.Forge.SetStatus(ctx, owner, name, rev.Rev, forge.Status{
		State: state, Context: "ironworks/" + stage, Description: desc, TargetURL: p.link(pl.RunURL),
	})
	if err != nil {
		return err
	}
	pr := pl.PR
	if pr == 0 && e.Candidate != "" {
		if c, err := p.Store.Candidate(ctx, e.Candidate); err == nil && c.Origin == "pr" {
			pr = c.PR
		}
	}
	if pr == 0 {
		if pr, err = p.Forge.PullRequestForCommit(ctx, owner, name, rev.Rev); err != nil {
			return err
		}
	}
	if pr == 0 {
		return nil
	}
	jobs := make([]store.PRJob, 0, len(pl.Jobs))
	for _, j := range pl.Jobs {
		u := ""
		if j.LogKey != "" && p.Linker != nil {
			u, _ = p.Linker.URL(ctx, j.LogKey, linkTTL)
		}
		jobs = append(jobs, store.PRJob{Job: j.Job, State: j.State, DurationMS: j.DurationMS, LogURL: u, Reason: j.Reason})
	}
	if err := p.Store.PutPRStage(ctx, store.PRStage{
		Repo: repo, PR: pr, Stage: stage, SHA: rev.Rev, State: state, Verdict: pl.Verdict,
		Summary: desc, Culprit: culpritText(pl.Culprit), RunID: e.RunID, RunURL: p.link(pl.RunURL), Jobs: jobs, EventID: e.ID,
	}); err != nil {
		return err
	}
	return p.upsertComment(ctx, repo, pr)
}

// upsertComment renders every stage known of a PR into its one comment.
func (p *PRReporter) upsertComment(ctx context.Context, repo string, pr int) error {
	owner, name, err := forge.ParseRepo(repo)
	if err != nil {
		return err
	}
	stages, err := p.Store.PRStages(ctx, repo, pr)
	if err != nil {
		return err
	}
	known, err := p.Store.PRComment(ctx, repo, pr, forge.Marker)
	if err != nil {
		return err
	}
	id, err := p.Forge.UpsertComment(ctx, owner, name, pr, forge.Marker, RenderPRComment(stages), known)
	if err != nil {
		return err
	}
	return p.Store.SetPRComment(ctx, repo, pr, forge.Marker, id)
}

var stateIcon = map[string]string{"pending": "⏳", "success": "✅", "failure": "❌", "error": "⚠️"}

// md makes untrusted text safe inside a Markdown table cell.
func md(s string) string {
	r := strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;", "\r", " ", "\n", " ")
	return r.Replace(s)
}

func duration(ms int64) string {
	if ms <= 0 {
		return ""
	}
	return (time.Duration(ms) * time.Millisecond).Round(time.Second).String()
}

// RenderPRComment renders the body of the one comment (without its marker):
// a table of stages, then each stage's jobs.
func RenderPRComment(stages []*store.PRStage) string {
	sort.Slice(stages, func(i, j int) bool {
		a, b := stageRank(stages[i].Stage), stageRank(stages[j].Stage)
		if a != b {
			return a < b
		}
		return stages[i].Stage < stages[j].Stage
	})
	var b strings.Builder
	b.WriteString("### Ironworks\n\n| stage | state | verdict | commit | summary | culprit | run |\n|---|---|---|---|---|---|---|\n")
	for _, s := range stages {
		run := ""
		if s.RunURL != "" {
			run = fmt.Sprintf("[run %d](%s)", s.RunID, s.RunURL)
		}
		fmt.Fprintf(&b, "| %s | %s %s | %s | `%s` | %s | %s | %s |\n", md(s.Stage), stateIcon[s.State], s.State, md(s.Verdict), short(s.SHA), md(s.Summary), md(s.Culprit), run)
	}
	for _, s := range stages {
		if len(s.Jobs) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n<details%s><summary>%s: %d job(s)</summary>\n\n| job | state | duration | log |\n|---|---|---|---|\n",
			map[bool]string{true: " open", false: ""}[s.State == "failure" || s.State == "error"], md(s.Stage), len(s.Jobs))
		for _, j := range s.Jobs {
			logCell := ""
			if j.LogURL != "" {
				logCell = "[log](" + j.LogURL + ")"
			}
			state := md(j.State)
			if j.Reason != "" {
				state += ": " + md(j.Reason)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", md(j.Job), state, duration(j.DurationMS), logCell)
		}
		b.WriteString("\n</details>\n")
	}
	return b.String()
}

// culpritText is the culprit's cell: short commit, subject and author.
func culpritText(c *Commit) string {
	if c == nil || c.Rev == "" {
		return ""
	}
	t := short(c.Rev)
	if c.Subject != "" {
		t += " " + oneLine(c.Subject)
	}
	if c.Author != "" {
		t += " (" + c.Author + ")"
	}
	return t
}
