package hydraengine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"sort"
	"time"

	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// The contract with the Nix side, defined once (docs/hydra.md, "The
// contract"). nix/lib/locks.nix reads what LockFiles writes; nix/lib/project.nix
// names jobs the way JobName and GateName do. TestFlakeEvaluatesEngineLock
// evaluates the project's own flake on a lock this package wrote.

// GateJob is the attribute of a stage's gating aggregate inside
// hydraJobs.<stage> (nix/lib/project.nix, mkStage).
const GateJob = "gate"

// JobName is the Hydra job of job of component in stage's jobset: the
// attribute path hydraJobs.<stage>.<component>.<job>.<system> of the flake.
func JobName(stage, component, job, system string) string {
	return stage + "." + component + "." + job + "." + system
}

// GateName is the Hydra job of the stage's gating aggregate.
func GateName(stage, system string) string { return stage + "." + GateJob + "." + system }

// LockPath is the lock file of a stage on its lock branch.
func LockPath(stage string) string { return "locks/" + stage + ".json" }

// JobsetPath is the file that restricts a lock branch's hydraJobs to its stage.
const JobsetPath = "locks/jobset.json"

// CargoLockPath is a component's generated Cargo.lock on a lock branch; the
// lock entry's cargoLock names it relative to locks/.
func CargoLockPath(component string) string { return "locks/" + cargoLockRel(component) }

func cargoLockRel(component string) string { return "cargo/" + component + ".lock" }

// Lock is locks/<stage>.json as nix/lib/locks.nix reads it.
type Lock struct {
	Stage      string               `json:"stage"`
	Candidate  string               `json:"candidate"`
	UpdatedAt  string               `json:"updatedAt"`
	Components map[string]LockEntry `json:"components"`
}

// LockEntry pins one component.
type LockEntry struct {
	Repo   string `json:"repo"`
	Rev    string `json:"rev"`
	Branch string `json:"branch,omitempty"`
	// CargoLock is the Cargo.lock the component builds with, relative to
	// locks/ ("cargo/<name>.lock"); empty: the source's own.
	CargoLock string `json:"cargoLock,omitempty"`
}

// Selection is locks/jobset.json.
type Selection struct {
	Stages []string `json:"stages"`
}

// NewLock builds the lock of candidate c at stage; cargo lists the
// components that get a generated Cargo.lock.
func NewLock(stage string, c *store.Candidate, cargo map[string][]byte, at time.Time) *Lock {
	l := &Lock{Stage: stage, Candidate: c.ID, Components: map[string]LockEntry{}, UpdatedAt: at.UTC().Format(time.RFC3339)}
	for n, r := range c.Revisions {
		e := LockEntry{Repo: r.Repo, Branch: r.Branch, Rev: r.Rev}
		if _, ok := cargo[n]; ok {
			e.CargoLock = cargoLockRel(n)
		}
		l.Components[n] = e
	}
	return l
}

// Equivalent reports whether two locks pin the same thing; updatedAt does
// not count.
func (l *Lock) Equivalent(o *Lock) bool {
	return l.Stage == o.Stage && l.Candidate == o.Candidate && maps.Equal(l.Components, o.Components)
}

// Marshal renders the lock as committed: indented, with a final newline.
func (l *Lock) Marshal() []byte {
	b, _ := json.MarshalIndent(l, "", "  ")
	return append(b, '\n')
}

var fullRev = regexp.MustCompile(`^[0-9a-f]{40}$`)

// ParseLock decodes and checks a lock file as the flake would: unknown
// fields, missing repos and revisions that are not 40-hex are errors naming
// the field.
func ParseLock(data []byte) (*Lock, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var l Lock
	if err := dec.Decode(&l); err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	if l.Stage == "" {
		return nil, fmt.Errorf("lock: stage is empty")
	}
	names := make([]string, 0, len(l.Components))
	for n := range l.Components {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		e := l.Components[n]
		if e.Repo == "" {
			return nil, fmt.Errorf("lock: components.%s.repo is empty", n)
		}
		if !fullRev.MatchString(e.Rev) {
			return nil, fmt.Errorf("lock: components.%s.rev %q is not a 40-hex git revision", n, e.Rev)
		}
	}
	return &l, nil
}

// LockFiles are the files a stage's lock commit adds to main's tree.
func LockFiles(lock *Lock, cargo map[string][]byte) map[string][]byte {
	sel, _ := json.Marshal(Selection{Stages: []string{lock.Stage}})
	files := map[string][]byte{
		LockPath(lock.Stage): lock.Marshal(),
		JobsetPath:           append(sel, '\n'),
	}
	for n, b := range cargo {
		files[CargoLockPath(n)] = b
	}
	return files
}
