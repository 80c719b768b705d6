// Package hydraenginetest wires an in-test GitHub and an in-test Hydra
// together the way production is wired: each stage's flake jobset evaluates
// the head of its lock branch, reads locks/<stage>.json and produces the jobs
// <stage>.<component>.<job>.<system> plus the aggregate <stage>.gate.<system>.
// Its evaluation is a stand-in (the test lists the jobs); flake.go has the
// one that is `nix eval` of the project's flake.
package hydraenginetest

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	hydraengine "github.com/ironworks-ci/ironworks/coordinator/engine/hydra"
	"github.com/ironworks-ci/ironworks/coordinator/forge"
	"github.com/ironworks-ci/ironworks/coordinator/forge/githubtest"
	"github.com/ironworks-ci/ironworks/coordinator/httpretry"
	"github.com/ironworks-ci/ironworks/coordinator/hydra"
	"github.com/ironworks-ci/ironworks/coordinator/hydra/hydratest"
)

// Rig is a wired GitHub + Hydra pair.
type Rig struct {
	GitHub   *githubtest.Server
	Hydra    *hydratest.Server
	Client   *hydra.Client
	Forge    *forge.Client
	Project  string
	LockRepo string
	System   string
	PWFile   string
	Token    string

	mu sync.Mutex
	// Outcome maps an attribute to the status its build gets at evaluation;
	// attributes not listed stay unfinished until the test finishes them.
	Outcome map[string]int
	// Extra attributes every evaluation also produces (big jobsets).
	Extra []string
	// Jobs lists, per stage, the (component, job, gating) the flake defines.
	Jobs map[string][]*config.Job
}

// New starts both servers with a user, a token and a lock repository.
func New(t testing.TB) *Rig {
	t.Helper()
	r := &Rig{
		GitHub: githubtest.New(), Hydra: hydratest.New(), Project: "ironworks", LockRepo: "ironworks-ci/locks",
		System: "x86_64-linux", Outcome: map[string]int{}, Jobs: map[string][]*config.Job{}, Token: "ghp-test-token",
	}
	t.Cleanup(r.GitHub.Close)
	t.Cleanup(r.Hydra.Close)
	r.GitHub.Token = r.Token
	r.GitHub.AddRepo(r.LockRepo, "main", map[string]string{"flake.nix": "{ outputs = _: {}; }\n"})
	r.Hydra.AddUser("ironworks", "s3cret")
	r.PWFile = filepath.Join(t.TempDir(), "hydra-password")
	if err := os.WriteFile(r.PWFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r.Client = r.NewClient(t, httpretry.Options{RetryMax: 3, WaitMin: time.Millisecond, WaitMax: 5 * time.Millisecond, Timeout: 5 * time.Second})
	r.Forge = forge.New(r.GitHub.URL(), r.Token, forge.RetryingHTTPClient(httpretry.Options{RetryMax: 2, WaitMin: time.Millisecond, WaitMax: 2 * time.Millisecond}))
	return r
}

// NewClient returns another Hydra client with its own retry settings.
func (r *Rig) NewClient(t testing.TB, ro httpretry.Options) *hydra.Client {
	c, err := hydra.New(hydra.Options{URL: r.Hydra.URL(), User: "ironworks", PasswordFile: r.PWFile, Retry: ro})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// SetOutcome sets the status attr's build gets when evaluated.
func (r *Rig) SetOutcome(attr string, status int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Outcome[attr] = status
}

// AddStage creates the stage's jobset, evaluating jobs from the lock branch.
func (r *Rig) AddStage(stage, jobset string, jobs []*config.Job) {
	r.mu.Lock()
	r.Jobs[stage] = jobs
	r.mu.Unlock()
	branch := stage + "-lock"
	r.Hydra.AddJobset(r.Project, jobset, "github:"+r.LockRepo+"?ref="+branch)
	r.Hydra.SetResolver(r.Project, jobset, func() (*hydratest.EvalSpec, error) {
		head := r.GitHub.Head(r.LockRepo, branch)
		if head == "" {
			return nil, fmt.Errorf("'nix flake metadata' returned exit code 1: cannot find branch %s", branch)
		}
		content, ok := r.GitHub.FileAt(r.LockRepo, head, hydraengine.LockPath(stage))
		if !ok {
			return nil, fmt.Errorf("error: file locks/%s.json not found", stage)
		}
		lock, err := hydraengine.ParseLock([]byte(content))
		if err != nil {
			return nil, fmt.Errorf("error: locks/%s.json: %v", stage, err)
		}
		return r.spec(stage, head, lock), nil
	})
}

func (r *Rig) spec(stage, head string, lock *hydraengine.Lock) *hydratest.EvalSpec {
	r.mu.Lock()
	defer r.mu.Unlock()
	spec := &hydratest.EvalSpec{Flake: "github:" + r.LockRepo + "/" + head + "?narHash=sha256-AAAA"}
	var gating []string
	drv := func(comp string) string { return lock.Components[comp].Rev }
	for _, j := range r.Jobs[stage] {
		attr := hydraengine.JobName(stage, j.Component, j.Name, r.System)
		job := hydratest.Job{Name: attr, Drv: attr + "@" + drv(j.Component)}
		if st, ok := r.Outcome[attr]; ok {
			job.Status = hydratest.Status(st)
		}
		spec.Jobs = append(spec.Jobs, job)
		if j.IsGating() {
			gating = append(gating, attr)
		}
	}
	for _, x := range r.Extra {
		spec.Jobs = append(spec.Jobs, hydratest.Job{Name: x, Drv: x, Status: hydratest.Status(0)})
	}
	sort.Strings(gating)
	spec.Jobs = append(spec.Jobs, hydratest.Job{Name: hydraengine.GateName(stage, r.System), Drv: "gate@" + head, Constituents: gating})
	return spec
}

// Engine returns a Hydra engine over the rig.
func (r *Rig) Engine(t testing.TB, o hydraengine.Options) *hydraengine.Engine {
	t.Helper()
	if o.Hydra == nil {
		o.Hydra = r.Client
	}
	o.Locks, o.Project, o.LockRepo, o.System = r.Forge, r.Project, r.LockRepo, r.System
	if o.PollInterval == 0 {
		o.PollInterval = 2 * time.Millisecond
	}
	if o.EvalDeadline == 0 {
		o.EvalDeadline = 10 * time.Second
	}
	e, err := hydraengine.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// Job builds a job definition.
func Job(component, name, stage string, gating bool) *config.Job {
	j := &config.Job{Component: component, Name: name, Stage: stage}
	if !gating {
		f := false
		j.Gating = &f
	}
	return j
}
