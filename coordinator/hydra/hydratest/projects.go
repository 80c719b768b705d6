package hydratest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// What PUT /project and PUT /jobset do follows Hydra's Controller/Project.pm
// and Controller/Jobset.pm (updateProject, updateJobset) and the JSON of
// Schema/Result/{Projects,Jobsets}.pm. Where the fake guesses, it says so.

var (
	projectNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)
	jobsetNameRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)
	relPathRE     = regexp.MustCompile(`^[A-Za-z0-9+._$-][A-Za-z0-9+._$-]*(/[A-Za-z0-9+._$-][A-Za-z0-9+._$-]*)*$`)
	inputNameRE   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)
	leadingInt    = regexp.MustCompile(`^[+-]?\d+`)
)

// params is a request body as Hydra's Perl sees it: a key is "defined" when
// present and not null; numbers go through Perl's int().
type params map[string]json.RawMessage

func (p params) defined(k string) bool {
	v, ok := p[k]
	return ok && !bytes.Equal(bytes.TrimSpace(v), []byte("null"))
}

// str is trim($params->{k}), "" when missing.
func (p params) str(k string) string {
	if !p.defined(k) {
		return ""
	}
	var v string
	if json.Unmarshal(p[k], &v) != nil {
		var n json.Number
		if json.Unmarshal(p[k], &n) != nil {
			return strings.TrimSpace(string(p[k])) // guess: other JSON values stringify oddly in Perl
		}
		v = n.String()
	}
	return strings.TrimSpace(v)
}

// num is int(trim($params->{k} // def)): leading digits of a string, 0 for
// anything else (Perl warns and carries on), JSON true is 1.
func (p params) num(k string, def int) int {
	if !p.defined(k) {
		return def
	}
	switch strings.TrimSpace(string(p[k])) {
	case "true":
		return 1
	case "false":
		return 0
	}
	s := p.str(k)
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return int(f)
	}
	m := leadingInt.FindString(s)
	n, _ := strconv.Atoi(m)
	return n
}

func (s *Server) decodeParams(w http.ResponseWriter, r *http.Request) (params, bool) {
	var body params
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		// Guess: Catalyst's REST deserialiser refuses a bad body with 400.
		s.fail(w, r, http.StatusBadRequest, "Content-Type application/json had a problem with your request.")
		return nil, false
	}
	return body, true
}

// mayEdit is requireProjectOwner: 403 without a session or without the role
// (the fake's users with a role are admins).
func (s *Server) mayEdit(w http.ResponseWriter, r *http.Request, u string) bool {
	if u == "" {
		s.fail(w, r, http.StatusForbidden, "This page requires you to sign in.")
		return false
	}
	s.mu.Lock()
	ok := s.roles[u]
	s.mu.Unlock()
	if !ok {
		s.fail(w, r, http.StatusForbidden, "Only the project members or administrators can perform this operation.")
	}
	return ok
}

func (s *Server) projectJSON(p *project) map[string]any {
	var names []string
	for _, j := range s.jobsets {
		if j.project == p.name {
			names = append(names, j.name)
		}
	}
	if p.declFile != "" {
		names = append(names, ".jobsets")
	}
	sort.Strings(names)
	v := map[string]any{
		"name": p.name, "displayname": p.displayName, "description": p.description,
		"homepage": p.homepage, "owner": p.owner, "enabled": p.enabled, "hidden": p.hidden,
		"jobsets": append([]string{}, names...),
	}
	if p.declFile != "" {
		v["declarative"] = map[string]any{"file": p.declFile, "type": p.declType, "value": p.declValue}
	}
	return v
}

func (s *Server) getProject(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	p := s.allProjects[r.PathValue("p")]
	if p == nil {
		s.mu.Unlock()
		s.fail(w, r, http.StatusNotFound, "Project ‘"+r.PathValue("p")+"’ doesn't exist.")
		return
	}
	v := s.projectJSON(p)
	s.mu.Unlock()
	s.reply(w, r, http.StatusOK, v)
}

