package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ironworks-ci/ironworks/coordinator/engine/local"
	"github.com/ironworks-ci/ironworks/coordinator/internal/fixture"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// attack is what a hostile pull request's build script does: it finds the
// state directory from CARGO_TARGET_DIR (state/cache/target/<component>) and
// tries every secret, the database and the previous run's worktree. Each
// attempt prints LEAKED or DENIED; the job itself always passes, so that the
// test reads the outcome from its log.
const attack = `set +e
state=$(dirname "$(dirname "$(dirname "$CARGO_TARGET_DIR")")")
try() { what=$1; shift; if out=$("$@" 2>&1); then echo "LEAKED $what"; else echo "DENIED $what: $out"; fi; }
for f in $SECRETS; do try "read $f" cat "$f"; done
try "read database" cat "$state/ironworks.db"
try "list state" sh -c "ls -a '$state' | grep -e ironworks.db -e logs -e outbox"
printf junk >> "$state/ironworks.db"
try "read config" cat "$CONFIG"
try "read earlier worktree" cat "$state/work/run-1/app/src/README"
try "read home" ls "$HOME/.ssh"
echo built > built.txt && echo "wrote worktree"
exit 0
`

// A job that behaves like a hostile pull request reads no secret file, no
// database, no configuration and no other run's worktree, and cannot write
// the database, through the shipped run --once; its own worktree stays
// writable and the denial is in its log.
func TestSandboxHidesSecretsStateAndOtherRuns(t *testing.T) {
	if _, err := exec.LookPath("bwrap"); err != nil {
		t.Skip("bubblewrap not installed (.ci/run installs it)")
	}
	dir := t.TempDir()
	// A folder every job is shown (as Groth parameters would be), holding a
	// secret file that must stay masked; and secrets elsewhere.
	shared := filepath.Join(dir, "shared")
	secretDir := filepath.Join(dir, "secrets")
	for _, d := range []string{shared, secretDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	secrets := map[string]string{
		filepath.Join(shared, "bench-tokens"):     "agent-token-7f3a",
		filepath.Join(secretDir, "operator"):      "operator-token-91c2",
		filepath.Join(secretDir, "unsubscribe"):   "unsubscribe-secret-55d0",
		filepath.Join(shared, "params", "v28.vk"): "not a secret, shown",
	}
	for p, v := range secrets {
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	repo := fixture.NewRepo(t, filepath.Join(dir, "src", "app"))
	repo.Commit("first", map[string]string{"README": "hello\n"})
	secretList := strings.Join([]string{filepath.Join(shared, "bench-tokens"), filepath.Join(secretDir, "operator"), filepath.Join(secretDir, "unsubscribe")}, " ")
	adapter := fmt.Sprintf(`name = "app"
repo = "unused"
[jobs.attack]
stage = "forge"
command = '''%s'''
[jobs.attack.env]
SECRETS = %q
CONFIG = %q
[jobs.params]
stage = "forge"
command = "cat %s"
`, attack, secretList, filepath.Join(dir, "ironworks.toml"), filepath.Join(shared, "params", "v28.vk"))
	os.MkdirAll(filepath.Join(dir, "adapters", "app"), 0o755)
	if err := os.WriteFile(filepath.Join(dir, "adapters", "app", "adapter.toml"), []byte(adapter), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "ironworks.toml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`state_dir = "state"
adapters = ["adapters/app"]
[components.app]
repo = %q
[engine]
bench_tokens_file = %q
sandbox_ro = [%q]
[web]
operator_token_file = %q
[notify]
unsubscribe_secret_file = %q
`, repo.URL(), filepath.Join(shared, "bench-tokens"), shared, filepath.Join(secretDir, "operator"), filepath.Join(secretDir, "unsubscribe"))), 0o644); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	for pass := 1; pass <= 2; pass++ {
		if code := realMain([]string{"run", "--once", "--config", cfg}, os.Stderr); code != exitOK {
			t.Fatalf("pass %d: run --once = %d, want %d", pass, code, exitOK)
		}
		repo.Commit(fmt.Sprintf("change %d", pass), map[string]string{"README": fmt.Sprintf("hello %d\n", pass)})
	}
	// The second run's attack also aimed at the first run's worktree.
	log, err := os.ReadFile(local.LogPath(state, 2, "app:attack"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(log)
	if strings.Contains(text, "\nLEAKED") {
		t.Errorf("the job reached what it must not:\n%s", text)
	}
	for _, want := range []string{"\nDENIED read database", "DENIED list state", "DENIED read config",
		"DENIED read earlier worktree", "DENIED read home", "wrote worktree", "sandboxed (bubblewrap)"} {
		if !strings.Contains(text, want) {
			t.Errorf("log lacks %q:\n%s", want, text)
		}
	}
	for p, v := range secrets {
		if !strings.Contains(p, "params") && strings.Contains(text, v) {
			t.Errorf("secret of %s is in the log", p)
		}
	}
	// The denial itself is in the log, as the shell reported it.
	if !strings.Contains(text, "No such file or directory") {
		t.Errorf("log shows no denial message:\n%s", text)
	}
	// What the operator shows every job is shown.
	params, _ := os.ReadFile(local.LogPath(state, 2, "app:params"))
	if !strings.Contains(string(params), "not a secret, shown") {
		t.Errorf("a sandbox_ro path is not readable:\n%s", params)
	}
	// Passed runs do not keep their worktrees.
	if _, err := os.Stat(filepath.Join(state, "work", "run-2")); err == nil {
		t.Error("the worktrees of a passed run were kept")
	}
	// The database is intact and holds only what the coordinator wrote.
	st, err := store.Open(context.Background(), filepath.Join(state, "ironworks.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if db, _ := os.ReadFile(filepath.Join(state, "ironworks.db")); strings.HasSuffix(string(db), "junk") {
		t.Error("the job wrote into the database file")
	}
	var ok string
	if err := st.DB.QueryRow(`PRAGMA integrity_check`).Scan(&ok); err != nil || ok != "ok" {
		t.Fatalf("database integrity: %q, %v", ok, err)
	}
	var runs int
	if err := st.DB.QueryRow(`SELECT count(*) FROM runs`).Scan(&runs); err != nil && err != sql.ErrNoRows {
		t.Fatal(err)
	}
	if runs != 2 {
		t.Errorf("runs = %d, want 2", runs)
	}
}

// With a sandbox that cannot work (no bwrap), run --once refuses to start
// (exit 4, saying how to opt out) and runs nothing; engine.sandbox = "off"
// runs, and the job's log says it was not sandboxed.
func TestSandboxUnusableRefusesUnlessOff(t *testing.T) {
	dir := t.TempDir()
	repo := fixture.NewRepo(t, filepath.Join(dir, "src", "app"))
	repo.Commit("first", map[string]string{"README": "hello\n"})
	marker := filepath.Join(dir, "ran")
	os.MkdirAll(filepath.Join(dir, "adapters", "app"), 0o755)
	os.WriteFile(filepath.Join(dir, "adapters", "app", "adapter.toml"), []byte(fmt.Sprintf(`name = "app"
repo = "unused"
[jobs.build]
stage = "forge"
command = "touch %s"
`, marker)), 0o644)
	write := func(sandbox string) string {
		cfg := filepath.Join(dir, "ironworks-"+sandbox+".toml")
		os.WriteFile(cfg, []byte(fmt.Sprintf(`state_dir = "state"
adapters = ["adapters/app"]
[components.app]
repo = %q
[engine]
sandbox = %q
`, repo.URL(), sandbox)), 0o644)
		return cfg
	}
	coordinator := buildBinary(t)
	run := func(cfg string, stderr *strings.Builder) int {
		cmd := exec.Command(coordinator, "run", "--once", "--config", cfg)
		cmd.Dir = dir
		cmd.Stderr = stderr
		cmd.Env = append(os.Environ(), "PATH="+os.Getenv("PATH"))
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return 0
	}
	// PATH without bwrap: the sandbox cannot start.
	bin := t.TempDir()
	for _, tool := range []string{"git", "sh", "touch"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Fatal(err)
		}
		os.Symlink(p, filepath.Join(bin, tool))
	}
	t.Setenv("PATH", bin)
	var stderr strings.Builder
	start := time.Now()
	code := run(write("bwrap"), &stderr)
	if code != exitInfra {
		t.Fatalf("run --once without bwrap = %d, want %d\n%s", code, exitInfra, stderr.String())
	}
	if !strings.Contains(stderr.String(), `engine.sandbox = \"off\"`) && !strings.Contains(stderr.String(), `engine.sandbox = "off"`) {
		t.Errorf("the error does not say how to opt out:\n%s", stderr.String())
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("a job ran although the sandbox was unusable")
	}
	t.Logf("refused in %s", time.Since(start))

	stderr.Reset()
	if code := run(write("off"), &stderr); code != exitOK {
		t.Fatalf("run --once with sandbox off = %d\n%s", code, stderr.String())
	}
	if _, err := os.Stat(marker); err != nil {
		t.Error("the job did not run with sandbox off")
	}
	if !strings.Contains(stderr.String(), "unsandboxed") {
		t.Errorf("no warning that jobs run unsandboxed:\n%s", stderr.String())
	}
	log, _ := os.ReadFile(local.LogPath(filepath.Join(dir, "state"), 1, "app:build"))
	if !strings.Contains(string(log), "NOT sandboxed") {
		t.Errorf("the job's log does not say it ran unsandboxed:\n%s", log)
	}
	// The UI says it on every page.
	base, _ := startServe(t, coordinator, dir, write("off"))
	for _, page := range []string{"/", "/history"} {
		resp, err := http.Get(base + page)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), "Jobs run unsandboxed") {
			t.Errorf("%s does not warn that jobs run unsandboxed", page)
		}
	}
	status := exec.Command(coordinator, "status", "--config", write("off"))
	status.Dir = dir
	if out, err := status.CombinedOutput(); err != nil || !strings.Contains(string(out), "WARNING: jobs run unsandboxed") {
		t.Errorf("status does not warn of the unsandboxed jobs: %v\n%s", err, out)
	}
}

