package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func bk(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = realMain(context.Background(), args, &env{stdout: &o, stderr: &e})
	return code, o.String(), e.String()
}

func TestHelp(t *testing.T) {
	for name := range commands {
		code, _, stderr := bk(t, name, "--help")
		if code != exitOK || !strings.Contains(stderr, "usage: benchkit "+name) {
			t.Errorf("%s --help: code %d\n%s", name, code, stderr)
		}
	}
	if code, _, _ := bk(t); code != exitUsage {
		t.Errorf("no command: %d", code)
	}
	if code, _, _ := bk(t, "--help"); code != exitOK {
		t.Errorf("--help: %d", code)
	}
	if code, _, _ := bk(t, "frobnicate"); code != exitUsage {
		t.Errorf("unknown command: %d", code)
	}
	if code, _, _ := bk(t, "run", "--nope"); code != exitUsage {
		t.Errorf("bad flag: %d", code)
	}
}

func write(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCompareFiles(t *testing.T) {
	dir := t.TempDir()
	base := write(t, dir, "a.json", `{"wall-ms": [100, 101, 99, 100, 102, 98, 100, 101, 99, 100], "rate/s": [50, 51, 49, 50, 50, 51, 49, 50, 50, 50]}`)
	same := write(t, dir, "same.json", `{"wall-ms": [100, 100, 101, 99, 100, 102, 98, 100, 101, 99], "rate/s": [50, 50, 51, 49, 50, 50, 51, 49, 50, 50]}`)
	slow := write(t, dir, "slow.json", `{"wall-ms": [110, 111, 109, 110, 112, 108, 110, 111, 109, 110], "rate/s": [50, 50, 51, 49, 50, 50, 51, 49, 50, 50]}`)
	fewer := write(t, dir, "fewer.json", `{"rate/s": [40, 41, 39, 40, 40, 41, 39, 40, 40, 40]}`)
	noisy := write(t, dir, "noisy.json", `{"wall-ms": [80, 125, 97, 112]}`)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unchanged", []string{"--baseline", base, "--candidate", same}, exitOK, "unchanged"},
		{"regressed", []string{"--baseline", base, "--candidate", slow}, exitRegressed, "regressed"},
		{"higher-is-better by name", []string{"--baseline", base, "--candidate", fewer}, exitRegressed, "rate/s"},
		{"--higher flips direction", []string{"--baseline", base, "--candidate", slow, "--higher", "wall-ms"}, exitOK, "improved"},
		{"big threshold", []string{"--baseline", base, "--candidate", slow, "--threshold", "30%"}, exitOK, "unchanged"},
		{"inconclusive", []string{"--baseline", base, "--candidate", noisy}, exitInconclusive, "inconclusive"},
		{"json", []string{"--baseline", base, "--candidate", slow, "--json"}, exitRegressed, `"verdict": "regressed"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := bk(t, append([]string{"compare"}, tt.args...)...)
			if code != tt.code || !strings.Contains(out, tt.want) {
				t.Errorf("code %d (want %d)\n%s%s", code, tt.code, out, errOut)
			}
		})
	}
	bad := write(t, dir, "bad.json", `{"wall-ms": [1, "two"]}`)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--baseline", base, "--candidate", bad}, bad + `: field "wall-ms"`},
		{[]string{"--baseline", filepath.Join(dir, "missing.json"), "--candidate", base}, "missing.json: no such file"},
		{[]string{"--baseline", write(t, dir, "arr.json", `[1]`), "--candidate", base}, "arr.json: want a JSON object"},
		{[]string{"--baseline", base, "--candidate", write(t, dir, "other.json", `{"x": [1, 2]}`)}, "share no metric"},
		{[]string{"--baseline", base, "--candidate", same, "--threshold", "five"}, "--threshold"},
		{[]string{"--baseline", base}, "--candidate is required"},
	} {
		code, _, errOut := bk(t, append([]string{"compare"}, tt.args...)...)
		if code != exitUsage || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: code %d, stderr %q, want 2 and %q", tt.args, code, errOut, tt.want)
		}
	}
}

func buildAlloc(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "alloc")
	if out, err := exec.Command("go", "build", "-o", bin, "../../measure/testdata/alloc").CombinedOutput(); err != nil {
		t.Fatalf("build alloc: %v\n%s", err, out)
	}
	return bin
}

// TestRunGateAckRelease drives the CLI end to end on a real workload: run,
// release-mark, a doubled allocation failing gate with reports written, ack,
// acks, and the gate passing after the ack.
func TestRunGateAckRelease(t *testing.T) {
	bin := buildAlloc(t)
	dir := t.TempDir()
	adapter := filepath.Join(dir, "adapter")
	os.MkdirAll(adapter, 0o755)
	write(t, adapter, "adapter.toml", `name = "demo"
repo = "file:///nowhere"
[jobs.build]
stage = "forge"
command = "true"
[bench.alloc]
stage = "harden"
command = "\"$ALLOC\" -mib \"$MIB\" -hold 5ms"
parser = "json"
repeat = 5
env = { ALLOC = "`+bin+`", MIB = "24" }
[bench.alloc.metrics]
"benchkit.max-rss-kb" = { direction = "lower", threshold = "5%" }
`)
	db := filepath.Join(dir, "results.db")
	code, out, errOut := bk(t, "run", "--adapter", adapter, "--bench", "alloc", "--rev", "demo=aaa", "--db", db, "--workdir", dir, "--json")
	if code != exitOK {
		t.Fatalf("run: %d %s", code, errOut)
	}
	var rep struct {
		Candidate string
		Samples   map[string][]float64
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Samples["benchkit.max-rss-kb"]) != 5 || rep.Samples["allocated-mib"][0] != 24 {
		t.Fatalf("run output %v: %s", err, out)
	}
	if code, _, _ := bk(t, "release-mark", "--candidate", rep.Candidate, "--db", db); code != exitOK {
		t.Fatal("release-mark")
	}
	// The same adapter with twice the allocation, as a second candidate.
	toml, _ := os.ReadFile(filepath.Join(adapter, "adapter.toml"))
	os.WriteFile(filepath.Join(adapter, "adapter.toml"), bytes.Replace(toml, []byte(`MIB = "24"`), []byte(`MIB = "48"`), 1), 0o644)
	reports := filepath.Join(dir, "reports")
	code, out, errOut = bk(t, "gate", "--adapter", adapter, "--bench", "alloc", "--candidate", "cand2", "--db", db, "--workdir", dir, "--budget", "10", "--out", reports)
	if code != exitRegressed || !strings.Contains(out, "benchkit.max-rss-kb") {
		t.Fatalf("gate on doubled memory: %d\n%s\n%s", code, out, errOut)
	}
	for _, f := range []string{"report.md", "report.json", "alloc-benchkit.max-rss-kb.svg"} {
		if _, err := os.Stat(filepath.Join(reports, f)); err != nil {
			t.Errorf("report file %s: %v", f, err)
		}
	}
	svg, _ := os.ReadFile(filepath.Join(reports, "alloc-benchkit.max-rss-kb.svg"))
	if !bytes.Contains(svg, []byte(`class="band"`)) || bytes.Count(svg, []byte("<circle")) != 2 {
		t.Errorf("svg lacks band or points:\n%s", svg)
	}
	code, _, errOut = bk(t, "compare", "--db", db, "--candidate", "cand2", "--adapter", adapter, "--bench", "alloc")
	if code != exitRegressed {
		t.Errorf("compare from the database: %d %s", code, errOut)
	}
	if code, _, errOut := bk(t, "ack", "--candidate", "cand2", "--metric", "benchkit.max-rss-kb", "--reason", "larger buffers on purpose", "--by", "carol", "--db", db); code != exitOK {
		t.Fatalf("ack: %s", errOut)
	}
	if code, _, _ := bk(t, "ack", "--candidate", "cand2", "--metric", "m", "--db", db); code != exitUsage {
		t.Error("ack without reason accepted")
	}
	_, out, _ = bk(t, "acks", "--candidate", "cand2", "--db", db)
	if !strings.Contains(out, `"reason": "larger buffers on purpose"`) || !strings.Contains(out, `"by": "carol"`) {
		t.Errorf("acks: %s", out)
	}
	code, out, _ = bk(t, "compare", "--db", db, "--candidate", "cand2", "--adapter", adapter, "--bench", "alloc")
	if code != exitOK || !strings.Contains(out, "acknowledged by carol") {
		t.Errorf("after ack: %d\n%s", code, out)
	}
	// Input errors: unknown bench entry, missing flags.
	if code, _, errOut := bk(t, "run", "--adapter", adapter, "--bench", "nope", "--candidate", "x", "--db", db); code != exitUsage || !strings.Contains(errOut, "entries: alloc") {
		t.Errorf("unknown bench: %d %s", code, errOut)
	}
	if code, _, errOut := bk(t, "run", "--adapter", adapter, "--bench", "alloc", "--db", db); code != exitUsage || !strings.Contains(errOut, "--candidate or at least one --rev") {
		t.Errorf("no candidate: %d %s", code, errOut)
	}
	if code, _, _ := bk(t, "gate", "--bench", "alloc"); code != exitUsage {
		t.Error("gate without --adapter accepted")
	}
}

func TestBisectCLI(t *testing.T) {
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	os.MkdirAll(repo, 0o755)
	git := func(args ...string) string {
		cmd := exec.Command("git", append([]string{"-C", repo}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@e", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@e")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q")
	var revs []string
	for i := range 12 {
		size := 100
		if i >= 7 {
			size = 130 // commit 7 regresses
		}
		write(t, repo, "bench.sh", fmt.Sprintf("#!/bin/sh\necho '{\"size\": %d, \"commit\": %d}'\n", size, i))
		os.Chmod(filepath.Join(repo, "bench.sh"), 0o755)
		git("add", "bench.sh")
		git("commit", "-q", "-m", fmt.Sprint(i))
		revs = append(revs, git("rev-parse", "HEAD"))
	}
	adapter := filepath.Join(dir, "adapter")
	os.MkdirAll(adapter, 0o755)
	write(t, adapter, "adapter.toml", `name = "demo"
repo = "file:///nowhere"
[jobs.build]
stage = "forge"
command = "true"
[bench.size]
stage = "harden"
command = "./bench.sh"
parser = "json"
repeat = 2
[bench.size.metrics]
size = { direction = "lower", threshold = "5%" }
`)
	code, out, errOut := bk(t, "bisect", "--good", revs[0], "--bad", revs[11], "--repo", repo, "--adapter", adapter, "--bench", "size", "--json")
	if code != exitOK {
		t.Fatalf("bisect: %d\n%s", code, errOut)
	}
	var res struct {
		Culprit string
		Ends    string
		Rounds  int
		Samples int
		Pairs   []struct{ Commit, Outcome string }
	}
	json.Unmarshal([]byte(out), &res)
	// The ends first (bad against good), then at most 4 probes for 11 commits.
	if res.Culprit != revs[7] || res.Ends != "regressed" || res.Rounds > 5 || res.Pairs[0].Commit != revs[11] || res.Pairs[0].Outcome != "bad" {
		t.Errorf("culprit %s in %d rounds, want %s in <= 5 with the bad end first\n%s\n%s", res.Culprit, res.Rounds, revs[7], out, errOut)
	}
	if res.Samples != 2*2*res.Rounds {
		t.Errorf("%d samples for %d pairs of 2 rounds", res.Samples, res.Rounds)
	}
	// Nothing regressed between these ends: no culprit, one judged pair.
	code, out, errOut = bk(t, "bisect", "--good", revs[0], "--bad", revs[6], "--repo", repo, "--adapter", adapter, "--bench", "size")
	if code != exitOK || !strings.Contains(out, "no culprit: "+revs[6]+" does not regress against "+revs[0]) || !strings.Contains(out, "1 judged pairs over 6 commits, 4 runs") {
		t.Errorf("no regression: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, _, _ := bk(t, "bisect", "--good", "nope", "--bad", revs[11], "--repo", repo, "--adapter", adapter, "--bench", "size"); code != exitUsage {
		t.Errorf("bad good revision: %d", code)
	}
}

func TestSimulateCLI(t *testing.T) {
	code, out, _ := bk(t, "simulate", "--trials", "300", "--json")
	if code != exitOK || !strings.Contains(out, `"benchkit + confirmation"`) {
		t.Errorf("simulate: %d %s", code, out)
	}
	if code, _, _ := bk(t, "simulate", "--n", "1"); code != exitUsage {
		t.Error("--n 1 accepted")
	}
	// --threshold is a percentage, as in compare and adapter.toml.
	code, out, _ = bk(t, "simulate", "--trials", "50", "--threshold", "10%")
	if code != exitOK || !strings.Contains(out, "threshold 10%") {
		t.Errorf("simulate --threshold 10%%: %d %s", code, out)
	}
	for _, bad := range []string{"0.05", "0%", "five"} {
		if code, _, errOut := bk(t, "simulate", "--threshold", bad); code != exitUsage || !strings.Contains(errOut, "--threshold") {
			t.Errorf("simulate --threshold %s: %d %q, want a usage error naming the flag", bad, code, errOut)
		}
	}
}

func TestAgentFlags(t *testing.T) {
	if code, _, errOut := bk(t, "agent", "--coordinator", "http://127.0.0.1:1"); code != exitUsage || !strings.Contains(errOut, "--token-file is required") {
		t.Errorf("agent without token: %d %s", code, errOut)
	}
	empty := write(t, t.TempDir(), "token", "\n")
	if code, _, errOut := bk(t, "agent", "--coordinator", "http://127.0.0.1:1", "--token-file", empty); code != exitUsage || !strings.Contains(errOut, "is empty") {
		t.Errorf("empty token: %d %s", code, errOut)
	}
}
