package web

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

const sessionCookie = "ironworks_session"

// session is an operator login. Sessions live in memory: a restart logs
// operators out, which is cheaper than keeping session secrets on disk.
type session struct {
	csrf    string
	expires time.Time
}

type sessions struct {
	mu  sync.Mutex
	ttl time.Duration
	m   map[string]*session
}

func newSessions(ttl time.Duration) *sessions {
	return &sessions{ttl: ttl, m: map[string]*session{}}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand panics rather than return short)
	return hex.EncodeToString(b)
}

func (ss *sessions) create() (id string, s *session) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	now := time.Now()
	for k, v := range ss.m {
		if now.After(v.expires) {
			delete(ss.m, k)
		}
	}
	id = randomHex(32)
	s = &session{csrf: randomHex(32), expires: now.Add(ss.ttl)}
	ss.m[id] = s
	return id, s
}

func (ss *sessions) get(id string) *session {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.m[id]
	if s == nil {
		return nil
	}
	if time.Now().After(s.expires) {
		delete(ss.m, id)
		return nil
	}
	return s
}

func (ss *sessions) remove(id string) {
	ss.mu.Lock()
	delete(ss.m, id)
	ss.mu.Unlock()
}

// equalSecret compares in constant time, also hiding the secret's length.
func equalSecret(given, want string) bool {
	if want == "" {
		return false
	}
	a, b := sha256.Sum256([]byte(given)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// operatorSession returns the logged-in operator's session, or nil.
func (s *Server) operatorSession(r *http.Request) *session {
	if s.opts.OperatorToken == "" {
		return nil
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	return s.sess.get(c.Value)
}

// bearer reports whether the request carries the operator token.
func (s *Server) bearer(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	if h == "" {
		return false
	}
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if ok && equalSecret(strings.TrimSpace(tok), s.opts.OperatorToken) {
		return true
	}
	s.fails.failed(r)
	return false
}

// viewer reports whether r may read: always, unless the UI is private.
func (s *Server) viewer(r *http.Request) bool {
	return !s.opts.Private || s.operatorSession(r) != nil || s.bearer(r)
}

// read guards a page: in private mode, anonymous visitors go to the login form.
func (s *Server) read(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.viewer(r) {
			if strings.HasSuffix(r.URL.Path, "/events") || strings.HasSuffix(r.URL.Path, "/raw") {
				http.Error(w, "login required", http.StatusUnauthorized)
				return
			}
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		h(w, s.withLive(r))
	}
}

// apiRead guards an API read: in private mode it needs the bearer token or a session.
func (s *Server) apiRead(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.viewer(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ironworks"`)
			writeError(w, http.StatusUnauthorized, "operator token required")
			return
		}
		h(w, r)
	}
}

// apiOperator guards an API action: the bearer token only, never a cookie,
// so a browser can never be tricked into calling it cross-site.
func (s *Server) apiOperator(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.bearer(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ironworks"`)
			code := http.StatusUnauthorized
			if r.Header.Get("Authorization") != "" {
				code = http.StatusForbidden
			}
			writeError(w, code, "operator token required")
			return
		}
		h(w, r)
	}
}

// sameOrigin rejects a browser request sent from another site. Browsers send
// Origin on every POST; a request without it is not from a browser page and
// still has to present the CSRF token.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

// operatorForm guards a form POST: logged-in operator, same origin, valid CSRF token.
func (s *Server) operatorForm(h func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess := s.operatorSession(r)
		if sess == nil {
			http.Error(w, "operator login required", http.StatusForbidden)
			return
		}
		if !sameOrigin(r) {
			http.Error(w, "cross-origin request refused", http.StatusForbidden)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form: "+err.Error(), http.StatusBadRequest)
			return
		}
		if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(sess.csrf)) != 1 {
			http.Error(w, "invalid or missing CSRF token; reload the page", http.StatusForbidden)
			return
		}
		h(w, r, sess)
	}
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "login", "Log in", loginView{Next: safeNext(r.URL.Query().Get("next")), Enabled: s.opts.OperatorToken != ""})
}

type loginView struct {
	Next    string
	Error   string
	Enabled bool
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		http.Error(w, "cross-origin request refused", http.StatusForbidden)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form: "+err.Error(), http.StatusBadRequest)
		return
	}
	next := safeNext(r.PostFormValue("next"))
	if !equalSecret(r.PostFormValue("token"), s.opts.OperatorToken) {
		s.log.Warn("web: failed operator login", "remote", r.RemoteAddr)
		s.fails.failed(r)
		s.render(w, r, http.StatusUnauthorized, "login", "Log in", loginView{Next: next, Error: "Wrong operator token.", Enabled: s.opts.OperatorToken != ""})
		return
	}
	id, _ := s.sess.create()
	http.SetCookie(w, &http.Cookie{
		Name:     sessionCookie,
		Value:    id,
		Path:     "/",
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
		Secure:   s.secure(r),
		MaxAge:   int(s.sess.ttl.Seconds()),
	})
	s.log.Info("web: operator logged in", "remote", r.RemoteAddr)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, _ *session) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		s.sess.remove(c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.secure(r)})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// secure says whether cookies must be TLS-only: served over TLS, or behind a
// proxy whose public URL is https.
func (s *Server) secure(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(s.cfg.Web.URL, "https://")
}

// safeNext keeps redirects after login on this site: a local path only.
// Browsers drop tabs and newlines from URLs and read a backslash as a slash,
// so "/\t/evil.example" would leave the site: any control character, space or
// backslash sends the operator home instead.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") ||
		strings.ContainsFunc(next, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '\\' }) {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" {
		return "/"
	}
	return next
}
