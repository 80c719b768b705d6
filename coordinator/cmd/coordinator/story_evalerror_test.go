package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ironworks-ci/ironworks/coordinator/forge/githubtest"
	"github.com/ironworks-ci/ironworks/coordinator/hydra/hydratest"
	"github.com/ironworks-ci/ironworks/coordinator/internal/fixture"
)

// When Hydra cannot evaluate the stage's jobset, nobody's code was built:
// every view says eval-error (never that merkletree broke), the last line of
// run --once, status and the dashboard alike.
func TestStoryHydraEvalErrorIsTheVerdictWord(t *testing.T) {
	fixture.RequireCargo(t)
	bin := buildBinary(t)
	dir := t.TempDir()
	up := fixture.Merkletree(t, filepath.Join(dir, "src", "merkletree"))
	down := fixture.Proofs(t, filepath.Join(dir, "src", "rust-fil-proofs"))

	const lockRepo, token = "ironworks-ci/locks", "ghp-eval-error"
	gh := githubtest.New()
	t.Cleanup(gh.Close)
	gh.Token = token
	gh.AddRepo(lockRepo, "main", map[string]string{"README.md": "locks\n"})
	hyd := hydratest.New()
	t.Cleanup(hyd.Close)
	hyd.AddUser("ironworks", "s3cret")
	hyd.AutoEvaluate = time.Millisecond
	hyd.AddJobset("ironworks", "forge", "github:"+lockRepo+"?ref=forge-lock")
	// The wording of Hydra's error is a guess; the engine only passes it on.
	hyd.FailEval("ironworks", "forge", "error: attribute 'rust-fil-proofs' missing")

	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("adapters/merkletree/adapter.toml", "name = \"merkletree\"\nrepo = \"unused\"\n[jobs.build]\nstage = \"forge\"\ncommand = \"cargo build\"\n")
	write("adapters/rust-fil-proofs/adapter.toml", `name = "rust-fil-proofs"
repo = "unused"
[[upstream]]
name = "merkletree"
pin = "cargo-patch"
[jobs.build]
stage = "forge"
needs = ["merkletree:build"]
command = "cargo build --workspace"
`)
	pw, tok := write("hydra-password", "s3cret\n"), write("github-token", token+"\n")
	cfg := write("ironworks.toml", demoComponents(up.URL(), down.URL())+fmt.Sprintf(`[engine]
default = "hydra"
poll_interval = "200ms"
[hydra]
url = %q
project = "ironworks"
user = "ironworks"
password_file = %q
lock_repo = %q
poll_interval = "20ms"
eval_deadline = "1m"
[github]
api_url = %q
token_file = %q
`, hyd.URL(), pw, lockRepo, gh.URL(), tok))
	s := &truthStory{t: t, bin: bin, dir: dir, cfg: cfg, up: up}

	// An eval-error blames nobody's code: an infrastructure exit.
	code, out, errOut := s.coordinator("run", "--once", "--through", "forge")
	if code != exitInfra {
		t.Fatalf("run --once: exit %d, want %d\n%s%s", code, exitInfra, out, lastLines(errOut, 30))
	}
	last := lastLine(out)
	if !strings.Contains(last, "forge eval-error") || strings.Contains(last, "upstream-broken") {
		t.Errorf("last line of run --once = %q, want the eval-error verdict", last)
	}
	code, text, _ := s.coordinator("status")
	if code != exitOK || !strings.Contains(text, "forge=eval-error") || strings.Contains(text, "forge=upstream-broken") {
		t.Errorf("status: exit %d, want forge=eval-error:\n%s", code, text)
	}

	base, _ := startServe(t, bin, dir, cfg)
	resp, err := http.Get(base + "/api/dashboard")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d struct {
		Rows []struct {
			Component string
			Cells     []struct{ Stage, Status, Label string }
		}
	}
	json.NewDecoder(resp.Body).Decode(&d)
	seen := 0
	for _, r := range d.Rows {
		for _, c := range r.Cells {
			if c.Stage == "forge" {
				seen++
				if c.Status != "red" || c.Label != "eval-error" {
					t.Errorf("dashboard %s forge = %s %q, want red eval-error", r.Component, c.Status, c.Label)
				}
			}
		}
	}
	if seen != 2 {
		t.Errorf("dashboard forge cells: %d, want 2: %+v", seen, d)
	}
}
