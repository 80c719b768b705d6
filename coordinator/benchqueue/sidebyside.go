package benchqueue

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ironworks-ci/ironworks/benchkit/gate"
	"github.com/ironworks-ci/ironworks/benchkit/protocol"
	"github.com/ironworks-ci/ironworks/benchkit/results"
	"github.com/ironworks-ci/ironworks/coordinator/config"
)

// EnqueueSideBySide is Enqueue with the baseline measured next to the
// candidate: the newest released candidate (other than this one), whose
// revisions the agent checks out too and runs in interleaved rounds with the
// candidate's, so that the host's state hits both. Without a release (or
// when the release lacks the component) it is Enqueue: the samples are
// recorded, and judged against nothing ("no baseline").
func (q *Queue) EnqueueSideBySide(ctx context.Context, candidateID, component string, revisions map[string]Revision, bench *config.Bench) error {
	rel, err := q.results.LatestRelease(ctx, candidateID)
	if errors.Is(err, results.ErrNoRelease) {
		return q.Enqueue(ctx, candidateID, component, revisions, bench)
	}
	if err != nil {
		return err
	}
	c, err := q.st.Candidate(ctx, rel)
	if err != nil {
		return fmt.Errorf("benchqueue: baseline %s: %w", rel, err)
	}
	if _, ok := c.Revisions[component]; !ok {
		return q.Enqueue(ctx, candidateID, component, revisions, bench)
	}
	b := &protocol.Baseline{Candidate: rel, Sources: map[string]protocol.Source{}}
	for name, r := range c.Revisions {
		b.Sources[name] = protocol.Source{Repo: r.Repo, Rev: r.Rev}
	}
	return q.enqueue(ctx, candidateID, component, revisions, bench, 0, b, nil)
}

// storeBaseline records the baseline side of a side-by-side result under
// the attempt's key plus ":baseline", in the transaction that records the
// candidate's side.
func (q *Queue) storeBaseline(ctx context.Context, tx *sql.Tx, key, comp, bench, base string, r *protocol.Result) error {
	if len(r.BaselineSamples) == 0 {
		return &BadResult{"baseline_samples", "required: the job measures its baseline side by side"}
	}
	var b protocol.Baseline
	if err := json.Unmarshal([]byte(base), &b); err != nil {
		return fmt.Errorf("benchqueue: job %d baseline: %w", r.JobID, err)
	}
	revs := map[string]string{}
	for c, s := range b.Sources {
		revs[c] = s.Rev
	}
	_, _, err := q.results.AddRunTx(ctx, tx, results.Run{
		Key: key + ":baseline", Candidate: b.Candidate, Component: comp, Bench: bench, Host: r.Host, HostClass: r.Host.Class(), Revisions: revs, Kind: "side-by-side",
	}, r.BaselineSamples)
	return err
}

// judgeSideBySide judges the candidate's side of its side-by-side results
// (keys) against the baseline's side of the same attempts.
func (q *Queue) judgeSideBySide(ctx context.Context, se results.Series, candidate, baseline string, keys []string, spec *config.Bench, acks []results.Ack) (*gate.Judgement, error) {
	cand, err := q.results.SamplesOfRuns(ctx, se, keys)
	if err != nil {
		return nil, err
	}
	baseKeys := make([]string, len(keys))
	for i, k := range keys {
		baseKeys[i] = k + ":baseline"
	}
	base, err := q.results.SamplesOfRuns(ctx, se, baseKeys)
	if err != nil {
		return nil, err
	}
	j := gate.Decide(&gate.Judgement{Candidate: candidate, Baseline: baseline, Series: se}, base, cand, spec, acks)
	for _, vs := range base {
		j.Rounds = max(j.Rounds, len(vs))
	}
	return j, nil
}
