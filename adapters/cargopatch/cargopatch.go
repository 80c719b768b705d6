// Package cargopatch is the "cargo-patch" pin method: it builds a Rust
// downstream against an upstream crate's exact git revision through a
// [patch.crates-io] entry written to a Cargo configuration file outside the
// downstream's checkout, so no tracked file is edited.
//
// Cargo ignores a patch whose version does not satisfy the downstream's
// requirement and silently builds the registry version instead ("Patch ... was
// not used in the crate graph"). That would be a false green, so Pin checks the
// requirement before the build and, after resolving, that the lock file really
// points at the pinned revision.
package cargopatch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/BurntSushi/toml"
	"github.com/Masterminds/semver/v3"

	"github.com/ironworks-ci/ironworks/adapters/hook"
)

func init() { hook.RegisterPin("cargo-patch", Pinner{}) }

// Pinner implements hook.Pinner for Cargo.
type Pinner struct{}

// Pin writes the patch and verifies that Cargo uses it.
func (Pinner) Pin(ctx context.Context, req hook.PinRequest) (string, error) {
	crate := req.Upstream.Crate
	if crate == "" {
		crate = req.Upstream.Name
	}
	version, err := PackageVersion(filepath.Join(req.UpstreamDir, "Cargo.toml"), crate)
	if err != nil {
		return "", err
	}
	reqStr, where, err := Requirement(req.DownstreamDir, crate)
	if err != nil {
		return "", err
	}
	ok, err := Satisfies(version, reqStr)
	if err != nil {
		return "", fmt.Errorf("%s: requirement %q of %s: %w", where, reqStr, crate, err)
	}
	if !ok {
		return "", &hook.NotAcceptedError{Crate: crate, Version: version, Requirement: reqStr,
			Reason: "declared in " + where + "; Cargo would ignore the patch and build the registry version"}
	}
	if err := writePatch(req.ScratchDir, crate, req.UpstreamURL, req.UpstreamRev); err != nil {
		return "", err
	}
	src, err := resolvedSource(ctx, req, crate)
	if err != nil {
		return "", err
	}
	want := "git+" + req.UpstreamURL + "?rev=" + req.UpstreamRev
	if !strings.HasPrefix(src, want) {
		return "", &hook.NotAcceptedError{Crate: crate, Version: version,
			Reason: fmt.Sprintf("Cargo resolved %s from %q instead of the pinned revision", crate, src)}
	}
	return fmt.Sprintf("%s %s pinned to %s (requirement %q in %s)", crate, version, req.UpstreamRev, reqStr, where), nil
}

// writePatch puts the [patch.crates-io] entry in ScratchDir/.cargo/config.toml,
// which Cargo reads for every directory below it. A git+rev patch (rather than a
// path) keeps the upstream's lints capped, as for any git dependency.
func writePatch(scratch, crate, url, rev string) error {
	dir := filepath.Join(scratch, ".cargo")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Written by Ironworks: build against %s at %s.\n", crate, rev)
	enc := toml.NewEncoder(&b)
	err := enc.Encode(map[string]any{"patch": map[string]any{"crates-io": map[string]any{
		crate: map[string]string{"git": url, "rev": rev},
	}}})
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "config.toml"), b.Bytes(), 0o644)
}

