package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ironworks-ci/ironworks/coordinator/benchqueue"
	"github.com/ironworks-ci/ironworks/coordinator/internal/fixture"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// buildBenchkit compiles the benchkit command.
func buildBenchkit(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "benchkit")
	if out, err := exec.Command("go", "build", "-o", bin, "../../../benchkit/cmd/benchkit").CombinedOutput(); err != nil {
		t.Fatalf("go build benchkit: %v\n%s", err, out)
	}
	return bin
}

// measure runs a benchkit agent until the candidate's bench jobs are done.
// The agent talks to the bench API served in-test by benchqueue.Handler
// over the state database, as `coordinator serve` mounts it: with serve
// itself running, its own scheduler pass would re-check the gate and race
// the `run --once` the tests are about.
func measure(t *testing.T, benchkit, dir string, q *benchqueue.Queue, cand string) {
	t.Helper()
	measureOn(t, benchkit, dir, q, cand, "")
}

// measureOn is measure with an agent offering features (--features), e.g.
// "gpu" for entries that require one.
func measureOn(t *testing.T, benchkit, dir string, q *benchqueue.Queue, cand, features string) {
	t.Helper()
	ctx := context.Background()
	tokens := filepath.Join(dir, "agent-tokens")
	os.WriteFile(tokens, []byte("agent-secret-0123456789abcdef\n"), 0o600)
	toks, err := benchqueue.ReadTokens(tokens)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(q.Handler(toks, slog.New(slog.NewTextHandler(os.Stderr, nil))))
	defer srv.Close()
	sandboxMode := "bwrap"
	if _, err := exec.LookPath("bwrap"); err != nil {
		sandboxMode = "off"
	}
	var agentLog strings.Builder
	agent := exec.Command(benchkit, "agent", "--coordinator", srv.URL, "--token-file", tokens, "--name", "gpu-1",
		"--workdir", filepath.Join(dir, "agent"), "--poll", "100ms", "--sandbox", sandboxMode, "--features", features)
	agent.Stdout, agent.Stderr = &agentLog, &agentLog
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		agent.Process.Signal(syscall.SIGTERM)
		agent.Wait()
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		jobs, err := q.Jobs(ctx, cand)
		if err != nil {
			t.Fatal(err)
		}
		done := 0
		for _, j := range jobs {
			if j.State == benchqueue.Failed || time.Now().After(deadline) {
				t.Fatalf("bench job %+v\nagent:\n%s", j, agentLog.String())
			}
			if j.State == benchqueue.Done {
				done++
			}
		}
		if len(jobs) > 0 && done == len(jobs) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// benchStory is a component whose harden stage has nothing but a [bench.*]
// entry gating the RSS that fil-proofs-tooling's scripts/benchy.sh reports
// (its command prints the transcribed fixture the commit holds), with the
// built coordinator and benchkit, the state under dir, and a benchkit agent
// measuring on demand (measure).
type benchStory struct {
	t                       *testing.T
	bin, benchkit, dir, cfg string
	repo                    *fixture.Repo
}

// benchOnlyAdapter is an adapter whose harden stage has only a bench entry,
// gated on resident memory, that "measures" the benchy.sh report in the
// repository repeat times per side.
func benchOnlyAdapter(repeat int) string {
	return fmt.Sprintf(`name = "app"
repo = "unused"
[jobs.build]
stage = "forge"
command = "true"
[bench.window-post]
stage = "harden"
command = "cat report.json"
parser = "benchy"
repeat = %d
[bench.window-post.metrics]
"max-resident-set-size-kb" = { direction = "lower", threshold = "3%%" }
`, repeat)
}

func newBenchStory(t *testing.T) *benchStory {
	s := &benchStory{t: t, bin: buildBinary(t), benchkit: buildBenchkit(t), dir: t.TempDir()}
	s.repo = fixture.NewRepo(t, filepath.Join(s.dir, "src", "app"))
	s.repo.Commit("first", map[string]string{"report.json": s.fixture("benchy-sh-window-post-32gib.json")})
	if err := writeAdapters(s.dir, map[string]string{"app": benchOnlyAdapter(3)}); err != nil {
		t.Fatal(err)
	}
	s.cfg = filepath.Join(s.dir, "ironworks.toml")
	os.WriteFile(s.cfg, []byte("state_dir = \"state\"\nadapters = [\"adapters/app\"]\n[components.app]\nrepo = \""+s.repo.URL()+"\"\n[engine]\npoll_interval = \"200ms\"\n"), 0o644)
	return s
}

// fixture reads a benchy output transcribed in benchkit/parse/testdata.
func (s *benchStory) fixture(name string) string {
	b, err := os.ReadFile(filepath.Join("../../../benchkit/parse/testdata", name))
	if err != nil {
		s.t.Fatal(err)
	}
	return string(b)
}

// run runs the coordinator with the story's configuration and returns its
// exit code, stdout and stderr.
func (s *benchStory) run(args ...string) (code int, stdout, stderr string) {
	s.t.Helper()
	return binaryRun{bin: s.bin, cfg: s.cfg, dir: s.dir}.runSplit(s.t, args...)
}

// coordinator runs the coordinator, fails the test unless it exits want,
// and returns what it printed.
func (s *benchStory) coordinator(want int, args ...string) string {
	s.t.Helper()
	code, out, errOut := s.run(args...)
	if code != want {
		s.t.Fatalf("coordinator %v: exit %d, want %d\n%s%s", args, code, want, out, errOut)
	}
	return out + errOut
}

func (s *benchStory) open() (*store.Store, *benchqueue.Queue) {
	s.t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(s.dir, "state", "ironworks.db"))
	if err != nil {
		s.t.Fatal(err)
	}
	return st, benchqueue.New(st)
}

