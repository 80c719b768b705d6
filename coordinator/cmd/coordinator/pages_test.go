package main

import (
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestBenchName(t *testing.T) {
	se, metric, ok := parseBenchName("app:wall:benchkit.max-rss-kb@x86_64-linux-8c")
	if !ok || se.Component != "app" || se.Bench != "wall" || metric != "benchkit.max-rss-kb" || se.HostClass != "x86_64-linux-8c" {
		t.Fatalf("parse = %+v %q %v", se, metric, ok)
	}
	if got := benchName(se, metric); got != "app:wall:benchkit.max-rss-kb@x86_64-linux-8c" {
		t.Errorf("benchName = %q", got)
	}
	for _, bad := range []string{"", "app:wall:m", "app:wall@c", ":b:m@c", "a:b:m@"} {
		if _, _, ok := parseBenchName(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

func FuzzBenchName(f *testing.F) {
	f.Add("app:wall:m@c")
	f.Fuzz(func(t *testing.T, s string) {
		if se, m, ok := parseBenchName(s); ok && benchName(se, m) != s {
			t.Errorf("%q parses but names back as %q", s, benchName(se, m))
		}
	})
}

// The Benchmarks pages of serve show what benchkit recorded in the
// coordinator's database: the series, and a metric's points with the band
// its released baseline accepts.
func TestServeBenchmarksPages(t *testing.T) {
	bin := buildBinary(t)
	bk := filepath.Join(t.TempDir(), "benchkit")
	if out, err := exec.Command("go", "build", "-o", bk, "../../../benchkit/cmd/benchkit").CombinedOutput(); err != nil {
		t.Fatalf("go build benchkit: %v\n%s", err, out)
	}
	dir := t.TempDir()
	cfg, _ := writeShellProject(t, dir, `[jobs.check]
stage = "forge"
command = "true"
[bench.wall]
stage = "harden"
command = "echo \"{\\\"wall-ms\\\": $WALL}\""
parser = "json"
repeat = 3
env = { WALL = "100" }
[bench.wall.metrics]
"wall-ms" = { direction = "lower", threshold = "10%" }
`, "")
	if out, err := exec.Command(bin, "status", "--config", cfg).CombinedOutput(); err != nil {
		t.Fatalf("status (makes the database): %v\n%s", err, out)
	}
	db := filepath.Join(dir, "state", "ironworks.db")
	adapter := filepath.Join(dir, "adapters", "app")
	benchkit := func(args ...string) {
		t.Helper()
		cmd := exec.Command(bk, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("benchkit %v: %v\n%s", args, err, out)
		}
	}
	benchkit("run", "--adapter", adapter, "--bench", "wall", "--candidate", "cand-one", "--db", db, "--workdir", dir)
	benchkit("release-mark", "--candidate", "cand-one", "--db", db)
	toml, _ := os.ReadFile(filepath.Join(adapter, "adapter.toml"))
	os.WriteFile(filepath.Join(adapter, "adapter.toml"), []byte(strings.Replace(string(toml), `WALL = "100"`, `WALL = "130"`, 1)), 0o644)
	benchkit("run", "--adapter", adapter, "--bench", "wall", "--candidate", "cand-two", "--db", db, "--workdir", dir)

	base, _ := startServe(t, bin, dir, cfg)
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, page := get("/bench")
	if code != 200 || strings.Contains(page, "No benchmark data source") || !strings.Contains(page, "app:wall:wall-ms@") {
		t.Fatalf("Benchmarks page: %d, lacks the series:\n%s", code, page)
	}
	i := strings.Index(page, "app:wall:wall-ms@")
	name := page[i : i+strings.IndexAny(page[i:], "<\"")]
	code, page = get("/bench/" + url.PathEscape(name))
	if code != 200 || strings.Count(page, "<circle") != 2 || !strings.Contains(page, "baseline 90 – 110") || !strings.Contains(page, "(released)") {
		t.Fatalf("page of %s: %d, want two points and the baseline band 90–110:\n%s", name, code, page)
	}
	if code, _ := get("/bench/" + url.PathEscape("no-such-series")); code != http.StatusNotFound {
		t.Errorf("an unknown series answers %d, want 404", code)
	}
}
