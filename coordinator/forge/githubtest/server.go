// Package githubtest is an in-test HTTP server speaking the GitHub REST
// endpoints Ironworks uses.
package githubtest

import (
	"net/http"
	"net/http/httptest"
	"sync"
)

// Server is a fake GitHub API on loopback.
type Server struct {
	Mux *http.ServeMux
	mu  sync.Mutex
	srv *httptest.Server
}

// New starts a server.
func New() *Server {
	s := &Server{Mux: http.NewServeMux()}
	s.srv = httptest.NewServer(s.Mux)
	return s
}

// URL is the API base URL.
func (s *Server) URL() string { return s.srv.URL + "/" }

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Handle registers a handler for a net/http pattern such as "GET /repos/{owner}/{repo}".
func (s *Server) Handle(pattern string, h http.HandlerFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Mux.HandleFunc(pattern, h)
}
