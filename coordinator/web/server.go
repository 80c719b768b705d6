// Package web serves the coordinator's live web UI, its JSON API, the GitHub
// webhook endpoint, /healthz and /metrics. Pages are rendered on the server
// from the store; the only script streams job logs and refreshes the
// dashboard, so the UI works without a build step. Every state change goes
// through Actions, which the coordinator implements.
package web

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/metrics"
	"github.com/ironworks-ci/ironworks/coordinator/source"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

//go:embed static templates
var assets embed.FS

// Actions changes pipeline state on behalf of operators and webhooks. The
// coordinator implements it; every method must be quick (enqueue, do not
// build) because webhook responses wait for it. An error wrapping
// store.ErrNotFound is answered 404, one wrapping ErrRefused 409.
type Actions interface {
	// Rebuild runs one job of a run again, in a new run whose ID it returns
	// (the run itself when the implementation re-queues the job in place).
	Rebuild(ctx context.Context, runID int64, job string) (int64, error)
	// RebuildFailed re-queues every failed job of a candidate's runs and
	// reports how many it re-queued.
	RebuildFailed(ctx context.Context, candidateID string) (int, error)
	// Cancel cancels a queued or running run; a finished one is ErrRefused.
	Cancel(ctx context.Context, runID int64) error
	// Promote asks for a candidate to be promoted to stage.
	Promote(ctx context.Context, candidateID, stage string) error
	// Trigger reports that branch of component now points at sha (a push).
	Trigger(ctx context.Context, component, branch, sha string) error
	// PullRequest reports a pull request change: opened, synchronized,
	// labelled, reviewed, closed.
	PullRequest(ctx context.Context, event PREvent) error
	// CheckRerun asks for the runs of a commit to be repeated (GitHub's
	// "Re-run" button on a check).
	CheckRerun(ctx context.Context, sha string) error
}

// ErrRefused marks an action the pipeline declines in its current state (for
// example promoting a candidate whose gate is red).
var ErrRefused = errors.New("refused")

// PREvent is a pull request change from GitHub.
type PREvent struct {
	Component string   `json:"component"`
	Repo      string   `json:"repo"` // owner/name
	Number    int      `json:"number"`
	Title     string   `json:"title,omitempty"`
	Action    string   `json:"action"` // opened, reopened, synchronize, labeled, unlabeled, ready_for_review, converted_to_draft, closed, review_submitted, review_dismissed
	URL       string   `json:"url"`
	HeadSHA   string   `json:"head_sha"`
	HeadRef   string   `json:"head_ref"`
	BaseRef   string   `json:"base_ref"`
	Draft     bool     `json:"draft"`
	Merged    bool     `json:"merged"`
	Labels    []string `json:"labels"`
	Label     string   `json:"label,omitempty"`        // the label added or removed
	Review    string   `json:"review_state,omitempty"` // approved, changes_requested, commented (review events)
	Reviewer  string   `json:"reviewer,omitempty"`
}

// Point is one benchmark measurement of a metric.
type Point struct {
	At        time.Time `json:"at"`
	Value     float64   `json:"value"`
	Candidate string    `json:"candidate,omitempty"`
	Label     string    `json:"label,omitempty"` // e.g. the revision, shown on hover
}

// Band is the range a metric's baseline accepts; Low == High means none.
type Band struct {
	Low  float64 `json:"low"`
	High float64 `json:"high"`
}

// BenchData reads benchmark series (benchkit implements it).
type BenchData interface {
	Metrics(ctx context.Context) ([]string, error)
	Series(ctx context.Context, metric string) ([]Point, Band, error)
}

// Subscription is one e-mail subscription, as listed on the subscriptions page.
type Subscription struct {
	Email      string    `json:"email"`
	Components []string  `json:"components"`
	Branches   []string  `json:"branches"`
	Kinds      []string  `json:"kinds"`
	CreatedAt  time.Time `json:"created_at"`
}

// Subscriptions lists e-mail subscriptions (the notify package implements it).
type Subscriptions interface {
	List(ctx context.Context) ([]Subscription, error)
}

// Options configures a Server. Store, Config and Actions are required.
type Options struct {
	// Health, when set, says whether the daemon works (nil) or why it is
	// degraded; /healthz answers 503 with the reason.
	Health  func() error
	Store   *store.Store
	Config  *config.Config
	Actions Actions
	// LogPath says where the local engine writes a job's live log.
	LogPath func(runID int64, job string) string
	// OperatorToken is the secret operators log in with; empty disables
	// every operator action.
	OperatorToken string
	// WebhookSecret verifies GitHub webhooks; empty refuses every delivery.
	WebhookSecret []byte
	// Registry receives the ironworks_ collectors and is served at /metrics;
	// nil makes one with the Go and process collectors.
	Registry *prometheus.Registry
	// Extra mounts other packages' handlers by ServeMux pattern.
	Extra map[string]http.Handler
	// Private requires a login for every page and API read.
	Private bool

	Bench BenchData // optional
	// BenchJobs shows bench jobs and the bench verdict on candidate pages; optional.
	BenchJobs BenchJobs
	// Mirrors gives commit subjects and authors and the upstream history of
	// the compatibility view; optional.
	Mirrors       *source.Mirrors
	Subscriptions Subscriptions // optional
	Pulls         PullRequests  // optional: the Pull requests page
	Logger        *log.Logger   // optional; default discards
	// TailInterval is how often a live log is polled for new lines (default 250ms).
	TailInterval time.Duration
}

