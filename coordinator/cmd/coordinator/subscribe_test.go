package main

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// captureCLI runs the coordinator with args and returns its exit code and
// what it printed to stdout and stderr.
func captureCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	outR, outW, _ := os.Pipe()
	errR, errW, _ := os.Pipe()
	oldOut, oldErr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = outW, errW
	done := make(chan [2]string)
	go func() {
		o, _ := io.ReadAll(outR)
		e, _ := io.ReadAll(errR)
		done <- [2]string{string(o), string(e)}
	}()
	code := realMain(args, errW)
	os.Stdout, os.Stderr = oldOut, oldErr
	outW.Close()
	errW.Close()
	r := <-done
	return code, r[0], r[1]
}

func notifyTestConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	f := filepath.Join(dir, "ironworks.toml")
	os.WriteFile(f, []byte(`state_dir = "state"
adapters = ["embedded:merkletree", "embedded:rust-fil-proofs"]
`), 0o600)
	return f
}

func TestSubscribeCLI(t *testing.T) {
	cfg := notifyTestConfig(t)
	for _, tc := range []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{[]string{"subscribe", "--help"}, exitOK, "", "failure, incompatible"},
		{[]string{"subscribe", "--config", cfg, "--component", "merkletree"}, exitUsage, "", "--email and --component are required"},
		{[]string{"subscribe", "--config", cfg, "--email", "Ops <ops@example.org>", "--component", "merkletree"}, exitUsage, "", "bare address"},
		{[]string{"subscribe", "--config", cfg, "--email", "ops@example.org", "--component", "nope"}, exitUsage, "", `unknown component "nope"`},
		{[]string{"subscribe", "--config", cfg, "--email", "ops@example.org", "--component", "merkletree", "--events", "failure,nope"}, exitUsage, "", `unknown event kind "nope"`},
		{[]string{"subscribe", "--config", filepath.Join(t.TempDir(), "missing.toml"), "--email", "ops@example.org", "--component", "merkletree"}, exitConfig, "", "missing.toml"},
		{[]string{"subscribe", "--config", cfg, "--email", "ops@example.org", "--component", "merkletree", "--branch", "master", "--events", "failure,recovery"}, exitOK, "subscribed ops@example.org to merkletree (branch master): failure,recovery", ""},
		{[]string{"subscribe", "--config", cfg, "--email", "dev@example.org", "--component", "*"}, exitOK, "subscribed dev@example.org to *", ""},
		{[]string{"subscriptions", "--config", cfg}, exitOK, "ops@example.org  merkletree  master  failure,recovery", ""},
		{[]string{"unsubscribe", "--config", cfg, "--email", "nobody@example.org"}, exitUsage, "", "has no subscription"},
		{[]string{"unsubscribe", "--config", cfg, "--email", "ops@example.org", "--component", "merkletree"}, exitOK, "removed 1 subscription(s)", ""},
	} {
		code, out, errOut := captureCLI(t, tc.args...)
		if code != tc.code || !strings.Contains(out, tc.stdout) || !strings.Contains(errOut, tc.stderr) {
			t.Errorf("%v: exit %d\nstdout: %s\nstderr: %s\nwant exit %d, stdout %q, stderr %q", tc.args, code, out, errOut, tc.code, tc.stdout, tc.stderr)
		}
	}
	code, out, _ := captureCLI(t, "subscriptions", "--config", cfg, "--json")
	var subs []map[string]any
	if code != exitOK || json.Unmarshal([]byte(out), &subs) != nil || len(subs) != 1 || subs[0]["email"] != "dev@example.org" {
		t.Fatalf("subscriptions --json: %d %s", code, out)
	}
}
