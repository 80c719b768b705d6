// Package local is the embedded engine: it runs jobs as processes on this
// machine, each in a checkout of its component at the candidate's exact
// revision, with upstream pins applied, a timeout, an output cap and an
// environment that carries nothing of the coordinator's secrets.
package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/charmbracelet/log"

	"github.com/ironworks-ci/ironworks/adapters/hook"
	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/pipeline"
	"github.com/ironworks-ci/ironworks/coordinator/sandbox"
	"github.com/ironworks-ci/ironworks/coordinator/source"
	"github.com/ironworks-ci/ironworks/coordinator/store"

	_ "github.com/ironworks-ci/ironworks/adapters/cargopatch" // the cargo-patch pin method
)

// Engine runs jobs locally.
type Engine struct {
	StateDir    string
	Mirrors     *source.Mirrors
	Offered     []string // worker features this machine offers
	Parallelism int
	OutputLimit int64
	// PassEnv names extra variables of the coordinator's environment that jobs
	// may see (besides the fixed allowlist). Secrets are removed regardless.
	PassEnv []string
	// Secrets are values that must never reach a job, whatever the variable.
	Secrets   []string
	Artifacts pipeline.ArtifactStore // optional: logs are copied there when a job ends
	// Sandbox isolates every job; nil means bubblewrap with nothing extra hidden.
	Sandbox *sandbox.Sandbox
	// SandboxRO and SandboxRW are extra paths every job sees (read-only, read-write).
	SandboxRO, SandboxRW []string
	// KeepFailed is how many failed runs keep their worktrees; passed runs
	// never do. TargetLimit empties a component's shared target folder that
	// grew over it (0: no limit).
	KeepFailed  int
	TargetLimit int64
	Log         *log.Logger
	Now         func() time.Time
}

// Name implements pipeline.Engine.
func (e *Engine) Name() string { return "local" }

// Features implements pipeline.Engine.
func (e *Engine) Features() []string { return e.Offered }

