package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/ironworks-ci/ironworks/coordinator/benchqueue"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

func TestBenchAckAndVerdict(t *testing.T) {
	dir := t.TempDir()
	adapters, _ := filepath.Abs("../../../adapters/merkletree")
	cfg := filepath.Join(dir, "ironworks.toml")
	os.WriteFile(cfg, []byte("state_dir = \"state\"\nadapters = [\""+adapters+"\"]\n"), 0o644)
	ctx := context.Background()
	if code := realMain([]string{"bench-ack", "--config", cfg, "--candidate", "c1", "--metric", "m", "--reason", "on purpose", "--by", "eve"}, os.Stderr); code != exitOK {
		t.Fatalf("bench-ack: %d", code)
	}
	st, err := store.Open(ctx, filepath.Join(dir, "state", "ironworks.db"))
	if err != nil {
		t.Fatal(err)
	}
	acks, err := benchqueue.New(st).Acks(ctx, "c1")
	st.Close()
	if err != nil || len(acks) != 1 || acks[0].By != "eve" || acks[0].Reason != "on purpose" {
		t.Fatalf("acks %+v %v", acks, err)
	}
	if code := realMain([]string{"bench-verdict", "--config", cfg, "--candidate", "c1"}, os.Stderr); code != exitOK {
		t.Errorf("bench-verdict without jobs: %d", code)
	}
	for _, args := range [][]string{
		{"bench-ack", "--config", cfg, "--candidate", "c1", "--metric", "m"},
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
