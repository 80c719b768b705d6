package forge

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/ironworks-ci/ironworks/coordinator/forge/githubtest"
)

func TestRepoFromURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://github.com/filecoin-project/merkletree":      "filecoin-project/merkletree",
		"https://github.com/filecoin-project/merkletree.git":  "filecoin-project/merkletree",
		"https://github.com/filecoin-project/merkletree/":     "filecoin-project/merkletree",
		"git@github.com:filecoin-project/rust-fil-proofs.git": "filecoin-project/rust-fil-proofs",
		"ssh://git@github.com/o/r":                            "o/r",
		"https://gitlab.com/o/r":                              "",
		"file:///srv/mirror/merkletree.git":                   "",
		"https://github.com/o":                                "",
		"https://github.com/o/r/tree/main":                    "",
	} {
		got, ok := RepoFromURL(in)
		if got != want || ok != (want != "") {
			t.Errorf("RepoFromURL(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "o", "o/", "/r", "o/r/x", "o r/x", "o/.."} {
		if _, _, err := ParseRepo(bad); err == nil {
			t.Errorf("ParseRepo(%q) accepted", bad)
		}
	}
}

func fake(t *testing.T) (*githubtest.Server, *githubtest.PRState, *Client) {
	gh := githubtest.New()
	t.Cleanup(gh.Close)
	prs := gh.EnablePRs()
	prs.Token = "t0ken"
	return gh, prs, New(gh.URL(), "t0ken", nil)
}

func TestPullRequestForCommitAcrossPages(t *testing.T) {
	_, prs, c := fake(t)
	prs.PageSize = 2
	sha := "abc123"
	// Five PRs contain the commit (stacked branches); only #9, on the third
	// page, has it as its head; #3 is closed.
	for i, n := range []int{3, 4, 5, 6, 9} {
		head := fmt.Sprintf("other%d", i)
		if n == 9 {
			head = sha
		}
		st := "open"
		if n == 3 {
			st = "closed"
		}
		prs.AddPR(githubtest.PR{Repo: "o/r", Number: n, State: st, HeadSHA: head, Commits: []string{sha}})
	}
	prs.AddPR(githubtest.PR{Repo: "o/other", Number: 1, HeadSHA: sha})
	n, err := c.PullRequestForCommit(context.Background(), "o", "r", sha)
	if err != nil || n != 9 {
		t.Fatalf("PR = %d, %v; want 9", n, err)
	}
	if calls := prs.Calls("pulls-for-commit"); calls != 3 {
		t.Fatalf("%d calls, want 3 pages", calls)
	}
	if n, err := c.PullRequestForCommit(context.Background(), "o", "r", "nope"); err != nil || n != 0 {
		t.Fatalf("unknown commit: %d %v", n, err)
	}
}

func TestSetStatus(t *testing.T) {
	_, prs, c := fake(t)
	ctx := context.Background()
	long := strings.Repeat("é", 200)
	if err := c.SetStatus(ctx, "o", "r", "abc", Status{State: "error", Context: "ironworks/forge", Description: long, TargetURL: "https://ci/runs/1"}); err != nil {
		t.Fatal(err)
	}
	got := prs.Statuses()
	if len(got) != 1 || got[0].State != "error" || got[0].Context != "ironworks/forge" || len([]rune(got[0].Description)) != 140 {
		t.Fatalf("statuses %+v", got)
	}
	if err := c.SetStatus(ctx, "o", "r", "abc", Status{State: "green", Context: "x"}); err == nil || !strings.Contains(err.Error(), `"green"`) {
		t.Fatalf("bad state: %v", err)
	}
	bad := New(c.GH.BaseURL.String(), "wrong", nil)
	err := bad.SetStatus(ctx, "o", "r", "abc", Status{State: "success", Context: "x"})
	if err == nil || !Permanent(err) || !strings.Contains(err.Error(), "401") {
		t.Fatalf("bad token: %v (permanent %v)", err, Permanent(err))
	}
}

func TestUpsertComment(t *testing.T) {
	_, prs, c := fake(t)
	prs.PageSize = 1
	ctx := context.Background()
	prs.AddComment("o/r", 7, "LGTM")
	prs.AddComment("o/r", 7, "mentions "+Marker+" in the middle")
	id, err := c.UpsertComment(ctx, "o", "r", 7, Marker, "first", 0)
	if err != nil {
		t.Fatal(err)
	}
	// Forgotten id (a crash before it was stored): found by its marker on page 3.
	id2, err := c.UpsertComment(ctx, "o", "r", 7, Marker, "second", 0)
	if err != nil || id2 != id {
		t.Fatalf("second upsert: %d %v; want %d", id2, err, id)
	}
	id3, err := c.UpsertComment(ctx, "o", "r", 7, Marker, "third", id)
	if err != nil || id3 != id {
		t.Fatalf("third upsert: %d %v", id3, err)
	}
	cms := prs.Comments("o/r", 7)
	if len(cms) != 3 || cms[2].Body != Marker+"\nthird" || cms[2].Edits != 2 {
		t.Fatalf("comments %+v", cms)
	}
	// Deleted by a person: a new one appears, once.
	prs.DeleteComment(id)
	id4, err := c.UpsertComment(ctx, "o", "r", 7, Marker, "fourth", id)
	if err != nil || id4 == id {
		t.Fatalf("after delete: %d %v", id4, err)
	}
	if cms := prs.Comments("o/r", 7); len(cms) != 3 {
		t.Fatalf("comments %+v", cms)
	}
}
