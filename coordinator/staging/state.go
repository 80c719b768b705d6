package staging

import (
	"context"
	"time"

	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// stagingKinds are the events the staging flow says of a pull request.
var stagingKinds = []string{EventNotReady, EventMerged, EventStagingFailed}

// State is the staging flow's last word on a pull request at one head
// commit, read from its events.
type State struct {
	// Kind is the latest event's kind at the head (EventNotReady,
	// EventMerged, EventStagingFailed); "" when nothing was said yet.
	Kind string
	At   time.Time
	// Reasons: why the PR is not promoted (EventNotReady).
	Reasons []string
	// Refused: the reasons are GitHub's final refusal of the merge.
	Refused bool
	// Merge is the staging merge commit of the head, once merged.
	Merge string
	// Failure is why the merge commit failed in staging (EventStagingFailed),
	// with the run that says so.
	Failure   string
	FailedJob string
	RunID     int64
}

// stateEvents bounds how far back StateOf reads a PR's events.
const stateEvents = 200

// StateOf reads what the staging flow last said of PR number of repo at
// head.
func StateOf(ctx context.Context, st *store.Store, repo string, number int, head string) (*State, error) {
	evs, err := st.PullEvents(ctx, repo, number, stateEvents, stagingKinds...)
	if err != nil {
		return nil, err
	}
	s := &State{}
	for _, e := range evs { // newest first
		if str(e.Payload["head"]) != head {
			continue
		}
		if s.Kind == "" {
			s.Kind, s.At = e.Kind, e.CreatedAt
			switch e.Kind {
			case EventNotReady:
				s.Reasons = strs(e.Payload["reasons"])
				s.Refused, _ = e.Payload["refused"].(bool)
			case EventStagingFailed:
				s.Failure, s.FailedJob, s.RunID = str(e.Payload["reason"]), str(e.Payload["failed_job"]), e.RunID
			}
		}
		if e.Kind == EventMerged && s.Merge == "" {
			s.Merge = str(e.Payload["merge"])
		}
	}
	return s, nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// strs reads a JSON array of strings.
func strs(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
