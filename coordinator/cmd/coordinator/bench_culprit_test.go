package main

import (
	"context"
	"io"
	"mime/quotedprintable"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ironworks-ci/ironworks/coordinator/benchqueue"
	"github.com/ironworks-ci/ironworks/coordinator/internal/fixture"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// libSizeBench measures, in rust-fil-proofs' checkout with the candidate's
// merkletree pinned in, the size of the merkletree library its build links.
const libSizeBench = `
[bench.lib-size]
stage = "harden"
command = '''cargo build -q -p filecoin-proofs 2>/dev/null && printf '{"benchmarks":{"outputs":{"merkletree-rlib-bytes":%d}}}' "$(stat -c %s target/debug/deps/libmerkletree-*.rlib)"'''
parser = "benchy"
repeat = 2
[bench.lib-size.metrics]
"merkletree-rlib-bytes" = { direction = "lower", threshold = "5%" }
`

// TestBenchRegressionCulpritInUpstream: the Filecoin story for benchmarks.
// rust-fil-proofs' harden benchmark is measured by a benchkit agent with
// the candidate's merkletree pinned in (cargo-patch, as the local engine
// pins). After release v1.0.0, three merkletree commits arrive and one of
// them grows the library. The candidate, measured side by side with the
// release, fails the harden gate; the coordinator queues a bisection of
// merkletree's range under the fixed rust-fil-proofs; the agent finds the
// commit, and the bench-regression e-mail names it as the culprit.
func TestBenchRegressionCulpritInUpstream(t *testing.T) {
	e := newStoryEnv(t, "cargo test --workspace", "")
	benchkit := buildBenchkit(t)
	adapterFile := filepath.Join(e.dir, "adapters", "rust-fil-proofs", "adapter.toml")
	b, _ := os.ReadFile(adapterFile)
	os.WriteFile(adapterFile, append(b, libSizeBench...), 0o644)
	if code, out := e.coordinator("subscribe", "--email", "perf@example.org", "--component", "rust-fil-proofs", "--events", "bench-regression"); code != exitOK {
		t.Fatalf("subscribe: %d %s", code, out)
	}
	ctx := context.Background()
	newest := func() string {
		st := e.open()
		defer st.Close()
		runs, err := st.Runs(ctx, store.RunFilter{Stage: "forge", Kind: "stage", Limit: 1})
		if err != nil || len(runs) == 0 {
			t.Fatalf("forge runs %v %v", runs, err)
		}
		return runs[0].Candidate
	}
	agent := func(cand string) {
		st := e.open()
		defer st.Close()
		measure(t, benchkit, e.dir, benchqueue.New(st), cand)
	}

	// The release: measured alone (nothing released before it), promoted.
	e.once(exitOK)
	rel := newest()
	agent(rel)
	if code, out := e.coordinator("run", "--once", "--through", "harden"); code != exitOK {
		t.Fatalf("harden of the release: %d\n%s", code, out)
	}
	for _, args := range [][]string{{"promote", "--to", "temper", "--latest-good"}, {"promote", "--to", "release", "--latest-good", "--version", "v1.0.0"}} {
		if code, out := e.coordinator(args...); code != exitOK {
			t.Fatalf("%v: %d\n%s", args, code, out)
		}
	}

	// Three merkletree commits; the second adds a 128 KiB table.
	table := fixture.UpstreamLib + "\n/// Precomputed roots.\npub static TABLE: [u64; 16384] = [7; 16384];\n"
	e.up.Commit("docs", map[string]string{"src/lib.rs": fixture.UpstreamLib + "// docs\n"})
	culprit := e.up.Commit("precomputed table", map[string]string{"src/lib.rs": table})
	e.up.Commit("more docs", map[string]string{"src/lib.rs": table + "// more docs\n"})
	e.once(exitOK)
	cand := newest()
	if cand == rel {
		t.Fatal("no new candidate")
	}
	agent(cand)
	code, out := e.coordinator("run", "--once", "--through", "harden")
	if code != exitGate {
		t.Fatalf("harden of the regressed candidate: exit %d, want 1\n%s", code, out)
	}
	st := e.open()
	jobs, _ := benchqueue.New(st).Jobs(ctx, cand)
	st.Close()
	bisecting := false
	for _, j := range jobs {
		bisecting = bisecting || j.Round < 0
	}
	if !bisecting {
		t.Fatalf("no bisection queued after the regression: %+v\n%s", jobs, out)
	}
	agent(cand) // runs the bisection

	st = e.open()
	evs, err := st.EventsOfKind(ctx, "bench-regression", cand)
	st.Close()
	if err != nil || len(evs) != 2 {
		t.Fatalf("bench-regression events %+v %v, want the regression and its culprit", evs, err)
	}
	var found *store.Event
	for _, ev := range evs {
		if c, ok := ev.Payload["culprit"].(map[string]any); ok {
			if c["rev"] != culprit || ev.Payload["upstream"] != "merkletree" {
				t.Fatalf("culprit event %+v, want merkletree %s", ev.Payload, culprit)
			}
			found = ev
		}
	}
	if found == nil {
		t.Fatalf("no culprit in %+v", evs)
	}
	var body string
	for _, m := range e.mail() {
		// The body is quoted-printable: decode it.
		b, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(string(m.Body))))
		if err != nil {
			t.Fatal(err)
		}
		if m.Recipient == "perf@example.org" && strings.Contains(string(b), "Culprit") {
			body = string(b)
		}
	}
	if !strings.Contains(body, "Culprit (found by bisection): "+culprit+" precomputed table") {
		t.Fatalf("no culprit e-mail to perf@example.org:\n%s", body)
	}
}
