// Package measure runs one benchmark command and measures it from the outside:
// wall time, CPU time and peak memory of its whole process tree, and GPU use
// through nvidia-smi where there is one.
//
// Peak memory is measured two ways, because neither alone is right for every tool:
//
//   - MaxRSSKB is ru_maxrss of the command's process from wait4: Linux folds into
//     it the ru_maxrss of every descendant the command reaped, so it is the peak
//     resident set of the tree's LARGEST single process. It is exact (the kernel
//     tracks it), per run (it comes from waiting for this run's process, unlike
//     getrusage(RUSAGE_CHILDREN) of benchkit, which is the maximum over every
//     child benchkit ever reaped) and it is the figure GNU time reports, which
//     is what benchy's scripts/benchy.sh merges as max-resident-set-size-kb.
//   - TreeRSSPeakKB is the largest SUM of resident sets of every process in the
//     command's process group, sampled from /proc every SampleEvery. It sees
//     concurrent workers that wait4 cannot add up, but it is sampled and misses
//     spikes shorter than the interval, and processes that leave the group
//     (setsid) are not counted.
package measure

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ironworks-ci/ironworks/coordinator/sandbox"
)

// Options configure one run.
type Options struct {
	Command string   // run by sh -c
	Dir     string   // working directory
	Env     []string // the complete environment of the command
	// Sandbox, when set, isolates the command as Spec allows (Spec.Dir is Dir).
	Sandbox *sandbox.Sandbox
	Spec    sandbox.Spec
	Timeout time.Duration
	// Stderr receives the command's standard error (its log); nil discards it.
	Stderr io.Writer
	// StdoutLimit caps the captured standard output (default 64 MiB).
	StdoutLimit int
	// SampleEvery is the /proc sampling interval (default 20ms).
	SampleEvery time.Duration
	// GPU samples the GPU while the command runs; nil means no GPU.
	GPU *NvidiaSMI
}

// Result is what one run measured.
type Result struct {
	Wall          time.Duration `json:"wall"`
	User          time.Duration `json:"user"`
	Sys           time.Duration `json:"sys"`
	MaxRSSKB      int64         `json:"max_rss_kb"`
	TreeRSSPeakKB int64         `json:"tree_rss_peak_kb"`
	ExitCode      int           `json:"exit_code"`
	Stdout        []byte        `json:"-"`
	GPU           *GPUStats     `json:"gpu,omitempty"` // nil: no GPU sampled
}

// ExitError is a command that ran and failed.
type ExitError struct {
	Code     int
	TimedOut bool
}

func (e *ExitError) Error() string {
	if e.TimedOut {
		return "benchmark command timed out"
	}
	return fmt.Sprintf("benchmark command exited with status %d", e.Code)
}

// Run runs o.Command once. A command that exits non-zero returns its Result
// (with what was measured) and an *ExitError.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.StdoutLimit <= 0 {
		o.StdoutLimit = 64 << 20
	}
	if o.SampleEvery <= 0 {
		o.SampleEvery = 20 * time.Millisecond
	}
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	var cmd *exec.Cmd
	if o.Sandbox != nil {
		spec := o.Spec
		spec.Dir = o.Dir
		cmd = o.Sandbox.Command(ctx, spec, "/bin/sh", "-c", o.Command)
	} else {
		cmd = exec.CommandContext(ctx, "/bin/sh", "-c", o.Command)
	}
	cmd.Dir = o.Dir
	cmd.Env = o.Env
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	// A process group of its own, so the tree can be sampled and killed as one.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	stdout := &capped{limit: o.StdoutLimit}
	cmd.Stdout = stdout
	cmd.Stderr = o.Stderr
	if cmd.Stderr == nil {
		cmd.Stderr = io.Discard
	}

	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %q: %w", o.Command, err)
	}
	pgid := cmd.Process.Pid
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var treePeak int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(o.SampleEvery)
		defer t.Stop()
		for {
			if kb := GroupRSSKB(pgid); kb > treePeak {
				treePeak = kb
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	var gpu *GPUStats
	if o.GPU != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			gpu = o.GPU.Sample(ctx, stop)
		}()
	}
	waitErr := cmd.Wait()
	wall := time.Since(start)
	// Orphans left in the group would skew the next run: end them.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	close(stop)
	wg.Wait()

	r := &Result{Wall: wall, TreeRSSPeakKB: treePeak, Stdout: stdout.Bytes(), GPU: gpu}
	if ps := cmd.ProcessState; ps != nil {
		r.ExitCode = ps.ExitCode()
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			r.User = time.Duration(ru.Utime.Nano())
			r.Sys = time.Duration(ru.Stime.Nano())
			r.MaxRSSKB = ru.Maxrss // kilobytes on Linux
		}
	}
	if r.TreeRSSPeakKB < r.MaxRSSKB {
		// The tree held at least its largest process, even between samples.
		r.TreeRSSPeakKB = r.MaxRSSKB
	}
	if ctx.Err() != nil {
		return r, &ExitError{Code: r.ExitCode, TimedOut: errors.Is(ctx.Err(), context.DeadlineExceeded)}
	}
	if waitErr != nil {
		var ee *exec.ExitError
		if errors.As(waitErr, &ee) {
			return r, &ExitError{Code: r.ExitCode}
		}
		return r, fmt.Errorf("wait %q: %w", o.Command, waitErr)
	}
	return r, nil
}

// GroupRSSKB sums the resident set of every process in process group pgid.
func GroupRSSKB(pgid int) int64 {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	page := int64(os.Getpagesize()) / 1024
	var total int64
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// The command name may hold spaces and parentheses: fields start after the last ')'.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		// f[0] state, f[1] ppid, f[2] pgrp, ... f[21] rss (pages)
		if len(f) < 22 {
			continue
		}
		if g, _ := strconv.Atoi(f[2]); g != pgid {
			continue
		}
		rss, _ := strconv.ParseInt(f[21], 10, 64)
		total += rss * page
	}
	return total
}

// capped keeps at most limit bytes and drops the rest, so a runaway tool
// cannot exhaust memory; the parsers read the report near the end, so the
// last bytes are kept.
type capped struct {
	mu    sync.Mutex
	limit int
	buf   []byte
	lost  bool
}

func (c *capped) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf = append(c.buf, p...)
	if len(c.buf) > c.limit {
		c.buf = append(c.buf[:0], c.buf[len(c.buf)-c.limit:]...)
		c.lost = true
	}
	return len(p), nil
}

func (c *capped) Bytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf
}
