package headwatch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeGitHub answers GET /repos/{o}/{r}/commits/{ref} the way GitHub does
// for the sha media type: the bare id with a strong ETag, 304 when
// If-None-Match matches, 404 for unknown branches.
type fakeGitHub struct {
	mu          sync.Mutex
	heads       map[string]string // "owner/name/branch" -> sha
	requests    int
	notModified int
	ifNoneMatch []string
	status      int // forced status when non-zero
}

func (g *fakeGitHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.requests++
	g.ifNoneMatch = append(g.ifNoneMatch, r.Header.Get("If-None-Match"))
	if g.status != 0 {
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Reset", "1700000000")
		http.Error(w, `{"message":"API rate limit exceeded"}`, g.status)
		return
	}
	if r.Header.Get("Accept") != "application/vnd.github.sha" {
		http.Error(w, "want the sha media type", http.StatusUnsupportedMediaType)
		return
	}
	key := r.PathValue("owner") + "/" + r.PathValue("repo") + "/" + r.PathValue("ref")
	sha, ok := g.heads[key]
	if !ok {
		w.WriteHeader(http.StatusUnprocessableEntity)
		fmt.Fprint(w, `{"message":"No commit found for SHA: x"}`)
		return
	}
	etag := `"` + sha[:12] + `"`
	if r.Header.Get("If-None-Match") == etag {
		g.notModified++
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("ETag", etag)
	fmt.Fprint(w, sha)
}

func newFake(t *testing.T) (*fakeGitHub, *Watcher) {
	g := &fakeGitHub{heads: map[string]string{"filecoin-project/merkletree/master": strings.Repeat("a", 40)}}
	mux := http.NewServeMux()
	mux.Handle("GET /repos/{owner}/{repo}/commits/{ref}", g)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	w := New(srv.URL+"/", "tok")
	w.Client.RetryWaitMin, w.Client.RetryWaitMax = time.Millisecond, 5*time.Millisecond
	w.Client.RetryMax = 1
	return g, w
}

func TestConditionalPolling(t *testing.T) {
	g, w := newFake(t)
	ctx := context.Background()

	sha, changed, err := w.Head(ctx, "filecoin-project/merkletree", "master")
	if err != nil || !changed || sha != strings.Repeat("a", 40) {
		t.Fatalf("first poll = %q, %v, %v; want the head, changed", sha, changed, err)
	}
	sha, changed, err = w.Head(ctx, "filecoin-project/merkletree", "master")
	if err != nil || changed || sha != strings.Repeat("a", 40) {
		t.Fatalf("second poll = %q, %v, %v; want unchanged", sha, changed, err)
	}
	if g.ifNoneMatch[0] != "" || g.ifNoneMatch[1] != `"aaaaaaaaaaaa"` {
		t.Errorf("If-None-Match sent = %q, want none then the ETag", g.ifNoneMatch)
	}
	if g.notModified != 1 {
		t.Errorf("304 answers = %d, want 1", g.notModified)
	}

	g.mu.Lock()
	g.heads["filecoin-project/merkletree/master"] = strings.Repeat("b", 40)
	g.mu.Unlock()
	sha, changed, err = w.Head(ctx, "filecoin-project/merkletree", "master")
	if err != nil || !changed || sha != strings.Repeat("b", 40) {
		t.Fatalf("after push = %q, %v, %v; want the new head, changed", sha, changed, err)
	}
}

func TestHeadErrors(t *testing.T) {
	g, w := newFake(t)
	ctx := context.Background()
	if _, _, err := w.Head(ctx, "filecoin-project/merkletree", "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown branch: err = %v, want ErrNotFound", err)
	}
	for _, repo := range []string{"", "noslash", "a/b/c", "/x"} {
		if _, _, err := w.Head(ctx, repo, "master"); err == nil {
			t.Errorf("repo %q accepted", repo)
		}
	}
	g.mu.Lock()
	g.status = http.StatusForbidden
	g.mu.Unlock()
	_, _, err := w.Head(ctx, "filecoin-project/merkletree", "master")
	if err == nil || !strings.Contains(err.Error(), "rate limit exhausted") {
		t.Errorf("rate limited: err = %v, want a rate-limit message", err)
	}
}

func TestHeadRejectsNonSHA(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"sha": "not the sha media type"}`)
	}))
	defer srv.Close()
	w := New(srv.URL, "")
	if _, _, err := w.Head(context.Background(), "o/r", "main"); err == nil || !strings.Contains(err.Error(), "not a commit id") {
		t.Errorf("err = %v, want a not-a-commit-id error", err)
	}
}

func TestWatchReportsMovesOnly(t *testing.T) {
	g, w := newFake(t)
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var seen []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Watch(ctx, []Target{{Component: "merkletree", Repo: "filecoin-project/merkletree", Branch: "master"}}, 5*time.Millisecond,
			func(_ context.Context, tg Target, sha string) error {
				mu.Lock()
				seen = append(seen, tg.Component+"@"+sha[:1])
				n := len(seen)
				mu.Unlock()
				if n == 1 {
					g.mu.Lock()
					g.heads["filecoin-project/merkletree/master"] = strings.Repeat("c", 40)
					g.mu.Unlock()
				} else {
					cancel()
				}
				return nil
			}, func(_ Target, err error) { t.Errorf("watch error: %v", err) })
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("watch did not report the move")
	}
	if len(seen) != 2 || seen[0] != "merkletree@a" || seen[1] != "merkletree@c" {
		t.Errorf("changes = %v, want the first head then the moved one", seen)
	}
}
