// Package agent is benchkit's worker on a benchmark host: it dials out to the
// coordinator (no inbound port), leases bench jobs matching its features,
// renews the lease while it works, checks out the exact revisions, runs the
// entry and posts the samples.
package agent

import (
	// The pin methods adapters name in [[upstream]] pin.
	_ "github.com/ironworks-ci/ironworks/adapters/cargopatch"

	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/ironworks-ci/ironworks/adapters/hook"
	"github.com/ironworks-ci/ironworks/benchkit/protocol"
	"github.com/ironworks-ci/ironworks/benchkit/runner"
	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/sandbox"
)

// Agent leases and runs bench jobs.
type Agent struct {
	URL      string // the coordinator's base URL
	Token    string // never logged, never passed to a job
	Name     string
	Features []string
	Workdir  string // mirrors and per-job checkouts
	Runner   *runner.Runner
	Log      io.Writer
	// Poll is the wait between leases when the queue is empty (default 10s).
	Poll time.Duration

	client *retryablehttp.Client
}

// ErrLeaseGone is returned when the coordinator no longer knows the lease.
var ErrLeaseGone = errors.New("lease gone")

func (a *Agent) http() *retryablehttp.Client {
	if a.client == nil {
		c := retryablehttp.NewClient()
		c.Logger = nil
		c.RetryMax = 5
		c.RetryWaitMin = 200 * time.Millisecond
		c.RetryWaitMax = 5 * time.Second
		a.client = c
	}
	return a.client
}

// post sends v and decodes the reply into out; it returns the status code.
func (a *Agent) post(ctx context.Context, path string, v, out any) (int, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return 0, err
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(a.URL, "/")+path, body)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+a.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.http().Do(req)
	if err != nil {
		return 0, fmt.Errorf("agent: %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	switch {
	case resp.StatusCode == http.StatusConflict:
		return resp.StatusCode, ErrLeaseGone
	case resp.StatusCode == http.StatusNoContent:
		return resp.StatusCode, nil
	case resp.StatusCode != http.StatusOK:
		return resp.StatusCode, fmt.Errorf("agent: %s: %s: %s", path, resp.Status, strings.TrimSpace(string(b)))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("agent: %s: bad reply: %w", path, err)
		}
	}
	return resp.StatusCode, nil
}

// Run leases and runs jobs until ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	poll := a.Poll
	if poll <= 0 {
		poll = 10 * time.Second
	}
	for {
		did, err := a.Once(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			a.logf("agent: %v", err)
		}
		if !did || err != nil {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(poll):
			}
		}
	}
}

// Once leases one job and runs it; it reports whether there was a job.
func (a *Agent) Once(ctx context.Context) (bool, error) {
	var job protocol.Job
	code, err := a.post(ctx, protocol.PathLease, protocol.LeaseRequest{Agent: a.Name, Features: a.Features}, &job)
	if err != nil {
		return false, err
	}
	if code == http.StatusNoContent {
		return false, nil
	}
	a.logf("agent: job %d (%s/%s of %s, round %d, attempt %d)", job.ID, job.Component, job.Bench.Name, job.Candidate, job.Round, job.Attempt)
	return true, a.runJob(ctx, &job)
}

func (a *Agent) runJob(ctx context.Context, job *protocol.Job) error {
	jobCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// Heartbeats keep the lease; when the coordinator says it is gone (it
	// expired and went to another agent), the work stops.
	hbDone := make(chan struct{})
	go func() {
		defer close(hbDone)
		every := job.HeartbeatEvery
		if every <= 0 {
			every = 30 * time.Second
		}
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-jobCtx.Done():
				return
			case <-t.C:
				_, err := a.post(jobCtx, protocol.PathHeartbeat, protocol.Heartbeat{JobID: job.ID, LeaseID: job.LeaseID}, nil)
				if errors.Is(err, ErrLeaseGone) {
					cancel(ErrLeaseGone)
					return
				}
			}
		}
	}()
	var samples, baseSamples map[string][]float64
	var bisected *protocol.BisectResult
	var runErr error
	if job.Bisect != nil {
		bisected, runErr = a.bisect(jobCtx, job)
	} else {
		samples, baseSamples, runErr = a.execute(jobCtx, job)
	}
	cancel(nil)
	<-hbDone
	if ctx.Err() != nil {
		// Stopped: the lease expires and the job goes to another agent.
		return ctx.Err()
	}
	if errors.Is(context.Cause(jobCtx), ErrLeaseGone) {
		return fmt.Errorf("agent: job %d: lease lost; dropped", job.ID)
	}
	res := protocol.Result{JobID: job.ID, LeaseID: job.LeaseID, Agent: a.Name, Host: a.Runner.Host, Samples: samples, BaselineSamples: baseSamples, Bisect: bisected}
	if runErr != nil {
		res.Samples, res.BaselineSamples, res.Bisect = nil, nil, nil
		res.Error = runErr.Error()
	}
	var rep protocol.ResultReply
	if _, err := a.post(ctx, protocol.PathResult, res, &rep); err != nil {
		return fmt.Errorf("agent: job %d: post result: %w", job.ID, err)
	}
	if runErr != nil {
		return fmt.Errorf("agent: job %d: %w", job.ID, runErr)
	}
	return nil
}

