// Package headwatch polls GitHub for pull requests when webhooks are not
// available (or one was lost). It asks with conditional requests
// (If-None-Match with the last ETag): GitHub answers an unchanged resource
// with 304 Not Modified, which does not count against the API rate limit, so
// watching costs nothing while nothing moves. The ETags and the answers they
// stand for are kept in a Cache, so that a process started by cron (`run
// --once`) polls as cheaply as the daemon.
package headwatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v66/github"
	"github.com/hashicorp/go-retryablehttp"

	"github.com/ironworks-ci/ironworks/coordinator/forge"
	"github.com/ironworks-ci/ironworks/coordinator/metrics"
)

// Cache keeps the last answer to each URL with its ETag.
type Cache interface {
	// Get returns the stored ETag and body for url; empty when none.
	Get(ctx context.Context, url string) (etag string, body []byte, err error)
	// Put stores them.
	Put(ctx context.Context, url, etag string, body []byte) error
}

// Watcher polls GitHub's REST API with conditional requests.
type Watcher struct {
	// APIURL is GitHub's REST root, e.g. https://api.github.com/.
	APIURL string
	// Token authenticates. GitHub answers 304s free of rate limit only to
	// authenticated requests.
	Token  string
	Client *retryablehttp.Client
	// Cache keeps ETags and answers; nil keeps them in memory.
	Cache Cache

	mu  sync.Mutex
	mem map[string]cached
}

type cached struct {
	etag string
	body []byte
}

// New returns a Watcher with a retrying client (backoff with jitter,
// honouring Retry-After).
func New(apiURL, token string, cache Cache) *Watcher {
	c := retryablehttp.NewClient()
	c.Logger = nil
	c.RetryMax = 4
	c.RetryWaitMin = 500 * time.Millisecond
	c.RetryWaitMax = 30 * time.Second
	c.HTTPClient.Timeout = 30 * time.Second
	// After the last try, hand back GitHub's answer so its status is said.
	c.ErrorHandler = retryablehttp.PassthroughErrorHandler
	return &Watcher{APIURL: apiURL, Token: token, Client: c, Cache: cache}
}

// ErrNotFound means the repository or pull request does not exist (or the
// token may not see it).
var ErrNotFound = errors.New("headwatch: not found")

// maxPages bounds a listing: 100 pages of 100 open pull requests.
const maxPages = 100

// OpenPulls lists the open pull requests of repo ("owner/name"), following
// every page, and reports whether any page changed since the last poll (the
// first poll always reports a change).
func (w *Watcher) OpenPulls(ctx context.Context, repo string) ([]*github.PullRequest, bool, error) {
	owner, name, err := forge.ParseRepo(repo)
	if err != nil {
		return nil, false, fmt.Errorf("headwatch: %w", err)
	}
	var all []*github.PullRequest
	changed := false
	u := w.root() + "repos/" + url.PathEscape(owner) + "/" + url.PathEscape(name) + "/pulls?state=open&per_page=100"
	for page := 0; u != "" && page < maxPages; page++ {
		body, next, moved, err := w.get(ctx, u)
		if err != nil {
			return nil, false, fmt.Errorf("headwatch: open pull requests of %s: %w", repo, err)
		}
		var prs []*github.PullRequest
		if err := json.Unmarshal(body, &prs); err != nil {
			return nil, false, fmt.Errorf("headwatch: open pull requests of %s: %w", repo, err)
		}
		all = append(all, prs...)
		changed = changed || moved
		u = next
	}
	return all, changed, nil
}

