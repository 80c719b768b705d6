package forge

import (
	"context"
	"fmt"
	"unicode/utf8"

	"github.com/google/go-github/v66/github"
)

// Status is one commit status.
type Status struct {
	State       string // pending | success | failure | error
	Context     string // e.g. ironworks/forge
	Description string
	TargetURL   string
}

// maxDescription is GitHub's limit on a status description.
const maxDescription = 140

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// SetStatus creates a commit status. Setting the same status again is
// harmless: GitHub shows the newest per context.
func (c *Client) SetStatus(ctx context.Context, owner, repo, sha string, s Status) error {
	switch s.State {
	case "pending", "success", "failure", "error":
	default:
		return fmt.Errorf("github: status state %q: want pending, success, failure or error", s.State)
	}
	if s.Context == "" {
		return fmt.Errorf("github: status without a context")
	}
	st := &github.RepoStatus{
		State:       github.String(s.State),
		Context:     github.String(s.Context),
		Description: github.String(truncate(s.Description, maxDescription)),
	}
	if s.TargetURL != "" {
		st.TargetURL = github.String(s.TargetURL)
	}
	if _, _, err := c.GH.Repositories.CreateStatus(ctx, owner, repo, sha, st); err != nil {
		return fmt.Errorf("github: status %s on %s/%s@%s: %w", s.Context, owner, repo, sha, err)
	}
	return nil
}
