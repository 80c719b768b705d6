package web

import (
	"context"
	"net/http"
	"time"

	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// PullRequestView is one pull request as the Pull requests page and a PR
// candidate's page show it: its head's spark run, and what the staging flow
// last said of that head (merged, failed in staging, or why not promoted).
type PullRequestView struct {
	Repo      string `json:"repo"` // owner/name
	Number    int    `json:"number"`
	Component string `json:"component"`
	Title     string `json:"title"`
	URL       string `json:"url,omitempty"`
	Head      string `json:"head"`
	// Current is the pull request's head now, when a candidate page shows
	// an older head.
	Current string `json:"current,omitempty"`
	Draft   bool   `json:"draft"`
	Open    bool   `json:"open"`
	// Spark is the newest spark run of a candidate pinning Head; nil when
	// none was made (a draft, or not polled yet).
	Spark          *store.Run `json:"spark,omitempty"`
	SparkCandidate string     `json:"spark_candidate,omitempty"`
	// Merge is the staging merge commit of Head, once merged.
	Merge string `json:"merge,omitempty"`
	// Reasons: why Head is not promoted, the staging flow's latest word;
	// Refused when they are GitHub's final refusal of the merge.
	Reasons []string `json:"reasons,omitempty"`
	Refused bool     `json:"refused,omitempty"`
	// Failure is why the merge commit failed in staging, with its run.
	Failure    string    `json:"failure,omitempty"`
	FailedJob  string    `json:"failed_job,omitempty"`
	FailureRun int64     `json:"failure_run,omitempty"`
	Said       time.Time `json:"said,omitzero"` // when the staging flow last spoke of Head
}

// SparkStatus and SparkLabel classify Spark for display.
func (p *PullRequestView) SparkStatus() string {
	if p.Spark == nil {
		return stNone
	}
	s, _ := runStatus(p.Spark)
	return s
}

// SparkLabel says Spark's state in words.
func (p *PullRequestView) SparkLabel() string {
	if p.Spark == nil {
		if p.Draft {
			return "not built (draft)"
		}
		return "no run"
	}
	_, l := runStatus(p.Spark)
	return l
}

// PullRequests reads the pull requests the coordinator saw (the coordinator
// implements it from its store).
type PullRequests interface {
	// Open lists the open pull requests of followed repositories.
	Open(ctx context.Context) ([]*PullRequestView, error)
	// OfCandidate is the pull request a PR candidate was made for; nil
	// when the coordinator never saw it.
	OfCandidate(ctx context.Context, c *store.Candidate) (*PullRequestView, error)
}

// PullsView is the Pull requests page.
type PullsView struct {
	Enabled bool
	List    []*PullRequestView
}

func (s *Server) pullsPage(w http.ResponseWriter, r *http.Request) {
	v := PullsView{Enabled: s.opts.Pulls != nil}
	if v.Enabled {
		list, err := s.opts.Pulls.Open(r.Context())
		if err != nil {
			s.fail(w, r, err)
			return
		}
		v.List = list
	}
	s.render(w, r, http.StatusOK, "pulls", "Pull requests", v)
}
