package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

func TestDeliveriesAndCounts(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.UnixMilli(1_700_000_000_000)
	s.Now = func() time.Time { return now }
	if fresh, err := s.ClaimDelivery(ctx, "d1", "push"); err != nil || !fresh {
		t.Fatalf("first claim = %v, %v", fresh, err)
	}
	if fresh, _ := s.ClaimDelivery(ctx, "d1", "push"); fresh {
		t.Fatal("second claim of d1 reported fresh")
	}
	if err := s.ReleaseDelivery(ctx, "d1"); err != nil {
		t.Fatal(err)
	}
	if fresh, _ := s.ClaimDelivery(ctx, "d1", "push"); !fresh {
		t.Fatal("released delivery not claimable")
	}
	if n, err := s.PruneDeliveries(ctx, now.Add(time.Millisecond)); err != nil || n != 1 {
		t.Errorf("prune = %d, %v; want 1", n, err)
	}
	c, _ := s.PutCandidate(ctx, map[string]Revision{"a": {Branch: "main", Rev: "r1"}}, "head", 0)
	s.CreateRun(ctx, c.ID, "forge", "stage", "local", []string{"a:x"}, nil)
	r2, _ := s.CreateRun(ctx, c.ID, "spark", "stage", "local", []string{"a:y"}, nil)
	s.StartRun(ctx, r2.ID)
	if n, _ := s.CountRuns(ctx, RunQueued); n != 1 {
		t.Errorf("queued = %d, want 1", n)
	}
	if n, _ := s.CountRuns(ctx); n != 2 {
		t.Errorf("all = %d, want 2", n)
	}
	latest, err := s.LatestTargetRuns(ctx)
	if err != nil || len(latest) != 2 || latest[0].Component != "a" || latest[0].Branch != "main" {
		t.Errorf("latest = %+v, %v", latest, err)
	}
	runs, total, err := s.History(ctx, HistoryFilter{Component: "a", Branch: "other"})
	if err != nil || total != 0 || len(runs) != 0 {
		t.Errorf("history of another branch = %d %v", total, err)
	}
	if _, err := s.JobResult(ctx, r2.ID, "nope"); err == nil {
		t.Error("missing job result found")
	}
}
