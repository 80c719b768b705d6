package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"mime/quotedprintable"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/ironworks-ci/ironworks/coordinator/forge/githubtest"
	"github.com/ironworks-ci/ironworks/coordinator/internal/fixture"
)

// loopbackSMTP is a real SMTP server on 127.0.0.1 keeping what it receives.
type loopbackSMTP struct {
	mu   sync.Mutex
	mail []string // "rcpt\n\nDATA", quoted-printable decoded
	addr string
}

type loopbackSession struct {
	mb   *loopbackSMTP
	rcpt []string
}

func (m *loopbackSMTP) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &loopbackSession{mb: m}, nil
}
func (s *loopbackSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *loopbackSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.rcpt = append(s.rcpt, to)
	return nil
}
func (s *loopbackSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.mb.mu.Lock()
	plain, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(b)))
	if err != nil {
		return err
	}
	s.mb.mail = append(s.mb.mail, strings.Join(s.rcpt, ",")+"\n\n"+string(plain))
	s.mb.mu.Unlock()
	return nil
}
func (s *loopbackSession) Reset()        { s.rcpt = nil }
func (s *loopbackSession) Logout() error { return nil }

func (m *loopbackSMTP) received() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.mail...)
}

func startLoopbackSMTP(t *testing.T) *loopbackSMTP {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mb := &loopbackSMTP{addr: l.Addr().String()}
	srv := smtp.NewServer(mb)
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return mb
}

