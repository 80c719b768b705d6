package headwatch

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ironworks-ci/ironworks/coordinator/forge/githubtest"
)

func newWatched(t *testing.T) (*githubtest.Server, *Watcher) {
	t.Helper()
	gh := githubtest.New()
	t.Cleanup(gh.Close)
	gh.Token = "ghp_watch"
	gh.AddRepo("o/app", "master", map[string]string{"README": "hi\n"})
	w := New(gh.URL(), "ghp_watch", nil)
	w.Client.RetryMax = 0
	return gh, w
}

// An unchanged listing is answered 304 and costs no rate limit; a label
// added or a push changes it.
func TestOpenPullsConditional(t *testing.T) {
	gh, w := newWatched(t)
	ctx := context.Background()
	gh.AddPull("o/app", githubtest.Pull{Number: 3, Title: "faster", HeadSHA: strings.Repeat("a", 40), HeadRef: "fast", BaseRef: "master"})
	gh.AddPull("o/app", githubtest.Pull{Number: 4, State: "closed", HeadSHA: strings.Repeat("b", 40), BaseRef: "master"})
	prs, changed, err := w.OpenPulls(ctx, "o/app")
	if err != nil || !changed || len(prs) != 1 || prs[0].GetNumber() != 3 || prs[0].GetHead().GetRef() != "fast" {
		t.Fatalf("first poll = %d PRs, changed %v, %v; want #3 only, changed", len(prs), changed, err)
	}
	used := gh.RateUsed()
	for i := 0; i < 3; i++ {
		prs, changed, err = w.OpenPulls(ctx, "o/app")
		if err != nil || changed || len(prs) != 1 {
			t.Fatalf("idle poll %d = %d PRs, changed %v, %v; want the same PR, unchanged", i, len(prs), changed, err)
		}
	}
	if gh.RateUsed() != used || gh.NotModified() != 3 {
		t.Fatalf("idle polls: %d requests counted, %d 304s; want 0 counted, 3 304s", gh.RateUsed()-used, gh.NotModified())
	}
	gh.UpdatePull("o/app", 3, func(p *githubtest.Pull) { p.Labels = append(p.Labels, "ready-for-staging") })
	prs, changed, err = w.OpenPulls(ctx, "o/app")
	if err != nil || !changed || len(prs[0].Labels) != 1 {
		t.Fatalf("after labelling = changed %v, %v, labels %v; want changed with the label", changed, err, prs[0].Labels)
	}
}

// Listings longer than a page are followed to the end, conditionally too.
func TestOpenPullsPages(t *testing.T) {
	gh, w := newWatched(t)
	for n := 1; n <= 130; n++ {
		gh.AddPull("o/app", githubtest.Pull{Number: n, HeadSHA: strings.Repeat("c", 40), BaseRef: "master"})
	}
	prs, _, err := w.OpenPulls(context.Background(), "o/app")
	if err != nil || len(prs) != 130 {
		t.Fatalf("got %d PRs, %v; want 130 over two pages", len(prs), err)
	}
	prs, changed, err := w.OpenPulls(context.Background(), "o/app")
	if err != nil || changed || len(prs) != 130 || gh.NotModified() != 2 {
		t.Fatalf("second poll: %d PRs, changed %v, %v, %d 304s; want 130 from two 304s", len(prs), changed, err, gh.NotModified())
	}
}

func TestReviewsConditional(t *testing.T) {
	gh, w := newWatched(t)
	gh.AddPull("o/app", githubtest.Pull{Number: 3, HeadSHA: strings.Repeat("a", 40), BaseRef: "master"})
	ctx := context.Background()
	if rs, changed, err := w.Reviews(ctx, "o/app", 3); err != nil || !changed || len(rs) != 0 {
		t.Fatalf("first = %d, %v, %v", len(rs), changed, err)
	}
	if _, changed, err := w.Reviews(ctx, "o/app", 3); err != nil || changed {
		t.Fatalf("idle = changed %v, %v; want unchanged", changed, err)
	}
	gh.UpdatePull("o/app", 3, func(p *githubtest.Pull) {
		p.Reviews = append(p.Reviews, githubtest.Review{User: "rev", State: "APPROVED"})
	})
	rs, changed, err := w.Reviews(ctx, "o/app", 3)
	if err != nil || !changed || len(rs) != 1 || rs[0].GetState() != "APPROVED" {
		t.Fatalf("after approval = %d, %v, %v; want the approval, changed", len(rs), changed, err)
	}
}

