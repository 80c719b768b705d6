package main

import (
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"

	"github.com/ironworks-ci/ironworks/coordinator/forge/githubtest"
)

// A PR merged into staging that breaks forge there: the failure appears on
// the PR (a failure status ironworks/staging on its head with the run's
// link, and the staging row of its one comment naming the failed job with
// its log) and in the mail of the component's subscribers, with the PR
// number and the reason, over a real SMTP server on loopback.
func TestStagingFailureReachesPRAndMail(t *testing.T) {
	mb := startLoopbackSMTP(t)
	host, port, _ := net.SplitHostPort(mb.addr)
	e := newPollEnvWith(t, `branches = ["staging"]`, fmt.Sprintf(`[web]
url = "https://ci.example.org"
[smtp]
host = %q
port = %s
from = "ci@example.org"
tls = "none"
`, host, port))
	e.repo.Git("branch", "staging", "master")
	for _, sub := range [][]string{
		{"--email", "dev@example.org", "--component", "app", "--events", "staging-failed"},
		{"--email", "other@example.org", "--component", "app", "--branch", "master", "--events", "staging-failed"},
	} {
		if out, err := exec.Command(e.bin, append([]string{"subscribe", "--config", e.cfg}, sub...)...).CombinedOutput(); err != nil {
			t.Fatalf("subscribe: %v\n%s", err, out)
		}
	}
	// Spark passes on the PR; forge fails on what it brings.
	feat := e.branch(t, "feature", map[string]string{"broken.txt": "x\n"})
	e.gh.AddPull("o/app", githubtest.Pull{Number: 5, Title: "Feature", HeadSHA: feat, HeadRef: "feature", BaseRef: "master",
		Labels: []string{"ready-for-staging"}, Reviews: []githubtest.Review{{User: "reviewer", State: "APPROVED"}}})
	if code, out := e.once(t); code != exitOK {
		t.Fatalf("first pass: exit %d\n%s", code, out)
	}
	merges := e.gh.Merges()
	if len(merges) != 1 || merges[0].Head != feat {
		t.Fatalf("merges = %+v, want #5 merged into staging", merges)
	}
	// The double keeps its own commits, not git objects: the merge GitHub
	// made is replayed in the repository the coordinator fetches, with the
	// message the coordinator gave it.
	e.repo.Git("checkout", "-q", "staging")
	e.repo.Git("merge", "-q", "--no-ff", "-m", merges[0].Message, feat)
	e.repo.Git("checkout", "-q", "master")

	code, out := e.once(t)
	if code != exitGate {
		t.Fatalf("pass on the broken staging branch: exit %d, want %d\n%s", code, exitGate, out)
	}
	var st *githubtest.Status
	for _, s := range e.prs.Statuses() {
		if s.SHA == feat && s.Context == "ironworks/staging" && s.State == "failure" {
			s := s
			st = &s
		}
	}
	if st == nil || !strings.HasPrefix(st.TargetURL, "https://ci.example.org/runs/") || !strings.Contains(st.Description, "PR #5 failed in staging") {
		t.Fatalf("no ironworks/staging failure with the run's link on the PR head: %+v (all %+v)", st, e.prs.Statuses())
	}
	body := e.comment(t, 5)
	for _, want := range []string{"| staging | ❌ failure | failed |", "PR #5 failed in staging (forge)", "app:check", "[log](https://ci.example.org/artifacts/logs/", "](https://ci.example.org/runs/"} {
		if !strings.Contains(body, want) {
			t.Errorf("the comment lacks %q:\n%s", want, body)
		}
	}
	mails := mb.received()
	if len(mails) != 1 {
		t.Fatalf("%d e-mails, want one to the subscriber of app (the other follows master only):\n%s", len(mails), strings.Join(mails, "\n----\n"))
	}
	m := mails[0]
	subject := ""
	for _, line := range strings.Split(m, "\n") {
		if v, ok := strings.CutPrefix(line, "Subject: "); ok {
			subject = strings.TrimSpace(v)
		}
	}
	if !strings.Contains(m, "dev@example.org") || !strings.Contains(subject, "PR #5 failed in staging (forge)") || !strings.Contains(subject, "app:check") {
		t.Errorf("the e-mail does not go to dev@ with the PR and the reason in its subject (%q):\n%s", subject, m)
	}
	if !strings.Contains(m, "PR #5") || !strings.Contains(m, "https://ci.example.org/runs/") {
		t.Errorf("the e-mail body lacks the PR or the run's link:\n%s", m)
	}
	t.Logf("e-mail:\n%s\ncomment:\n%s", m, body)
	// Nothing new: nothing said twice.
	e.once(t)
	if n := len(mb.received()); n != 1 {
		t.Errorf("%d e-mails after a pass with nothing new, want still 1", n)
	}
	if n := e.prs.Calls("create-comment"); n != 1 {
		t.Errorf("%d comment creations, want 1", n)
	}
}
