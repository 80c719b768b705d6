package hydratest

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

func (s *Server) routes() {
	s.handle("POST /login", s.login)
	s.handle("GET /current-user", s.currentUser)
	s.handle("POST /api/push", s.push)
	s.handle("GET /project/{p}", s.getProject)
	s.handle("PUT /project/{p}", s.putProject)
	s.handle("PUT /jobset/{p}/{j}", s.putJobset)
	s.handle("GET /jobset/{p}/{j}", s.getJobset(false))
	s.handle("GET /jobset/{p}/{j}/errors", s.getJobset(true))
	s.handle("GET /jobset/{p}/{j}/evals", s.listEvals)
	s.handle("GET /jobset/{p}/{j}/latest-eval", s.latestEval)
	s.handle("GET /eval/{id}", s.getEval)
	s.handle("GET /eval/{id}/job/{job}", s.evalJob)
	s.handle("GET /eval/{id}/builds", s.evalBuilds)
	s.handle("GET /eval/{id}/store-paths", s.storePaths)
	s.handle("GET /build/{id}", s.getBuild)
	s.handle("GET /build/{id}/constituents", s.constituents)
	s.handle("GET /job/{p}/{j}/{job}/latest-finished", s.latestFinished)
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if !s.csrf(w, r) {
		return
	}
	var body struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		s.fail(w, r, http.StatusBadRequest, "Bad request: "+err.Error())
		return
	}
	s.mu.Lock()
	pw, ok := s.users[body.Username]
	if !ok || pw != body.Password {
		s.mu.Unlock()
		s.fail(w, r, http.StatusForbidden, "Bad username or password.")
		return
	}
	tok := newToken()
	s.sessions[tok] = body.Username
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: "hydra_session", Value: tok, Path: "/", HttpOnly: true, MaxAge: 7 * 24 * 3600})
	w.Header().Set("Location", s.srv.URL+"/current-user")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusFound)
	_ = json.NewEncoder(w).Encode(map[string]any{"username": body.Username, "userroles": []string{"admin"}})
}

func (s *Server) currentUser(w http.ResponseWriter, r *http.Request) {
	u := s.user(r)
	if u == "" {
		s.fail(w, r, http.StatusNotFound, "No user is logged in.")
		return
	}
	s.reply(w, r, http.StatusOK, map[string]any{"username": u})
}

func (s *Server) push(w http.ResponseWriter, r *http.Request) {
	if !s.csrf(w, r) {
		return
	}
	u := s.user(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	if u == "" || !s.roles[u] {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "This page requires you to sign in."})
		return
	}
	_, force := r.URL.Query()["force"] // presence forces, whatever the value
	var done []string
	for _, name := range strings.Split(r.URL.Query().Get("jobsets"), ",") {
		if name == "" {
			continue
		}
		j := s.jobsets[name]
		if j == nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "Jobset " + name + " doesn't exist."})
			return
		}
		now := s.Now()
		ts := now.Unix()
		j.triggerTime = &ts
		j.triggeredAt = now
		j.force = j.force || force
		s.pushes[name]++
		done = append(done, name)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"jobsetsTriggered": done})
}

func optInt(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

func (s *Server) getJobset(errors bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		j := s.jobsets[r.PathValue("p")+":"+r.PathValue("j")]
		if j == nil {
			s.mu.Unlock()
			s.fail(w, r, http.StatusNotFound, "Jobset doesn't exist.")
			return
		}
		v := s.jobsetJSON(j, errors)
		s.mu.Unlock()
		s.reply(w, r, http.StatusOK, v)
	}
}

func (s *Server) evalJSON(e *eval) map[string]any {
	inputs := map[string]any{}
	for n, rev := range e.inputs {
		inputs[n] = map[string]any{"revision": rev, "value": nil, "type": "git", "uri": "https://example.org/" + n, "dependency": nil}
	}
	var flake any
	if e.flake != "" {
		flake = e.flake
	}
	return map[string]any{
		"id": e.id, "timestamp": e.timestamp, "checkouttime": 1, "evaltime": 2,
		"hasnewbuilds": e.hasNew, "flake": flake, "builds": e.builds, "jobsetevalinputs": inputs,
	}
}

