package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/log"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// Sender delivers the e-mail outbox: to the SMTP relay of [smtp], or, without
// one, as .eml files into a folder so that nothing is lost.
//
// Delivery is exactly once on every ordinary path and at least once at the
// SMTP boundary. A sender claims a message (state sending, attempt+1, a lease)
// in one transaction, sends it, and marks it sent as soon as the relay has
// accepted the DATA, before QUIT. If the sender dies before the relay accepted
// the message, the relay has nothing and the message is sent again once its
// lease runs out. Only a death in the instant between the relay's 250 reply
// and the local commit sends it twice, and then with the same Message-ID, which
// receiving systems use to drop duplicates. A message never queued twice: the
// outbox is keyed by event and recipient.
type Sender struct {
	Store *store.Store
	// SMTP is the relay; nil writes messages into OutboxDir instead.
	SMTP      *config.SMTP
	Password  string      // for AUTH PLAIN; from smtp.password_file
	TLSConfig *tls.Config // nil: system roots plus smtp.ca_file
	OutboxDir string
	// Lease bounds one delivery attempt; a message left sending longer than
	// this by a dead sender is retried.
	Lease time.Duration
	// MaxAttempts before a message is given up as failed.
	MaxAttempts int
	// Backoff is the wait after the given failed attempt.
	Backoff func(attempt int) time.Duration
	Log     *log.Logger
}

// NewSender builds a sender from the configuration, reading the password file.
func NewSender(cfg *config.Config, st *store.Store) (*Sender, error) {
	s := &Sender{Store: st, SMTP: cfg.SMTP, OutboxDir: cfg.Notify.OutboxDir}
	if cfg.SMTP == nil {
		return s, nil
	}
	if f := cfg.SMTP.PasswordFile; f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("smtp.password_file: %w", err)
		}
		s.Password = strings.TrimRight(string(b), "\r\n")
		if s.Password == "" {
			return nil, fmt.Errorf("smtp.password_file %s is empty", f)
		}
	}
	if f := cfg.SMTP.CAFile; f != "" {
		pem, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("smtp.ca_file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("smtp.ca_file %s: no PEM certificate in it", f)
		}
		s.TLSConfig = &tls.Config{RootCAs: pool, ServerName: cfg.SMTP.Host, MinVersion: tls.VersionTLS12}
	}
	return s, nil
}

func (s *Sender) logger() *log.Logger {
	if s.Log != nil {
		return s.Log
	}
	return log.Default()
}

func (s *Sender) lease() time.Duration {
	if s.Lease > 0 {
		return s.Lease
	}
	return 2 * time.Minute
}

func (s *Sender) maxAttempts() int {
	if s.MaxAttempts > 0 {
		return s.MaxAttempts
	}
	return 25
}

// defaultBackoff doubles from 30 s up to an hour, with jitter so that a
// relay coming back is not hit by every message at once.
func defaultBackoff(attempt int) time.Duration {
	d := 30 * time.Second << min(attempt-1, 7)
	d = min(d, time.Hour)
	return d/2 + rand.N(d/2+1)
}

// permanentError marks a refusal retrying cannot fix (a 5xx for a recipient).
type permanentError struct{ err error }

func (p permanentError) Error() string { return p.err.Error() }
func (p permanentError) Unwrap() error { return p.err }

// SendDue delivers every message that is due and reports how many went out.
// It stops at the first delivery error that concerns the relay rather than a
// message, leaving the rest for the next round.
func (s *Sender) SendDue(ctx context.Context) (int, error) {
	sent := 0
	for {
		m, err := s.Store.ClaimEmail(ctx, s.lease())
		if err != nil {
			return sent, err
		}
		if m == nil {
			return sent, nil
		}
		if err := s.deliver(ctx, m); err != nil {
			var perm permanentError
			retry := time.Time{}
			if !errors.As(err, &perm) && m.Attempts < s.maxAttempts() {
				b := s.Backoff
				if b == nil {
					b = defaultBackoff
				}
				retry = s.Store.Now().Add(b(m.Attempts))
			}
			s.logger().Warn("e-mail not delivered", "to", m.Recipient, "attempt", m.Attempts, "retry_at", retry, "err", err)
			if err2 := s.Store.MarkEmailRetry(ctx, m.ID, err.Error(), retry); err2 != nil {
				return sent, err2
			}
			if !errors.As(err, &perm) {
				return sent, fmt.Errorf("notify: deliver %s: %w", m.MessageID, err)
			}
			continue
		}
		sent++
		s.logger().Info("e-mail sent", "to", m.Recipient, "subject", m.Subject, "message_id", m.MessageID)
	}
}

