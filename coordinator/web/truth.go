package web

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/source"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// Explanation is what a red run tells people beyond its verdict word: whose
// code, which job, and for an incompatibility the culprit commit, the
// upstream range since the last compatible pair and the probes that tried it.
type Explanation struct {
	Verdict     string         `json:"verdict"`
	Upstream    string         `json:"upstream,omitempty"`
	Downstream  string         `json:"downstream,omitempty"`
	Component   string         `json:"component,omitempty"`
	FailedJob   string         `json:"failed_job,omitempty"`
	Reason      string         `json:"reason,omitempty"`
	Culprit     *source.Commit `json:"culprit,omitempty"`
	Unconfirmed bool           `json:"culprit_unconfirmed,omitempty"`
	Range       *CommitRange   `json:"upstream_range,omitempty"`
	Bisect      string         `json:"bisect,omitempty"` // the bisection's own words
	Probes      []Probe        `json:"probes"`
}

// CommitRange is the upstream commits since the last compatible pair.
type CommitRange struct {
	From    string          `json:"from"`
	To      string          `json:"to"`
	Count   int             `json:"count"`
	Commits []source.Commit `json:"commits"` // newest first
}

// Probe is one upstream commit of the range tried with the run's downstream:
// by the run itself, a bisection probe or a confirmation.
type Probe struct {
	Rev     string `json:"rev"`
	Subject string `json:"subject"`
	Verdict string `json:"verdict"` // green, incompatible, failed, ... or "" when not tried
	RunID   int64  `json:"run_id,omitempty"`
	Culprit bool   `json:"culprit,omitempty"`
}

