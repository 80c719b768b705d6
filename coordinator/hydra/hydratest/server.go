// Package hydratest is an in-test Hydra server that reproduces what real
// Hydra servers answer (reference: docs/hydra.md), quirks included:
//
//   - JSON only with Accept: application/json, an HTML page otherwise;
//   - 0/1 flags as ints, null columns, random build ids shared by evals;
//   - POST /login answers 302 with the hydra_session cookie; every POST must
//     carry Origin or Referer starting with the base URL (Referer wins), else
//     500 "POST requests should come from ‘<base>/’.";
//   - eval lists of 20 per page with relative links, only hasnewbuilds = 1;
//   - unchanged inputs create no eval row; evaluation errors go to the jobset's
//     errormsg, visible only through /jobset/{p}/{j}/errors; fetch errors to
//     fetcherrormsg;
//   - /eval/{id}/job/{job} answers 302 /build/{id} or 404;
//   - restarting a build sets finished = 0 and keeps its old buildstatus;
//   - aggregates finish when their constituents have (1 gives 2; 3, 7, 10 pass);
//   - injectable faults (5xx bursts with Retry-After, slow answers) and
//     request counting per endpoint pattern.
//
// PUT and GET of /project/{p} and PUT /jobset/{p}/{j} follow Hydra's
// controllers (projects.go): booleans by presence, every column rewritten,
// 404 for a jobset of a missing project, 403 on a declarative project.
//
// Tests drive it through methods: AddProject, SetDeclarative, AddJobset,
// SetResolver, Evaluate, AddEval, SetJobResult, Restart, RestartAfterServed,
// FailEval, FailFetch, FailNext, Slow, Count, JobsetFields.
package hydratest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Job is one job an evaluation produces.
type Job struct {
	Name string // attribute path, e.g. merkletree.build.x86_64-linux
	// Drv identifies the derivation: a job whose Drv did not change since an
	// earlier eval reuses that eval's build. Default: Name + "@" + the locked URL.
	Drv string
	// Constituents makes the job an aggregate of the named jobs.
	Constituents []string
	// Status, when set, finishes the build at once with this status.
	Status *int
	System string
}

// EvalSpec is what evaluating a jobset produces.
type EvalSpec struct {
	Flake  string            // locked flake URL (flake jobsets)
	Inputs map[string]string // input name -> revision (legacy jobsets)
	Jobs   []Job
}

// Status returns a pointer to s, for Job.Status.
func Status(s int) *int { return &s }

type jobset struct {
	project, name string
	typ           int
	flake         string
	exprPath      string // legacy jobsets
	exprInput     string
	enabled       int
	checkInterval int
	shares        int
	keepnr        int
	description   string
	emailOverride string
	visible       bool
	enableEmail   bool

	errormsg, fetcherr string
	errortime          *int64
	lastChecked        *int64
	triggerTime        *int64
	startTime          *int64
	triggeredAt        time.Time

	failEval, failFetch string
	resolver            func() (*EvalSpec, error)
	lastKey             string
	force               bool
	evals               []int64 // every eval row, oldest first
}

type eval struct {
	id        int64
	project   string
	jobset    string
	timestamp int64
	hasNew    int
	flake     string
	inputs    map[string]string
	builds    []int64
	byJob     map[string]int64
}

type build struct {
	outputs      map[string]string // output name -> store path; nil: made up from the drv
	products     []Product         // nil: one nix-build product per output, as Hydra without hydra-build-products
	id           int64
	project      string
	jobset       string
	job          string
	system       string
	drv          string
	finished     int
	status       *int
	timestamp    int64
	start, stop  *int64
	constituents []int64
	evals        []int64
}

type fault struct {
	n          int
	lose       bool // handle the request, then answer 502 (the answer is lost)
	status     int
	retryAfter string
	delay      time.Duration
	match      string
}