func (s *benchStory) harden(st *store.Store) []*store.Run {
	s.t.Helper()
	runs, err := st.Runs(context.Background(), store.RunFilter{Stage: "harden"})
	if err != nil {
		s.t.Fatal(err)
	}
	return runs
}

// newestForge is the candidate of the newest forge run.
func (s *benchStory) newestForge(st *store.Store) string {
	s.t.Helper()
	forge, err := st.Runs(context.Background(), store.RunFilter{Stage: "forge", Limit: 1})
	if err != nil || len(forge) != 1 {
		s.t.Fatalf("forge runs %v %v", forge, err)
	}
	return forge[0].Candidate
}

type benchManifest struct {
	Candidate         string            `json:"candidate"`
	BenchmarkReports  []string          `json:"benchmark_reports"`
	BenchmarkVerdicts map[string]string `json:"benchmark_verdicts"`
	BenchAcks         []struct {
		Candidate   string `json:"candidate"`
		Metric      string `json:"metric"`
		Reason      string `json:"reason"`
		By          string `json:"by"`
		Report      string `json:"report"`
		Regressions []struct {
			Bench    string  `json:"bench"`
			Change   float64 `json:"change"`
			Baseline string  `json:"baseline"`
		} `json:"regressions"`
	} `json:"bench_acks"`
}

// release promotes the newest good candidate to temper and releases it as
// version, returning its manifest.
func (s *benchStory) release(version string) benchManifest {
	s.t.Helper()
	s.coordinator(exitOK, "promote", "--to", "temper", "--latest-good")
	s.coordinator(exitOK, "promote", "--to", "release", "--latest-good", "--version", version, "--by", "carol")
	b, err := os.ReadFile(filepath.Join(s.dir, "state", "releases", version, "manifest.json"))
	if err != nil {
		s.t.Fatal(err)
	}
	var m benchManifest
	if err := json.Unmarshal(b, &m); err != nil {
		s.t.Fatal(err)
	}
	return m
}

