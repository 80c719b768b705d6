package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ironworks-ci/ironworks/coordinator/engine/local"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

func init() {
	register(&command{name: "logs", summary: "print a job's log: logs RUN JOB [--follow]", run: logsCmd})
}

func logsCmd(ctx context.Context, args []string) int {
	fset := newFlags("logs", "Print the log of JOB (component:job, or the job's name when one component of the run has it)\nin run RUN, as the local engine wrote it. --follow keeps printing until the job is over.\nExit 0 printed, 2 usage (no such run or job), 4 the log cannot be read.\n\nusage: coordinator logs RUN JOB [--follow] [--config F]")
	cfgPath := fset.String("config", "", "configuration file (default: the embedded defaults)")
	follow := fset.Bool("follow", false, "keep printing new lines until the job is over")
	fset.BoolVar(follow, "f", false, "short for --follow")
	pos, code, ok := parseInterleaved(fset, args)
	if !ok {
		return code
	}
	if len(pos) != 2 {
		fmt.Fprintln(os.Stderr, "usage: coordinator logs RUN JOB [--follow] [--config F]")
		return exitUsage
	}
	runID, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil || runID <= 0 {
		fmt.Fprintf(os.Stderr, "coordinator logs: run %q is not a run number\n", pos[0])
		return exitUsage
	}
	cfg, st, err := openState(ctx, *cfgPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "coordinator logs:", err)
		return exitFor(err)
	}
	defer st.Close()
	run, err := st.Run(ctx, runID)
	if err != nil {
		fmt.Fprintln(os.Stderr, "coordinator logs:", err)
		return exitUsage
	}
	job, err := resolveJob(run, pos[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "coordinator logs:", err)
		return exitUsage
	}
	path := local.LogPath(cfg.StateDir, runID, job)
	if err := printLog(ctx, os.Stdout, st, run.ID, job, path, *follow); err != nil {
		fmt.Fprintln(os.Stderr, "coordinator logs:", err)
		return exitInfra
	}
	return exitOK
}

// parseInterleaved parses flags that may come before, between or after the
// positional arguments, which it returns.
func parseInterleaved(fset *flag.FlagSet, args []string) (pos []string, code int, ok bool) {
	for {
		if err := fset.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, exitOK, false
			}
			return nil, exitUsage, false
		}
		args = fset.Args()
		if len(args) == 0 {
			return pos, 0, true
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}

// resolveJob finds a job of run by its ID or, when unambiguous, its name.
func resolveJob(run *store.Run, name string) (string, error) {
	var found []string
	for _, j := range run.Jobs {
		if j == name {
			return j, nil
		}
		if _, n, _ := strings.Cut(j, ":"); n == name {
			found = append(found, j)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return "", fmt.Errorf("run %d has no job %q (it has %s)", run.ID, name, strings.Join(run.Jobs, ", "))
	}
	return "", fmt.Errorf("job %q of run %d is ambiguous: %s", name, run.ID, strings.Join(found, ", "))
}

// printLog copies the log at path to w; with follow it waits for the log to
// appear and grow until the job is final and every byte is written.
func printLog(ctx context.Context, w io.Writer, st *store.Store, runID int64, job, path string, follow bool) error {
	var f *os.File
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	for {
		// The state first: what was written before the job turned final is
		// then read below.
		jr, err := st.JobResult(ctx, runID, job)
		if err != nil {
			return err
		}
		final := store.JobFinal(jr.State)
		if f == nil {
			f, err = os.Open(path)
			switch {
			case errors.Is(err, fs.ErrNotExist) && (final || !follow):
				if final {
					msg := fmt.Sprintf("job %s of run %d is %s and left no log at %s", job, runID, jr.State, path)
					if jr.Log != "" {
						msg += "; it was archived as " + jr.Log
					}
					return errors.New(msg)
				}
				return fmt.Errorf("job %s of run %d is %s and has no log yet (at %s); --follow waits for it", job, runID, jr.State, path)
			case errors.Is(err, fs.ErrNotExist):
				f = nil
			case err != nil:
				return err
			}
		}
		if f != nil {
			if _, err := io.Copy(w, f); err != nil {
				return err
			}
		}
		if !follow || final {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(250 * time.Millisecond):
		}
	}
}
