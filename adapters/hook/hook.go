// Package hook is the interface and registry of adapter hooks written in Go:
// what an adapter needs that Nix and shell cannot do well, such as pinning an
// upstream revision into a downstream build.
package hook

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/ironworks-ci/ironworks/coordinator/config"
)

// PinRequest asks a pin method to build a downstream checkout against an
// upstream's exact revision.
type PinRequest struct {
	Upstream      config.Upstream
	UpstreamDir   string // checkout of the upstream at UpstreamRev
	UpstreamURL   string // URL the build tool can fetch the upstream from
	UpstreamRev   string
	DownstreamDir string // checkout of the downstream
	// ScratchDir is a directory that encloses DownstreamDir and belongs to the
	// run alone: pins write tool configuration there instead of editing
	// tracked files.
	ScratchDir string
	Env        []string // the scrubbed job environment, for tools the pin runs
}

// Pinner is a pin method (adapter.toml [[upstream]] pin).
type Pinner interface {
	// Pin arranges for the downstream's build to use the upstream revision and
	// confirms that the build tool accepted it. It returns *NotAcceptedError
	// when the tool would silently use another version.
	Pin(ctx context.Context, req PinRequest) (detail string, err error)
}

// NotAcceptedError means the downstream's build would not use the pinned
// upstream revision (for Cargo: a version outside the requirement). It is a
// verdict, never a green build.
type NotAcceptedError struct {
	Crate       string
	Version     string // the upstream's version at the pinned revision
	Requirement string // what the downstream accepts
	Reason      string
}

func (e *NotAcceptedError) Error() string {
	if e.Requirement != "" {
		return fmt.Sprintf("upstream version not accepted: %s %s does not satisfy the downstream's requirement %q%s", e.Crate, e.Version, e.Requirement, suffix(e.Reason))
	}
	return fmt.Sprintf("upstream version not accepted: %s %s%s", e.Crate, e.Version, suffix(e.Reason))
}

func suffix(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

var (
	mu      sync.RWMutex
	pinners = map[string]Pinner{}
)

// RegisterPin makes a pin method available under name.
func RegisterPin(name string, p Pinner) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := pinners[name]; dup {
		panic("hook: pin method registered twice: " + name)
	}
	pinners[name] = p
}

// Pin returns the pin method called name.
func Pin(name string) (Pinner, error) {
	mu.RLock()
	defer mu.RUnlock()
	p, ok := pinners[name]
	if !ok {
		names := make([]string, 0, len(pinners))
		for n := range pinners {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("unknown pin method %q (registered: %v)", name, names)
	}
	return p, nil
}
