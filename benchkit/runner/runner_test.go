package runner

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ironworks-ci/ironworks/benchkit/gate"
	"github.com/ironworks-ci/ironworks/benchkit/results"
	"github.com/ironworks-ci/ironworks/benchkit/stats"
	"github.com/ironworks-ci/ironworks/coordinator/config"
)

func buildAlloc(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "alloc")
	if out, err := exec.Command("go", "build", "-o", bin, "../measure/testdata/alloc").CombinedOutput(); err != nil {
		t.Fatalf("build alloc: %v\n%s", err, out)
	}
	return bin
}

func bench(t *testing.T, bin string) *config.Bench {
	t.Helper()
	a, err := config.ParseAdapter("adapter.toml", []byte(`name = "demo"
repo = "file:///nowhere"
[jobs.build]
stage = "forge"
command = "true"
[bench.alloc]
stage = "harden"
command = "\"$ALLOC\" -mib \"$MIB\" -hold 10ms"
parser = "json"
repeat = 5
warmup = 1
[bench.alloc.metrics]
"benchkit.max-rss-kb" = { direction = "lower", threshold = "5%" }
"allocated-mib" = { direction = "lower", threshold = "5%" }
`))
	if err != nil {
		t.Fatal(err)
	}
	b := a.Bench["alloc"]
	b.Env = map[string]string{"ALLOC": bin, "MIB": "32"}
	return b
}

func TestGateFlow(t *testing.T) {
	ctx := context.Background()
	bin := buildAlloc(t)
	db, err := results.Open(ctx, filepath.Join(t.TempDir(), "bench.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var log bytes.Buffer
	r := New(ctx, &log)
	b := bench(t, bin)
	job := func(cand, mib string) Job {
		bb := *b
		bb.Env = map[string]string{"ALLOC": bin, "MIB": mib}
		return Job{Component: "demo", Bench: &bb, Candidate: cand, Revisions: map[string]string{"demo": cand + "-sha"}, Workdir: t.TempDir()}
	}

	// The first candidate has nothing to compare with.
	jd, err := r.Gate(ctx, db, job("rel1", "32"), 10)
	if err != nil {
		t.Fatal(err)
	}
	if jd.State != gate.NoBaseline {
		t.Fatalf("first candidate: %s", jd.State)
	}
	if err := db.MarkReleased(ctx, "rel1"); err != nil {
		t.Fatal(err)
	}

	// Twice the memory fails the gate on RSS and on the tool's own metric.
	jd, err = r.Gate(ctx, db, job("cand2", "64"), 10)
	if err != nil {
		t.Fatal(err)
	}
	if jd.State != gate.Fail || jd.Baseline != "rel1" {
		t.Fatalf("doubled memory: state %s baseline %s: %+v", jd.State, jd.Baseline, jd.Metrics)
	}
	rss := find(t, jd, "benchkit.max-rss-kb")
	if rss.Verdict != stats.Regressed || rss.Change < 0.7 || rss.Change > 1.3 {
		t.Errorf("RSS verdict %s change %.3f, want regressed by about +100%%", rss.Verdict, rss.Change)
	}
	if !rss.Gating || find(t, jd, "benchkit.wall-ms").Gating {
		t.Error("gating should follow adapter.toml's metric list")
	}
	if !strings.Contains(log.String(), "needs confirmation") {
		t.Errorf("a borderline 5-vs-5 verdict was not confirmed:\n%s", log.String())
	}
	s, _ := db.Samples(ctx, "cand2", r.Series(job("cand2", "64")))
	if n := len(s["benchkit.max-rss-kb"]); n != 10 {
		t.Errorf("cand2 has %d RSS samples, want 10 (5 + 5 confirmation)", n)
	}

	// Acknowledged, the same regression passes and is listed for the manifest.
	if err := db.AddAck(ctx, results.Ack{Candidate: "cand2", Metric: "benchkit.max-rss-kb", Reason: "bigger cache on purpose", By: "alice"}); err != nil {
		t.Fatal(err)
	}
	if err := db.AddAck(ctx, results.Ack{Candidate: "cand2", Bench: "alloc", Metric: "allocated-mib", Reason: "same change"}); err != nil {
		t.Fatal(err)
	}
	jd, err = gate.Judge(ctx, db, r.Series(job("cand2", "64")), "cand2", b)
	if err != nil || jd.State != gate.Pass || find(t, jd, "benchkit.max-rss-kb").Acked == nil {
		t.Fatalf("acknowledged: %v %+v", err, jd)
	}
	acks, _ := db.Acks(ctx, "cand2")
	if len(acks) != 2 || acks[0].By != "alice" {
		t.Errorf("acks %+v", acks)
	}

	// The same workload as the release passes.
	jd, err = r.Gate(ctx, db, job("cand3", "32"), 10)
	if err != nil || jd.State != gate.Pass {
		t.Fatalf("unchanged candidate: %v %+v", err, jd)
	}
	if v := find(t, jd, "allocated-mib"); v.Verdict != stats.Unchanged {
		t.Errorf("allocated-mib %s", v.Verdict)
	}
}

func find(t *testing.T, jd *gate.Judgement, metric string) gate.MetricVerdict {
	t.Helper()
	for _, m := range jd.Metrics {
		if m.Metric == metric {
			return m
		}
	}
	t.Fatalf("no metric %s in %+v", metric, jd.Metrics)
	return gate.MetricVerdict{}
}

func TestEnvScrubbed(t *testing.T) {
	b := &config.Bench{Name: "x", Env: map[string]string{"MODE": "fast"}}
	env := Env([]string{"PATH=/bin", "GITHUB_TOKEN=secret", "IRONWORKS_TOKEN_FILE=/run/t", "LC_ALL=C", "CUDA_VISIBLE_DEVICES=0"},
		Job{Component: "rust-fil-proofs", Bench: b, Candidate: "c1", Revisions: map[string]string{"merkletree": "abc", "rust-fil-proofs": "def"}, Workdir: "/w"})
	for _, want := range []string{"PATH=/bin", "LC_ALL=C", "CUDA_VISIBLE_DEVICES=0", "MODE=fast", "IRONWORKS_CANDIDATE=c1", "IRONWORKS_REV_MERKLETREE=abc", "IRONWORKS_REV_RUST_FIL_PROOFS=def"} {
		if !slices.Contains(env, want) {
			t.Errorf("missing %s in %v", want, env)
		}
	}
	for _, kv := range env {
		if strings.Contains(kv, "secret") || strings.HasPrefix(kv, "IRONWORKS_TOKEN") {
			t.Errorf("leaked %s", kv)
		}
	}
}

func TestMeasureErrors(t *testing.T) {
	ctx := context.Background()
	r := &Runner{BaseEnv: []string{"PATH=" + os.Getenv("PATH")}}
	for _, tt := range []struct{ cmd, parser, want string }{
		{"exit 4", "json", "exited with status 4"},
		{"echo not json", "json", "no JSON object"},
		{"echo '{\"a\": 1}'", "benchy", `field "benchmarks": missing`},
	} {
		b := &config.Bench{Name: "e", Command: tt.cmd, Parser: tt.parser, Timeout: config.Duration{Duration: time.Minute}}
		_, err := r.Measure(ctx, Job{Component: "c", Bench: b, Candidate: "x", Workdir: t.TempDir()}, 1, false)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.cmd, err, tt.want)
		}
	}
}
