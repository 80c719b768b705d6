// Package fixtureadapters checks that the fixture adapters used by
// nix/testing/check-offline are adapters the coordinator accepts, next to the real ones:
// the Nix side of the third-component walkthrough (docs/adapters.md) must stay a valid
// coordinator configuration too.
package fixtureadapters

import (
	"path/filepath"
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
	for _, j := range c.StageJobs("forge") {
		if j.Component == "consumer" {
			forge = append(forge, j.ID())
		}
	}
	if len(forge) != 2 {
		t.Fatalf("consumer forge jobs = %v, want build and test", forge)
	}
}
