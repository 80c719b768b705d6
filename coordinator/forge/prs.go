package forge

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/ironworks-ci/ironworks/coordinator/config"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/google/go-github/v66/github"
)

var repoName = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$`)

// ParseRepo splits "owner/name".
func ParseRepo(s string) (owner, name string, err error) {
	if !repoName.MatchString(s) || strings.HasSuffix(s, "/.") || strings.HasSuffix(s, "/..") {
		return "", "", fmt.Errorf("repository %q: want owner/name", s)
	}
	owner, name, _ = strings.Cut(s, "/")
	return owner, name, nil
}

// RepoFromURL maps a GitHub clone URL (https://github.com/o/r(.git),
// git@github.com:o/r.git, ssh://git@github.com/o/r) to "o/r".
func RepoFromURL(raw string) (string, bool) {
	var path string
	if rest, ok := strings.CutPrefix(raw, "git@github.com:"); ok {
		path = rest
	} else {
		u, err := url.Parse(raw)
		if err != nil || !strings.EqualFold(u.Hostname(), "github.com") {
			return "", false
		}
		path = strings.TrimPrefix(u.Path, "/")
	}
	path = strings.TrimSuffix(strings.TrimSuffix(path, "/"), ".git")
	if _, _, err := ParseRepo(path); err != nil {
		return "", false
	}
	return path, true
}

// RepoOf maps a component to its GitHub owner/name: github.repos first, then
// repoURL (the component's configured repository when empty) when it is a
// GitHub URL. Every concern that talks to GitHub about a component asks here.
func RepoOf(cfg *config.Config, component, repoURL string) (string, bool) {
	if cfg.GitHub != nil {
		if r, ok := cfg.GitHub.Repos[component]; ok && r != "" {
			return strings.TrimSuffix(r, ".git"), true
		}
	}
	if repoURL == "" {
		if a, ok := cfg.Loaded[component]; ok {
			repoURL = a.Repo
		}
	}
	return RepoFromURL(repoURL)
}

// PullRequestsForCommit lists the pull requests that contain sha, following
// every page (the API answers 30 by default; we ask 100 a page).
func (c *Client) PullRequestsForCommit(ctx context.Context, owner, repo, sha string) ([]*github.PullRequest, error) {
	var all []*github.PullRequest
	opts := &github.ListOptions{PerPage: 100}
	for {
		prs, resp, err := c.GH.PullRequests.ListPullRequestsWithCommit(ctx, owner, repo, sha, opts)
		if err != nil {
			return nil, fmt.Errorf("github: pull requests of %s/%s@%s: %w", owner, repo, sha, err)
		}
		all = append(all, prs...)
		if resp.NextPage == 0 {
			return all, nil
		}
		opts.Page = resp.NextPage
	}
}

// PullRequestForCommit returns the open pull request whose head is sha, or
// else an open one that contains it; 0 when there is none.
func (c *Client) PullRequestForCommit(ctx context.Context, owner, repo, sha string) (int, error) {
	prs, err := c.PullRequestsForCommit(ctx, owner, repo, sha)
	if err != nil {
		return 0, err
	}
	best := 0
	for _, pr := range prs {
		if pr.GetState() != "open" {
			continue
		}
		if pr.GetHead().GetSHA() == sha {
			return pr.GetNumber(), nil
		}
		if best == 0 {
			best = pr.GetNumber()
		}
	}
	return best, nil
}

// Permanent reports whether err is a refusal that repeating the same request
// cannot fix (a 4xx other than rate limiting).
func Permanent(err error) bool {
	var ge *github.ErrorResponse
	if !errors.As(err, &ge) || ge.Response == nil {
		return false
	}
	var rl *github.RateLimitError
	var ab *github.AbuseRateLimitError
	if errors.As(err, &rl) || errors.As(err, &ab) {
		return false
	}
	code := ge.Response.StatusCode
	return code >= 400 && code < 500 && code != http.StatusTooManyRequests && code != http.StatusRequestTimeout
}

// Answer is GitHub's answer in err as people read it: "403 Resource not
// accessible by integration"; err's text when it holds no answer.
func Answer(err error) string {
	if code := status(err); code != 0 {
		if msg := message(err); msg != "" {
			return fmt.Sprintf("%d %s", code, msg)
		}
		return fmt.Sprintf("%d %s", code, http.StatusText(code))
	}
	return err.Error()
}

// IsSHA reports whether s is a full commit id (SHA-1, or SHA-256 for
// repositories in that object format).
func IsSHA(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}
