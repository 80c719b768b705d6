package httpretry

import (
	"net/http"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := map[string]struct {
		d  time.Duration
		ok bool
	}{
		"":                              {0, false},
		"5":                             {5 * time.Second, true},
		"-1":                            {0, false},
		"soon":                          {0, false},
		"Wed, 01 Jan 2025 00:00:30 GMT": {30 * time.Second, true},
		"Tue, 31 Dec 2024 00:00:00 GMT": {0, true},
	}
	for in, want := range cases {
		d, ok := RetryAfter(in, now)
		if d != want.d || ok != want.ok {
			t.Errorf("%q: %v %v", in, d, ok)
		}
	}
}

func TestBackoff(t *testing.T) {
	b := Backoff(time.Minute)
	for attempt := range 10 {
		d := b(10*time.Millisecond, time.Second, attempt, nil)
		if d < 10*time.Millisecond || d > time.Second {
			t.Fatalf("attempt %d: %v out of bounds", attempt, d)
		}
	}
	resp := &http.Response{Header: http.Header{"Retry-After": {"7"}}}
	if d := b(time.Millisecond, time.Second, 0, resp); d != 7*time.Second {
		t.Errorf("Retry-After ignored: %v", d)
	}
	resp.Header.Set("Retry-After", "3600")
	if d := b(time.Millisecond, time.Second, 0, resp); d != time.Minute {
		t.Errorf("Retry-After not capped: %v", d)
	}
}

func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"5", "Wed, 01 Jan 2025 00:00:30 GMT", "", "-3", "1e9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d, ok := RetryAfter(s, time.Now()); ok && d < 0 {
			t.Fatalf("%q -> %v", s, d)
		}
	})
}
