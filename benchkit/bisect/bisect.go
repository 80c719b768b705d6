// Package bisect finds the first commit of an ordered list at which a
// benchmark regressed, in about log2(N) benchmark rounds.
package bisect

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// Outcome of measuring one commit against the good one.
type Outcome int

const (
	Good Outcome = iota // no regression at this commit
	Bad                 // regressed at this commit
	Skip                // could not tell (inconclusive, or it does not build)
)

func (o Outcome) String() string {
	return [...]string{"good", "bad", "skip"}[o]
}

// Probe measures commit and compares it with the good commit.
type Probe func(ctx context.Context, commit string) (Outcome, error)

// Result of a bisection.
type Result struct {
	// Culprit is the first bad commit. When skipped commits sit just before it,
	// Suspects lists them with it, oldest first: the regression is in one of them.
	Culprit  string            `json:"culprit"`
	Suspects []string          `json:"suspects"`
	Rounds   int               `json:"rounds"`
	Probed   map[string]string `json:"probed"` // commit -> good|bad|skip
}

// Run bisects commits, ordered oldest first, where commits[0] is known good and
// the last is known bad; neither end is measured.
func Run(ctx context.Context, commits []string, probe Probe) (*Result, error) {
	if len(commits) < 2 {
		return nil, errors.New("bisect: need a good and a bad commit")
	}
	res := &Result{Probed: map[string]string{}}
	lo, hi := 0, len(commits)-1 // commits[lo] good, commits[hi] bad
	skipped := map[int]bool{}
	for hi-lo > 1 {
		mid := pick(lo, hi, skipped)
		if mid < 0 {
			break // every commit between lo and hi was skipped
		}
		out, err := probe(ctx, commits[mid])
		res.Rounds++
		if err != nil {
			return res, fmt.Errorf("bisect: probe %s: %w", commits[mid], err)
		}
		res.Probed[commits[mid]] = out.String()
		switch out {
		case Good:
			lo = mid
		case Bad:
			hi = mid
		default:
			skipped[mid] = true
		}
	}
	res.Culprit = commits[hi]
	for i := lo + 1; i <= hi; i++ {
		res.Suspects = append(res.Suspects, commits[i])
	}
	return res, nil
}

// pick returns the unskipped index nearest the middle of (lo, hi), or -1.
func pick(lo, hi int, skipped map[int]bool) int {
	mid := (lo + hi) / 2
	for d := 0; d < hi-lo; d++ {
		for _, i := range []int{mid - d, mid + d} {
			if i > lo && i < hi && !skipped[i] {
				return i
			}
		}
	}
	return -1
}

// Commits lists good, then every commit on the ancestry path from good to bad,
// oldest first, from the git repository at dir.
func Commits(ctx context.Context, dir, good, bad string) ([]string, error) {
	g, err := Resolve(ctx, dir, good)
	if err != nil {
		return nil, err
	}
	b, err := Resolve(ctx, dir, bad)
	if err != nil {
		return nil, err
	}
	out, err := exec.CommandContext(ctx, "git", "-C", dir, "rev-list", "--reverse", "--ancestry-path", g+".."+b).Output()
	if err != nil {
		return nil, fmt.Errorf("bisect: git rev-list %s..%s: %w", good, bad, err)
	}
	list := append([]string{g}, strings.Fields(string(out))...)
	if len(list) < 2 {
		return nil, fmt.Errorf("bisect: %s is not an ancestor of %s", good, bad)
	}
	return list, nil
}

// Resolve returns the commit rev names in the git repository at dir.
func Resolve(ctx context.Context, dir, rev string) (string, error) {
	out, err := exec.CommandContext(ctx, "git", "-C", dir, "rev-parse", "--verify", rev+"^{commit}").Output()
	if err != nil {
		return "", fmt.Errorf("bisect: %s is not a commit in %s", rev, dir)
	}
	return strings.TrimSpace(string(out)), nil
}

// Worktree checks commit out in a detached worktree of the repository at dir
// under path; the returned function removes it.
func Worktree(ctx context.Context, dir, path, commit string) (func(), error) {
	if out, err := exec.CommandContext(ctx, "git", "-C", dir, "worktree", "add", "--force", "--detach", path, commit).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("bisect: worktree of %s: %v: %s", commit, err, out)
	}
	return func() {
		_ = exec.Command("git", "-C", dir, "worktree", "remove", "--force", path).Run()
	}, nil
}
