package hydraenginetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ironworks-ci/ironworks/coordinator/forge/githubtest"
	"github.com/ironworks-ci/ironworks/coordinator/hydra/hydratest"
)

// Flake is the in-test Hydra's evaluator and builder for flake jobsets, as
// hydra-eval-jobs and the queue runner are for real: evaluating a jobset is
// `nix eval` of the hydraJobs of the flake at the head of its branch in the
// in-test GitHub (that commit's tree, written out), and a build is `nix
// build` of the job's attribute. nixpkgs is replaced by the test double
// nix/testing/nixpkgs-standin, as in nix/testing/check-offline.
type Flake struct {
	t         testing.TB
	overrides []string // --override-input NAME path:DOUBLE, one pair per flake input
	env       []string

	mu     sync.Mutex
	dirs   map[string]string // drv path -> flake checkout whose attribute it is
	attrs  map[string]string // drv path -> job name
	Builds []string          // job names built, in order
}

// RequireNix skips the test when nix is missing (CI installs it, so there it fails).
func RequireNix(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("nix"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("nix not installed, and CI must run the flake tests")
		}
		t.Skip("nix not installed")
	}
}

// NewFlake prepares the stand-in nixpkgs from the repository at root.
func NewFlake(t testing.TB, root string) *Flake {
	t.Helper()
	RequireNix(t)
	// nix/testing/standin-setup writes the doubles of the flake's inputs
	// (nixpkgs, rust-overlay) and prints the NIX_CONFIG their sandboxed builds need.
	inputs := filepath.Join(t.TempDir(), "inputs")
	conf, err := exec.Command(filepath.Join(root, "nix/testing/standin-setup"), inputs).Output()
	if err != nil {
		t.Fatalf("nix/testing/standin-setup: %v", err)
	}
	entries, err := os.ReadDir(inputs)
	if err != nil {
		t.Fatal(err)
	}
	var overrides []string
	for _, e := range entries {
		overrides = append(overrides, "--override-input", e.Name(), "path:"+filepath.Join(inputs, e.Name()))
	}
	return &Flake{t: t, overrides: overrides, env: append(os.Environ(), "NIX_CONFIG="+string(conf)),
		dirs: map[string]string{}, attrs: map[string]string{}}
}

func (f *Flake) nix(ctx context.Context, args ...string) ([]byte, error) {
	// The queue runner builds jobs in parallel; Nix 2.8's evaluation cache
	// is one SQLite file per flake, and a writer holding it makes another
	// `nix build` report the attribute as "unexpectedly missing". Hydra
	// itself never evaluates at build time, so the cache buys nothing here.
	args = append(append(args, f.overrides...), "--no-write-lock-file", "--option", "eval-cache", "false")
	cmd := exec.CommandContext(ctx, "nix", args...)
	cmd.Env = f.env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("nix %s: %v\n%s", args[0], err, lastLines(stderr.String(), 15))
	}
	return out, nil
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// flatten maps hydraJobs to { "<stage>.<attr>...<system>": { drv, cons } }.
const flatten = `hj: let
  m = builtins.mapAttrs;
  info = d: { drv = d.drvPath; cons = map (c: c.drvPath) (d.constituents or [ ]); };
in m (stage: comps: m (c: v: if c == "gate" then m (s: info) v else m (j: m (s: info)) v) comps) hj`

