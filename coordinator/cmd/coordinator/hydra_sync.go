package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/charmbracelet/log"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	hydra "github.com/ironworks-ci/ironworks/coordinator/engine/hydra"
	"github.com/ironworks-ci/ironworks/coordinator/pipeline"
)

func init() {
	register(&command{name: "hydra", summary: "the Hydra project: sync creates or updates the stage jobsets, spec prints them as a declarative spec", run: hydraCmd})
}

const hydraUsage = `usage: coordinator hydra <sync|spec> [flags]

  sync   create or update the [hydra] project and one flake jobset per stage
  spec   print the jobsets as a declarative project's spec file (infra/hydra/spec.json)
`

func hydraCmd(ctx context.Context, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, hydraUsage)
		return exitUsage
	}
	switch args[0] {
	case "sync":
		return hydraSyncCmd(ctx, args[1:])
	case "spec":
		return hydraSpecCmd(args[1:])
	case "-h", "--help", "help":
		fmt.Fprint(os.Stdout, hydraUsage)
		return exitOK
	}
	fmt.Fprintf(os.Stderr, "coordinator hydra: unknown subcommand %q\n\n%s", args[0], hydraUsage)
	return exitUsage
}

// configHydraEngine builds the Hydra engine of a configuration without a
// store: sync and spec need only its jobset definitions and its client.
func configHydraEngine(path string) (*config.Config, *hydra.Engine, error) {
	cfg, err := loadConfig(path)
	if err != nil {
		return nil, nil, err
	}
	if cfg.Hydra == nil {
		return nil, nil, fmt.Errorf("%s: no [hydra] section: nothing to sync", cfg.File)
	}
	eng, err := hydraEngine(cfg, nil, nil, log.New(io.Discard))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", cfg.File, err)
	}
	return cfg, eng, nil
}

func hydraSyncCmd(ctx context.Context, args []string) int {
	fs := newFlags("hydra sync", "Log in to Hydra ([hydra] url, user, password_file), create or update project hydra.project\nand one flake jobset per stage (what `coordinator hydra spec` prints), writing only what differs.\nA declarative project is compared, never written. Exit 0 done, 3 configuration (or a\ndeclarative project that differs), 4 Hydra unreachable or refusing.")
	cfgPath := fs.String("config", "", "configuration file (default: the embedded defaults)")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	cfg, eng, err := configHydraEngine(*cfgPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "coordinator hydra sync: %v\n", err)
		return exitConfig
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	changes, err := eng.SyncJobsets(ctx)
	for _, c := range changes {
		fmt.Fprintln(os.Stdout, c)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "coordinator hydra sync: %v\n", syncError(ctx, cfg, err))
		if errors.Is(err, hydra.ErrDeclarativeDiffers) {
			return exitConfig
		}
		return exitInfra
	}
	return exitOK
}

// syncError names the server and the user, and the time limit when it
// was what ended the sync.
func syncError(ctx context.Context, cfg *config.Config, err error) error {
	if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		err = fmt.Errorf("%w (%w)", err, ctx.Err())
	}
	return fmt.Errorf("hydra %s as user %q: %w", cfg.Hydra.URL, cfg.Hydra.User, err)
}

func hydraSpecCmd(args []string) int {
	fs := newFlags("hydra spec", "Print the stage jobsets of the configuration as a declarative project's spec file\n(Hydra's .jobsets format), the same definitions `hydra sync` writes.\ninfra/hydra/spec.json is: coordinator hydra spec --config infra/hydra/spec.toml --write infra/hydra/spec.json")
	cfgPath := fs.String("config", "", "configuration file (default: the embedded defaults)")
	write := fs.String("write", "", "write the spec to this file instead of standard output")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	_, eng, err := configHydraEngine(*cfgPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "coordinator hydra spec: %v\n", err)
		return exitConfig
	}
	b, err := eng.DeclarativeSpec()
	if err == nil {
		if *write == "" {
			_, err = os.Stdout.Write(b)
		} else {
			err = os.WriteFile(*write, b, 0o644)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "coordinator hydra spec: %v\n", err)
		return exitInfra
	}
	return exitOK
}

// syncHydraAtStart is serve's sync of the Hydra project (engine hydra
// only): one attempt before the scheduler starts; if it fails, the failure
// is logged, /healthz answers 503 naming it, and the sync is retried in the
// background with backoff until it succeeds (a wrong password fixed in the
// password file heals without a restart). It returns next wrapped for that.
func syncHydraAtStart(ctx context.Context, p *pipeline.Pipeline, logger *log.Logger, next http.Handler) http.Handler {
	eng, ok := p.Engine.(*hydra.Engine)
	if !ok {
		return next
	}
	s := &startSync{eng: eng, cfg: p.Cfg, log: logger}
	if s.attempt(ctx, time.Minute) {
		return next
	}
	go s.retry(ctx, 10*time.Second, 5*time.Minute)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			if err := s.health(); err != nil {
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprintf(w, "degraded: hydra sync: %v\n", err)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

type startSync struct {
	eng *hydra.Engine
	cfg *config.Config
	log *log.Logger

	mu  sync.Mutex
	err error
}

func (s *startSync) health() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// attempt runs one sync within limit and records its outcome.
func (s *startSync) attempt(ctx context.Context, limit time.Duration) bool {
	actx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	changes, err := s.eng.SyncJobsets(actx)
	for _, c := range changes {
		if c.Action != "unchanged" {
			s.log.Info("hydra sync", "change", c.String())
		}
	}
	if err != nil {
		err = syncError(actx, s.cfg, err)
		s.log.Error("hydra sync failed: /healthz is degraded until a retry succeeds", "err", err)
	} else {
		s.log.Info("hydra sync: project and jobsets are the engine's", "project", s.cfg.Hydra.Project)
	}
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
	return err == nil
}

func (s *startSync) retry(ctx context.Context, wait, most time.Duration) {
	for {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if s.attempt(ctx, time.Minute) {
			return
		}
		wait = min(2*wait, most)
	}
}
