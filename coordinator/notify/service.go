package notify

import (
	"context"
	"fmt"
	"time"

	"github.com/charmbracelet/log"
	"golang.org/x/sync/errgroup"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/forge"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// Service runs every notifier of `coordinator serve`: the e-mail consumer,
// the sender, and (with [github]) the pull-request reporter.
type Service struct {
	Mailer   *Mailer
	Sender   *Sender
	Reporter *PRReporter // nil without [github]
	Signer   *Signer
	// Every is how often each loop looks for work; default 5 s.
	Every time.Duration
}

// NewService wires the notifiers from the configuration. linker makes log
// links (the artifact store); gh may be nil to skip pull-request reporting.
func NewService(ctx context.Context, cfg *config.Config, st *store.Store, gh *forge.Client, linker Linker, logger *log.Logger) (*Service, error) {
	signer, err := LoadSigner(ctx, cfg, st)
	if err != nil {
		return nil, err
	}
	sender, err := NewSender(cfg, st)
	if err != nil {
		return nil, err
	}
	m := NewMailer(cfg, st, signer, linker)
	if logger != nil {
		m.Log, sender.Log = logger, logger
	}
	s := &Service{Mailer: m, Sender: sender, Signer: signer}
	if gh != nil {
		s.Reporter = &PRReporter{Store: st, Forge: gh, Cfg: cfg, Linker: linker, Log: logger}
	}
	return s, nil
}

// Run runs the loops until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	every := s.Every
	if every <= 0 {
		every = 5 * time.Second
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.Mailer.Run(ctx, every) })
	g.Go(func() error { return s.Sender.Run(ctx, every) })
	if s.Reporter != nil {
		g.Go(func() error { return s.Reporter.Run(ctx, every) })
	}
	if err := g.Wait(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("notify: %w", err)
	}
	return nil
}
