package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ironworks-ci/ironworks/coordinator/internal/fixture"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// buildBinary compiles the coordinator once per test binary.
func buildBinary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		built.bin = filepath.Join(binDir, "coordinator")
		if out, err := exec.Command("go", "build", "-o", built.bin, ".").CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.bin
}

// The binary is built once per test process (into binDir, removed by
// TestMain): every story test drives the same shipped command.
var built struct {
	once sync.Once
	bin  string
	err  error
}

// writeFixtureConfig makes fixture repositories and a configuration whose
// merkletree test job first touches marker, then sleeps, so a test can kill
// the coordinator while the job runs. The marker's folder is shown to the
// sandboxed jobs read-write (engine.sandbox_rw), as an operator would show a
// shared cache.
func writeFixtureConfig(t *testing.T, dir, marker string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(marker), 0o755); err != nil {
		t.Fatal(err)
	}
	up := fixture.Merkletree(t, filepath.Join(dir, "src", "merkletree"))
	down := fixture.Proofs(t, filepath.Join(dir, "src", "rust-fil-proofs"))
	// The demo's adapters, the upstream's test slowed down.
	adapters := map[string]string{
		"merkletree":      replaceOnce(t, demoUpAdapter, `command = "cargo test"`, fmt.Sprintf(`command = "touch %s && sleep 2 && cargo test"`, marker)),
		"rust-fil-proofs": demoDownAdapter,
	}
	if err := writeAdapters(dir, adapters); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "ironworks.toml")
	os.WriteFile(cfg, []byte(demoComponents(up.URL(), down.URL())+fmt.Sprintf(`[engine]
sandbox_rw = [%q]
`, filepath.Dir(marker))), 0o644)
	return cfg
}

// replaceOnce is strings.Replace of the one old in s; a test fails when s
// does not hold old, rather than run with the text unchanged.
func replaceOnce(t testing.TB, s, old, new string) string {
	t.Helper()
	if strings.Count(s, old) != 1 {
		t.Fatalf("%q is not once in:\n%s", old, s)
	}
	return strings.Replace(s, old, new, 1)
}

// The coordinator is SIGKILLed while a job runs; restarted, it completes the
// same run and promotes exactly once.
func TestKilledMidRunResumes(t *testing.T) {
	fixture.RequireCargo(t)
	bin := buildBinary(t)
	dir := t.TempDir()
	marker := filepath.Join(dir, "markers", "test-started")
	cfg := writeFixtureConfig(t, dir, marker)

	cmd := exec.Command(bin, "run", "--once", "--config", cfg)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if _, err := os.Stat(marker); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the job never started")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	second := exec.Command(bin, "run", "--once", "--config", cfg)
	second.Stderr = os.Stderr
	if err := second.Run(); err != nil {
		filepath.WalkDir(filepath.Join(dir, "state", "logs"), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				b, _ := os.ReadFile(p)
				t.Logf("%s:\n%s", p, b)
			}
			return nil
		})
		t.Fatalf("restarted coordinator: %v", err)
	}
	// A third pass finds nothing new and must not promote again.
	if out, err := exec.Command(bin, "run", "--once", "--config", cfg).CombinedOutput(); err != nil {
		t.Fatalf("third pass: %v\n%s", err, out)
	}

	st, err := store.Open(context.Background(), filepath.Join(dir, "state", "ironworks.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	runs, err := st.Runs(ctx, store.RunFilter{Stage: "forge"})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].Verdict != store.VerdictGreen {
		t.Fatalf("want the one interrupted run completed green, got %d runs: %+v", len(runs), runs)
	}
	proms, err := st.Promotions(ctx, "forge")
	if err != nil {
		t.Fatal(err)
	}
	if len(proms) != 1 {
		t.Fatalf("%d forge promotions, want exactly 1", len(proms))
	}
	res, err := st.JobResults(ctx, runs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Job == "merkletree:test" && r.Attempt != 2 {
			t.Errorf("merkletree:test attempt %d, want 2 (re-run after the kill)", r.Attempt)
		}
		if r.State != store.JobSuccess {
			t.Errorf("%s: %s", r.Job, r.State)
		}
	}
}

func TestExitCodes(t *testing.T) {
	var sink nopWriter
	tests := []struct {
		args []string
		want int
	}{
		{nil, exitUsage},
		{[]string{"--help"}, exitOK},
		{[]string{"nope"}, exitUsage},
		{[]string{"run", "--help"}, exitOK},
		{[]string{"run", "--bogus"}, exitUsage},
		{[]string{"run"}, exitUsage},
		{[]string{"run", "--once", "--config", "/nonexistent/ironworks.toml"}, exitConfig},
		{[]string{"status", "--config", "/nonexistent/ironworks.toml"}, exitConfig},
	}
	for _, tt := range tests {
		if got := realMain(tt.args, sink); got != tt.want {
			t.Errorf("coordinator %v: exit %d, want %d", tt.args, got, tt.want)
		}
	}
}

type nopWriter struct{}

func (nopWriter) Write(b []byte) (int, error) { return len(b), nil }

// status shows the adapters' bench entries before any benchkit agent ran them.
func TestStatusShowsBenchEntries(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.toml")
	os.WriteFile(cfg, []byte("state_dir = \"state\"\nadapters = [\"embedded:merkletree\", \"embedded:rust-fil-proofs\"]\n"), 0o644)
	out, err := exec.Command("go", "run", ".", "status", "--json", "--config", cfg).Output()
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	var s Status
	if err := json.Unmarshal(out, &s); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	found := false
	for _, b := range s.Benchmarks {
		if b.Component == "rust-fil-proofs" && b.Name == "window-post-32gib" {
			found = len(b.Requires) == 1 && b.Requires[0] == "gpu" && b.Parser == "benchy" && len(b.Metrics) == 2
		}
	}
	if !found {
		t.Fatalf("window-post-32gib missing or wrong in %+v", s.Benchmarks)
	}
}
