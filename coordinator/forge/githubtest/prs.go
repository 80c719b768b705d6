package githubtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// PR is a pull request of the fake.
type PR struct {
	Repo    string // owner/name
	Number  int
	State   string // open | closed
	HeadSHA string
	Commits []string // every commit the PR contains, head included
}

// Status is a commit status the fake received.
type Status struct {
	Repo, SHA                              string
	State, Context, Description, TargetURL string
}

// Comment is an issue comment of the fake.
type Comment struct {
	ID    int64
	Repo  string
	Issue int
	Body  string
	Edits int
}

// PRState is the fake's pull requests, statuses and comments, and a count
// of calls per endpoint.
type PRState struct {
	mu sync.Mutex
	// PageSize caps per_page as GitHub does at 100; tests lower it to force
	// pagination.
	PageSize int
	// Token, when set, must be presented as a bearer or token credential.
	Token          string
	prs            []*PR
	statuses       []Status
	comments       []*Comment
	nextID         int64
	calls          map[string]int
	loseAnswers    int
	secondaryLimit int
}

// LoseCommentAnswers makes the next n comment creations happen but answer
// 502, as when a proxy drops GitHub's answer.
func (p *PRState) LoseCommentAnswers(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.loseAnswers = n
}

// SecondaryLimit answers the next n requests 403 with Retry-After: 1 and a
// secondary rate limit message (the status and header are GitHub's
// documented behaviour; the exact body is a guess).
func (p *PRState) SecondaryLimit(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.secondaryLimit = n
}

// EnablePRs serves the pull request, status and comment endpoints.
func (s *Server) EnablePRs() *PRState {
	p := &PRState{PageSize: 100, nextID: 1000, calls: map[string]int{}}
	s.Handle("GET /repos/{owner}/{repo}/commits/{sha}/pulls", p.auth("pulls-for-commit", p.pullsForCommit))
	s.Handle("POST /repos/{owner}/{repo}/statuses/{sha}", p.auth("create-status", p.createStatus))
	s.Handle("GET /repos/{owner}/{repo}/issues/{number}/comments", p.auth("list-comments", p.listComments))
	s.Handle("POST /repos/{owner}/{repo}/issues/{number}/comments", p.auth("create-comment", p.createComment))
	s.Handle("PATCH /repos/{owner}/{repo}/issues/comments/{id}", p.auth("edit-comment", p.editComment))
	return p
}

// AddPR adds a pull request.
func (p *PRState) AddPR(pr PR) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pr.State == "" {
		pr.State = "open"
	}
	if !slices.Contains(pr.Commits, pr.HeadSHA) {
		pr.Commits = append(pr.Commits, pr.HeadSHA)
	}
	p.prs = append(p.prs, &pr)
}

// Statuses returns the statuses received, oldest first.
func (p *PRState) Statuses() []Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.statuses)
}

// Comments returns the comments on a pull request.
func (p *PRState) Comments(repo string, issue int) []Comment {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Comment
	for _, c := range p.comments {
		if c.Repo == repo && c.Issue == issue {
			out = append(out, *c)
		}
	}
	return out
}

// AddComment adds a comment as if a person had written it.
func (p *PRState) AddComment(repo string, issue int, body string) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.nextID++
	p.comments = append(p.comments, &Comment{ID: p.nextID, Repo: repo, Issue: issue, Body: body})
	return p.nextID
}

// DeleteComment removes a comment, as a person might.
func (p *PRState) DeleteComment(id int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.comments = slices.DeleteFunc(p.comments, func(c *Comment) bool { return c.ID == id })
}

// Calls reports how often an endpoint was called (pulls-for-commit,
// create-status, list-comments, create-comment, edit-comment).
func (p *PRState) Calls(name string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[name]
}

func (p *PRState) auth(name string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.calls[name]++
		tok := p.Token
		limited := p.secondaryLimit > 0
		if limited {
			p.secondaryLimit--
		}
		p.mu.Unlock()
		if limited {
			w.Header().Set("Retry-After", "1")
			writeErr(w, http.StatusForbidden, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.")
			return
		}
		if tok != "" {
			a := r.Header.Get("Authorization")
			if a != "Bearer "+tok && a != "token "+tok {
				writeErr(w, http.StatusUnauthorized, "Bad credentials")
				return
			}
		}
		h(w, r)
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]any{"message": msg, "documentation_url": "https://docs.github.com/rest"})
}

