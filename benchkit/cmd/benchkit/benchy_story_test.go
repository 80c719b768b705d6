package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// benchyAdapter writes an adapter whose bench entry runs command with the
// benchy parser and gates like adapters/rust-fil-proofs does.
func benchyAdapter(t *testing.T, dir, command, env string) string {
	t.Helper()
	adapter := filepath.Join(dir, "adapter")
	os.MkdirAll(adapter, 0o755)
	write(t, adapter, "adapter.toml", `name = "rust-fil-proofs"
repo = "file:///nowhere"
[jobs.build]
stage = "forge"
command = "true"
[bench.window-post-32gib]
stage = "harden"
command = '`+command+`'
parser = "benchy"
repeat = 5
env = { `+env+` }
[bench.window-post-32gib.metrics]
"gen-window-post-wall-time-ms" = { direction = "lower", threshold = "5%" }
"max-resident-set-size-kb"     = { direction = "lower", threshold = "3%" }
`)
	return adapter
}

// checkout makes a folder whose report.json is a benchy fixture.
func checkout(t *testing.T, dir, name, fixture string) string {
	t.Helper()
	d := filepath.Join(dir, name)
	os.MkdirAll(d, 0o755)
	b, err := os.ReadFile(filepath.Join("..", "..", "parse", "testdata", fixture))
	if err != nil {
		t.Fatal(err)
	}
	write(t, d, "report.json", string(b))
	return d
}

// TestBenchyRSSGate: the bench entry prints what scripts/benchy.sh really
// prints (multi-line JSON with the RSS inside benchmarks.outputs); measured
// side by side with its baseline, a candidate using 10% more memory fails the
// gate on max-resident-set-size-kb. A report without the RSS figure (plain
// benchy) or with a string in its place fails the measurement, naming the
// field, instead of passing as inconclusive.
func TestBenchyRSSGate(t *testing.T) {
	dir := t.TempDir()
	adapter := benchyAdapter(t, dir, "cat report.json", "")
	db := filepath.Join(dir, "results.db")
	base := checkout(t, dir, "base", "benchy-sh-window-post-32gib.json")
	gate := func(cand string, extra ...string) (int, string, string) {
		args := append([]string{"gate", "--adapter", adapter, "--bench", "window-post-32gib", "--db", db,
			"--rev", "rust-fil-proofs=" + filepath.Base(cand), "--workdir", cand,
			"--baseline-workdir", base, "--baseline-rev", "rust-fil-proofs=base"}, extra...)
		return bk(t, args...)
	}
	code, out, errOut := gate(checkout(t, dir, "rss10", "benchy-sh-window-post-32gib-rss+10pct.json"), "--out", filepath.Join(dir, "reports"))
	if code != exitRegressed {
		t.Fatalf("+10%% RSS: exit %d, want 1\n%s\n%s", code, out, errOut)
	}
	var rssLine, wallLine string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "| max-resident-set-size-kb ") {
			rssLine = l
		}
		if strings.HasPrefix(l, "| gen-window-post-wall-time-ms ") {
			wallLine = l
		}
	}
	if !strings.Contains(rssLine, "regressed") || !strings.Contains(rssLine, "+10.00%") || !strings.Contains(wallLine, "unchanged") {
		t.Errorf("report rows:\n%s\n%s\n%s", rssLine, wallLine, out)
	}
	if !strings.Contains(out, "measured side by side with this one in 5 interleaved rounds") {
		t.Errorf("report does not say the baseline was measured side by side:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "reports", "window-post-32gib-max-resident-set-size-kb.svg")); err != nil {
		t.Error(err)
	}

	if code, out, errOut := gate(checkout(t, dir, "same", "benchy-sh-window-post-32gib.json")); code != exitOK {
		t.Errorf("same RSS: exit %d\n%s\n%s", code, out, errOut)
	}

	// Plain benchy has no RSS figure: the gated metric is missing.
	code, _, errOut = gate(checkout(t, dir, "plain", "window-post-32gib.json"))
	if code != exitInfra || !strings.Contains(errOut, `benchy: line 1: field "benchmarks.outputs.max-resident-set-size-kb": gated metric missing from the output`) {
		t.Errorf("missing RSS: exit %d\n%s", code, errOut)
	}
	str := checkout(t, dir, "string", "benchy-sh-window-post-32gib.json")
	b, _ := os.ReadFile(filepath.Join(str, "report.json"))
	write(t, str, "report.json", strings.Replace(string(b), `"max-resident-set-size-kb": 201326592`, `"max-resident-set-size-kb": "201326592"`, 1))
	code, _, errOut = gate(str)
	if code != exitInfra || !strings.Contains(errOut, `benchy: line 40: field "benchmarks.outputs.max-resident-set-size-kb": gated metric is not a number`) {
		t.Errorf("string RSS: exit %d\n%s", code, errOut)
	}
	// The stored-baseline gate measures what it gates the same way.
	if code, _, errOut := bk(t, "run", "--adapter", adapter, "--bench", "window-post-32gib", "--db", db, "--rev", "rust-fil-proofs=plain", "--workdir", filepath.Join(dir, "plain")); code != exitInfra || !strings.Contains(errOut, "gated metric missing") {
		t.Errorf("run on plain benchy: exit %d\n%s", code, errOut)
	}
}

