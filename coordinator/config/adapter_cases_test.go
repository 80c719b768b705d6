package config

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// adapterCase is one entry of testdata/adapter-cases.json, the table that
// nix/lib/schema.nix runs too (checks.<system>.nix-lib in the offline check):
// Go and Nix must accept and reject the same adapter.toml values.
type adapterCase struct {
	Name      string `json:"name"`
	OK        bool   `json:"ok"`
	TOML      string `json:"toml"`
	TimeoutNs *int64 `json:"timeout_ns"`
}

func loadAdapterCases(t *testing.T) []adapterCase {
	t.Helper()
	data, err := os.ReadFile("testdata/adapter-cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var table struct {
		Cases []adapterCase `json:"cases"`
	}
	if err := json.Unmarshal(data, &table); err != nil {
		t.Fatal(err)
	}
	if len(table.Cases) == 0 {
		t.Fatal("no cases in testdata/adapter-cases.json")
	}
	return table.Cases
}

func TestAdapterCasesSharedWithNix(t *testing.T) {
	for _, c := range loadAdapterCases(t) {
		t.Run(c.Name, func(t *testing.T) {
			a, err := ParseAdapter("adapter.toml", []byte(c.TOML))
			if c.OK != (err == nil) {
				t.Fatalf("ok=%v in the table, ParseAdapter error %v\n%s", c.OK, err, c.TOML)
			}
			if err != nil {
				if !strings.HasPrefix(err.Error(), "adapter.toml") {
					t.Errorf("error does not name the file: %v", err)
				}
				return
			}
			if c.TimeoutNs != nil {
				if got := a.Jobs["t"].Timeout.Duration.Nanoseconds(); got != *c.TimeoutNs {
					t.Errorf("job t timeout %dns, table says %dns", got, *c.TimeoutNs)
				}
			}
		})
	}
}
