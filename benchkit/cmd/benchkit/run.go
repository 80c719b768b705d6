package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ironworks-ci/ironworks/benchkit/gate"
	"github.com/ironworks-ci/ironworks/benchkit/parse"
	"github.com/ironworks-ci/ironworks/benchkit/report"
	"github.com/ironworks-ci/ironworks/benchkit/results"
	"github.com/ironworks-ci/ironworks/benchkit/runner"
	"github.com/ironworks-ci/ironworks/benchkit/stats"
	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

const defaultDB = ".benchkit/results.db"

func init() {
	register(&command{name: "run", summary: "run an adapter's bench entry and store its samples", run: cmdRun})
	register(&command{name: "gate", summary: "run, compare with the last release, confirm borderline verdicts; exit 1 on regression", run: cmdGate})
}

// benchFlags are the flags run and gate share.
type benchFlags struct {
	adapter, bench, candidate, db, workdir string
	revs                                   revFlag
	repeat                                 int
}

func (b *benchFlags) add(fs *flag.FlagSet) {
	b.revs = revFlag{}
	fs.StringVar(&b.adapter, "adapter", "", "adapter directory holding adapter.toml (required)")
	fs.StringVar(&b.bench, "bench", "", "name of the [bench.<name>] entry (required)")
	fs.StringVar(&b.candidate, "candidate", "", "candidate ID (default: the hash of the --rev values, as the coordinator computes it)")
	fs.Var(b.revs, "rev", "component=revision of the candidate (repeatable)")
	fs.StringVar(&b.db, "db", defaultDB, "benchkit's SQLite results database")
	fs.StringVar(&b.workdir, "workdir", ".", "directory the command runs in (the component's checkout)")
	fs.IntVar(&b.repeat, "repeat", 0, "measured runs (default: the entry's repeat)")
}

