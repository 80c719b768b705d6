// Package githubtest is an in-test GitHub REST server for the endpoints the
// coordinator uses: repositories, contents (get/put with blob sha checks),
// git refs (branches and tags, 422 "Reference already exists"), merges
// (201 merge commit, 204 nothing to merge, 409 conflict), pulls and reviews.
// Other files of this package add more endpoints through Handle.
//
// Commits are modelled as snapshots of whole trees, so contents, refs and
// merges agree with one another. Every effect is recorded for assertions.
package githubtest

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Commit is one commit: a full tree snapshot.
type Commit struct {
	SHA     string
	Parents []string
	Message string
	Tree    map[string][]byte
}

// Repo is one repository's state.
type Repo struct {
	Owner, Name   string
	DefaultBranch string
	Branches      map[string]string // name -> commit sha
	Tags          map[string]string // name -> commit sha
	Commits       map[string]*Commit
	Pulls         map[int]*Pull
}

// Pull is a pull request.
type Pull struct {
	Number  int
	Title   string
	State   string // open | closed
	Draft   bool
	HeadSHA string
	HeadRef string
	BaseRef string
	Labels  []string
	User    string
	Reviews []Review
}

// Review is one pull request review.
type Review struct {
	User     string
	State    string // APPROVED | CHANGES_REQUESTED | COMMENTED | DISMISSED
	CommitID string
}

// RefCreation records one accepted POST git/refs.
type RefCreation struct {
	Repo, Ref, SHA string
}

// MergeCall records one accepted POST merges that made a commit.
type MergeCall struct {
	Repo, Base, Head, Message, SHA string
}

type fault struct {
	n      int
	status int
	match  string
	lose   bool // the request takes effect; only its answer is replaced
	drop   bool // the connection is closed before any effect or answer
}

// Server is the fake GitHub.
type Server struct {
	Mux *http.ServeMux
	srv *httptest.Server

	mu sync.Mutex
	// Token, when set, is required as a bearer token on every request.
	Token    string
	repos    map[string]*Repo
	refs     []RefCreation
	merges   []MergeCall
	writes   map[string]int // "o/r:branch:path" -> commits made through contents
	counts   map[string]int
	faults   []*fault
	seq      int
	conflict map[string]bool
	lost     []*fault                     // answers lost after the effect (gitdata.go)
	trees    map[string]map[string][]byte // tree sha -> files (gitdata.go)
	rate     rateLimit                    // conditional.go
}

// New starts a server on loopback.
func New() *Server {
	s := &Server{Mux: http.NewServeMux(), repos: map[string]*Repo{}, writes: map[string]int{}, counts: map[string]int{}, conflict: map[string]bool{}, trees: map[string]map[string][]byte{}}
	s.routes()
	s.gitDataRoutes()
	s.srv = httptest.NewServer(s.Mux)
	return s
}

// URL is the API base URL with its trailing slash, for github.api_url.
func (s *Server) URL() string { return s.srv.URL + "/" }

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Handle registers another endpoint (Go 1.22 pattern) with the same token
// check, fault injection and counting as the built-in ones.
func (s *Server) Handle(pattern string, h http.HandlerFunc) {
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
		token := s.Token
		lose := s.loseAnswer(pattern)
		s.mu.Unlock()
		if f != nil && f.drop {
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
					return
				}
			}
			panic(http.ErrAbortHandler) // closes the connection all the same
		}
		if f != nil && f.lose {
			// As when a proxy times out after GitHub acted: the effect
			// happens, the client sees a 502 (observed behaviour of
			// api.github.com behind its load balancers under load).
			h(httptest.NewRecorder(), r)
			Error(w, f.status, http.StatusText(f.status))
			return
		}
		if f != nil {
			Error(w, f.status, http.StatusText(f.status))
			return
		}
		if token != "" {
			got := strings.TrimPrefix(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), "token ")
			if got != token {
				Error(w, http.StatusUnauthorized, "Bad credentials")
				return
			}
		}
		if lose {
			h(discard{http.Header{}}, r)
			Error(w, http.StatusBadGateway, "Bad Gateway")
			return
		}
		s.answer(w, r, h)
	})
}

// Error writes GitHub's JSON error body.
func Error(w http.ResponseWriter, status int, msg string) {
	JSON(w, status, map[string]any{"message": msg, "documentation_url": "https://docs.github.com/rest"})
}

// JSON writes v as a JSON response.
func JSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	if v != nil {
		_ = json.NewEncoder(w).Encode(v)
	}
}

