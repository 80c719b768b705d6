package notify

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/log"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

const testConfig = `state_dir = "state"
adapters  = ["embedded:merkletree", "embedded:rust-fil-proofs"]

[components.rust-fil-proofs]
branches = ["release"]

[web]
url = "https://ci.example.org/"
`

type env struct {
	t      *testing.T
	cfg    *config.Config
	st     *store.Store
	dbPath string
	signer *Signer
	mailer *Mailer
	clock  time.Time
}

func newEnv(t *testing.T, extra string) *env {
	t.Helper()
	dir := t.TempDir()
	cfg, err := config.Parse(filepath.Join(dir, "ironworks.toml"), []byte(testConfig+extra), dir)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, cfg: cfg, dbPath: filepath.Join(cfg.StateDir, "ironworks.db"), clock: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	e.open()
	return e
}

// open (re)opens the store on the same database, as a restarted coordinator would.
func (e *env) open() {
	e.t.Helper()
	if e.st != nil {
		e.st.Close()
	}
	st, err := store.Open(context.Background(), e.dbPath)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { st.Close() })
	st.Now = func() time.Time { return e.clock }
	e.st = st
	e.signer, err = LoadSigner(context.Background(), e.cfg, st)
	if err != nil {
		e.t.Fatal(err)
	}
	e.mailer = NewMailer(e.cfg, st, e.signer, prefixLinker("https://logs.example.org/"))
	e.mailer.Log = quiet
}

var quiet = log.New(io.Discard)

type prefixLinker string

func (p prefixLinker) URL(_ context.Context, key string, ttl time.Duration) (string, error) {
	return string(p) + key + "?ttl=" + ttl.String(), nil
}

func (e *env) subscribe(email, component, branch, events string) {
	e.t.Helper()
	ev, err := ParseEvents(events)
	if err != nil {
		e.t.Fatal(err)
	}
	sub, err := NewSubscription(e.cfg, email, component, branch, ev)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.st.Subscribe(context.Background(), sub); err != nil {
		e.t.Fatal(err)
	}
}

var seq int

