// Package protocol is the JSON spoken between benchkit agents and the
// coordinator's bench queue. Agents dial out; the coordinator never calls them.
//
//	POST /api/bench/lease      LeaseRequest  -> 200 Job, or 204 when nothing matches
//	POST /api/bench/heartbeat  Heartbeat     -> 200 HeartbeatReply, 409 when the lease is gone
//	POST /api/bench/result     Result        -> 200 ResultReply, 409 when the lease is gone
//
// Every request carries "Authorization: Bearer <agent token>".
package protocol

import (
	"time"

	"github.com/ironworks-ci/ironworks/benchkit/bisect"
	"github.com/ironworks-ci/ironworks/benchkit/measure"
	"github.com/ironworks-ci/ironworks/coordinator/config"
)

// Paths of the API.
const (
	PathLease     = "/api/bench/lease"
	PathHeartbeat = "/api/bench/heartbeat"
	PathResult    = "/api/bench/result"
)

// LeaseRequest asks for a job the agent can run.
type LeaseRequest struct {
	Agent    string   `json:"agent"`
	Features []string `json:"features"`
}

// Source is one component's repository and exact revision.
type Source struct {
	Repo string `json:"repo"`
	Rev  string `json:"rev"`
}

// Job is a leased bench job.
type Job struct {
	ID        int64             `json:"id"`
	LeaseID   string            `json:"lease_id"` // the idempotency key of this attempt's result
	Attempt   int               `json:"attempt"`
	Round     int               `json:"round"` // 0 the first run, 1.. confirmation runs
	Candidate string            `json:"candidate"`
	Component string            `json:"component"` // the bench command runs in this component's checkout
	Sources   map[string]Source `json:"sources"`
	Bench     config.Bench      `json:"bench"`
	// Baseline, when set, is measured side by side with the candidate on the
	// same host: interleaved rounds (AB BA ...) of the entry's repeat, the
	// baseline's samples posted as Result.BaselineSamples.
	Baseline *Baseline `json:"baseline,omitempty"`
	// Bisect, when set, makes the job a bisection of a regression the gate
	// confirmed: Sources is the regressed candidate, Baseline the release it
	// regressed against; the agent posts Result.Bisect.
	Bisect *BisectSpec `json:"bisect,omitempty"`
	// LeaseExpires is when the job returns to the queue without a heartbeat.
	LeaseExpires time.Time `json:"lease_expires"`
	// HeartbeatEvery is how often the agent must renew the lease.
	HeartbeatEvery time.Duration `json:"heartbeat_every"`
}

// Baseline is the released candidate a side-by-side job measures next to
// the candidate.
type Baseline struct {
	Candidate string            `json:"candidate"`
	Sources   map[string]Source `json:"sources"`
}

// BisectSpec names what a bisection job bisects: Component's commits from
// Good (the release's revision) to Bad (the candidate's), every other
// component held at the candidate's revision (an upstream is pinned under
// the fixed downstream), each probe measured side by side with Good.
type BisectSpec struct {
	Component string `json:"component"`
	Good      string `json:"good"`
	Bad       string `json:"bad"`
	Report    string `json:"report"` // the regression's report
}

// BisectResult is a finished bisection, with the culprit's subject and
// author for the e-mail.
type BisectResult struct {
	bisect.BenchResult
	Component string `json:"component"`
	Subject   string `json:"subject,omitempty"`
	Author    string `json:"author,omitempty"`
}

// Heartbeat renews a lease.
type Heartbeat struct {
	JobID   int64  `json:"job_id"`
	LeaseID string `json:"lease_id"`
}

// HeartbeatReply is the renewed lease.
type HeartbeatReply struct {
	LeaseExpires time.Time `json:"lease_expires"`
}

// Result is a finished attempt: samples, or the error that stopped it.
type Result struct {
	JobID   int64                `json:"job_id"`
	LeaseID string               `json:"lease_id"`
	Agent   string               `json:"agent"`
	Host    measure.Host         `json:"host"`
	Samples map[string][]float64 `json:"samples"`
	// BaselineSamples are the baseline's samples of a side-by-side job.
	BaselineSamples map[string][]float64 `json:"baseline_samples,omitempty"`
	// Bisect is the outcome of a bisection job.
	Bisect *BisectResult `json:"bisect,omitempty"`
	Error  string        `json:"error,omitempty"`
}

// ResultReply acknowledges a result; Duplicate is true when this lease's
// result had already been recorded (the repeat changed nothing).
type ResultReply struct {
	Duplicate bool `json:"duplicate"`
}
