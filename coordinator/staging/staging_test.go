package staging_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ironworks-ci/ironworks/coordinator/forge"
	"github.com/ironworks-ci/ironworks/coordinator/forge/githubtest"
	"github.com/ironworks-ci/ironworks/coordinator/httpretry"
	"github.com/ironworks-ci/ironworks/coordinator/staging"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

const repo = "filecoin-project/merkletree"

func setup(t *testing.T) (*githubtest.Server, *staging.Promoter, string) {
	gh := githubtest.New()
	t.Cleanup(gh.Close)
	gh.Token = "tok"
	gh.AddRepo(repo, "master", map[string]string{"README": "x"})
	head := gh.CommitTo(repo, "feature", "feature work", map[string]string{"src/lib.rs": "fn f() {}"})
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	p := &staging.Promoter{
		Forge: forge.New(gh.URL(), "tok", forge.RetryingHTTPClient(httpretry.Options{RetryMax: 1, WaitMin: time.Millisecond, WaitMax: time.Millisecond})),
		Store: st, Repo: repo,
		SparkGreen: func(_ context.Context, sha string) (bool, error) { return sha == head, nil },
		Now:        func() time.Time { return time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC) },
	}
	return gh, p, head
}

func TestPromoteReadyPR(t *testing.T) {
	gh, p, head := setup(t)
	gh.AddPull(repo, githubtest.Pull{Number: 12, Title: "Faster hashing", HeadSHA: head, HeadRef: "feature", BaseRef: "master",
		Labels: []string{"ready-for-staging"}, Reviews: []githubtest.Review{
			{User: "bob", State: "CHANGES_REQUESTED"}, {User: "bob", State: "APPROVED"}, {User: "carol", State: "COMMENTED"},
		}})
	ctx := context.Background()
	sha, err := p.Promote(ctx, 12)
	if err != nil {
		t.Fatal(err)
	}
	again, err := p.Promote(ctx, 12)
	if err != nil || again != sha {
		t.Fatalf("second promote: %s %v", again, err)
	}
	merges := gh.Merges()
	if len(merges) != 1 || merges[0].Base != "staging" || merges[0].Head != head || merges[0].SHA != sha {
		t.Fatalf("merges %+v", merges)
	}
	for _, want := range []string{"PR: https://github.com/" + repo + "/pull/12", "Head: " + head, "Head-Ref: feature", "Promoted-At: 2025-03-04T05:06:07Z"} {
		if !strings.Contains(merges[0].Message, want) {
			t.Errorf("message lacks %q:\n%s", want, merges[0].Message)
		}
	}
	if c := gh.CommitInfo(repo, sha); c == nil || len(c.Parents) != 2 {
		t.Errorf("not a merge commit: %+v", c)
	}
}

// A label removed after the merge does not undo it: the head stays merged
// into staging, with no second merge request.
func TestMergedHeadStaysMerged(t *testing.T) {
	gh, p, head := setup(t)
	gh.AddPull(repo, githubtest.Pull{Number: 5, HeadSHA: head, HeadRef: "feature", BaseRef: "master",
		Labels: []string{"ready-for-staging"}, Reviews: []githubtest.Review{{User: "bob", State: "APPROVED"}}})
	ctx := context.Background()
	sha, err := p.Promote(ctx, 5)
	if err != nil {
		t.Fatal(err)
	}
	gh.UpdatePull(repo, 5, func(pr *githubtest.Pull) { pr.Labels = nil })
	again, err := p.Promote(ctx, 5)
	if err != nil || again != sha {
		t.Fatalf("after the label was removed: %q %v, want the merge %s", again, err, sha)
	}
	if n := len(gh.Merges()); n != 1 {
		t.Fatalf("%d merges, want 1", n)
	}
}

func TestNotReadyReasons(t *testing.T) {
	cases := []struct {
		name string
		pull githubtest.Pull
		want string
	}{
		{"draft", githubtest.Pull{Draft: true, Labels: []string{"ready-for-staging"}, Reviews: []githubtest.Review{{User: "a", State: "APPROVED"}}}, "draft"},
		{"no label", githubtest.Pull{Reviews: []githubtest.Review{{User: "a", State: "APPROVED"}}}, `label "ready-for-staging"`},
		{"not approved", githubtest.Pull{Labels: []string{"ready-for-staging"}}, "no approving review"},
		{"changes requested", githubtest.Pull{Labels: []string{"ready-for-staging"}, Reviews: []githubtest.Review{{User: "a", State: "APPROVED"}, {User: "b", State: "CHANGES_REQUESTED"}}}, "changes requested by b"},
		{"dismissed", githubtest.Pull{Labels: []string{"ready-for-staging"}, Reviews: []githubtest.Review{{User: "a", State: "APPROVED"}, {User: "a", State: "DISMISSED"}}}, "no approving review"},
		{"spark red", githubtest.Pull{HeadSHA: strings.Repeat("0", 40), Labels: []string{"ready-for-staging"}, Reviews: []githubtest.Review{{User: "a", State: "APPROVED"}}}, "spark jobs are not all green"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			gh, p, head := setup(t)
			tc.pull.Number = 100 + i
			if tc.pull.HeadSHA == "" {
				tc.pull.HeadSHA = head
			}
			gh.AddPull(repo, tc.pull)
			_, err := p.Promote(context.Background(), tc.pull.Number)
			if !errors.Is(err, staging.ErrNotReady) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if len(gh.Merges()) != 0 {
				t.Error("merged anyway")
			}
		})
	}
}

