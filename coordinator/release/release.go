// Package release cuts releases from known-good candidates: the release lock
// (release-lock/<version> with locks/release.json), a tag on every component
// repository and on the lock repository, and a versioned manifest.json.
// Every step is keyed in the store (store.Once) and looks before it writes,
// so a re-run after a crash completes the release and never tags twice.
//
// Without [github] the tags are annotated git tags in local mirrors under
// <state_dir>/mirrors/<component>.git and the manifest stays local.
package release

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	hydraengine "github.com/ironworks-ci/ironworks/coordinator/engine/hydra"
	"github.com/ironworks-ci/ironworks/coordinator/forge"
	"github.com/ironworks-ci/ironworks/coordinator/hydra"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// Refusal is a gate that has not passed: nothing was changed.
type Refusal struct{ Reason string }

func (r *Refusal) Error() string { return "refused: " + r.Reason }

// Options describe one promote invocation.
type Options struct {
	Config    *config.Config
	Store     *store.Store
	Hydra     *hydra.Client // nil with the local engine
	Forge     *forge.Client // nil without [github]
	To        string        // temper | release
	Candidate string        // id or unique prefix; "" with Latest
	Latest    bool
	Version   string
	By        string
	DryRun    bool
	Out       io.Writer
	Now       func() time.Time
	// BenchAcks lists benchmark acknowledgements for the manifest; default:
	// payloads of store events of kind "bench-ack" for the candidate.
	BenchAcks func(ctx context.Context, candidate string) ([]map[string]any, error)
	// AfterStep runs after each completed step; tests inject crashes here.
	AfterStep func(step string) error
}

// Manifest is release manifest.json, schema 1.
type Manifest struct {
	Schema           int                       `json:"schema"`
	Version          string                    `json:"version"`
	Candidate        string                    `json:"candidate"`
	Revisions        map[string]store.Revision `json:"revisions"`
	Engine           string                    `json:"engine"`
	Hydra            *HydraEvidence            `json:"hydra,omitempty"`
	Promotions       map[string]map[string]any `json:"promotions"`
	HardenReports    []string                  `json:"harden_reports"`
	BenchmarkReports []string                  `json:"benchmark_reports"`
	BenchAcks        []map[string]any          `json:"bench_acks"`
	Artifacts        []Artifact                `json:"artifacts"`
	Tags             map[string]string         `json:"tags"` // repository -> tag
	ReleaseLock      *LockRef                  `json:"release_lock,omitempty"`
	By               string                    `json:"by"`
	CreatedAt        string                    `json:"created_at"`

	// BenchmarkVerdicts maps each benchmark report to the bench gate's
	// verdict (pass, fail) at the promotion that carried it.
	BenchmarkVerdicts map[string]string `json:"benchmark_verdicts"`
	// BenchmarkCulprits are the culprits bisection found for the candidate's
	// benchmark regressions (acknowledged, since it was released): the
	// payloads of its bench-regression events that name one.
	BenchmarkCulprits []map[string]any `json:"benchmark_culprits"`
}

// HydraEvidence names the evaluations that built the candidate.
type HydraEvidence struct {
	URL        string           `json:"url"`
	Evals      map[string]int64 `json:"evals"` // stage -> eval id
	StorePaths []string         `json:"store_paths"`
}

// Artifact is one released file with its checksum.
type Artifact struct {
	Name   string `json:"name"`
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
}

// LockRef is the release lock commit.
type LockRef struct {
	Repo   string `json:"repo"`
	Branch string `json:"branch"`
	Commit string `json:"commit"`
}

// KnownGoodStage is the stage a candidate must have passed to be released:
// harden, or forge when the configuration has no harden jobs or benchmarks.
func KnownGoodStage(cfg *config.Config) string {
	if len(cfg.StageJobs("harden")) > 0 {
		return "harden"
	}
	for _, a := range cfg.Loaded {
		for _, b := range a.Bench {
			if b.Stage == "harden" {
				return "harden"
			}
		}
	}
	return "forge"
}

// RequiredStage is what --to needs passed: known-good for temper; temper for
// release when the configuration has temper jobs, else known-good.
func RequiredStage(cfg *config.Config, to string) string {
	if to == "release" && len(cfg.StageJobs("temper")) > 0 {
		return "temper"
	}
	return KnownGoodStage(cfg)
}