// releaseBaseline takes the first commit through forge and a bench-only
// harden stage and releases it as v1.0.0: the entry is queued as soon as
// the candidate is promoted at forge (before any harden run); a harden pass
// gives a run without jobs whose promotion waits for the benchmark; a
// benchkit agent measures it; the next `run --once` re-checks the waiting
// gate and promotes; the release manifest carries the benchmark report's ID
// and verdict. It returns the released candidate.
func (s *benchStory) releaseBaseline() string {
	t := s.t
	t.Helper()
	ctx := context.Background()
	// Forge only: the candidate reaches harden, its benchmark is queued.
	s.coordinator(exitOK, "run", "--once")
	st, q := s.open()
	cand := s.newestForge(st)
	if ok, _ := st.Promoted(ctx, cand, "forge"); !ok {
		t.Fatal("forge not promoted")
	}
	jobs, err := q.Jobs(ctx, cand)
	if err != nil || len(jobs) != 1 || jobs[0].Bench != "window-post" || jobs[0].State != benchqueue.Queued {
		t.Fatalf("bench jobs after forge: %+v %v", jobs, err)
	}
	if n := len(s.harden(st)); n != 0 {
		t.Fatalf("%d harden runs before any harden pass", n)
	}
	st.Close()

	// A harden pass: a run without jobs, green, its promotion waiting.
	s.coordinator(exitOK, "run", "--once", "--through", "harden")
	st, q = s.open()
	hr := s.harden(st)
	if len(hr) != 1 || hr[0].Verdict != store.VerdictGreen || len(hr[0].Jobs) != 0 || hr[0].Detail["not_promoted"] != "gate pending" {
		t.Fatalf("harden run: %+v", hr)
	}
	if jobs, _ := q.Jobs(ctx, cand); len(jobs) != 1 {
		t.Fatalf("bench entry queued twice: %+v", jobs)
	}

	// A benchkit agent measures it.
	measure(t, s.benchkit, s.dir, q, cand)
	if ok, _ := st.Promoted(ctx, cand, "harden"); ok {
		t.Fatal("harden promoted before any pass re-checked its gate")
	}
	st.Close()

	// The next pass re-checks the waiting gate: promoted, with the report.
	s.coordinator(exitOK, "run", "--once", "--through", "harden")
	st, q = s.open()
	p, err := st.Promotion(ctx, cand, "harden")
	if err != nil {
		t.Fatalf("harden not promoted by run --once: %v", err)
	}
	ids, _ := p.Evidence["benchmark_reports"].([]any)
	if len(ids) != 1 || p.Evidence["bench"] != benchqueue.StatePass {
		t.Fatalf("harden evidence %v", p.Evidence)
	}
	id := ids[0].(string)
	js, md, err := q.Report(ctx, id)
	if err != nil || !strings.Contains(js, "window-post") || !strings.Contains(md, "No released candidate was measured on this host class") {
		t.Fatalf("report %s: %v\n%s", id, err, md)
	}
	if hr := s.harden(st); len(hr) != 1 {
		t.Errorf("%d harden runs, want the one that waited", len(hr))
	}
	st.Close()

	// Released: the manifest names the report and its verdict.
	m := s.release("v1.0.0")
	if m.Candidate != cand || len(m.BenchmarkReports) != 1 || m.BenchmarkReports[0] != id || m.BenchmarkVerdicts[id] != "pass" {
		t.Fatalf("manifest: %+v", m)
	}
	return cand
}

// regress commits a change that uses 10% more memory (the +10% fixture):
// its candidate is measured side by side with the release on the agent, its
// harden gate fails on the RSS, and run --once says so (exit 1). It returns
// the candidate and what that pass printed.
func (s *benchStory) regress(released string) (next, out string) {
	t := s.t
	t.Helper()
	ctx := context.Background()
	s.repo.Commit("bigger trees", map[string]string{"report.json": s.fixture("benchy-sh-window-post-32gib-rss+10pct.json")})
	s.coordinator(exitOK, "run", "--once")
	st, q := s.open()
	next = s.newestForge(st)
	var base string
	if err := st.DB.QueryRowContext(ctx, `SELECT baseline FROM bench_jobs WHERE candidate=?`, next).Scan(&base); err != nil || !strings.Contains(base, `"candidate":"`+released+`"`) {
		t.Fatalf("bench job of %s does not measure the release %s side by side: %q %v", next, released, base, err)
	}
	measure(t, s.benchkit, s.dir, q, next)
	st.Close()
	out = s.coordinator(exitGate, "run", "--once", "--through", "harden")
	st, _ = s.open()
	defer st.Close()
	if ok, _ := st.Promoted(ctx, next, "harden"); ok {
		t.Fatalf("harden promoted a 10%% RSS regression\n%s", out)
	}
	return next, out
}