// Server is the web UI, API and webhook endpoint.
type Server struct {
	opts         Options
	st           *store.Store
	cfg          *config.Config
	log          *log.Logger
	mux          *http.ServeMux
	pages        map[string]*pageTemplate
	repos        map[string]string // lower-case owner/name -> component
	sess         *sessions
	fails        *attempts     // failed logins and bearer tokens per client
	webhookSlots chan struct{} // webhook bodies being read
	dash         dashCache
	started      time.Time
}

// New builds a Server; it fails on missing options or clashing Extra patterns.
func New(opts Options) (*Server, error) {
	switch {
	case opts.Store == nil:
		return nil, errors.New("web: Options.Store is required")
	case opts.Config == nil:
		return nil, errors.New("web: Options.Config is required")
	case opts.Actions == nil:
		return nil, errors.New("web: Options.Actions is required")
	}
	if opts.LogPath == nil {
		opts.LogPath = func(int64, string) string { return "" }
	}
	if opts.TailInterval <= 0 {
		opts.TailInterval = 250 * time.Millisecond
	}
	logger := opts.Logger
	if logger == nil {
		logger = log.New(io.Discard)
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
		opts.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	s := &Server{
		opts:         opts,
		st:           opts.Store,
		cfg:          opts.Config,
		log:          logger,
		mux:          http.NewServeMux(),
		sess:         newSessions(12 * time.Hour),
		fails:        newAttempts(),
		webhookSlots: make(chan struct{}, webhookReads),
		started:      time.Now(),
		repos:        repoIndex(opts.Config),
	}
	err := metrics.Register(opts.Registry, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, err := s.st.CountRuns(ctx, store.RunQueued)
		if err != nil {
			return -1
		}
		return float64(n)
	})
	if err != nil {
		return nil, fmt.Errorf("web: metrics: %w", err)
	}
	if s.pages, err = parsePages(); err != nil {
		return nil, err
	}
	if err := s.routes(); err != nil {
		return nil, err
	}
	return s, nil
}

// Handler serves everything.
func (s *Server) Handler() http.Handler { return securityHeaders(s.limitCredentials(s.mux)) }

