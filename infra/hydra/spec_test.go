package hydraspec

import (
	"encoding/json"
	"strings"
	"testing"
)

// The spec shipped in the repository must be valid.
func TestRepositorySpec(t *testing.T) {
	spec, err := LoadFile("spec.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(spec) != len(Stages) {
		t.Fatalf("got %d jobsets, want %d", len(spec), len(Stages))
	}
	for _, stage := range Stages {
		j := spec[stage]
		if j.Flake != "github:ironworks-ci/ironworks/"+LockBranch(stage) {
			t.Errorf("%s: flake %q", stage, j.Flake)
		}
		if !strings.Contains(j.Description, GateJob(stage, "x86_64-linux")) {
			t.Errorf("%s: description does not name %s", stage, GateJob(stage, "x86_64-linux"))
		}
	}
}

func TestGateJob(t *testing.T) {
	if got := GateJob("forge", "x86_64-linux"); got != "forge.gate.x86_64-linux" {
		t.Fatalf("GateJob = %q", got)
	}
}

// validSpec returns a valid spec as a mutable map; mutate edits one jobset.
func validSpec(t *testing.T, mutate func(map[string]map[string]any)) []byte {
	t.Helper()
	spec := map[string]map[string]any{}
	for _, s := range Stages {
		spec[s] = map[string]any{
			"enabled": 1, "hidden": false, "type": 1,
			"flake":         "github:ironworks-ci/ironworks/" + s + "-lock",
			"description":   s + " jobs; gate " + GateJob(s, "x86_64-linux"),
			"checkinterval": 300, "schedulingshares": 100, "enableemail": false,
			"emailoverride": "", "keepnr": 3,
			"inputs": map[string]any{},
		}
	}
	if mutate != nil {
		mutate(spec)
	}
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(map[string]map[string]any)
		wantErr string // "" = valid
	}{
		{"valid", nil, ""},
		{"trigger-only documented", func(s map[string]map[string]any) {
			s["temper"]["checkinterval"] = 0
			s["temper"]["description"] = "trigger-only; gate temper.gate.x86_64-linux"
		}, ""},
		{"git flake with ref", func(s map[string]map[string]any) {
			s["forge"]["flake"] = "git+https://example.org/ironworks.git?ref=forge-lock"
		}, ""},
		{"unknown key", func(s map[string]map[string]any) { s["forge"]["jobs"] = []string{"build"} }, "invalid keys jobs"},
		{"visible is not a declarative key", func(s map[string]map[string]any) { s["forge"]["visible"] = true }, "invalid keys visible"},
		{"dynamic run command false is enabled", func(s map[string]map[string]any) { s["forge"]["enable_dynamic_run_command"] = false }, "treats any defined value"},
		{"legacy type", func(s map[string]map[string]any) { s["forge"]["type"] = 0 }, "want 1 (flake jobset)"},
		{"legacy keys on a flake jobset", func(s map[string]map[string]any) { s["forge"]["nixexprinput"] = "src" }, "legacy jobsets"},
		{"no flake", func(s map[string]map[string]any) { delete(s["forge"], "flake") }, "missing key flake"},
		{"flake fragment", func(s map[string]map[string]any) {
			s["forge"]["flake"] = "github:ironworks-ci/ironworks/forge-lock#hydraJobs.forge"
		}, "has a fragment"},
		{"flake not a lockable URL", func(s map[string]map[string]any) { s["forge"]["flake"] = "path:/srv/ironworks" }, "is not github:"},
		{"flake on the wrong branch", func(s map[string]map[string]any) {
			s["harden"]["flake"] = "github:ironworks-ci/ironworks/forge-lock"
		}, `want the stage's lock branch "harden-lock"`},
		{"silent checkinterval 0", func(s map[string]map[string]any) { s["forge"]["checkinterval"] = 0 }, "must be documented"},
		{"negative checkinterval", func(s map[string]map[string]any) { s["forge"]["checkinterval"] = -1 }, "checkinterval = -1"},
		{"keepnr 0", func(s map[string]map[string]any) { s["forge"]["keepnr"] = 0 }, "keepnr = 0"},
		{"no keepnr", func(s map[string]map[string]any) { delete(s["forge"], "keepnr") }, "missing key keepnr"},
		{"schedulingshares 0", func(s map[string]map[string]any) { s["forge"]["schedulingshares"] = 0 }, "schedulingshares = 0"},
		{"enabled out of range", func(s map[string]map[string]any) { s["forge"]["enabled"] = 4 }, "enabled = 4"},
		{"enableemail as string", func(s map[string]map[string]any) { s["forge"]["enableemail"] = "false" }, "enableemail"},
		{"missing stage", func(s map[string]map[string]any) { delete(s, "harden") }, "no jobset for stage harden"},
		{"extra jobset", func(s map[string]map[string]any) {
			s["staging"] = s["forge"]
		}, `"staging": is not a stage`},
		{"gate not named", func(s map[string]map[string]any) { s["forge"]["description"] = "forge jobs" }, "gating aggregate (forge.gate."},
		{"inputs not an object", func(s map[string]map[string]any) { s["forge"]["inputs"] = []int{1} }, "inputs is not an object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Validate(validSpec(t, tt.mutate))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("want an error containing %q, got none", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("want an error containing %q, got %v", tt.wantErr, err)
			}
		})
	}
}

func TestValidateNotJSON(t *testing.T) {
	for _, in := range []string{"", "[]", `{"forge": 1}`, "{"} {
		if _, err := Validate([]byte(in)); err == nil {
			t.Errorf("Validate(%q) accepted", in)
		}
	}
}
