package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/ironworks-ci/ironworks/coordinator/benchqueue"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// TestBenchAckAndVerdict: the commands' usage errors, and an acknowledgement
// of a candidate the state does not know, refused without recording it.
func TestBenchAckAndVerdict(t *testing.T) {
	dir := t.TempDir()
	adapters, _ := filepath.Abs("../../../adapters/merkletree")
	cfg := filepath.Join(dir, "ironworks.toml")
	os.WriteFile(cfg, []byte("state_dir = \"state\"\nadapters = [\""+adapters+"\"]\n"), 0o644)
	ctx := context.Background()
	if code := realMain([]string{"bench-ack", "--config", cfg, "--candidate", "c1", "--metric", "m", "--reason", "on purpose", "--by", "eve"}, os.Stderr); code != exitUsage {
		t.Fatalf("bench-ack of an unknown candidate: %d, want %d", code, exitUsage)
	}
	st, err := store.Open(ctx, filepath.Join(dir, "state", "ironworks.db"))
	if err != nil {
		t.Fatal(err)
	}
	acks, err := benchqueue.New(st).Acks(ctx, "c1")
	st.Close()
	if err != nil || len(acks) != 0 {
		t.Fatalf("acks %+v %v", acks, err)
	}
	if code := realMain([]string{"bench-verdict", "--config", cfg, "--candidate", "c1"}, os.Stderr); code != exitOK {
		t.Errorf("bench-verdict without jobs: %d", code)
	}
	for _, args := range [][]string{
		{"bench-ack", "--config", cfg, "--candidate", "c1", "--metric", "m"},
		{"bench-ack", "--config", cfg, "--candidate", "c1", "--metric", "m", "--reason", "  "},
		{"bench-verdict", "--config", cfg},
	} {
		if code := realMain(args, os.Stderr); code != exitUsage {
			t.Errorf("%v: %d, want usage error", args, code)
		}
	}
	if code := realMain([]string{"bench-verdict", "--help"}, os.Stderr); code != exitOK {
		t.Errorf("--help: %d", code)
	}
}
