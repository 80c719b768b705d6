package main

import (
	"fmt"
	"io"
	"net"
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

// relay is a real SMTP server on loopback (go-smtp) that keeps what it
// accepts.
type relay struct {
	mu   sync.Mutex
	msgs []string // "to|data"
}

func (r *relay) NewSession(*smtp.Conn) (smtp.Session, error) { return &relaySession{r: r}, nil }

type relaySession struct {
	r  *relay
	to string
}

func (s *relaySession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *relaySession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = to
	return nil
}
func (s *relaySession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	s.r.mu.Lock()
	s.r.msgs = append(s.r.msgs, s.to+"|"+string(b))
	s.r.mu.Unlock()
	return err
}
func (s *relaySession) Reset()        {}
func (s *relaySession) Logout() error { return nil }

func (r *relay) messages() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.msgs...)
}

// serveRelay serves r on addr until the test ends (or stop is called).
func serveRelay(t *testing.T, r *relay, addr string) (stop func()) {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := smtp.NewServer(r)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return func() { srv.Close() }
}

// appendSMTP appends to the configuration cfg an [smtp] section sending to a
// free port on loopback, and returns that address for serveRelay.
func appendSMTP(t *testing.T, cfg string) (addr string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr = l.Addr().String()
	l.Close()
	host, port, _ := net.SplitHostPort(addr)
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := fmt.Fprintf(f, "[smtp]\nhost = %q\nport = %s\ntls = \"none\"\nfrom = \"ironworks@example.org\"\n", host, port); err != nil {
		t.Fatal(err)
	}
	return addr
}

// run --once tells people before it exits: after an upstream API break the
// subscriber's e-mail goes out through a real SMTP relay on loopback, made
// from the pipeline's own events; a second pass sends nothing again; with
// the relay down the message stays queued (exit 4, said in the log) and the
// next pass delivers it.
func TestRunOnceDeliversEmail(t *testing.T) {
	fixture.RequireCargo(t)
	bin := buildBinary(t)
	dir := t.TempDir()
	cfg := writeFixtureConfig(t, dir, filepath.Join(dir, "markers", "marker"))
	addr := appendSMTP(t, cfg)
	up := fixture.Open(t, filepath.Join(dir, "src", "merkletree"))
	run := func() (int, string) {
		return binaryRun{bin: bin, cfg: cfg, dir: dir}.run(t, "run", "--once")
	}
	if out, err := exec.Command(bin, "subscribe", "--config", cfg, "--email", "maintainer@example.org", "--component", "rust-fil-proofs").CombinedOutput(); err != nil {
		t.Fatalf("subscribe: %v\n%s", err, out)
	}
	r := &relay{}
	stop := serveRelay(t, r, addr)
	if code, out := run(); code != exitOK {
		t.Fatalf("green pass = %d\n%s", code, out)
	}
	up.Commit("rename leaf_count", map[string]string{"src/lib.rs": strings.ReplaceAll(fixture.UpstreamLib, "leaf_count", "leaves_of")})
	if code, out := run(); code != exitGate {
		t.Fatalf("breaking pass = %d, want %d\n%s", code, exitGate, out)
	}
	msgs := r.messages()
	if len(msgs) != 1 || !strings.HasPrefix(msgs[0], "maintainer@example.org|") || !strings.Contains(msgs[0], "incompatible with merkletree") {
		t.Fatalf("after the break: %d messages, want one incompatible e-mail to the subscriber:\n%s", len(msgs), strings.Join(msgs, "\n---\n"))
	}
	if code, _ := run(); code != exitGate || len(r.messages()) != 1 {
		t.Errorf("a pass with nothing new sent %d messages in all, want still 1 (exit %d)", len(r.messages()), code)
	}

	// The relay goes away; the fix's recovery e-mail stays queued.
	stop()
	up.Commit("restore leaf_count", map[string]string{"src/lib.rs": fixture.UpstreamLib})
	code, out := run()
	if code != exitInfra || !strings.Contains(out, "stays queued") {
		t.Fatalf("pass with the relay down = %d, want %d saying the e-mail stays queued\n%s", code, exitInfra, out)
	}
	r2 := &relay{}
	serveRelay(t, r2, addr)
	// The sender backs off 15 s at least after a failure; wait it out.
	deadline := time.Now().Add(2 * time.Minute)
	for len(r2.messages()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the queued recovery e-mail was never delivered")
		}
		run()
		time.Sleep(2 * time.Second)
	}
	if m := r2.messages(); len(m) != 1 || !strings.Contains(m[0], "recovered") && !strings.Contains(m[0], "green") {
		t.Errorf("after the relay came back: %q", m)
	}
}