// LogPath is where the log of a job of a run is written while it runs.
func LogPath(stateDir string, runID int64, jobID string) string {
	comp, job, _ := strings.Cut(jobID, ":")
	return filepath.Join(stateDir, "logs", fmt.Sprint(runID), comp, job+".log")
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (e *Engine) logger() *log.Logger {
	if e.Log != nil {
		return e.Log
	}
	return log.New(io.Discard)
}

// Execute implements pipeline.Engine.
func (e *Engine) Execute(ctx context.Context, p *pipeline.Plan, report func(store.JobResult)) error {
	runDir := e.runDir(p.RunID)
	comps := map[string]bool{}
	for _, j := range p.Jobs {
		comps[j.Component] = true
		for _, n := range j.Needs {
			comps[strings.SplitN(n, ":", 2)[0]] = true
		}
	}
	// Upstreams must be checked out for their downstream's pin even when none
	// of their jobs is in the plan.
	for c := range maps.Clone(comps) {
		for _, u := range p.Adapters[c].Upstream {
			comps[u.Name] = true
		}
	}
	names := make([]string, 0, len(comps))
	for c := range comps {
		names = append(names, c)
	}
	sort.Strings(names)
	st := &state{final: map[string]store.JobResult{}, done: map[string]chan struct{}{}}
	for id, s := range p.Done {
		st.final[id] = store.JobResult{Job: id, State: s}
	}
	for _, j := range p.Jobs {
		st.done[j.ID()] = make(chan struct{})
	}

	// Each component is checked out (and pinned) concurrently; a job starts as
	// soon as its own component is ready, not when every checkout is.
	env := e.baseEnvFor(p, runDir, names)
	checkouts := map[string]string{}
	for _, c := range names {
		checkouts[c] = filepath.Join(runDir, c, "src")
	}
	prep := map[string]*prepared{}
	for _, c := range names {
		prep[c] = &prepared{done: make(chan struct{})}
	}
	for _, c := range names {
		go func(c string, pr *prepared) {
			defer close(pr.done)
			pr.err = e.prepare(ctx, p, c, checkouts[c])
		}(c, prep[c])
	}
	checkedOut := make(map[string]*prepared, len(prep))
	for c, pr := range prep {
		checkedOut[c] = pr
	}
	for _, c := range names {
		if !hasJobs(p, c) || len(p.Adapters[c].Upstream) == 0 {
			continue
		}
		// The pin needs both checkouts; it replaces the component's readiness.
		own := prep[c]
		pinned := &prepared{done: make(chan struct{})}
		prep[c] = pinned
		go func(c string) {
			defer close(pinned.done)
			<-own.done
			if pinned.err = own.err; own.err != nil {
				return
			}
			for _, u := range p.Adapters[c].Upstream {
				<-checkedOut[u.Name].done
				if err := checkedOut[u.Name].err; err != nil {
					pinned.err = err
					return
				}
			}
			pinned.pinErr = e.pin(ctx, p, c, checkouts, env)
		}(c)
	}

	parallel := e.Parallelism
	if parallel <= 0 {
		parallel = 2
	}
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for _, j := range p.Jobs {
		wg.Add(1)
		go func(j *config.Job, ready *prepared) {
			defer wg.Done()
			res := e.runJob(ctx, p, j, st, sem, checkouts, env, ready, report)
			st.finish(res)
			report(res)
		}(j, prep[j.Component])
	}
	wg.Wait()
	for _, c := range names {
		<-prep[c].done
		if err := prep[c].err; err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err // interrupted: a resumed run reuses the worktrees
	}
	st.mu.Lock()
	results := map[string]string{}
	for _, j := range p.Jobs {
		results[j.ID()] = st.final[j.ID()].State
	}
	st.mu.Unlock()
	e.cleanup(ctx, p.RunID, names, results)
	return nil
}

// prepared is the readiness of one component's checkout.
type prepared struct {
	done   chan struct{}
	err    error // infrastructure: the run cannot proceed
	pinErr error // the pin was refused: the component's jobs cannot run
}

func (e *Engine) prepare(ctx context.Context, p *pipeline.Plan, c, dir string) error {
	rev, ok := p.Candidate.Revisions[c]
	if !ok {
		return fmt.Errorf("candidate %s has no revision for %s", p.Candidate.ID, c)
	}
	start := e.now()
	// Discovery has usually fetched the revision already: try first, fetch
	// only when it is missing.
	if err := e.Mirrors.Checkout(ctx, c, rev.Rev, dir); err != nil {
		if e.Mirrors.Has(ctx, c, rev.Rev) {
			return err
		}
		e.logger().Info("fetching", "component", c, "repo", rev.Repo)
		if err := e.Mirrors.Sync(ctx, c, rev.Repo); err != nil {
			return err
		}
		if err := e.Mirrors.Checkout(ctx, c, rev.Rev, dir); err != nil {
			return err
		}
	}
	e.logger().Debug("checked out", "component", c, "rev", store.ShortRev(rev.Rev), "elapsed", e.now().Sub(start).Round(time.Millisecond))
	return nil
}

// pin applies every upstream pin of component c.
func (e *Engine) pin(ctx context.Context, p *pipeline.Plan, c string, checkouts map[string]string, env []string) error {
	for _, u := range p.Adapters[c].Upstream {
		pin, err := hook.Pin(u.Pin)
		if err != nil {
			return err
		}
		detail, err := pin.Pin(ctx, hook.PinRequest{
			Upstream: u, UpstreamDir: checkouts[u.Name], UpstreamURL: e.Mirrors.URL(u.Name),
			UpstreamRev: p.Candidate.Revisions[u.Name].Rev, DownstreamDir: checkouts[c],
			ScratchDir: filepath.Dir(checkouts[c]), Env: env,
		})
		if err != nil {
			return err
		}
		e.logger().Info("pinned", "component", c, "detail", detail)
	}
	return nil
}

func hasJobs(p *pipeline.Plan, comp string) bool {
	return slices.ContainsFunc(p.Jobs, func(j *config.Job) bool { return j.Component == comp })
}

type state struct {
	mu    sync.Mutex
	final map[string]store.JobResult
	done  map[string]chan struct{}
}

func (s *state) finish(r store.JobResult) {
	s.mu.Lock()
	s.final[r.Job] = r
	ch := s.done[r.Job]
	s.mu.Unlock()
	if ch != nil {
		close(ch)
	}
}

// wait blocks until job id is final and returns its state.
func (s *state) wait(ctx context.Context, id string) (string, error) {
	s.mu.Lock()
	r, ok := s.final[id]
	ch := s.done[id]
	s.mu.Unlock()
	if ok {
		return r.State, nil
	}
	if ch == nil {
		return "", fmt.Errorf("needs %s, which is neither in this run nor finished before", id)
	}
	select {
	case <-ch:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.final[id].State, nil
}

func (e *Engine) runJob(ctx context.Context, p *pipeline.Plan, j *config.Job, st *state, sem chan struct{}, checkouts map[string]string, env []string, ready *prepared, report func(store.JobResult)) store.JobResult {
	res := store.JobResult{RunID: p.RunID, Job: j.ID(), Log: pipeline.LogKey(p.RunID, j.ID())}
	for _, n := range j.Needs {
		s, err := st.wait(ctx, n)
		switch {
		case err != nil && ctx.Err() != nil:
			res.State, res.Reason = store.JobCancelled, "cancelled"
			return res
		case err != nil:
			res.State, res.Reason = store.JobSkipped, err.Error()
			return res
		case s == store.JobWaiting:
			res.State, res.Reason = store.JobWaiting, fmt.Sprintf("needs %s, which is waiting for a worker", n)
			return res
		case s != store.JobSuccess:
			res.State, res.Reason = store.JobSkipped, fmt.Sprintf("skipped: needs %s, which ended %s", n, s)
			return res
		}
	}
	if missing := missingFeatures(j.Requires, e.Offered); len(missing) > 0 {
		res.State = store.JobWaiting
		res.Reason = "waiting for a worker with features: " + strings.Join(missing, ", ")
		return res
	}
	select {
	case <-ready.done:
	case <-ctx.Done():
		res.State, res.Reason = store.JobCancelled, "cancelled"
		return res
	}
	if ready.err != nil {
		res.State, res.Reason = store.JobError, "checkout: "+ready.err.Error()
		return res
	}
	if pinErr := ready.pinErr; pinErr != nil {
		var na *hook.NotAcceptedError
		if errors.As(pinErr, &na) {
			res.State = store.JobNotAccept
		} else {
			res.State = store.JobError
		}
		res.Reason = pinErr.Error()
		return res
	}
	select {
	case sem <- struct{}{}:
	case <-ctx.Done():
		res.State, res.Reason = store.JobCancelled, "cancelled"
		return res
	}
	defer func() { <-sem }()
	report(store.JobResult{RunID: p.RunID, Job: j.ID(), State: store.JobRunning, Log: res.Log, StartedAt: e.now()})
	return e.exec(ctx, p, j, checkouts[j.Component], env)
}

func missingFeatures(req, offered []string) []string {
	var out []string
	for _, r := range req {
		if !slices.Contains(offered, r) {
			out = append(out, r)
		}
	}
	return out
}

// exec runs one job's command and returns its final result.
func (e *Engine) exec(ctx context.Context, p *pipeline.Plan, j *config.Job, dir string, env []string) store.JobResult {
	res := store.JobResult{RunID: p.RunID, Job: j.ID(), Log: pipeline.LogKey(p.RunID, j.ID()), StartedAt: e.now()}
	path := LogPath(e.StateDir, p.RunID, j.ID())
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		res.State, res.Reason, res.FinishedAt = store.JobError, err.Error(), e.now()
		return res
	}
	f, err := os.Create(path)
	if err != nil {
		res.State, res.Reason, res.FinishedAt = store.JobError, err.Error(), e.now()
		return res
	}
	defer f.Close()
	limit := e.OutputLimit
	if j.OutputCap > 0 {
		limit = int64(j.OutputCap)
	}
	if limit <= 0 {
		limit = 64 << 20
	}
	out := newCapped(f, limit)
	rev := p.Candidate.Revisions[j.Component].Rev
	fmt.Fprintf(f, "# ironworks: %s at %s, run %d, stage %s\n$ %s\n", j.ID(), rev, p.RunID, p.Stage, j.Command)

	jobEnv := append([]string{}, env...)
	keys := make([]string, 0, len(j.Env))
	for k := range j.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		jobEnv = append(jobEnv, k+"="+j.Env[k])
	}
	// Shared across runs of a component so that they reuse compiled dependencies.
	target := filepath.Join(e.StateDir, "cache", "target", j.Component)
	if cleared, err := clearFailedRustcProbes(target); err != nil {
		e.logger().Warn("reading cargo's cache of rustc's answers", "job", j.ID(), "err", err)
	} else if cleared {
		e.logger().Warn("cargo had cached a failed rustc probe (left by a killed job): cleared", "job", j.ID(), "target", target)
	}
	jobEnv = append(jobEnv, "IRONWORKS_JOB="+j.Name, "IRONWORKS_COMPONENT="+j.Component, "IRONWORKS_REV="+rev,
		"CARGO_TARGET_DIR="+target)
	spec := sandbox.Spec{Dir: dir, RW: append([]string{e.runDir(p.RunID), target}, e.SandboxRW...), RO: slices.Clone(e.SandboxRO)}
	spec.NoNetwork = j.Network != nil && !*j.Network
	if e.Sandbox.Enabled() {
		// The sandbox hides the coordinator's home, so cargo gets a home
		// of its own per component (registry and git caches survive runs).
		home := filepath.Join(e.StateDir, "cache", "cargo-home", j.Component)
		jobEnv = append(jobEnv, "CARGO_HOME="+home)
		spec.RW = append(spec.RW, home)
		// A worktree's .git points into its mirror, and the cargo-patch pin
		// fetches the upstream from its mirror: both read-only.
		for _, c := range slices.Sorted(maps.Keys(p.Candidate.Revisions)) {
			if m := e.Mirrors.Path(c); isDir(m) {
				spec.RO = append(spec.RO, m)
			}
		}
		fmt.Fprintf(f, "# ironworks: sandboxed (bubblewrap): sees its run's worktrees, its caches and the toolchains, as an unprivileged user\n")
	} else {
		fmt.Fprintf(f, "# ironworks: NOT sandboxed (engine.sandbox = \"off\"): this job can read the coordinator's secrets and state\n")
	}
	// bubblewrap fails a missing read-only path with exit 1, which would
	// read as the job failing: a missing shared folder (an unmounted
	// parameter cache) is the machine's fault.
	for _, d := range e.SandboxRO {
		if _, err := os.Stat(d); err != nil {
			res.State, res.Reason, res.FinishedAt = store.JobError, "engine.sandbox_ro: "+err.Error(), e.now()
			return res
		}
	}
	for _, d := range spec.RW {
		if err := os.MkdirAll(d, 0o755); err != nil {
			res.State, res.Reason, res.FinishedAt = store.JobError, err.Error(), e.now()
			return res
		}
	}
	jobEnv = e.scrub(jobEnv)

	timeout := j.Timeout.Duration
	jctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := e.Sandbox.Command(context.Background(), spec, "sh", "-c", j.Command)
	cmd.Env = jobEnv
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group, so a timeout kills every process it started
	// (in the sandbox, its PID namespace ends them all with its first one).
	// It dies with the coordinator too (unsandboxed, only its first process:
	// the rest is the PID namespace's job, which sandbox = "off" gives up).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// A job is over when its command exits: a background child that keeps
	// the output open must not hold the job until its timeout.
	cmd.WaitDelay = 2 * time.Second
	e.logger().Info("job started", "job", j.ID(), "run", p.RunID, "rev", store.ShortRev(rev))
	if err := cmd.Start(); err != nil {
		res.State, res.Reason, res.FinishedAt = store.JobError, "start: "+err.Error(), e.now()
		return res
	}
	waitErr := make(chan error, 1)
	go func() { waitErr <- cmd.Wait() }()
	select {
	case err = <-waitErr:
	case <-jctx.Done():
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case err = <-waitErr:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			err = <-waitErr
		}
	}
	if errors.Is(err, exec.ErrWaitDelay) {
		err = nil // the command exited 0; only a leftover child held the output
	}
	// Children that outlive the shell would keep the log open; end them.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	res.FinishedAt = e.now()
	elapsed := res.FinishedAt.Sub(res.StartedAt).Round(time.Millisecond)
	switch {
	case ctx.Err() != nil:
		res.State, res.Reason = store.JobCancelled, "cancelled"
	case jctx.Err() != nil:
		res.State = store.JobTimeout
		res.Reason = fmt.Sprintf("timed out after %s (timeout of %s; set jobs.%s.timeout in the adapter)", timeout, j.ID(), j.Name)
	case err == nil:
		res.State = store.JobSuccess
	default:
		res.State = store.JobFailure
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			res.ExitCode = ee.ExitCode()
			res.Reason = fmt.Sprintf("exit status %d", res.ExitCode)
			if res.ExitCode == 126 || res.ExitCode == 127 {
				res.State = store.JobAdapterErr
				res.Reason = adapterErrorReason(j, res.ExitCode)
			}
		} else {
			res.Reason = err.Error()
		}
	}
	out.finish()
	fmt.Fprintf(f, "\n# ironworks: %s %s after %s\n", j.ID(), res.State, elapsed)
	e.logger().Info("job finished", "job", j.ID(), "run", p.RunID, "state", res.State, "elapsed", elapsed)
	if e.Artifacts != nil {
		if err := e.upload(ctx, path, res.Log); err != nil {
			e.logger().Warn("log upload failed", "job", j.ID(), "err", err)
		}
	}
	return res
}

