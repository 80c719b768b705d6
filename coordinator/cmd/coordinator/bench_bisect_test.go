package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ironworks-ci/ironworks/coordinator/internal/fixture"
)

// TestBenchkitBisectsUpstreamUnderFixedDownstream: `benchkit bisect
// --upstream merkletree` pins each merkletree revision into one fixed
// rust-fil-proofs checkout (cargo-patch, as the coordinator pins) and
// measures the downstream's bench: the size of the merkletree library the
// downstream build links, which a 128 KiB table makes grow. The ends are
// measured first; a 0.24.0 bump the downstream's "0.23.0" requirement
// would silently ignore is skipped with the reason, and the culprit is the
// commit that added the table (with the skipped one as a suspect).
func TestBenchkitBisectsUpstreamUnderFixedDownstream(t *testing.T) {
	fixture.RequireCargo(t)
	benchkit := buildBenchkit(t)
	dir := t.TempDir()
	up := fixture.Merkletree(t, filepath.Join(dir, "merkletree"))
	revs := []string{up.Head()}
	table := fixture.UpstreamLib + "\n/// Precomputed roots.\npub static TABLE: [u64; 16384] = [7; 16384];\n"
	for _, c := range []struct{ msg, version, lib string }{
		{"bump to 0.24.0", "0.24.0", fixture.UpstreamLib},
		{"precomputed table; back to 0.23", "0.23.1", table},
		{"docs", "0.23.1", table + "// docs\n"},
		{"more docs", "0.23.1", table + "// docs\n// more\n"},
	} {
		revs = append(revs, up.Commit(c.msg, map[string]string{"Cargo.toml": fixture.UpstreamManifest(c.version), "src/lib.rs": c.lib}))
	}
	down := fixture.Proofs(t, filepath.Join(dir, "rust-fil-proofs"))
	adapter := filepath.Join(dir, "adapter")
	os.MkdirAll(adapter, 0o755)
	os.WriteFile(filepath.Join(adapter, "adapter.toml"), []byte(`name = "rust-fil-proofs"
repo = "unused"
[[upstream]]
name = "merkletree"
pin = "cargo-patch"
[jobs.build]
stage = "forge"
command = "true"
[bench.lib-size]
stage = "harden"
command = '''cargo build -q -p filecoin-proofs 2>/dev/null && printf '{"benchmarks":{"outputs":{"merkletree-rlib-bytes":%d}}}' "$(stat -c %s target/debug/deps/libmerkletree-*.rlib)"'''
parser = "benchy"
repeat = 2
[bench.lib-size.metrics]
"merkletree-rlib-bytes" = { direction = "lower", threshold = "5%" }
`), 0o644)
	bisect := func(good, bad string) (int, string, string) {
		return binaryRun{bin: benchkit}.runSplit(t, "bisect", "--upstream", "merkletree", "--downstream", down.Dir, "--repo", up.Dir,
			"--good", good, "--bad", bad, "--adapter", adapter, "--bench", "lib-size", "--json")
	}
	code, out, errOut := bisect(revs[0], revs[4])
	if code != exitOK {
		t.Fatalf("bisect: exit %d\n%s\n%s", code, out, errOut)
	}
	var res struct {
		Culprit  string
		Suspects []string
		Ends     string
		Pairs    []struct{ Commit, Outcome, Error string }
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if res.Ends != "regressed" || res.Culprit != revs[2] || strings.Join(res.Suspects, ",") != revs[1]+","+revs[2] {
		t.Errorf("ends %s culprit %s suspects %v, want %s with suspects %s,%s\n%s\n%s", res.Ends, res.Culprit, res.Suspects, revs[2], revs[1], revs[2], out, errOut)
	}
	if res.Pairs[0].Commit != revs[4] || res.Pairs[0].Outcome != "bad" {
		t.Errorf("the ends were not judged first: %+v", res.Pairs)
	}
	skipped := false
	for _, p := range res.Pairs {
		if p.Commit == revs[1] {
			skipped = p.Outcome == "skip" && strings.Contains(p.Error, "upstream version not accepted: merkletree 0.24.0")
		}
	}
	if !skipped {
		t.Errorf("the 0.24.0 bump was not skipped with its reason: %+v", res.Pairs)
	}
	if !strings.Contains(errOut, "merkletree 0.23.1 pinned to "+revs[2]) {
		t.Errorf("no pin detail in the log:\n%s", errOut)
	}
	// Between two commits with the table, nothing regressed: no culprit.
	code, out, errOut = bisect(revs[2], revs[4])
	if code != exitOK || !strings.Contains(out, `"ends": "no-regression"`) || !strings.Contains(out, `"culprit": ""`) {
		t.Errorf("no regression: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, _, errOut := bisect(revs[0], revs[4]+"x"); code != exitUsage {
		t.Errorf("bad revision: exit %d %s", code, errOut)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--upstream", "nope", "--downstream", down.Dir}, `no [[upstream]] named "nope"`},
		{[]string{"--upstream", "merkletree"}, "--upstream needs --downstream"},
		{[]string{"--upstream", "merkletree", "--downstream", down.Dir, "--downstream-rev", "nope"}, "--downstream: bisect: nope is not a commit"},
	} {
		cmd := exec.Command(benchkit, append([]string{"bisect", "--repo", up.Dir, "--good", revs[0], "--bad", revs[4], "--adapter", adapter, "--bench", "lib-size"}, tt.args...)...)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitUsage || !strings.Contains(string(out), tt.want) {
			t.Errorf("%v: %v %s, want exit 2 and %q", tt.args, err, out, tt.want)
		}
	}
}
