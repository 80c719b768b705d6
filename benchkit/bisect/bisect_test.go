package bisect

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func synthetic(n int) []string {
	c := make([]string, n)
	for i := range c {
		c[i] = fmt.Sprintf("c%02d", i)
	}
	return c
}

// TestSixtyFourCommits puts one regression at every position of 64 commits
// and finds it each time in at most 7 rounds.
func TestSixtyFourCommits(t *testing.T) {
	commits := synthetic(64)
	worst := 0
	for culprit := 1; culprit < len(commits); culprit++ {
		probe := func(_ context.Context, c string) (Outcome, error) {
			var i int
			fmt.Sscanf(c, "c%d", &i)
			if i >= culprit {
				return Bad, nil
			}
			return Good, nil
		}
		res, err := Run(context.Background(), commits, probe)
		if err != nil {
			t.Fatal(err)
		}
		if res.Culprit != commits[culprit] || len(res.Suspects) != 1 {
			t.Fatalf("culprit %d: found %s %v", culprit, res.Culprit, res.Suspects)
		}
		worst = max(worst, res.Rounds)
	}
	if worst > 7 {
		t.Errorf("worst case %d rounds for 64 commits, want <= 7", worst)
	}
	t.Logf("64 commits: worst case %d rounds", worst)
}

func TestSkips(t *testing.T) {
	commits := synthetic(16)
	probe := func(_ context.Context, c string) (Outcome, error) {
		switch c {
		case "c09", "c10":
			return Skip, nil
		}
		if c >= "c10" {
			return Bad, nil
		}
		return Good, nil
	}
	res, err := Run(context.Background(), commits, probe)
	if err != nil {
		t.Fatal(err)
	}
	if res.Culprit != "c11" || strings.Join(res.Suspects, ",") != "c09,c10,c11" {
		t.Errorf("culprit %s suspects %v (probed %v)", res.Culprit, res.Suspects, res.Probed)
	}
	if _, err := Run(context.Background(), commits[:1], probe); err == nil {
		t.Error("one commit accepted")
	}
	failing := func(context.Context, string) (Outcome, error) { return Good, fmt.Errorf("disk full") }
	if _, err := Run(context.Background(), commits, failing); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("probe error: %v", err)
	}
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.org", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.org")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestGitCommitsAndWorktree(t *testing.T) {
	dir := t.TempDir()
	git(t, dir, "init", "-q", "-b", "master")
	var revs []string
	for i := range 5 {
		if err := os.WriteFile(filepath.Join(dir, "size"), []byte(fmt.Sprint(i)), 0o644); err != nil {
			t.Fatal(err)
		}
		git(t, dir, "add", "size")
		git(t, dir, "commit", "-q", "-m", fmt.Sprint(i))
		revs = append(revs, git(t, dir, "rev-parse", "HEAD"))
	}
	list, err := Commits(context.Background(), dir, revs[1], "master")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(list, ",") != strings.Join(revs[1:], ",") {
		t.Fatalf("commits %v, want %v", list, revs[1:])
	}
	wt := filepath.Join(t.TempDir(), "wt")
	done, err := Worktree(context.Background(), dir, wt, revs[2])
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(wt, "size")); string(b) != "2" {
		t.Errorf("worktree holds %q", b)
	}
	done()
	if _, err := os.Stat(wt); !os.IsNotExist(err) {
		t.Error("worktree not removed")
	}
	if _, err := Commits(context.Background(), dir, "nope", "master"); err == nil || !strings.Contains(err.Error(), "nope is not a commit") {
		t.Errorf("bad rev: %v", err)
	}
	if _, err := Commits(context.Background(), dir, revs[3], revs[1]); err == nil {
		t.Error("reversed range accepted")
	}
}