// Lock and Unlock guard the state for handlers added through Handle.
func (s *Server) Lock()   { s.mu.Lock() }
func (s *Server) Unlock() { s.mu.Unlock() }

// RepoLocked returns a repository; the caller holds the lock.
func (s *Server) RepoLocked(full string) *Repo { return s.repos[full] }

// FailNext answers the next n requests whose pattern contains match with status.
func (s *Server) FailNext(n, status int, match string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{n: n, status: status, match: match})
}

// ClearFaults drops every pending fault (FailNext, LoseNext, DropNext and
// LoseNextAnswers): the outage is over.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults, s.lost = nil, nil
}

// LoseNext lets the next n requests whose pattern contains match take effect
// and answers them with a 502, as a lost answer looks to the client.
func (s *Server) LoseNext(n int, match string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{n: n, status: http.StatusBadGateway, match: match, lose: true})
}

// DropNext closes the connection of the next n requests whose pattern
// contains match before they take effect, as a connection lost in transit
// looks to the client (no answer at all).
func (s *Server) DropNext(n int, match string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{n: n, match: match, drop: true})
}

// Count returns how many requests reached pattern.
func (s *Server) Count(pattern string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[pattern]
}

func (s *Server) newSHA(parts ...string) string {
	s.seq++
	h := sha1.New()
	fmt.Fprintf(h, "%d\x00%s", s.seq, strings.Join(parts, "\x00"))
	return hex.EncodeToString(h.Sum(nil))
}

// BlobSHA is git's blob id of content.
func BlobSHA(content []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(content))
	h.Write(content)
	return hex.EncodeToString(h.Sum(nil))
}

// AddRepo creates a repository with one commit on its default branch holding
// files, and returns that commit.
func (s *Server) AddRepo(full, defaultBranch string, files map[string]string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	owner, name, _ := strings.Cut(full, "/")
	r := &Repo{Owner: owner, Name: name, DefaultBranch: defaultBranch, Branches: map[string]string{}, Tags: map[string]string{}, Commits: map[string]*Commit{}, Pulls: map[int]*Pull{}}
	s.repos[full] = r
	tree := map[string][]byte{}
	for k, v := range files {
		tree[k] = []byte(v)
	}
	c := &Commit{SHA: s.newSHA(full, "initial"), Message: "initial", Tree: tree}
	r.Commits[c.SHA] = c
	r.Branches[defaultBranch] = c.SHA
	return c.SHA
}

// CommitTo adds a commit on branch (created from the default branch if
// missing) that sets files, and returns it.
func (s *Server) CommitTo(full, branch, message string, files map[string]string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[full]
	parent, ok := r.Branches[branch]
	if !ok {
		parent = r.Branches[r.DefaultBranch]
	}
	tree := maps.Clone(r.Commits[parent].Tree)
	for k, v := range files {
		tree[k] = []byte(v)
	}
	c := &Commit{SHA: s.newSHA(full, branch, message), Parents: []string{parent}, Message: message, Tree: tree}
	r.Commits[c.SHA] = c
	r.Branches[branch] = c.SHA
	return c.SHA
}

// Head returns a branch's commit, "" if none.
func (s *Server) Head(full, branch string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.repos[full]; r != nil {
		return r.Branches[branch]
	}
	return ""
}

// FileAt returns a file's content at a branch or commit.
func (s *Server) FileAt(full, ref, path string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[full]
	if r == nil {
		return "", false
	}
	c := r.resolve(ref)
	if c == nil {
		return "", false
	}
	b, ok := c.Tree[path]
	return string(b), ok
}

// CommitInfo returns a commit by sha.
func (s *Server) CommitInfo(full, sha string) *Commit {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.repos[full]; r != nil {
		return r.Commits[sha]
	}
	return nil
}

// Tag returns the commit a tag points at.
func (s *Server) Tag(full, tag string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.repos[full]; r != nil {
		return r.Tags[tag]
	}
	return ""
}

// AddPull adds a pull request.
func (s *Server) AddPull(full string, p Pull) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.State == "" {
		p.State = "open"
	}
	cp := p
	s.repos[full].Pulls[p.Number] = &cp
}

// SetConflict makes merges of head into repo conflict.
func (s *Server) SetConflict(full, head string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conflict[full+"@"+head] = true
}

// RefCreations lists every ref created through POST git/refs.
func (s *Server) RefCreations() []RefCreation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.refs)
}

// Merges lists every merge commit created.
func (s *Server) Merges() []MergeCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.merges)
}