func (e *Engine) runDir(runID int64) string {
	return filepath.Join(e.StateDir, "work", fmt.Sprintf("run-%d", runID))
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func (e *Engine) upload(ctx context.Context, path, key string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return e.Artifacts.Put(ctx, key, f)
}

// capped keeps the first and the last part of a job's output within its
// limit: the head says what ran, the tail carries the error. What lies
// between is counted and said. The tail is held in memory (at most 4 MiB,
// twice that while compacting) and written when the job ends.
type capped struct {
	mu      sync.Mutex
	w       io.Writer
	head    int64 // bytes the head may still take
	tail    []byte
	tailCap int
	dropped int64
	limit   int64
}

func newCapped(w io.Writer, limit int64) *capped {
	tailCap := min(limit/2, 4<<20)
	return &capped{w: w, head: limit - tailCap, tailCap: int(tailCap), limit: limit}
}

func (c *capped) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(b)
	if c.head > 0 {
		k := min(int64(len(b)), c.head)
		if _, err := c.w.Write(b[:k]); err != nil {
			return 0, err
		}
		c.head -= k
		b = b[k:]
	}
	if len(b) == 0 {
		return n, nil
	}
	c.tail = append(c.tail, b...)
	if over := len(c.tail) - c.tailCap; over > 0 && len(c.tail) >= 2*c.tailCap {
		c.dropped += int64(over)
		c.tail = append(c.tail[:0], c.tail[over:]...)
	}
	return n, nil
}

