package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/ironworks-ci/ironworks/coordinator/benchqueue"
	"os"

	"github.com/ironworks-ci/ironworks/coordinator/forge"
	"github.com/ironworks-ci/ironworks/coordinator/httpretry"
	"github.com/ironworks-ci/ironworks/coordinator/hydra"
	"github.com/ironworks-ci/ironworks/coordinator/release"
)

const promoteSummary = "promote a known-good candidate to temper, or cut a release (tags, release lock, manifest.json)"

func init() {
	register(&command{name: "promote", summary: promoteSummary, run: runPromote})
}

func runPromote(ctx context.Context, args []string) int {
	fs := newFlags("promote", promoteSummary+`

A candidate is known-good when it passed harden (forge when the configuration
has no harden jobs). --to release needs temper passed when there are temper
jobs. Every step is idempotent: re-run after a failure to complete it.
Exit 1 when a gate has not passed (nothing is changed).`)
	cfgPath := fs.String("config", "", "configuration file (default: the embedded default)")
	to := fs.String("to", "", "temper or release")
	cand := fs.String("candidate", "", "candidate id (or unique prefix)")
	latest := fs.Bool("latest-good", false, "use the newest candidate that passed the required stage")
	version := fs.String("version", "", "release version, e.g. v1.2.0 (with --to release)")
	dry := fs.Bool("dry-run", false, "print the plan and change nothing")
	by := fs.String("by", os.Getenv("USER"), "who cuts the release (recorded in the manifest)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *to != "temper" && *to != "release" {
		fmt.Fprintln(os.Stderr, "promote: --to must be temper or release")
		return exitUsage
	}
	if (*cand == "") == !*latest {
		fmt.Fprintln(os.Stderr, "promote: name exactly one of --candidate ID and --latest-good")
		return exitUsage
	}
	if *to == "release" && *version == "" {
		fmt.Fprintln(os.Stderr, "promote: --to release needs --version")
		return exitUsage
	}
	cfg, st, err := openState(ctx, *cfgPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "promote:", err)
		return exitConfig
	}
	defer st.Close()
	o := release.Options{Config: cfg, Store: st, To: *to, Candidate: *cand, Latest: *latest, Version: *version, By: *by, DryRun: *dry, Out: os.Stdout}
	if cfg.Engine.Default == "hydra" && cfg.Hydra != nil {
		if o.Hydra, err = hydra.NewFromConfig(cfg.Hydra, httpretry.Options{}, nil); err != nil {
			fmt.Fprintln(os.Stderr, "promote:", err)
			return exitConfig
		}
	}
	if cfg.GitHub != nil {
		if o.Forge, err = forge.NewFromConfig(cfg.GitHub); err != nil {
			fmt.Fprintln(os.Stderr, "promote:", err)
			return exitConfig
		}
	}
	bench := benchqueue.New(st)
	o.BenchAcks = func(ctx context.Context, candidate string) ([]map[string]any, error) {
		return manifestAcks(ctx, bench, candidate)
	}
	err = release.Run(ctx, o)
	var refusal *release.Refusal
	switch {
	case err == nil:
		if o.To == "release" && !o.DryRun {
			// The released candidate becomes the benchmark baseline.
			rel, err := st.Release(ctx, o.Version)
			if err == nil {
				err = bench.MarkReleased(ctx, rel.Candidate)
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, "promote: marking the benchmark baseline:", err)
				return exitInfra
			}
		}
		return exitOK
	case errors.As(err, &refusal):
		fmt.Fprintln(os.Stderr, "promote:", refusal.Reason)
		return exitGate
	default:
		fmt.Fprintln(os.Stderr, "promote:", err)
		return exitInfra
	}
}