// resolvedSource refreshes the downstream's lock for crate and returns the
// source Cargo chose for it.
func resolvedSource(ctx context.Context, req hook.PinRequest, crate string) (string, error) {
	if _, err := os.Stat(filepath.Join(req.DownstreamDir, "Cargo.lock")); err == nil {
		// A committed lock pins the registry version; update just this crate.
		if out, err := cargo(ctx, req, "update", "-p", crate); err != nil {
			return "", fmt.Errorf("cargo update -p %s: %w\n%s", crate, err, out)
		}
	}
	out, err := cargo(ctx, req, "metadata", "--format-version", "1")
	if err != nil {
		return "", fmt.Errorf("cargo metadata: %w\n%s", err, lastLines(out, 20))
	}
	var md struct {
		Packages []struct {
			Name    string  `json:"name"`
			Version string  `json:"version"`
			Source  *string `json:"source"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(out, &md); err != nil {
		return "", fmt.Errorf("cargo metadata: %w", err)
	}
	for _, p := range md.Packages {
		if p.Name == crate {
			if p.Source == nil {
				return "path", nil
			}
			return *p.Source, nil
		}
	}
	return "", fmt.Errorf("cargo metadata: %s is not in the downstream's crate graph", crate)
}

func cargo(ctx context.Context, req hook.PinRequest, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "cargo", args...)
	cmd.Dir = req.DownstreamDir
	// Unsandboxed, so nothing else ends it with the coordinator: a cargo
	// left writing the checkout after a crash races the restarted run.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Env = req.Env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stderr.Bytes(), err
	}
	return stdout.Bytes(), nil
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// PackageVersion reads [package] version of a manifest, following
// version.workspace = true to the workspace root next to it.
func PackageVersion(manifest, crate string) (string, error) {
	var m struct {
		Package struct {
			Name    string `toml:"name"`
			Version any    `toml:"version"`
		} `toml:"package"`
		Workspace struct {
			Package struct {
				Version string `toml:"version"`
			} `toml:"package"`
		} `toml:"workspace"`
	}
	if _, err := toml.DecodeFile(manifest, &m); err != nil {
		return "", fmt.Errorf("upstream manifest %s: %w", manifest, err)
	}
	if m.Package.Name != "" && m.Package.Name != crate {
		return "", fmt.Errorf("upstream manifest %s: package is %q, adapter says crate %q", manifest, m.Package.Name, crate)
	}
	switch v := m.Package.Version.(type) {
	case string:
		return v, nil
	case map[string]any:
		if m.Workspace.Package.Version != "" {
			return m.Workspace.Package.Version, nil
		}
	}
	return "", fmt.Errorf("upstream manifest %s: package.version: missing or not a string", manifest)
}

// Requirement finds the downstream's version requirement on crate: in the root
// manifest's [workspace.dependencies] first (where rust-fil-proofs declares it
// once), then its [dependencies]. It returns the requirement and where it was found.
func Requirement(downstreamDir, crate string) (req, where string, err error) {
	manifest := filepath.Join(downstreamDir, "Cargo.toml")
	var m struct {
		Workspace struct {
			Dependencies map[string]any `toml:"dependencies"`
		} `toml:"workspace"`
		Dependencies map[string]any `toml:"dependencies"`
	}
	if _, err := toml.DecodeFile(manifest, &m); err != nil {
		return "", "", fmt.Errorf("downstream manifest %s: %w", manifest, err)
	}
	for _, sec := range []struct {
		name string
		deps map[string]any
	}{{"workspace.dependencies", m.Workspace.Dependencies}, {"dependencies", m.Dependencies}} {
		d, ok := sec.deps[crate]
		if !ok {
			continue
		}
		where := "Cargo.toml [" + sec.name + "] " + crate
		switch v := d.(type) {
		case string:
			return v, where, nil
		case map[string]any:
			if s, ok := v["version"].(string); ok {
				return s, where, nil
			}
			return "", where, fmt.Errorf("downstream manifest %s: %s has no version requirement (git or path dependency); cargo-patch needs a registry requirement", manifest, where)
		}
	}
	return "", "", fmt.Errorf("downstream manifest %s: no dependency on %s in [workspace.dependencies] or [dependencies]", manifest, crate)
}

// Satisfies applies Cargo's requirement semantics: a bare version means caret.
func Satisfies(version, requirement string) (bool, error) {
	v, err := semver.StrictNewVersion(version)
	if err != nil {
		return false, fmt.Errorf("version %q: %w", version, err)
	}
	parts := strings.Split(requirement, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if p != "" && (p[0] >= '0' && p[0] <= '9') {
			p = "^" + p
		}
		parts[i] = p
	}
	c, err := semver.NewConstraint(strings.Join(parts, ", "))
	if err != nil {
		return false, err
	}
	return c.Check(v), nil
}