func (s *Server) listEvals(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	j := s.jobsets[r.PathValue("p")+":"+r.PathValue("j")]
	if j == nil {
		s.mu.Unlock()
		s.fail(w, r, http.StatusNotFound, "Jobset doesn't exist.")
		return
	}
	var listed []*eval
	for i := len(j.evals) - 1; i >= 0; i-- {
		if e := s.evals[j.evals[i]]; e.hasNew == 1 {
			listed = append(listed, e)
		}
	}
	const per = 20
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	if page < 1 {
		page = 1
	}
	last := (len(listed) + per - 1) / per
	out := map[string]any{"first": "?page=1", "last": "?page=" + strconv.Itoa(last)}
	if page < last {
		out["next"] = "?page=" + strconv.Itoa(page+1)
	}
	if page > 1 {
		out["previous"] = "?page=" + strconv.Itoa(page-1)
	}
	evals := []any{}
	for i := (page - 1) * per; i < len(listed) && i < page*per; i++ {
		evals = append(evals, s.evalJSON(listed[i]))
	}
	out["evals"] = evals
	s.mu.Unlock()
	s.reply(w, r, http.StatusOK, out)
}

func (s *Server) unfinished(e *eval) bool {
	for _, id := range e.builds {
		if s.builds[id].finished == 0 {
			return true
		}
	}
	return false
}

func (s *Server) latestEval(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	j := s.jobsets[r.PathValue("p")+":"+r.PathValue("j")]
	if j != nil {
		for i := len(j.evals) - 1; i >= 0; i-- {
			e := s.evals[j.evals[i]]
			if e.hasNew == 1 && !s.unfinished(e) {
				s.mu.Unlock()
				s.redirect(w, r, "/eval/"+strconv.FormatInt(e.id, 10))
				return
			}
		}
	}
	s.mu.Unlock()
	s.fail(w, r, http.StatusNotFound, "No evaluation found.")
}

func (s *Server) evalByPath(w http.ResponseWriter, r *http.Request) *eval {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, "Invalid eval ID")
		return nil
	}
	e := s.evals[id]
	if e == nil {
		s.fail(w, r, http.StatusNotFound, "Evaluation "+r.PathValue("id")+" doesn't exist.")
	}
	return e
}

func (s *Server) getEval(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	e := s.evalByPath(w, r)
	if e == nil {
		s.mu.Unlock()
		return
	}
	v := s.evalJSON(e)
	s.mu.Unlock()
	s.reply(w, r, http.StatusOK, v)
}

func (s *Server) evalJob(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	e := s.evalByPath(w, r)
	if e == nil {
		s.mu.Unlock()
		return
	}
	id, ok := e.byJob[r.PathValue("job")]
	if e.hasNew == 0 {
		ok = false
	}
	s.asked = append(s.asked, AskedJob{Eval: e.id, Job: r.PathValue("job"), Found: ok})
	s.mu.Unlock()
	if !ok {
		s.fail(w, r, http.StatusNotFound, "This evaluation has no job with the specified name.")
		return
	}
	s.redirect(w, r, "/build/"+strconv.FormatInt(id, 10))
}

func (s *Server) evalBuilds(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	e := s.evalByPath(w, r)
	if e == nil {
		s.mu.Unlock()
		return
	}
	out := make([]any, 0, len(e.builds))
	for _, id := range e.builds {
		out = append(out, s.buildJSON(s.builds[id]))
	}
	s.mu.Unlock()
	s.reply(w, r, http.StatusOK, out)
}

func outPath(b *build) string {
	if p, ok := b.outputs["out"]; ok {
		return p
	}
	return "/nix/store/" + b.drv[len(b.drv)-min(len(b.drv), 8):] + "-" + b.job
}

// outputsJSON is buildoutputs: the real outputs when the builder gave them.
func outputsJSON(b *build) map[string]any {
	if b.outputs == nil {
		return map[string]any{"out": map[string]any{"path": outPath(b)}}
	}
	out := map[string]any{}
	for n, p := range b.outputs {
		out[n] = map[string]any{"path": p}
	}
	return out
}

