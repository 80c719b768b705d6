package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/internal/fixture"
	"github.com/ironworks-ci/ironworks/coordinator/notify"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// flakyScript counts its runs in the file named by $1 and, while the pattern
// file $2 exists, fails the runs whose letter in the (cycled) pattern is F.
// Both files live outside every worktree, so the test controls them.
const flakyScript = `#!/bin/sh
n=$(cat "$1" 2>/dev/null || echo 0)
n=$((n + 1))
echo "$n" > "$1"
[ -f "$2" ] || exit 0
p=$(cat "$2")
i=$(( (n - 1) % ${#p} + 1 ))
if [ "$(printf %s "$p" | cut -c$i)" = F ]; then
	echo "flaky test: failing on run $n (pattern $p)"
	exit 1
fi
`

// flakyEnv is a configuration over fixture repositories whose downstream
// test runs the flaky script before cargo test.
type flakyEnv struct {
	t                *testing.T
	bin, dir, cfg    string
	counter, pattern string
	up               *fixture.Repo
}

func newFlakyEnv(t *testing.T) *flakyEnv { return newStoryEnv(t, "", "") }

// newStoryEnv is newFlakyEnv with the downstream test's command replaced
// (when testCmd is not empty) and extra configuration text appended.
func newStoryEnv(t *testing.T, testCmd, extraCfg string) *flakyEnv {
	t.Helper()
	fixture.RequireCargo(t)
	e := &flakyEnv{t: t, bin: buildBinary(t), dir: t.TempDir()}
	// The flaky files live in the component's shared cargo target folder:
	// outside every worktree (they outlive runs), and a folder the job
	// sandbox lets jobs write.
	flakyDir := filepath.Join(e.dir, "state", "cache", "target", "rust-fil-proofs", "flaky")
	if err := os.MkdirAll(flakyDir, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(flakyDir, 0o777)
	e.counter = filepath.Join(flakyDir, "counter")
	e.pattern = filepath.Join(flakyDir, "pattern")
	script := filepath.Join(flakyDir, "flaky.sh")
	os.WriteFile(script, []byte(flakyScript), 0o755)
	e.up = fixture.Merkletree(t, filepath.Join(e.dir, "src", "merkletree"))
	down := fixture.Proofs(t, filepath.Join(e.dir, "src", "rust-fil-proofs"))
	// The demo's adapters, the downstream's test made flaky.
	adapters := map[string]string{
		"merkletree":      demoUpAdapter,
		"rust-fil-proofs": replaceOnce(t, demoDownAdapter, `command = "cargo test --workspace"`, fmt.Sprintf(`command = "sh %s %s %s && cargo test --workspace"`, script, e.counter, e.pattern)),
	}
	if testCmd != "" {
		adapters["rust-fil-proofs"] = strings.Replace(adapters["rust-fil-proofs"], fmt.Sprintf("sh %s %s %s && cargo test --workspace", script, e.counter, e.pattern), testCmd, 1)
	}
	if err := writeAdapters(e.dir, adapters); err != nil {
		t.Fatal(err)
	}
	e.cfg = filepath.Join(e.dir, "ironworks.toml")
	os.WriteFile(e.cfg, []byte(demoComponents(e.up.URL(), down.URL())+extraCfg), 0o644)
	return e
}

// flake arms the flaky test with a pattern of F (fail) and P (pass), counted
// from the next run.
func (e *flakyEnv) flake(pattern string) {
	os.Remove(e.counter)
	if err := os.WriteFile(e.pattern, []byte(pattern), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

func (e *flakyEnv) coordinator(args ...string) (int, string) {
	e.t.Helper()
	return binaryRun{bin: e.bin, cfg: e.cfg}.run(e.t, args...)
}

// once runs `coordinator run --once` and returns the newest forge run.
func (e *flakyEnv) once(wantCode int) *store.Run {
	e.t.Helper()
	code, out := e.coordinator("run", "--once")
	if code != wantCode {
		e.t.Fatalf("run --once: exit %d, want %d\n%s", code, wantCode, out)
	}
	st := e.open()
	defer st.Close()
	runs, err := st.Runs(context.Background(), store.RunFilter{Stage: "forge", Kind: "stage", Limit: 1})
	if err != nil || len(runs) == 0 {
		e.t.Fatalf("runs: %v %v", runs, err)
	}
	return runs[0]
}

func (e *flakyEnv) open() *store.Store {
	e.t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(e.dir, "state", "ironworks.db"))
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

func (e *flakyEnv) runs(kind string) int {
	st := e.open()
	defer st.Close()
	runs, err := st.Runs(context.Background(), store.RunFilter{Kind: kind})
	if err != nil {
		e.t.Fatal(err)
	}
	return len(runs)
}

// mail runs the e-mail consumer over the events the coordinator wrote and
// returns the queued messages.
func (e *flakyEnv) mail() []*store.Email {
	e.t.Helper()
	ctx := context.Background()
	cfg, err := config.Load(e.cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	st := e.open()
	defer st.Close()
	signer, err := notify.LoadSigner(ctx, cfg, st)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := notify.NewMailer(cfg, st, signer, nil).Poll(ctx); err != nil {
		e.t.Fatal(err)
	}
	mails, err := st.Emails(ctx, "")
	if err != nil {
		e.t.Fatal(err)
	}
	return mails
}

func flakyJobs(r *store.Run) []string {
	var out []string
	l, _ := r.Detail["flaky"].([]any)
	for _, j := range l {
		out = append(out, fmt.Sprint(j))
	}
	return out
}

// A downstream test that fails every other run: the failing job is re-run,
// passes, and the run is green with the job marked flaky, no culprit, and an
// e-mail to the subscribers of flaky (only to them).
func TestFlakyDownstreamTestIsGreenAndFlaky(t *testing.T) {
	e := newFlakyEnv(t)
	if code, out := e.coordinator("subscribe", "--email", "flakes@example.org", "--component", "rust-fil-proofs", "--events", "flaky"); code != exitOK {
		t.Fatalf("subscribe: %d %s", code, out)
	}
	if code, out := e.coordinator("subscribe", "--email", "dev@example.org", "--component", "rust-fil-proofs"); code != exitOK {
		t.Fatalf("subscribe: %d %s", code, out)
	}
	e.flake("FP")
	run := e.once(exitOK)
	if run.Verdict != store.VerdictGreen {
		t.Fatalf("verdict %s, want green; detail %v", run.Verdict, run.Detail)
	}
	if got := flakyJobs(run); len(got) != 1 || got[0] != "rust-fil-proofs:test" {
		t.Fatalf("flaky jobs %v, want [rust-fil-proofs:test]", got)
	}
	if _, ok := run.Detail["culprit"]; ok {
		t.Fatalf("a flaky test named a culprit: %v", run.Detail)
	}
	st := e.open()
	res, err := st.JobResults(context.Background(), run.ID)
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Job == "rust-fil-proofs:test" && (r.Attempt != 2 || r.State != store.JobSuccess) {
			t.Fatalf("flaky job: attempt %d state %s, want attempt 2 success", r.Attempt, r.State)
		}
	}
	mails := e.mail()
	if len(mails) != 1 || mails[0].Recipient != "flakes@example.org" || !strings.Contains(mails[0].Subject, "flaky") {
		for _, m := range mails {
			t.Logf("mail to %s: %s", m.Recipient, m.Subject)
		}
		t.Fatalf("%d e-mails, want exactly one flaky notice to flakes@example.org", len(mails))
	}
	if !strings.Contains(string(mails[0].Body), "rust-fil-proofs:test") {
		t.Fatalf("flaky e-mail does not name the job:\n%s", mails[0].Body)
	}
	if code, out := e.coordinator("status"); code != exitOK || !strings.Contains(out, "flaky: rust-fil-proofs:test (failed, then passed when run again)") {
		t.Errorf("status does not name the flaky job (exit %d):\n%s", code, out)
	}
}

// A flaky test during bisection: after a green pair, four clean upstream
// commits arrive and the downstream test fails twice in a row (both attempts
// of the run), then passes. The bad end is re-tested first, passes, and no
// culprit is named: the run is green with the test marked flaky.
func TestFlakyTestDuringBisectionNamesNoCulprit(t *testing.T) {
	e := newFlakyEnv(t)
	if run := e.once(exitOK); run.Verdict != store.VerdictGreen {
		t.Fatalf("first pass: %s %v", run.Verdict, run.Detail)
	}
	for i := 1; i <= 4; i++ {
		e.up.Commit(fmt.Sprintf("clean change %d", i), map[string]string{fmt.Sprintf("notes/%d.txt", i): "clean\n"})
	}
	e.flake("FFPPPPPPPPPPPPPP")
	before := e.runs("bisect")
	run := e.once(exitOK)
	if run.Verdict != store.VerdictGreen {
		t.Fatalf("verdict %s, want green (flaky); detail %v", run.Verdict, run.Detail)
	}
	if c, ok := run.Detail["culprit"]; ok {
		t.Fatalf("false culprit %v", c)
	}
	if got := flakyJobs(run); len(got) != 1 || got[0] != "rust-fil-proofs:test" {
		t.Fatalf("flaky jobs %v", got)
	}
	b, _ := run.Detail["bisect"].(map[string]any)
	if r, _ := b["result"].(string); !strings.Contains(r, "did not reproduce at the bad end") {
		t.Fatalf("bisect %v, want the bad end's re-test reported", b)
	}
	if n := e.runs("bisect") - before; n != 1 {
		t.Fatalf("%d probes, want 1 (the bad end, which passed)", n)
	}

	// A real break among four commits, with the test still failing every
	// other run: the retries keep the good probes good and the culprit is
	// confirmed by re-running the pair before it and at it.
	e.flake("FP")
	var revs []string
	for i := 1; i <= 4; i++ {
		files := map[string]string{fmt.Sprintf("notes/b%d.txt", i): "change\n"}
		if i == 3 {
			files["src/lib.rs"] = strings.ReplaceAll(fixture.UpstreamLib, "leaf_count", "leaves_of") // an API break
		}
		revs = append(revs, e.up.Commit(fmt.Sprintf("change %d", i), files))
	}
	run = e.once(exitGate)
	if run.Verdict != store.VerdictIncompatible {
		t.Fatalf("verdict %s, want incompatible; detail %v", run.Verdict, run.Detail)
	}
	c, _ := run.Detail["culprit"].(map[string]any)
	if c["rev"] != revs[2] {
		t.Fatalf("culprit %v, want change 3 (%s)", c, revs[2])
	}
	b, _ = run.Detail["bisect"].(map[string]any)
	if b["confirmed"] != true || run.Detail["culprit_unconfirmed"] != nil {
		t.Fatalf("culprit not confirmed: %v", b)
	}
}

// A downstream test that hangs: verdict timeout, red (the target's state),
// reported, and e-mailed to the component's subscribers as a failure.
func TestHangingTestIsTimeoutVerdict(t *testing.T) {
	e := newStoryEnv(t, "sleep 60\"\ntimeout = \"1s", "") // the command, then a 1 s timeout
	if code, out := e.coordinator("subscribe", "--email", "dev@example.org", "--component", "rust-fil-proofs"); code != exitOK {
		t.Fatalf("subscribe: %d %s", code, out)
	}
	run := e.once(exitGate)
	if run.Verdict != store.VerdictTimeout {
		t.Fatalf("verdict %s, want timeout; detail %v", run.Verdict, run.Detail)
	}
	if r, _ := run.Detail["reason"].(string); !strings.Contains(r, "rust-fil-proofs:test") || !strings.Contains(r, "timed out after 1s") {
		t.Fatalf("reason %q does not name the job and its timeout", r)
	}
	st := e.open()
	state, err := st.TargetStateOf(context.Background(), "rust-fil-proofs", "master", "forge")
	st.Close()
	if err != nil || state != "red" {
		t.Fatalf("target state %q %v, want red", state, err)
	}
	mails := e.mail()
	if len(mails) != 1 || mails[0].Recipient != "dev@example.org" || !strings.Contains(string(mails[0].Body), "timed out") {
		t.Fatalf("want one e-mail to dev@example.org about the timeout, got %d", len(mails))
	}
}

// A job command that does not exist (exit 127): an adapter error, e-mailed to
// the operators and not to the component's developers.
func TestMissingCommandIsAdapterErrorToOperators(t *testing.T) {
	e := newStoryEnv(t, "cargo-tset --workspace", "[notify]\noperators = [\"ops@example.org\"]\n")
	if code, out := e.coordinator("subscribe", "--email", "dev@example.org", "--component", "*"); code != exitOK {
		t.Fatalf("subscribe: %d %s", code, out)
	}
	run := e.once(exitGate)
	if run.Verdict != store.VerdictAdapterError {
		t.Fatalf("verdict %s, want adapter-error; detail %v", run.Verdict, run.Detail)
	}
	if r, _ := run.Detail["reason"].(string); !strings.Contains(r, "exit status 127") || !strings.Contains(r, "jobs.test.command") {
		t.Fatalf("reason %q", r)
	}
	mails := e.mail()
	if len(mails) != 1 || mails[0].Recipient != "ops@example.org" || !strings.Contains(mails[0].Subject, "adapter error") {
		for _, m := range mails {
			t.Logf("mail to %s: %s", m.Recipient, m.Subject)
		}
		t.Fatalf("want exactly one adapter-error e-mail, to ops@example.org; got %d", len(mails))
	}
}

// With retries off (engine.attempts = 1), a test that fails twice and then
// passes gets through the bad end's re-test and bisection names the newest
// commit, but the confirmation runs (the pair before it passes, the pair at it
// passes too) do not confirm it: the culprit is reported as unconfirmed.
func TestUnconfirmedCulpritReportedAsSuch(t *testing.T) {
	e := newStoryEnv(t, "", "[engine]\nattempts = 1\n")
	if run := e.once(exitOK); run.Verdict != store.VerdictGreen {
		t.Fatalf("first pass: %s %v", run.Verdict, run.Detail)
	}
	if code, out := e.coordinator("subscribe", "--email", "dev@example.org", "--component", "rust-fil-proofs"); code != exitOK {
		t.Fatalf("subscribe: %d %s", code, out)
	}
	var revs []string
	for i := 1; i <= 2; i++ {
		revs = append(revs, e.up.Commit(fmt.Sprintf("clean change %d", i), map[string]string{fmt.Sprintf("notes/%d.txt", i): "clean\n"}))
	}
	// The run fails, the bad end's re-test fails, then every run passes.
	e.flake("FFPPPPPPPP")
	run := e.once(exitGate)
	if run.Verdict != store.VerdictIncompatible {
		t.Fatalf("verdict %s, want incompatible; detail %v", run.Verdict, run.Detail)
	}
	c, _ := run.Detail["culprit"].(map[string]any)
	b, _ := run.Detail["bisect"].(map[string]any)
	if c["rev"] != revs[1] || run.Detail["culprit_unconfirmed"] != true || b["confirmed"] != false {
		t.Fatalf("culprit %v unconfirmed=%v bisect %v: want change 2, reported unconfirmed", c, run.Detail["culprit_unconfirmed"], b)
	}
	if r, _ := b["result"].(string); !strings.Contains(r, "NOT confirmed") {
		t.Fatalf("bisect result %q does not say the culprit is unconfirmed", r)
	}
	mails := e.mail()
	if len(mails) != 1 || !strings.Contains(string(mails[0].Body), "NOT CONFIRMED") {
		t.Fatalf("want one incompatible e-mail saying the culprit is not confirmed, got %d", len(mails))
	}
}
