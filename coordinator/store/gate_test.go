package store

import (
	"context"
	"path/filepath"
	"testing"
)

// A re-check of a gate records its reason and what the gate said, keeping
// the rest of the run's detail; a run that is not done is left alone.
func TestSetNotPromoted(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := s.PutCandidate(ctx, map[string]Revision{"a": {Repo: "r", Branch: "main", Rev: "1"}}, "head", 0)
	if err != nil {
		t.Fatal(err)
	}
	run, err := s.CreateRun(ctx, c.ID, "spark", "stage", "hydra", []string{"a:build"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Not done: nothing changes.
	if err := s.SetNotPromoted(ctx, run.ID, GateFailed, nil); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Run(ctx, run.ID); err != nil || r.Detail["not_promoted"] != nil {
		t.Fatalf("queued run changed: %v %v", r.Detail, err)
	}
	if _, err := s.Finish(ctx, run.ID, VerdictGreen, map[string]any{"not_promoted": GatePending, "hydra_gate": "gate build 7 is not finished", "attempt": 1}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.SetNotPromoted(ctx, run.ID, GateFailed, map[string]any{"hydra_gate": "gate build 7 failed"}); err != nil {
		t.Fatal(err)
	}
	r, err := s.Run(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.Detail["not_promoted"] != GateFailed || r.Detail["hydra_gate"] != "gate build 7 failed" || r.Detail["attempt"] != float64(1) {
		t.Errorf("detail %v, want gate failed with the new reason and attempt kept", r.Detail)
	}
}
