// Command benchkit runs adapters' benchmarks off Hydra, judges them against
// the last release with a two-sample test, and gates promotion on the verdict.
//
// Exit codes (docs/benchkit.md):
//
//	0  no regression (or nothing to judge)
//	1  a regression that nobody acknowledged
//	2  usage or input error (bad flag, bad file: the message names file and field)
//	3  inconclusive: not enough evidence either way, even after confirmation runs
//	4  infrastructure error (the benchmark failed to run, database, network)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

const (
	exitOK           = 0
	exitRegressed    = 1
	exitUsage        = 2
	exitInconclusive = 3
	exitInfra        = 4
)

type command struct {
	name, summary string
	run           func(ctx context.Context, env *env, args []string) int
}

// env is what a command writes to; tests capture it.
type env struct {
	stdout, stderr io.Writer
}

var commands = map[string]*command{}

func register(c *command) { commands[c.name] = c }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(realMain(ctx, os.Args[1:], &env{stdout: os.Stdout, stderr: os.Stderr}))
}

func realMain(ctx context.Context, args []string, e *env) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(e.stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "benchkit: unknown command %q\n\n", args[0])
		usage(e.stderr)
		return exitUsage
	}
	return c.run(ctx, e, args[1:])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: benchkit <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-13s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nExit codes: 0 no regression, 1 regression, 2 usage or input error, 3 inconclusive, 4 infrastructure error.")
	fmt.Fprintln(w, "Run 'benchkit <command> --help' for a command's flags.")
}

func newFlags(e *env, name, summary string) *flag.FlagSet {
	fs := flag.NewFlagSet("benchkit "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: benchkit %s [flags]\n\n%s\n\nflags:\n", name, summary)
		fs.PrintDefaults()
	}
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, false
		}
		return exitUsage, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected arguments: %v\n", fs.Args())
		return exitUsage, false
	}
	return 0, true
}

// required reports the first missing flag among names.
func required(fs *flag.FlagSet, names ...string) bool {
	for _, n := range names {
		if f := fs.Lookup(n); f != nil && f.Value.String() == "" {
			fmt.Fprintf(fs.Output(), "benchkit %s: --%s is required\n", strings.TrimPrefix(fs.Name(), "benchkit "), n)
			return false
		}
	}
	return true
}

// listFlag collects a repeated or comma-separated flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error {
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

// revFlag collects --rev component=sha.
type revFlag map[string]string

func (r revFlag) String() string {
	var parts []string
	for k, v := range r {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func (r revFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" || v == "" {
		return fmt.Errorf("want component=revision, got %q", s)
	}
	r[k] = v
	return nil
}