func TestWatchErrors(t *testing.T) {
	gh, w := newWatched(t)
	ctx := context.Background()
	if _, _, err := w.OpenPulls(ctx, "o/missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown repository: %v, want ErrNotFound", err)
	}
	if _, _, err := w.Reviews(ctx, "o/app", 99); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown PR: %v, want ErrNotFound", err)
	}
	for _, bad := range []string{"", "noslash", "o/r/x"} {
		if _, _, err := w.OpenPulls(ctx, bad); err == nil || !strings.Contains(err.Error(), "owner/name") {
			t.Errorf("repository %q: %v, want an owner/name error", bad, err)
		}
	}
	w.Token = "wrong"
	if _, _, err := w.OpenPulls(ctx, "o/app"); err == nil || !strings.Contains(err.Error(), "HTTP 401") {
		t.Errorf("bad token: %v, want HTTP 401", err)
	}
	gh.AddRepo("o/bad", "master", nil)
	w.Token = "ghp_watch"
	gh.FailNext(1, 503, "GET /repos/{o}/{r}/pulls")
	if _, _, err := w.OpenPulls(ctx, "o/bad"); err == nil || !strings.Contains(err.Error(), "HTTP 503") {
		t.Errorf("server error: %v, want HTTP 503", err)
	}
}

func TestNextLink(t *testing.T) {
	h := `<https://api.github.com/repos/o/r/pulls?page=2>; rel="next", <https://api.github.com/repos/o/r/pulls?page=5>; rel="last"`
	if got := nextLink(h); got != "https://api.github.com/repos/o/r/pulls?page=2" {
		t.Errorf("nextLink = %q", got)
	}
	if got := nextLink(`<https://x/?page=1>; rel="prev"`); got != "" {
		t.Errorf("no next: %q", got)
	}
}

func FuzzNextLink(f *testing.F) {
	f.Add(`<https://api.github.com/x?page=2>; rel="next"`)
	f.Add(`garbage;;,<>`)
	f.Fuzz(func(t *testing.T, h string) {
		if got := nextLink(h); !strings.Contains(h, got) {
			t.Errorf("nextLink(%q) = %q, not taken from the header", h, got)
		}
	})
}

// BenchmarkIdlePoll is one poll of a repository with 150 open pull requests
// (two pages) while nothing changes: it must cost no rate limit.
func BenchmarkIdlePoll(b *testing.B) {
	gh := githubtest.New()
	defer gh.Close()
	gh.Token = "ghp_watch"
	gh.AddRepo("o/app", "master", nil)
	for n := 1; n <= 150; n++ {
		gh.AddPull("o/app", githubtest.Pull{Number: n, HeadSHA: strings.Repeat("d", 40), BaseRef: "master"})
	}
	w := New(gh.URL(), "ghp_watch", nil)
	ctx := context.Background()
	if _, _, err := w.OpenPulls(ctx, "o/app"); err != nil {
		b.Fatal(err)
	}
	used, free := gh.RateUsed(), gh.NotModified()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, changed, err := w.OpenPulls(ctx, "o/app"); err != nil || changed {
			b.Fatalf("idle poll: changed %v, %v", changed, err)
		}
	}
	b.ReportMetric(float64(gh.RateUsed()-used)/float64(b.N), "counted-requests/op")
	b.ReportMetric(float64(gh.NotModified()-free)/float64(b.N), "304s/op")
}