// Writes returns how many commits the contents API made to path on branch.
func (s *Server) Writes(full, branch, path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes[full+":"+branch+":"+path]
}

func (r *Repo) resolve(ref string) *Commit {
	if ref == "" {
		ref = r.DefaultBranch
	}
	ref = strings.TrimPrefix(ref, "refs/")
	ref = strings.TrimPrefix(ref, "heads/")
	if sha, ok := r.Branches[ref]; ok {
		return r.Commits[sha]
	}
	if sha, ok := r.Tags[strings.TrimPrefix(ref, "tags/")]; ok {
		return r.Commits[sha]
	}
	return r.Commits[ref]
}

func (r *Repo) ancestor(a, b string) bool { // is a an ancestor of (or equal to) b
	seen := map[string]bool{}
	stack := []string{b}
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if x == a {
			return true
		}
		if seen[x] || r.Commits[x] == nil {
			continue
		}
		seen[x] = true
		stack = append(stack, r.Commits[x].Parents...)
	}
	return false
}

func (s *Server) routes() {
	s.Handle("GET /repos/{o}/{r}", s.getRepo)
	s.Handle("GET /repos/{o}/{r}/contents/{path...}", s.getContents)
	s.Handle("PUT /repos/{o}/{r}/contents/{path...}", s.putContents)
	s.Handle("GET /repos/{o}/{r}/git/ref/{ref...}", s.getRef)
	s.Handle("POST /repos/{o}/{r}/git/refs", s.createRef)
	s.Handle("POST /repos/{o}/{r}/merges", s.merge)
	s.Handle("GET /repos/{o}/{r}/pulls", s.listPulls)
	s.Handle("GET /repos/{o}/{r}/pulls/{n}", s.getPull)
	s.Handle("GET /repos/{o}/{r}/pulls/{n}/reviews", s.listReviews)
}

func (s *Server) repo(w http.ResponseWriter, r *http.Request) *Repo {
	rp := s.repos[r.PathValue("o")+"/"+r.PathValue("r")]
	if rp == nil {
		Error(w, http.StatusNotFound, "Not Found")
	}
	return rp
}

func (s *Server) getRepo(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repo(w, r)
	if rp == nil {
		return
	}
	JSON(w, http.StatusOK, map[string]any{"id": 1, "name": rp.Name, "full_name": rp.Owner + "/" + rp.Name, "default_branch": rp.DefaultBranch, "owner": map[string]any{"login": rp.Owner}})
}

func wrap64(b []byte) string {
	enc := base64.StdEncoding.EncodeToString(b)
	var sb strings.Builder
	for len(enc) > 60 { // GitHub wraps base64 content at 60 columns
		sb.WriteString(enc[:60])
		sb.WriteByte('\n')
		enc = enc[60:]
	}
	sb.WriteString(enc)
	sb.WriteByte('\n')
	return sb.String()
}

func fileJSON(path string, b []byte) map[string]any {
	name := path[strings.LastIndex(path, "/")+1:]
	return map[string]any{"type": "file", "encoding": "base64", "size": len(b), "name": name, "path": path, "content": wrap64(b), "sha": BlobSHA(b)}
}

func (s *Server) getContents(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repo(w, r)
	if rp == nil {
		return
	}
	c := rp.resolve(r.URL.Query().Get("ref"))
	if c == nil {
		Error(w, http.StatusNotFound, "No commit found for the ref "+r.URL.Query().Get("ref"))
		return
	}
	path := r.PathValue("path")
	b, ok := c.Tree[path]
	if !ok {
		Error(w, http.StatusNotFound, "Not Found")
		return
	}
	JSON(w, http.StatusOK, fileJSON(path, b))
}

