package benchqueue

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/ironworks-ci/ironworks/benchkit/protocol"
)

// ReadTokens reads agent tokens from a file, one per line (blank lines and
// lines starting with # ignored), so that each host can have its own and one
// can be revoked alone.
func ReadTokens(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("benchqueue: agent tokens: %w", err)
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if len(t) < 16 {
			return nil, fmt.Errorf("benchqueue: agent tokens in %s: a token is shorter than 16 characters", path)
		}
		out = append(out, t)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("benchqueue: agent tokens: %s holds no token", path)
	}
	return out, nil
}

// Handler serves the agent API (package protocol) under /api/bench/; the lead
// mounts it in `coordinator serve`. Requests without a valid bearer token get 401.
func (q *Queue) Handler(tokens []string, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Compare hashes so that the comparison takes the same time whatever the
	// token's length.
	sums := make([][32]byte, len(tokens))
	for i, t := range tokens {
		sums[i] = sha256.Sum256([]byte(t))
	}
	authorised := func(r *http.Request) bool {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || tok == "" {
			return false
		}
		got := sha256.Sum256([]byte(tok))
		match := 0
		for _, s := range sums {
			match |= subtle.ConstantTimeCompare(got[:], s[:])
		}
		return match == 1
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+protocol.PathLease, func(w http.ResponseWriter, r *http.Request) {
		var req protocol.LeaseRequest
		if !decode(w, r, &req) {
			return
		}
		if req.Agent == "" {
			http.Error(w, `lease: field "agent": required`, http.StatusBadRequest)
			return
		}
		job, err := q.Lease(r.Context(), req.Agent, req.Features)
		if err != nil {
			log.Error("bench lease", "err", err)
			http.Error(w, "lease failed", http.StatusInternalServerError)
			return
		}
		if job == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		log.Info("bench job leased", "job", job.ID, "agent", req.Agent, "attempt", job.Attempt)
		reply(w, job)
	})
	mux.HandleFunc("POST "+protocol.PathHeartbeat, func(w http.ResponseWriter, r *http.Request) {
		var hb protocol.Heartbeat
		if !decode(w, r, &hb) {
			return
		}
		exp, err := q.Heartbeat(r.Context(), hb.JobID, hb.LeaseID)
		if errors.Is(err, ErrLeaseGone) {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		if err != nil {
			log.Error("bench heartbeat", "err", err)
			http.Error(w, "heartbeat failed", http.StatusInternalServerError)
			return
		}
		reply(w, protocol.HeartbeatReply{LeaseExpires: exp})
	})
	mux.HandleFunc("POST "+protocol.PathResult, func(w http.ResponseWriter, r *http.Request) {
		var res protocol.Result
		if !decode(w, r, &res) {
			return
		}
		dup, err := q.Complete(r.Context(), &res)
		var bad *BadResult
		switch {
		case errors.As(err, &bad):
			http.Error(w, bad.Error(), http.StatusBadRequest)
			return
		case errors.Is(err, ErrLeaseGone):
			http.Error(w, err.Error(), http.StatusConflict)
			return
		case err != nil:
			log.Error("bench result", "err", err)
			http.Error(w, "result failed", http.StatusInternalServerError)
			return
		}
		log.Info("bench result", "job", res.JobID, "agent", res.Agent, "duplicate", dup, "error", res.Error)
		reply(w, protocol.ResultReply{Duplicate: dup})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !authorised(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ironworks-bench"`)
			http.Error(w, "unauthorised", http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		http.Error(w, "bad request body: "+err.Error(), http.StatusBadRequest)
		return false
	}
	return true
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
