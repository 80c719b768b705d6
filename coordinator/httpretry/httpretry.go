// Package httpretry builds the retrying HTTP clients every remote call of the
// coordinator goes through: exponential backoff with full jitter, Retry-After
// honoured, redirects never followed (Hydra's 302s carry the answer), and a
// hook that sees every attempt so that request counters include retries.
package httpretry

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// Options tune a client; zero values take the defaults noted.
type Options struct {
	RetryMax     int           // default 6; negative means no retry
	WaitMin      time.Duration // default 500ms
	WaitMax      time.Duration // default 30s
	RetryAfter   time.Duration // longest Retry-After honoured; default 2m
	Timeout      time.Duration // per attempt; default 60s
	Transport    http.RoundTripper
	FollowRedirs bool
	// Attempt is called after every attempt with the status (0 when the
	// attempt failed without a response).
	Attempt func(req *http.Request, status int)
}

// New returns a retrying client.
func New(o Options) *retryablehttp.Client {
	if o.RetryMax == 0 {
		o.RetryMax = 6
	}
	if o.RetryMax < 0 {
		o.RetryMax = 0
	}
	if o.WaitMin == 0 {
		o.WaitMin = 500 * time.Millisecond
	}
	if o.WaitMax == 0 {
		o.WaitMax = 30 * time.Second
	}
	if o.RetryAfter == 0 {
		o.RetryAfter = 2 * time.Minute
	}
	if o.Timeout == 0 {
		o.Timeout = 60 * time.Second
	}
	tr := o.Transport
	if tr == nil {
		tr = http.DefaultTransport
	}
	if o.Attempt != nil {
		tr = &counting{next: tr, hook: o.Attempt}
	}
	hc := &http.Client{Transport: tr, Timeout: o.Timeout}
	if !o.FollowRedirs {
		hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	c := retryablehttp.NewClient()
	c.HTTPClient = hc
	c.Logger = nil
	c.RetryMax = o.RetryMax
	c.RetryWaitMin = o.WaitMin
	c.RetryWaitMax = o.WaitMax
	c.CheckRetry = CheckRetry
	c.Backoff = Backoff(o.RetryAfter)
	// Hand the last response back instead of a bare "giving up" error, so
	// that callers can report the server's own message.
	c.ErrorHandler = retryablehttp.PassthroughErrorHandler
	return c
}

type onceKey struct{}

// Once marks ctx so that requests made with it are sent once: a request with
// a side effect whose answer was lost (a 502 after the comment was created,
// a reset connection) must not be repeated blindly. The caller looks at the
// server's state and decides. A 429 or a secondary rate limit (403 with
// Retry-After), which GitHub answers before acting, is still retried.
func Once(ctx context.Context) context.Context { return context.WithValue(ctx, onceKey{}, true) }

// CheckRetry is retryablehttp's default policy, except for requests made with
// a context from Once.
func CheckRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if once, _ := ctx.Value(onceKey{}).(bool); once {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		limited := resp != nil && (resp.StatusCode == http.StatusTooManyRequests ||
			resp.StatusCode == http.StatusForbidden && resp.Header.Get("Retry-After") != "")
		return limited, nil
	}
	return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
}

// Backoff waits a random time in [min, min·2^attempt] capped at max (full
// jitter, so that many pollers hitting one recovering server spread out),
// or what the server's Retry-After asks, up to limit.
func Backoff(limit time.Duration) retryablehttp.Backoff {
	return func(lo, hi time.Duration, attempt int, resp *http.Response) time.Duration {
		if resp != nil {
			if d, ok := RetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
				return min(d, limit)
			}
		}
		ceil := hi
		if attempt < 30 {
			if c := lo << attempt; c > 0 && c < hi {
				ceil = c
			}
		}
		if ceil <= lo {
			return lo
		}
		return lo + rand.N(ceil-lo)
	}
}

// RetryAfter parses a Retry-After header: seconds or an HTTP date.
func RetryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s < 0 {
			return 0, false
		}
		if s > 86400 { // a day is beyond any cap; avoids Duration overflow
			s = 86400
		}
		return time.Duration(s) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

type counting struct {
	next http.RoundTripper
	hook func(*http.Request, int)
}

func (c *counting) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(r)
	status := 0
	if err == nil {
		status = resp.StatusCode
	}
	c.hook(r, status)
	return resp, err
}

type endpointKey struct{}

// WithEndpoint labels the requests made with ctx for counters ("GET /eval/{id}").
func WithEndpoint(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, endpointKey{}, name)
}

// Endpoint returns the label set by WithEndpoint, or the method and path.
func Endpoint(r *http.Request) string {
	if s, ok := r.Context().Value(endpointKey{}).(string); ok {
		return s
	}
	return r.Method + " " + r.URL.Path
}