// Server is the fake. Its zero value is not usable: call New.
type Server struct {
	srv *httptest.Server
	Mux *http.ServeMux

	mu sync.Mutex
	// Now is the server's clock.
	Now func() time.Time
	// AutoEvaluate, when positive, evaluates a triggered jobset on the first
	// request that arrives at least that long after the trigger.
	AutoEvaluate time.Duration
	// Private makes every page require a login, like private = 1.
	Private bool
	// Builder, when set, is started (in a goroutine) for every new build of a
	// plain job without a Status, as a queue runner would; it finishes the
	// build with FinishBuild.
	Builder func(id int64, job, drv string)

	users       map[string]string
	roles       map[string]bool // users allowed to push and edit jobsets
	sessions    map[string]string
	jobsets     map[string]*jobset
	evals       map[int64]*eval
	builds      map[int64]*build
	drvs        map[string]int64
	nextEval    int64
	nextBuild   int64
	counts      map[string]int
	pushes      map[string]int
	faults      []*fault
	allProjects map[string]*project
	asked       []AskedJob
	restartJobs map[string]bool // RestartAfterServed
}

// project is one Hydra project; declFile non-empty makes it declarative.
type project struct {
	name, displayName, description, homepage, owner string
	enabled, hidden                                 bool
	declFile, declType, declValue                   string
}

// AskedJob is one GET /eval/{id}/job/{job} the server answered.
type AskedJob struct {
	Eval  int64
	Job   string
	Found bool
}

// Asked lists every job looked up in an eval, in order.
func (s *Server) Asked() []AskedJob {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.asked)
}

// New starts a server on loopback.
func New() *Server {
	s := &Server{
		Mux:         http.NewServeMux(),
		Now:         time.Now,
		users:       map[string]string{},
		roles:       map[string]bool{},
		sessions:    map[string]string{},
		jobsets:     map[string]*jobset{},
		evals:       map[int64]*eval{},
		builds:      map[int64]*build{},
		drvs:        map[string]int64{},
		nextEval:    100,
		nextBuild:   1000,
		counts:      map[string]int{},
		pushes:      map[string]int{},
		allProjects: map[string]*project{},
	}
	s.routes()
	s.srv = httptest.NewServer(s.Mux)
	return s
}

// URL is the server's base URL, without a trailing slash.
func (s *Server) URL() string { return s.srv.URL }

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// AddUser adds a user allowed to log in, push and edit jobsets.
func (s *Server) AddUser(name, password string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[name] = password
	s.roles[name] = true
}

// SetDeclarative makes a project (created if missing) declarative, with
// spec file spec.json: jobset edits then answer 403. The fake does not
// evaluate the spec file: tests add the jobsets it would make with AddJobset.
func (s *Server) SetDeclarative(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.addProject(name)
	p.declFile, p.declType, p.declValue = "spec.json", "git", "https://example.org/spec.git main"
}

// AddProject creates an enabled, visible project without a declarative spec.
func (s *Server) AddProject(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addProject(name)
}

func (s *Server) addProject(name string) *project {
	p := s.allProjects[name]
	if p == nil {
		p = &project{name: name, displayName: name, enabled: true, owner: "admin"}
		s.allProjects[name] = p
	}
	return p
}

// AddJobset creates a flake jobset (type 1, triggers only), and its project
// if missing.
func (s *Server) AddJobset(project, name, flake string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addProject(project)
	s.jobsets[project+":"+name] = &jobset{project: project, name: name, typ: 1, flake: flake, enabled: 1, shares: 100, keepnr: 3, visible: true}
}

// JobsetFields returns a jobset as GET /jobset/{p}/{j} renders it, nil if
// there is none.
func (s *Server) JobsetFields(project, name string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.jobsets[project+":"+name]
	if j == nil {
		return nil
	}
	return s.jobsetJSON(j, false)
}

// SetResolver sets what evaluating the jobset produces.
func (s *Server) SetResolver(project, name string, fn func() (*EvalSpec, error)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.js(project, name).resolver = fn
}

func (s *Server) js(project, name string) *jobset {
	j := s.jobsets[project+":"+name]
	if j == nil {
		panic(fmt.Sprintf("hydratest: no jobset %s:%s", project, name))
	}
	return j
}

