package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const goodUp = `name = "up"
repo = "https://example.org/up"
[jobs.build]
stage = "forge"
command = "make"
timeout = "10m"
[jobs.test]
stage = "forge"
needs = ["build"]
command = "make test"
`

const goodDown = `name = "down"
repo = "https://example.org/down"
[[upstream]]
name = "up"
pin = "cargo-patch"
[jobs.build]
stage = "forge"
needs = ["up:build"]
command = "make"
`

// writeSetup writes a configuration and two adapters and loads them.
func writeSetup(t *testing.T, up, down, extra string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{"up": up, "down": down} {
		os.MkdirAll(filepath.Join(dir, name), 0o755)
		os.WriteFile(filepath.Join(dir, name, "adapter.toml"), []byte(body), 0o644)
	}
	cfg := filepath.Join(dir, "ironworks.toml")
	os.WriteFile(cfg, []byte("state_dir = \"state\"\nadapters = [\"up\", \"down\"]\n"+extra), 0o644)
	_, err := Load(cfg)
	return dir, err
}

func TestLoadGood(t *testing.T) {
	dir, err := writeSetup(t, goodUp, goodDown, "[components.up]\nbranch = \"main\"\nbranches = [\"release\"]\n")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Load(filepath.Join(dir, "ironworks.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Order(); strings.Join(got, ",") != "up,down" {
		t.Errorf("order %v", got)
	}
	if got := c.Branches("up"); strings.Join(got, ",") != "main,release" {
		t.Errorf("branches %v", got)
	}
	if j := c.JobsByID["down:build"]; j.Needs[0] != "up:build" || j.Timeout.Duration != DefaultJobTimeout {
		t.Errorf("down:build %+v", j)
	}
	if c.StateDir != filepath.Join(dir, "state") {
		t.Errorf("state dir %q not resolved against the config file", c.StateDir)
	}
}

// Every kind of mistake names the file, the line and the key, and nothing loads.
func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name      string
		up, down  string
		extra     string
		file      string // suffix of the file named
		line      int
		wantParts []string
	}{
		{"unknown key in adapter", strings.Replace(goodUp, `command = "make test"`, "command = \"make test\"\ncomand = \"x\"", 1), goodDown, "", "up/adapter.toml", 11, []string{"jobs.test.comand", "unknown key"}},
		{"unknown stage", strings.Replace(goodUp, `stage = "forge"
command = "make"`, `stage = "frog"
command = "make"`, 1), goodDown, "", "up/adapter.toml", 4, []string{"jobs.build.stage", `unknown stage "frog"`}},
		{"bad duration", strings.Replace(goodUp, `"10m"`, `"ten minutes"`, 1), goodDown, "", "up/adapter.toml", 0, []string{"bad duration"}},
		{"bad cron", goodUp + "schedule = \"61 * * * *\"\n", goodDown, "", "up/adapter.toml", 11, []string{"jobs.test.schedule", "bad cron expression"}},
		{"unknown job in needs", strings.Replace(goodUp, `needs = ["build"]`, `needs = ["biuld"]`, 1), goodDown, "", "up/adapter.toml", 9, []string{"jobs.test.needs", `unknown job "biuld"`}},
		{"unknown upstream", goodUp, strings.Replace(goodDown, `name = "up"`, `name = "upp"`, 1), "", "down/adapter.toml", 3, []string{"upstream", `unknown upstream component "upp"`}},
		{"cycle", strings.Replace(goodUp, "[jobs.build]\nstage = \"forge\"\n", "[jobs.build]\nstage = \"forge\"\nneeds = [\"test\"]\n", 1), goodDown, "", "up/adapter.toml", 5, []string{"cycle: up:build -> up:test -> up:build"}},
		{"unknown pin", goodUp, strings.Replace(goodDown, "cargo-patch", "go-replace", 1), "", "down/adapter.toml", 5, []string{"unknown pin method"}},
		{"unknown key in config", goodUp, goodDown, "[engine]\nflavour = \"x\"\n", "ironworks.toml", 4, []string{"engine.flavour", "unknown key"}},
		{"negative attempts", goodUp, goodDown, "[engine]\nattempts = -1\n", "ironworks.toml", 4, []string{"engine.attempts", "must not be negative"}},
		{"unknown engine", goodUp, goodDown, "[engine]\ndefault = \"k8s\"\n", "ironworks.toml", 4, []string{`unknown engine "k8s"`}},
		{"override of unknown component", goodUp, goodDown, "[components.nope]\nrepo = \"x\"\n", "ironworks.toml", 3, []string{"components.nope", "no adapter"}},
		{"syntax error", goodUp + "[jobs\n", goodDown, "", "up/adapter.toml", 12, []string{}},
		{"needs of a later stage", strings.Replace(goodUp, "[jobs.test]\nstage = \"forge\"", "[jobs.test]\nstage = \"harden\"", 1) + "[jobs.early]\nstage = \"spark\"\nneeds = [\"test\"]\ncommand = \"x\"\n", goodDown, "", "up/adapter.toml", 13, []string{"later stage"}},
		{"manual with schedule", goodUp + "manual = true\nschedule = \"continuous\"\n", goodDown, "", "up/adapter.toml", 11, []string{"manual job cannot also have a schedule"}},
		{"IRONWORKS_ env", goodUp + "env = { IRONWORKS_REV = \"x\" }\n", goodDown, "", "up/adapter.toml", 11, []string{"set by the coordinator"}},
		{"zero timeout", strings.Replace(goodUp, `"10m"`, `"0s"`, 1), goodDown, "", "up/adapter.toml", 6, []string{"jobs.build.timeout", "must be positive"}},
		{"overflowing output_limit", goodUp + "output_limit = \"9999999999GiB\"\n", goodDown, "", "up/adapter.toml", 0, []string{"too large"}},
		{"unknown sandbox", goodUp, goodDown, "[engine]\nsandbox = \"chroot\"\n", "ironworks.toml", 4, []string{"engine.sandbox", `unknown sandbox "chroot"`}},
		{"relative sandbox path", goodUp, goodDown, "[engine]\nsandbox_ro = [\"params\"]\n", "ironworks.toml", 4, []string{"engine.sandbox_ro", "absolute path"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := writeSetup(t, tt.up, tt.down, tt.extra)
			if err == nil {
				t.Fatal("loaded without error")
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.file) {
				t.Errorf("error %q does not name %s", msg, tt.file)
			}
			if tt.line > 0 && !strings.Contains(msg, fmt.Sprintf("%s:%d:", tt.file, tt.line)) {
				t.Errorf("error %q does not point at line %d", msg, tt.line)
			}
			for _, p := range tt.wantParts {
				if !strings.Contains(msg, p) {
					t.Errorf("error %q lacks %q", msg, p)
				}
			}
		})
	}
}