// putProject is project_PUT + updateProject: enabled and visible count by
// presence, displayname is required, and a body without declarative
// settings turns a declarative project into a plain one.
func (s *Server) putProject(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("p")
	u := s.user(r)
	if !s.mayEdit(w, r, u) {
		return
	}
	body, ok := s.decodeParams(w, r)
	if !ok {
		return
	}
	if body.defined("name") && body.str("name") != name {
		// Guess: renames are not modelled; Hydra would rename the project.
		s.fail(w, r, http.StatusBadRequest, "hydratest: renaming a project is not modelled")
		return
	}
	if !projectNameRE.MatchString(name) {
		s.fail(w, r, http.StatusInternalServerError, "Invalid project identifier ‘"+name+"’.")
		return
	}
	display := body.str("displayname")
	if display == "" {
		s.fail(w, r, http.StatusInternalServerError, "You must specify a display name.")
		return
	}
	var decl struct{ File, Type, Value string }
	if body.defined("declarative") {
		_ = json.Unmarshal(body["declarative"], &decl)
	}
	s.mu.Lock()
	p, exists := s.allProjects[name]
	if !exists {
		p = &project{name: name, owner: u}
		s.allProjects[name] = p
	}
	p.displayName = display
	p.description = body.str("description")
	p.homepage = body.str("homepage")
	p.enabled = body.defined("enabled")
	p.hidden = !body.defined("visible")
	p.declFile = strings.TrimSpace(decl.File)
	p.declType, p.declValue = strings.TrimSpace(decl.Type), strings.TrimSpace(decl.Value)
	if p.declFile == "" {
		p.declType, p.declValue = "", ""
	}
	s.mu.Unlock()
	uri := s.srv.URL + "/project/" + name
	if exists {
		s.reply(w, r, http.StatusOK, map[string]any{"redirect": uri + "#tabs-configuration"})
		return
	}
	s.reply(w, r, http.StatusCreated, map[string]any{"name": name, "uri": uri, "redirect": uri, "type": "project"})
}

