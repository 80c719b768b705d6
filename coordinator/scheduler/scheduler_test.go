package scheduler

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

func mustCron(t testing.TB, s string) ScheduledJob {
	sched, err := config.CronParser.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return ScheduledJob{ID: "c:fast", Stage: "harden", Component: "c", Cron: sched}
}

func TestDue(t *testing.T) {
	now := time.Date(2026, 11, 21, 13, 0, 0, 0, time.UTC)
	every4h := mustCron(t, "0 */4 * * *")
	cont := ScheduledJob{ID: "c:slow", Stage: "harden", Component: "c", Continuous: true}
	targets := map[string][]Target{"c": {{Branch: "master", Head: "head1", ForgeGreen: "green1"}}}
	ms := func(t time.Time) int64 { return t.UnixMilli() }
	tests := []struct {
		name   string
		jobs   []ScheduledJob
		fired  map[string]int64
		active map[string]bool
		want   []string // candidate per firing
	}{
		{"cron never fired runs now on the head", []ScheduledJob{every4h}, nil, nil, []string{"head1"}},
		{"cron fired an hour ago waits", []ScheduledJob{every4h}, map[string]int64{"c:fast@master": ms(now.Add(-time.Hour))}, nil, nil},
		{"cron fired before the last 4h mark fires", []ScheduledJob{every4h}, map[string]int64{"c:fast@master": ms(now.Add(-5 * time.Hour))}, nil, []string{"head1"}},
		{"cron due but still running waits", []ScheduledJob{every4h}, map[string]int64{"c:fast@master": ms(now.Add(-5 * time.Hour))}, map[string]bool{"c:fast": true}, nil},
		{"continuous idle starts on forge-green", []ScheduledJob{cont}, nil, nil, []string{"green1"}},
		{"continuous never two rounds at once", []ScheduledJob{cont}, nil, map[string]bool{"c:slow": true}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Due(now, tt.jobs, targets, tt.fired, tt.active)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d firings %+v, want %v", len(got), got, tt.want)
			}
			for i, f := range got {
				if f.Candidate != tt.want[i] {
					t.Errorf("firing %d on %s, want %s", i, f.Candidate, tt.want[i])
				}
			}
		})
	}
	noGreen := map[string][]Target{"c": {{Branch: "master", Head: "head1"}}}
	if got := Due(now, []ScheduledJob{cont}, noGreen, nil, nil); len(got) != 0 {
		t.Fatalf("continuous job started without a forge-green candidate: %+v", got)
	}
}

// BenchmarkPass1000Targets measures a scheduler pass's decision over 1,000
// targets with three scheduled jobs each, including the batched state loads
// from SQLite (fired times and active runs).
func BenchmarkPass1000Targets(b *testing.B) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(b.TempDir(), "db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	targets := map[string][]Target{}
	var jobs []ScheduledJob
	now := time.Now()
	for i := 0; i < 1000; i++ {
		comp := fmt.Sprintf("comp%d", i)
		targets[comp] = []Target{{Branch: "master", Head: "h" + comp, ForgeGreen: "g" + comp}}
		cj := mustCron(b, "0 */4 * * *")
		cj.ID, cj.Component = comp+":fast", comp
		jobs = append(jobs, cj, ScheduledJob{ID: comp + ":slow", Component: comp, Continuous: true},
			ScheduledJob{ID: comp + ":big", Component: comp, Continuous: true})
		if err := st.SetFired(ctx, cj.ID, "master", now.UnixMilli(), 1); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := st.DB.Exec(`INSERT INTO candidates(id, revisions, created_at) VALUES ('x', '{}', 0)`); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 1000; i++ {
		// Every continuous job has a round running: the steady state.
		if _, err := st.CreateRun(ctx, "x", "harden", "schedule", "local", []string{fmt.Sprintf("comp%d:slow", i), fmt.Sprintf("comp%d:big", i)}, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		fired, err := st.Fired(ctx)
		if err != nil {
			b.Fatal(err)
		}
		active, err := st.ActiveJobs(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if got := Due(now, jobs, targets, fired, active); len(got) != 0 {
			b.Fatalf("steady state fired %d rounds", len(got))
		}
	}
}
