package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ironworks-ci/ironworks/coordinator/forge"
	"github.com/ironworks-ci/ironworks/coordinator/forge/githubtest"
)

// notify-pr as another CI uses it, with no coordinator configuration: a file
// of its own names the token, the repository, the store (a folder served by
// `coordinator serve-artifacts` with signed links) and the retention. The
// status has a target_url (the uploaded summary) and the one comment's links
// open over HTTP; tampered links do not. Without --context it keeps a comment
// of its own, never the coordinator's.
func TestNotifyPRStandalone(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	gh := githubtest.New()
	defer gh.Close()
	prs := gh.EnablePRs()
	prs.Token = "ghp_ci"
	const commit = "abcdef0123456789abcdef0123456789abcdef01"
	prs.AddPR(githubtest.PR{Repo: "o/r", Number: 5, HeadSHA: commit})
	coordinatorComment := prs.AddComment("o/r", 5, forge.Marker+"\nthe coordinator's own report")
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("token", "ghp_ci\n")
	write("link.key", "0123456789abcdef0123456789abcdef\n")
	write("summary.md", "# Tests failed\n\n2 of 40 tests failed.\n")
	write("logs/build.log", "built\n")
	write("logs/unit/a.log", "FAILED a\n")

	// The store's server, started first so that its URL can be given out.
	srv := exec.Command(bin, "serve-artifacts", "--dir", filepath.Join(dir, "store"), "--key-file", filepath.Join(dir, "link.key"), "--listen", "127.0.0.1:0")
	stdout, _ := srv.StdoutPipe()
	srv.Stderr = os.Stderr
	os.MkdirAll(filepath.Join(dir, "store"), 0o755)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Process.Signal(os.Interrupt); srv.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	base, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if err != nil || !ok {
		t.Fatalf("serve-artifacts did not say where it listens: %q %v", line, err)
	}
	cfg := write("notify.toml", fmt.Sprintf(`repo = "o/r"
commit = %q
summary_file = "summary.md"
upload = ["logs"]
retention_days = 3
state = "failure"
context = "ci/tests"
token_file = "token"
api_url = %q
[store]
kind = "fs"
dir = "store"
url = %q
key_file = "link.key"
`, commit, gh.URL(), base))
	out, err := exec.Command(bin, "notify-pr", "--file", cfg).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "uploaded 2 file(s)") {
		t.Fatalf("notify-pr: %v\n%s", err, out)
	}
	get := func(u string) (int, string) {
		t.Helper()
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	st := prs.Statuses()
	if len(st) != 1 || st[0].State != "failure" || st[0].Context != "ci/tests" || !strings.HasPrefix(st[0].TargetURL, base+"/artifacts/") {
		t.Fatalf("statuses = %+v, want one ci/tests failure whose target_url is on the store's server", st)
	}
	if code, body := get(st[0].TargetURL); code != 200 || !strings.Contains(body, "2 of 40 tests failed.") {
		t.Fatalf("the status's target_url answers %d:\n%s", code, body)
	}
	var ours *githubtest.Comment
	for _, c := range prs.Comments("o/r", 5) {
		if c.ID == coordinatorComment {
			if c.Body != forge.Marker+"\nthe coordinator's own report" || c.Edits != 0 {
				t.Fatalf("notify-pr touched the coordinator's comment: %+v", c)
			}
			continue
		}
		if ours != nil {
			t.Fatalf("two notify-pr comments: %+v", prs.Comments("o/r", 5))
		}
		c := c
		ours = &c
	}
	if ours == nil || !strings.HasPrefix(ours.Body, "<!-- ironworks:pr-comment:ci/tests -->\n") || !strings.Contains(ours.Body, "kept 3 days: links work until") || strings.Contains(ours.Body, "7 days") {
		t.Fatalf("notify-pr's comment lacks its marker or a truthful retention:\n%+v", ours)
	}
	links := regexp.MustCompile(`\]\((http[^)]+)\)`).FindAllStringSubmatch(ours.Body, -1)
	if len(links) != 2 {
		t.Fatalf("%d links in the comment, want 2:\n%s", len(links), ours.Body)
	}
	want := map[string]string{"build.log": "built", "a.log": "FAILED a"}
	for _, l := range links {
		code, body := get(l[1])
		name := l[1][strings.LastIndex(strings.Split(l[1], "?")[0], "/")+1 : strings.Index(l[1], "?")]
		if code != 200 || !strings.Contains(body, want[name]) {
			t.Errorf("link %s answers %d %q, want the log %q", l[1], code, body, want[name])
		}
	}
	tampered := strings.Replace(links[0][1], "sig=", "sig=00", 1)
	if code, _ := get(tampered); code != http.StatusForbidden {
		t.Errorf("a tampered link answers %d, want 403", code)
	}

	// From flags alone, without --context: its own comment, not the
	// coordinator's, and no status (no --state).
	out, err = exec.Command(bin, "notify-pr", "--repo", "o/r", "--commit", commit, "--summary-file", filepath.Join(dir, "summary.md"),
		"--token-file", filepath.Join(dir, "token"), "--api-url", gh.URL()).CombinedOutput()
	if err != nil {
		t.Fatalf("notify-pr from flags: %v\n%s", err, out)
	}
	cs := prs.Comments("o/r", 5)
	if len(cs) != 3 || !strings.HasPrefix(cs[2].Body, "<!-- ironworks:pr-comment:notify-pr -->\n") {
		t.Fatalf("comments = %+v, want a third one with notify-pr's default marker", cs)
	}
	if cs[0].Edits != 0 || len(prs.Statuses()) != 1 {
		t.Errorf("the coordinator's comment was edited (%d) or a status set without --state (%d)", cs[0].Edits, len(prs.Statuses()))
	}
}
