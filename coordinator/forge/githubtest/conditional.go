package githubtest

import (
	"crypto/sha1"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Conditional requests and the primary rate limit, as GitHub documents
// them: every GET answer carries an ETag; a GET whose If-None-Match names
// the current ETag is answered 304 Not Modified with no body, and such an
// answer does not count against the rate limit when the request carried
// an Authorization header. Every other answer counts one request, and each
// answer tells the count in the X-RateLimit-* headers. (GitHub's ETags are
// opaque; here they are a hash of the body, weak, as GitHub sends for JSON.)

const rateLimitTotal = 5000

type rateLimit struct {
	used        int // requests counted against the limit
	notModified int // 304 answers (not counted)
}

// answer runs h and writes its answer, honouring If-None-Match on GETs and
// keeping the rate-limit count.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, h http.HandlerFunc) {
	rec := httptest.NewRecorder()
	h(rec, r)
	body := rec.Body.Bytes()
	etag := ""
	if r.Method == http.MethodGet && rec.Code == http.StatusOK {
		sum := sha1.Sum(body)
		etag = `W/"` + hex.EncodeToString(sum[:]) + `"`
	}
	free := etag != "" && matches(r.Header.Get("If-None-Match"), etag) && r.Header.Get("Authorization") != ""
	s.mu.Lock()
	if free {
		s.rate.notModified++
	} else {
		s.rate.used++
	}
	used := s.rate.used
	s.mu.Unlock()
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.Header().Set("X-RateLimit-Limit", strconv.Itoa(rateLimitTotal))
	w.Header().Set("X-RateLimit-Remaining", strconv.Itoa(max(0, rateLimitTotal-used)))
	w.Header().Set("X-RateLimit-Used", strconv.Itoa(used))
	w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10))
	w.Header().Set("X-RateLimit-Resource", "core")
	if etag != "" {
		w.Header().Set("ETag", etag)
	}
	if free {
		w.Header().Del("Content-Type")
		w.Header().Del("Content-Length")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(body)
}

// matches applies If-None-Match's weak comparison: any listed tag equal to
// etag once the W/ prefixes are set aside, or "*".
func matches(header, etag string) bool {
	if header == "" {
		return false
	}
	want := strings.TrimPrefix(etag, "W/")
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == want {
			return true
		}
	}
	return false
}

// RateUsed is how many requests counted against the primary rate limit.
func (s *Server) RateUsed() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rate.used
}

// NotModified is how many requests were answered 304 (free of rate limit).
func (s *Server) NotModified() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rate.notModified
}

// listPulls serves GET /repos/{o}/{r}/pulls: state open (default), closed
// or all; newest first; per_page (30, at most 100) and page, with a Link
// header to the next page.
func (s *Server) listPulls(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repo(w, r)
	if rp == nil {
		return
	}
	state := r.URL.Query().Get("state")
	if state == "" {
		state = "open"
	}
	var nums []int
	for n, p := range rp.Pulls {
		if state == "all" || p.State == state {
			nums = append(nums, n)
		}
	}
	sort.Sort(sort.Reverse(sort.IntSlice(nums)))
	per, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
	if per <= 0 || per > 100 {
		per = 30
	}
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	if page < 1 {
		page = 1
	}
	out := []any{}
	for i := (page - 1) * per; i < len(nums) && i < page*per; i++ {
		out = append(out, pullJSON(rp, rp.Pulls[nums[i]]))
	}
	if page*per < len(nums) {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(page+1))
		q.Set("per_page", strconv.Itoa(per))
		w.Header().Set("Link", "<"+s.URL()+strings.TrimPrefix(r.URL.Path, "/")+"?"+q.Encode()+`>; rel="next"`)
	}
	JSON(w, http.StatusOK, out)
}

// UpdatePull changes a pull request in place (a label added, a review
// submitted, a new head pushed), as people do on GitHub.
func (s *Server) UpdatePull(full string, number int, change func(*Pull)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	change(s.repos[full].Pulls[number])
}

// AddCommit records a commit made elsewhere (pushed from a real git
// repository) with the given id on top of parent, with parent's files, so
// that merges of it can be made.
func (s *Server) AddCommit(full, sha, parent, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[full]
	tree := map[string][]byte{}
	if p := r.Commits[parent]; p != nil {
		for k, v := range p.Tree {
			tree[k] = v
		}
	}
	r.Commits[sha] = &Commit{SHA: sha, Parents: []string{parent}, Message: message, Tree: tree}
}
