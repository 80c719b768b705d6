// Package fixtureadapters checks that the fixture adapters used by
// nix/testing/check-offline are adapters the coordinator accepts, next to the real ones:
// the Nix side of the third-component walkthrough (docs/adapters.md) must stay a valid
// coordinator configuration too.
package fixtureadapters

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/ironworks-ci/ironworks/coordinator/config"
)

func TestFixtureAdaptersLoadWithTheRealOnes(t *testing.T) {
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	data := []byte(`state_dir = "state"
adapters = ["adapters/merkletree", "adapters/rust-fil-proofs", "nix/testing/adapters/consumer"]
`)
	c, err := config.Parse(filepath.Join(root, "ironworks.toml"), data, root)
	if err != nil {
		t.Fatal(err)
	}
	var forge []string
	manual := map[string]bool{}
	for _, j := range c.StageJobs("forge") {
		if j.Component == "consumer" {
			forge = append(forge, j.ID())
			manual[j.ID()] = j.Manual
		}
	}
	if strings.Join(forge, " ") != "consumer:build consumer:test consumer:tree" {
		t.Fatalf("consumer forge jobs = %v, want build, test and the manual tree", forge)
	}
	// check-offline proves the flake leaves the manual job out of the forge gate, as
	// the pipeline leaves it out of a stage run
	if !manual["consumer:tree"] || manual["consumer:build"] {
		t.Fatalf("manual flags %v, want only consumer:tree", manual)
	}
}
