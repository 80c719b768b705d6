package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/sandbox"
)

// infraError is a failure of the machine (state directory, sandbox), not of
// the configuration: exit 4, not 3.
type infraError struct{ err error }

func (e *infraError) Error() string { return e.err.Error() }
func (e *infraError) Unwrap() error { return e.err }

// exitFor maps an error of opening the coordinator to its exit code.
func exitFor(err error) int {
	var ie *infraError
	if errors.As(err, &ie) {
		return exitInfra
	}
	return exitConfig
}

// lockState takes the state directory's exclusive lock, held by every
// command that runs jobs (run, serve), so that two coordinators never run the
// same run, job or probe in the same worktrees. It fails at once, naming the
// holder; read-only commands and single-transaction writers (status,
// subscribe, promote) do not take it. The lock is released when the process
// ends, whatever way it ends, because flock belongs to the open file.
func lockState(dir, command string) (release func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, &infraError{fmt.Errorf("state directory %s: %w", dir, err)}
	}
	path := filepath.Join(dir, "lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, &infraError{fmt.Errorf("state directory %s: %w", dir, err)}
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &infraError{fmt.Errorf("state directory %s is in use by %s; one coordinator runs jobs per state directory (status works beside it)",
				dir, strings.TrimSpace(string(holder)))}
		}
		return nil, &infraError{fmt.Errorf("state directory %s: lock %s: %w", dir, path, err)}
	}
	_ = f.Truncate(0)
	fmt.Fprintf(f, "pid %d (coordinator %s)\n", os.Getpid(), command)
	return func() { f.Close() }, nil
}

// secretFiles are the files the configuration names that hold secrets.
func secretFiles(cfg *config.Config) []string {
	var files []string
	if cfg.Hydra != nil {
		files = append(files, cfg.Hydra.PasswordFile)
	}
	if cfg.GitHub != nil {
		files = append(files, cfg.GitHub.TokenFile, cfg.GitHub.WebhookSecretFile)
	}
	if cfg.SMTP != nil {
		files = append(files, cfg.SMTP.PasswordFile)
	}
	files = append(files, cfg.Artifacts.AccessKeyFile, cfg.Artifacts.SecretKeyFile, cfg.Web.OperatorTokenFile,
		cfg.Notify.UnsubscribeSecret, cfg.Engine.BenchTokensFile)
	out := files[:0]
	for _, f := range files {
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}

// newSandbox is the jobs' sandbox for a configuration, proven to work here:
// the secret files, the configuration file and the state directory are
// hidden from every job.
func newSandbox(ctx context.Context, cfg *config.Config) (*sandbox.Sandbox, error) {
	hide := append(secretFiles(cfg), cfg.StateDir)
	if cfg.File != "" {
		hide = append(hide, cfg.File)
	}
	sb := &sandbox.Sandbox{Mode: cfg.Engine.Sandbox, Hide: hide}
	if err := sb.Check(ctx); err != nil {
		return nil, &infraError{err}
	}
	return sb, nil
}

// newHTTPServer bounds what a client can make the daemon hold: slow headers,
// slow bodies and slow readers are cut off (log streams lift their own write
// deadline).
func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
}
