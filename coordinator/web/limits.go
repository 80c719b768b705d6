package web

import (
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// attempts limits failed credential checks (login forms, bearer tokens) per
// client address: a burst of 5, then one every 12 s (5 a minute). Successful
// checks cost nothing. Entries idle for an hour are forgotten so that the map
// stays bounded by the clients of the last hour.
type attempts struct {
	mu      sync.Mutex
	clients map[string]*client
	now     func() time.Time
}

type client struct {
	lim  *rate.Limiter
	seen time.Time
}

func newAttempts() *attempts {
	return &attempts{clients: map[string]*client{}, now: time.Now}
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// blocked reports whether r's client has spent its failures, and how long it
// must wait.
func (a *attempts) blocked(r *http.Request) (bool, time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.clients[clientAddr(r)]
	if c == nil {
		return false, 0
	}
	tokens := c.lim.TokensAt(a.now())
	if tokens >= 1 {
		return false, 0
	}
	return true, time.Duration((1 - tokens) / float64(c.lim.Limit()) * float64(time.Second))
}

// failed records a failed attempt of r's client.
func (a *attempts) failed(r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	for k, c := range a.clients {
		if now.Sub(c.seen) > time.Hour {
			delete(a.clients, k)
		}
	}
	addr := clientAddr(r)
	c := a.clients[addr]
	if c == nil {
		c = &client{lim: rate.NewLimiter(rate.Every(12*time.Second), 5)}
		a.clients[addr] = c
	}
	c.seen = now
	c.lim.AllowN(now, 1)
}

// tooMany answers 429 with Retry-After.
func tooMany(w http.ResponseWriter, wait time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
	http.Error(w, "too many failed attempts: try again later", http.StatusTooManyRequests)
}
