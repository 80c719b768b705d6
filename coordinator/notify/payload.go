package notify

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Commit is one commit of a range.
type Commit struct {
	Rev     string `json:"rev"`
	Subject string `json:"subject"`
	Author  string `json:"author"`
}

// Range is a span of commits of one component.
type Range struct {
	From    string   `json:"from"`
	To      string   `json:"to"`
	Commits []Commit `json:"commits"`
}

// Job is one job's outcome in a run.
type Job struct {
	Job        string `json:"job"`
	State      string `json:"state"`
	DurationMS int64  `json:"duration_ms"`
	LogKey     string `json:"log_key"`
	Reason     string `json:"reason"`
}

// Revision pins one component.
type Revision struct {
	Repo   string `json:"repo"`
	Branch string `json:"branch"`
	Rev    string `json:"rev"`
}

// Payload is the typed form of an event's payload, as the pipeline writes it.
type Payload struct {
	Stage           string              `json:"stage"`
	Verdict         string              `json:"verdict"`
	Summary         string              `json:"summary"`
	Revisions       map[string]Revision `json:"revisions"`
	Upstream        string              `json:"upstream"`
	UpstreamRange   *Range              `json:"upstream_range"`
	DownstreamRange *Range              `json:"downstream_range"`
	Culprit         *Commit             `json:"culprit"`
	// CulpritUnconfirmed: bisection named it, its confirmation runs did not agree.
	CulpritUnconfirmed bool   `json:"culprit_unconfirmed"`
	FailedJob          string `json:"failed_job"`
	LogTail            string `json:"log_tail"`
	LogKey             string `json:"log_key"`
	RunURL             string `json:"run_url"`
	Jobs               []Job  `json:"jobs"`
	PR                 int    `json:"pr"`
	Reason             string `json:"reason"`
	// The staging flow's events (staging-failed, staging-not-ready,
	// staging-merged): the PR's repository, its head, the merge commit and
	// why it is not promoted.
	Repo    string   `json:"repo"`
	Head    string   `json:"head"`
	Merge   string   `json:"merge"`
	Reasons []string `json:"reasons"`
	PRURL   string   `json:"pr_url"`
}

// ParsePayload converts an event payload to its typed form. A field of the
// wrong type is an error naming the field; the event is then reported with
// what could be read (see parseLenient).
func ParsePayload(raw map[string]any) (*Payload, error) {
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, fmt.Errorf("event payload: %w", err)
	}
	return parsePayloadJSON(b)
}

func parsePayloadJSON(b []byte) (*Payload, error) {
	var p Payload
	if err := json.Unmarshal(b, &p); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, fmt.Errorf("event payload: field %q: got JSON %s, want %s", te.Field, te.Value, te.Type)
		}
		return nil, fmt.Errorf("event payload: %w", err)
	}
	return &p, nil
}

// parseLenient reads every field it can, one by one, so that one malformed
// field does not silence a failure notice.
func parseLenient(raw map[string]any) *Payload {
	var p Payload
	for k, v := range raw {
		b, err := json.Marshal(map[string]any{k: v})
		if err != nil {
			continue
		}
		if one, err := parsePayloadJSON(b); err == nil {
			mergePayload(&p, one)
		}
	}
	return &p
}

func mergePayload(dst, src *Payload) {
	set := func(d *string, s string) {
		if s != "" {
			*d = s
		}
	}
	set(&dst.Stage, src.Stage)
	set(&dst.Verdict, src.Verdict)
	set(&dst.Summary, src.Summary)
	set(&dst.Upstream, src.Upstream)
	set(&dst.FailedJob, src.FailedJob)
	set(&dst.LogTail, src.LogTail)
	set(&dst.LogKey, src.LogKey)
	set(&dst.RunURL, src.RunURL)
	set(&dst.Reason, src.Reason)
	set(&dst.Repo, src.Repo)
	set(&dst.Head, src.Head)
	set(&dst.Merge, src.Merge)
	set(&dst.PRURL, src.PRURL)
	if src.Reasons != nil {
		dst.Reasons = src.Reasons
	}
	if src.Revisions != nil {
		dst.Revisions = src.Revisions
	}
	if src.UpstreamRange != nil {
		dst.UpstreamRange = src.UpstreamRange
	}
	if src.DownstreamRange != nil {
		dst.DownstreamRange = src.DownstreamRange
	}
	if src.Culprit != nil {
		dst.Culprit = src.Culprit
	}
	dst.CulpritUnconfirmed = dst.CulpritUnconfirmed || src.CulpritUnconfirmed
	if src.Jobs != nil {
		dst.Jobs = src.Jobs
	}
	if src.PR != 0 {
		dst.PR = src.PR
	}
}