// TestSideBySideCancelsHostState: the host holds a clock state for a whole
// session (the bench reads it from a file the test flips between
// sessions). The same code measured in a fast session as the stored release
// baseline and in a slow one as the candidate looks 4% slower: a false alarm.
// Measured side by side, both sides share the session's state and the gate
// passes; the rounds alternate which side runs first.
func TestSideBySideCancelsHostState(t *testing.T) {
	dir := t.TempDir()
	state := write(t, dir, "host-state", "0")
	order := filepath.Join(dir, "order")
	script := write(t, dir, "benchy.sh", `#!/bin/sh
echo "$IRONWORKS_CANDIDATE" >> "$ORDER"
wall=$((10000 + $(cat "$STATE")))
printf '{"git":{"hash":"x","date":"2026-05-12T09:30:00Z"},"benchmarks":{"inputs":{"sector-size":2048},"outputs":{"gen-window-post-wall-time-ms":%d,"max-resident-set-size-kb":4096}}}' "$wall"
`)
	adapter := benchyAdapter(t, dir, "sh "+script, `STATE = "`+state+`", ORDER = "`+order+`"`)
	db := filepath.Join(dir, "results.db")
	wd := t.TempDir()
	if code, _, errOut := bk(t, "run", "--adapter", adapter, "--bench", "window-post-32gib", "--db", db, "--candidate", "release", "--workdir", wd); code != exitOK {
		t.Fatalf("run: %s", errOut)
	}
	if code, _, _ := bk(t, "release-mark", "--candidate", "release", "--db", db); code != exitOK {
		t.Fatal("release-mark")
	}
	write(t, dir, "host-state", "400") // the next session is 4% slow
	code, out, _ := bk(t, "gate", "--adapter", adapter, "--bench", "window-post-32gib", "--db", db, "--candidate", "same-code", "--workdir", wd)
	if code != exitRegressed || !strings.Contains(out, "regressed") {
		t.Fatalf("stored baseline from a fast session: exit %d, want the false alarm (1)\n%s", code, out)
	}
	os.Remove(order)
	code, out, errOut := bk(t, "gate", "--adapter", adapter, "--bench", "window-post-32gib", "--db", db, "--candidate", "same-code-2", "--workdir", wd,
		"--baseline-workdir", wd, "--baseline-candidate", "release")
	if code != exitOK {
		t.Fatalf("side by side: exit %d, want 0\n%s\n%s", code, out, errOut)
	}
	b, _ := os.ReadFile(order)
	got := strings.Fields(string(b))
	want := strings.Fields("release same-code-2 same-code-2 release release same-code-2 same-code-2 release release same-code-2")
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("run order %v, want %v", got, want)
	}
	if code, _, errOut := bk(t, "gate", "--adapter", adapter, "--bench", "window-post-32gib", "--db", db, "--candidate", "release", "--workdir", wd,
		"--baseline-workdir", wd, "--baseline-candidate", "release"); code != exitUsage || !strings.Contains(errOut, "same candidate") {
		t.Errorf("baseline = candidate: %d %s", code, errOut)
	}
}
