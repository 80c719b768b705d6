package hydra

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// ErrNoRevision means a locked flake URL names no revision (path: flakes).
var ErrNoRevision = errors.New("flake URL carries no revision")

// FlakeRevision extracts the git revision from a locked flake URL:
//   - github:, gitlab:, sourcehut: the 40-hex path segment before '?'
//     (github:owner/repo/<rev>?narHash=...), or a rev= parameter;
//   - git+https:, git+ssh:, git+file: ... the rev= parameter;
//   - path: flakes have none (ErrNoRevision).
func FlakeRevision(locked string) (string, error) {
	locked = strings.TrimSpace(locked)
	scheme, rest, ok := strings.Cut(locked, ":")
	if !ok || scheme == "" {
		return "", fmt.Errorf("flake URL %q: no scheme", locked)
	}
	pathPart, query, _ := strings.Cut(rest, "?")
	q, err := url.ParseQuery(query)
	if err != nil {
		return "", fmt.Errorf("flake URL %q: query: %w", locked, err)
	}
	if rev := q.Get("rev"); rev != "" {
		if !isHexRev(rev) {
			return "", fmt.Errorf("flake URL %q: rev %q is not a 40-hex git revision", locked, rev)
		}
		return strings.ToLower(rev), nil
	}
	switch {
	case scheme == "github" || scheme == "gitlab" || scheme == "sourcehut":
		segs := strings.Split(strings.Trim(pathPart, "/"), "/")
		if len(segs) >= 3 && isHexRev(segs[len(segs)-1]) {
			return strings.ToLower(segs[len(segs)-1]), nil
		}
		return "", fmt.Errorf("flake URL %q: not locked (no revision segment)", locked)
	case strings.HasPrefix(scheme, "git+") || scheme == "git":
		return "", fmt.Errorf("flake URL %q: not locked (no rev= parameter)", locked)
	case scheme == "path" || strings.HasPrefix(scheme, "path+") || scheme == "tarball" || strings.HasPrefix(scheme, "file+") || scheme == "file":
		return "", fmt.Errorf("flake URL %q: %w", locked, ErrNoRevision)
	}
	return "", fmt.Errorf("flake URL %q: unsupported scheme %q", locked, scheme)
}

func isHexRev(s string) bool {
	if len(s) != 40 {
		return false
	}
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
		default:
			return false
		}
	}
	return true
}

// Revision maps an eval to the git revision it evaluated: the locked flake
// URL's revision for flake jobsets, jobsetevalinputs[input].revision for
// legacy ones.
func (e *Eval) Revision(input string) (string, error) {
	if e.Flake != "" {
		return FlakeRevision(string(e.Flake))
	}
	if in, ok := e.Inputs[input]; ok {
		if in.Revision == "" {
			return "", fmt.Errorf("eval %d: input %q has no revision", e.ID, input)
		}
		return string(in.Revision), nil
	}
	if len(e.Inputs) == 0 {
		return "", fmt.Errorf("eval %d: neither a locked flake URL nor inputs (hasnewbuilds = %d)", e.ID, e.HasNewBuilds)
	}
	return "", fmt.Errorf("eval %d: no input named %q", e.ID, input)
}