// FailEval makes every evaluation of the jobset fail with msg until called with "".
func (s *Server) FailEval(project, name, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.js(project, name).failEval = msg
}

// FailFetch makes input fetching fail with msg until called with "".
func (s *Server) FailFetch(project, name, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.js(project, name).failFetch = msg
}

// Evaluate runs one check of the jobset now, as hydra-evaluator would, and
// returns the id of the eval row it created (0: none).
func (s *Server) Evaluate(project, name string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.evaluate(s.js(project, name))
}

// AddEval inserts an evaluation with spec directly and returns its id.
func (s *Server) AddEval(project, name string, spec *EvalSpec) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.js(project, name)
	id := s.insertEval(j, spec)
	j.lastKey = specKey(spec)
	return id
}

func specKey(spec *EvalSpec) string {
	if spec.Flake != "" {
		return spec.Flake
	}
	keys := make([]string, 0, len(spec.Inputs))
	for k, v := range spec.Inputs {
		keys = append(keys, k+"="+v)
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}

func (s *Server) evaluate(j *jobset) int64 {
	now := s.Now().Unix()
	j.lastChecked = &now
	j.triggerTime = nil
	j.startTime = nil
	force := j.force
	j.force = false
	if j.failFetch != "" {
		j.fetcherr = j.failFetch
		return 0
	}
	j.fetcherr = ""
	j.errortime = &now
	if j.failEval != "" {
		j.errormsg = j.failEval
		return 0
	}
	if j.resolver == nil {
		j.errormsg = "hydratest: no resolver for this jobset"
		return 0
	}
	spec, err := j.resolver()
	if err != nil {
		j.errormsg = err.Error()
		return 0
	}
	j.errormsg = ""
	key := specKey(spec)
	if key == j.lastKey && !force {
		return 0 // unchanged inputs: no eval row, only lastcheckedtime moved
	}
	j.lastKey = key
	return s.insertEval(j, spec)
}

func (s *Server) insertEval(j *jobset, spec *EvalSpec) int64 {
	now := s.Now().Unix()
	s.nextEval++
	e := &eval{id: s.nextEval, project: j.project, jobset: j.name, timestamp: now, flake: spec.Flake, inputs: spec.Inputs, byJob: make(map[string]int64, len(spec.Jobs))}
	newBuild := false
	// Plain jobs first so that aggregates can point at their builds.
	jobs := slices.Clone(spec.Jobs)
	sort.SliceStable(jobs, func(a, b int) bool { return len(jobs[a].Constituents) < len(jobs[b].Constituents) })
	e.builds = make([]int64, 0, len(jobs))
	for _, jb := range jobs {
		drv := jb.Drv
		if drv == "" {
			drv = jb.Name + "@" + key(spec)
		}
		drv = j.project + ":" + j.name + ":" + drv
		id, ok := s.drvs[drv]
		if !ok {
			newBuild = true
			s.nextBuild++
			id = s.nextBuild
			sys := jb.System
			if sys == "" {
				sys = "x86_64-linux"
			}
			b := &build{id: id, project: j.project, jobset: j.name, job: jb.Name, system: sys, drv: drv, timestamp: now}
			for _, c := range jb.Constituents {
				if cid, ok := e.byJob[c]; ok {
					b.constituents = append(b.constituents, cid)
				}
			}
			s.builds[id] = b
			s.drvs[drv] = id
			if jb.Status != nil {
				s.finish(b, *jb.Status)
			} else if s.Builder != nil && len(jb.Constituents) == 0 {
				go s.Builder(id, jb.Name, jb.Drv)
			}
		}
		s.builds[id].evals = append(s.builds[id].evals, e.id)
		e.byJob[jb.Name] = id
		e.builds = append(e.builds, id)
	}
	e.hasNew = 0
	if newBuild || len(j.evals) == 0 || !sameSet(e.builds, s.evals[j.evals[len(j.evals)-1]].builds) {
		e.hasNew = 1
	}
	if e.hasNew == 0 {
		e.builds = []int64{} // hasnewbuilds = 0 evals store no members
		e.inputs = nil
	}
	s.evals[e.id] = e
	j.evals = append(j.evals, e.id)
	s.settleAggregates()
	return e.id
}

func key(spec *EvalSpec) string { return specKey(spec) }

func sameSet(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

func (s *Server) finish(b *build, status int) {
	now := s.Now().Unix()
	b.finished = 1
	b.status = &status
	if b.start == nil {
		b.start = &now
	}
	b.stop = &now
}

// settleAggregates finishes aggregates whose constituents all finished.
func (s *Server) settleAggregates() {
	for changed := true; changed; {
		changed = false
		for _, b := range s.builds {
			if len(b.constituents) == 0 || b.finished == 1 {
				continue
			}
			status, done := 0, true
			for _, cid := range b.constituents {
				c := s.builds[cid]
				if c.finished == 0 {
					done = false
					break
				}
				switch st := *c.status; st {
				case 0:
				case 3, 7, 10:
					if status == 0 {
						status = st
					}
				default:
					if status == 0 {
						status = 2
					}
				}
			}
			if done {
				s.finish(b, status)
				changed = true
			}
		}
	}
}

// BuildID returns the build of job in eval, 0 if none.
func (s *Server) BuildID(evalID int64, job string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.evals[evalID]; e != nil {
		return e.byJob[job]
	}
	return 0
}

// SetJobResult finishes the build of job in eval with status, then settles
// aggregates.
func (s *Server) SetJobResult(evalID int64, job string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.evals[evalID]
	if e == nil || e.byJob[job] == 0 {
		panic(fmt.Sprintf("hydratest: eval %d has no job %s", evalID, job))
	}
	s.finish(s.builds[e.byJob[job]], status)
	s.settleAggregates()
}

// FinishBuild finishes a build with status, then settles aggregates.
func (s *Server) FinishBuild(id int64, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.finish(s.builds[id], status)
	s.settleAggregates()
}

// Product is one build product, as the queue runner records it from an
// output's nix-support/hydra-build-products: type, subtype and path from
// the file's line; for a regular file, its name, size and sha256.
type Product struct {
	Type, Subtype, Name, Path, SHA256 string
	Size                              int64
}

// FinishBuildWith finishes a build like FinishBuild, with its real store
// paths and build products.
func (s *Server) FinishBuildWith(id int64, status int, outputs map[string]string, products []Product) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.builds[id]
	b.outputs, b.products = outputs, products
	s.finish(b, status)
	s.settleAggregates()
}

// Restart does what Hydra's restart does: finished goes back to 0 and the old
// buildstatus, starttime and stoptime stay.
func (s *Server) Restart(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.builds[id].finished = 0
}

// RestartAfterServed arms a restart of job's build: the first time GET
// /build/{id} serves a build of that job as finished, the build is restarted
// right after the answer (Restart: finished = 0, the old buildstatus stays),
// as if someone, or the queue runner, restarted it just after the client
// looked. The timing is contrived, to make the race deterministic; the state
// Hydra ends in is the real one. It fires once per call.
func (s *Server) RestartAfterServed(job string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.restartJobs == nil {
		s.restartJobs = map[string]bool{}
	}
	s.restartJobs[job] = true
}

// FailNext answers the next n requests whose pattern contains match ("" for
// any) with status and an HTML error page, as a proxy in front of a sick
// Hydra does; retryAfter, when set, goes into Retry-After.
func (s *Server) FailNext(n, status int, retryAfter, match string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{n: n, status: status, retryAfter: retryAfter, match: match})
}

