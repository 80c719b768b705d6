package forge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/go-github/v66/github"
)

// ErrConflict means a merge could not be made without conflicts.
var ErrConflict = errors.New("merge conflict")

// PromotionMessage is the commit message of a staging merge: a subject and
// the trailers that tie the merge to its pull request.
func PromotionMessage(prURL string, number int, title, head, headRef string, at time.Time) string {
	return fmt.Sprintf("Promote #%d to staging: %s\n\nPR: %s\nHead: %s\nHead-Ref: %s\nPromoted-At: %s\n",
		number, title, prURL, head, headRef, at.UTC().Format(time.RFC3339))
}

// Merge creates a merge commit of head (a sha or branch) into base through
// POST /repos/{o}/{r}/merges, always a real merge commit (no fast-forward).
// When head is already contained in base GitHub answers 204: merged is false
// and sha is base's head.
func (c *Client) Merge(ctx context.Context, owner, repo, base, head, msg string) (sha string, merged bool, err error) {
	commit, resp, err := c.GH.Repositories.Merge(ctx, owner, repo, &github.RepositoryMergeRequest{Base: &base, Head: &head, CommitMessage: &msg})
	if err != nil {
		switch status(err) {
		case http.StatusConflict:
			return "", false, fmt.Errorf("github: merge %s into %s/%s %s: %w", head, owner, repo, base, ErrConflict)
		case http.StatusNotFound:
			// Both wrapped: callers test ErrNotFound and read GitHub's answer.
			return "", false, fmt.Errorf("github: merge %s into %s/%s %s: %w: %w", head, owner, repo, base, err, ErrNotFound)
		}
		return "", false, fmt.Errorf("github: merge %s into %s/%s %s: %w", head, owner, repo, base, err)
	}
	if resp.StatusCode == http.StatusNoContent {
		h, err := c.BranchHead(ctx, owner, repo, base)
		return h, false, err
	}
	return commit.GetSHA(), true, nil
}
