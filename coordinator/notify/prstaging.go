package notify

import (
	"context"
	"fmt"
	"strings"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/forge"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// Event kinds of the staging flow besides KindStagingFailed (written by
// package staging).
const (
	KindStagingNotReady = "staging-not-ready"
	KindStagingMerged   = "staging-merged"
	// stagingRow is the comment row and status context of the staging flow.
	stagingRow = "staging"
)

// reported lists the event kinds the PR reporter shows on pull requests.
func reported(kind string) bool {
	switch kind {
	case KindRunStarted, KindRunFinished, KindStagingFailed, KindStagingNotReady, KindStagingMerged:
		return true
	}
	return false
}

// stageRank orders the comment's rows: the stages in pipeline order, the
// staging flow's row right after spark (a PR goes from spark to staging,
// then forge builds staging), unknown rows last.
func stageRank(stage string) int {
	if stage == stagingRow {
		return 1
	}
	i := config.StageIndex(stage)
	if i < 0 {
		return 1 << 20
	}
	return 2 * i
}

// reportStaging shows the staging flow on the PR: a status ironworks/staging
// on the PR's head and the staging row of its comment: why it is not
// promoted, that it was merged, or that staging failed with it (which job,
// with its log).
func (p *PRReporter) reportStaging(ctx context.Context, e *store.Event, pl *Payload) error {
	if pl.Repo == "" || pl.PR == 0 {
		return nil // nothing to attach it to
	}
	owner, name, err := forge.ParseRepo(pl.Repo)
	if err != nil {
		return err
	}
	row := store.PRStage{Repo: pl.Repo, PR: pl.PR, Stage: stagingRow, SHA: pl.Head, EventID: e.ID}
	switch e.Kind {
	case KindStagingNotReady:
		row.State, row.Verdict = "pending", "not promoted"
		row.Summary = "not promoted: " + strings.Join(pl.Reasons, "; ")
	case KindStagingMerged:
		row.State, row.Verdict = "success", "merged"
		row.Summary = "merged into staging as " + short(pl.Merge)
	case KindStagingFailed:
		row.State, row.Verdict = "failure", "failed"
		row.Summary = stagingText(pl)
		row.RunID = e.RunID
		if e.RunID != 0 {
			row.RunURL = p.link(fmt.Sprintf("/runs/%d", e.RunID))
			jobs, err := p.Store.JobResults(ctx, e.RunID)
			if err != nil {
				return err
			}
			for _, j := range jobs {
				u := ""
				if j.Log != "" && p.Linker != nil {
					u, _ = p.Linker.URL(ctx, j.Log, linkTTL)
				}
				row.Jobs = append(row.Jobs, store.PRJob{Job: j.Job, State: j.State, DurationMS: j.Duration().Milliseconds(), LogURL: u, Reason: j.Reason})
			}
		}
	}
	if pl.Head != "" {
		if err := p.Forge.SetStatus(ctx, owner, name, pl.Head, forge.Status{
			State: row.State, Context: "ironworks/" + stagingRow, Description: row.Summary, TargetURL: row.RunURL,
		}); err != nil {
			return err
		}
	}
	if err := p.Store.PutPRStage(ctx, row); err != nil {
		return err
	}
	return p.upsertComment(ctx, pl.Repo, pl.PR)
}
