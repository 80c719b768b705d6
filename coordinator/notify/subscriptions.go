package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// NewSubscription validates a subscription request against the configuration:
// a bare address, a followed component (or "*" for all), one of its target
// branches when a branch is given, and known event kinds.
func NewSubscription(cfg *config.Config, email, component, branch string, events []string) (store.Subscription, error) {
	addr, err := ParseAddress(email)
	if err != nil {
		return store.Subscription{}, err
	}
	if component == "" {
		return store.Subscription{}, errors.New("component is required (or * for every component)")
	}
	if component != allComponents {
		if _, ok := cfg.Loaded[component]; !ok {
			return store.Subscription{}, fmt.Errorf("unknown component %q (configured: %s)", component, strings.Join(cfg.Order(), ", "))
		}
		if branch != "" && !slices.Contains(cfg.Branches(component), branch) {
			return store.Subscription{}, fmt.Errorf("component %s does not follow branch %q (targets: %s)", component, branch, strings.Join(cfg.Branches(component), ", "))
		}
	}
	if len(events) == 0 {
		events = slices.Clone(DefaultEvents)
	}
	for _, k := range events {
		if !slices.Contains(Subscribable, k) {
			return store.Subscription{}, fmt.Errorf("unknown event kind %q (want some of: %s)", k, subscribableEvents)
		}
	}
	return store.Subscription{Email: addr, Component: component, Branch: branch, Events: events}, nil
}

// Handler serves /api/subscriptions (operator only) and /unsubscribe (anyone
// holding a signed token).
type Handler struct {
	cfg        *config.Config
	st         *store.Store
	signer     *Signer
	authorized func(*http.Request) bool
	mux        *http.ServeMux
}

// NewHandler returns the subscription API. authorized decides whether a
// request comes from an operator; the server that mounts the handler supplies it.
func NewHandler(cfg *config.Config, st *store.Store, signer *Signer, authorized func(*http.Request) bool) *Handler {
	h := &Handler{cfg: cfg, st: st, signer: signer, authorized: authorized, mux: http.NewServeMux()}
	h.mux.HandleFunc("GET /api/subscriptions", h.operator(h.list))
	h.mux.HandleFunc("POST /api/subscriptions", h.operator(h.create))
	h.mux.HandleFunc("DELETE /api/subscriptions", h.operator(h.delete))
	h.mux.HandleFunc("DELETE /api/subscriptions/{id}", h.operator(h.delete))
	h.mux.HandleFunc("GET /unsubscribe", h.confirmPage)
	h.mux.HandleFunc("POST /unsubscribe", h.unsubscribe)
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func (h *Handler) operator(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if h.authorized == nil || !h.authorized(r) {
			writeError(w, http.StatusUnauthorized, errors.New("operator authorization required"))
			return
		}
		next(w, r)
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, map[string]string{"error": err.Error()})
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request) {
	subs, err := h.st.Subscriptions(r.Context())
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	if subs == nil {
		subs = []*store.Subscription{}
	}
	writeJSON(w, http.StatusOK, subs)
}

type subscribeRequest struct {
	Email     string   `json:"email"`
	Component string   `json:"component"`
	Branch    string   `json:"branch"`
	Events    []string `json:"events"`
}

// decodeSubscribeRequest reads a POST /api/subscriptions body strictly:
// unknown fields and trailing data are errors.
func decodeSubscribeRequest(r io.Reader) (subscribeRequest, error) {
	var req subscribeRequest
	dec := json.NewDecoder(io.LimitReader(r, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, fmt.Errorf("request body: %w", err)
	}
	if dec.More() {
		return req, errors.New("request body: trailing data after the JSON object")
	}
	return req, nil
}

func (h *Handler) create(w http.ResponseWriter, r *http.Request) {
	req, err := decodeSubscribeRequest(r.Body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	sub, err := NewSubscription(h.cfg, req.Email, req.Component, req.Branch, req.Events)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	saved, err := h.st.Subscribe(r.Context(), sub)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, http.StatusCreated, saved)
}

// delete removes by id (/api/subscriptions/{id}) or by ?email=[&component=].
func (h *Handler) delete(w http.ResponseWriter, r *http.Request) {
	var n int64
	var err error
	if idText := r.PathValue("id"); idText != "" {
		id, perr := strconv.ParseInt(idText, 10, 64)
		if perr != nil {
			writeError(w, http.StatusBadRequest, fmt.Errorf("subscription id %q is not a number", idText))
			return
		}
		n, err = h.st.UnsubscribeID(r.Context(), id)
	} else {
		addr, perr := ParseAddress(r.URL.Query().Get("email"))
		if perr != nil {
			writeError(w, http.StatusBadRequest, perr)
			return
		}
		n, err = h.st.Unsubscribe(r.Context(), addr, r.URL.Query().Get("component"))
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	if n == 0 {
		writeError(w, http.StatusNotFound, errors.New("no such subscription"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]int64{"removed": n})
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Ironworks: unsubscribe</title></head>
<body>
{{if .Done}}<p>{{.Email}} will no longer receive Ironworks e-mail{{if .Component}} about {{.Component}}{{end}}.</p>
{{else}}<p>Stop Ironworks e-mail to {{.Email}}{{if .Component}} about {{.Component}}{{end}}?</p>
<form method="post" action="unsubscribe?token={{.Token}}"><button type="submit">Unsubscribe</button></form>{{end}}
</body></html>
`))

type page struct {
	Email, Component, Token string
	Done                    bool
}

// confirmPage answers GET with a form rather than unsubscribing: mail
// scanners and link previews fetch every link in a message, and must not
// unsubscribe anybody by doing so.
func (h *Handler) confirmPage(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("token")
	email, comp, err := h.signer.Verify(tok)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	pageTmpl.Execute(w, page{Email: email, Component: comp, Token: tok})
}

// unsubscribe serves the form and RFC 8058 one-click POSTs.
func (h *Handler) unsubscribe(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("token")
	email, comp, err := h.signer.Verify(tok)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := unsubscribe(r.Context(), h.st, email, comp); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	pageTmpl.Execute(w, page{Email: email, Component: comp, Done: true})
}

// unsubscribe is idempotent: removing what is already gone succeeds.
func unsubscribe(ctx context.Context, st *store.Store, email, comp string) error {
	_, err := st.Unsubscribe(ctx, email, comp)
	return err
}