var versionRE = regexp.MustCompile(`^v?[0-9]+(\.[0-9]+)*([-+][0-9A-Za-z.-]+)?$`)

type runner struct {
	Options
	cand *store.Candidate
}

// Run executes (or with DryRun, prints) the promotion. A *Refusal means a
// gate has not passed and nothing changed.
func Run(ctx context.Context, o Options) error {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	switch o.To {
	case "temper", "release":
	default:
		return fmt.Errorf("--to %q: want temper or release", o.To)
	}
	if (o.Candidate == "") == !o.Latest {
		return errors.New("name exactly one of --candidate ID and --latest-good")
	}
	if o.To == "release" && !versionRE.MatchString(o.Version) {
		return fmt.Errorf("--version %q: want a version such as v1.2.3", o.Version)
	}
	r := &runner{Options: o}
	if err := r.pick(ctx); err != nil {
		return err
	}
	if o.To == "temper" {
		return r.temper(ctx)
	}
	return r.release(ctx)
}

func (r *runner) pick(ctx context.Context) error {
	stage := RequiredStage(r.Config, r.To)
	if r.Latest {
		ps, err := r.Store.Promotions(ctx, stage)
		if err != nil {
			return err
		}
		if len(ps) == 0 {
			return &Refusal{Reason: fmt.Sprintf("no candidate has passed %s yet", stage)}
		}
		r.Candidate = ps[0].Candidate
	}
	c, err := r.Store.Candidate(ctx, r.Candidate)
	if errors.Is(err, store.ErrNotFound) {
		return &Refusal{Reason: fmt.Sprintf("unknown candidate %q", r.Candidate)}
	}
	if err != nil {
		return err
	}
	r.cand = c
	ok, err := r.Store.Promoted(ctx, c.ID, stage)
	if err != nil {
		return err
	}
	if !ok {
		return &Refusal{Reason: fmt.Sprintf("candidate %s (%s) has not passed %s", c.ID, c.Short(), stage)}
	}
	return nil
}

func (r *runner) step(ctx context.Context, key, what string, fn func() (string, error)) (string, error) {
	if r.DryRun {
		fmt.Fprintf(r.Out, "would %s\n", what)
		return "", nil
	}
	res, err := r.Store.Once(ctx, key, "promote", fn)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	fmt.Fprintf(r.Out, "done: %s\n", what)
	if r.AfterStep != nil {
		if err := r.AfterStep(key); err != nil {
			return "", err
		}
	}
	return res, nil
}

// temper hands the candidate to the temper stage: its lock (Hydra) and an event.
func (r *runner) temper(ctx context.Context) error {
	c := r.cand
	if err := r.Store.CheckForward(ctx, "temper", c.ID); err != nil {
		if errors.Is(err, store.ErrBackwards) {
			return &Refusal{Reason: err.Error()}
		}
		return err
	}
	fmt.Fprintf(r.Out, "promote %s (%s) to temper\n", c.ID, c.Short())
	if r.Forge != nil && r.Config.Hydra != nil && r.Config.Hydra.LockRepo != "" {
		eng, err := r.engine()
		if err != nil {
			return err
		}
		if _, err := r.step(ctx, "temper:"+c.ID+":lock", "write "+hydraengine.LockPath("temper")+" on "+eng.LockBranch("temper"), func() (string, error) {
			cargo, err := eng.CargoLocks(ctx, c, r.Config.Loaded)
			if err != nil {
				return "", err
			}
			commit, _, err := eng.WriteLock(ctx, "temper", c, cargo)
			return commit, err
		}); err != nil {
			return err
		}
	}
	_, err := r.step(ctx, "temper:"+c.ID+":event", "record the temper selection", func() (string, error) {
		return "", r.Store.AppendEvent(ctx, store.Event{Key: "temper-selected:" + c.ID, Kind: "promotion", Candidate: c.ID,
			Payload: map[string]any{"stage": "temper", "selected_by": r.By, "summary": c.Short()}})
	})
	return err
}