// finish writes the tail, after a note of what was dropped before it.
func (c *capped) finish() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if over := len(c.tail) - c.tailCap; over > 0 {
		c.dropped += int64(over)
		c.tail = c.tail[over:]
	}
	if c.dropped > 0 {
		fmt.Fprintf(c.w, "\n# ironworks: output over the %d-byte limit: %d bytes dropped here; the last %d bytes follow\n", c.limit, c.dropped, len(c.tail))
	}
	_, _ = c.w.Write(c.tail)
	c.tail = nil
}

// allowEnv is what a job may inherit from the coordinator's environment:
// enough to find toolchains, nothing that authenticates.
var allowEnv = []string{"PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "TMPDIR", "TERM",
	"CARGO_HOME", "RUSTUP_HOME", "RUSTUP_TOOLCHAIN", "SSL_CERT_FILE", "NIX_PATH", "NIX_SSL_CERT_FILE"}

// baseEnvFor is the environment every job of the run starts from.
func (e *Engine) baseEnvFor(p *pipeline.Plan, runDir string, checkedOut []string) []string {
	checkouts := map[string]string{}
	for _, c := range checkedOut {
		checkouts[c] = filepath.Join(runDir, c, "src")
	}
	return e.baseEnv(p, checkouts)
}

func (e *Engine) baseEnv(p *pipeline.Plan, checkouts map[string]string) []string {
	var env []string
	for _, k := range append(append([]string{}, allowEnv...), e.PassEnv...) {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	env = append(env,
		"IRONWORKS_CANDIDATE="+p.Candidate.ID,
		fmt.Sprintf("IRONWORKS_RUN_ID=%d", p.RunID),
		"IRONWORKS_STAGE="+p.Stage,
	)
	comps := make([]string, 0, len(p.Candidate.Revisions))
	for c := range p.Candidate.Revisions {
		comps = append(comps, c)
	}
	sort.Strings(comps)
	for _, c := range comps {
		v := envName(c)
		env = append(env, "IRONWORKS_REV_"+v+"="+p.Candidate.Revisions[c].Rev)
		if dir, ok := checkouts[c]; ok {
			env = append(env, "IRONWORKS_SRC_"+v+"="+dir)
		}
	}
	return e.scrub(env)
}

// envName turns a component name into the suffix of an IRONWORKS_* variable.
func envName(c string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		}
		return '_'
	}, c)
}

// scrub drops any variable whose value contains a secret.
func (e *Engine) scrub(env []string) []string {
	out := env[:0]
	for _, kv := range env {
		_, v, _ := strings.Cut(kv, "=")
		if slices.ContainsFunc(e.Secrets, func(s string) bool { return s != "" && strings.Contains(v, s) }) {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// adapterErrorReason explains exit 126/127 of sh -c: the adapter's command
// was not found or is not executable, which is its configuration, not the
// component's code.
func adapterErrorReason(j *config.Job, code int) string {
	what := "command not found"
	if code == 126 {
		what = "command not executable"
	}
	return fmt.Sprintf("adapter error: exit status %d (%s): fix jobs.%s.command in the %s adapter", code, what, j.Name, j.Component)
}
