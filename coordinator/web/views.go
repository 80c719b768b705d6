package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/ironworks-ci/ironworks/coordinator/forge"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// Status classes shared by cells, runs and jobs; CSS colours them and the
// label always says the same in words.
const (
	stGreen     = "green"
	stRed       = "red"
	stRunning   = "running"
	stWaiting   = "waiting"
	stCancelled = "cancelled"
	stNone      = "none"
)

// runStatus classifies a run for display.
func runStatus(r *store.Run) (status, label string) {
	switch r.State {
	case store.RunQueued:
		return stWaiting, "queued"
	case store.RunRunning:
		return stRunning, "running"
	case store.RunCancelled:
		return stCancelled, "cancelled"
	}
	switch r.Verdict {
	case store.VerdictGreen:
		return stGreen, "passed"
	case store.VerdictWaiting:
		return stWaiting, "waiting for worker"
	case store.VerdictCancelled:
		return stCancelled, "cancelled"
	case "":
		return stRed, "failed"
	}
	return stRed, r.Verdict
}

func jobStatus(state string) string {
	switch state {
	case store.JobSuccess:
		return stGreen
	case store.JobSkipped, store.JobCancelled:
		return stCancelled
	case store.JobRunning:
		return stRunning
	case store.JobPending, store.JobWaiting:
		return stWaiting
	}
	return stRed
}

// lastChange is when a run last changed state.
func lastChange(r *store.Run) time.Time {
	for _, t := range []time.Time{r.FinishedAt, r.StartedAt} {
		if !t.IsZero() {
			return t
		}
	}
	return r.CreatedAt
}

// Cell is one (target, stage) square of the dashboard.
type Cell struct {
	Stage     string    `json:"stage"`
	Status    string    `json:"status"` // green | red | running | waiting | cancelled | none
	Label     string    `json:"label"`
	RunID     int64     `json:"run_id,omitempty"`
	Candidate string    `json:"candidate,omitempty"`
	Changed   time.Time `json:"changed,omitzero"`
	Progress  string    `json:"progress,omitempty"` // "3/5 jobs" while running
}

// Row is one target of the dashboard.
type Row struct {
	Component string    `json:"component"`
	Branch    string    `json:"branch"`
	Head      string    `json:"head"`
	HeadAt    time.Time `json:"head_updated_at,omitzero"`
	Cells     []Cell    `json:"cells"`
}

// Dashboard is the front page: targets by stages, and what is in flight.
type Dashboard struct {
	Stages  []string   `json:"stages"`
	Rows    []Row      `json:"rows"`
	Active  []*RunView `json:"active"`
	Queued  int        `json:"queued"`
	Running int        `json:"running"`
	BuiltAt time.Time  `json:"built_at"`
	Live    string     `json:"-"` // the store's fingerprint before it was built
}

// RunView is a run with its display status and jobs.
type RunView struct {
	*store.Run
	Status string     `json:"status"`
	Label  string     `json:"label"`
	Short  string     `json:"candidate_short,omitempty"`
	Jobs   []*JobView `json:"job_results,omitempty"`
	// Explain says why a red run is red: culprit, range, probes.
	Explain *Explanation `json:"explanation,omitempty"`
}

// JobView is a job result with its display status.
type JobView struct {
	*store.JobResult
	Status   string  `json:"status"`
	Seconds  float64 `json:"duration_seconds"`
	Final    bool    `json:"final"`
	Duration string  `json:"-"`
	// Estimate is how long the job took in its previous finished run, shown
	// while it runs.
	Estimate string `json:"estimate,omitempty"`
}

func newJobView(j *store.JobResult, now time.Time) *JobView {
	v := &JobView{JobResult: j, Status: jobStatus(j.State), Final: store.JobFinal(j.State)}
	d := j.Duration()
	if d == 0 && j.State == store.JobRunning && !j.StartedAt.IsZero() {
		d = now.Sub(j.StartedAt)
	}
	v.Seconds = d.Seconds()
	if d > 0 {
		v.Duration = fmtDuration(d)
	}
	return v
}

