package web

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// Explain reads a run's detail, JSON the pipeline wrote (and an older or
// newer coordinator may have written differently): whatever its shape, it
// never panics, keeps probes a list, and a culprit always has a revision.
func FuzzExplain(f *testing.F) {
	st, err := store.Open(context.Background(), filepath.Join(f.TempDir(), "ironworks.db"))
	if err != nil {
		f.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	cand, err := st.PutCandidate(ctx, map[string]store.Revision{"up": {Rev: "u2"}, "down": {Rev: "d1"}}, "head", 0)
	if err != nil {
		f.Fatal(err)
	}
	if err := st.RecordCompat(ctx, "up", "u1", "down", "d1", store.VerdictGreen, 7); err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		`{"upstream":"up","downstream":"down","culprit":{"rev":"u2","subject":"s","author":"a"},"upstream_range":{"from":"u0","to":"u2","count":2,"commits":[{"rev":"u1"},{"rev":"u2"}]},"bisect":{"probes":1,"commits":2,"skipped":[]}}`,
		`{"bisect":"no compatible pair recorded yet: nothing to bisect against","upstream_range":{"from":"","to":"u2"}}`,
		`{"culprit":"u2","upstream_range":[1,2],"bisect":3,"culprit_unconfirmed":"yes"}`,
		`{"upstream_range":{"commits":[null,{"rev":5},{"subject":"no rev"}],"count":"two"}}`,
		`{}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, detail string) {
		var d map[string]any
		if json.Unmarshal([]byte(detail), &d) != nil {
			return
		}
		e := Explain(ctx, st, &store.Run{ID: 9, Candidate: cand.ID, State: store.RunDone, Verdict: store.VerdictIncompatible, Detail: d})
		if e == nil || e.Probes == nil {
			t.Fatalf("explanation %+v: want one with a probes list", e)
		}
		if e.Culprit != nil && e.Culprit.Rev == "" {
			t.Errorf("culprit without a revision: %+v", e.Culprit)
		}
		_ = e.Sentence()
	})
}