// Reviews lists the reviews of pull request number of repo, following every
// page, and reports whether they changed since the last poll.
func (w *Watcher) Reviews(ctx context.Context, repo string, number int) ([]*github.PullRequestReview, bool, error) {
	owner, name, err := forge.ParseRepo(repo)
	if err != nil {
		return nil, false, fmt.Errorf("headwatch: %w", err)
	}
	var all []*github.PullRequestReview
	changed := false
	u := w.root() + "repos/" + url.PathEscape(owner) + "/" + url.PathEscape(name) + "/pulls/" + strconv.Itoa(number) + "/reviews?per_page=100"
	for page := 0; u != "" && page < maxPages; page++ {
		body, next, moved, err := w.get(ctx, u)
		if err != nil {
			return nil, false, fmt.Errorf("headwatch: reviews of %s#%d: %w", repo, number, err)
		}
		var rs []*github.PullRequestReview
		if err := json.Unmarshal(body, &rs); err != nil {
			return nil, false, fmt.Errorf("headwatch: reviews of %s#%d: %w", repo, number, err)
		}
		all = append(all, rs...)
		changed = changed || moved
		u = next
	}
	return all, changed, nil
}

func (w *Watcher) root() string { return strings.TrimSuffix(w.APIURL, "/") + "/" }

// get makes one conditional GET of u. It returns the body (the cached one on
// 304), the next page's URL from the Link header, and whether the answer
// differs from the cached one.
func (w *Watcher) get(ctx context.Context, u string) (body []byte, next string, changed bool, err error) {
	prevTag, prev, err := w.load(ctx, u)
	if err != nil {
		return nil, "", false, err
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, "", false, err
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	req.Header.Set("User-Agent", "ironworks-headwatch")
	if w.Token != "" {
		req.Header.Set("Authorization", "Bearer "+w.Token)
	}
	if prevTag != "" {
		req.Header.Set("If-None-Match", prevTag)
	}
	resp, err := w.Client.Do(req)
	if err != nil {
		metrics.ObserveRemote("github", 0)
		return nil, "", false, err
	}
	defer resp.Body.Close()
	metrics.ObserveRemote("github", resp.StatusCode)
	b, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return nil, "", false, fmt.Errorf("reading response: %w", err)
	}
	switch resp.StatusCode {
	case http.StatusNotModified:
		if prevTag == "" {
			return nil, "", false, errors.New("304 without a previous answer")
		}
		link, body, _ := strings.Cut(string(prev), "\n")
		return []byte(body), link, false, nil
	case http.StatusOK:
	case http.StatusNotFound:
		return nil, "", false, ErrNotFound
	default:
		msg := strings.TrimSpace(string(b))
		if resp.Header.Get("X-RateLimit-Remaining") == "0" {
			msg = "rate limit exhausted until " + resp.Header.Get("X-RateLimit-Reset") + ": " + msg
		}
		return nil, "", false, fmt.Errorf("HTTP %d: %s", resp.StatusCode, truncate(msg, 200))
	}
	next = nextLink(resp.Header.Get("Link"))
	entry := []byte(next + "\n" + string(b))
	changed = prevTag == "" || string(entry) != string(prev)
	if tag := resp.Header.Get("ETag"); tag != "" {
		if err := w.store(ctx, u, tag, entry); err != nil {
			return nil, "", false, err
		}
	}
	return b, next, changed, nil
}

func (w *Watcher) load(ctx context.Context, u string) (string, []byte, error) {
	if w.Cache != nil {
		return w.Cache.Get(ctx, u)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.mem[u]
	return c.etag, c.body, nil
}

func (w *Watcher) store(ctx context.Context, u, etag string, body []byte) error {
	if w.Cache != nil {
		return w.Cache.Put(ctx, u, etag, body)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.mem == nil {
		w.mem = map[string]cached{}
	}
	w.mem[u] = cached{etag, body}
	return nil
}

// nextLink returns the rel="next" URL of a Link header, or "".
func nextLink(h string) string {
	for _, part := range strings.Split(h, ",") {
		u, params, ok := strings.Cut(strings.TrimSpace(part), ";")
		if ok && strings.Contains(params, `rel="next"`) {
			return strings.Trim(strings.TrimSpace(u), "<>")
		}
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
