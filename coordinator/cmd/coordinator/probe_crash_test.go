package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ironworks-ci/ironworks/coordinator/internal/fixture"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// serve is killed with SIGKILL while a bisection probe builds; restarted, it
// finishes the search. No build of a candidate ever runs twice at once (each
// build holds a flock named for its candidate and records a failure to take
// it), and the culprit is the breaking commit.
func TestKilledDuringProbeRunsEachProbeOnce(t *testing.T) {
	fixture.RequireCargo(t)
	bin := buildBinary(t)
	dir := t.TempDir()
	up := fixture.Merkletree(t, filepath.Join(dir, "src", "merkletree"))
	down := fixture.Proofs(t, filepath.Join(dir, "src", "rust-fil-proofs"))
	mark := filepath.Join(dir, "markers")
	os.MkdirAll(mark, 0o755)
	guarded := `flock -n -E 99 "$MARK/$IRONWORKS_CANDIDATE.lock" sh -c 'echo "start $IRONWORKS_RUN_ID" >> "$MARK/log"; sleep 1; cargo build --workspace'; rc=$?; [ $rc = 99 ] && echo "overlap $IRONWORKS_CANDIDATE" >> "$MARK/overlap"; exit $rc`
	adapters := map[string]string{
		"merkletree": "name = \"merkletree\"\nrepo = \"unused\"\n[jobs.build]\nstage = \"forge\"\ncommand = \"cargo build\"\n",
		"rust-fil-proofs": fmt.Sprintf(`name = "rust-fil-proofs"
repo = "unused"
[[upstream]]
name = "merkletree"
pin = "cargo-patch"
[jobs.build]
stage = "forge"
needs = ["merkletree:build"]
command = '''%s'''
[jobs.build.env]
MARK = %q
`, guarded, mark),
	}
	if err := writeAdapters(dir, adapters); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "ironworks.toml")
	os.WriteFile(cfg, []byte(demoComponents(up.URL(), down.URL())+fmt.Sprintf(`[engine]
poll_interval = "200ms"
sandbox_rw = [%q]
[web]
listen = "127.0.0.1:0"
`, mark)), 0o644)
	if code := realMain([]string{"run", "--once", "--config", cfg}, os.Stderr); code != exitOK {
		t.Fatalf("first pass = %d", code)
	}
	// Four upstream commits, the second breaks the API.
	up.Commit("docs", map[string]string{"README": "one\n"})
	bad := up.Commit("rename leaf_count", map[string]string{"src/lib.rs": strings.ReplaceAll(fixture.UpstreamLib, "leaf_count", "leaves_of")})
	up.Commit("docs 2", map[string]string{"README": "two\n"})
	up.Commit("docs 3", map[string]string{"README": "three\n"})
	starts := func() int {
		b, _ := os.ReadFile(filepath.Join(mark, "log"))
		return strings.Count(string(b), "start ")
	}
	before := starts()
	serve := exec.Command(bin, "serve", "--config", cfg)
	serve.Dir = dir
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	// The head's build, then the first probe's: kill during the probe.
	deadline := time.Now().Add(2 * time.Minute)
	for starts() < before+2 {
		if time.Now().After(deadline) {
			serve.Process.Kill()
			t.Fatal("no probe started")
		}
		time.Sleep(20 * time.Millisecond)
	}
	serve.Process.Kill()
	serve.Wait()

	base, _ := startServe(t, bin, dir, cfg)
	st, err := store.Open(context.Background(), filepath.Join(dir, "state", "ironworks.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var culprit string
	for culprit == "" {
		if time.Now().After(deadline) {
			t.Fatal("the bisection never ended")
		}
		time.Sleep(200 * time.Millisecond)
		runs, err := st.Runs(context.Background(), store.RunFilter{Verdict: store.VerdictIncompatible, Kind: "stage"})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range runs {
			if c, ok := r.Detail["culprit"].(map[string]any); ok && r.State == store.RunDone {
				culprit, _ = c["rev"].(string)
			}
		}
	}
	if culprit != bad {
		t.Errorf("culprit %s, want %s", culprit, bad)
	}
	if b, err := os.ReadFile(filepath.Join(mark, "overlap")); err == nil {
		t.Errorf("a build ran twice at once:\n%s", b)
	}
	log, _ := os.ReadFile(filepath.Join(mark, "log"))
	t.Logf("builds:\n%s", log)

	// The dashboard tells the truth after the bisection: the newest probe
	// (an older merkletree, which builds) is not rust-fil-proofs' state.
	resp, err := http.Get(base + "/api/dashboard")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d struct {
		Rows []struct {
			Component string `json:"component"`
			Cells     []struct {
				Stage  string `json:"stage"`
				Status string `json:"status"`
			} `json:"cells"`
		} `json:"rows"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range d.Rows {
		for _, c := range r.Cells {
			if r.Component == "rust-fil-proofs" && c.Stage == "forge" {
				found = true
				if c.Status == "success" || c.Status == "green" || c.Status == "passed" {
					t.Errorf("dashboard shows rust-fil-proofs forge %q after the bisection found it incompatible", c.Status)
				}
				t.Logf("dashboard: rust-fil-proofs forge %s", c.Status)
			}
		}
	}
	if !found {
		t.Errorf("no rust-fil-proofs forge cell: %+v", d)
	}
}
