// Command coordinator is Ironworks' release pipeline coordinator.
//
// Exit codes: 0 every gate passed or still waits, 1 some gate failed, 2 or more a usage,
// configuration or infrastructure error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"syscall"

	"github.com/charmbracelet/log"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// Exit codes shared by every subcommand.
const (
	exitOK     = 0
	exitGate   = 1
	exitUsage  = 2
	exitConfig = 3
	exitInfra  = 4
)

// command is one subcommand. Subcommands live in their own files and register
// themselves, so that each concern's CLI sits beside nothing else.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string) int
}

var commands = map[string]*command{}

func register(c *command) { commands[c.name] = c }

func main() {
	os.Exit(realMain(os.Args[1:], os.Stderr))
}

func realMain(args []string, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "coordinator: unknown command %q\n\n", args[0])
		usage(stderr)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return c.run(ctx, args[1:])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: coordinator <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-14s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'coordinator <command> --help' for a command's flags.")
}

// newFlags returns a flag set that prints its usage and summary on --help.
func newFlags(name, summary string) *flag.FlagSet {
	fs := flag.NewFlagSet("coordinator "+name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: coordinator %s [flags]\n\n%s\n\nflags:\n", name, summary)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args and maps --help to exit 0 and bad flags to exitUsage.
func parseFlags(fs *flag.FlagSet, args []string) (code int, ok bool) {
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

// loadConfig reads the configuration, or the embedded default when path is "".
func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, err
		}
		return config.Default(wd)
	}
	return config.Load(path)
}

// openState loads the configuration and opens the store beneath its state_dir.
func openState(ctx context.Context, path string) (*config.Config, *store.Store, error) {
	cfg, err := loadConfig(path)
	if err != nil {
		return nil, nil, err
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	return cfg, st, nil
}

// openStore opens the database beneath state_dir; failing is an
// infrastructure error that names the directory.
func openStore(ctx context.Context, cfg *config.Config) (*store.Store, error) {
	st, err := store.Open(ctx, filepath.Join(cfg.StateDir, "ironworks.db"))
	if err != nil {
		return nil, &infraError{fmt.Errorf("state directory %s: %w", cfg.StateDir, err)}
	}
	return st, nil
}

func newLogger(w io.Writer) *log.Logger {
	l := log.NewWithOptions(w, log.Options{ReportTimestamp: true})
	if os.Getenv("IRONWORKS_DEBUG") != "" {
		l.SetLevel(log.DebugLevel)
	}
	return l
}