// Resolver evaluates the flake at branch's head of repo in gh, as Hydra's
// flake jobset github:<repo>?ref=<branch> does.
func (f *Flake) Resolver(gh *githubtest.Server, repo, branch string) func() (*hydratest.EvalSpec, error) {
	return func() (*hydratest.EvalSpec, error) {
		head := gh.Head(repo, branch)
		if head == "" {
			return nil, fmt.Errorf("error: cannot find branch %s of %s", branch, repo)
		}
		dir := filepath.Join(f.t.TempDir(), "flake")
		for p, b := range gh.Tree(repo, head) {
			if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
				return nil, err
			}
			if err := os.WriteFile(filepath.Join(dir, p), b, 0o644); err != nil {
				return nil, err
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		out, err := f.nix(ctx, "eval", "--json", "path:"+dir+"#hydraJobs", "--apply", flatten)
		if err != nil {
			return nil, err
		}
		var tree map[string]map[string]json.RawMessage
		if err := json.Unmarshal(out, &tree); err != nil {
			return nil, fmt.Errorf("hydraJobs: %v", err)
		}
		type info struct {
			Drv  string   `json:"drv"`
			Cons []string `json:"cons"`
		}
		jobs := map[string]info{}
		for stage, comps := range tree {
			for c, raw := range comps {
				if c == "gate" {
					var bySys map[string]info
					if err := json.Unmarshal(raw, &bySys); err != nil {
						return nil, err
					}
					for s, i := range bySys {
						jobs[stage+".gate."+s] = i
					}
					continue
				}
				var byJob map[string]map[string]info
				if err := json.Unmarshal(raw, &byJob); err != nil {
					return nil, err
				}
				for j, bySys := range byJob {
					for s, i := range bySys {
						jobs[stage+"."+c+"."+j+"."+s] = i
					}
				}
			}
		}
		names := make([]string, 0, len(jobs))
		for n := range jobs {
			names = append(names, n)
		}
		sort.Strings(names)
		byDrv := map[string]string{}
		f.mu.Lock()
		for _, n := range names {
			byDrv[jobs[n].Drv] = n
			f.dirs[jobs[n].Drv] = dir
			f.attrs[jobs[n].Drv] = n
		}
		f.mu.Unlock()
		spec := &hydratest.EvalSpec{Flake: "github:" + repo + "/" + head}
		for _, n := range names {
			j := hydratest.Job{Name: n, Drv: jobs[n].Drv}
			for _, c := range jobs[n].Cons {
				j.Constituents = append(j.Constituents, byDrv[c])
			}
			spec.Jobs = append(spec.Jobs, j)
		}
		return spec, nil
	}
}

// Builder returns the in-test Hydra's queue runner: `nix build` of the job's
// attribute in the checkout it was evaluated from; status 0 on success, 2
// (dependency failed) when Nix says a dependency failed, else 1.
func (f *Flake) Builder(h *hydratest.Server) func(id int64, job, drv string) {
	return func(id int64, job, drv string) {
		f.mu.Lock()
		dir := f.dirs[drv]
		f.Builds = append(f.Builds, job)
		f.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		status := 0
		out, err := f.nix(ctx, "build", "--json", "--no-link", "path:"+dir+"#hydraJobs."+job)
		if err != nil {
			status = 1
			if strings.Contains(err.Error(), "dependencies couldn't be built") || strings.Contains(err.Error(), "dependency failed") {
				status = 2
			}
			f.t.Logf("hydra build %d %s: status %d: %v", id, job, status, err)
			h.FinishBuild(id, status)
			return
		}
		outputs, products, err := buildResult(out)
		if err != nil {
			f.t.Errorf("hydra build %d %s: %v", id, job, err)
		}
		h.FinishBuildWith(id, status, outputs, products)
	}
}

// buildResult reads what the queue runner records of a successful build:
// its outputs (from `nix build --json`) and the products each output lists
// in nix-support/hydra-build-products ("type subtype path" per line), with
// the size and sha256 (hex) of those that are regular files. An output
// without that file is one "nix-build" product with no hash, as in Hydra.
func buildResult(js []byte) (map[string]string, []hydratest.Product, error) {
	var res []struct {
		Outputs map[string]string `json:"outputs"`
	}
	if err := json.Unmarshal(js, &res); err != nil || len(res) != 1 {
		return nil, nil, fmt.Errorf("nix build --json: %v: %s", err, js)
	}
	outputs := res[0].Outputs
	var products []hydratest.Product
	for _, name := range slices.Sorted(maps.Keys(outputs)) {
		out := outputs[name]
		list, err := os.ReadFile(filepath.Join(out, "nix-support", "hydra-build-products"))
		if errors.Is(err, os.ErrNotExist) {
			products = append(products, hydratest.Product{Type: "nix-build", Name: filepath.Base(out), Path: out})
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		for _, line := range strings.Split(string(list), "\n") {
			f := strings.Fields(line)
			if len(f) < 3 {
				continue
			}
			p := hydratest.Product{Type: f[0], Subtype: f[1], Path: strings.Trim(f[2], `"`)}
			p.Name = filepath.Base(p.Path)
			if b, err := os.ReadFile(p.Path); err == nil {
				sum := sha256.Sum256(b)
				p.SHA256, p.Size = hex.EncodeToString(sum[:]), int64(len(b))
			}
			products = append(products, p)
		}
	}
	return outputs, products, nil
}

// RepoFiles returns the files of this repository the flake needs (flake.nix,
// nix/, adapters/, infra/nixos/, locks/), read from root, for AddRepo.
func RepoFiles(t testing.TB, root string) map[string]string {
	t.Helper()
	out, err := exec.Command("git", "-C", root, "ls-files", "-co", "--exclude-standard", "flake.nix", "nix", "adapters", "infra/nixos", "locks").Output()
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, p := range strings.Fields(string(out)) {
		b, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			continue // deleted in the worktree
		}
		files[p] = string(b)
	}
	return files
}
