// Package source keeps a bare mirror of every component's repository and makes
// per-run checkouts at exact revisions. It shells out to git: the mirrors are
// ordinary git repositories an operator can inspect.
package source

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Mirrors manages bare mirrors under Dir, one per component.
type Mirrors struct {
	Dir string
	// Timeout bounds one clone or fetch (default 10 minutes): a remote that
	// accepts the connection and never answers must not hold a pass.
	Timeout time.Duration

	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

// New returns mirrors kept under dir.
func New(dir string) *Mirrors { return &Mirrors{Dir: dir, locks: map[string]*sync.Mutex{}} }

func (m *Mirrors) lock(name string) func() {
	m.mu.Lock()
	l, ok := m.locks[name]
	if !ok {
		l = &sync.Mutex{}
		m.locks[name] = l
	}
	m.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// Path is the bare mirror of a component.
func (m *Mirrors) Path(component string) string { return filepath.Join(m.Dir, component+".git") }

// Sync creates or updates the mirror of component from repo.
func (m *Mirrors) Sync(ctx context.Context, component, repo string) error {
	defer m.lock(component)()
	timeout := m.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := m.sync(ctx, component, repo)
	if err != nil && ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("%s from %s: no answer within %s: %w", component, repo, timeout, err)
	}
	return err
}

func (m *Mirrors) sync(ctx context.Context, component, repo string) error {
	dir := m.Path(component)
	if _, err := os.Stat(filepath.Join(dir, "HEAD")); err != nil {
		if err := os.MkdirAll(m.Dir, 0o755); err != nil {
			return err
		}
		tmp := dir + ".tmp"
		os.RemoveAll(tmp)
		if _, err := git(ctx, "", "clone", "--mirror", "--quiet", repo, tmp); err != nil {
			return fmt.Errorf("mirror %s from %s: %w", component, repo, err)
		}
		return os.Rename(tmp, dir)
	}
	// The configured repo may have changed since the mirror was made.
	if _, err := git(ctx, dir, "remote", "set-url", "origin", repo); err != nil {
		return err
	}
	if _, err := git(ctx, dir, "fetch", "--prune", "--quiet", "origin"); err != nil {
		return fmt.Errorf("fetch %s from %s: %w", component, repo, err)
	}
	return nil
}

// Head resolves a branch of the mirror to a commit.
func (m *Mirrors) Head(ctx context.Context, component, branch string) (string, error) {
	out, err := git(ctx, m.Path(component), "rev-parse", "--verify", "--quiet", "refs/heads/"+branch+"^{commit}")
	if err != nil {
		return "", fmt.Errorf("%s: branch %q not found", component, branch)
	}
	return out, nil
}

// Has reports whether the mirror contains rev.
func (m *Mirrors) Has(ctx context.Context, component, rev string) bool {
	_, err := git(ctx, m.Path(component), "cat-file", "-e", rev+"^{commit}")
	return err == nil
}

// Commit describes one commit for people.
type Commit struct {
	Rev     string `json:"rev"`
	Subject string `json:"subject"`
	Author  string `json:"author"`
}

// Range lists the commits in (from, to], oldest first, following the first
// parent so that a merged branch counts as its merge. An empty from lists to alone.
func (m *Mirrors) Range(ctx context.Context, component, from, to string, limit int) ([]Commit, error) {
	spec := to
	args := []string{"log", "--reverse", "--first-parent", "--format=%H%x00%s%x00%an <%ae>"}
	if from != "" {
		spec = from + ".." + to
	} else {
		args = append(args, "-n", "1")
	}
	out, err := git(ctx, m.Path(component), append(args, spec)...)
	if err != nil {
		return nil, err
	}
	var cs []Commit
	for _, line := range strings.Split(out, "\n") {
		if line == "" {
			continue
		}
		f := strings.SplitN(line, "\x00", 3)
		if len(f) != 3 {
			continue
		}
		cs = append(cs, Commit{Rev: f[0], Subject: f[1], Author: f[2]})
	}
	if limit > 0 && len(cs) > limit {
		cs = cs[len(cs)-limit:]
	}
	return cs, nil
}

// IsAncestor reports whether a is an ancestor of (or equal to) b.
func (m *Mirrors) IsAncestor(ctx context.Context, component, a, b string) bool {
	_, err := git(ctx, m.Path(component), "merge-base", "--is-ancestor", a, b)
	return err == nil
}

// Checkout makes dir a detached checkout (a worktree of the mirror) of
// component at rev. An existing checkout at the same rev is reused as is (a
// resumed run), anything else is replaced.
func (m *Mirrors) Checkout(ctx context.Context, component, rev, dir string) error {
	if _, err := os.Stat(filepath.Join(dir, ".git")); err == nil {
		if out, err := git(ctx, dir, "rev-parse", "HEAD"); err == nil && out == rev {
			if st, _ := git(ctx, dir, "status", "--porcelain", "--untracked-files=no"); st == "" {
				return nil
			}
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	// A worktree of the mirror: one git process, objects shared.
	if _, err := git(ctx, m.Path(component), "worktree", "add", "--detach", "--force", "--quiet", dir, rev); err != nil {
		return fmt.Errorf("checkout %s at %s: %w", component, rev, err)
	}
	return nil
}

// Prune forgets worktrees whose folders were deleted.
func (m *Mirrors) Prune(ctx context.Context, component string) error {
	_, err := git(ctx, m.Path(component), "worktree", "prune")
	return err
}

// URL is a URL for the mirror that tools such as cargo can fetch from.
func (m *Mirrors) URL(component string) string {
	p, err := filepath.Abs(m.Path(component))
	if err != nil {
		p = m.Path(component)
	}
	return "file://" + p
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	// Never prompt for credentials: a coordinator has no terminal.
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=true", "LC_ALL=C",
		// A transfer slower than 1 KB/s for a minute is a dead remote.
		"GIT_HTTP_LOW_SPEED_LIMIT=1000", "GIT_HTTP_LOW_SPEED_TIME=60")
	// The git process, and anything it started, ends with ctx; git also
	// dies with the coordinator (a crash must not leave it changing a
	// checkout that the restarted coordinator reuses).
	cmd.WaitDelay = time.Second
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return "", fmt.Errorf("git %s: %s", args[0], msg)
	}
	return strings.TrimSpace(stdout.String()), nil
}

// Message returns the full commit message of rev.
func (m *Mirrors) Message(ctx context.Context, component, rev string) (string, error) {
	return git(ctx, m.Path(component), "log", "-1", "--format=%B", rev)
}