func TestReviewsPaginated(t *testing.T) {
	gh, p, head := setup(t)
	var reviews []githubtest.Review
	for range 150 {
		reviews = append(reviews, githubtest.Review{User: "a", State: "COMMENTED"})
	}
	reviews = append(reviews, githubtest.Review{User: "z", State: "CHANGES_REQUESTED"})
	reviews = append([]githubtest.Review{{User: "a", State: "APPROVED"}}, reviews...)
	gh.AddPull(repo, githubtest.Pull{Number: 3, HeadSHA: head, Labels: []string{"ready-for-staging"}, Reviews: reviews})
	c, err := p.Check(context.Background(), 3)
	if err != nil || c.Ready || !strings.Contains(strings.Join(c.Reasons, ";"), "changes requested by z") {
		t.Fatalf("%+v %v", c, err)
	}
}

func TestReportFailure(t *testing.T) {
	_, p, _ := setup(t)
	ctx := context.Background()
	for range 2 {
		if err := staging.ReportFailure(ctx, p.Store, staging.Failure{Component: "merkletree", Branch: "staging", Repo: repo, PR: 12, Candidate: "cand", RunID: 9, Stage: "forge", Reason: "Hydra evaluation failed: boom"}); err != nil {
			t.Fatal(err)
		}
	}
	evs, _ := p.Store.EventsOfKind(ctx, staging.EventStagingFailed, "cand")
	if len(evs) != 1 || evs[0].Component != "merkletree" || evs[0].Branch != "staging" || evs[0].Payload["pr"].(float64) != 12 || !strings.Contains(evs[0].Payload["reason"].(string), "boom") {
		t.Fatalf("%+v", evs)
	}
}

// Reasons are said once while they hold; reasons that come back after
// others are said again, so the newest event is always the current word.
func TestReportNotReadyCurrentReasons(t *testing.T) {
	_, p, head := setup(t)
	ctx := context.Background()
	say := func(reasons ...string) {
		t.Helper()
		if err := staging.ReportNotReady(ctx, p.Store, "merkletree", &staging.NotReadyError{Repo: repo, Number: 4, Head: head, Reasons: reasons}); err != nil {
			t.Fatal(err)
		}
	}
	noLabel, noReview := `label "ready-for-staging" is missing`, "no approving review"
	say(noLabel, noReview)
	say(noLabel, noReview)
	say(noReview)
	say(noLabel, noReview)
	evs, _ := p.Store.EventsOfKind(ctx, staging.EventNotReady, "")
	if len(evs) != 3 {
		t.Fatalf("%d events, want 3 (the repeat is one, the return is new)", len(evs))
	}
	s, err := staging.StateOf(ctx, p.Store, repo, 4, head)
	if err != nil || s.Kind != staging.EventNotReady || strings.Join(s.Reasons, "; ") != noLabel+"; "+noReview || s.Refused {
		t.Fatalf("state = %+v %v", s, err)
	}
	if s, _ := staging.StateOf(ctx, p.Store, repo, 4, "other"); s.Kind != "" {
		t.Errorf("another head has state %+v, want nothing said", s)
	}

	// A refusal, then the merge and a staging failure of that head.
	if err := staging.ReportNotReady(ctx, p.Store, "merkletree", &staging.NotReadyError{Repo: repo, Number: 4, Head: head, Reasons: []string{"GitHub refused the merge into staging: 403 Forbidden"}, Refused: true}); err != nil {
		t.Fatal(err)
	}
	if s, _ := staging.StateOf(ctx, p.Store, repo, 4, head); !s.Refused {
		t.Errorf("state after a refusal = %+v, want refused", s)
	}
	if err := staging.ReportMerged(ctx, p.Store, "merkletree", repo, 4, head, "m3rge"); err != nil {
		t.Fatal(err)
	}
	if err := staging.ReportFailure(ctx, p.Store, staging.Failure{Component: "merkletree", Repo: repo, PR: 4, Head: head, RunID: 8, Stage: "forge", Reason: "boom", FailedJob: "merkletree:test"}); err != nil {
		t.Fatal(err)
	}
	s, _ = staging.StateOf(ctx, p.Store, repo, 4, head)
	if s.Kind != staging.EventStagingFailed || s.Merge != "m3rge" || s.Failure != "boom" || s.FailedJob != "merkletree:test" || s.RunID != 8 {
		t.Errorf("state after merge and failure = %+v", s)
	}
}
