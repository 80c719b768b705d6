package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Subscription routes events of one component (all branches when Branch is
// empty) to an e-mail address.
type Subscription struct {
	ID        int64     `json:"id"`
	Email     string    `json:"email"`
	Component string    `json:"component"`
	Branch    string    `json:"branch,omitempty"`
	Events    []string  `json:"events"`
	CreatedAt time.Time `json:"created_at"`
}

// Subscribe creates a subscription, or replaces the event list of the existing
// one for the same (email, component, branch).
func (s *Store) Subscribe(ctx context.Context, sub Subscription) (*Subscription, error) {
	if sub.Email == "" || sub.Component == "" || len(sub.Events) == 0 {
		return nil, errors.New("store: subscription needs an address, a component and events")
	}
	_, err := s.DB.ExecContext(ctx, `INSERT INTO subscriptions(email, component, branch, events, created_at) VALUES (?,?,?,?,?)
		ON CONFLICT(email, component, branch) DO UPDATE SET events=excluded.events`,
		sub.Email, sub.Component, sub.Branch, strings.Join(sub.Events, ","), s.now())
	if err != nil {
		return nil, fmt.Errorf("store: subscribe: %w", err)
	}
	return scanSubscription(s.DB.QueryRowContext(ctx, `SELECT id, email, component, branch, events, created_at FROM subscriptions WHERE email=? AND component=? AND branch=?`,
		sub.Email, sub.Component, sub.Branch))
}

// Unsubscribe removes the address's subscriptions to component, or all of them
// when component is empty, and reports how many went.
func (s *Store) Unsubscribe(ctx context.Context, email, component string) (int64, error) {
	res, err := s.DB.ExecContext(ctx, `DELETE FROM subscriptions WHERE email=? AND (?='' OR component=?)`, email, component, component)
	if err != nil {
		return 0, fmt.Errorf("store: unsubscribe: %w", err)
	}
	return res.RowsAffected()
}

// UnsubscribeID removes one subscription by id.
func (s *Store) UnsubscribeID(ctx context.Context, id int64) (int64, error) {
	res, err := s.DB.ExecContext(ctx, `DELETE FROM subscriptions WHERE id=?`, id)
	if err != nil {
		return 0, fmt.Errorf("store: unsubscribe: %w", err)
	}
	return res.RowsAffected()
}

// Subscriptions lists every subscription by address, component and branch.
func (s *Store) Subscriptions(ctx context.Context) ([]*Subscription, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT id, email, component, branch, events, created_at FROM subscriptions ORDER BY email, component, branch`)
	if err != nil {
		return nil, fmt.Errorf("store: subscriptions: %w", err)
	}
	defer rows.Close()
	var out []*Subscription
	for rows.Next() {
		sub, err := scanSubscription(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, sub)
	}
	return out, rows.Err()
}

func scanSubscription(r scanner) (*Subscription, error) {
	var sub Subscription
	var events string
	var at int64
	if err := r.Scan(&sub.ID, &sub.Email, &sub.Component, &sub.Branch, &events, &at); err != nil {
		return nil, fmt.Errorf("store: subscription: %w", err)
	}
	sub.Events = strings.Split(events, ",")
	sub.CreatedAt = ms(at)
	return &sub, nil
}

// Email outbox states.
const (
	EmailQueued  = "queued"
	EmailSending = "sending"
	EmailSent    = "sent"
	EmailFailed  = "failed"
)

// Email is one rendered message in the outbox.
type Email struct {
	ID            int64     `json:"id"`
	MessageID     string    `json:"message_id"`
	EventID       int64     `json:"event_id"`
	Recipient     string    `json:"recipient"`
	Subject       string    `json:"subject"`
	Body          []byte    `json:"-"`
	State         string    `json:"state"`
	Attempts      int       `json:"attempts"`
	NextAttemptAt time.Time `json:"next_attempt_at"`
	LastError     string    `json:"last_error,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	SentAt        time.Time `json:"sent_at"`
}

// NotifyTx is the view of one event's handling: it reads and writes what
// subscribers were told, and queues messages, all in one transaction with the
// consumer's cursor.
type NotifyTx struct {
	ctx     context.Context
	tx      *sql.Tx
	s       *Store
	eventID int64
}

// State returns what email was last told about (component, branch) for class, or "".
func (q *NotifyTx) State(email, component, branch, class string) (string, error) {
	var st string
	err := q.tx.QueryRowContext(q.ctx, `SELECT state FROM notify_state WHERE email=? AND component=? AND branch=? AND class=?`,
		email, component, branch, class).Scan(&st)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return st, err
}

// SetState records what email now knows about (component, branch) for class.
func (q *NotifyTx) SetState(email, component, branch, class, state string) error {
	_, err := q.tx.ExecContext(q.ctx, `INSERT INTO notify_state(email, component, branch, class, state, event_id, updated_at) VALUES (?,?,?,?,?,?,?)
		ON CONFLICT(email, component, branch, class) DO UPDATE SET state=excluded.state, event_id=excluded.event_id, updated_at=excluded.updated_at`,
		email, component, branch, class, state, q.eventID, q.s.now())
	return err
}

// Enqueue adds a message unless one for the same event and recipient (or with
// the same Message-ID) is already queued.
func (q *NotifyTx) Enqueue(m Email) error {
	_, err := q.tx.ExecContext(q.ctx, `INSERT OR IGNORE INTO email_outbox(message_id, event_id, recipient, subject, body, state, created_at) VALUES (?,?,?,?,?,?,?)`,
		m.MessageID, q.eventID, m.Recipient, m.Subject, m.Body, EmailQueued, q.s.now())
	return err
}

// HandleEvent runs fn for event eventID and advances consumer's cursor past it
// in the same transaction, so that an event is handled exactly once even if
// the process dies at any point.
func (s *Store) HandleEvent(ctx context.Context, consumer string, eventID int64, fn func(q *NotifyTx) error) error {
	return s.Tx(ctx, func(tx *sql.Tx) error {
		if err := fn(&NotifyTx{ctx: ctx, tx: tx, s: s, eventID: eventID}); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO cursors(consumer, event_id) VALUES (?,?) ON CONFLICT(consumer) DO UPDATE SET event_id=max(event_id, excluded.event_id)`, consumer, eventID)
		return err
	})
}

const emailCols = `id, message_id, event_id, recipient, subject, body, state, attempts, next_attempt_at, last_error, created_at, sent_at`

func scanEmail(r scanner) (*Email, error) {
	var m Email
	var next, created, sent int64
	if err := r.Scan(&m.ID, &m.MessageID, &m.EventID, &m.Recipient, &m.Subject, &m.Body, &m.State, &m.Attempts, &next, &m.LastError, &created, &sent); err != nil {
		return nil, err
	}
	m.NextAttemptAt, m.CreatedAt, m.SentAt = ms(next), ms(created), ms(sent)
	return &m, nil
}

// ClaimEmail takes the oldest message due for delivery and marks it sending
// with a lease: a queued message whose retry time has come, or a message left
// sending by a sender that died (its lease ran out). It returns nil when none is due.
func (s *Store) ClaimEmail(ctx context.Context, lease time.Duration) (*Email, error) {
	var m *Email
	err := s.Tx(ctx, func(tx *sql.Tx) error {
		now := s.now()
		var err error
		m, err = scanEmail(tx.QueryRowContext(ctx, `SELECT `+emailCols+` FROM email_outbox
			WHERE (state=? AND next_attempt_at<=?) OR (state=? AND lease_until<=?) ORDER BY id LIMIT 1`,
			EmailQueued, now, EmailSending, now))
		if errors.Is(err, sql.ErrNoRows) {
			m = nil
			return nil
		}
		if err != nil {
			return err
		}
		m.Attempts++
		m.State = EmailSending
		_, err = tx.ExecContext(ctx, `UPDATE email_outbox SET state=?, attempts=?, lease_until=? WHERE id=?`,
			EmailSending, m.Attempts, now+lease.Milliseconds(), m.ID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: claim e-mail: %w", err)
	}
	return m, nil
}

// MarkEmailSent records a delivered message.
func (s *Store) MarkEmailSent(ctx context.Context, id int64) error {
	_, err := s.DB.ExecContext(ctx, `UPDATE email_outbox SET state=?, sent_at=?, lease_until=0, last_error='' WHERE id=?`, EmailSent, s.now(), id)
	if err != nil {
		return fmt.Errorf("store: mark e-mail %d sent: %w", id, err)
	}
	return nil
}

// MarkEmailRetry puts a message back in the queue after a failed attempt, or
// gives up on it when retryAt is zero.
func (s *Store) MarkEmailRetry(ctx context.Context, id int64, msg string, retryAt time.Time) error {
	state, next := EmailQueued, retryAt.UnixMilli()
	if retryAt.IsZero() {
		state, next = EmailFailed, 0
	}
	_, err := s.DB.ExecContext(ctx, `UPDATE email_outbox SET state=?, next_attempt_at=?, lease_until=0, last_error=? WHERE id=?`, state, next, msg, id)
	if err != nil {
		return fmt.Errorf("store: e-mail %d retry: %w", id, err)
	}
	return nil
}

// Emails lists outbox messages in state (every state when empty), oldest first.
func (s *Store) Emails(ctx context.Context, state string) ([]*Email, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT `+emailCols+` FROM email_outbox WHERE ?='' OR state=? ORDER BY id`, state, state)
	if err != nil {
		return nil, fmt.Errorf("store: e-mails: %w", err)
	}
	defer rows.Close()
	var out []*Email
	for rows.Next() {
		m, err := scanEmail(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// NotifyKey returns the secret stored under name, creating it with gen on first use.
func (s *Store) NotifyKey(ctx context.Context, name string, gen func() ([]byte, error)) ([]byte, error) {
	var v []byte
	err := s.DB.QueryRowContext(ctx, `SELECT value FROM notify_keys WHERE name=?`, name).Scan(&v)
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: key %s: %w", name, err)
	}
	nv, err := gen()
	if err != nil {
		return nil, err
	}
	// INSERT OR IGNORE, then read back: two processes racing agree on one key.
	if _, err := s.DB.ExecContext(ctx, `INSERT OR IGNORE INTO notify_keys(name, value) VALUES (?,?)`, name, nv); err != nil {
		return nil, fmt.Errorf("store: key %s: %w", name, err)
	}
	if err := s.DB.QueryRowContext(ctx, `SELECT value FROM notify_keys WHERE name=?`, name).Scan(&v); err != nil {
		return nil, fmt.Errorf("store: key %s: %w", name, err)
	}
	return v, nil
}

// PRComment returns the id of the comment with marker on a pull request, or 0.
func (s *Store) PRComment(ctx context.Context, repo string, pr int, marker string) (int64, error) {
	var id int64
	err := s.DB.QueryRowContext(ctx, `SELECT comment_id FROM pr_comments WHERE repo=? AND pr=? AND marker=?`, repo, pr, marker).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return id, err
}

// SetPRComment remembers the comment with marker on a pull request (0 forgets it).
func (s *Store) SetPRComment(ctx context.Context, repo string, pr int, marker string, id int64) error {
	var err error
	if id == 0 {
		_, err = s.DB.ExecContext(ctx, `DELETE FROM pr_comments WHERE repo=? AND pr=? AND marker=?`, repo, pr, marker)
	} else {
		_, err = s.DB.ExecContext(ctx, `INSERT INTO pr_comments(repo, pr, marker, comment_id, updated_at) VALUES (?,?,?,?,?)
			ON CONFLICT(repo, pr, marker) DO UPDATE SET comment_id=excluded.comment_id, updated_at=excluded.updated_at`, repo, pr, marker, id, s.now())
	}
	if err != nil {
		return fmt.Errorf("store: pr comment: %w", err)
	}
	return nil
}

// PRJob is one job line of a stage in a pull request's comment.
type PRJob struct {
	Job        string `json:"job"`
	State      string `json:"state"`
	DurationMS int64  `json:"duration_ms,omitempty"`
	LogURL     string `json:"log_url,omitempty"`
	Reason     string `json:"reason,omitempty"`
}

// PRStage is the latest report of one stage on a pull request.
type PRStage struct {
	Repo      string    `json:"repo"`
	PR        int       `json:"pr"`
	Stage     string    `json:"stage"`
	SHA       string    `json:"sha"`
	State     string    `json:"state"`
	Verdict   string    `json:"verdict,omitempty"`
	Summary   string    `json:"summary,omitempty"`
	Culprit   string    `json:"culprit,omitempty"` // "rev7 subject (author)" when bisection named one
	RunID     int64     `json:"run_id"`
	RunURL    string    `json:"run_url,omitempty"`
	Jobs      []PRJob   `json:"jobs"`
	EventID   int64     `json:"event_id"`
	UpdatedAt time.Time `json:"updated_at"`
}

// PutPRStage records a stage report unless a newer event already did.
func (s *Store) PutPRStage(ctx context.Context, p PRStage) error {
	jobs, err := json.Marshal(p.Jobs)
	if err != nil {
		return err
	}
	_, err = s.DB.ExecContext(ctx, `INSERT INTO pr_stages(repo, pr, stage, sha, state, verdict, summary, run_id, run_url, jobs, event_id, updated_at, culprit) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT(repo, pr, stage) DO UPDATE SET sha=excluded.sha, state=excluded.state, verdict=excluded.verdict, summary=excluded.summary, culprit=excluded.culprit,
			run_id=excluded.run_id, run_url=excluded.run_url, jobs=excluded.jobs, event_id=excluded.event_id, updated_at=excluded.updated_at
		WHERE excluded.event_id >= pr_stages.event_id`,
		p.Repo, p.PR, p.Stage, p.SHA, p.State, p.Verdict, p.Summary, p.RunID, p.RunURL, string(jobs), p.EventID, s.now(), p.Culprit)
	if err != nil {
		return fmt.Errorf("store: pr stage: %w", err)
	}
	return nil
}

// PRStages lists the stage reports of a pull request.
func (s *Store) PRStages(ctx context.Context, repo string, pr int) ([]*PRStage, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT repo, pr, stage, sha, state, verdict, summary, run_id, run_url, jobs, event_id, updated_at, culprit FROM pr_stages WHERE repo=? AND pr=?`, repo, pr)
	if err != nil {
		return nil, fmt.Errorf("store: pr stages: %w", err)
	}
	defer rows.Close()
	var out []*PRStage
	for rows.Next() {
		var p PRStage
		var jobs string
		var at int64
		if err := rows.Scan(&p.Repo, &p.PR, &p.Stage, &p.SHA, &p.State, &p.Verdict, &p.Summary, &p.RunID, &p.RunURL, &jobs, &p.EventID, &at, &p.Culprit); err != nil {
			return nil, err
		}
		p.UpdatedAt = ms(at)
		if err := json.Unmarshal([]byte(jobs), &p.Jobs); err != nil {
			return nil, fmt.Errorf("store: pr stage %s: %w", p.Stage, err)
		}
		out = append(out, &p)
	}
	return out, rows.Err()
}
