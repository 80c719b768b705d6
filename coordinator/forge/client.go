// Package forge is the coordinator's GitHub client: lock files on lock
// branches, tags, staging merges (this file set), commit statuses, PR
// comments and PR lookup (statuses.go, comments.go, prs.go). Every call goes
// through go-retryablehttp with backoff and jitter, honouring Retry-After and
// GitHub's rate-limit headers.
package forge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-github/v66/github"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/httpretry"
)

// ErrNotFound is a 404 from GitHub.
var ErrNotFound = errors.New("github: not found")

// Client wraps go-github with the calls Ironworks makes.
type Client struct {
	GH *github.Client
}

// New returns a client for the REST API at apiURL ("https://api.github.com/"
// or an in-test server) authenticated with token. A nil httpClient gets a
// retrying one.
func New(apiURL, token string, httpClient *http.Client) *Client {
	if httpClient == nil {
		httpClient = RetryingHTTPClient(httpretry.Options{})
	}
	gh := github.NewClient(httpClient)
	if token != "" {
		gh = gh.WithAuthToken(token)
	}
	if apiURL != "" {
		if !strings.HasSuffix(apiURL, "/") {
			apiURL += "/"
		}
		if u, err := url.Parse(apiURL); err == nil {
			gh.BaseURL = u
		}
	}
	return &Client{GH: gh}
}

// NewFromConfig builds a client from the [github] section, reading the token
// from token_file (never logged).
func NewFromConfig(cfg *config.GitHub) (*Client, error) {
	if cfg == nil {
		return nil, errors.New("github: no [github] section configured")
	}
	apiURL := cfg.APIURL
	if apiURL == "" {
		apiURL = "https://api.github.com/"
	}
	if u, err := url.Parse(apiURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("github: api_url %q: want http(s)://host/", cfg.APIURL)
	}
	token := ""
	if cfg.TokenFile != "" {
		b, err := os.ReadFile(cfg.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("github: token_file: %w", err)
		}
		token = strings.TrimSpace(string(b))
		if token == "" {
			return nil, fmt.Errorf("github: token_file %s is empty", cfg.TokenFile)
		}
	}
	return New(apiURL, token, nil), nil
}

// RetryingHTTPClient returns an *http.Client that retries 5xx, 429 and
// GitHub's rate-limit 403s with backoff.
func RetryingHTTPClient(o httpretry.Options) *http.Client {
	o.FollowRedirs = true
	rc := httpretry.New(o)
	rc.CheckRetry = checkRetry
	inner := rc.Backoff
	rc.Backoff = func(lo, hi time.Duration, n int, resp *http.Response) time.Duration {
		if resp != nil && resp.Header.Get("Retry-After") == "" && resp.Header.Get("X-RateLimit-Remaining") == "0" {
			if reset, err := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64); err == nil {
				return min(max(time.Until(time.Unix(reset, 0)), lo), 2*time.Minute)
			}
		}
		return inner(lo, hi, n, resp)
	}
	return rc.StandardClient()
}

func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if resp != nil && resp.StatusCode == http.StatusForbidden &&
		(resp.Header.Get("Retry-After") != "" || resp.Header.Get("X-RateLimit-Remaining") == "0") {
		return true, nil
	}
	return httpretry.CheckRetry(ctx, resp, err)
}

// status returns the HTTP status of a go-github error, 0 if none.
func status(err error) int {
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return er.Response.StatusCode
	}
	return 0
}

func message(err error) string {
	var er *github.ErrorResponse
	if errors.As(err, &er) {
		return er.Message
	}
	return ""
}

// SplitRepo splits "owner/name".
func SplitRepo(full string) (owner, name string, err error) {
	full = strings.TrimSuffix(strings.TrimPrefix(full, "https://github.com/"), ".git")
	o, n, ok := strings.Cut(full, "/")
	if !ok || o == "" || n == "" || strings.Contains(n, "/") {
		return "", "", fmt.Errorf("github: %q is not owner/name", full)
	}
	return o, n, nil
}
