package notify

import (
	"context"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/log"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// EmailConsumer is the name of the e-mail consumer's cursor over the event log.
const EmailConsumer = "email"

// Mailer turns events into queued e-mails: it matches subscriptions, keeps
// what each subscriber was last told about each target, and renders messages
// into the outbox in the same transaction that advances its cursor.
type Mailer struct {
	Store *store.Store
	Log   *log.Logger
	// Operators receive adapter-error events, whatever they subscribed to.
	Operators []string
	c         composer
}

// NewMailer prepares a mailer. linker (may be nil) makes log links.
func NewMailer(cfg *config.Config, st *store.Store, signer *Signer, linker Linker) *Mailer {
	from := "ironworks@localhost"
	if cfg.SMTP != nil && cfg.SMTP.From != "" {
		from = cfg.SMTP.From
		if a, err := mail.ParseAddress(from); err == nil {
			from = a.Address
		}
	}
	domain := "ironworks.invalid"
	if _, d, ok := strings.Cut(from, "@"); ok && d != "" {
		domain = d
	}
	return &Mailer{
		Store:     st,
		Log:       log.Default(),
		Operators: cfg.Notify.Operators,
		c: composer{
			from:    from,
			domain:  domain,
			webURL:  strings.TrimRight(cfg.Web.URL, "/"),
			signer:  signer,
			linker:  linker,
			tailMax: 40,
		},
	}
}

func matches(sub *store.Subscription, e *store.Event) bool {
	if e.Kind == KindEvalError {
		return true // the flake is every component's: the kind decides
	}
	return (sub.Component == e.Component || sub.Component == allComponents) &&
		(sub.Branch == "" || sub.Branch == e.Branch)
}

// Poll handles every event not yet handled and reports how many e-mails it queued.
func (m *Mailer) Poll(ctx context.Context) (queued int, err error) {
	for {
		after, err := m.Store.Cursor(ctx, EmailConsumer)
		if err != nil {
			return queued, fmt.Errorf("notify: cursor: %w", err)
		}
		events, err := m.Store.EventsAfter(ctx, after, 100)
		if err != nil {
			return queued, fmt.Errorf("notify: events: %w", err)
		}
		if len(events) == 0 {
			return queued, nil
		}
		subs, err := m.Store.Subscriptions(ctx)
		if err != nil {
			return queued, err
		}
		for _, e := range events {
			n, err := m.handle(ctx, e, subs)
			if err != nil {
				return queued, fmt.Errorf("notify: event %d (%s): %w", e.ID, e.Key, err)
			}
			queued += n
		}
	}
}

// handle decides, per subscriber, whether event e is news: a change of the
// target's health they have not been told yet, or an event of its own kind.
func (m *Mailer) handle(ctx context.Context, e *store.Event, subs []*store.Subscription) (int, error) {
	health := healthOf(e.Kind)
	// One decision per address, however many of its subscriptions match.
	wants := map[string]bool{}
	var rcpts []string
	if e.Kind == KindAdapterError {
		// The adapter's configuration is the operators' to fix.
		subs = nil
		for _, op := range m.Operators {
			subs = append(subs, &store.Subscription{Email: op, Component: allComponents, Events: []string{KindAdapterError}})
		}
	}
	for _, s := range subs {
		if !matches(s, e) {
			continue
		}
		if _, seen := wants[s.Email]; !seen {
			rcpts = append(rcpts, s.Email)
		}
		wants[s.Email] = wants[s.Email] || slices.Contains(s.Events, e.Kind)
	}
	var mails []store.Email
	err := m.Store.HandleEvent(ctx, EmailConsumer, e.ID, func(q *store.NotifyTx) error {
		mails = mails[:0]
		for _, r := range rcpts {
			if health != "" {
				prev, err := q.State(r, e.Component, e.Branch, classHealth)
				if err != nil {
					return err
				}
				// Red after red is not news; green is news only after red
				// we knew of (a recovery nobody heard the failure of is noise).
				news := prev != health && (health == healthRed || prev == healthRed)
				if err := q.SetState(r, e.Component, e.Branch, classHealth, health); err != nil {
					return err
				}
				if !news {
					continue
				}
			}
			if !wants[r] {
				continue
			}
			msg := m.c.compose(ctx, e, r)
			if err := q.Enqueue(msg); err != nil {
				return err
			}
			mails = append(mails, msg)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, msg := range mails {
		m.Log.Info("e-mail queued", "to", msg.Recipient, "subject", msg.Subject, "event", e.ID)
	}
	return len(mails), nil
}

// Run polls until ctx ends.
func (m *Mailer) Run(ctx context.Context, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := m.Poll(ctx); err != nil {
			m.Log.Error("e-mail consumer", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
