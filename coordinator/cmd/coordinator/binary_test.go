package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// binaryTimeout is how long runBinary lets a command run when its caller
// gives no timeout: longer than any pass of the story tests on a loaded
// machine, shorter than the test binary's own deadline (.ci/test: 30m).
const binaryTimeout = 10 * time.Minute

// binaryRun is one way of running a built command: the coordinator
// (buildBinary), or benchkit (buildBenchkit).
type binaryRun struct {
	bin     string        // the built command
	cfg     string        // appended as --config cfg when set
	dir     string        // the working folder; the test's when empty
	env     []string      // added to the test's environment
	timeout time.Duration // binaryTimeout when zero
}

// run runs the command with args and returns its exit code and its stdout
// and stderr together, interleaved as written. A command that cannot start,
// or runs past the timeout, fails the test.
func (b binaryRun) run(t testing.TB, args ...string) (code int, out string) {
	t.Helper()
	var o bytes.Buffer
	code = b.exec(t, args, &o, &o)
	return code, o.String()
}

// runSplit is run with stdout and stderr apart.
func (b binaryRun) runSplit(t testing.TB, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = b.exec(t, args, &o, &e)
	return code, o.String(), e.String()
}

// exec runs the command writing to stdout and stderr (one buffer for both
// shares one pipe, as CombinedOutput does) and returns its exit code.
func (b binaryRun) exec(t testing.TB, args []string, stdout, stderr *bytes.Buffer) int {
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
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	output := func() string {
		if stdout == stderr {
			return stdout.String()
		}
		return stdout.String() + stderr.String()
	}
	if ctx.Err() != nil {
		t.Fatalf("%s %v ran past %s:\n%s", filepath.Base(b.bin), args, timeout, output())
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %v: %v\n%s", filepath.Base(b.bin), args, err, output())
	}
	return 0
}