func (s *Server) runView(ctx context.Context, r *store.Run, withJobs bool) (*RunView, error) {
	v := &RunView{Run: r}
	v.Status, v.Label = runStatus(r)
	if r.State == store.RunDone {
		v.Explain = Explain(ctx, s.st, r)
	}
	if withJobs {
		jobs, err := s.st.JobResults(ctx, r.ID)
		if err != nil {
			return nil, err
		}
		now := time.Now()
		for _, j := range jobs {
			v.Jobs = append(v.Jobs, newJobView(j, now))
		}
		jobOrder(s.cfg, v.Jobs)
		s.estimate(ctx, r, v.Jobs)
	}
	return v, nil
}

func (s *Server) buildDashboard(ctx context.Context) (*Dashboard, error) {
	fp, _ := s.st.Fingerprint(ctx)
	d := &Dashboard{Stages: config.Stages, BuiltAt: time.Now(), Live: fp}
	targets, err := s.st.Targets(ctx)
	if err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	latest, err := s.st.LatestTargetRuns(ctx)
	if err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	type key struct{ comp, branch string }
	rows := map[key]*Row{}
	var order []key
	addRow := func(comp, branch string) *Row {
		k := key{comp, branch}
		if r := rows[k]; r != nil {
			return r
		}
		r := &Row{Component: comp, Branch: branch}
		rows[k] = r
		order = append(order, k)
		return r
	}
	for _, comp := range s.cfg.Order() {
		for _, b := range s.cfg.Branches(comp) {
			addRow(comp, b)
		}
	}
	for _, t := range targets {
		r := addRow(t.Component, t.Branch)
		r.Head, r.HeadAt = t.Head, t.UpdatedAt
	}
	byCell := map[key]map[string]*store.Run{}
	for _, tr := range latest {
		k := key{tr.Component, tr.Branch}
		if rows[k] == nil {
			continue // a branch no longer followed
		}
		if byCell[k] == nil {
			byCell[k] = map[string]*store.Run{}
		}
		byCell[k][tr.Run.Stage] = tr.Run
	}
	progress := map[int64]string{}
	for _, k := range order {
		r := rows[k]
		for _, st := range d.Stages {
			c := Cell{Stage: st, Status: stNone, Label: "no run"}
			if run := byCell[k][st]; run != nil {
				c.Status, c.Label = runStatus(run)
				c.RunID, c.Candidate, c.Changed = run.ID, run.Candidate, lastChange(run)
				if run.State == store.RunRunning {
					p, ok := progress[run.ID]
					if !ok {
						if p, err = s.progress(ctx, run.ID); err != nil {
							return nil, err
						}
						progress[run.ID] = p
					}
					c.Progress = p
				}
			}
			r.Cells = append(r.Cells, c)
		}
		d.Rows = append(d.Rows, *r)
	}
	active, err := s.st.Runs(ctx, store.RunFilter{States: []string{store.RunQueued, store.RunRunning}, Limit: 50})
	if err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	for _, run := range active {
		v, _ := s.runView(ctx, run, false)
		if c, err := s.st.Candidate(ctx, run.Candidate); err == nil {
			v.Short = c.Short()
		}
		d.Active = append(d.Active, v)
		if run.State == store.RunQueued {
			d.Queued++
		} else {
			d.Running++
		}
	}
	return d, nil
}

func (s *Server) progress(ctx context.Context, runID int64) (string, error) {
	jobs, err := s.st.JobResults(ctx, runID)
	if err != nil {
		return "", err
	}
	done := 0
	for _, j := range jobs {
		if store.JobFinal(j.State) {
			done++
		}
	}
	return fmt.Sprintf("%d/%d jobs", done, len(jobs)), nil
}

