// This validator exists for spec_test.go only (a _test file, so that
// deadcode does not count it).
//
// Package hydraspec validates Ironworks' declarative Hydra project spec
// (infra/hydra/spec.json, the project's static `.jobsets` file): only keys Hydra
// accepts, one flake jobset per stage evaluating that stage's lock branch, a polling
// interval or a documented trigger-only schedule, a history to keep.
package hydraspec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// AcceptedKeys are the jobset keys Hydra's declarative projects accept; any other key
// fails that jobset with "invalid keys" (reference/hydra-api.md).
var AcceptedKeys = []string{
	"enabled", "hidden", "type", "flake", "description", "nixexprinput", "nixexprpath",
	"checkinterval", "schedulingshares", "enableemail", "enable_dynamic_run_command",
	"emailoverride", "keepnr", "inputs",
}

// Stages are the job stages, each with exactly one jobset of the same name.
var Stages = []string{"spark", "forge", "harden", "temper"}

// TriggerOnly is the phrase a jobset's description must contain when its
// checkinterval is 0 (Hydra then evaluates it only when triggered).
const TriggerOnly = "trigger-only"

// LockBranch is the branch whose flake a stage's jobset evaluates; the coordinator
// writes locks/<stage>.json and locks/jobset.json there.
func LockBranch(stage string) string { return stage + "-lock" }

// GateJob is the Hydra job name of a stage's gating aggregate in an eval of that
// stage's jobset (hydraJobs.<stage>.gate.<system> in the flake).
func GateJob(stage, system string) string { return stage + ".gate." + system }

// Jobset is one decoded jobset spec. Numbers are ints and flags booleans, as Hydra's
// declarative loader expects.
type Jobset struct {
	Enabled          int             `json:"enabled"`
	Hidden           bool            `json:"hidden"`
	Type             int             `json:"type"`
	Flake            string          `json:"flake"`
	Description      string          `json:"description"`
	NixExprInput     string          `json:"nixexprinput"`
	NixExprPath      string          `json:"nixexprpath"`
	CheckInterval    int             `json:"checkinterval"`
	SchedulingShares int             `json:"schedulingshares"`
	EnableEmail      bool            `json:"enableemail"`
	DynamicRunCmd    bool            `json:"enable_dynamic_run_command"`
	EmailOverride    string          `json:"emailoverride"`
	KeepNr           int             `json:"keepnr"`
	Inputs           json.RawMessage `json:"inputs"`
}

var (
	jobsetName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)
	// github:owner/repo/ref, or git+https/ssh/file URLs with ?ref=...
	githubFlake = regexp.MustCompile(`^github:[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/([A-Za-z0-9_./-]+)$`)
	gitFlake    = regexp.MustCompile(`^git\+(https|ssh|file)://[^?#\s]+\?(?:.*&)?ref=([A-Za-z0-9_./-]+)(&.*)?$`)
)

// LoadFile reads and validates a spec file.
func LoadFile(path string) (map[string]Jobset, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	spec, err := Validate(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return spec, nil
}

// Validate decodes a declarative spec and reports every problem, each naming the
// jobset and key.
func Validate(data []byte) (map[string]Jobset, error) {
	var raw map[string]map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("spec is not a JSON object of jobset objects: %w", err)
	}
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("jobset %q: "+format, append([]any{name}, args...)...))
	}
	spec := map[string]Jobset{}
	names := make([]string, 0, len(raw))
	for name := range raw {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fields := raw[name]
		if !jobsetName.MatchString(name) {
			bad(name, "invalid jobset name")
		}
		var unknown []string
		for k := range fields {
			if !slices.Contains(AcceptedKeys, k) {
				unknown = append(unknown, k)
			}
		}
		if len(unknown) > 0 {
			sort.Strings(unknown)
			bad(name, "invalid keys %s (Hydra accepts only %s)", strings.Join(unknown, ", "), strings.Join(AcceptedKeys, ", "))
			continue
		}
		body, _ := json.Marshal(fields)
		dec := json.NewDecoder(bytes.NewReader(body))
		var j Jobset
		if err := dec.Decode(&j); err != nil {
			bad(name, "%v", err)
			continue
		}
		if _, ok := fields["enable_dynamic_run_command"]; ok {
			bad(name, "enable_dynamic_run_command is set: Hydra's Perl treats any defined value (false too) as enabled; leave the key out")
		}
		for _, k := range []string{"enabled", "type", "checkinterval", "schedulingshares", "keepnr", "flake", "description"} {
			if _, ok := fields[k]; !ok {
				bad(name, "missing key %s", k)
			}
		}
		validateJobset(name, j, bad)
		spec[name] = j
	}
	for _, stage := range Stages {
		if _, ok := raw[stage]; !ok {
			errs = append(errs, fmt.Errorf("no jobset for stage %s (one flake jobset per stage, named after it)", stage))
		}
	}
	for _, name := range names {
		if !slices.Contains(Stages, name) {
			bad(name, "is not a stage (jobsets: %s)", strings.Join(Stages, ", "))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return spec, nil
}

func validateJobset(name string, j Jobset, bad func(string, string, ...any)) {
	if j.Enabled < 0 || j.Enabled > 3 {
		bad(name, "enabled = %d, want 0 (off), 1 (on), 2 (one-shot) or 3 (one-at-a-time)", j.Enabled)
	}
	if j.Type != 1 {
		bad(name, "type = %d, want 1 (flake jobset)", j.Type)
	}
	if j.NixExprInput != "" || j.NixExprPath != "" {
		bad(name, "nixexprinput/nixexprpath belong to legacy jobsets, not flake jobsets")
	}
	switch {
	case j.Flake == "":
		bad(name, "flake is empty")
	case strings.Contains(j.Flake, "#"):
		bad(name, "flake %q has a fragment: Hydra evaluates the flake's hydraJobs, stage selection is locks/jobset.json on the lock branch", j.Flake)
	default:
		ref := ""
		if m := githubFlake.FindStringSubmatch(j.Flake); m != nil {
			ref = m[1]
		} else if m := gitFlake.FindStringSubmatch(j.Flake); m != nil {
			ref = m[2]
		} else {
			bad(name, "flake %q is not github:OWNER/REPO/BRANCH or git+https|ssh|file://...?ref=BRANCH", j.Flake)
			break
		}
		if slices.Contains(Stages, name) && ref != LockBranch(name) {
			bad(name, "flake %q evaluates branch %q, want the stage's lock branch %q", j.Flake, ref, LockBranch(name))
		}
	}
	switch {
	case j.CheckInterval < 0:
		bad(name, "checkinterval = %d, want > 0, or 0 with %q in the description", j.CheckInterval, TriggerOnly)
	case j.CheckInterval == 0 && !strings.Contains(j.Description, TriggerOnly):
		bad(name, "checkinterval = 0 (triggers only) must be documented: put %q in the description", TriggerOnly)
	}
	if slices.Contains(Stages, name) && !strings.Contains(j.Description, name+".gate.") {
		bad(name, "description must name the stage's gating aggregate (%s)", GateJob(name, "<system>"))
	}
	if j.SchedulingShares <= 0 {
		bad(name, "schedulingshares = %d, want > 0", j.SchedulingShares)
	}
	if j.KeepNr < 1 {
		bad(name, "keepnr = %d, want >= 1 (evaluations the coordinator reads back must be kept)", j.KeepNr)
	}
	if len(j.Inputs) > 0 {
		var in map[string]json.RawMessage
		if err := json.Unmarshal(j.Inputs, &in); err != nil {
			bad(name, "inputs is not an object: %v", err)
		}
	}
}