func (r *runner) engine() (*hydraengine.Engine, error) {
	h := r.Hydra
	if h == nil {
		// Only the lock writer is used; a placeholder client is never called.
		var err error
		if h, err = hydra.New(hydra.Options{URL: "http://unused.invalid"}); err != nil {
			return nil, err
		}
	}
	project := "ironworks"
	if r.Config.Hydra.Project != "" {
		project = r.Config.Hydra.Project
	}
	return hydraengine.New(hydraengine.Options{Hydra: h, Locks: r.Forge, Project: project, LockRepo: r.Config.Hydra.LockRepo,
		LockBase: r.Config.Hydra.LockBase, LockBranch: r.Config.Hydra.LockBranch, Now: r.Now})
}

// componentRepo returns owner/name of a component on GitHub.
func (r *runner) componentRepo(name string) (string, error) {
	if full, ok := forge.RepoOf(r.Config, name, r.cand.Revisions[name].Repo); ok {
		return full, nil
	}
	return "", fmt.Errorf("component %s: repository %q is not on GitHub; set github.repos.%s", name, r.cand.Revisions[name].Repo, name)
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (r *runner) release(ctx context.Context) error {
	c, v := r.cand, r.Version
	if prev, err := r.Store.Release(ctx, v); err == nil && prev.Candidate != c.ID {
		return &Refusal{Reason: fmt.Sprintf("version %s was already cut from candidate %s", v, prev.Candidate)}
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if err := r.Store.CheckForward(ctx, "stamp", c.ID); err != nil {
		if errors.Is(err, store.ErrBackwards) {
			return &Refusal{Reason: "the last release is of a newer candidate: " + err.Error()}
		}
		return err
	}
	fmt.Fprintf(r.Out, "release %s from candidate %s (%s)\n", v, c.ID, c.Short())

	var m Manifest
	if rel, err := r.Store.Release(ctx, v); err == nil {
		if err := json.Unmarshal(rel.Manifest, &m); err != nil {
			return fmt.Errorf("release %s: stored manifest: %w", v, err)
		}
	} else {
		draft, err := r.draft(ctx)
		if err != nil {
			return err
		}
		m = *draft
		if r.DryRun {
			b, _ := json.MarshalIndent(m, "", "  ")
			fmt.Fprintf(r.Out, "manifest:\n%s\n", b)
		} else if _, err := r.Store.StartRelease(ctx, v, c.ID, m.By, mustJSON(&m)); err != nil {
			return err
		}
	}
	gh := r.Forge != nil
	var lockRepo, lockBranch string
	if gh && r.Config.Hydra != nil && r.Config.Hydra.LockRepo != "" {
		lockRepo, lockBranch = r.Config.Hydra.LockRepo, "release-lock/"+v
	}
	if lockRepo != "" {
		lo, ln, err := forge.SplitRepo(lockRepo)
		if err != nil {
			return err
		}
		lock := hydraengine.NewLock("release", c, nil, r.Now())
		commit, err := r.step(ctx, "release:"+v+":lock", "write locks/release.json on "+lockRepo+" "+lockBranch, func() (string, error) {
			same := func(old []byte) bool {
				var prev hydraengine.Lock
				return json.Unmarshal(old, &prev) == nil && prev.Equivalent(lock)
			}
			commit, _, err := r.Forge.WriteFile(ctx, lo, ln, lockBranch, r.Config.Hydra.LockBase, "locks/release.json", lock.Marshal(), "release "+v+": lock "+c.ID+"\n", same)
			return commit, err
		})
		if err != nil {
			return err
		}
		m.ReleaseLock = &LockRef{Repo: lockRepo, Branch: lockBranch, Commit: commit}
	}
	if m.Tags == nil {
		m.Tags = map[string]string{}
	}
	for _, name := range sortedNames(c.Revisions) {
		rev := c.Revisions[name].Rev
		if gh {
			full, err := r.componentRepo(name)
			if err != nil {
				return err
			}
			o, n, err := forge.SplitRepo(full)
			if err != nil {
				return err
			}
			if _, err := r.step(ctx, "release:"+v+":tag:"+name, "tag "+full+" "+v+" at "+store.ShortRev(rev), func() (string, error) {
				_, err := r.Forge.CreateTag(ctx, o, n, v, rev)
				return rev, err
			}); err != nil {
				return err
			}
			m.Tags[full] = v
		} else {
			mirror := filepath.Join(r.Config.StateDir, "mirrors", name+".git")
			if _, err := r.step(ctx, "release:"+v+":tag:"+name, "tag "+mirror+" "+v+" at "+store.ShortRev(rev), func() (string, error) {
				return rev, r.gitTag(ctx, name, mirror, v, rev)
			}); err != nil {
				return err
			}
			m.Tags[name] = v
		}
	}
	if r.DryRun {
		fmt.Fprintf(r.Out, "would write %s\n", filepath.Join(r.Config.StateDir, "releases", v, "manifest.json"))
		return nil
	}
	body, _ := json.MarshalIndent(&m, "", "  ")
	body = append(body, '\n')
	if err := r.Store.SetReleaseManifest(ctx, v, body); err != nil {
		return err
	}
	dir := filepath.Join(r.Config.StateDir, "releases", v)
	if _, err := r.step(ctx, "release:"+v+":manifest-file", "write "+filepath.Join(dir, "manifest.json"), func() (string, error) {
		return hex.EncodeToString(sha256Sum(body)), writeAtomic(filepath.Join(dir, "manifest.json"), body)
	}); err != nil {
		return err
	}
	if lockRepo != "" {
		lo, ln, _ := forge.SplitRepo(lockRepo)
		commit, err := r.step(ctx, "release:"+v+":manifest-commit", "commit manifest.json to "+lockBranch, func() (string, error) {
			commit, _, err := r.Forge.WriteFile(ctx, lo, ln, lockBranch, "", "manifest.json", body, "release "+v+": manifest\n", nil)
			return commit, err
		})
		if err != nil {
			return err
		}
		if _, err := r.step(ctx, "release:"+v+":tag-lock", "tag "+lockRepo+" "+v+" at "+store.ShortRev(commit), func() (string, error) {
			_, err := r.Forge.CreateTag(ctx, lo, ln, v, commit)
			return commit, err
		}); err != nil {
			return err
		}
	}
	_, err := r.step(ctx, "release:"+v+":record", "record the release", func() (string, error) {
		ev := store.Event{Key: "release:" + v, Kind: "promotion", Candidate: c.ID,
			Payload: map[string]any{"stage": "stamp", "version": v, "summary": c.Short(), "by": m.By}}
		if _, err := r.Store.Promote(ctx, &store.Promotion{Candidate: c.ID, Stage: "stamp", Evidence: map[string]any{"version": v, "manifest_sha256": hex.EncodeToString(sha256Sum(body))}}, []store.Event{ev}); err != nil {
			return "", err
		}
		return v, r.Store.FinishRelease(ctx, v)
	})
	return err
}

// draft gathers the manifest's evidence before any effect.
func (r *runner) draft(ctx context.Context) (*Manifest, error) {
	c := r.cand
	m := &Manifest{Schema: 1, Version: r.Version, Candidate: c.ID, Revisions: c.Revisions, Engine: r.Config.Engine.Default,
		Promotions: map[string]map[string]any{}, HardenReports: []string{}, BenchmarkReports: []string{}, BenchmarkVerdicts: map[string]string{},
		BenchAcks: []map[string]any{}, Artifacts: []Artifact{}, Tags: map[string]string{},
		By: r.By, CreatedAt: r.Now().UTC().Format(time.RFC3339)}
	for _, stage := range config.Stages {
		p, err := r.Store.Promotion(ctx, c.ID, stage)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		m.Promotions[stage] = map[string]any{"run_id": p.RunID, "at": p.CreatedAt.UTC().Format(time.RFC3339), "evidence": p.Evidence}
		m.BenchmarkReports = append(m.BenchmarkReports, stringsOf(p.Evidence["benchmark_reports"])...)
		benchVerdicts(m.BenchmarkVerdicts, p.Evidence)
		if stage == "harden" {
			m.HardenReports = append(m.HardenReports, fmt.Sprintf("run:%d", p.RunID))
			m.HardenReports = append(m.HardenReports, stringsOf(p.Evidence["harden_reports"])...)
		}
	}
	acks := r.BenchAcks
	if acks == nil {
		acks = func(ctx context.Context, cand string) ([]map[string]any, error) {
			evs, err := r.Store.EventsOfKind(ctx, "bench-ack", cand)
			if err != nil {
				return nil, err
			}
			out := []map[string]any{}
			for _, e := range evs {
				out = append(out, e.Payload)
			}
			return out, nil
		}
	}
	a, err := acks(ctx, c.ID)
	if err != nil {
		return nil, fmt.Errorf("bench acknowledgements: %w", err)
	}
	m.BenchAcks = append(m.BenchAcks, a...)
	if m.BenchmarkCulprits, err = benchCulprits(ctx, r.Store, c.ID); err != nil {
		return nil, err
	}
	if r.Hydra != nil {
		m.Hydra = &HydraEvidence{URL: r.Hydra.URL(), Evals: map[string]int64{}, StorePaths: []string{}}
		var newest int64
		for _, stage := range config.Stages {
			rec, err := r.Store.HydraEvalOf(ctx, stage, c.ID)
			if err != nil || rec.EvalID == 0 {
				continue
			}
			m.Hydra.Evals[stage] = rec.EvalID
			newest = rec.EvalID
			if rec.GateBuild != 0 {
				if err := r.artifacts(ctx, m, rec.GateBuild); err != nil {
					return nil, err
				}
			}
		}
		if newest != 0 {
			paths, err := r.Hydra.StorePaths(ctx, newest)
			if err != nil {
				return nil, err
			}
			sort.Strings(paths)
			m.Hydra.StorePaths = paths
		}
	}
	return m, nil
}

// artifacts adds the build products (with Hydra's sha256) of the gate's constituents.
func (r *runner) artifacts(ctx context.Context, m *Manifest, gate int64) error {
	cons, err := r.Hydra.Constituents(ctx, gate)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, a := range m.Artifacts {
		seen[a.Path] = true
	}
	for _, b := range cons {
		for _, k := range sortedNames(b.BuildProducts) {
			p := b.BuildProducts[k]
			if p.SHA256 == "" || seen[string(p.Path)] {
				continue
			}
			seen[string(p.Path)] = true
			m.Artifacts = append(m.Artifacts, Artifact{Name: string(p.Name), Path: string(p.Path), SHA256: string(p.SHA256)})
		}
	}
	return nil
}

// benchCulprits returns the payloads of the candidate's bench-regression
// events that carry a culprit.
func benchCulprits(ctx context.Context, st *store.Store, cand string) ([]map[string]any, error) {
	evs, err := st.EventsOfKind(ctx, "bench-regression", cand)
	if err != nil {
		return nil, fmt.Errorf("benchmark culprits: %w", err)
	}
	out := []map[string]any{}
	for _, e := range evs {
		if _, ok := e.Payload["culprit"]; ok {
			out = append(out, e.Payload)
		}
	}
	return out, nil
}

// benchVerdicts records the bench gate's state of a promotion's evidence
// ("bench") for each of its reports.
func benchVerdicts(into map[string]string, evidence map[string]any) {
	state, _ := evidence["bench"].(string)
	for _, id := range stringsOf(evidence["benchmark_reports"]) {
		into[id] = state
	}
}

func stringsOf(v any) []string {
	var out []string
	if xs, ok := v.([]any); ok {
		for _, x := range xs {
			out = append(out, fmt.Sprint(x))
		}
	}
	return out
}

func (r *runner) gitTag(ctx context.Context, name, mirror, tag, rev string) error {
	git := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
		return strings.TrimSpace(string(out)), nil
	}
	if _, err := os.Stat(mirror); errors.Is(err, os.ErrNotExist) {
		repo := r.cand.Revisions[name].Repo
		if a := r.Config.Loaded[name]; repo == "" && a != nil {
			repo = a.Repo
		}
		if _, err := git("clone", "--quiet", "--mirror", "--", repo, mirror); err != nil {
			return err
		}
	}
	if got, err := git("-C", mirror, "rev-parse", "-q", "--verify", "refs/tags/"+tag+"^{commit}"); err == nil {
		if got != rev {
			return fmt.Errorf("tag %s in %s points at %s, not %s", tag, mirror, got, rev)
		}
		return nil
	}
	_, err := git("-C", mirror, "-c", "user.name=Ironworks", "-c", "user.email=ironworks@localhost",
		"tag", "-a", "-m", "Ironworks release "+tag+" ("+r.cand.ID+")", "--", tag, rev)
	return err
}

func sha256Sum(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

func mustJSON(v any) []byte {
	b, _ := json.MarshalIndent(v, "", "  ")
	return b
}

func writeAtomic(path string, body []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, body, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
