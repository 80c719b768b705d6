package web

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// changes streams a "change" event whenever the store's fingerprint moves
// away from since (the one the page was rendered with), so that every page
// showing running work reloads its live part: the dashboard, candidate
// pages, the history, the compatibility view and job pages.
func (s *Server) changes(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	ctx := r.Context()
	last := r.URL.Query().Get("since")
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, "retry: 2000\n\n")
	fl.Flush()
	t := time.NewTicker(2 * s.opts.TailInterval)
	defer t.Stop()
	quiet := 0
	for {
		fp, err := s.st.Fingerprint(ctx)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("web: change stream", "err", err)
			}
			return
		}
		if fp != last {
			last = fp
			quiet = 0
			fmt.Fprintf(w, "event: change\ndata: %s\n\n", fp)
			fl.Flush()
		} else if quiet++; quiet%60 == 0 {
			// A comment now and then keeps proxies from closing an idle stream.
			fmt.Fprintf(w, ": idle\n\n")
			fl.Flush()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

type liveKey struct{}

// withLive notes the store's fingerprint before a page reads the store, so
// that a change while it is made reaches the page by the stream. A store
// that does not answer gives "", which the stream corrects at once.
func (s *Server) withLive(r *http.Request) *http.Request {
	if strings.HasSuffix(r.URL.Path, "/events") || strings.HasSuffix(r.URL.Path, "/raw") {
		return r
	}
	fp, _ := s.st.Fingerprint(r.Context())
	return r.WithContext(context.WithValue(r.Context(), liveKey{}, fp))
}

func liveOf(r *http.Request) string {
	fp, _ := r.Context().Value(liveKey{}).(string)
	return fp
}
