package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ironworks-ci/ironworks/coordinator/internal/fixture"
)

// A coordinator killed while a job's sandbox was being torn down can leave
// a failed rustc probe in cargo's cache of the shared target folder; cargo
// would answer every later build with it. The next run's jobs clear it and
// build. The poisoned cache is made from the one cargo wrote in the first
// pass, with its answers replaced by what cargo 1.95 cached in such a crash
// here (observed: TestKilledMidRunResumes, killed 5 ms after the
// downstream build started).
func TestCachedFailedRustcProbeIsCleared(t *testing.T) {
	fixture.RequireCargo(t)
	bin := buildBinary(t)
	dir := t.TempDir()
	cfg := writeFixtureConfig(t, dir, filepath.Join(dir, "markers", "test-started"))
	run := binaryRun{bin: bin, cfg: cfg, dir: dir}
	if code, out := run.run(t, "run", "--once"); code != exitOK {
		t.Fatalf("first pass: exit %d\n%s", code, out)
	}
	info := filepath.Join(dir, "state", "cache", "target", "rust-fil-proofs", ".rustc_info.json")
	b, err := os.ReadFile(info)
	if err != nil {
		t.Fatalf("cargo wrote no cache of rustc's answers: %v", err)
	}
	// UseNumber: the rustc fingerprint is a u64 a float64 would round,
	// and cargo ignores a cache whose fingerprint is not rustc's.
	var cache map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&cache); err != nil {
		t.Fatal(err)
	}
	outputs, _ := cache["outputs"].(map[string]any)
	if len(outputs) == 0 {
		t.Fatalf("no outputs in %s", b)
	}
	for k := range outputs {
		outputs[k] = map[string]any{"success": false, "status": "exit status: 1", "code": 1, "stdout": "",
			"stderr": "error: Current directory is invalid: No such file or directory (os error 2)\n\n"}
	}
	b, _ = json.Marshal(cache)
	if err := os.WriteFile(info, b, 0o644); err != nil {
		t.Fatal(err)
	}

	fixture.Open(t, filepath.Join(dir, "src", "merkletree")).Commit("docs: a note", map[string]string{"NOTES.md": "a note\n"})
	code, out := run.run(t, "run", "--once")
	if code != exitOK {
		t.Fatalf("the pass after the crash: exit %d, want green\n%s", code, out)
	}
	if !strings.Contains(out, "cargo had cached a failed rustc probe") {
		t.Errorf("clearing the poisoned cache is not logged:\n%s", out)
	}
	if b, err := os.ReadFile(info); err != nil || strings.Contains(string(b), "Current directory is invalid") {
		t.Errorf("the failed probe is still cached (%v):\n%s", err, b)
	}
}