func (s *Server) dashboardPage(w http.ResponseWriter, r *http.Request) {
	d, err := s.dashboard(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if s.operatorSession(r) == nil {
		page, err := s.anonymousPage(d, func() ([]byte, error) {
			var b bytes.Buffer
			err := s.pages["dashboard"].Execute(&b, pageData{Title: "Dashboard", Private: s.opts.Private, Unsandboxed: s.unsandboxed(), Live: d.Live, Data: d})
			return b.Bytes(), err
		})
		if err != nil {
			s.fail(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(page)
		return
	}
	s.render(w, r, http.StatusOK, "dashboard", "Dashboard", d)
}

// CandidateView is the candidate page: its pins and its way through the stages.
type CandidateView struct {
	Candidate *store.Candidate `json:"candidate"`
	Revisions []RevisionView   `json:"-"`
	Stages    []StageView      `json:"stages"`
	Failed    int              `json:"failed_jobs"`
	// PromoteTo are the stages the candidate can be promoted to; PromoteNext
	// is the one the menu offers first.
	PromoteTo   []string    `json:"promote_to"`
	PromoteNext string      `json:"promote_next"`
	Bench       *BenchPanel `json:"bench,omitempty"` // nil without bench jobs
	// Pull is the pull request of a PR candidate, at the head it pins.
	Pull *PullRequestView `json:"pull,omitempty"`
}

// RevisionView is one pinned component.
type RevisionView struct {
	Component string
	store.Revision
	Link    string
	Subject string
	Author  string
}

// StageView is a candidate at one stage: promotion, and runs newest first.
type StageView struct {
	Name      string           `json:"name"`
	Status    string           `json:"status"`
	Label     string           `json:"label"`
	Promotion *store.Promotion `json:"promotion,omitempty"`
	Runs      []*RunView       `json:"runs"`
	// Hydra is the Hydra engine's evidence of the candidate at the stage.
	Hydra *store.HydraEval `json:"hydra,omitempty"`
}

func (s *Server) candidateView(ctx context.Context, id string) (*CandidateView, error) {
	c, err := s.st.Candidate(ctx, id)
	if err != nil {
		return nil, err
	}
	v := &CandidateView{Candidate: c}
	names := make([]string, 0, len(c.Revisions))
	for n := range c.Revisions {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		rev := c.Revisions[n]
		rv := RevisionView{Component: n, Revision: rev}
		if gh, ok := forge.RepoFromURL(rev.Repo); ok && forge.IsSHA(rev.Rev) {
			rv.Link = "https://github.com/" + gh + "/commit/" + rev.Rev
		}
		c := s.describe(ctx, n, rev.Rev)
		rv.Subject, rv.Author = c.Subject, c.Author
		v.Revisions = append(v.Revisions, rv)
	}
	runs, err := s.st.Runs(ctx, store.RunFilter{Candidate: c.ID, Limit: 500})
	if err != nil {
		return nil, err
	}
	proms, err := s.st.Promotions(ctx, "")
	if err != nil {
		return nil, err
	}
	if s.opts.Pulls != nil && c.Origin == "pr" {
		if v.Pull, err = s.opts.Pulls.OfCandidate(ctx, c); err != nil {
			return nil, err
		}
	}
	v.PromoteTo, v.PromoteNext = promotable(c.ID, proms)
	if v.PromoteTo == nil {
		v.PromoteTo = []string{}
	}
	if s.opts.BenchJobs != nil {
		if v.Bench, err = s.opts.BenchJobs.BenchPanel(ctx, c.ID); err != nil {
			return nil, err
		}
	}
	stages := slices.Clone(config.Stages)
	stages = append(stages, "stamp")
	for _, st := range stages {
		sv := StageView{Name: st, Status: stNone, Label: "not reached"}
		if h, err := s.st.HydraEvalOf(ctx, st, c.ID); err == nil {
			sv.Hydra = h
		}
		for _, p := range proms {
			if p.Candidate == c.ID && p.Stage == st {
				sv.Promotion = p
			}
		}
		for _, run := range runs {
			if run.Stage != st {
				continue
			}
			rv, err := s.runView(ctx, run, true)
			if err != nil {
				return nil, err
			}
			for _, j := range rv.Jobs {
				if j.Status == stRed {
					v.Failed++
				}
			}
			sv.Runs = append(sv.Runs, rv)
		}
		switch {
		case sv.Promotion != nil:
			sv.Status, sv.Label = stGreen, "promoted"
		case len(sv.Runs) > 0:
			// A bisection probe of this very candidate (the bad end
			// re-tested) does not speak for the stage: its stage run does.
			lead := sv.Runs[0]
			for _, r := range sv.Runs {
				if r.Kind != "bisect" {
					lead = r
					break
				}
			}
			sv.Status, sv.Label = lead.Status, lead.Label
		}
		if st == "stamp" && sv.Promotion == nil && len(sv.Runs) == 0 {
			continue
		}
		v.Stages = append(v.Stages, sv)
	}
	return v, nil
}

func (s *Server) candidatePage(w http.ResponseWriter, r *http.Request) {
	v, err := s.candidateView(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "candidate", "Candidate "+v.Candidate.ID, v)
}

func (s *Server) runRedirect(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		s.fail(w, r, badRequest("run id %q is not a number", r.PathValue("id")))
		return
	}
	run, err := s.st.Run(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/candidates/%s#run-%d", run.Candidate, run.ID), http.StatusSeeOther)
}

// JobPageView is a job's log page.
type JobPageView struct {
	Run       *RunView
	Job       *JobView
	Candidate *store.Candidate
	First     int // number of the first line shown
	Lines     []string
	Next      int // lines shown so far: where the live stream resumes
	Skipped   int // lines before First not shown
	Missing   string
}

func (s *Server) jobPage(w http.ResponseWriter, r *http.Request) {
	runID, job, ok := runJob(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	run, err := s.st.Run(ctx, runID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	jr, err := s.st.JobResult(ctx, runID, job)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	rv, _ := s.runView(ctx, run, false)
	v := &JobPageView{Run: rv, Job: newJobView(jr, time.Now()), First: 1}
	v.Candidate, _ = s.st.Candidate(ctx, run.Candidate)
	path := s.opts.LogPath(runID, job)
	switch c, err := readLines(path, 0, maxPageLines, 0, v.Job.Final); {
	case path == "":
		v.Missing = "This engine keeps no local log."
	case errors.Is(err, fs.ErrNotExist):
		if v.Job.Final {
			v.Missing = "No log was written here."
			if jr.Log != "" {
				v.Missing += " It was archived as " + jr.Log + "."
			}
		}
	case err != nil:
		s.fail(w, r, err)
		return
	default:
		v.First, v.Lines, v.Next = c.First, c.Lines, c.Next
		v.Skipped = c.First - 1
	}
	s.render(w, r, http.StatusOK, "job", job+" · run "+strconv.FormatInt(runID, 10), v)
}

// HistoryView is one page of the run history.
type HistoryView struct {
	Filter     store.HistoryFilter `json:"filter"`
	Runs       []*RunView          `json:"runs"`
	Total      int                 `json:"total"`
	Page       int                 `json:"page"`
	Pages      int                 `json:"pages"`
	Stages     []string            `json:"-"`
	Verdicts   []string            `json:"-"`
	Components []string            `json:"-"`
	PrevURL    string              `json:"-"`
	NextURL    string              `json:"-"`
}

const historyPageSize = 50

func (s *Server) historyView(ctx context.Context, q url.Values) (*HistoryView, error) {
	page := 1
	if p := q.Get("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 {
			return nil, badRequest("page %q: want a positive number", p)
		}
		page = n
	}
	f := store.HistoryFilter{
		Stage: q.Get("stage"), Verdict: q.Get("verdict"), State: q.Get("state"),
		Component: q.Get("component"), Branch: q.Get("branch"),
		Limit: historyPageSize, Offset: (page - 1) * historyPageSize,
	}
	if err := s.checkFilter(f); err != nil {
		return nil, err
	}
	runs, total, err := s.st.History(ctx, f)
	if err != nil {
		return nil, err
	}
	v := &HistoryView{Filter: f, Total: total, Page: page, Pages: max(1, (total+historyPageSize-1)/historyPageSize),
		Stages: append(slices.Clone(config.Stages), "stamp"), Components: s.cfg.Order(),
		Verdicts: []string{store.VerdictGreen, store.VerdictFailed, store.VerdictUpstreamBroken, store.VerdictIncompatible,
			store.VerdictNotAccepted, store.VerdictInfraError, store.VerdictWaiting, store.VerdictCancelled,
			store.VerdictTimeout, store.VerdictAdapterError, store.VerdictEvalError}}
	for _, run := range runs {
		rv, _ := s.runView(ctx, run, false)
		if c, err := s.st.Candidate(ctx, run.Candidate); err == nil {
			rv.Short = c.Short()
		}
		v.Runs = append(v.Runs, rv)
	}
	link := func(p int) string {
		q2 := url.Values{}
		for k, vs := range q {
			if k != "page" && len(vs) > 0 && vs[0] != "" {
				q2.Set(k, vs[0])
			}
		}
		q2.Set("page", strconv.Itoa(p))
		return "/history?" + q2.Encode()
	}
	if page > 1 {
		v.PrevURL = link(page - 1)
	}
	if page < v.Pages {
		v.NextURL = link(page + 1)
	}
	return v, nil
}

func (s *Server) historyPage(w http.ResponseWriter, r *http.Request) {
	v, err := s.historyView(r.Context(), r.URL.Query())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "history", "History", v)
}

// BenchIndexView lists metrics.
type BenchIndexView struct {
	Enabled bool
	Metrics []string
}

func (s *Server) benchIndex(w http.ResponseWriter, r *http.Request) {
	v := BenchIndexView{Enabled: s.opts.Bench != nil}
	if s.opts.Bench != nil {
		m, err := s.opts.Bench.Metrics(r.Context())
		if err != nil {
			s.fail(w, r, err)
			return
		}
		v.Metrics = m
	}
	s.render(w, r, http.StatusOK, "benchindex", "Benchmarks", v)
}

// Chart is an SVG trend chart computed on the server.
type Chart struct {
	W, H      int
	Line      string // polyline points
	Dots      []Dot
	Band      *Rect
	YMin      string
	YMax      string
	XFirst    string
	XLast     string
	PlotLeft  int
	PlotRight int
	PlotTop   int
	PlotBot   int
}

// Dot is one point of a chart.
type Dot struct {
	X, Y  float64
	Title string
}

// Rect is a baseline band.
type Rect struct {
	X, Y, W, H float64
	Title      string
}

// BenchView is one metric's page.
type BenchView struct {
	Metric string
	Points []Point
	Band   Band
	Chart  *Chart
}

func chart(points []Point, band Band) *Chart {
	c := &Chart{W: 760, H: 260, PlotLeft: 70, PlotRight: 740, PlotTop: 15, PlotBot: 225}
	if len(points) == 0 {
		return c
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range points {
		lo, hi = math.Min(lo, p.Value), math.Max(hi, p.Value)
	}
	hasBand := band.High > band.Low
	if hasBand {
		lo, hi = math.Min(lo, band.Low), math.Max(hi, band.High)
	}
	pad := (hi - lo) * 0.08
	if pad == 0 {
		pad = math.Max(math.Abs(hi)*0.05, 1)
	}
	lo, hi = lo-pad, hi+pad
	y := func(v float64) float64 {
		return float64(c.PlotBot) - (v-lo)/(hi-lo)*float64(c.PlotBot-c.PlotTop)
	}
	x := func(i int) float64 {
		if len(points) == 1 {
			return float64(c.PlotLeft+c.PlotRight) / 2
		}
		return float64(c.PlotLeft) + float64(i)/float64(len(points)-1)*float64(c.PlotRight-c.PlotLeft)
	}
	var line []string
	for i, p := range points {
		d := Dot{X: x(i), Y: y(p.Value), Title: fmt.Sprintf("%s: %s", p.At.UTC().Format("2006-01-02 15:04"), fmtValue(p.Value))}
		if p.Label != "" {
			d.Title += " (" + p.Label + ")"
		}
		c.Dots = append(c.Dots, d)
		line = append(line, fmt.Sprintf("%.1f,%.1f", d.X, d.Y))
	}
	c.Line = strings.Join(line, " ")
	if hasBand {
		top, bot := y(band.High), y(band.Low)
		c.Band = &Rect{X: float64(c.PlotLeft), Y: top, W: float64(c.PlotRight - c.PlotLeft), H: bot - top,
			Title: fmt.Sprintf("baseline %s – %s", fmtValue(band.Low), fmtValue(band.High))}
	}
	c.YMin, c.YMax = fmtValue(lo), fmtValue(hi)
	c.XFirst = points[0].At.UTC().Format("2006-01-02")
	c.XLast = points[len(points)-1].At.UTC().Format("2006-01-02")
	return c
}

func fmtValue(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }

func (s *Server) benchPage(w http.ResponseWriter, r *http.Request) {
	v := BenchView{Metric: r.PathValue("metric")}
	if s.opts.Bench != nil {
		pts, band, err := s.opts.Bench.Series(r.Context(), v.Metric)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		sort.SliceStable(pts, func(i, j int) bool { return pts[i].At.Before(pts[j].At) })
		v.Points, v.Band = pts, band
	}
	v.Chart = chart(v.Points, v.Band)
	s.render(w, r, http.StatusOK, "bench", "Benchmark "+v.Metric, v)
}

// SubscriptionsView is the read-only list of subscriptions.
type SubscriptionsView struct {
	Enabled bool
	List    []Subscription
}

func (s *Server) subscriptionsPage(w http.ResponseWriter, r *http.Request) {
	v := SubscriptionsView{Enabled: s.opts.Subscriptions != nil}
	if v.Enabled {
		list, err := s.opts.Subscriptions.List(r.Context())
		if err != nil {
			s.fail(w, r, err)
			return
		}
		// Addresses are personal: only operators see them whole.
		operator := s.operatorSession(r) != nil
		for _, sub := range list {
			if !operator {
				sub.Email = maskEmail(sub.Email)
			}
			v.List = append(v.List, sub)
		}
	}
	s.render(w, r, http.StatusOK, "subscriptions", "Subscriptions", v)
}

func maskEmail(e string) string {
	local, domain, ok := strings.Cut(e, "@")
	if !ok || local == "" {
		return "***"
	}
	return local[:1] + "***@" + domain
}

// Form actions.

func (s *Server) formRebuild(w http.ResponseWriter, r *http.Request, _ *session) {
	runID, job, ok := runJob(w, r)
	if !ok {
		return
	}
	newRun, err := s.opts.Actions.Rebuild(r.Context(), runID, job)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.actionDone(w, r, "rebuild", "run", runID, "job", job, "new_run", newRun)
	// The operator lands on the new attempt's live log, not the old one.
	http.Redirect(w, r, fmt.Sprintf("/runs/%d/jobs/%s", newRun, url.PathEscape(job)), http.StatusSeeOther)
}

func (s *Server) formCancel(w http.ResponseWriter, r *http.Request, _ *session) {
	runID, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		s.fail(w, r, badRequest("run id %q is not a number", r.PathValue("id")))
		return
	}
	if err := s.opts.Actions.Cancel(r.Context(), runID); err != nil {
		s.fail(w, r, err)
		return
	}
	s.actionDone(w, r, "cancel", "run", runID)
	http.Redirect(w, r, fmt.Sprintf("/runs/%d", runID), http.StatusSeeOther)
}

func (s *Server) formRebuildFailed(w http.ResponseWriter, r *http.Request, _ *session) {
	id := r.PathValue("id")
	n, err := s.opts.Actions.RebuildFailed(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.actionDone(w, r, "rebuild-failed", "candidate", id, "jobs", n)
	http.Redirect(w, r, "/candidates/"+url.PathEscape(id), http.StatusSeeOther)
}

func (s *Server) formPromote(w http.ResponseWriter, r *http.Request, _ *session) {
	id, stage := r.PathValue("id"), r.PostFormValue("stage")
	if config.StageIndex(stage) < 0 {
		s.fail(w, r, badRequest("unknown stage %q", stage))
		return
	}
	if err := s.opts.Actions.Promote(r.Context(), id, stage); err != nil {
		s.fail(w, r, err)
		return
	}
	s.actionDone(w, r, "promote", "candidate", id, "stage", stage)
	http.Redirect(w, r, "/candidates/"+url.PathEscape(id), http.StatusSeeOther)
}

func (s *Server) actionDone(_ http.ResponseWriter, r *http.Request, action string, kv ...any) {
	s.invalidate()
	s.log.Info("web: operator action", append([]any{"action", action, "remote", r.RemoteAddr}, kv...)...)
}

// runJob parses {id} and {job}.
func runJob(w http.ResponseWriter, r *http.Request) (int64, string, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		http.Error(w, fmt.Sprintf("run id %q is not a number", r.PathValue("id")), http.StatusBadRequest)
		return 0, "", false
	}
	return id, r.PathValue("job"), true
}

type badRequestError struct{ msg string }

func (e *badRequestError) Error() string { return e.msg }

func badRequest(format string, a ...any) error {
	return &badRequestError{fmt.Sprintf(format, a...)}
}

// errorCode maps an error to its HTTP status.
func errorCode(err error) int {
	var br *badRequestError
	switch {
	case errors.As(err, &br):
		return http.StatusBadRequest
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrRefused):
		return http.StatusConflict
	case errors.Is(err, context.Canceled):
		return 499
	}
	return http.StatusInternalServerError
}

func httpStoreError(w http.ResponseWriter, err error) {
	http.Error(w, err.Error(), errorCode(err))
}

// fail renders an error page.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := errorCode(err)
	msg := err.Error()
	if code == http.StatusInternalServerError {
		s.log.Error("web: page", "path", r.URL.Path, "err", err)
		msg = "internal error; see the coordinator's log"
	}
	s.render(w, r, code, "error", http.StatusText(code), msg)
}

// Templates.

type pageTemplate = template.Template

// pageData is what every template receives.
type pageData struct {
	Title    string
	Operator bool
	CSRF     string
	Private  bool
	// Unsandboxed: jobs run with engine.sandbox = "off"; every page says so.
	Unsandboxed bool
	// Live is the store's fingerprint when the page was made: the change
	// stream (/events) tells the page when it is out of date.
	Live string
	Data any
}

var funcs = template.FuncMap{
	"short": store.ShortRev,
	"ago": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return fmtDuration(time.Since(t)) + " ago"
	},
	"stamp": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	},
	"pathEscape": url.PathEscape,
	"add":        func(a, b int) int { return a + b },
	"join":       strings.Join,
	"stages":     func() []string { return config.Stages },
	"isFinalRun": func(state string) bool { return state == store.RunDone || state == store.RunCancelled },
}

func parsePages() (map[string]*pageTemplate, error) {
	names, err := fs.Glob(assets, "templates/*.html")
	if err != nil {
		return nil, err
	}
	out := map[string]*pageTemplate{}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(assets, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", n, err)
		}
		out[base] = t
	}
	return out, nil
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, code int, page, title string, data any) {
	t := s.pages[page]
	pd := pageData{Title: title, Private: s.opts.Private, Unsandboxed: s.unsandboxed(), Live: liveOf(r), Data: data}
	if d, ok := data.(*Dashboard); ok {
		pd.Live = d.Live
	}
	if sess := s.operatorSession(r); sess != nil {
		pd.Operator, pd.CSRF = true, sess.csrf
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	if err := t.Execute(w, pd); err != nil {
		s.log.Error("web: render", "page", page, "err", err)
	}
}

func fmtDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return "<1s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

var timeNow = time.Now

func notFound(format string, a ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, a...), store.ErrNotFound)
}

// unsandboxed reports whether local jobs run without the sandbox.
func (s *Server) unsandboxed() bool {
	return s.cfg.Engine.Default == "local" && s.cfg.Engine.Sandbox == "off"
}