// checkoutAll checks every source out under dir, pins the upstreams among
// them into component's checkout and returns the revisions and that checkout.
func (a *Agent) checkoutAll(ctx context.Context, dir, component string, sources map[string]protocol.Source, ups []config.Upstream) (map[string]string, string, error) {
	revs := map[string]string{}
	comps := make([]string, 0, len(sources))
	for c := range sources {
		comps = append(comps, c)
	}
	sort.Strings(comps)
	var work string
	for _, c := range comps {
		src := sources[c]
		path := filepath.Join(dir, c)
		if err := a.checkout(ctx, src, path); err != nil {
			return nil, "", fmt.Errorf("checkout %s@%s: %w", c, src.Rev, err)
		}
		revs[c] = src.Rev
		if c == component {
			work = path
		}
	}
	if work == "" {
		return nil, "", fmt.Errorf("job names component %s but carries no source for it", component)
	}
	for _, u := range ups {
		src, ok := sources[u.Name]
		if !ok {
			continue
		}
		if err := a.pin(ctx, u, filepath.Join(dir, u.Name), src, work, dir); err != nil {
			return nil, "", err
		}
	}
	return revs, work, nil
}

// pin builds the downstream checkout work against the upstream's checkout
// at src.Rev by the upstream entry's pin method, fetching from the agent's
// mirror of it; scratch encloses work.
func (a *Agent) pin(ctx context.Context, u config.Upstream, upDir string, src protocol.Source, work, scratch string) error {
	p, err := hook.Pin(u.Pin)
	if err != nil {
		return err
	}
	detail, err := p.Pin(ctx, hook.PinRequest{Upstream: u, UpstreamDir: upDir, UpstreamURL: "file://" + a.mirror(src.Repo), UpstreamRev: src.Rev,
		DownstreamDir: work, ScratchDir: scratch, Env: append(os.Environ(), "CARGO_HOME="+a.cargoHome())})
	if err != nil {
		return fmt.Errorf("pin %s@%s: %w", u.Name, src.Rev, err)
	}
	a.logf("agent: %s", detail)
	return nil
}

// cargoHome is the agent's Cargo home, shared by its jobs.
func (a *Agent) cargoHome() string { return filepath.Join(a.Workdir, "cargo-home") }

// mirror is the path of the agent's bare mirror of repo.
func (a *Agent) mirror(repo string) string {
	sum := sha256.Sum256([]byte(repo))
	return filepath.Join(a.Workdir, "mirrors", hex.EncodeToString(sum[:8])+".git")
}

// execute checks the sources out and runs the entry; a side-by-side job also
// checks its baseline out (under baseline/) and runs both in interleaved
// rounds.
func (a *Agent) execute(ctx context.Context, job *protocol.Job) (samples, baseline map[string][]float64, err error) {
	dir := filepath.Join(a.Workdir, "jobs", fmt.Sprintf("%d-%d", job.ID, job.Attempt))
	if err := os.RemoveAll(dir); err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(dir)
	if err := os.MkdirAll(a.cargoHome(), 0o755); err != nil {
		return nil, nil, err
	}
	revs, work, err := a.checkoutAll(ctx, filepath.Join(dir, "candidate"), job.Component, job.Sources, job.Bench.Upstream)
	if err != nil {
		return nil, nil, err
	}
	// The entry sees its job's checkouts, the mirrors they borrow objects
	// from (read-only) and a cargo home of the agent's; never the token, the
	// other jobs or the rest of the workdir.
	cargoHome := a.cargoHome()
	spec := sandbox.Spec{RW: []string{dir, cargoHome}}
	if m := filepath.Join(a.Workdir, "mirrors"); dirExists(m) {
		spec.RO = []string{m}
	}
	b := job.Bench
	kind := "run"
	if job.Round > 0 {
		kind = "confirm"
	}
	cand := runner.Job{
		Component: job.Component, Bench: &b, Candidate: job.Candidate, Revisions: revs, Workdir: work, Kind: kind,
		Env: []string{"CARGO_HOME=" + cargoHome}, Sandbox: spec,
	}
	if job.Baseline == nil {
		s, err := a.Runner.Measure(ctx, cand, max(b.Repeat, 1), job.Round == 0)
		return s, nil, err
	}
	baseRevs, baseWork, err := a.checkoutAll(ctx, filepath.Join(dir, "baseline"), job.Component, job.Baseline.Sources, job.Bench.Upstream)
	if err != nil {
		return nil, nil, fmt.Errorf("baseline %s: %w", job.Baseline.Candidate, err)
	}
	base := cand
	base.Candidate, base.Revisions, base.Workdir = job.Baseline.Candidate, baseRevs, baseWork
	bs, cs, err := a.Runner.Interleave(ctx, base, cand, max(b.Repeat, 1), job.Round == 0)
	return cs, bs, err
}

// checkout puts src.Rev of src.Repo at path, through a cached bare mirror per
// repository so that each job fetches only what is new.
func (a *Agent) checkout(ctx context.Context, src protocol.Source, path string) error {
	mirror := a.mirror(src.Repo)
	if _, err := os.Stat(mirror); err != nil {
		if err := git(ctx, "", "clone", "--quiet", "--mirror", "--", src.Repo, mirror); err != nil {
			return err
		}
	} else if err := git(ctx, mirror, "cat-file", "-e", src.Rev+"^{commit}"); err != nil {
		if err := git(ctx, mirror, "fetch", "--quiet", "--prune", "origin"); err != nil {
			return err
		}
	}
	if err := git(ctx, "", "clone", "--quiet", "--shared", "--no-checkout", "--", mirror, path); err != nil {
		return err
	}
	return git(ctx, path, "-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", src.Rev)
}

func git(ctx context.Context, dir string, args ...string) error {
	if dir != "" {
		args = append([]string{"-C", dir}, args...)
	}
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func dirExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func (a *Agent) logf(format string, args ...any) {
	if a.Log != nil {
		fmt.Fprintf(a.Log, format+"\n", args...)
	}
}
