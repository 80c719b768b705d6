package staging

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// Event kinds of the staging flow, which the PR reporter shows on the pull
// request (a status ironworks/staging and a row of the comment).
const (
	// EventNotReady: the PR was looked at and is not promoted, with why.
	EventNotReady = "staging-not-ready"
	// EventMerged: the PR was merged into staging.
	EventMerged = "staging-merged"
)

// NotReadyError is Promote's answer for a PR that does not meet the rules.
type NotReadyError struct {
	Repo    string
	Number  int
	Head    string
	Reasons []string // one per failed rule
	// Refused: the rules held, and GitHub refused the merge for good (a
	// conflict, a 403 or 422); Reasons says GitHub's answer.
	Refused bool
}

func (e *NotReadyError) Error() string {
	return fmt.Sprintf("%s#%d: %s: %v", e.Repo, e.Number, strings.Join(e.Reasons, "; "), ErrNotReady)
}

// Unwrap makes errors.Is(err, ErrNotReady) hold.
func (e *NotReadyError) Unwrap() error { return ErrNotReady }

// MergeKey is the idempotency key of the staging merge of PR number of repo
// at head: one merge per head commit.
func MergeKey(repo string, number int, head string) string {
	return fmt.Sprintf("staging-merge:%s#%d@%s", repo, number, head)
}

// ReportNotReady records why PR number of component is not promoted at
// head. Reasons already the PR's latest word are not said again; reasons
// that come back after others (a label removed, added, removed again) are a
// new event, so that the PR and the UI always show the current ones.
func ReportNotReady(ctx context.Context, st *store.Store, component string, e *NotReadyError) error {
	latest, err := st.PullEvents(ctx, e.Repo, e.Number, 1, stagingKinds...)
	if err != nil {
		return err
	}
	var after int64
	if len(latest) == 1 {
		prev := latest[0]
		if prev.Kind == EventNotReady && str(prev.Payload["head"]) == e.Head && slices.Equal(strs(prev.Payload["reasons"]), e.Reasons) {
			return nil
		}
		after = prev.ID
	}
	sum := sha256.Sum256([]byte(strings.Join(e.Reasons, "\n")))
	payload := map[string]any{"repo": e.Repo, "pr": e.Number, "head": e.Head, "reasons": e.Reasons}
	if e.Refused {
		payload["refused"] = true
	}
	return st.AppendEvent(ctx, store.Event{
		Key:  fmt.Sprintf("staging-not-ready:%s#%d@%s:%s:after-%d", e.Repo, e.Number, e.Head, hex.EncodeToString(sum[:8]), after),
		Kind: EventNotReady, Component: component,
		Payload: payload,
	})
}

// ReportMerged records that PR number of component was merged into staging
// as merge; once per head.
func ReportMerged(ctx context.Context, st *store.Store, component, repo string, number int, head, merge string) error {
	return st.AppendEvent(ctx, store.Event{
		Key:  "staging-merged:" + MergeKey(repo, number, head),
		Kind: EventMerged, Component: component,
		Payload: map[string]any{"repo": repo, "pr": number, "head": head, "merge": merge},
	})
}

// Failure is a staging failure of a PR: its staging merge commit failed a
// stage.
type Failure struct {
	Component, Branch string // the component and its staging branch
	Repo              string // owner/name
	PR                int
	PRURL, Head       string // from the merge commit's trailers
	Candidate         string
	RunID             int64
	Stage, Reason     string
	FailedJob         string // component:job, when one job is to blame
	LogKey, LogTail   string // the failed job's log
}

// ReportFailure records a staging failure as a "staging-failed" event,
// which the component's subscribers receive and the PR reporter shows on
// the PR; repeated calls for the same run are one event.
func ReportFailure(ctx context.Context, st *store.Store, f Failure) error {
	payload := map[string]any{"repo": f.Repo, "pr": f.PR, "head": f.Head, "stage": f.Stage, "reason": f.Reason}
	for k, v := range map[string]string{"pr_url": f.PRURL, "failed_job": f.FailedJob, "log_key": f.LogKey, "log_tail": f.LogTail} {
		if v != "" {
			payload[k] = v
		}
	}
	if f.RunID != 0 {
		payload["run_url"] = fmt.Sprintf("/runs/%d", f.RunID)
	}
	return st.AppendEvent(ctx, store.Event{
		Key: fmt.Sprintf("staging-failed:%s#%d:%d", f.Repo, f.PR, f.RunID), Kind: EventStagingFailed,
		Component: f.Component, Branch: f.Branch, Candidate: f.Candidate, RunID: f.RunID,
		Payload: payload,
	})
}
