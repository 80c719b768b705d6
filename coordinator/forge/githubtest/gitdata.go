package githubtest

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
)

// The Git Data API (commits, trees, ref updates) as GitHub answers it:
// trees are content-addressed (the same files give the same sha), a commit
// names one tree and its parents, and PATCH git/refs refuses a move that is
// not a fast-forward unless force is set (422 "Update is not a fast forward").

func (s *Server) gitDataRoutes() {
	s.Handle("GET /repos/{o}/{r}/git/commits/{sha}", s.getCommit)
	s.Handle("POST /repos/{o}/{r}/git/trees", s.createTree)
	s.Handle("POST /repos/{o}/{r}/git/commits", s.createCommit)
	s.Handle("PATCH /repos/{o}/{r}/git/refs/{ref...}", s.updateRef)
}

// LoseNextAnswers makes the next n requests whose pattern contains match take
// effect and then answer 502, as a proxy dropping the upstream answer does.
func (s *Server) LoseNextAnswers(n int, match string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lost = append(s.lost, &fault{n: n, match: match})
}

// loseAnswer consumes one lost-answer fault for pattern; the caller holds the lock.
func (s *Server) loseAnswer(pattern string) bool {
	for _, f := range s.lost {
		if f.n > 0 && strings.Contains(pattern, f.match) {
			f.n--
			return true
		}
	}
	return false
}

type discard struct{ h http.Header }

func (d discard) Header() http.Header         { return d.h }
func (d discard) Write(b []byte) (int, error) { return len(b), nil }
func (d discard) WriteHeader(int)             {}

// treeSHA is the content address of a tree; the caller holds the lock.
func (s *Server) treeSHA(tree map[string][]byte) string {
	h := sha1.New()
	for _, p := range slices.Sorted(maps.Keys(tree)) {
		fmt.Fprintf(h, "%s\x00%s\n", p, BlobSHA(tree[p]))
	}
	sha := hex.EncodeToString(h.Sum(nil))
	if _, ok := s.trees[sha]; !ok {
		s.trees[sha] = maps.Clone(tree)
	}
	return sha
}

func (s *Server) commitJSON(c *Commit) map[string]any {
	parents := []map[string]string{}
	for _, p := range c.Parents {
		parents = append(parents, map[string]string{"sha": p})
	}
	return map[string]any{"sha": c.SHA, "message": c.Message, "tree": map[string]string{"sha": s.treeSHA(c.Tree)}, "parents": parents}
}

func (s *Server) getCommit(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repo(w, r)
	if rp == nil {
		return
	}
	c := rp.Commits[r.PathValue("sha")]
	if c == nil {
		Error(w, http.StatusNotFound, "Not Found")
		return
	}
	JSON(w, http.StatusOK, s.commitJSON(c))
}

func (s *Server) createTree(w http.ResponseWriter, r *http.Request) {
	var body struct {
		BaseTree string `json:"base_tree"`
		Tree     []struct {
			Path    string  `json:"path"`
			Mode    string  `json:"mode"`
			Type    string  `json:"type"`
			Content *string `json:"content"`
		} `json:"tree"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		Error(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.repo(w, r) == nil {
		return
	}
	tree := map[string][]byte{}
	if body.BaseTree != "" {
		base, ok := s.trees[body.BaseTree]
		if !ok {
			Error(w, http.StatusUnprocessableEntity, "base_tree is not a valid tree oid")
			return
		}
		tree = maps.Clone(base)
	}
	for _, e := range body.Tree {
		if e.Type != "blob" || e.Mode != "100644" || e.Path == "" {
			Error(w, http.StatusUnprocessableEntity, "tree.path, tree.mode 100644 and tree.type blob are required")
			return
		}
		if e.Content == nil {
			delete(tree, e.Path)
			continue
		}
		tree[e.Path] = []byte(*e.Content)
	}
	JSON(w, http.StatusCreated, map[string]any{"sha": s.treeSHA(tree)})
}

func (s *Server) createCommit(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Message string   `json:"message"`
		Tree    string   `json:"tree"`
		Parents []string `json:"parents"`
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
	tree, ok := s.trees[body.Tree]
	if !ok || body.Message == "" {
		Error(w, http.StatusUnprocessableEntity, "Tree SHA does not exist, or no message")
		return
	}
	for _, p := range body.Parents {
		if rp.Commits[p] == nil {
			Error(w, http.StatusUnprocessableEntity, "Parent SHA does not exist or is not a commit object")
			return
		}
	}
	c := &Commit{SHA: s.newSHA(rp.Name, body.Tree, body.Message), Parents: body.Parents, Message: body.Message, Tree: maps.Clone(tree)}
	rp.Commits[c.SHA] = c
	JSON(w, http.StatusCreated, s.commitJSON(c))
}

func (s *Server) updateRef(w http.ResponseWriter, r *http.Request) {
	var body struct {
		SHA   string `json:"sha"`
		Force bool   `json:"force"`
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
	name, ok := strings.CutPrefix(r.PathValue("ref"), "heads/")
	if !ok {
		Error(w, http.StatusUnprocessableEntity, "only branches can be updated here")
		return
	}
	old, ok := rp.Branches[name]
	if !ok {
		Error(w, http.StatusUnprocessableEntity, "Reference does not exist")
		return
	}
	if rp.Commits[body.SHA] == nil {
		Error(w, http.StatusUnprocessableEntity, "Object does not exist")
		return
	}
	if !body.Force && !rp.ancestor(old, body.SHA) {
		Error(w, http.StatusUnprocessableEntity, "Update is not a fast forward")
		return
	}
	rp.Branches[name] = body.SHA
	JSON(w, http.StatusOK, refJSON(rp, "refs/heads/"+name, body.SHA))
}

// Tree returns the files of a commit (a branch or sha), nil if none.
func (s *Server) Tree(full, ref string) map[string][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repos[full]
	if rp == nil {
		return nil
	}
	c := rp.resolve(ref)
	if c == nil {
		return nil
	}
	return maps.Clone(c.Tree)
}
