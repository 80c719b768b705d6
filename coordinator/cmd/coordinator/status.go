package main

import (
	"sort"
	"strings"

	"context"
	"encoding/json"
	"fmt"
	"github.com/ironworks-ci/ironworks/coordinator/config"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/ironworks-ci/ironworks/coordinator/benchqueue"
	"github.com/ironworks-ci/ironworks/coordinator/engine/local"
	"github.com/ironworks-ci/ironworks/coordinator/pipeline"
	"github.com/ironworks-ci/ironworks/coordinator/store"
	"github.com/ironworks-ci/ironworks/coordinator/web"
)

func init() {
	register(&command{name: "status", summary: "show targets, candidates, stages and job results", run: statusCmd})
}

// Status is what `coordinator status --json` prints. Lists are [] when
// empty, never null.
type Status struct {
	Benchmarks []BenchStatus       `json:"benchmarks"`
	Targets    []store.Target      `json:"targets"`
	States     []store.TargetState `json:"states"`
	// Cells are each target's state at each stage as the dashboard shows it:
	// from the newest run of the newest head candidate (never a bisection
	// probe, a pull request's run or a cancelled run), with its verdict word.
	Cells      []TargetCell      `json:"cells"`
	Candidates []CandidateStatus `json:"candidates"`
	// Sandbox is how local jobs are isolated: "bwrap" or "off".
	Sandbox string `json:"sandbox"`
}

// BenchStatus is one bench entry of an adapter, as benchkit will run it.
type BenchStatus struct {
	Component string   `json:"component"`
	Name      string   `json:"name"`
	Stage     string   `json:"stage"`
	Requires  []string `json:"requires"`
	Parser    string   `json:"parser"`
	Repeat    int      `json:"repeat"`
	Metrics   []string `json:"metrics"` // "name (lower, 5%)"
}

// CandidateStatus is a candidate with its runs and promotions.
type CandidateStatus struct {
	*store.Candidate
	Promoted []string    `json:"promoted"`
	Runs     []RunStatus `json:"runs"`
	// Bench is the bench gate's newest verdict, regressions and
	// acknowledgements; absent without bench jobs.
	Bench *benchqueue.Summary `json:"bench,omitempty"`
}

// RunStatus is a run with its job results and, when it is red, why.
type RunStatus struct {
	*store.Run
	Results     []JobStatus      `json:"results"`
	Explanation *web.Explanation `json:"explanation,omitempty"`
	// Hydra is the Hydra engine's evidence of the run's candidate at its
	// stage: lock commit, eval, gate build, each job's build, store paths
	// and products.
	Hydra *store.HydraEval `json:"hydra,omitempty"`
}

// JobStatus is a job result and where its log is.
type JobStatus struct {
	*store.JobResult
	LogPath string `json:"log_path,omitempty"` // the local engine's log file, when there is one
}

// TargetCell is a target's state at one stage.
type TargetCell struct {
	Component string `json:"component"`
	Branch    string `json:"branch"`
	Stage     string `json:"stage"`
	State     string `json:"state"`   // queued | running | done
	Verdict   string `json:"verdict"` // green, incompatible, failed, eval-error, ... ("" until done)
	RunID     int64  `json:"run_id"`
	Candidate string `json:"candidate"`
}

func statusCmd(ctx context.Context, args []string) int {
	fs := newFlags("status", "Show targets, the newest candidates, their stage runs and job results.")
	cfgPath := fs.String("config", "", "configuration file (default: the embedded defaults)")
	asJSON := fs.Bool("json", false, "print JSON")
	limit := fs.Int("limit", 10, "number of candidates to show")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	cfg, st, err := openState(ctx, *cfgPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "coordinator status:", err)
		return exitConfig
	}
	defer st.Close()
	s, err := collectStatus(ctx, st, *limit, cfg.StateDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "coordinator status:", err)
		return exitInfra
	}
	s.Sandbox = cfg.Engine.Sandbox
	for _, stage := range config.Stages {
		for _, b := range benchEntries(cfg, stage) {
			bs := BenchStatus{Component: b.Component, Name: b.Name, Stage: b.Stage, Requires: append([]string{}, b.Requires...), Parser: b.Parser, Repeat: b.Repeat, Metrics: []string{}}
			names := make([]string, 0, len(b.Metrics))
			for m := range b.Metrics {
				names = append(names, m)
			}
			sort.Strings(names)
			for _, m := range names {
				t, _ := b.Metrics[m].Threshold.MarshalText()
				bs.Metrics = append(bs.Metrics, fmt.Sprintf("%s (%s, %s)", m, b.Metrics[m].Direction, t))
			}
			s.Benchmarks = append(s.Benchmarks, bs)
		}
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(s); err != nil {
			return exitInfra
		}
		return exitOK
	}
	printStatus(os.Stdout, s)
	return exitOK
}

