package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ironworks-ci/ironworks/coordinator/internal/fixture"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

func TestPromoteCLI(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "merkletree")
	rev := fixture.NewRepo(t, src).Commit("c", map[string]string{"f": "1"})
	cfg := filepath.Join(dir, "ironworks.toml")
	state := filepath.Join(dir, "state")
	os.WriteFile(cfg, []byte(fmt.Sprintf("state_dir = %q\nadapters = [\"embedded:merkletree\"]\n[components.merkletree]\nrepo = %q\n", state, "file://"+src)), 0o644)
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(state, "ironworks.db"))
	if err != nil {
		t.Fatal(err)
	}
	good, _ := st.PutCandidate(ctx, map[string]store.Revision{"merkletree": {Repo: "file://" + src, Rev: rev}}, "head", 0)
	st.Promote(ctx, &store.Promotion{Candidate: good.ID, Stage: "harden"}, nil)
	bad, _ := st.PutCandidate(ctx, map[string]store.Revision{"merkletree": {Repo: "file://" + src, Rev: strings.Repeat("0", 40)}}, "head", 0)
	st.Close()

	cases := []struct {
		args []string
		code int
	}{
		{[]string{"promote", "--help"}, exitOK},
		{[]string{"promote", "--config", cfg}, exitUsage},
		{[]string{"promote", "--config", cfg, "--to", "release", "--latest-good"}, exitUsage},
		{[]string{"promote", "--config", cfg, "--to", "release", "--candidate", bad.ID, "--version", "v1.0.0"}, exitGate},
		{[]string{"promote", "--config", filepath.Join(dir, "missing.toml"), "--to", "temper", "--latest-good"}, exitConfig},
		{[]string{"promote", "--config", cfg, "--to", "release", "--latest-good", "--version", "v1.0.0", "--dry-run"}, exitOK},
		{[]string{"promote", "--config", cfg, "--to", "temper", "--latest-good"}, exitOK},
		// No benchmark measured it: nothing to acknowledge (the story of an
		// acknowledged regression is TestBenchAckLetsAcceptedRegressionThrough).
		{[]string{"bench-ack", "--config", cfg, "--candidate", good.ID, "--metric", "max-resident-set-size-kb", "--reason", "bigger trees on purpose", "--by", "dave"}, exitUsage},
		{[]string{"promote", "--config", cfg, "--to", "release", "--latest-good", "--version", "v1.0.0", "--by", "carol"}, exitOK},
	}
	for _, tc := range cases {
		var stderr bytes.Buffer
		if code := realMain(tc.args, &stderr); code != tc.code {
			t.Errorf("%v: exit %d, want %d", tc.args, code, tc.code)
		}
	}
	b, err := os.ReadFile(filepath.Join(state, "releases", "v1.0.0", "manifest.json"))
	if err != nil || !strings.Contains(string(b), `"by": "carol"`) || !strings.Contains(string(b), good.ID) {
		t.Fatalf("manifest: %s %v", b, err)
	}
	if !strings.Contains(string(b), `"bench_acks": []`) {
		t.Fatalf("manifest carries a refused acknowledgement: %s", b)
	}
}
