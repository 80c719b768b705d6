package main

import (
	"fmt"
	"os"
	"testing"
)

// binDir holds the coordinator binary the story tests share (buildBinary).
var binDir string

func TestMain(m *testing.M) {
	var err error
	if binDir, err = os.MkdirTemp("", "coordinator-bin-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(binDir)
	os.Exit(code)
}