func collectStatus(ctx context.Context, st *store.Store, limit int, stateDir string) (*Status, error) {
	s := Status{Benchmarks: []BenchStatus{}, Targets: []store.Target{}, States: []store.TargetState{}, Cells: []TargetCell{}, Candidates: []CandidateStatus{}}
	targets, err := st.Targets(ctx)
	if err != nil {
		return nil, err
	}
	s.Targets = append(s.Targets, targets...)
	states, err := st.TargetStates(ctx)
	if err != nil {
		return nil, err
	}
	s.States = append(s.States, states...)
	latest, err := st.LatestTargetRuns(ctx)
	if err != nil {
		return nil, err
	}
	for _, tr := range latest {
		s.Cells = append(s.Cells, TargetCell{Component: tr.Component, Branch: tr.Branch, Stage: tr.Run.Stage,
			State: tr.Run.State, Verdict: tr.Run.Verdict, RunID: tr.Run.ID, Candidate: tr.Run.Candidate})
	}
	cands, err := headsFirst(ctx, st, limit)
	if err != nil {
		return nil, err
	}
	proms, err := st.Promotions(ctx, "")
	if err != nil {
		return nil, err
	}
	for _, c := range cands {
		cs := CandidateStatus{Candidate: c, Promoted: []string{}, Runs: []RunStatus{}}
		for _, p := range proms {
			if p.Candidate == c.ID {
				cs.Promoted = append(cs.Promoted, p.Stage)
			}
		}
		if cs.Bench, err = benchStatus(ctx, st, c.ID); err != nil {
			return nil, err
		}
		runs, err := st.Runs(ctx, store.RunFilter{Candidate: c.ID})
		if err != nil {
			return nil, err
		}
		for _, r := range runs {
			res, err := st.JobResults(ctx, r.ID)
			if err != nil {
				return nil, err
			}
			rs := RunStatus{Run: r, Results: []JobStatus{}}
			if r.State == store.RunDone {
				rs.Explanation = web.Explain(ctx, st, r)
			}
			for _, j := range res {
				js := JobStatus{JobResult: j}
				if p := local.LogPath(stateDir, r.ID, j.Job); fileExists(p) {
					js.LogPath = p
				}
				rs.Results = append(rs.Results, js)
			}
			if r.Engine == "hydra" {
				if h, err := st.HydraEvalOf(ctx, r.Stage, c.ID); err == nil {
					rs.Hydra = h
				}
			}
			cs.Runs = append(cs.Runs, rs)
		}
		s.Candidates = append(s.Candidates, cs)
	}
	return &s, nil
}

func printStatus(w io.Writer, s *Status) {
	if s.Sandbox == "off" {
		fmt.Fprintln(w, "WARNING: jobs run unsandboxed (engine.sandbox = \"off\"): every job can read the secrets and the state")
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tHEAD\tSTAGE STATES")
	for _, t := range s.Targets {
		states := ""
		for _, c := range s.Cells {
			if c.Component == t.Component && c.Branch == t.Branch {
				states += fmt.Sprintf("%s=%s ", c.Stage, cellWord(c))
			}
		}
		fmt.Fprintf(tw, "%s/%s\t%s\t%s\n", t.Component, t.Branch, store.ShortRev(t.Head), states)
	}
	tw.Flush()
	if len(s.Benchmarks) > 0 {
		fmt.Fprintln(w, "\nBENCHMARK (run by benchkit agents)")
		for _, b := range s.Benchmarks {
			fmt.Fprintf(w, "  %s/%s  %s  requires %v  %s x%d  %s\n", b.Component, b.Name, b.Stage, b.Requires, b.Parser, b.Repeat, strings.Join(b.Metrics, "; "))
		}
	}
	for _, c := range s.Candidates {
		fmt.Fprintf(w, "\ncandidate %s (%s) %s promoted=%v\n", c.ID, c.Origin, c.Short(), c.Promoted)
		printBenchStatus(w, c.Bench)
		for _, r := range c.Runs {
			verdict := r.Verdict
			if e := r.Explanation; e != nil {
				verdict = e.Verdict
			}
			fmt.Fprintf(w, "  run %d %s [%s] %s %s%s%s\n", r.ID, r.Stage, r.Kind, r.State, verdict, pipeline.RetryText(r.Detail), notPromoted(r.Run, c.Promoted))
			if e := r.Explanation; e != nil {
				printExplanation(w, e)
			}
			if f := flakyText(r.Detail); f != "" {
				fmt.Fprintf(w, "    %s\n", f)
			}
			if h := r.Hydra; h != nil {
				fmt.Fprintf(w, "    hydra %s eval %d gate build %d lock %s (%s)\n", h.Jobset, h.EvalID, h.GateBuild, store.ShortRev(h.LockCommit), h.State)
			}
			for _, j := range r.Results {
				d := ""
				if dur := j.Duration(); dur > 0 {
					d = dur.Round(time.Millisecond).String()
				}
				fmt.Fprintf(w, "    %-40s %-12s %8s %s\n", j.Job, j.State, d, j.Reason)
				if j.LogPath != "" {
					fmt.Fprintf(w, "      log %s\n", j.LogPath)
				}
			}
		}
	}
}

// flakyText names the jobs of a run that failed and then passed when run
// again (the run's detail "flaky"); "" when there are none.
func flakyText(detail map[string]any) string {
	l, _ := detail["flaky"].([]any)
	var jobs []string
	for _, j := range l {
		jobs = append(jobs, fmt.Sprint(j))
	}
	if len(jobs) == 0 {
		return ""
	}
	return "flaky: " + strings.Join(jobs, ", ") + " (failed, then passed when run again)"
}