// page cuts items to the requested page and sets GitHub's Link header.
func page[T any](p *PRState, w http.ResponseWriter, r *http.Request, items []T) []T {
	per := 30
	if v, err := strconv.Atoi(r.URL.Query().Get("per_page")); err == nil && v > 0 {
		per = min(v, 100)
	}
	p.mu.Lock()
	per = min(per, p.PageSize)
	p.mu.Unlock()
	n := 1
	if v, err := strconv.Atoi(r.URL.Query().Get("page")); err == nil && v > 0 {
		n = v
	}
	last := max(1, (len(items)+per-1)/per)
	link := func(i int, rel string) string {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(i))
		q.Set("per_page", strconv.Itoa(per))
		return fmt.Sprintf(`<http://%s%s?%s>; rel="%s"`, r.Host, r.URL.Path, q.Encode(), rel)
	}
	var links []string
	if n < last {
		links = append(links, link(n+1, "next"), link(last, "last"))
	}
	if n > 1 {
		links = append(links, link(1, "first"), link(n-1, "prev"))
	}
	if len(links) > 0 {
		w.Header().Set("Link", joinLinks(links))
	}
	lo, hi := min((n-1)*per, len(items)), min(n*per, len(items))
	return items[lo:hi]
}

func joinLinks(l []string) string {
	out := l[0]
	for _, s := range l[1:] {
		out += ", " + s
	}
	return out
}

func repoOf(r *http.Request) string { return r.PathValue("owner") + "/" + r.PathValue("repo") }

func (p *PRState) pullsForCommit(w http.ResponseWriter, r *http.Request) {
	repo, sha := repoOf(r), r.PathValue("sha")
	p.mu.Lock()
	var out []map[string]any
	for _, pr := range p.prs {
		if pr.Repo == repo && slices.Contains(pr.Commits, sha) {
			out = append(out, map[string]any{
				"number": pr.Number, "state": pr.State,
				"html_url": fmt.Sprintf("https://github.com/%s/pull/%d", repo, pr.Number),
				"head":     map[string]any{"sha": pr.HeadSHA},
			})
		}
	}
	p.mu.Unlock()
	if out == nil {
		out = []map[string]any{}
	}
	writeJSON(w, http.StatusOK, page(p, w, r, out))
}

func (p *PRState) createStatus(w http.ResponseWriter, r *http.Request) {
	var in struct {
		State       string `json:"state"`
		TargetURL   string `json:"target_url"`
		Description string `json:"description"`
		Context     string `json:"context"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeErr(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	switch in.State {
	case "pending", "success", "failure", "error":
	default:
		writeErr(w, http.StatusUnprocessableEntity, "Validation Failed")
		return
	}
	if len([]rune(in.Description)) > 140 {
		writeErr(w, http.StatusUnprocessableEntity, "Validation Failed: description is too long (maximum is 140 characters)")
		return
	}
	if in.Context == "" {
		in.Context = "default"
	}
	p.mu.Lock()
	p.statuses = append(p.statuses, Status{Repo: repoOf(r), SHA: r.PathValue("sha"), State: in.State, Context: in.Context, Description: in.Description, TargetURL: in.TargetURL})
	p.nextID++
	id := p.nextID
	p.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{"id": id, "state": in.State, "context": in.Context, "description": in.Description, "target_url": in.TargetURL, "created_at": time.Now().UTC()})
}

func commentJSON(c *Comment) map[string]any {
	return map[string]any{"id": c.ID, "body": c.Body, "user": map[string]any{"login": "ironworks-bot"}}
}

func (p *PRState) listComments(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.PathValue("number"))
	if err != nil {
		writeErr(w, http.StatusNotFound, "Not Found")
		return
	}
	p.mu.Lock()
	out := []map[string]any{}
	for _, c := range p.comments {
		if c.Repo == repoOf(r) && c.Issue == n {
			out = append(out, commentJSON(c))
		}
	}
	p.mu.Unlock()
	writeJSON(w, http.StatusOK, page(p, w, r, out))
}

func (p *PRState) createComment(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.PathValue("number"))
	var in struct {
		Body string `json:"body"`
	}
	if err != nil || json.NewDecoder(r.Body).Decode(&in) != nil || in.Body == "" {
		writeErr(w, http.StatusUnprocessableEntity, "Validation Failed")
		return
	}
	p.mu.Lock()
	p.nextID++
	c := &Comment{ID: p.nextID, Repo: repoOf(r), Issue: n, Body: in.Body}
	p.comments = append(p.comments, c)
	out := commentJSON(c)
	lose := p.loseAnswers > 0
	if lose {
		p.loseAnswers--
	}
	p.mu.Unlock()
	if lose {
		writeErr(w, http.StatusBadGateway, "Bad Gateway")
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

func (p *PRState) editComment(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	var in struct {
		Body string `json:"body"`
	}
	if err != nil || json.NewDecoder(r.Body).Decode(&in) != nil || in.Body == "" {
		writeErr(w, http.StatusUnprocessableEntity, "Validation Failed")
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.comments {
		if c.ID == id && c.Repo == repoOf(r) {
			c.Body = in.Body
			c.Edits++
			writeJSON(w, http.StatusOK, commentJSON(c))
			return
		}
	}
	writeErr(w, http.StatusNotFound, "Not Found")
}
