package benchqueue

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"sort"

	"github.com/ironworks-ci/ironworks/benchkit/bisect"
	"github.com/ironworks-ci/ironworks/benchkit/protocol"
	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// bisectRound is the round of the bisection job of the i-th bisected
// component of an entry: rounds below zero are never measurements.
func bisectRound(i int) int { return -1 - i }

// startBisections queues, for a side-by-side entry whose regression the
// gate confirmed, one bisection job per component whose revision differs
// between the release and the candidate and that the measured checkout is
// built from (the entry's own component, or one of its upstreams): the
// agent bisects that component's commits with every other one held at the
// candidate's revision.
func (q *Queue) startBisections(ctx context.Context, candidateID, component string, sources map[string]Revision, spec *config.Bench, baseline *protocol.Baseline, report string) ([]string, error) {
	built := []string{component}
	for _, u := range spec.Upstream {
		built = append(built, u.Name)
	}
	names := make([]string, 0, len(sources))
	for c := range sources {
		names = append(names, c)
	}
	sort.Strings(names)
	var started []string
	i := 0
	for _, c := range names {
		good, ok := baseline.Sources[c]
		if !ok || !slices.Contains(built, c) || good.Rev == sources[c].Rev {
			continue
		}
		b := &protocol.BisectSpec{Component: c, Good: good.Rev, Bad: sources[c].Rev, Report: report}
		if err := q.enqueue(ctx, candidateID, component, sources, spec, bisectRound(i), baseline, b); err != nil {
			return nil, err
		}
		i++
		started = append(started, fmt.Sprintf("%s %s..%s", c, store.ShortRev(good.Rev), store.ShortRev(sources[c].Rev)))
	}
	return started, nil
}

// finishBisection records a bisection job's result and, when it named a
// culprit, a bench-regression event that carries it (subscribers of
// bench-regression get the culprit by e-mail), in the caller's transaction.
func (q *Queue) finishBisection(ctx context.Context, tx *sql.Tx, r *protocol.Result, cand, comp, bench, spec string) error {
	if r.Bisect == nil {
		return &BadResult{"bisect", "required: the job is a bisection"}
	}
	var bs protocol.BisectSpec
	if err := json.Unmarshal([]byte(spec), &bs); err != nil {
		return fmt.Errorf("benchqueue: job %d bisect: %w", r.JobID, err)
	}
	if r.Bisect.Component != bs.Component {
		return &BadResult{"bisect.component", fmt.Sprintf("the job bisects %s, not %q", bs.Component, r.Bisect.Component)}
	}
	res, _ := json.Marshal(r.Bisect)
	if _, err := tx.ExecContext(ctx, `UPDATE bench_jobs SET state=?, result=?, finished_at=? WHERE id=?`, Done, string(res), q.now().UnixMilli(), r.JobID); err != nil {
		return err
	}
	if r.Bisect.Culprit == "" {
		return nil
	}
	c, err := q.st.Candidate(ctx, cand)
	if err != nil {
		return err
	}
	payload := map[string]any{
		"report": bs.Report, "summary": fmt.Sprintf("%s/%s regressed at %s %s", comp, bench, bs.Component, store.ShortRev(r.Bisect.Culprit)),
		"culprit":  map[string]any{"rev": r.Bisect.Culprit, "subject": r.Bisect.Subject, "author": r.Bisect.Author},
		"suspects": r.Bisect.Suspects, "rounds": r.Bisect.Rounds, "samples": r.Bisect.Samples,
		"details": []string{fmt.Sprintf("%s/%s: culprit %s@%s found by bisecting %s..%s side by side (%d judged pairs, %d runs)",
			comp, bench, bs.Component, store.ShortRev(r.Bisect.Culprit), store.ShortRev(bs.Good), store.ShortRev(bs.Bad), r.Bisect.Rounds, r.Bisect.Samples)},
	}
	if bs.Component != comp {
		payload["upstream"] = bs.Component
	}
	return q.st.AppendEventTx(ctx, tx, store.Event{
		Key: fmt.Sprintf("bench-culprit:%s:%s:%s:%s", cand, comp, bench, bs.Component), Kind: "bench-regression", Candidate: cand,
		Component: comp, Branch: c.Revisions[comp].Branch, Payload: payload,
	})
}

// bisection describes a bisection job's state for the verdict's details.
func bisection(state, spec, result string) string {
	var bs protocol.BisectSpec
	_ = json.Unmarshal([]byte(spec), &bs)
	what := fmt.Sprintf("bisection of %s %s..%s", bs.Component, store.ShortRev(bs.Good), store.ShortRev(bs.Bad))
	if state != Done {
		return what + ": " + state
	}
	var r protocol.BisectResult
	_ = json.Unmarshal([]byte(result), &r)
	switch r.Ends {
	case bisect.EndsRegressed:
		return fmt.Sprintf("%s: culprit %s (%s), %d judged pairs, %d runs", what, r.Culprit, r.Subject, r.Rounds, r.Samples)
	case bisect.EndsNoRegression:
		return what + ": no culprit (the regression is not in this component)"
	}
	return what + ": no culprit (inconclusive)"
}