// onceSetup makes one component "app" whose forge job passes while ok.txt
// says ok, a GitHub double following "o/app", and a configuration sending
// e-mail to smtpAddr.
func onceSetup(t *testing.T, smtpAddr string) (dir, cfg string, repo *fixture.Repo, prs *githubtest.PRState) {
	t.Helper()
	gh := githubtest.New()
	t.Cleanup(gh.Close)
	prs = gh.EnablePRs()
	prs.Token = "ghp_test"
	dir = t.TempDir()
	repo = fixture.NewRepo(t, filepath.Join(dir, "src", "app"))
	repo.Commit("works", map[string]string{"ok.txt": "ok\n"})
	os.MkdirAll(filepath.Join(dir, "adapters", "app"), 0o755)
	os.WriteFile(filepath.Join(dir, "adapters", "app", "adapter.toml"), []byte(`name = "app"
repo = "unused"
[jobs.check]
stage = "forge"
command = "grep -qx ok ok.txt"
`), 0o644)
	os.WriteFile(filepath.Join(dir, "token"), []byte("ghp_test\n"), 0o600)
	host, port, _ := net.SplitHostPort(smtpAddr)
	cfg = filepath.Join(dir, "ironworks.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`state_dir = "state"
adapters = ["adapters/app"]
[components.app]
repo = %q
[web]
url = "https://ci.example.org"
[github]
api_url = %q
token_file = %q
[github.repos]
app = "o/app"
[smtp]
host = %q
port = %s
from = "ci@example.org"
tls = "none"
`, repo.URL(), gh.URL(), filepath.Join(dir, "token"), host, port)), 0o644)
	return dir, cfg, repo, prs
}

func runOnce(t *testing.T, bin, cfg string) (int, string) {
	t.Helper()
	out, err := exec.Command(bin, "run", "--once", "--config", cfg).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

// run --once delivers its own news before it exits, from the events the
// pipeline made: after a break one e-mail per subscriber over real SMTP, a
// status per stage with a target_url and one PR comment; after the fix the
// same comment edited and one recovery e-mail.
func TestRunOnceDelivers(t *testing.T) {
	mb := startLoopbackSMTP(t)
	bin := buildBinary(t)
	_, cfg, repo, prs := onceSetup(t, mb.addr)
	for _, who := range []string{"a@example.org", "b@example.org"} {
		if out, err := exec.Command(bin, "subscribe", "--config", cfg, "--email", who, "--component", "app").CombinedOutput(); err != nil {
			t.Fatalf("subscribe: %v\n%s", err, out)
		}
	}
	if code, out := runOnce(t, bin, cfg); code != 0 {
		t.Fatalf("first pass: exit %d\n%s", code, out)
	}
	if n := len(mb.received()); n != 0 {
		t.Fatalf("%d e-mails for a first green pass, want 0", n)
	}
	broken := repo.Commit("break it", map[string]string{"ok.txt": "no\n"})
	prs.AddPR(githubtest.PR{Repo: "o/app", Number: 7, HeadSHA: broken})
	// The comment is made but its answer lost, after a secondary rate limit.
	prs.LoseCommentAnswers(1)
	prs.SecondaryLimit(1)
	if code, out := runOnce(t, bin, cfg); code != exitGate {
		t.Fatalf("broken pass: exit %d, want %d\n%s", code, exitGate, out)
	}
	mails := mb.received()
	if len(mails) != 2 {
		t.Fatalf("%d e-mails after the break, want one per subscriber (2)", len(mails))
	}
	for _, m := range mails {
		if !strings.Contains(m, broken) || !strings.Contains(m, "https://ci.example.org/runs/") {
			t.Errorf("failure e-mail lacks the commit or an absolute run link:\n%s", m)
		}
	}
	var failed bool
	for _, s := range prs.Statuses() {
		if s.SHA == broken && s.Context == "ironworks/forge" && s.State == "failure" {
			failed = true
			if !strings.HasPrefix(s.TargetURL, "https://ci.example.org/runs/") {
				t.Errorf("status target_url %q is not the run's absolute link", s.TargetURL)
			}
		}
	}
	if !failed {
		t.Fatalf("no ironworks/forge failure status on %s: %+v", broken, prs.Statuses())
	}
	comments := prs.Comments("o/app", 7)
	if len(comments) != 1 || !strings.Contains(comments[0].Body, "forge") || !strings.Contains(comments[0].Body, "failure") {
		t.Fatalf("want one comment with the failed forge stage, got %+v", comments)
	}
	if n := prs.Calls("create-comment"); n != 1 {
		t.Fatalf("%d comment creations, want 1: the lost answer must be followed by a look, not a second POST", n)
	}
	for _, want := range []string{"forge", "failure", "app:check", "[log](https://ci.example.org/artifacts/"} {
		if !strings.Contains(comments[0].Body, want) {
			t.Errorf("comment lacks %q:\n%s", want, comments[0].Body)
		}
	}

	fixed := repo.Commit("fix it", map[string]string{"ok.txt": "ok\n"})
	prs.AddPR(githubtest.PR{Repo: "o/app", Number: 7, HeadSHA: fixed, Commits: []string{broken, fixed}})
	if code, out := runOnce(t, bin, cfg); code != 0 {
		t.Fatalf("fixed pass: exit %d\n%s", code, out)
	}
	mails = mb.received()[2:]
	if len(mails) != 2 {
		t.Fatalf("%d e-mails after the fix, want one recovery per subscriber (2)", len(mails))
	}
	for _, m := range mails {
		if !strings.Contains(strings.ToLower(m), "recover") && !strings.Contains(strings.ToLower(m), "fixed") {
			t.Errorf("second e-mail is not a recovery:\n%s", m)
		}
	}
	comments = prs.Comments("o/app", 7)
	if len(comments) != 1 || comments[0].Edits == 0 || !strings.Contains(comments[0].Body, "success") {
		t.Fatalf("want the one comment edited to success, got %+v", comments)
	}
	if n := prs.Calls("create-comment"); n != 1 {
		t.Fatalf("%d comment creations after the fix, want still 1", n)
	}
}

// A relay that is down: the pass exits 4 and its log says the news was not
// delivered and stays queued.
func TestRunOnceUndeliveredStaysQueued(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens: the relay is down
	bin := buildBinary(t)
	_, cfg, repo, _ := onceSetup(t, addr)
	if out, err := exec.Command(bin, "subscribe", "--config", cfg, "--email", "a@example.org", "--component", "app").CombinedOutput(); err != nil {
		t.Fatalf("subscribe: %v\n%s", err, out)
	}
	if code, out := runOnce(t, bin, cfg); code != 0 {
		t.Fatalf("first pass: exit %d\n%s", code, out)
	}
	repo.Commit("break it", map[string]string{"ok.txt": "no\n"})
	code, out := runOnce(t, bin, cfg)
	if code != exitInfra || !strings.Contains(out, "not delivered") {
		t.Fatalf("relay down: exit %d, want %d and a log line saying what was not delivered\n%s", code, exitInfra, out)
	}
}

// serve delivers from the pipeline's own events too: after a break one
// e-mail per subscriber over SMTP, a failure status and one comment; the
// Subscriptions page lists the subscribers. Without web.url it warns once
// at start and its links are relative, never a made-up host.
func TestServeDelivers(t *testing.T) {
	mb := startLoopbackSMTP(t)
	bin := buildBinary(t)
	dir, cfg, repo, prs := onceSetup(t, mb.addr)
	b, _ := os.ReadFile(cfg)
	b = []byte(strings.Replace(string(b), "[web]\nurl = \"https://ci.example.org\"\n", "[web]\nlisten = \"127.0.0.1:0\"\n[engine]\npoll_interval = \"300ms\"\n", 1))
	os.WriteFile(cfg, b, 0o644)
	for _, who := range []string{"a@example.org", "b@example.org"} {
		if out, err := exec.Command(bin, "subscribe", "--config", cfg, "--email", who, "--component", "app").CombinedOutput(); err != nil {
			t.Fatalf("subscribe: %v\n%s", err, out)
		}
	}
	logFile := filepath.Join(dir, "serve.log")
	lf, _ := os.Create(logFile)
	defer lf.Close()
	cmd := exec.Command(bin, "serve", "--config", cfg)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = lf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "listening on ") {
		t.Fatalf("serve did not report its address: %q %v", line, err)
	}
	base := strings.TrimSpace(strings.TrimPrefix(line, "listening on "))
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				logs, _ := os.ReadFile(logFile)
				t.Fatalf("timed out waiting for %s\n%s", what, logs)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitFor("a success status on the first head", func() bool {
		for _, s := range prs.Statuses() {
			if s.Context == "ironworks/forge" && s.State == "success" {
				return true
			}
		}
		return false
	})
	broken := repo.Commit("break it", map[string]string{"ok.txt": "no\n"})
	prs.AddPR(githubtest.PR{Repo: "o/app", Number: 9, HeadSHA: broken})
	waitFor("two failure e-mails and one comment", func() bool {
		return len(mb.received()) >= 2 && len(prs.Comments("o/app", 9)) == 1 &&
			strings.Contains(prs.Comments("o/app", 9)[0].Body, "failure")
	})
	time.Sleep(time.Second) // a duplicate would arrive now
	if n := len(mb.received()); n != 2 {
		t.Fatalf("%d e-mails, want one per subscriber (2)", n)
	}
	for _, m := range mb.received() {
		if !strings.Contains(m, "Run:      /runs/") || strings.Contains(m, "127.0.0.1:8080") || !strings.Contains(m, "Unsubscribe: /unsubscribe?token=") {
			t.Errorf("without web.url the links must be relative paths:\n%s", m)
		}
	}
	if n := prs.Calls("create-comment"); n != 1 {
		t.Fatalf("%d comment creations, want 1", n)
	}
	resp, err := http.Get(base + "/subscriptions")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "a***@example.org") || !strings.Contains(string(page), "b***@example.org") {
		t.Fatalf("Subscriptions page: %d, lacks the (masked, not an operator) subscribers:\n%s", resp.StatusCode, page)
	}
	logs, _ := os.ReadFile(logFile)
	if n := strings.Count(string(logs), "web.url is not set"); n != 1 {
		t.Fatalf("%d warnings about web.url, want 1:\n%s", n, logs)
	}
}