// writeShellProject makes a one-component project whose jobs are the given
// adapter text, with the markers folder shown to jobs read-write, and returns
// the configuration's path and the markers folder.
func writeShellProject(t *testing.T, dir, jobs, extra string) (cfg, markers string) {
	t.Helper()
	repo := fixture.NewRepo(t, filepath.Join(dir, "src", "app"))
	repo.Commit("first", map[string]string{"README": "hello\n"})
	markers = filepath.Join(dir, "markers")
	os.MkdirAll(markers, 0o755)
	os.MkdirAll(filepath.Join(dir, "adapters", "app"), 0o755)
	if err := os.WriteFile(filepath.Join(dir, "adapters", "app", "adapter.toml"), []byte("name = \"app\"\nrepo = \"unused\"\n"+jobs), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg = filepath.Join(dir, "ironworks.toml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`state_dir = "state"
adapters = ["adapters/app"]
[components.app]
repo = %q
[engine]
sandbox_rw = [%q]
%s`, repo.URL(), markers, extra)), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg, markers
}

// A job is over when its command exits: a background child holding the
// output does not turn a pass into a timeout, a setsid grandchild does not
// outlive the job, and a job over its timeout is killed with everything it
// started.
func TestJobProcessLifetime(t *testing.T) {
	if _, err := exec.LookPath("bwrap"); err != nil {
		t.Skip("bubblewrap not installed (.ci/run installs it)")
	}
	dir := t.TempDir()
	markers := filepath.Join(dir, "markers")
	cfg, _ := writeShellProject(t, dir, fmt.Sprintf(`[jobs.background]
stage = "forge"
timeout = "60s"
command = "sleep 300 & setsid sh -c 'sleep 2; touch %[1]s/escaped' & echo started; exit 0"
[jobs.hang]
stage = "forge"
timeout = "1s"
command = "setsid sh -c 'sleep 2; touch %[1]s/survived-timeout' & sleep 300"
`, markers), "")
	// The verdict of a timeout is issue 14's; here only the jobs matter.
	if code := realMain([]string{"run", "--once", "--config", cfg}, os.Stderr); code == exitOK {
		t.Fatalf("run --once = %d, want a failure (hang times out)", code)
	}
	st, err := store.Open(context.Background(), filepath.Join(dir, "state", "ironworks.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	states := map[string]string{}
	rows, err := st.DB.Query(`SELECT job, state FROM job_results WHERE run_id = 1`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var j, s string
		rows.Scan(&j, &s)
		states[j] = s
	}
	rows.Close()
	if states["app:background"] != store.JobSuccess || states["app:hang"] != store.JobTimeout {
		t.Fatalf("states = %v, want background success and hang timeout", states)
	}
	// The grandchildren would have written their markers 2 s after they
	// started; they were killed with their jobs.
	time.Sleep(3 * time.Second)
	for _, m := range []string{"escaped", "survived-timeout"} {
		if _, err := os.Stat(filepath.Join(markers, m)); err == nil {
			t.Errorf("a process of a finished job lived on and wrote %s", m)
		}
	}
}

// Beside a running serve, run --once exits at once naming serve's PID, status
// still works, and the job ran once (its own side effect says so).
func TestOneCoordinatorPerStateDir(t *testing.T) {
	if _, err := exec.LookPath("bwrap"); err != nil {
		t.Skip("bubblewrap not installed (.ci/run installs it)")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	cfg, markers := writeShellProject(t, dir, `[jobs.build]
stage = "forge"
command = "echo run $IRONWORKS_RUN_ID >> $MARKERS/ran && sleep 4"
`, "poll_interval = \"300ms\"\n[web]\nlisten = \"127.0.0.1:0\"\n")
	// The job finds the markers folder through its environment.
	b, _ := os.ReadFile(filepath.Join(dir, "adapters", "app", "adapter.toml"))
	os.WriteFile(filepath.Join(dir, "adapters", "app", "adapter.toml"), append(b, []byte(fmt.Sprintf("[jobs.build.env]\nMARKERS = %q\n", markers))...), 0o644)

	serve := exec.Command(bin, "serve", "--config", cfg)
	serve.Dir = dir
	var serveErr strings.Builder
	serve.Stderr = &serveErr
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		serve.Process.Signal(os.Interrupt)
		serve.Wait()
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(markers, "ran")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve never started the job:\n%s", serveErr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	run := exec.Command(bin, "run", "--once", "--config", cfg)
	run.Dir = dir
	out, err := run.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitInfra {
		t.Fatalf("run --once beside serve: %v, want exit %d\n%s", err, exitInfra, out)
	}
	if want := fmt.Sprintf("in use by pid %d (coordinator serve)", serve.Process.Pid); !strings.Contains(string(out), want) {
		t.Errorf("the refusal does not name the holder (%q):\n%s", want, out)
	}
	status := exec.Command(bin, "status", "--config", cfg)
	status.Dir = dir
	if out, err := status.CombinedOutput(); err != nil {
		t.Errorf("status beside serve: %v\n%s", err, out)
	}
	// Let the job finish, then count its executions.
	time.Sleep(5 * time.Second)
	ran, _ := os.ReadFile(filepath.Join(markers, "ran"))
	if got := strings.Count(string(ran), "run "); got != 1 {
		t.Errorf("the job ran %d times, want 1:\n%s", got, ran)
	}
}

// A job whose adapter says network = false reaches nothing, not even the
// host's loopback; by default a job has the host's network.
func TestJobNetworkAsAdapterDeclares(t *testing.T) {
	if _, err := exec.LookPath("bwrap"); err != nil {
		t.Skip("bubblewrap not installed (.ci/run installs it)")
	}
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.NotFound(w, r)
	}))
	defer srv.Close()
	dir := t.TempDir()
	cfg, _ := writeShellProject(t, dir, fmt.Sprintf(`[jobs.offline]
stage = "forge"
network = false
command = "git ls-remote %[1]s/offline.git 2>&1; true"
[jobs.online]
stage = "forge"
command = "git ls-remote %[1]s/online.git 2>&1; true"
`, srv.URL), "")
	if code := realMain([]string{"run", "--once", "--config", cfg}, os.Stderr); code != exitOK {
		t.Fatalf("run --once = %d", code)
	}
	offline, _ := os.ReadFile(local.LogPath(filepath.Join(dir, "state"), 1, "app:offline"))
	online, _ := os.ReadFile(local.LogPath(filepath.Join(dir, "state"), 1, "app:online"))
	if !strings.Contains(string(offline), "Failed to connect") && !strings.Contains(string(offline), "Couldn't connect") {
		t.Errorf("the offline job reached the network:\n%s", offline)
	}
	if strings.Contains(string(online), "connect to") || hits.Load() == 0 {
		t.Errorf("the default job had no network (%d requests):\n%s", hits.Load(), online)
	}
}
