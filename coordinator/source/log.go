package source

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// Log lists up to n commits reachable from rev along first parents, newest
// first: what the web UI shows as a branch's recent history.
func (m *Mirrors) Log(ctx context.Context, component, rev string, n int) ([]Commit, error) {
	if n <= 0 {
		n = 1
	}
	out, err := git(ctx, m.Path(component), "log", "--first-parent", "-n", strconv.Itoa(n), "--format=%H%x00%s%x00%an <%ae>", rev, "--")
	if err != nil {
		return nil, fmt.Errorf("log of %s at %s: %w", component, rev, err)
	}
	var cs []Commit
	for _, line := range strings.Split(out, "\n") {
		f := strings.SplitN(line, "\x00", 3)
		if len(f) == 3 {
			cs = append(cs, Commit{Rev: f[0], Subject: f[1], Author: f[2]})
		}
	}
	return cs, nil
}

// Describe returns the subject and author of one commit.
func (m *Mirrors) Describe(ctx context.Context, component, rev string) (Commit, error) {
	cs, err := m.Log(ctx, component, rev, 1)
	if err != nil {
		return Commit{}, err
	}
	if len(cs) == 0 {
		return Commit{}, fmt.Errorf("%s: no commit %s", component, rev)
	}
	return cs[0], nil
}
