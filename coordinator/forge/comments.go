package forge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-github/v66/github"

	"github.com/ironworks-ci/ironworks/coordinator/httpretry"
)

// Marker identifies the coordinator's one comment on a pull request.
const Marker = "<!-- ironworks:pr-comment -->"

// UpsertComment keeps exactly one comment carrying marker on a pull request:
// it edits the comment knownID (when it still exists), else the first
// comment whose body starts with marker, else creates one. It returns the
// comment's id, which the caller remembers to skip the search next time.
// Because it looks before it writes, a crash between creating the comment and
// remembering its id cannot produce a second comment.
func (c *Client) UpsertComment(ctx context.Context, owner, repo string, pr int, marker, body string, knownID int64) (int64, error) {
	full := marker + "\n" + body
	if knownID != 0 {
		_, _, err := c.GH.Issues.EditComment(ctx, owner, repo, knownID, &github.IssueComment{Body: github.String(full)})
		if err == nil {
			return knownID, nil
		}
		var ge *github.ErrorResponse
		if !errors.As(err, &ge) || ge.Response == nil || ge.Response.StatusCode != http.StatusNotFound {
			return 0, fmt.Errorf("github: edit comment %d on %s/%s#%d: %w", knownID, owner, repo, pr, err)
		}
		// Deleted by someone: find another or start anew.
	}
	// Look before every create: a create whose answer was lost may have
	// made the comment, and a second POST would make a second one.
	var createErr error
	for attempt := 0; attempt < 3; attempt++ {
		id, existing, err := c.findComment(ctx, owner, repo, pr, marker)
		if err != nil {
			return 0, err
		}
		if id != 0 {
			if existing == full {
				return id, nil
			}
			if _, _, err := c.GH.Issues.EditComment(ctx, owner, repo, id, &github.IssueComment{Body: github.String(full)}); err != nil {
				return 0, fmt.Errorf("github: edit comment %d on %s/%s#%d: %w", id, owner, repo, pr, err)
			}
			return id, nil
		}
		cm, _, err := c.GH.Issues.CreateComment(httpretry.Once(ctx), owner, repo, pr, &github.IssueComment{Body: github.String(full)})
		if err == nil {
			return cm.GetID(), nil
		}
		createErr = err
		if Permanent(err) || ctx.Err() != nil {
			break
		}
	}
	return 0, fmt.Errorf("github: comment on %s/%s#%d: %w", owner, repo, pr, createErr)
}

func (c *Client) findComment(ctx context.Context, owner, repo string, pr int, marker string) (int64, string, error) {
	opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}}
	for {
		cms, resp, err := c.GH.Issues.ListComments(ctx, owner, repo, pr, opts)
		if err != nil {
			return 0, "", fmt.Errorf("github: comments of %s/%s#%d: %w", owner, repo, pr, err)
		}
		for _, cm := range cms {
			if strings.HasPrefix(cm.GetBody(), marker+"\n") || cm.GetBody() == marker {
				return cm.GetID(), cm.GetBody(), nil
			}
		}
		if resp.NextPage == 0 {
			return 0, "", nil
		}
		opts.Page = resp.NextPage
	}
}