// TestBenchOnlyStageMeasuredAndInManifest: a harden stage with nothing but a
// [bench.*] entry is measured and released with its report in the manifest
// (releaseBaseline); the next candidate, using 10% more memory, is measured
// side by side with that release and fails its harden gate on the RSS
// (regress), with a bench-regression event naming a report that says so.
func TestBenchOnlyStageMeasuredAndInManifest(t *testing.T) {
	s := newBenchStory(t)
	next, out := s.regress(s.releaseBaseline())
	ctx := context.Background()
	st, q := s.open()
	defer st.Close()
	evs, err := st.EventsOfKind(ctx, "bench-regression", next)
	if err != nil || len(evs) != 1 {
		t.Fatalf("bench-regression events %v %v\n%s", evs, err, out)
	}
	rid, _ := evs[0].Payload["report"].(string)
	_, md, err := q.Report(ctx, rid)
	if err != nil || !strings.Contains(md, "measured side by side with this one in 3 interleaved rounds") || !strings.Contains(md, "🔴 regressed") || !strings.Contains(md, "+10.00%") {
		t.Fatalf("regression report %s: %v\n%s", rid, err, md)
	}
}

// TestServeMeasuresBenchOnlyStage: under `coordinator serve` (harden is
// queued automatically), a harden stage with only a bench entry gets its run
// without jobs; a benchkit agent dials out to serve's bench API, measures
// the candidate, and serve's next pass promotes harden with the report.
func TestServeMeasuresBenchOnlyStage(t *testing.T) {
	bin, benchkit := buildBinary(t), buildBenchkit(t)
	dir := t.TempDir()
	report, err := os.ReadFile("../../../benchkit/parse/testdata/benchy-sh-window-post-32gib.json")
	if err != nil {
		t.Fatal(err)
	}
	repo := fixture.NewRepo(t, filepath.Join(dir, "src", "app"))
	repo.Commit("first", map[string]string{"report.json": string(report)})
	if err := writeAdapters(dir, map[string]string{"app": benchOnlyAdapter(2)}); err != nil {
		t.Fatal(err)
	}
	tokens := filepath.Join(dir, "agent-tokens")
	os.WriteFile(tokens, []byte("agent-secret-0123456789abcdef\n"), 0o600)
	cfg := filepath.Join(dir, "ironworks.toml")
	os.WriteFile(cfg, []byte("state_dir = \"state\"\nadapters = [\"adapters/app\"]\n[components.app]\nrepo = \""+repo.URL()+
		"\"\n[engine]\npoll_interval = \"200ms\"\nbench_tokens_file = \""+tokens+"\"\n"), 0o644)
	url, _ := startServe(t, bin, dir, cfg)
	sandboxMode := "bwrap"
	if _, err := exec.LookPath("bwrap"); err != nil {
		sandboxMode = "off"
	}
	var agentLog strings.Builder
	agent := exec.Command(benchkit, "agent", "--coordinator", url, "--token-file", tokens, "--name", "gpu-1",
		"--workdir", filepath.Join(dir, "agent"), "--poll", "100ms", "--sandbox", sandboxMode)
	agent.Stdout, agent.Stderr = &agentLog, &agentLog
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		agent.Process.Signal(syscall.SIGTERM)
		agent.Wait()
	}()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(dir, "state", "ironworks.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	deadline := time.Now().Add(90 * time.Second)
	for {
		runs, err := st.Runs(ctx, store.RunFilter{Stage: "harden"})
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) == 1 {
			if p, err := st.Promotion(ctx, runs[0].Candidate, "harden"); err == nil {
				if ids, _ := p.Evidence["benchmark_reports"].([]any); len(ids) != 1 || len(runs[0].Jobs) != 0 {
					t.Fatalf("harden promotion %+v of run %+v", p.Evidence, runs[0])
				}
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("harden never promoted; runs %+v\nagent:\n%s", runs, agentLog.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}