func (b *benchFlags) load(e *env) (*config.Adapter, *config.Bench, string, bool) {
	a, err := config.LoadAdapter(b.adapter)
	if err != nil {
		fmt.Fprintf(e.stderr, "benchkit: %v\n", err)
		return nil, nil, "", false
	}
	be, ok := a.Bench[b.bench]
	if !ok {
		names := make([]string, 0, len(a.Bench))
		for n := range a.Bench {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(e.stderr, "benchkit: %s: no [bench.%s] (entries: %s)\n", a.File, b.bench, strings.Join(names, ", "))
		return nil, nil, "", false
	}
	if b.repeat > 0 {
		be.Repeat = b.repeat
	}
	cand := b.candidate
	if cand == "" {
		if len(b.revs) == 0 {
			fmt.Fprintln(e.stderr, "benchkit: give --candidate or at least one --rev")
			return nil, nil, "", false
		}
		revs := map[string]store.Revision{}
		for c, r := range b.revs {
			revs[c] = store.Revision{Rev: r}
		}
		cand = store.CandidateID(revs)
	}
	return a, be, cand, true
}

func (b *benchFlags) job(a *config.Adapter, be *config.Bench, cand string) runner.Job {
	wd, _ := filepath.Abs(b.workdir)
	return runner.Job{Component: a.Name, Bench: be, Candidate: cand, Revisions: b.revs, Workdir: wd, Kind: "run"}
}

// open checks the entry flags, loads the bench entry and opens the results
// database; a nil database comes with the exit code to return.
func (b *benchFlags) open(ctx context.Context, e *env, fs *flag.FlagSet) (*config.Adapter, *config.Bench, string, *results.DB, int) {
	if !required(fs, "adapter", "bench") {
		return nil, nil, "", nil, exitUsage
	}
	a, be, cand, ok := b.load(e)
	if !ok {
		return nil, nil, "", nil, exitUsage
	}
	db, err := results.Open(ctx, b.db)
	if err != nil {
		fmt.Fprintf(e.stderr, "benchkit: %v\n", err)
		return nil, nil, "", nil, exitInfra
	}
	return a, be, cand, db, exitOK
}

func cmdRun(ctx context.Context, e *env, args []string) int {
	fs := newFlags(e, "run", "Run an adapter's bench entry (warm-up, then repeat measured runs of its command by sh -c in --workdir),\nmeasure wall and CPU time, peak RSS and GPU use, parse the tool's output and store every sample.")
	var b benchFlags
	b.add(fs)
	asJSON := fs.Bool("json", false, "print the samples as JSON")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	a, be, cand, db, code := b.open(ctx, e, fs)
	if db == nil {
		return code
	}
	defer db.Close()
	r := runner.New(ctx, e.stderr)
	s, err := r.RunAndStore(ctx, db, b.job(a, be, cand), max(be.Repeat, 1), true)
	if err != nil {
		fmt.Fprintf(e.stderr, "benchkit: %v\n", err)
		return exitInfra
	}
	if *asJSON {
		out, _ := json.MarshalIndent(map[string]any{"candidate": cand, "host": r.Host, "host_class": r.Host.Class(), "samples": s}, "", "  ")
		fmt.Fprintln(e.stdout, string(out))
		return exitOK
	}
	fmt.Fprintf(e.stdout, "candidate %s on host class %s (%s)\n", cand, r.Host.Class(), r.Host)
	for _, m := range s.Names() {
		fmt.Fprintf(e.stdout, "  %-40s median %-12.6g n=%d\n", m, stats.Median(s[m]), len(s[m]))
	}
	return exitOK
}

func cmdGate(ctx context.Context, e *env, args []string) int {
	fs := newFlags(e, "gate", "Run the bench entry for a candidate, compare it with the newest released candidate on this host class,\nand while a gating metric is inconclusive or borderline run more (up to --budget samples). With\n--baseline-workdir the baseline is measured side by side instead: interleaved rounds of both (AB BA ...),\nso host states and drift hit both alike. Exit 0 pass, 1 regression, 3 inconclusive.")
	var b benchFlags
	b.add(fs)
	budget := fs.Int("budget", 0, "candidate samples the confirmation runs may reach (default 4x repeat)")
	out := fs.String("out", "", "write report.md, report.json and one SVG chart per metric here")
	baseDir := fs.String("baseline-workdir", "", "measure the baseline side by side: its checkout, run in interleaved rounds with the candidate's")
	baseCand := fs.String("baseline-candidate", "", "with --baseline-workdir: the baseline's candidate ID (default: the hash of its --baseline-rev values)")
	baseRevs := revFlag{}
	fs.Var(baseRevs, "baseline-rev", "with --baseline-workdir: component=revision of the baseline (repeatable)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	a, be, cand, db, code := b.open(ctx, e, fs)
	if db == nil {
		return code
	}
	defer db.Close()
	r := runner.New(ctx, e.stderr)
	var j *gate.Judgement
	var err error
	if *baseDir != "" {
		base := benchFlags{adapter: b.adapter, bench: b.bench, candidate: *baseCand, revs: baseRevs, workdir: *baseDir}
		_, _, baseID, ok := base.load(e)
		if !ok {
			return exitUsage
		}
		if baseID == cand {
			fmt.Fprintf(e.stderr, "benchkit gate: the baseline and the candidate are the same candidate %s\n", cand)
			return exitUsage
		}
		j, err = r.SideBySide(ctx, db, base.job(a, be, baseID), b.job(a, be, cand), *budget)
	} else {
		j, err = r.Gate(ctx, db, b.job(a, be, cand), *budget)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "benchkit: %v\n", err)
		return exitInfra
	}
	return finish(ctx, e, db, []*gate.Judgement{j}, be, *out)
}

// finish prints and writes the report and maps its state to the exit code.
func finish(ctx context.Context, e *env, db *results.DB, js []*gate.Judgement, be *config.Bench, out string) int {
	cand := js[0].Candidate
	acks, err := db.Acks(ctx, cand)
	if err != nil {
		fmt.Fprintf(e.stderr, "benchkit: %v\n", err)
		return exitInfra
	}
	rep := report.New(cand, js, acks)
	fmt.Fprint(e.stdout, rep.Markdown())
	if out != "" {
		if err := writeReport(ctx, db, rep, be, out); err != nil {
			fmt.Fprintf(e.stderr, "benchkit: %v\n", err)
			return exitInfra
		}
	}
	return stateCode(rep.State)
}

func stateCode(state string) int {
	switch state {
	case gate.Fail:
		return exitRegressed
	case gate.Inconclusive:
		return exitInconclusive
	}
	return exitOK
}

// writeReport writes the Markdown, JSON and per-metric SVG trend charts.
func writeReport(ctx context.Context, db *results.DB, rep *report.Report, be *config.Bench, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	js, err := rep.JSON()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "report.json"), js, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "report.md"), []byte(rep.Markdown()), 0o644); err != nil {
		return err
	}
	for _, j := range rep.Judgements {
		for _, m := range j.Metrics {
			pts, err := db.Trend(ctx, j.Series, m.Metric, 20)
			if err != nil {
				return err
			}
			spec, _ := gate.Spec(be, m.Metric)
			name := fileName(j.Series.Bench + "-" + m.Metric + ".svg")
			if err := os.WriteFile(filepath.Join(dir, name), []byte(report.SVG(m.Metric, pts, m.BaseMedian, spec.Threshold)), 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

func fileName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

// samplesOrErr reads a sample file for compare, naming the file on error.
func samplesOrErr(path string) (parse.Samples, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, errors.Unwrap(err))
	}
	return parse.SampleFile(path, data)
}
