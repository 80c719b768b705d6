package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/log"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/forge/githubtest"
	"github.com/ironworks-ci/ironworks/coordinator/hydra/hydratest"
	"github.com/ironworks-ci/ironworks/coordinator/internal/fixture"
)

// infra/hydra/spec.json is what `coordinator hydra spec` makes of
// infra/hydra/spec.toml: the same JobsetSpec that `hydra sync` writes.
func TestRepositoryHydraSpecIsGenerated(t *testing.T) {
	out := filepath.Join(t.TempDir(), "spec.json")
	if code := realMain([]string{"hydra", "spec", "--config", "../../../infra/hydra/spec.toml", "--write", out}, os.Stderr); code != exitOK {
		t.Fatalf("hydra spec: exit %d", code)
	}
	got, want := mustRead(t, out), mustRead(t, "../../../infra/hydra/spec.json")
	if !bytes.Equal(got, want) {
		t.Fatalf("infra/hydra/spec.json is not the generator's output; regenerate it:\n  go run ./coordinator/cmd/coordinator hydra spec --config infra/hydra/spec.toml --write infra/hydra/spec.json\ngenerated:\n%s", got)
	}
}

// hydraSyncConfig writes a configuration with the hydra engine whose [hydra]
// is that of infra/hydra/spec.toml but for the server and the password file.
func hydraSyncConfig(t *testing.T, dir, hydraURL, password, extra string) (cfg, pwFile string) {
	t.Helper()
	gh := githubtest.New() // the lock repository's forge; sync never writes there
	t.Cleanup(gh.Close)
	pwFile = filepath.Join(dir, "hydra-password")
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg = filepath.Join(dir, "ironworks.toml")
	body := fmt.Sprintf(`state_dir = %q
adapters = ["embedded:merkletree", "embedded:rust-fil-proofs"]
[engine]
default = "hydra"
[hydra]
url = %q
project = "ironworks"
user = "ironworks"
password_file = %q
lock_repo = "ironworks-ci/ironworks"
[github]
api_url = %q
%s`, filepath.Join(dir, "state"), hydraURL, pwFile, gh.URL(), extra)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg, pwFile
}