func TestRealAdaptersLoad(t *testing.T) {
	c, err := Default(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"merkletree:build", "merkletree:test", "merkletree:ignored-test", "merkletree:clippy", "merkletree:fmt",
		"rust-fil-proofs:build", "rust-fil-proofs:test", "rust-fil-proofs:test-no-default-features", "rust-fil-proofs:ignored-test",
		"rust-fil-proofs:big-test-32gib", "rust-fil-proofs:big-test-64gib", "rust-fil-proofs:gpu-build"} {
		if c.JobsByID[id] == nil {
			t.Errorf("default config lacks %s", id)
		}
	}
	if j := c.JobsByID["rust-fil-proofs:big-test-64gib"]; !contains(j.Requires, "gpu") || !contains(j.Requires, "big-memory") {
		t.Errorf("64 GiB test requires %v", j.Requires)
	}
	b := c.Loaded["rust-fil-proofs"].Bench["window-post-32gib"]
	if b == nil || b.Metrics["max-resident-set-size-kb"].Threshold.Fraction != 0.03 {
		t.Errorf("window-post-32gib bench: %+v", b)
	}
	if c.Loaded["merkletree"].Repo != "https://github.com/filecoin-project/merkletree" {
		t.Errorf("default does not track the real merkletree: %s", c.Loaded["merkletree"].Repo)
	}
}

// Every bad adapter and the configuration's own problems come in one error.
func TestLoadReportsEveryProblemAtOnce(t *testing.T) {
	up := strings.Replace(goodUp, `stage = "forge"
command = "make"`, `stage = "frog"
command = "make"`, 1)
	down := strings.Replace(goodDown, `command = "make"`, "command = \"make\"\ncomand = \"x\"", 1)
	_, err := writeSetup(t, up, down, "[engine]\nflavour = \"x\"\n")
	if err == nil {
		t.Fatal("loaded without error")
	}
	for _, want := range []string{"up/adapter.toml:4: jobs.build.stage", "down/adapter.toml:", "jobs.build.comand", "ironworks.toml:4: engine.flavour"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func FuzzParseAdapter(f *testing.F) {
	f.Add([]byte(goodUp))
	f.Add([]byte(goodDown))
	for _, name := range []string{"merkletree", "rust-fil-proofs"} {
		if b, err := os.ReadFile(filepath.Join("..", "..", "adapters", name, "adapter.toml")); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("[jobs.x]\nstage = 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := ParseAdapter("fuzz.toml", data)
		if err == nil && (a.Name == "" || len(a.Jobs) == 0) {
			t.Fatalf("accepted an adapter without name or jobs: %+v", a)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "fuzz.toml") {
			t.Fatalf("error does not name the file: %v", err)
		}
	})
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("state_dir = \"s\"\nadapters = [\"embedded:merkletree\"]\n"))
	f.Add([]byte("state_dir = \"s\"\nadapters = [\"embedded:merkletree\", \"embedded:rust-fil-proofs\"]\n[smtp]\nhost = \"h\"\nfrom = \"f\"\ntls = \"x\"\n"))
	f.Add([]byte(DefaultTOML))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.toml", data, t.TempDir())
		if err == nil && (c.StateDir == "" || len(c.Loaded) == 0) {
			t.Fatalf("accepted a config without state_dir or adapters")
		}
	})
}
