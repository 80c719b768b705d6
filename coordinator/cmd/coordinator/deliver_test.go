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
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	host, port, _ := net.SplitHostPort(addr)
	b, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, append(b, []byte(fmt.Sprintf("[smtp]\nhost = %q\nport = %s\ntls = \"none\"\nfrom = \"ironworks@example.org\"\n", host, port))...), 0o644)
	up := fixture.Open(t, filepath.Join(dir, "src", "merkletree"))
	run := func() (int, string) {
		cmd := exec.Command(bin, "run", "--once", "--config", cfg)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		} else if err != nil {
			t.Fatal(err)
		}
		return 0, string(out)
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
	if code != exitInfra || !strings.Contains(out, "stay queued") {
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