// productsJSON is buildproducts, keyed by product number from 1. Without a
// hydra-build-products file Hydra records each output as a "nix-build"
// product with no hash (a folder is not hashed).
func productsJSON(b *build) map[string]any {
	out := map[string]any{}
	if b.products == nil {
		out["1"] = map[string]any{"type": "nix-build", "subtype": "", "name": b.job, "filesize": nil, "sha256hash": nil, "path": outPath(b), "defaultpath": ""}
		return out
	}
	for i, p := range b.products {
		var size, sum any
		if p.SHA256 != "" {
			size, sum = p.Size, p.SHA256
		}
		out[strconv.Itoa(i+1)] = map[string]any{"type": p.Type, "subtype": p.Subtype, "name": p.Name, "filesize": size, "sha256hash": sum, "path": p.Path, "defaultpath": ""}
	}
	return out
}

func (s *Server) storePaths(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	e := s.evalByPath(w, r)
	if e == nil {
		s.mu.Unlock()
		return
	}
	out := []string{}
	for _, id := range e.builds {
		if b := s.builds[id]; b.finished == 1 && *b.status == 0 && len(b.constituents) == 0 {
			if b.outputs == nil {
				out = append(out, outPath(b))
			}
			for _, p := range b.outputs {
				out = append(out, p)
			}
		}
	}
	s.mu.Unlock()
	s.reply(w, r, http.StatusOK, out)
}

func (s *Server) buildJSON(b *build) map[string]any {
	var status any
	if b.status != nil {
		status = *b.status
	}
	return map[string]any{
		"id": b.id, "finished": b.finished, "buildstatus": status, "timestamp": b.timestamp,
		"starttime": optInt(b.start), "stoptime": optInt(b.stop),
		"project": b.project, "jobset": b.jobset, "job": b.job, "system": b.system,
		"nixname": b.job, "drvpath": "/nix/store/" + b.job + ".drv", "priority": 100, "releasename": nil,
		"jobsetevals":   slices.Clone(b.evals),
		"buildoutputs":  outputsJSON(b),
		"buildproducts": productsJSON(b),
		"buildmetrics":  map[string]any{},
	}
}

func (s *Server) buildByPath(w http.ResponseWriter, r *http.Request) *build {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, "Invalid build ID")
		return nil
	}
	b := s.builds[id]
	if b == nil {
		s.fail(w, r, http.StatusNotFound, "Build with ID "+r.PathValue("id")+" doesn't exist.")
	}
	return b
}

func (s *Server) getBuild(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	b := s.buildByPath(w, r)
	if b == nil {
		s.mu.Unlock()
		return
	}
	v := s.buildJSON(b)
	if b.finished == 1 && s.restartJobs[b.job] {
		delete(s.restartJobs, b.job)
		b.finished = 0
	}
	s.mu.Unlock()
	s.reply(w, r, http.StatusOK, v)
}

func (s *Server) constituents(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	b := s.buildByPath(w, r)
	if b == nil {
		s.mu.Unlock()
		return
	}
	out := []any{}
	for _, id := range b.constituents {
		out = append(out, s.buildJSON(s.builds[id]))
	}
	s.mu.Unlock()
	s.reply(w, r, http.StatusOK, out)
}

func (s *Server) latestFinished(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	j := s.jobsets[r.PathValue("p")+":"+r.PathValue("j")]
	var best int64
	if j != nil {
		for _, eid := range j.evals {
			e := s.evals[eid]
			if e.hasNew == 0 || s.unfinished(e) {
				continue
			}
			if id, ok := e.byJob[r.PathValue("job")]; ok && *s.builds[id].status == 0 && id > best {
				best = id
			}
		}
	}
	s.mu.Unlock()
	if best == 0 {
		s.fail(w, r, http.StatusNotFound, "No build found.")
		return
	}
	s.redirect(w, r, "/build/"+strconv.FormatInt(best, 10))
}
