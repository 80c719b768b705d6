// Package headwatch polls GitHub for branch heads when webhooks are not
// available. It asks with conditional requests (If-None-Match with the last
// ETag): GitHub answers an unchanged branch with 304 Not Modified, which does
// not count against the API rate limit, so watching costs nothing while
// nothing moves.
package headwatch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/ironworks-ci/ironworks/coordinator/forge"
	"github.com/ironworks-ci/ironworks/coordinator/metrics"
)

// Target is one followed branch on GitHub.
type Target struct {
	Component string
	Repo      string // owner/name
	Branch    string
}

// Watcher remembers each branch's last head and ETag.
type Watcher struct {
	// APIURL is GitHub's REST root, e.g. https://api.github.com/.
	APIURL string
	// Token authenticates (a higher rate limit, private repositories); optional.
	Token  string
	Client *retryablehttp.Client

	mu    sync.Mutex
	known map[string]head
}

type head struct {
	sha, etag string
}

// New returns a Watcher with a retrying client (backoff with jitter,
// honouring Retry-After).
func New(apiURL, token string) *Watcher {
	c := retryablehttp.NewClient()
	c.Logger = nil
	c.RetryMax = 4
	c.RetryWaitMin = 500 * time.Millisecond
	c.RetryWaitMax = 30 * time.Second
	c.HTTPClient.Timeout = 30 * time.Second
	return &Watcher{APIURL: apiURL, Token: token, Client: c}
}

// ErrNotFound means the repository or branch does not exist (or the token
// may not see it).
var ErrNotFound = errors.New("headwatch: repository or branch not found")

// Head returns the commit branch of repo points at, and whether it differs
// from what the previous call returned (the first call always reports a change).
func (w *Watcher) Head(ctx context.Context, repo, branch string) (sha string, changed bool, err error) {
	owner, name, ok := strings.Cut(repo, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return "", false, fmt.Errorf("headwatch: repository %q: want owner/name", repo)
	}
	if branch == "" {
		return "", false, errors.New("headwatch: empty branch")
	}
	key := repo + "\x00" + branch
	w.mu.Lock()
	prev := w.known[key]
	w.mu.Unlock()

	u := strings.TrimSuffix(w.APIURL, "/") + "/repos/" + url.PathEscape(owner) + "/" + url.PathEscape(name) + "/commits/" + url.PathEscape(branch)
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", false, fmt.Errorf("headwatch: %w", err)
	}
	// The sha media type answers with the bare commit id: the smallest response.
	req.Header.Set("Accept", "application/vnd.github.sha")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	req.Header.Set("User-Agent", "ironworks-headwatch")
	if w.Token != "" {
		req.Header.Set("Authorization", "Bearer "+w.Token)
	}
	if prev.etag != "" {
		req.Header.Set("If-None-Match", prev.etag)
	}
	resp, err := w.Client.Do(req)
	if err != nil {
		metrics.ObserveRemote("github", 0)
		return "", false, fmt.Errorf("headwatch: %s %s: %w", repo, branch, err)
	}
	defer resp.Body.Close()
	metrics.ObserveRemote("github", resp.StatusCode)
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", false, fmt.Errorf("headwatch: %s %s: reading response: %w", repo, branch, err)
	}
	switch resp.StatusCode {
	case http.StatusNotModified:
		if prev.sha == "" {
			return "", false, fmt.Errorf("headwatch: %s %s: 304 without a previous answer", repo, branch)
		}
		return prev.sha, false, nil
	case http.StatusOK:
	case http.StatusNotFound, http.StatusUnprocessableEntity:
		return "", false, fmt.Errorf("%w: %s branch %s", ErrNotFound, repo, branch)
	default:
		msg := strings.TrimSpace(string(body))
		if resp.Header.Get("X-RateLimit-Remaining") == "0" {
			msg = "rate limit exhausted until " + resp.Header.Get("X-RateLimit-Reset") + ": " + msg
		}
		return "", false, fmt.Errorf("headwatch: %s %s: HTTP %d: %s", repo, branch, resp.StatusCode, truncate(msg, 200))
	}
	sha = strings.TrimSpace(string(body))
	if !forge.IsSHA(sha) {
		return "", false, fmt.Errorf("headwatch: %s %s: response %q is not a commit id (expected the application/vnd.github.sha media type)", repo, branch, truncate(sha, 80))
	}
	w.mu.Lock()
	if w.known == nil {
		w.known = map[string]head{}
	}
	w.known[key] = head{sha: sha, etag: resp.Header.Get("ETag")}
	w.mu.Unlock()
	return sha, sha != prev.sha, nil
}

// Watch polls every target each interval and calls changed for each head
// that moved (and for every target on the first round). Errors of one target
// are reported to onErr and do not stop the others. It returns when ctx ends.
func (w *Watcher) Watch(ctx context.Context, targets []Target, interval time.Duration, changed func(ctx context.Context, t Target, sha string) error, onErr func(Target, error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		for _, tg := range targets {
			sha, moved, err := w.Head(ctx, tg.Repo, tg.Branch)
			if err == nil && moved {
				err = changed(ctx, tg, sha)
			}
			if err != nil && ctx.Err() == nil && onErr != nil {
				onErr(tg, err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