// run --once reports on the pull request from the pipeline's own run events:
// the ironworks/forge status with a link to the run on the commit that broke
// the downstream, and one comment naming the verdict, kept one although the
// answer to its creation was lost.
func TestRunOnceReportsOnPullRequest(t *testing.T) {
	fixture.RequireCargo(t)
	bin := buildBinary(t)
	dir := t.TempDir()
	cfg := writeFixtureConfig(t, dir, filepath.Join(dir, "markers", "marker"))
	gh := githubtest.New()
	defer gh.Close()
	prs := gh.EnablePRs()
	prs.Token = "ghp-test-token"
	tokenFile := filepath.Join(dir, "gh-token")
	os.WriteFile(tokenFile, []byte(prs.Token+"\n"), 0o600)
	b, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, append(b, []byte(fmt.Sprintf(`[github]
api_url = %q
token_file = %q
repos = { merkletree = "fil/merkletree", rust-fil-proofs = "fil/rust-fil-proofs" }
[web]
url = "https://ci.example.org"
`, gh.URL(), tokenFile))...), 0o644)
	up := fixture.Open(t, filepath.Join(dir, "src", "merkletree"))
	run := func() (int, string) {
		return binaryRun{bin: bin, cfg: cfg, dir: dir}.run(t, "run", "--once")
	}
	if code, out := run(); code != exitOK {
		t.Fatalf("green pass = %d\n%s", code, out)
	}
	bad := up.Commit("rename leaf_count", map[string]string{"src/lib.rs": strings.ReplaceAll(fixture.UpstreamLib, "leaf_count", "leaves_of")})
	prs.AddPR(githubtest.PR{Repo: "fil/merkletree", Number: 7, HeadSHA: bad})
	// GitHub creates the comment, the client sees a 502.
	gh.LoseNext(1, "POST /repos/{owner}/{repo}/issues/{number}/comments")
	if code, out := run(); code != exitGate {
		t.Fatalf("breaking pass = %d, want %d\n%s", code, exitGate, out)
	}
	var forge *githubtest.Status
	for _, s := range prs.Statuses() {
		if s.Repo == "fil/merkletree" && s.SHA == bad && s.Context == "ironworks/forge" {
			s := s
			forge = &s
		}
	}
	if forge == nil || forge.State != "failure" || !strings.HasPrefix(forge.TargetURL, "https://ci.example.org/runs/") {
		t.Fatalf("status of the breaking commit: %+v (all: %+v)", forge, prs.Statuses())
	}
	comments := prs.Comments("fil/merkletree", 7)
	if len(comments) != 1 {
		t.Fatalf("%d comments on the pull request, want 1 (creation's answer was lost): %+v", len(comments), comments)
	}
	if !strings.Contains(comments[0].Body, "incompatible") || !strings.Contains(comments[0].Body, "forge") {
		t.Errorf("comment does not give the stage and the verdict:\n%s", comments[0].Body)
	}
	if creates := prs.Calls("create-comment"); creates != 1 {
		t.Errorf("%d comment creations, want 1", creates)
	}
	t.Logf("comment:\n%s", comments[0].Body)
}