// Run delivers until ctx ends.
func (s *Sender) Run(ctx context.Context, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := s.SendDue(ctx); err != nil && ctx.Err() == nil {
			s.logger().Warn("e-mail sender", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

func (s *Sender) deliver(ctx context.Context, m *store.Email) error {
	if s.SMTP == nil {
		return s.writeFile(ctx, m)
	}
	return s.sendSMTP(ctx, m)
}

// writeFile stores the message as <outbox>/<id>.eml. The name derives from
// the Message-ID and the write is a rename, so a repeat replaces, never adds.
func (s *Sender) writeFile(ctx context.Context, m *store.Email) error {
	if err := os.MkdirAll(s.OutboxDir, 0o700); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	name := filepath.Join(s.OutboxDir, hash(m.MessageID)[:24]+".eml")
	tmp, err := os.CreateTemp(s.OutboxDir, ".tmp-*.eml")
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	_, err = tmp.Write(m.Body)
	if err == nil {
		err = tmp.Sync()
	}
	if err2 := tmp.Close(); err == nil {
		err = err2
	}
	if err == nil {
		err = os.Rename(tmp.Name(), name)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("outbox: %w", err)
	}
	return s.Store.MarkEmailSent(ctx, m.ID)
}

func (s *Sender) tlsConfig() *tls.Config {
	if s.TLSConfig != nil {
		c := s.TLSConfig.Clone()
		if c.ServerName == "" {
			c.ServerName = s.SMTP.Host
		}
		return c
	}
	return &tls.Config{ServerName: s.SMTP.Host, MinVersion: tls.VersionTLS12}
}

func (s *Sender) sendSMTP(ctx context.Context, m *store.Email) error {
	addr := net.JoinHostPort(s.SMTP.Host, strconv.Itoa(s.SMTP.Port))
	deadline := time.Now().Add(s.lease())
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(dctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("smtp %s: %w", addr, err)
	}
	// The lease is also the connection's deadline: a hung relay cannot hold
	// a message past the point where another sender would retry it.
	conn.SetDeadline(deadline)
	var c *smtp.Client
	switch s.SMTP.TLS {
	case "tls":
		c = smtp.NewClient(tls.Client(conn, s.tlsConfig()))
	case "none":
		c = smtp.NewClient(conn)
	default:
		c, err = smtp.NewClientStartTLS(conn, s.tlsConfig())
		if err != nil {
			conn.Close()
			return fmt.Errorf("smtp %s: starttls: %w", addr, err)
		}
	}
	defer c.Close()
	if s.SMTP.User != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return fmt.Errorf("smtp %s: the server offers no AUTH, but smtp.user is set", addr)
		}
		if err := c.Auth(sasl.NewPlainClient("", s.SMTP.User, s.Password)); err != nil {
			return fmt.Errorf("smtp %s: auth as %s: %w", addr, s.SMTP.User, err)
		}
	}
	from := s.SMTP.From
	if a, err := mail.ParseAddress(from); err == nil {
		from = a.Address
	}
	if err := c.Mail(from, nil); err != nil {
		return fmt.Errorf("smtp %s: MAIL FROM: %w", addr, err)
	}
	if err := c.Rcpt(m.Recipient, nil); err != nil {
		var se *smtp.SMTPError
		if errors.As(err, &se) && se.Code >= 500 {
			return permanentError{fmt.Errorf("smtp %s: RCPT TO %s: %w", addr, m.Recipient, err)}
		}
		return fmt.Errorf("smtp %s: RCPT TO %s: %w", addr, m.Recipient, err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp %s: DATA: %w", addr, err)
	}
	if _, err := bytes.NewReader(m.Body).WriteTo(w); err != nil {
		return fmt.Errorf("smtp %s: DATA: %w", addr, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp %s: DATA: %w", addr, err)
	}
	// Accepted: record it before anything else can fail.
	if err := s.Store.MarkEmailSent(context.WithoutCancel(ctx), m.ID); err != nil {
		return err
	}
	c.Quit()
	return nil
}
