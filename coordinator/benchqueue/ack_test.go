package benchqueue

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ironworks-ci/ironworks/benchkit/results"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// TestAckRefusals: the refusals the story test
// (TestBenchAckLetsAcceptedRegressionThrough) cannot reach through one
// adapter: a candidate without benchmarks, one whose gate has not decided,
// an ambiguous ID prefix, no reason. Each is an *AckRefusal naming what was
// wrong, and nothing is recorded.
func TestAckRefusals(t *testing.T) {
	ctx := context.Background()
	q, st := newQueue(t, nil)
	// Candidates until two share their first hex digit (at most 17).
	byFirst := map[byte]*store.Candidate{}
	var bare, other *store.Candidate
	for i := 0; bare == nil; i++ {
		c, err := st.PutCandidate(ctx, map[string]store.Revision{"demo": {Repo: "file:///demo", Rev: fmt.Sprintf("%040d", i)}}, "head", 0)
		if err != nil {
			t.Fatal(err)
		}
		if o := byFirst[c.ID[0]]; o != nil {
			bare, other = c, o
		}
		byFirst[c.ID[0]] = c
	}
	if err := q.Enqueue(ctx, other.ID, "demo", revs, benchSpec("b", "true")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ack  results.Ack
		want string
	}{
		{results.Ack{Candidate: bare.ID, Metric: "size", Reason: "on purpose"}, "candidate " + bare.ID + " has no benchmarks"},
		{results.Ack{Candidate: other.ID, Metric: "size", Reason: "on purpose"}, "the bench gate of candidate " + other.ID + " has not reached a verdict yet"},
		{results.Ack{Candidate: bare.ID[:1], Metric: "size", Reason: "on purpose"}, fmt.Sprintf("candidate %q: ambiguous", bare.ID[:1])},
		{results.Ack{Candidate: other.ID, Metric: "size", Reason: " x "}, "needs a reason"},
		{results.Ack{Candidate: other.ID, Reason: "on purpose"}, "needs a candidate and a metric"},
	} {
		_, err := q.Ack(ctx, tc.ack)
		var r *AckRefusal
		if !errors.As(err, &r) || !strings.Contains(r.Reason, tc.want) {
			t.Errorf("Ack(%+v): %v, want a refusal naming %q", tc.ack, err, tc.want)
		}
	}
	for _, c := range []*store.Candidate{bare, other} {
		if acks, err := q.Acks(ctx, c.ID); err != nil || len(acks) != 0 {
			t.Errorf("refused acknowledgements of %s recorded: %+v %v", c.ID, acks, err)
		}
	}
}