// LoseNext handles the next n requests whose pattern contains match, then
// throws their answer away and replies 502, as a proxy does whose upstream
// connection broke after Hydra acted: the effect happened, the client
// cannot know.
func (s *Server) LoseNext(n int, match string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{n: n, lose: true, match: match})
}

// ClearFaults drops every pending fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// Slow delays the next n requests matching match by d. A request whose
// client gave up meanwhile is dropped without effect.
func (s *Server) Slow(n int, d time.Duration, match string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{n: n, delay: d, match: match})
}

// Count returns how many requests reached endpoint pattern ("GET /build/{id}").
func (s *Server) Count(pattern string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[pattern]
}

// Counts returns every endpoint's request count.
func (s *Server) Counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for k, v := range s.counts {
		out[k] = v
	}
	return out
}

// Total is the number of requests served.
func (s *Server) Total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, v := range s.counts {
		n += v
	}
	return n
}

// ResetCounts zeroes the request counters.
func (s *Server) ResetCounts() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts = map[string]int{}
}

// Triggers returns how many accepted pushes the jobset got.
func (s *Server) Triggers(project, name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pushes[project+":"+name]
}

// Evals lists the ids of every eval row of a jobset, oldest first.
func (s *Server) Evals(project, name string) []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.js(project, name).evals)
}

func newToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *Server) pending() {
	if s.AutoEvaluate <= 0 {
		return
	}
	now := s.Now()
	for _, j := range s.jobsets {
		if j.triggerTime != nil && now.Sub(j.triggeredAt) >= s.AutoEvaluate {
			s.evaluate(j)
		}
	}
}

// handle registers h for pattern with counting, faults, lazy evaluation and
// the login requirement of private servers.
func (s *Server) handle(pattern string, h func(w http.ResponseWriter, r *http.Request)) {
	s.Mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.counts[pattern]++
		var f *fault
		for _, x := range s.faults {
			if x.n > 0 && strings.Contains(pattern, x.match) {
				x.n--
				f = x
				break
			}
		}
		s.mu.Unlock()
		if f != nil && f.delay > 0 {
			select {
			case <-time.After(f.delay):
			case <-r.Context().Done():
				return // the client gave up: the request has no effect
			}
		}
		if f != nil && f.status != 0 {
			if f.retryAfter != "" {
				w.Header().Set("Retry-After", f.retryAfter)
			}
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(f.status)
			fmt.Fprintf(w, "<html><body><h1>%d %s</h1></body></html>", f.status, http.StatusText(f.status))
			return
		}
		s.mu.Lock()
		s.pending()
		private := s.Private
		s.mu.Unlock()
		if private && pattern != "POST /login" && s.user(r) == "" {
			s.fail(w, r, http.StatusForbidden, "This page requires you to sign in.")
			return
		}
		if f != nil && f.lose {
			h(httptest.NewRecorder(), r)
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprint(w, "<html><body><h1>502 Bad Gateway</h1></body></html>")
			return
		}
		h(w, r)
	})
}

func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}

// reply writes v as JSON when the client asked for it, else an HTML page.
func (s *Server) reply(w http.ResponseWriter, r *http.Request, status int, v any) {
	w.Header().Set("Vary", "Accept")
	if !wantsJSON(r) && !strings.HasPrefix(r.URL.Path, "/api/") {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		fmt.Fprint(w, "<!DOCTYPE html><html><head><title>Hydra</title></head><body>page</body></html>")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	s.reply(w, r, status, map[string]string{"error": msg})
}

func (s *Server) redirect(w http.ResponseWriter, r *http.Request, to string) {
	w.Header().Set("Location", s.srv.URL+to)
	w.WriteHeader(http.StatusFound)
}

func (s *Server) user(r *http.Request) string {
	c, err := r.Cookie("hydra_session")
	if err != nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[c.Value]
}

// csrf applies Hydra's POST check: Referer (when sent) or Origin must start
// with the base URL and its trailing slash.
func (s *Server) csrf(w http.ResponseWriter, r *http.Request) bool {
	base := s.srv.URL + "/"
	src := r.Header.Get("Referer")
	if src == "" {
		src = r.Header.Get("Origin")
	}
	if !strings.HasPrefix(src, base) {
		s.fail(w, r, http.StatusInternalServerError, "POST requests should come from ‘"+base+"’.")
		return false
	}
	return true
}
