package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

func (s *Server) apiFail(w http.ResponseWriter, r *http.Request, err error) {
	code := errorCode(err)
	msg := err.Error()
	if code == http.StatusInternalServerError {
		s.log.Error("web: api", "path", r.URL.Path, "err", err)
		msg = "internal error; see the coordinator's log"
	}
	writeError(w, code, msg)
}

func (s *Server) apiDashboard(w http.ResponseWriter, r *http.Request) {
	d, err := s.dashboard(r.Context())
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (s *Server) apiCandidate(w http.ResponseWriter, r *http.Request) {
	v, err := s.candidateView(r.Context(), r.PathValue("id"))
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) apiRun(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		s.apiFail(w, r, badRequest("run id %q is not a number", r.PathValue("id")))
		return
	}
	run, err := s.st.Run(r.Context(), id)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	v, err := s.runView(r.Context(), run, true)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) apiJob(w http.ResponseWriter, r *http.Request) {
	runID, job, ok := runJob(w, r)
	if !ok {
		return
	}
	jr, err := s.st.JobResult(r.Context(), runID, job)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newJobView(jr, timeNow()))
}

// LogPage is a slice of a job log for the API.
type LogPage struct {
	RunID int64    `json:"run_id"`
	Job   string   `json:"job"`
	State string   `json:"state"`
	Final bool     `json:"final"`
	First int      `json:"first"` // number of lines[0]
	Lines []string `json:"lines"`
	// Next is the from= to ask for the following lines.
	Next int `json:"next"`
}

func (s *Server) apiLog(w http.ResponseWriter, r *http.Request) {
	runID, job, ok := runJob(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	from, limit := 0, 10000
	for name, dst := range map[string]*int{"from": &from, "limit": &limit} {
		if v := q.Get(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				s.apiFail(w, r, badRequest("%s=%q: want a number >= 0", name, v))
				return
			}
			*dst = n
		}
	}
	limit = min(max(limit, 1), 100000)
	jr, err := s.st.JobResult(r.Context(), runID, job)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	p := LogPage{RunID: runID, Job: job, State: jr.State, Final: store.JobFinal(jr.State), First: from + 1, Next: from, Lines: []string{}}
	path := s.opts.LogPath(runID, job)
	if path == "" {
		s.apiFail(w, r, notFound("no local log for job %s of run %d", job, runID))
		return
	}
	c, err := readLines(path, from, 0, limit, p.Final)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if p.Final {
			s.apiFail(w, r, notFound("no log for job %s of run %d", job, runID))
			return
		}
	case err != nil:
		s.apiFail(w, r, err)
		return
	default:
		p.First, p.Next = c.First, c.Next
		if c.Lines != nil {
			p.Lines = c.Lines
		}
	}
	writeJSON(w, http.StatusOK, p)
}

func (s *Server) apiHistory(w http.ResponseWriter, r *http.Request) {
	v, err := s.historyView(r.Context(), r.URL.Query())
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	if v.Runs == nil {
		v.Runs = []*RunView{}
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) apiRebuild(w http.ResponseWriter, r *http.Request) {
	runID, job, ok := runJob(w, r)
	if !ok {
		return
	}
	newRun, err := s.opts.Actions.Rebuild(r.Context(), runID, job)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.actionDone(w, r, "rebuild", "run", runID, "job", job, "new_run", newRun, "via", "api")
	writeJSON(w, http.StatusAccepted, map[string]any{"run_id": newRun, "rebuild_of": runID, "job": job, "rebuilding": true,
		"url": fmt.Sprintf("/runs/%d/jobs/%s", newRun, url.PathEscape(job))})
}

func (s *Server) apiCancel(w http.ResponseWriter, r *http.Request) {
	runID, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		s.apiFail(w, r, badRequest("run id %q is not a number", r.PathValue("id")))
		return
	}
	if err := s.opts.Actions.Cancel(r.Context(), runID); err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.actionDone(w, r, "cancel", "run", runID, "via", "api")
	writeJSON(w, http.StatusAccepted, map[string]any{"run_id": runID, "cancelled": true})
}

func (s *Server) apiRebuildFailed(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	n, err := s.opts.Actions.RebuildFailed(r.Context(), id)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.actionDone(w, r, "rebuild-failed", "candidate", id, "jobs", n, "via", "api")
	writeJSON(w, http.StatusAccepted, map[string]any{"candidate": id, "rebuilt": n})
}

func (s *Server) apiPromote(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var body struct {
		Stage string `json:"stage"`
	}
	if r.Body != nil && r.ContentLength != 0 {
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&body); err != nil {
			s.apiFail(w, r, badRequest("request body: %v (want {\"stage\": \"forge\"})", err))
			return
		}
	}
	if body.Stage == "" {
		body.Stage = r.URL.Query().Get("stage")
	}
	if config.StageIndex(body.Stage) < 0 {
		s.apiFail(w, r, badRequest("unknown stage %q", body.Stage))
		return
	}
	if err := s.opts.Actions.Promote(r.Context(), id, body.Stage); err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.actionDone(w, r, "promote", "candidate", id, "stage", body.Stage, "via", "api")
	writeJSON(w, http.StatusAccepted, map[string]any{"candidate": id, "stage": body.Stage, "promoting": true})
}
