// Package adapters holds one folder per component (adapter.toml, default.nix)
// and the Go hooks that do what only Go can: pinning an upstream revision into a
// downstream build and reading a benchmark report.
package adapters

import "embed"

// Files holds every adapter.toml, so the coordinator runs on its defaults from
// any directory.
//
//go:embed */adapter.toml
var Files embed.FS
