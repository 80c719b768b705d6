package store

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
)

func TestPullRequests(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.SyncOpenPulls(ctx, "o/a", []PullRequest{{Number: 1, Component: "a", Title: "one", HeadSHA: "h1"}, {Number: 2, Component: "a", Title: "two", Draft: true}}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutPull(ctx, PullRequest{Repo: "o/b", Number: 1, Component: "b", Title: "hooked", Open: true}); err != nil {
		t.Fatal(err)
	}
	open, err := s.OpenPulls(ctx)
	if err != nil || len(open) != 3 || open[0].Repo != "o/a" || open[0].Number != 1 || !open[1].Draft || open[2].Title != "hooked" || !open[0].Open {
		t.Fatalf("open = %+v %v", open, err)
	}
	// #2 left GitHub's list of o/a; #1 got a new head; o/b is not touched.
	if err := s.SyncOpenPulls(ctx, "o/a", []PullRequest{{Number: 1, Component: "a", Title: "one", HeadSHA: "h2"}}); err != nil {
		t.Fatal(err)
	}
	open, _ = s.OpenPulls(ctx)
	if len(open) != 2 || open[0].HeadSHA != "h2" || open[1].Repo != "o/b" {
		t.Fatalf("after the second sync: %+v", open)
	}
	if p, err := s.Pull(ctx, "o/a", 2); err != nil || p.Open || p.Title != "two" {
		t.Fatalf("closed #2 = %+v %v", p, err)
	}
	if _, err := s.Pull(ctx, "o/a", 3); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown PR: %v, want ErrNotFound", err)
	}

	for i, e := range []Event{
		{Key: "1", Kind: "staging-not-ready", Payload: map[string]any{"repo": "o/a", "pr": 1, "head": "h1"}},
		{Key: "2", Kind: "run-finished", Payload: map[string]any{"repo": "o/a", "pr": 1}},
		{Key: "3", Kind: "staging-merged", Payload: map[string]any{"repo": "o/a", "pr": 1, "head": "h2"}},
		{Key: "4", Kind: "staging-merged", Payload: map[string]any{"repo": "o/b", "pr": 1}},
		{Key: "5", Kind: "staging-merged", Payload: map[string]any{"repo": "o/a", "pr": 11}},
	} {
		if err := s.AppendEvent(ctx, e); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
	evs, err := s.PullEvents(ctx, "o/a", 1, 10, "staging-not-ready", "staging-merged")
	if err != nil || len(evs) != 2 || evs[0].Key != "3" || evs[1].Key != "1" {
		t.Fatalf("events of o/a#1 = %+v %v, want 3 then 1", evs, err)
	}
	if evs, _ := s.PullEvents(ctx, "o/a", 1, 1, "staging-not-ready", "staging-merged"); len(evs) != 1 || evs[0].Key != "3" {
		t.Fatalf("newest event of o/a#1 = %+v", evs)
	}
	if evs, err := s.PullEvents(ctx, "o/a", 1, 10); evs != nil || err != nil {
		t.Fatalf("no kinds = %+v %v", evs, err)
	}

	pr, _ := s.PutCandidate(ctx, map[string]Revision{"a": {Branch: "f", Rev: "h2"}}, "pr", 1)
	s.PutCandidate(ctx, map[string]Revision{"a": {Branch: "master", Rev: "m"}}, "head", 0)
	s.PutCandidate(ctx, map[string]Revision{"a": {Branch: "g", Rev: "x"}}, "pr", 2)
	if cs, err := s.PullCandidates(ctx, 1); err != nil || len(cs) != 1 || cs[0].ID != pr.ID {
		t.Fatalf("candidates of #1 = %+v %v", cs, err)
	}
}