// limitCredentials answers 429 to a client that has spent its failed
// credential attempts, before the credential is even compared.
func (s *Server) limitCredentials(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" || r.Method == http.MethodPost && r.URL.Path == "/login" {
			if blocked, wait := s.fails.blocked(r); blocked {
				tooMany(w, wait)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

func (s *Server) routes() (err error) {
	static, _ := fs.Sub(assets, "static")
	m := s.mux
	m.Handle("GET /static/", http.StripPrefix("/static/", cacheStatic(http.FileServerFS(static))))
	m.HandleFunc("GET /healthz", s.healthz)
	m.Handle("GET /metrics", promhttp.HandlerFor(s.opts.Registry, promhttp.HandlerOpts{}))
	m.HandleFunc("POST /webhooks/github", s.webhook)

	m.HandleFunc("GET /login", s.loginPage)
	m.HandleFunc("POST /login", s.login)
	m.HandleFunc("POST /logout", s.operatorForm(s.logout))

	// Pages.
	m.HandleFunc("GET /{$}", s.read(s.dashboardPage))
	m.HandleFunc("GET /candidates/{id}", s.read(s.candidatePage))
	m.HandleFunc("GET /runs/{id}", s.read(s.runRedirect))
	m.HandleFunc("GET /runs/{id}/jobs/{job}", s.read(s.jobPage))
	m.HandleFunc("GET /runs/{id}/jobs/{job}/raw", s.read(s.jobRaw))
	m.HandleFunc("GET /runs/{id}/jobs/{job}/events", s.read(s.jobEvents))
	m.HandleFunc("GET /history", s.read(s.historyPage))
	m.HandleFunc("GET /bench", s.read(s.benchIndex))
	m.HandleFunc("GET /bench/{metric}", s.read(s.benchPage))
	m.HandleFunc("GET /subscriptions", s.read(s.subscriptionsPage))
	m.HandleFunc("GET /compat", s.read(s.compatPage))
	m.HandleFunc("GET /pulls", s.read(s.pullsPage))
	m.HandleFunc("GET /events", s.read(s.changes))
	m.HandleFunc("POST /runs/{id}/jobs/{job}/rebuild", s.operatorForm(s.formRebuild))
	m.HandleFunc("POST /runs/{id}/cancel", s.operatorForm(s.formCancel))
	m.HandleFunc("POST /candidates/{id}/rebuild-failed", s.operatorForm(s.formRebuildFailed))
	m.HandleFunc("POST /candidates/{id}/promote", s.operatorForm(s.formPromote))

	// JSON API.
	m.HandleFunc("GET /api/dashboard", s.apiRead(s.apiDashboard))
	m.HandleFunc("GET /api/candidates/{id}", s.apiRead(s.apiCandidate))
	m.HandleFunc("GET /api/runs/{id}", s.apiRead(s.apiRun))
	m.HandleFunc("GET /api/runs/{id}/jobs/{job}", s.apiRead(s.apiJob))
	m.HandleFunc("GET /api/runs/{id}/jobs/{job}/log", s.apiRead(s.apiLog))
	m.HandleFunc("GET /api/history", s.apiRead(s.apiHistory))
	m.HandleFunc("GET /api/compat", s.apiRead(s.apiCompat))
	m.HandleFunc("POST /api/runs/{id}/jobs/{job}/rebuild", s.apiOperator(s.apiRebuild))
	m.HandleFunc("POST /api/runs/{id}/cancel", s.apiOperator(s.apiCancel))
	m.HandleFunc("POST /api/candidates/{id}/rebuild-failed", s.apiOperator(s.apiRebuildFailed))
	m.HandleFunc("POST /api/candidates/{id}/promote", s.apiOperator(s.apiPromote))

	defer func() {
		// ServeMux panics on a clashing pattern; an Extra handler that clashes is
		// a wiring mistake to report, not to crash on.
		if r := recover(); r != nil {
			err = fmt.Errorf("web: mounting extra handler: %v", r)
		}
	}()
	for pattern, h := range s.opts.Extra {
		m.Handle(pattern, s.guardExtra(h))
	}
	return nil
}

// guardExtra applies the private-mode login requirement to mounted handlers' reads.
func (s *Server) guardExtra(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.opts.Private && (r.Method == http.MethodGet || r.Method == http.MethodHead) && !s.viewer(r) {
			writeError(w, http.StatusUnauthorized, "login required")
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.st.Ping(ctx); err != nil {
		s.log.Error("healthz: database", "err", err)
		http.Error(w, "database unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if s.opts.Health != nil {
		if err := s.opts.Health(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "degraded: "+err.Error()+"\n")
			return
		}
	}
	io.WriteString(w, "ok\n")
}

// ReadSecret reads a secret file (operator token, webhook secret), trimming
// surrounding whitespace; an empty secret is an error, so that a blank file
// never silently disables authentication checks.
func ReadSecret(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("secret: %w", err)
	}
	v := strings.TrimSpace(string(data))
	if v == "" {
		return "", fmt.Errorf("secret %s: file is empty", path)
	}
	return v, nil
}

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'")
		h.ServeHTTP(w, r)
	})
}

func cacheStatic(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		h.ServeHTTP(w, r)
	})
}

// dashCache keeps the dashboard for a moment: hundreds of open dashboards
// refreshing at once then cost one query, not hundreds.
type dashCache struct {
	mu  sync.Mutex
	at  time.Time
	val *Dashboard
	// page is the rendered HTML of val for visitors without a session, so
	// that a crowd of open dashboards costs one template execution too.
	page []byte
}

const dashTTL = 500 * time.Millisecond

func (s *Server) dashboard(ctx context.Context) (*Dashboard, error) {
	s.dash.mu.Lock()
	defer s.dash.mu.Unlock()
	if s.dash.val != nil && time.Since(s.dash.at) < dashTTL {
		return s.dash.val, nil
	}
	d, err := s.buildDashboard(ctx)
	if err != nil {
		return nil, err
	}
	s.dash.val, s.dash.at, s.dash.page = d, time.Now(), nil
	return d, nil
}

// anonymousPage returns the dashboard rendered for visitors without a
// session, rendering it once per cached dashboard.
func (s *Server) anonymousPage(d *Dashboard, render func() ([]byte, error)) ([]byte, error) {
	s.dash.mu.Lock()
	defer s.dash.mu.Unlock()
	if s.dash.val == d && s.dash.page != nil {
		return s.dash.page, nil
	}
	b, err := render()
	if err != nil {
		return nil, err
	}
	if s.dash.val == d {
		s.dash.page = b
	}
	return b, nil
}

// invalidate drops cached views after an action, so the operator sees its effect.
func (s *Server) invalidate() {
	s.dash.mu.Lock()
	s.dash.val, s.dash.page = nil, nil
	s.dash.mu.Unlock()
}