// `coordinator hydra sync` against a Hydra that answers as the real one:
// the first run creates the project and the four stage jobsets, whose
// fields are those of the repository's infra/hydra/spec.json; the second
// run reads and writes nothing else; a wrong password, an unreachable
// server, a declarative project that differs and a configuration without
// [hydra] each fail with their exit code and say what to look at.
func TestHydraSyncStory(t *testing.T) {
	coordinator := binaryRun{bin: buildBinary(t)}
	dir := t.TempDir()
	hyd := hydratest.New()
	t.Cleanup(hyd.Close)
	hyd.AddUser("ironworks", "s3cret")
	cfg, pw := hydraSyncConfig(t, dir, hyd.URL(), "s3cret", "")

	code, out, errOut := coordinator.runSplit(t, "hydra", "sync", "--config", cfg)
	if code != exitOK {
		t.Fatalf("first sync: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"project ironworks: created", "jobset ironworks:spark: created", "jobset ironworks:forge: created", "jobset ironworks:harden: created", "jobset ironworks:temper: created"} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("first sync does not say %q:\n%s", want, out)
		}
	}
	if n := hyd.Count("PUT /jobset/{p}/{j}"); n != 4 {
		t.Errorf("%d jobset PUTs, want 4", n)
	}
	if n := hyd.Count("PUT /project/{p}"); n != 1 {
		t.Errorf("%d project PUTs, want 1", n)
	}
	// Each jobset Hydra now holds is the repository's spec.json entry.
	var spec map[string]map[string]any
	if err := json.Unmarshal(mustRead(t, "../../../infra/hydra/spec.json"), &spec); err != nil {
		t.Fatal(err)
	}
	if len(spec) != len(config.Stages) {
		t.Fatalf("spec.json has %d jobsets", len(spec))
	}
	for name, want := range spec {
		got := hyd.JobsetFields("ironworks", name)
		if got == nil {
			t.Errorf("sync did not create jobset %s", name)
			continue
		}
		for k, v := range want {
			switch k {
			case "hidden": // the spec file's hidden is Hydra's visible
				if got["visible"] != !v.(bool) {
					t.Errorf("%s: visible %v, spec.json hidden %v", name, got["visible"], v)
				}
			case "inputs":
			default:
				g, _ := json.Marshal(got[k])
				w, _ := json.Marshal(v)
				if !bytes.Equal(g, w) {
					t.Errorf("%s: %s = %s on Hydra, %s in spec.json", name, k, g, w)
				}
			}
		}
	}

	// Nothing differs: one login and one read per object, no writes.
	hyd.ResetCounts()
	code, out, errOut = coordinator.runSplit(t, "hydra", "sync", "--config", cfg)
	if code != exitOK || strings.Contains(out, "created") || strings.Contains(out, "updated") || strings.Count(out, ": unchanged\n") != 5 {
		t.Fatalf("second sync: exit %d\n%s%s", code, out, errOut)
	}
	if hyd.Count("PUT /jobset/{p}/{j}")+hyd.Count("PUT /project/{p}") != 0 || hyd.Total() != 6 {
		t.Fatalf("second sync made requests %v, want login, the project and 4 jobsets read", hyd.Counts())
	}

	// A jobset changed by hand is put back, and the output says what changed.
	hyd.AddJobset("ironworks", "harden", "github:ironworks-ci/ironworks/harden-lock")
	code, out, _ = coordinator.runSplit(t, "hydra", "sync", "--config", cfg)
	if code != exitOK || !strings.Contains(out, "jobset ironworks:harden: updated (") || !strings.Contains(out, `flake: "github:ironworks-ci/ironworks/harden-lock" -> "github:ironworks-ci/ironworks?ref=harden-lock"`) {
		t.Fatalf("sync after a hand edit: exit %d\n%s", code, out)
	}

	// Wrong password: exit 4 at the login, naming the server and the user.
	os.WriteFile(pw, []byte("wrong\n"), 0o600)
	hyd.ResetCounts()
	code, out, errOut = coordinator.runSplit(t, "hydra", "sync", "--config", cfg)
	if code != exitInfra || !strings.Contains(errOut, hyd.URL()) || !strings.Contains(errOut, `user "ironworks"`) || !strings.Contains(errOut, "refused (403)") || !strings.Contains(errOut, "password_file") {
		t.Fatalf("wrong password: exit %d\n%s%s", code, out, errOut)
	}
	if hyd.Total() != 1 {
		t.Errorf("wrong password: %v, want the login only", hyd.Counts())
	}
	if strings.Contains(errOut, "wrong") {
		t.Errorf("the password leaked: %s", errOut)
	}

	// Unreachable: exit 4 within --timeout, naming the server.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	deadCfg, _ := hydraSyncConfig(t, t.TempDir(), dead, "s3cret", "")
	start := time.Now()
	code, _, errOut = coordinator.runSplit(t, "hydra", "sync", "--config", deadCfg, "--timeout", "2s")
	if code != exitInfra || !strings.Contains(errOut, dead) || time.Since(start) > 20*time.Second {
		t.Fatalf("unreachable Hydra: exit %d after %s\n%s", code, time.Since(start), errOut)
	}

	// A declarative project is compared, never written: a difference is a
	// configuration error that points at the spec file.
	decl := hydratest.New()
	t.Cleanup(decl.Close)
	decl.AddUser("ironworks", "s3cret")
	decl.SetDeclarative("ironworks")
	decl.AddJobset("ironworks", "forge", "github:ironworks-ci/ironworks/forge-lock")
	declCfg, _ := hydraSyncConfig(t, t.TempDir(), decl.URL(), "s3cret", "")
	code, _, errOut = coordinator.runSplit(t, "hydra", "sync", "--config", declCfg)
	if code != exitConfig || !strings.Contains(errOut, "declarative") || !strings.Contains(errOut, "spark: missing") || !strings.Contains(errOut, "coordinator hydra spec") {
		t.Fatalf("declarative project: exit %d\n%s", code, errOut)
	}
	if decl.Count("PUT /project/{p}")+decl.Count("PUT /jobset/{p}/{j}") != 0 {
		t.Fatalf("declarative project written: %v", decl.Counts())
	}

	// Configuration errors: exit 3 naming the file and what is wrong.
	noHydra := filepath.Join(dir, "local.toml")
	os.WriteFile(noHydra, []byte("state_dir = \"s\"\nadapters = [\"embedded:merkletree\"]\n"), 0o600)
	if code, _, errOut := coordinator.runSplit(t, "hydra", "sync", "--config", noHydra); code != exitConfig || !strings.Contains(errOut, noHydra) || !strings.Contains(errOut, "[hydra]") {
		t.Errorf("no [hydra]: exit %d %s", code, errOut)
	}
	badName, _ := hydraSyncConfig(t, t.TempDir(), hyd.URL(), "s3cret", "")
	os.WriteFile(badName, bytes.Replace(mustRead(t, badName), []byte(`project = "ironworks"`), []byte(`project = "iron works"`), 1), 0o600)
	if code, _, errOut := coordinator.runSplit(t, "hydra", "sync", "--config", badName); code != exitConfig || !strings.Contains(errOut, `hydra.project "iron works"`) {
		t.Errorf("bad project name: exit %d %s", code, errOut)
	}
	if code, _, errOut := coordinator.runSplit(t, "hydra", "spec", "--config", noHydra); code != exitConfig || !strings.Contains(errOut, "[hydra]") {
		t.Errorf("hydra spec without [hydra]: exit %d %s", code, errOut)
	}
	if code, _, errOut := coordinator.runSplit(t, "hydra", "spec", "--config", cfg, "--write", filepath.Join(dir, "missing", "spec.json")); code != exitInfra || !strings.Contains(errOut, "missing/spec.json") {
		t.Errorf("hydra spec into a missing folder: exit %d %s", code, errOut)
	}
	if code, out, _ := coordinator.runSplit(t, "hydra", "spec", "--config", cfg); code != exitOK || !bytes.Equal([]byte(out), mustRead(t, "../../../infra/hydra/spec.json")) {
		t.Errorf("hydra spec of a configuration with spec.toml's [hydra]: exit %d\n%s", code, out)
	}
	for _, args := range [][]string{{"hydra"}, {"hydra", "nope"}, {"hydra", "sync", "--bogus"}, {"hydra", "spec", "extra"}} {
		if code, _, _ := coordinator.runSplit(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
	if code, out, errOut := coordinator.runSplit(t, "hydra", "sync", "--help"); code != exitOK || !strings.Contains(out+errOut, "-timeout") {
		t.Errorf("hydra sync --help: exit %d %s%s", code, out, errOut)
	}
}

// serve with the hydra engine syncs the jobsets before it listens; with a
// wrong password it still serves, and /healthz says why it is degraded.
func TestServeSyncsHydraJobsets(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	app := fixture.NewRepo(t, filepath.Join(dir, "src", "app"))
	app.Commit("first", map[string]string{"README": "app\n"})
	os.MkdirAll(filepath.Join(dir, "adapters", "app"), 0o755)
	os.WriteFile(filepath.Join(dir, "adapters", "app", "adapter.toml"), []byte("name = \"app\"\nrepo = \"unused\"\n[jobs.build]\nstage = \"forge\"\ncommand = \"cat README\"\n"), 0o644)
	hyd := hydratest.New()
	t.Cleanup(hyd.Close)
	hyd.AddUser("ironworks", "s3cret")
	cfg, pw := hydraSyncConfig(t, dir, hyd.URL(), "s3cret", "")
	// Only the app component, from its fixture repository.
	body := strings.Replace(string(mustRead(t, cfg)), `adapters = ["embedded:merkletree", "embedded:rust-fil-proofs"]`,
		fmt.Sprintf("adapters = [\"adapters/app\"]\n[components.app]\nrepo = %q", app.URL()), 1)
	os.WriteFile(cfg, []byte(body), 0o600)

	base, cmd := startServe(t, bin, dir, cfg)
	for _, stage := range config.Stages {
		if hyd.JobsetFields("ironworks", stage) == nil {
			t.Errorf("jobset %s does not exist once serve listens", stage)
		}
	}
	if code, body := httpGet(t, base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz %d %s", code, body)
	}
	cmd.Process.Signal(os.Interrupt)
	cmd.Wait()

	os.WriteFile(pw, []byte("wrong\n"), 0o600)
	base, _ = startServe(t, bin, dir, cfg)
	code, body := httpGet(t, base+"/healthz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "hydra sync") || !strings.Contains(body, "refused (403)") || !strings.Contains(body, hyd.URL()) {
		t.Fatalf("/healthz with a wrong Hydra password: %d %s", code, body)
	}
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The background retry heals a failed start sync once Hydra accepts the
// login, and /healthz is healthy again.
func TestStartSyncRetriesUntilHydraAccepts(t *testing.T) {
	dir := t.TempDir()
	hyd := hydratest.New()
	t.Cleanup(hyd.Close)
	hyd.AddUser("ironworks", "s3cret")
	cfgPath, pw := hydraSyncConfig(t, dir, hyd.URL(), "wrong", "")
	cfg, eng, err := configHydraEngine(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	s := &startSync{eng: eng, cfg: cfg, log: log.New(io.Discard)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if s.attempt(ctx, 10*time.Second) || s.health() == nil {
		t.Fatal("a refused login counted as a sync")
	}
	done := make(chan struct{})
	go func() { s.retry(ctx, time.Millisecond, 20*time.Millisecond); close(done) }()
	time.Sleep(50 * time.Millisecond)
	if s.health() == nil {
		t.Fatal("healthy while the password is wrong")
	}
	os.WriteFile(pw, []byte("s3cret\n"), 0o600)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the retry never succeeded")
	}
	if s.health() != nil || hyd.JobsetFields("ironworks", "forge") == nil {
		t.Fatalf("after the retry: %v", s.health())
	}
}
