package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ironworks-ci/ironworks/coordinator/internal/fixture"
	"github.com/ironworks-ci/ironworks/coordinator/pipeline"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// The local engine's infra-error is retried by the next pass, no human
// involved: the proof parameters folder every job sees read-only
// (engine.sandbox_ro, an NFS mount, say) is missing for one pass, so the new
// candidate's jobs cannot start (infra-error, not a failure of anyone's
// code: attempt 1 of 4, the next one due); with the folder back the next
// pass tries the run again and it is green.
func TestLocalInfraErrorIsRetriedNextPass(t *testing.T) {
	fixture.RequireCargo(t)
	bin := buildBinary(t)
	dir := t.TempDir()
	cfg := writeFixtureConfig(t, dir, filepath.Join(dir, "markers", "marker"))
	params := filepath.Join(dir, "filecoin-proof-parameters")
	if err := os.MkdirAll(params, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "sandbox_ro = [%q]\nretry_backoff = \"1ms\"\n", params)
	f.Close()
	run := func(args ...string) (int, string) {
		return binaryRun{bin: bin, cfg: cfg, dir: dir}.run(t, args...)
	}
	if code, out := run("run", "--once"); code != exitOK {
		t.Fatalf("first pass: %d\n%s", code, lastLines(out, 30))
	}
	down := fixture.Open(t, filepath.Join(dir, "src", "rust-fil-proofs"))
	down.Commit("docs", map[string]string{"NOTES.md": "new\n"})
	if err := os.Rename(params, params+".away"); err != nil {
		t.Fatal(err)
	}
	code, out := run("run", "--once")
	if code != exitInfra {
		t.Fatalf("pass with the parameters away: %d, want %d\n%s", code, exitInfra, lastLines(out, 30))
	}
	st, err := store.Open(context.Background(), filepath.Join(dir, "state", "ironworks.db"))
	if err != nil {
		t.Fatal(err)
	}
	runs, err := st.Runs(context.Background(), store.RunFilter{Stage: "forge", Kind: "stage", Limit: 1})
	st.Close()
	if err != nil || len(runs) != 1 || runs[0].Verdict != store.VerdictInfraError || runs[0].Detail["retry_at"] == nil {
		t.Fatalf("newest run %+v %v, want infra-error with a retry due\n%s", *runs[0], err, lastLines(out, 20))
	}
	failed := runs[0]
	if code, out := run("status"); code != exitOK || !strings.Contains(out, "attempt 1 of 4; next at") {
		t.Errorf("status does not say a retry is due:\n%s", out)
	}
	if err := os.Rename(params+".away", params); err != nil {
		t.Fatal(err)
	}
	if code, out := run("run", "--once"); code != exitOK {
		t.Fatalf("pass with the parameters back: %d\n%s", code, lastLines(out, 30))
	}
	st, err = store.Open(context.Background(), filepath.Join(dir, "state", "ironworks.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runs, err = st.Runs(context.Background(), store.RunFilter{Candidate: failed.Candidate, Stage: "forge", Kind: "stage"})
	if err != nil || len(runs) != 2 || runs[0].Verdict != store.VerdictGreen || pipeline.Attempt(runs[0].Detail) != 2 {
		t.Fatalf("runs of the candidate %+v %v, want the retry (attempt 2) green", runs, err)
	}
}

// A component's git remote is down for one pass, after it got a new commit:
// that pass ends within its git timeout as infra-error naming the component
// (exit 4) and builds nothing of the unseen commit; the next pass, with the
// remote back, fetches it and the candidate is green, no human involved.
func TestGitRemoteDownForOnePass(t *testing.T) {
	fixture.RequireCargo(t)
	bin := buildBinary(t)
	dir := t.TempDir()
	cfg := writeFixtureConfig(t, dir, filepath.Join(dir, "markers", "marker"))
	run := func(args ...string) (int, string) {
		return binaryRun{bin: bin, cfg: cfg, dir: dir}.run(t, args...)
	}
	if code, out := run("run", "--once"); code != exitOK {
		t.Fatalf("first pass: %d\n%s", code, lastLines(out, 30))
	}
	remote := filepath.Join(dir, "src", "merkletree")
	next := fixture.Open(t, remote).Commit("docs", map[string]string{"NOTES.md": "new\n"})
	if err := os.Rename(remote, remote+".down"); err != nil {
		t.Fatal(err)
	}
	code, out := run("run", "--once")
	if code != exitInfra || !strings.Contains(out, "merkletree") {
		t.Fatalf("pass with the remote down: exit %d, want %d naming merkletree\n%s", code, exitInfra, lastLines(out, 30))
	}
	if strings.Contains(out, "merkletree@"+next[:7]) {
		t.Fatalf("the pass built a commit it could not fetch:\n%s", out)
	}
	if err := os.Rename(remote+".down", remote); err != nil {
		t.Fatal(err)
	}
	if code, out := run("run", "--once"); code != exitOK || !strings.Contains(out, "merkletree@"+next[:7]) {
		t.Fatalf("pass with the remote back: exit %d, want 0 building merkletree@%s\n%s", code, next[:7], lastLines(out, 30))
	}
	st, err := store.Open(context.Background(), filepath.Join(dir, "state", "ironworks.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cands, err := st.Candidates(context.Background(), 1)
	if err != nil || len(cands) != 1 || cands[0].Revisions["merkletree"].Rev != next {
		t.Fatalf("newest candidate %+v %v, want merkletree at %s", cands, err, next)
	}
	runs, err := st.Runs(context.Background(), store.RunFilter{Candidate: cands[0].ID, Stage: "forge", Kind: "stage"})
	if err != nil || len(runs) != 1 || runs[0].Verdict != store.VerdictGreen {
		t.Fatalf("forge runs of the new candidate %+v %v, want one green", runs, err)
	}
}