func (s *Server) putContents(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Message string  `json:"message"`
		Content string  `json:"content"`
		SHA     *string `json:"sha"`
		Branch  string  `json:"branch"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		Error(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	content, err := base64.StdEncoding.DecodeString(body.Content)
	if err != nil || body.Message == "" {
		Error(w, http.StatusUnprocessableEntity, "Invalid request.\n\n\"content\" and \"message\" are required, content base64.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repo(w, r)
	if rp == nil {
		return
	}
	branch := body.Branch
	if branch == "" {
		branch = rp.DefaultBranch
	}
	head, ok := rp.Branches[branch]
	if !ok {
		Error(w, http.StatusNotFound, "Branch "+branch+" not found")
		return
	}
	path := r.PathValue("path")
	parent := rp.Commits[head]
	old, exists := parent.Tree[path]
	switch {
	case exists && body.SHA == nil:
		Error(w, http.StatusUnprocessableEntity, "Invalid request.\n\n\"sha\" wasn't supplied.")
		return
	case exists && *body.SHA != BlobSHA(old):
		Error(w, http.StatusConflict, path+" does not match "+*body.SHA)
		return
	}
	tree := maps.Clone(parent.Tree)
	tree[path] = content
	c := &Commit{SHA: s.newSHA(rp.Name, branch, body.Message), Parents: []string{head}, Message: body.Message, Tree: tree}
	rp.Commits[c.SHA] = c
	rp.Branches[branch] = c.SHA
	s.writes[rp.Owner+"/"+rp.Name+":"+branch+":"+path]++
	status := http.StatusOK
	if !exists {
		status = http.StatusCreated
	}
	JSON(w, status, map[string]any{"content": fileJSON(path, content), "commit": map[string]any{"sha": c.SHA, "message": c.Message}})
}

func refJSON(rp *Repo, ref, sha string) map[string]any {
	return map[string]any{"ref": ref, "object": map[string]any{"sha": sha, "type": "commit"}}
}

func (s *Server) getRef(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repo(w, r)
	if rp == nil {
		return
	}
	ref := r.PathValue("ref")
	var sha string
	if b, ok := strings.CutPrefix(ref, "heads/"); ok {
		sha = rp.Branches[b]
	} else if t, ok := strings.CutPrefix(ref, "tags/"); ok {
		sha = rp.Tags[t]
	}
	if sha == "" {
		Error(w, http.StatusNotFound, "Not Found")
		return
	}
	JSON(w, http.StatusOK, refJSON(rp, "refs/"+ref, sha))
}

func (s *Server) createRef(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Ref string `json:"ref"`
		SHA string `json:"sha"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		Error(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repo(w, r)
	if rp == nil {
		return
	}
	if !strings.HasPrefix(body.Ref, "refs/") || strings.Count(body.Ref, "/") < 2 {
		Error(w, http.StatusUnprocessableEntity, "Reference name must start with 'refs/' and have at least two slashes.")
		return
	}
	if rp.Commits[body.SHA] == nil {
		Error(w, http.StatusUnprocessableEntity, "Object does not exist")
		return
	}
	var m map[string]string
	name := ""
	if b, ok := strings.CutPrefix(body.Ref, "refs/heads/"); ok {
		m, name = rp.Branches, b
	} else if t, ok := strings.CutPrefix(body.Ref, "refs/tags/"); ok {
		m, name = rp.Tags, t
	} else {
		Error(w, http.StatusUnprocessableEntity, "unsupported ref")
		return
	}
	if _, ok := m[name]; ok {
		Error(w, http.StatusUnprocessableEntity, "Reference already exists")
		return
	}
	m[name] = body.SHA
	s.refs = append(s.refs, RefCreation{Repo: rp.Owner + "/" + rp.Name, Ref: body.Ref, SHA: body.SHA})
	JSON(w, http.StatusCreated, refJSON(rp, body.Ref, body.SHA))
}

func (s *Server) merge(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Base          string `json:"base"`
		Head          string `json:"head"`
		CommitMessage string `json:"commit_message"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		Error(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repo(w, r)
	if rp == nil {
		return
	}
	baseSHA, ok := rp.Branches[body.Base]
	if !ok {
		Error(w, http.StatusNotFound, "Base does not exist")
		return
	}
	hc := rp.resolve(body.Head)
	if hc == nil {
		Error(w, http.StatusNotFound, "Head does not exist")
		return
	}
	if rp.ancestor(hc.SHA, baseSHA) {
		w.WriteHeader(http.StatusNoContent) // nothing to merge
		return
	}
	if s.conflict[rp.Owner+"/"+rp.Name+"@"+body.Head] {
		Error(w, http.StatusConflict, "Merge conflict")
		return
	}
	msg := body.CommitMessage
	if msg == "" {
		msg = "Merge " + body.Head + " into " + body.Base
	}
	tree := maps.Clone(rp.Commits[baseSHA].Tree)
	maps.Copy(tree, hc.Tree)
	c := &Commit{SHA: s.newSHA(rp.Name, body.Base, msg), Parents: []string{baseSHA, hc.SHA}, Message: msg, Tree: tree}
	rp.Commits[c.SHA] = c
	rp.Branches[body.Base] = c.SHA
	s.merges = append(s.merges, MergeCall{Repo: rp.Owner + "/" + rp.Name, Base: body.Base, Head: body.Head, Message: msg, SHA: c.SHA})
	JSON(w, http.StatusCreated, map[string]any{"sha": c.SHA, "commit": map[string]any{"message": msg}, "parents": []any{map[string]any{"sha": baseSHA}, map[string]any{"sha": hc.SHA}}})
}

func (s *Server) pull(w http.ResponseWriter, r *http.Request) (*Repo, *Pull) {
	rp := s.repo(w, r)
	if rp == nil {
		return nil, nil
	}
	n, _ := strconv.Atoi(r.PathValue("n"))
	p := rp.Pulls[n]
	if p == nil {
		Error(w, http.StatusNotFound, "Not Found")
	}
	return rp, p
}

func (s *Server) getPull(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp, p := s.pull(w, r)
	if p == nil {
		return
	}
	JSON(w, http.StatusOK, pullJSON(rp, p))
}

func pullJSON(rp *Repo, p *Pull) map[string]any {
	labels := []any{}
	for _, l := range p.Labels {
		labels = append(labels, map[string]any{"name": l})
	}
	full := rp.Owner + "/" + rp.Name
	return map[string]any{
		"number": p.Number, "title": p.Title, "state": p.State, "draft": p.Draft,
		"html_url": "https://github.com/" + full + "/pull/" + strconv.Itoa(p.Number),
		"user":     map[string]any{"login": p.User},
		"head":     map[string]any{"sha": p.HeadSHA, "ref": p.HeadRef, "repo": map[string]any{"full_name": full}},
		"base":     map[string]any{"ref": p.BaseRef, "repo": map[string]any{"full_name": full}},
		"labels":   labels,
	}
}

func (s *Server) listReviews(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp, p := s.pull(w, r)
	if p == nil {
		return
	}
	per, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
	if per <= 0 || per > 100 {
		per = 30
	}
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	if page < 1 {
		page = 1
	}
	out := []any{}
	for i := (page - 1) * per; i < len(p.Reviews) && i < page*per; i++ {
		rv := p.Reviews[i]
		out = append(out, map[string]any{"id": i + 1, "user": map[string]any{"login": rv.User}, "state": rv.State, "commit_id": rv.CommitID,
			"submitted_at": time.Date(2024, 1, 1, 0, i, 0, 0, time.UTC).Format(time.RFC3339)})
	}
	if page*per < len(p.Reviews) {
		next := fmt.Sprintf("%srepos/%s/%s/pulls/%d/reviews?page=%d&per_page=%d", s.URL(), rp.Owner, rp.Name, p.Number, page+1, per)
		w.Header().Set("Link", "<"+next+">; rel=\"next\"")
	}
	JSON(w, http.StatusOK, out)
}

// Repos lists repository names, sorted.
func (s *Server) Repos() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Collect(maps.Keys(s.repos))
	sort.Strings(out)
	return out
}

// MirrorGit makes repository full hold every commit of the local git
// repository at dir, with their real SHAs, parents and messages (not their
// trees) and its branches, as a push of that repository to GitHub would:
// statuses and tags can then name the commits a test's fixture made.
func (s *Server) MirrorGit(full, dir string) error {
	out, err := exec.Command("git", "-C", dir, "log", "--all", "--format=%H %P%x00%s").Output()
	if err != nil {
		return fmt.Errorf("githubtest: git log in %s: %w", dir, err)
	}
	refs, err := exec.Command("git", "-C", dir, "for-each-ref", "--format=%(refname:short) %(objectname)", "refs/heads").Output()
	if err != nil {
		return fmt.Errorf("githubtest: git for-each-ref in %s: %w", dir, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	owner, name, _ := strings.Cut(full, "/")
	r := s.repos[full]
	if r == nil {
		r = &Repo{Owner: owner, Name: name, DefaultBranch: "master", Branches: map[string]string{}, Tags: map[string]string{}, Commits: map[string]*Commit{}, Pulls: map[int]*Pull{}}
		s.repos[full] = r
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		ids, msg, _ := strings.Cut(line, "\x00")
		f := strings.Fields(ids)
		if len(f) == 0 {
			continue
		}
		r.Commits[f[0]] = &Commit{SHA: f[0], Parents: f[1:], Message: msg, Tree: map[string][]byte{}}
	}
	for _, line := range strings.Split(strings.TrimSpace(string(refs)), "\n") {
		if b, sha, ok := strings.Cut(line, " "); ok {
			r.Branches[b] = sha
		}
	}
	return nil
}
