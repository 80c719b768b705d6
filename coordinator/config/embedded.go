package config

import (
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/ironworks-ci/ironworks/adapters"
)

// EmbeddedPrefix marks an adapter compiled into the binary, e.g. "embedded:merkletree".
const EmbeddedPrefix = "embedded:"

// DefaultTOML is the configuration used when none is given: SQLite under
// .ironworks, the local engine, and the two real Filecoin repositories.
const DefaultTOML = `state_dir = ".ironworks"
adapters  = ["embedded:merkletree", "embedded:rust-fil-proofs"]

[engine]
default = "local"
`

// Default returns the embedded default configuration with state under base.
func Default(base string) (*Config, error) {
	return Parse("(embedded default config)", []byte(DefaultTOML), base)
}

func loadEmbedded(name string) (*Adapter, error) {
	file := path.Join(name, "adapter.toml")
	a, err := loadAdapterFS(adapters.Files, file, EmbeddedPrefix+file, "")
	if err != nil {
		return nil, fmt.Errorf("embedded adapter %q: %w", name, err)
	}
	return a, nil
}

func embeddedData(display string) ([]byte, bool) {
	name, ok := strings.CutPrefix(display, EmbeddedPrefix)
	if !ok {
		return nil, false
	}
	data, err := fs.ReadFile(adapters.Files, name)
	return data, err == nil
}
