package forge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-github/v66/github"
)

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// Ref returns the sha a ref ("tags/v1.0", "heads/main") points at.
func (c *Client) Ref(ctx context.Context, owner, repo, ref string) (string, error) {
	r, _, err := c.GH.Git.GetRef(ctx, owner, repo, strings.TrimPrefix(ref, "refs/"))
	if err != nil {
		if status(err) == http.StatusNotFound {
			return "", fmt.Errorf("github: %s/%s %s: %w", owner, repo, ref, ErrNotFound)
		}
		return "", fmt.Errorf("github: %s/%s %s: %w", owner, repo, ref, err)
	}
	return r.GetObject().GetSHA(), nil
}

// ErrTagMoved means a tag already exists and points at another commit.
var ErrTagMoved = errors.New("tag exists at another commit")

// CreateTag creates the lightweight tag refs/tags/<tag> at sha. It looks
// first, so a re-run after a crash never creates it twice; an existing tag at
// the same sha (or a 422 "Reference already exists" race ending there) is
// success with created = false; at another sha it is ErrTagMoved.
func (c *Client) CreateTag(ctx context.Context, owner, repo, tag, sha string) (created bool, err error) {
	ref := "refs/tags/" + tag
	check := func() (bool, error) {
		got, err := c.Ref(ctx, owner, repo, ref)
		if err != nil {
			return false, err
		}
		if got != sha {
			return false, fmt.Errorf("github: %s/%s tag %s points at %s, not %s: %w", owner, repo, tag, got, sha, ErrTagMoved)
		}
		return true, nil
	}
	if ok, err := check(); ok {
		return false, nil
	} else if !isNotFound(err) {
		return false, err
	}
	created, err = c.createRef(ctx, owner, repo, ref, sha)
	if err != nil {
		return false, err
	}
	if !created {
		if _, err := check(); err != nil {
			return false, err
		}
	}
	return created, nil
}

// createRef creates a ref; an existing one gives created = false.
func (c *Client) createRef(ctx context.Context, owner, repo, ref, sha string) (bool, error) {
	_, _, err := c.GH.Git.CreateRef(ctx, owner, repo, &github.Reference{Ref: &ref, Object: &github.GitObject{SHA: &sha}})
	if err != nil {
		if status(err) == http.StatusUnprocessableEntity && strings.Contains(message(err), "already exists") {
			return false, nil
		}
		return false, fmt.Errorf("github: create %s in %s/%s at %s: %w", ref, owner, repo, sha, err)
	}
	return true, nil
}
