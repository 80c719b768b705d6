package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"
)

// binaryTimeout is how long runBinary lets a command run when its caller
// gives no timeout: longer than any pass of the story tests on a loaded
// machine, shorter than the test binary's own deadline (.ci/test: 30m).
const binaryTimeout = 10 * time.Minute

// binaryRun is one way of running the built coordinator.
type binaryRun struct {
	bin     string        // the built coordinator (buildBinary)
	cfg     string        // appended as --config cfg when set
	dir     string        // the working folder; the test's when empty
	env     []string      // added to the test's environment
	timeout time.Duration // binaryTimeout when zero
}

// run runs the built coordinator with args and returns its exit code and its
// stdout and stderr together. A command that cannot start, or runs past the
// timeout, fails the test.
func (b binaryRun) run(t testing.TB, args ...string) (code int, out string) {
	t.Helper()
	timeout := b.timeout
	if timeout == 0 {
		timeout = binaryTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if b.cfg != "" {
		args = append(args[:len(args):len(args)], "--config", b.cfg)
	}
	cmd := exec.CommandContext(ctx, b.bin, args...)
	cmd.Dir = b.dir
	if b.env != nil {
		cmd.Env = append(os.Environ(), b.env...)
	}
	// Jobs the coordinator started may hold the output open after it was
	// killed; stop waiting for them soon after.
	cmd.WaitDelay = 5 * time.Second
	o, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("coordinator %v ran past %s:\n%s", args, timeout, o)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), string(o)
	} else if err != nil {
		t.Fatalf("coordinator %v: %v\n%s", args, err, o)
	}
	return 0, string(o)
}