// putJobset is jobset_PUT + updateJobset. Every column is rewritten from the
// body: a missing enabled is 0 (off), a missing checkinterval 0, a missing
// keepnr 0; booleans count by presence (false enables); and triggertime is
// kept (or set to now) only for an enabled jobset with checkinterval > 0, so
// a PUT of a trigger-only jobset drops a pending push.
func (s *Server) putJobset(w http.ResponseWriter, r *http.Request) {
	pname, name := r.PathValue("p"), r.PathValue("j")
	s.mu.Lock()
	p := s.allProjects[pname]
	s.mu.Unlock()
	if p == nil {
		s.fail(w, r, http.StatusNotFound, "Project ‘"+pname+"’ doesn't exist.")
		return
	}
	if !s.mayEdit(w, r, s.user(r)) {
		return
	}
	s.mu.Lock()
	declarative := p.declFile != ""
	s.mu.Unlock()
	if declarative {
		s.fail(w, r, http.StatusForbidden, "can't modify jobset of declarative project")
		return
	}
	body, ok := s.decodeParams(w, r)
	if !ok {
		return
	}
	if body.defined("name") && body.str("name") != name {
		// Guess: renames are not modelled; Hydra would rename the jobset.
		s.fail(w, r, http.StatusBadRequest, "hydratest: renaming a jobset is not modelled")
		return
	}
	if !jobsetNameRE.MatchString(name) {
		s.fail(w, r, http.StatusInternalServerError, "Invalid jobset identifier ‘"+name+"’.")
		return
	}
	typ := body.num("type", 0)
	var flake, exprPath, exprInput string
	switch typ {
	case 0:
		exprPath, exprInput = body.str("nixexprpath"), body.str("nixexprinput")
		if !relPathRE.MatchString(exprPath) {
			s.fail(w, r, http.StatusInternalServerError, "Invalid Nix expression path ‘"+exprPath+"’.")
			return
		}
		if !inputNameRE.MatchString(exprInput) {
			s.fail(w, r, http.StatusInternalServerError, "Invalid Nix expression input name ‘"+exprInput+"’.")
			return
		}
	case 1:
		flake = body.str("flake")
		if flake == "" || !(flake[0] >= 'a' && flake[0] <= 'z' || flake[0] >= 'A' && flake[0] <= 'Z') {
			s.fail(w, r, http.StatusInternalServerError, "Invalid flake URI ‘"+flake+"’.")
			return
		}
	default:
		s.fail(w, r, http.StatusInternalServerError, "Invalid jobset type.")
		return
	}
	enabled := body.num("enabled", 0)
	if enabled < 0 || enabled > 3 {
		// Hydra dies here without a message of its own.
		s.fail(w, r, http.StatusInternalServerError, "Died at Jobset.pm.")
		return
	}
	shares := body.num("schedulingshares", 1)
	if shares <= 0 {
		s.fail(w, r, http.StatusInternalServerError, "The number of scheduling shares must be positive.")
		return
	}
	if body.defined("enable_dynamic_run_command") {
		// Assumes the server's default configuration (dynamicruncommand off).
		s.fail(w, r, http.StatusBadRequest, "Dynamic RunCommand is not enabled by the server or the parent project.")
		return
	}
	checkInterval := body.num("checkinterval", 0)
	s.mu.Lock()
	key := pname + ":" + name
	j, exists := s.jobsets[key]
	if !exists {
		j = &jobset{project: pname, name: name}
		s.jobsets[key] = j
	}
	j.typ, j.flake, j.enabled, j.shares, j.checkInterval = typ, flake, enabled, shares, checkInterval
	j.exprPath, j.exprInput = exprPath, exprInput
	j.description = body.str("description")
	j.emailOverride = body.str("emailoverride")
	j.keepnr = body.num("keepnr", 0)
	j.visible = body.defined("visible")
	j.enableEmail = body.defined("enableemail")
	if enabled != 0 && checkInterval > 0 {
		if j.triggerTime == nil {
			now := s.Now()
			ts := now.Unix()
			j.triggerTime, j.triggeredAt = &ts, now
		}
	} else {
		j.triggerTime = nil
	}
	s.mu.Unlock()
	uri := s.srv.URL + "/jobset/" + pname + "/" + name
	if exists {
		s.reply(w, r, http.StatusOK, map[string]any{"redirect": uri + "#tabs-configuration"})
		return
	}
	s.reply(w, r, http.StatusCreated, map[string]any{"name": name, "uri": uri, "redirect": uri, "type": "jobset"})
}

// jobsetJSON renders a jobset as Hydra's Jobsets as_json does; errormsg is
// "" unless errors (the /errors page), as on current servers.
func (s *Server) jobsetJSON(j *jobset, errors bool) map[string]any {
	errmsg := ""
	if errors {
		errmsg = j.errormsg
	}
	return map[string]any{
		"name": j.name, "project": j.project, "description": j.description,
		"nixexprinput": j.exprInput, "nixexprpath": j.exprPath, "errormsg": errmsg, "fetcherrormsg": j.fetcherr,
		"emailoverride": j.emailOverride, "type": j.typ, "flake": j.flake,
		"errortime": optInt(j.errortime), "lastcheckedtime": optInt(j.lastChecked),
		"triggertime": optInt(j.triggerTime), "starttime": optInt(j.startTime),
		"enabled": j.enabled, "keepnr": j.keepnr, "checkinterval": j.checkInterval,
		"schedulingshares": j.shares, "enableemail": j.enableEmail, "visible": j.visible,
		"enable_dynamic_run_command": false, "inputs": map[string]any{},
	}
}
