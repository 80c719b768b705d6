package forge

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/google/go-github/v66/github"
)

// CommitFiles makes branch hold base's current tree with files added or
// replaced, as one commit on top of branch's head (or of base's head when
// branch does not exist yet, which creates it). base "" means the
// repository's default branch.
//
// Git trees are content-addressed, so the new tree is computed first (POST
// git/trees has no effect of its own) and compared with the tree of branch's
// head: equal means nothing changed, no commit is made and the head is
// returned with changed = false. The same comparison makes a retry after a
// lost answer a no-op: a commit that reached the branch is recognised by its
// tree.
func (c *Client) CommitFiles(ctx context.Context, owner, repo, branch, base string, files map[string][]byte, message string) (commit string, changed bool, err error) {
	if base == "" {
		r, _, err := c.GH.Repositories.Get(ctx, owner, repo)
		if err != nil {
			return "", false, fmt.Errorf("github: %s/%s: %w", owner, repo, err)
		}
		base = r.GetDefaultBranch()
	}
	baseHead, err := c.BranchHead(ctx, owner, repo, base)
	if err != nil {
		return "", false, fmt.Errorf("github: base of %s: %w", branch, err)
	}
	baseTree, err := c.treeOf(ctx, owner, repo, baseHead)
	if err != nil {
		return "", false, err
	}
	paths := slices.Sorted(maps.Keys(files))
	entries := make([]*github.TreeEntry, 0, len(paths))
	for _, p := range paths {
		entries = append(entries, &github.TreeEntry{Path: github.String(p), Mode: github.String("100644"), Type: github.String("blob"), Content: github.String(string(files[p]))})
	}
	tree, _, err := c.GH.Git.CreateTree(ctx, owner, repo, baseTree, entries)
	if err != nil {
		return "", false, fmt.Errorf("github: tree for %s/%s %s: %w", owner, repo, branch, err)
	}
	head, err := c.BranchHead(ctx, owner, repo, branch)
	exists := err == nil
	switch {
	case exists:
		t, err := c.treeOf(ctx, owner, repo, head)
		if err != nil {
			return "", false, err
		}
		if t == tree.GetSHA() {
			return head, false, nil
		}
	case isNotFound(err):
		head = baseHead
	default:
		return "", false, err
	}
	made, _, err := c.GH.Git.CreateCommit(ctx, owner, repo, &github.Commit{
		Message: github.String(message), Tree: &github.Tree{SHA: tree.SHA}, Parents: []*github.Commit{{SHA: github.String(head)}},
	}, nil)
	if err != nil {
		return "", false, fmt.Errorf("github: commit on %s/%s %s: %w", owner, repo, branch, err)
	}
	sha := made.GetSHA()
	if !exists {
		created, err := c.createRef(ctx, owner, repo, "refs/heads/"+branch, sha)
		if err != nil {
			return "", false, err
		}
		if !created {
			// Someone (or our own lost attempt) created it meanwhile: start over on its head.
			return c.CommitFiles(ctx, owner, repo, branch, base, files, message)
		}
		return sha, true, nil
	}
	ref := "refs/heads/" + branch
	if _, _, err := c.GH.Git.UpdateRef(ctx, owner, repo, &github.Reference{Ref: &ref, Object: &github.GitObject{SHA: &sha}}, false); err != nil {
		return "", false, fmt.Errorf("github: move %s/%s %s to %s: %w", owner, repo, branch, sha, err)
	}
	return sha, true, nil
}

// treeOf returns the tree sha of a commit.
func (c *Client) treeOf(ctx context.Context, owner, repo, sha string) (string, error) {
	cm, _, err := c.GH.Git.GetCommit(ctx, owner, repo, sha)
	if err != nil {
		return "", fmt.Errorf("github: commit %s of %s/%s: %w", sha, owner, repo, err)
	}
	return cm.GetTree().GetSHA(), nil
}
