package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"

	"github.com/ironworks-ci/ironworks/benchkit/gate"
	"github.com/ironworks-ci/ironworks/benchkit/measure"
	"github.com/ironworks-ci/ironworks/benchkit/parse"
	"github.com/ironworks-ci/ironworks/benchkit/results"
	"github.com/ironworks-ci/ironworks/coordinator/config"
)

func init() {
	register(&command{name: "compare", summary: "compare samples: two sample files, or a candidate in the database with its baseline", run: cmdCompare})
}

func cmdCompare(ctx context.Context, e *env, args []string) int {
	fs := newFlags(e, "compare", `Compare a candidate with a baseline, metric by metric (Mann-Whitney U at p < 0.01 and a change of at
least half the threshold). Two modes:

  benchkit compare --baseline A.json --candidate B.json [--threshold 5%] [--higher m1,m2] [--json]
      plain sample files, each {"metric": [samples...]}; lower is better unless the metric is named in
      --higher or its name ends in /s, -per-second or -per-sec.
  benchkit compare --db F --candidate ID --adapter DIR --bench NAME [--host-class H] [--out DIR]
      samples stored by benchkit run; the baseline is the newest released candidate on the host class.

Exit 0 no regression, 1 regression, 3 inconclusive, 2 usage or input error.`)
	baseline := fs.String("baseline", "", "baseline sample file (file mode)")
	candidate := fs.String("candidate", "", "candidate sample file (file mode) or candidate ID (database mode)")
	threshold := fs.String("threshold", "5%", "minimum effect that matters (file mode)")
	var higher listFlag
	fs.Var(&higher, "higher", "metrics where higher is better (file mode; repeatable or comma-separated)")
	asJSON := fs.Bool("json", false, "print JSON instead of text")
	db := fs.String("db", "", "results database (database mode)")
	adapter := fs.String("adapter", "", "adapter directory (database mode)")
	bench := fs.String("bench", "", "bench entry (database mode)")
	hostClass := fs.String("host-class", "", "host class (database mode; default this host's)")
	out := fs.String("out", "", "write report.md, report.json and SVG charts here (database mode)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *candidate == "" {
		fmt.Fprintln(e.stderr, "benchkit compare: --candidate is required")
		return exitUsage
	}
	if *db != "" {
		return compareDB(ctx, e, *db, *candidate, *adapter, *bench, *hostClass, *out, *asJSON)
	}
	if *baseline == "" {
		fmt.Fprintln(e.stderr, "benchkit compare: give --baseline (file mode) or --db (database mode)")
		return exitUsage
	}
	var th config.Percent
	if err := th.UnmarshalText([]byte(*threshold)); err != nil || th.Fraction <= 0 {
		fmt.Fprintf(e.stderr, "benchkit compare: --threshold: bad threshold %q (want a percentage such as 5%%)\n", *threshold)
		return exitUsage
	}
	base, err := samplesOrErr(*baseline)
	if err != nil {
		fmt.Fprintf(e.stderr, "benchkit compare: %v\n", err)
		return exitUsage
	}
	cand, err := samplesOrErr(*candidate)
	if err != nil {
		fmt.Fprintf(e.stderr, "benchkit compare: %v\n", err)
		return exitUsage
	}
	spec := &config.Bench{Metrics: map[string]config.Metric{}}
	var names []string
	for m := range cand {
		if _, ok := base[m]; ok {
			names = append(names, m)
		}
	}
	if len(names) == 0 {
		fmt.Fprintf(e.stderr, "benchkit compare: %s and %s share no metric\n", *baseline, *candidate)
		return exitUsage
	}
	sort.Strings(names)
	for _, m := range names {
		dir := "lower"
		if slices.Contains(higher, m) || parse.HigherIsBetter(m) {
			dir = "higher"
		}
		spec.Metrics[m] = config.Metric{Direction: dir, Threshold: th}
	}
	j := gate.Decide(&gate.Judgement{Candidate: *candidate, Baseline: *baseline}, base, cand, spec, nil)
	if *asJSON {
		b, _ := json.MarshalIndent(j, "", "  ")
		fmt.Fprintln(e.stdout, string(b))
	} else {
		for _, m := range j.Metrics {
			flag := ""
			if m.Borderline {
				flag = " (borderline)"
			}
			fmt.Fprintf(e.stdout, "%-40s %12.6g -> %-12.6g %+7.2f%%  p=%.4f  %s%s\n", m.Metric, m.BaseMedian, m.CandMedian, m.Change*100, m.P, m.Verdict, flag)
		}
		for _, m := range cand.Names() {
			if _, ok := base[m]; !ok {
				fmt.Fprintf(e.stdout, "%-40s only in %s\n", m, *candidate)
			}
		}
	}
	return stateCode(j.State)
}

func compareDB(ctx context.Context, e *env, dbPath, cand, adapter, bench, hostClass, out string, asJSON bool) int {
	if adapter == "" || bench == "" {
		fmt.Fprintln(e.stderr, "benchkit compare: database mode needs --adapter and --bench")
		return exitUsage
	}
	a, err := config.LoadAdapter(adapter)
	if err != nil {
		fmt.Fprintf(e.stderr, "benchkit: %v\n", err)
		return exitUsage
	}
	be, ok := a.Bench[bench]
	if !ok {
		fmt.Fprintf(e.stderr, "benchkit: %s: no [bench.%s]\n", a.File, bench)
		return exitUsage
	}
	db, err := results.Open(ctx, dbPath)
	if err != nil {
		fmt.Fprintf(e.stderr, "benchkit: %v\n", err)
		return exitInfra
	}
	defer db.Close()
	if hostClass == "" {
		hostClass = measure.DetectHost(ctx, measure.FindNvidiaSMI(ctx)).Class()
	}
	j, err := gate.Judge(ctx, db, results.Series{Component: a.Name, Bench: bench, HostClass: hostClass}, cand, be)
	if err != nil {
		fmt.Fprintf(e.stderr, "benchkit: %v\n", err)
		return exitUsage
	}
	if asJSON {
		b, _ := json.MarshalIndent(j, "", "  ")
		fmt.Fprintln(e.stdout, string(b))
		return stateCode(j.State)
	}
	return finish(ctx, e, db, []*gate.Judgement{j}, be, out)
}
