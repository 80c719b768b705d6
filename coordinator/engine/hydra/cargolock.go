package hydraengine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"

	"github.com/ironworks-ci/ironworks/adapters/hook"
	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// CargoLocks generates locks/cargo/<name>.lock for every component of c that
// commits no Cargo.lock (adapter.toml lockfile = "generate") or is built
// against an upstream (a pin): its checkout at the candidate's revision, the
// upstream pins applied through the adapter's hook, resolved by Cargo. The
// pinned sources are resolved from the local mirrors and then named by the
// candidate's repository URLs, which are what the flake's [patch] entries
// name. A pin the downstream does not accept (version outside its
// requirement) still gives a lock: Hydra's build then refuses it with
// "Cargo.lock does not resolve", a failure of the downstream.
func (e *Engine) CargoLocks(ctx context.Context, c *store.Candidate, adapters map[string]*config.Adapter) (map[string][]byte, error) {
	if e.o.Mirrors == nil {
		return nil, nil
	}
	names := make([]string, 0, len(c.Revisions))
	for n := range c.Revisions {
		if a := adapters[n]; a != nil && (a.Lockfile == "generate" || len(a.Upstream) > 0) {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	sort.Strings(names)
	tmp, err := os.MkdirTemp("", "ironworks-cargolock-")
	if err != nil {
		return nil, err
	}
	defer func() {
		os.RemoveAll(tmp)
		for n := range c.Revisions {
			_ = e.o.Mirrors.Prune(context.WithoutCancel(ctx), n)
		}
	}()
	checkouts := map[string]string{}
	checkout := func(n, dir string) error {
		r := c.Revisions[n]
		if !e.o.Mirrors.Has(ctx, n, r.Rev) {
			if err := e.o.Mirrors.Sync(ctx, n, r.Repo); err != nil {
				return err
			}
		}
		return e.o.Mirrors.Checkout(ctx, n, r.Rev, dir)
	}
	out := map[string][]byte{}
	for _, n := range names {
		scratch := filepath.Join(tmp, n)
		dir := filepath.Join(scratch, "src")
		if err := checkout(n, dir); err != nil {
			return nil, fmt.Errorf("hydra engine: Cargo.lock of %s: %w", n, err)
		}
		for _, u := range adapters[n].Upstream {
			up, ok := checkouts[u.Name]
			if !ok {
				up = filepath.Join(tmp, "upstream", u.Name)
				if err := checkout(u.Name, up); err != nil {
					return nil, fmt.Errorf("hydra engine: Cargo.lock of %s: upstream %w", n, err)
				}
				checkouts[u.Name] = up
			}
			pin, err := hook.Pin(u.Pin)
			if err != nil {
				return nil, err
			}
			_, err = pin.Pin(ctx, hook.PinRequest{
				Upstream: u, UpstreamDir: up, UpstreamURL: e.o.Mirrors.URL(u.Name), UpstreamRev: c.Revisions[u.Name].Rev,
				DownstreamDir: dir, ScratchDir: scratch, Env: os.Environ(),
			})
			var na *hook.NotAcceptedError
			switch {
			case errors.As(err, &na):
				e.o.Log.Warn("pin not accepted; Hydra's build will refuse the lock", "component", n, "err", err)
			case err != nil:
				return nil, fmt.Errorf("hydra engine: Cargo.lock of %s: pinning %s: %w", n, u.Name, err)
			}
		}
		lockFile := filepath.Join(dir, "Cargo.lock")
		if _, err := os.Stat(lockFile); err != nil {
			cmd := exec.CommandContext(ctx, "cargo", "generate-lockfile")
			cmd.Dir = dir
			if b, err := cmd.CombinedOutput(); err != nil {
				return nil, fmt.Errorf("hydra engine: cargo generate-lockfile for %s: %w\n%s", n, err, b)
			}
		}
		b, err := os.ReadFile(lockFile)
		if err != nil {
			return nil, fmt.Errorf("hydra engine: Cargo.lock of %s: %w", n, err)
		}
		for _, u := range adapters[n].Upstream {
			b = bytes.ReplaceAll(b, []byte("git+"+e.o.Mirrors.URL(u.Name)+"?"), []byte("git+"+c.Revisions[u.Name].Repo+"?"))
		}
		out[n] = b
	}
	return out, nil
}
