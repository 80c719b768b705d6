package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

func TestNotifyStore(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.UnixMilli(1_000_000)
	s.Now = func() time.Time { return now }

	// Subscribing twice replaces the event list.
	s.Subscribe(ctx, Subscription{Email: "a@example.org", Component: "c", Events: []string{"failure"}})
	sub, err := s.Subscribe(ctx, Subscription{Email: "a@example.org", Component: "c", Events: []string{"failure", "recovery"}})
	if err != nil || len(sub.Events) != 2 {
		t.Fatalf("%+v %v", sub, err)
	}
	if subs, _ := s.Subscriptions(ctx); len(subs) != 1 {
		t.Fatalf("subs %+v", subs)
	}
	if _, err := s.Subscribe(ctx, Subscription{Email: "a@example.org"}); err == nil {
		t.Fatal("incomplete subscription accepted")
	}

	// Queueing is idempotent per (event, recipient) and moves the cursor.
	for range 2 {
		err := s.HandleEvent(ctx, "email", 7, func(q *NotifyTx) error {
			return q.Enqueue(Email{MessageID: "<m1@x>", Recipient: "a@example.org", Subject: "s", Body: []byte("b")})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if c, _ := s.Cursor(ctx, "email"); c != 7 {
		t.Fatalf("cursor %d", c)
	}
	if all, _ := s.Emails(ctx, ""); len(all) != 1 {
		t.Fatalf("emails %+v", all)
	}
	// A claim holds the message for its lease, then another sender may take it.
	m, _ := s.ClaimEmail(ctx, time.Minute)
	if m == nil || m.Attempts != 1 || m.State != EmailSending {
		t.Fatalf("claim %+v", m)
	}
	if m2, _ := s.ClaimEmail(ctx, time.Minute); m2 != nil {
		t.Fatal("claimed twice within the lease")
	}
	now = now.Add(2 * time.Minute)
	m, _ = s.ClaimEmail(ctx, time.Minute)
	if m == nil || m.Attempts != 2 {
		t.Fatalf("reclaim %+v", m)
	}
	s.MarkEmailSent(ctx, m.ID)
	now = now.Add(time.Hour)
	if m, _ := s.ClaimEmail(ctx, time.Minute); m != nil {
		t.Fatal("sent message claimed again")
	}

	// A stage report never goes back to an older event.
	s.PutPRStage(ctx, PRStage{Repo: "o/r", PR: 1, Stage: "spark", SHA: "b", State: "success", EventID: 9})
	s.PutPRStage(ctx, PRStage{Repo: "o/r", PR: 1, Stage: "spark", SHA: "a", State: "pending", EventID: 8})
	st, _ := s.PRStages(ctx, "o/r", 1)
	if len(st) != 1 || st[0].State != "success" || st[0].SHA != "b" {
		t.Fatalf("stages %+v", st[0])
	}

	k1, _ := s.NotifyKey(ctx, "k", func() ([]byte, error) { return []byte("one"), nil })
	k2, _ := s.NotifyKey(ctx, "k", func() ([]byte, error) { return []byte("two"), nil })
	if string(k1) != "one" || string(k2) != "one" {
		t.Fatalf("keys %q %q", k1, k2)
	}
}