// Sentence is the explanation in one line, as the CLI prints it.
func (e *Explanation) Sentence() string {
	s := e.Verdict
	switch {
	case e.Upstream != "" && e.Downstream != "" && e.Verdict == store.VerdictUpstreamBroken:
		s = fmt.Sprintf("%s: %s is broken, %s not tried", e.Verdict, e.Upstream, e.Downstream)
	case e.Upstream != "" && e.Downstream != "":
		s = fmt.Sprintf("%s: %s with %s", e.Verdict, e.Downstream, e.Upstream)
	case e.Component != "":
		s = fmt.Sprintf("%s: %s", e.Verdict, e.Component)
	}
	if e.FailedJob != "" {
		s += " (" + e.FailedJob + ")"
	}
	if c := e.Culprit; c != nil {
		s += fmt.Sprintf("; culprit %s %q by %s", store.ShortRev(c.Rev), c.Subject, c.Author)
		if e.Unconfirmed {
			s += " (NOT confirmed)"
		}
	}
	if r := e.Range; r != nil && r.From != "" {
		s += fmt.Sprintf("; %s %s..%s (%d commits since the last compatible pair)", e.Upstream, store.ShortRev(r.From), store.ShortRev(r.To), r.Count)
	}
	tried := 0
	for _, p := range e.Probes {
		if p.Verdict != "" {
			tried++
		}
	}
	if tried > 0 {
		s += fmt.Sprintf("; %d of them tried", tried)
	}
	return s
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

func commitOf(v any) *source.Commit {
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	c := &source.Commit{Rev: str(m, "rev"), Subject: str(m, "subject"), Author: str(m, "author")}
	if c.Rev == "" {
		return nil
	}
	return c
}

// Explain reads a finished run's detail; nil for runs that need no explaining.
func Explain(ctx context.Context, st *store.Store, run *store.Run) *Explanation {
	switch run.Verdict {
	case "", store.VerdictGreen, store.VerdictCancelled, store.VerdictWaiting:
		return nil
	}
	d := run.Detail
	e := &Explanation{Verdict: run.Verdict, Upstream: str(d, "upstream"), Downstream: str(d, "downstream"),
		Component: str(d, "component"), FailedJob: str(d, "failed_job"), Reason: str(d, "reason"),
		Culprit: commitOf(d["culprit"]), Probes: []Probe{}}
	e.Unconfirmed, _ = d["culprit_unconfirmed"].(bool)
	switch b := d["bisect"].(type) {
	case string:
		e.Bisect = b
	case map[string]any:
		e.Bisect = str(b, "result")
		if e.Bisect == "" {
			if n, ok := b["probes"].(float64); ok {
				e.Bisect = fmt.Sprintf("found in %d probes among %v commits", int(n), b["commits"])
			}
		}
	}
	r, ok := d["upstream_range"].(map[string]any)
	if !ok {
		return e
	}
	e.Range = &CommitRange{From: str(r, "from"), To: str(r, "to")}
	if list, ok := r["commits"].([]any); ok {
		for i := len(list) - 1; i >= 0; i-- {
			if c := commitOf(list[i]); c != nil {
				e.Range.Commits = append(e.Range.Commits, *c)
			}
		}
	}
	e.Range.Count = len(e.Range.Commits)
	if n, ok := r["count"].(float64); ok {
		e.Range.Count = int(n)
	}
	cand, err := st.Candidate(ctx, run.Candidate)
	if err != nil || e.Upstream == "" || e.Downstream == "" {
		return e
	}
	downRev := cand.Revisions[e.Downstream].Rev
	recs, err := st.CompatRecords(ctx, e.Upstream, e.Downstream)
	if err != nil {
		return e
	}
	byRev := map[string]store.CompatRecord{}
	for _, rec := range recs {
		if rec.DownstreamRev == downRev {
			if _, seen := byRev[rec.UpstreamRev]; !seen {
				byRev[rec.UpstreamRev] = rec
			}
		}
	}
	for _, c := range e.Range.Commits {
		p := Probe{Rev: c.Rev, Subject: c.Subject}
		if rec, ok := byRev[c.Rev]; ok {
			p.Verdict, p.RunID = rec.Verdict, rec.RunID
		}
		p.Culprit = e.Culprit != nil && e.Culprit.Rev == c.Rev
		e.Probes = append(e.Probes, p)
	}
	return e
}

// jobOrder sorts a run's jobs in pipeline order: components upstream first,
// and within one the jobs after those they need (ties by name).
func jobOrder(cfg *config.Config, jobs []*JobView) {
	rank := map[string]int{}
	n := 0
	for _, st := range append(slices.Clone(config.Stages), "stamp") {
		stageJobs := cfg.StageJobs(st)
		done := map[string]bool{}
		var visit func(j *config.Job)
		visit = func(j *config.Job) {
			if done[j.ID()] {
				return
			}
			done[j.ID()] = true
			for _, need := range j.Needs {
				if nj := cfg.JobsByID[need]; nj != nil && nj.Stage == st {
					visit(nj)
				}
			}
			if _, ok := rank[j.ID()]; !ok {
				rank[j.ID()] = n
				n++
			}
		}
		for _, j := range stageJobs {
			visit(j)
		}
	}
	sort.SliceStable(jobs, func(a, b int) bool {
		ra, oka := rank[jobs[a].Job]
		rb, okb := rank[jobs[b].Job]
		switch {
		case oka && okb:
			return ra < rb
		case oka != okb:
			return oka
		}
		return jobs[a].Job < jobs[b].Job
	})
}

// promotable lists the stages an operator can ask to promote a candidate
// to: a stage it has not passed whose previous stage it has passed (spark
// and forge need nothing before them), and the next one, the default.
func promotable(cand string, proms []*store.Promotion) (stages []string, next string) {
	passed := map[string]bool{}
	for _, p := range proms {
		if p.Candidate == cand {
			passed[p.Stage] = true
		}
	}
	for i, st := range config.Stages {
		if passed[st] {
			continue
		}
		if i == 0 || st == "forge" || passed[config.Stages[i-1]] {
			stages = append(stages, st)
		}
	}
	for i := len(config.Stages) - 1; i >= 0; i-- {
		if passed[config.Stages[i]] {
			if i+1 < len(config.Stages) {
				next = config.Stages[i+1]
			}
			return stages, next
		}
	}
	if len(stages) > 0 {
		next = stages[0]
		if slices.Contains(stages, "forge") {
			next = "forge" // spark is for pull requests; a head candidate goes to forge first
		}
	}
	return stages, next
}

// describe returns the subject and author of a commit from the mirrors, or
// an empty commit when no mirror holds it.
func (s *Server) describe(ctx context.Context, comp, rev string) source.Commit {
	if s.opts.Mirrors == nil || rev == "" {
		return source.Commit{Rev: rev}
	}
	c, err := s.opts.Mirrors.Describe(ctx, comp, rev)
	if err != nil {
		return source.Commit{Rev: rev}
	}
	return c
}

// CompatView is the compatibility of every upstream -> downstream pair: the
// upstream's commits, newest first, against the downstream revisions built
// with them.
type CompatView struct {
	Pairs []CompatPair `json:"pairs"`
}

// CompatPair is one upstream -> downstream grid.
type CompatPair struct {
	Upstream   string          `json:"upstream"`
	Downstream string          `json:"downstream"`
	Columns    []source.Commit `json:"downstream_revs"` // newest first
	Rows       []CompatRow     `json:"upstream_commits"`
	// Since is, for the newest downstream revision, the oldest upstream
	// commit of the failing stretch at the top of the history (nil when the
	// newest pair built passes); LastGood the newest passing one below it.
	Since    *source.Commit `json:"broken_since,omitempty"`
	LastGood *source.Commit `json:"last_compatible,omitempty"`
}

// CompatRow is one upstream commit and its result with each downstream column.
type CompatRow struct {
	source.Commit
	Cells []CompatCell `json:"cells"`
}

// CompatCell is the result of one exact pair.
type CompatCell struct {
	DownstreamRev string `json:"downstream_rev"`
	Verdict       string `json:"verdict,omitempty"` // "" when the pair was never built
	Status        string `json:"status"`
	RunID         int64  `json:"run_id,omitempty"`
	Candidate     string `json:"candidate,omitempty"`
}

const (
	compatRows    = 30
	compatColumns = 8
)

func (s *Server) compatView(ctx context.Context) (*CompatView, error) {
	v := &CompatView{Pairs: []CompatPair{}}
	targets, err := s.st.Targets(ctx)
	if err != nil {
		return nil, err
	}
	head := map[string]string{}
	for _, t := range targets {
		if a := s.cfg.Loaded[t.Component]; a != nil && a.Branch == t.Branch {
			head[t.Component] = t.Head
		}
	}
	for _, down := range s.cfg.Order() {
		for _, u := range s.cfg.Loaded[down].Upstream {
			p, err := s.compatPair(ctx, u.Name, down, head[u.Name])
			if err != nil {
				return nil, err
			}
			v.Pairs = append(v.Pairs, *p)
		}
	}
	return v, nil
}

func (s *Server) compatPair(ctx context.Context, up, down, upHead string) (*CompatPair, error) {
	p := &CompatPair{Upstream: up, Downstream: down, Columns: []source.Commit{}, Rows: []CompatRow{}}
	recs, err := s.st.CompatRecords(ctx, up, down)
	if err != nil {
		return nil, err
	}
	cell := map[[2]string]store.CompatRecord{}
	var cols []string
	var upRevs []string
	for _, r := range recs { // newest first
		k := [2]string{r.UpstreamRev, r.DownstreamRev}
		if _, ok := cell[k]; !ok {
			cell[k] = r
		}
		if !slices.Contains(cols, r.DownstreamRev) {
			cols = append(cols, r.DownstreamRev)
		}
		if !slices.Contains(upRevs, r.UpstreamRev) {
			upRevs = append(upRevs, r.UpstreamRev)
		}
	}
	if len(cols) > compatColumns {
		cols = cols[:compatColumns]
	}
	for _, c := range cols {
		p.Columns = append(p.Columns, s.describe(ctx, down, c))
	}
	var commits []source.Commit
	if s.opts.Mirrors != nil && upHead != "" {
		commits, _ = s.opts.Mirrors.Log(ctx, up, upHead, compatRows)
	}
	if len(commits) == 0 {
		// No mirror here: the recorded upstream revisions, newest record first.
		for _, r := range upRevs {
			commits = append(commits, source.Commit{Rev: r})
		}
		if len(commits) > compatRows {
			commits = commits[:compatRows]
		}
	}
	runCand := map[int64]string{}
	for _, c := range commits {
		row := CompatRow{Commit: c}
		for _, col := range cols {
			cc := CompatCell{DownstreamRev: col, Status: stNone}
			if r, ok := cell[[2]string{c.Rev, col}]; ok {
				cc.Verdict, cc.RunID = r.Verdict, r.RunID
				cc.Status = stRed
				if r.Verdict == store.VerdictGreen {
					cc.Status = stGreen
				}
				if _, ok := runCand[r.RunID]; !ok {
					if run, err := s.st.Run(ctx, r.RunID); err == nil {
						runCand[r.RunID] = run.Candidate
					}
				}
				cc.Candidate = runCand[r.RunID]
			}
			row.Cells = append(row.Cells, cc)
		}
		p.Rows = append(p.Rows, row)
	}
	for _, row := range p.Rows {
		if len(row.Cells) == 0 || row.Cells[0].Verdict == "" {
			continue
		}
		if row.Cells[0].Status == stGreen {
			if p.Since != nil {
				c := row.Commit
				p.LastGood = &c
			}
			break
		}
		c := row.Commit
		p.Since = &c
	}
	return p, nil
}

func (s *Server) compatPage(w http.ResponseWriter, r *http.Request) {
	v, err := s.compatView(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "compat", "Compatibility", v)
}

func (s *Server) apiCompat(w http.ResponseWriter, r *http.Request) {
	v, err := s.compatView(r.Context())
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// estimate gives running jobs the duration of their previous finished run.
func (s *Server) estimate(ctx context.Context, r *store.Run, jobs []*JobView) {
	for _, j := range jobs {
		if j.State != store.JobRunning && j.State != store.JobPending {
			continue
		}
		if d, err := s.st.PreviousDuration(ctx, j.Job, r.ID); err == nil && d > 0 {
			j.Estimate = "~" + fmtDuration(d)
		}
	}
}

// checkFilter refuses history filters that can match nothing because they
// name no stage, verdict, run state or component this coordinator knows.
func (s *Server) checkFilter(f store.HistoryFilter) error {
	if f.Stage != "" && f.Stage != "stamp" && config.StageIndex(f.Stage) < 0 {
		return badRequest("stage %q: want one of %s, stamp", f.Stage, strings.Join(config.Stages, ", "))
	}
	verdicts := []string{store.VerdictGreen, store.VerdictFailed, store.VerdictUpstreamBroken, store.VerdictIncompatible,
		store.VerdictNotAccepted, store.VerdictInfraError, store.VerdictWaiting, store.VerdictCancelled,
		store.VerdictTimeout, store.VerdictAdapterError, store.VerdictEvalError}
	if f.Verdict != "" && !slices.Contains(verdicts, f.Verdict) {
		return badRequest("verdict %q: want one of %s", f.Verdict, strings.Join(verdicts, ", "))
	}
	states := []string{store.RunQueued, store.RunRunning, store.RunDone, store.RunCancelled}
	if f.State != "" && !slices.Contains(states, f.State) {
		return badRequest("state %q: want one of %s", f.State, strings.Join(states, ", "))
	}
	if f.Component != "" && s.cfg.Loaded[f.Component] == nil {
		return badRequest("component %q: want one of %s", f.Component, strings.Join(s.cfg.Order(), ", "))
	}
	return nil
}

// BenchRun is one bench job of a candidate as benchkit agents see it.
type BenchRun struct {
	Component string    `json:"component"`
	Bench     string    `json:"bench"`
	Round     int       `json:"round"` // 0 the first run, 1.. confirmation runs, < 0 a bisection
	State     string    `json:"state"` // queued | leased | done | failed
	Agent     string    `json:"agent,omitempty"`
	Attempt   int       `json:"attempt"`
	Error     string    `json:"error,omitempty"`
	Queued    time.Time `json:"queued_at"`
	Finished  time.Time `json:"finished_at,omitzero"`
	// Took is from queued to measured: queue wait, checkout and the runs.
	Took string `json:"took,omitempty"`
}

// BenchPanel is a candidate's benchmarks on its page: the bench gate's
// verdict (pass, fail, or pending while jobs are open or the gate has not
// decided) and every bench job.
type BenchPanel struct {
	Verdict string     `json:"verdict"`
	Runs    []BenchRun `json:"runs"`
	// Acks are the regressions maintainers accepted (coordinator bench-ack):
	// they no longer fail the gate.
	Acks []BenchAck `json:"acks"`
}

// BenchAck is an acknowledged regression of a candidate.
type BenchAck struct {
	Metric string    `json:"metric"`
	Where  string    `json:"where"`  // component/bench entries it regressed in
	Change string    `json:"change"` // "+10.00%", "" when no stored verdict names it
	By     string    `json:"by"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// BenchJobs reads a candidate's bench jobs and verdict (the coordinator's
// bench queue implements it).
type BenchJobs interface {
	BenchPanel(ctx context.Context, candidate string) (*BenchPanel, error)
}