func (e *env) emit(kind, component, branch string, payload map[string]any) {
	e.t.Helper()
	seq++
	err := e.st.AppendEvent(context.Background(), store.Event{
		Key: fmt.Sprintf("%s/%s/%s/%d", kind, component, branch, seq), Kind: kind,
		Component: component, Branch: branch, Candidate: "c0ffee", RunID: int64(seq), Payload: payload,
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) poll() int {
	e.t.Helper()
	n, err := e.mailer.Poll(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *env) sender(addr string) *Sender {
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	return &Sender{Store: e.st, Log: quiet, SMTP: &config.SMTP{Host: host, Port: p, From: "ironworks@example.org", TLS: "none"}}
}

func incompatiblePayload() map[string]any {
	return map[string]any{
		"stage": "forge", "verdict": "incompatible",
		"summary":  "rust-fil-proofs fails against merkletree 2b2b2b2",
		"upstream": "merkletree",
		"upstream_range": map[string]any{"from": "1a1a1a1a1a", "to": "2b2b2b2b2b", "commits": []any{
			map[string]any{"rev": "2b2b2b2b2b", "subject": "Change the hasher\r\nBcc: evil@example.org", "author": "Alice"},
			map[string]any{"rev": "1c1c1c1c1c", "subject": "Tidy", "author": "Bob"},
		}},
		"culprit":    map[string]any{"rev": "2b2b2b2b2b", "subject": "Change the hasher", "author": "Alice"},
		"failed_job": "rust-fil-proofs:test",
		"log_tail":   "test tree::root ... ok\ntest tree::proof ... FAILED\nerror: test failed",
		"log_key":    "runs/12/rust-fil-proofs:test.log",
		"run_url":    "/runs/12",
		"jobs":       []any{map[string]any{"job": "rust-fil-proofs:test", "state": "failure", "duration_ms": 61000, "log_key": "runs/12/rust-fil-proofs:test.log"}},
		"revisions":  map[string]any{"merkletree": map[string]any{"repo": "https://github.com/filecoin-project/merkletree", "branch": "master", "rev": "2b2b2b2b2b"}},
	}
}

func parseMsg(t *testing.T, data []byte) (*mail.Message, string) {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("received message does not parse: %v\n%s", err, data)
	}
	body, err := io.ReadAll(quotedPrintableReader(m.Body))
	if err != nil {
		t.Fatal(err)
	}
	return m, string(body)
}

func TestIncompatibilityOneMailPerStateChange(t *testing.T) {
	e := newEnv(t, "")
	mb := startMailbox(t, "127.0.0.1:0", nil, false)
	e.subscribe("alice@example.org", "rust-fil-proofs", "", "")
	e.subscribe("alice@example.org", "rust-fil-proofs", "master", "incompatible") // overlapping: still one e-mail
	e.subscribe("bob@example.org", "rust-fil-proofs", "master", "")
	e.subscribe("carol@example.org", "merkletree", "", "")              // other component
	e.subscribe("dave@example.org", "rust-fil-proofs", "release", "")   // other branch
	e.subscribe("erin@example.org", "rust-fil-proofs", "", "promotion") // other kinds
	s := e.sender(mb.addr)
	ctx := context.Background()

	e.emit(KindIncompatible, "rust-fil-proofs", "master", incompatiblePayload())
	if n := e.poll(); n != 2 {
		t.Fatalf("queued %d e-mails, want 2 (alice, bob)", n)
	}
	if n, err := s.SendDue(ctx); err != nil || n != 2 {
		t.Fatalf("sent %d, %v; want 2", n, err)
	}
	msgs := mb.messages()
	got := map[string]int{}
	for _, m := range msgs {
		got[m.To]++
	}
	if len(msgs) != 2 || got["alice@example.org"] != 1 || got["bob@example.org"] != 1 {
		t.Fatalf("recipients %v, want alice and bob once each", got)
	}
	m, body := parseMsg(t, msgs[0].Data)
	thread := m.Header.Get("In-Reply-To")
	if thread == "" || m.Header.Get("References") != thread || m.Header.Get("Message-ID") == "" {
		t.Errorf("threading headers missing: %v", m.Header)
	}
	if len(m.Header["Bcc"]) > 0 || strings.Contains(m.Header.Get("Subject"), "\n") {
		t.Errorf("header injection from a commit subject: %v", m.Header)
	}
	for _, want := range []string{
		"INCOMPATIBLE with merkletree", "1a1a1a1..2b2b2b2 (2 commits)", "Culprit (found by bisection): 2b2b2b2b2b Change the hasher (Alice)",
		"    test tree::proof ... FAILED", "https://ci.example.org/runs/12",
		"Full log: https://logs.example.org/runs/12/rust-fil-proofs:test.log", "Unsubscribe: https://ci.example.org/unsubscribe?token=",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
	lu := m.Header.Get("List-Unsubscribe")
	u, err := url.Parse(strings.Trim(lu, "<>"))
	if err != nil {
		t.Fatal(err)
	}
	if email, comp, err := e.signer.Verify(u.Query().Get("token")); err != nil || email != msgs[0].To || comp != "rust-fil-proofs" {
		t.Errorf("List-Unsubscribe token names %q %q (%v)", email, comp, err)
	}
	if m.Header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
		t.Errorf("List-Unsubscribe-Post missing")
	}

	// Still red: neither a repeated incompatibility nor a failure is news.
	e.emit(KindIncompatible, "rust-fil-proofs", "master", incompatiblePayload())
	e.emit(KindFailure, "rust-fil-proofs", "master", map[string]any{"stage": "forge", "summary": "still failing"})
	if n := e.poll(); n != 0 {
		t.Fatalf("queued %d e-mails while the target stayed red", n)
	}

	// The fix: one recovery e-mail each, in the same thread.
	e.emit(KindRecovery, "rust-fil-proofs", "master", map[string]any{"stage": "forge", "verdict": "green", "summary": "green again", "run_url": "/runs/14"})
	if n := e.poll(); n != 2 {
		t.Fatalf("queued %d recovery e-mails, want 2", n)
	}
	if n, err := s.SendDue(ctx); err != nil || n != 2 {
		t.Fatalf("sent %d, %v", n, err)
	}
	msgs = mb.messages()
	if len(msgs) != 4 {
		t.Fatalf("%d messages in total, want 4", len(msgs))
	}
	m2, body2 := parseMsg(t, msgs[2].Data)
	if m2.Header.Get("In-Reply-To") != thread {
		t.Errorf("recovery not in the thread: %q vs %q", m2.Header.Get("In-Reply-To"), thread)
	}
	if !strings.Contains(body2, "GREEN again") || !strings.Contains(m2.Header.Get("Subject"), "fixed") {
		t.Errorf("recovery e-mail: %s\n%s", m2.Header.Get("Subject"), body2)
	}
	// A second recovery is not news either; polling again changes nothing.
	e.emit(KindRecovery, "rust-fil-proofs", "master", nil)
	if n := e.poll(); n != 0 {
		t.Fatalf("second recovery queued %d", n)
	}
	if n, _ := s.SendDue(ctx); n != 0 {
		t.Fatalf("resent %d", n)
	}
}

func TestRecoveryWithoutKnownFailureIsQuiet(t *testing.T) {
	e := newEnv(t, "")
	e.subscribe("alice@example.org", "merkletree", "", "")
	e.emit(KindRecovery, "merkletree", "master", nil)
	if n := e.poll(); n != 0 {
		t.Fatalf("queued %d", n)
	}
	e.emit(KindPromotion, "merkletree", "master", map[string]any{"stage": "forge"})
	if n := e.poll(); n != 0 {
		t.Fatalf("promotion to a subscriber without it queued %d", n)
	}
	e.subscribe("alice@example.org", "*", "", "promotion")
	e.emit(KindPromotion, "merkletree", "master", map[string]any{"stage": "forge"})
	if n := e.poll(); n != 1 {
		t.Fatalf("promotion queued %d, want 1", n)
	}
}

func TestSMTPDownThenBack(t *testing.T) {
	e := newEnv(t, "")
	addr := freeAddr(t)
	e.subscribe("alice@example.org", "merkletree", "", "")
	s := e.sender(addr)
	ctx := context.Background()
	e.emit(KindFailure, "merkletree", "master", map[string]any{"failed_job": "merkletree:test", "summary": "tests fail"})
	e.poll()
	if n, err := s.SendDue(ctx); err == nil || n != 0 {
		t.Fatalf("relay down: sent %d, err %v; want an error", n, err)
	}
	q, _ := e.st.Emails(ctx, store.EmailQueued)
	if len(q) != 1 || q[0].Attempts != 1 || !strings.Contains(q[0].LastError, "connection refused") {
		t.Fatalf("after a failed attempt: %+v", q)
	}
	mb := startMailbox(t, addr, nil, false)
	if n, _ := s.SendDue(ctx); n != 0 {
		t.Fatalf("sent %d before the backoff elapsed", n)
	}
	e.clock = e.clock.Add(2 * time.Hour)
	if n, err := s.SendDue(ctx); err != nil || n != 1 {
		t.Fatalf("relay back: sent %d, %v", n, err)
	}
	e.clock = e.clock.Add(2 * time.Hour)
	s.SendDue(ctx)
	if got := mb.messages(); len(got) != 1 {
		t.Fatalf("received %d messages, want exactly 1", len(got))
	}
}

func TestCrashAfterQueueingSendsOnce(t *testing.T) {
	e := newEnv(t, "")
	mb := startMailbox(t, "127.0.0.1:0", nil, false)
	e.subscribe("alice@example.org", "merkletree", "", "")
	e.subscribe("bob@example.org", "merkletree", "", "")
	ctx := context.Background()
	e.emit(KindFailure, "merkletree", "master", map[string]any{"summary": "tests fail"})
	if n := e.poll(); n != 2 {
		t.Fatalf("queued %d", n)
	}
	// The coordinator dies after queueing, and a sender died in the middle of
	// delivering the other message (claimed, never accepted by the relay).
	if m, err := e.st.ClaimEmail(ctx, 2*time.Minute); err != nil || m == nil {
		t.Fatalf("claim: %v %v", m, err)
	}
	e.open() // restart on the same database
	s := e.sender(mb.addr)
	if n, err := s.SendDue(ctx); err != nil || n != 1 {
		t.Fatalf("after restart: sent %d, %v; want the never-claimed one", n, err)
	}
	e.clock = e.clock.Add(3 * time.Minute) // the dead sender's lease runs out
	if n, err := s.SendDue(ctx); err != nil || n != 1 {
		t.Fatalf("after the lease: sent %d, %v", n, err)
	}
	if n := e.poll(); n != 0 {
		t.Fatalf("re-polling after restart queued %d", n)
	}
	e.clock = e.clock.Add(time.Hour)
	s.SendDue(ctx)
	got := map[string]int{}
	for _, m := range mb.messages() {
		got[m.To]++
	}
	if len(got) != 2 || got["alice@example.org"] != 1 || got["bob@example.org"] != 1 {
		t.Fatalf("received %v, want one each", got)
	}
	sent, _ := e.st.Emails(ctx, store.EmailSent)
	if len(sent) != 2 {
		t.Fatalf("%d marked sent", len(sent))
	}
}

func TestStartTLSWithAuthFromFile(t *testing.T) {
	for _, mode := range []string{"starttls", "tls"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, "")
			srvTLS, certPEM := selfSigned(t)
			mb := startMailbox(t, "127.0.0.1:0", srvTLS, mode == "tls")
			mb.user, mb.pass = "ironworks", "s3cret pass"
			dir := t.TempDir()
			pw, ca := filepath.Join(dir, "smtp-password"), filepath.Join(dir, "ca.pem")
			os.WriteFile(pw, []byte("s3cret pass\n"), 0o600)
			os.WriteFile(ca, certPEM, 0o600)
			host, port, _ := net.SplitHostPort(mb.addr)
			p, _ := strconv.Atoi(port)
			e.cfg.SMTP = &config.SMTP{Host: host, Port: p, From: "Ironworks <ironworks@example.org>", TLS: mode, User: "ironworks", PasswordFile: pw, CAFile: ca}
			s, err := NewSender(e.cfg, e.st)
			if err != nil {
				t.Fatal(err)
			}
			s.Log = quiet
			e.subscribe("alice@example.org", "merkletree", "", "")
			e.emit(KindFailure, "merkletree", "master", nil)
			e.poll()
			if n, err := s.SendDue(context.Background()); err != nil || n != 1 {
				t.Fatalf("sent %d, %v", n, err)
			}
			got := mb.messages()
			if len(got) != 1 || got[0].User != "ironworks" || got[0].From != "ironworks@example.org" {
				t.Fatalf("received %+v", got)
			}
		})
	}
}

func TestSMTPErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("wrong password is retried later", func(t *testing.T) {
		e := newEnv(t, "")
		mb := startMailbox(t, "127.0.0.1:0", nil, false)
		mb.user, mb.pass = "ironworks", "right"
		s := e.sender(mb.addr)
		s.SMTP.User, s.Password = "ironworks", "wrong"
		e.subscribe("alice@example.org", "merkletree", "", "")
		e.emit(KindFailure, "merkletree", "master", nil)
		e.poll()
		_, err := s.SendDue(ctx)
		if err == nil || !strings.Contains(err.Error(), "auth as ironworks") || strings.Contains(err.Error(), "wrong") {
			t.Fatalf("err = %v; want an auth error that does not show the password", err)
		}
		if q, _ := e.st.Emails(ctx, store.EmailQueued); len(q) != 1 {
			t.Fatalf("message not kept for retry: %+v", q)
		}
	})
	t.Run("unknown recipient is given up", func(t *testing.T) {
		e := newEnv(t, "")
		mb := startMailbox(t, "127.0.0.1:0", nil, false)
		mb.rejectTo = "gone@example.org"
		s := e.sender(mb.addr)
		e.subscribe("gone@example.org", "merkletree", "", "")
		e.subscribe("alice@example.org", "merkletree", "", "")
		e.emit(KindFailure, "merkletree", "master", nil)
		e.poll()
		if n, err := s.SendDue(ctx); err != nil || n != 1 {
			t.Fatalf("sent %d, %v; want alice's and no error", n, err)
		}
		failed, _ := e.st.Emails(ctx, store.EmailFailed)
		if len(failed) != 1 || failed[0].Recipient != "gone@example.org" || !strings.Contains(failed[0].LastError, "550") {
			t.Fatalf("failed = %+v", failed)
		}
	})
	t.Run("password file missing", func(t *testing.T) {
		e := newEnv(t, "")
		e.cfg.SMTP = &config.SMTP{Host: "127.0.0.1", Port: 25, From: "a@example.org", PasswordFile: filepath.Join(t.TempDir(), "nope")}
		if _, err := NewSender(e.cfg, e.st); err == nil || !strings.Contains(err.Error(), "smtp.password_file") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("starttls not offered", func(t *testing.T) {
		e := newEnv(t, "")
		mb := startMailbox(t, "127.0.0.1:0", nil, false)
		s := e.sender(mb.addr)
		s.SMTP.TLS = "starttls"
		e.subscribe("alice@example.org", "merkletree", "", "")
		e.emit(KindFailure, "merkletree", "master", nil)
		e.poll()
		if _, err := s.SendDue(ctx); err == nil || !strings.Contains(err.Error(), "STARTTLS") {
			t.Fatalf("err = %v", err)
		}
		if len(mb.messages()) != 0 {
			t.Fatal("sent in clear text although starttls was required")
		}
	})
}

func TestOutboxFolderWithoutSMTP(t *testing.T) {
	e := newEnv(t, "")
	ctx := context.Background()
	s, err := NewSender(e.cfg, e.st)
	if err != nil {
		t.Fatal(err)
	}
	e.subscribe("alice@example.org", "merkletree", "", "")
	e.emit(KindFailure, "merkletree", "master", map[string]any{"summary": "broken"})
	e.poll()
	if n, err := s.SendDue(ctx); err != nil || n != 1 {
		t.Fatalf("sent %d, %v", n, err)
	}
	files, _ := filepath.Glob(filepath.Join(e.cfg.Notify.OutboxDir, "*.eml"))
	if len(files) != 1 {
		t.Fatalf("outbox has %v", files)
	}
	data, _ := os.ReadFile(files[0])
	m, body := parseMsg(t, data)
	if m.Header.Get("To") != "alice@example.org" || !strings.Contains(body, "BROKEN") {
		t.Fatalf("outbox message: %v\n%s", m.Header, body)
	}
}

func TestBadPayloadStillNotifies(t *testing.T) {
	e := newEnv(t, "")
	e.subscribe("alice@example.org", "merkletree", "", "")
	e.emit(KindFailure, "merkletree", "master", map[string]any{"summary": "tests fail", "jobs": "not a list", "pr": "x"})
	if n := e.poll(); n != 1 {
		t.Fatalf("queued %d", n)
	}
	q, _ := e.st.Emails(context.Background(), "")
	_, body := parseMsg(t, q[0].Body)
	if !strings.Contains(body, "tests fail") || !strings.Contains(body, `field "jobs"`) {
		t.Fatalf("body:\n%s", body)
	}
}

func TestServiceDeliversToOutbox(t *testing.T) {
	e := newEnv(t, "")
	svc, err := NewService(context.Background(), e.cfg, e.st, nil, nil, quiet)
	if err != nil {
		t.Fatal(err)
	}
	svc.Every = 10 * time.Millisecond
	e.subscribe("alice@example.org", "merkletree", "", "")
	e.emit(KindFailure, "merkletree", "master", map[string]any{"summary": "broken"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	for {
		files, _ := filepath.Glob(filepath.Join(e.cfg.Notify.OutboxDir, "*.eml"))
		if len(files) == 1 {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("no e-mail in the outbox")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}
