package forge

import (
	"context"
	"fmt"
	"net/http"

	"github.com/google/go-github/v66/github"
)

// File reads path at ref (a branch, tag or commit); it returns the content
// and the blob sha that an update must name.
func (c *Client) File(ctx context.Context, owner, repo, ref, path string) (content []byte, blobSHA string, err error) {
	f, _, _, err := c.GH.Repositories.GetContents(ctx, owner, repo, path, &github.RepositoryContentGetOptions{Ref: ref})
	if err != nil {
		if status(err) == http.StatusNotFound {
			return nil, "", fmt.Errorf("github: %s/%s %s@%s: %w", owner, repo, path, ref, ErrNotFound)
		}
		return nil, "", fmt.Errorf("github: get %s/%s %s@%s: %w", owner, repo, path, ref, err)
	}
	if f == nil {
		return nil, "", fmt.Errorf("github: %s/%s %s@%s is a directory", owner, repo, path, ref)
	}
	s, err := f.GetContent()
	if err != nil {
		return nil, "", fmt.Errorf("github: %s/%s %s@%s: %w", owner, repo, path, ref, err)
	}
	return []byte(s), f.GetSHA(), nil
}

// BranchHead returns the commit a branch points at (ErrNotFound if none).
func (c *Client) BranchHead(ctx context.Context, owner, repo, branch string) (string, error) {
	ref, _, err := c.GH.Git.GetRef(ctx, owner, repo, "heads/"+branch)
	if err != nil {
		if status(err) == http.StatusNotFound {
			return "", fmt.Errorf("github: %s/%s branch %s: %w", owner, repo, branch, ErrNotFound)
		}
		return "", fmt.Errorf("github: %s/%s branch %s: %w", owner, repo, branch, err)
	}
	return ref.GetObject().GetSHA(), nil
}

// EnsureBranch returns branch's head, creating the branch at base's head
// first if it does not exist (base "" means the repository's default branch).
func (c *Client) EnsureBranch(ctx context.Context, owner, repo, branch, base string) (string, error) {
	head, err := c.BranchHead(ctx, owner, repo, branch)
	if err == nil {
		return head, nil
	}
	if !isNotFound(err) {
		return "", err
	}
	if base == "" {
		r, _, err := c.GH.Repositories.Get(ctx, owner, repo)
		if err != nil {
			return "", fmt.Errorf("github: %s/%s: %w", owner, repo, err)
		}
		base = r.GetDefaultBranch()
	}
	baseHead, err := c.BranchHead(ctx, owner, repo, base)
	if err != nil {
		return "", fmt.Errorf("github: creating branch %s from %s: %w", branch, base, err)
	}
	if _, err := c.createRef(ctx, owner, repo, "refs/heads/"+branch, baseHead); err != nil {
		return "", err
	}
	return baseHead, nil
}

// WriteFile makes path on branch hold content, creating the branch from base
// if needed. When the file already holds equivalent content (same(old) is
// true, or the bytes are equal when same is nil) it writes nothing and makes
// no commit. It returns the branch head afterwards and whether it committed.
func (c *Client) WriteFile(ctx context.Context, owner, repo, branch, base, path string, content []byte, message string, same func(old []byte) bool) (commit string, changed bool, err error) {
	head, err := c.EnsureBranch(ctx, owner, repo, branch, base)
	if err != nil {
		return "", false, err
	}
	old, blob, err := c.File(ctx, owner, repo, branch, path)
	switch {
	case err == nil:
		eq := string(old) == string(content)
		if same != nil {
			eq = same(old)
		}
		if eq {
			return head, false, nil
		}
	case isNotFound(err):
		blob = ""
	default:
		return "", false, err
	}
	opts := &github.RepositoryContentFileOptions{Message: &message, Content: content, Branch: &branch}
	if blob != "" {
		opts.SHA = &blob
	}
	res, _, err := c.GH.Repositories.UpdateFile(ctx, owner, repo, path, opts)
	if err != nil {
		return "", false, fmt.Errorf("github: write %s/%s %s on %s: %w", owner, repo, path, branch, err)
	}
	return res.Commit.GetSHA(), true, nil
}
