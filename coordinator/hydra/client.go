// Package hydra is a client for Hydra's JSON API as Hydra really answers
// (see docs/hydra.md): JSON only with Accept: application/json, 0/1 flags as
// ints, 302s that carry the answer, a session cookie from POST /login as the
// only authentication, Origin and Referer on every POST.
//
// It deliberately has no call for /eval/{id}/builds: on big jobsets that list
// is hundreds of megabytes and times out; gating reads one aggregate through
// /eval/{id}/job/{name} instead.
package hydra

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/httpretry"
)

// ErrNotFound is a 404 from Hydra (unknown eval, build, jobset, or a job the
// evaluation does not contain).
var ErrNotFound = errors.New("hydra: not found")

// Error is a non-success answer from Hydra.
type Error struct {
	Endpoint string
	Status   int
	Message  string // Hydra's {"error": ...}, or the start of the body
}

func (e *Error) Error() string {
	return fmt.Sprintf("hydra: %s: HTTP %d: %s", e.Endpoint, e.Status, e.Message)
}

func (e *Error) Is(target error) bool {
	return target == ErrNotFound && e.Status == http.StatusNotFound
}

// Options configure a Client.
type Options struct {
	URL          string // base URL, e.g. https://hydra.example.org or .../hydra behind a proxy
	User         string
	PasswordFile string
	Retry        httpretry.Options
	// Metrics is called once per HTTP attempt with the endpoint template
	// ("GET /build/{id}") and the status (0: no response).
	Metrics func(endpoint string, status int)
	// MaxBody caps a decoded response; default 256 MiB.
	MaxBody int64
}

// Client talks to one Hydra server. It is safe for concurrent use.
type Client struct {
	base    *url.URL
	baseStr string // with trailing slash: what Origin/Referer must start with
	user    string
	pwFile  string
	http    *retryablehttp.Client
	maxBody int64
	metrics func(string, int)

	mu     sync.Mutex
	cookie *http.Cookie
	stats  map[string]int
}

// New returns a client; it does not contact the server.
func New(o Options) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(o.URL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("hydra: url %q: want http(s)://host[/path]", o.URL)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""
	c := &Client{
		base:    u,
		baseStr: u.String() + "/",
		user:    o.User,
		pwFile:  o.PasswordFile,
		maxBody: o.MaxBody,
		metrics: o.Metrics,
		stats:   map[string]int{},
	}
	if c.maxBody == 0 {
		c.maxBody = 256 << 20
	}
	ro := o.Retry
	ro.Attempt = func(r *http.Request, status int) {
		ep := httpretry.Endpoint(r)
		c.mu.Lock()
		c.stats[ep]++
		c.mu.Unlock()
		if c.metrics != nil {
			c.metrics(ep, status)
		}
	}
	c.http = httpretry.New(ro)
	return c, nil
}

// NewFromConfig builds a client from the [hydra] section.
func NewFromConfig(cfg *config.Hydra, retry httpretry.Options, metrics func(string, int)) (*Client, error) {
	if cfg == nil || cfg.URL == "" {
		return nil, errors.New("hydra: no [hydra] url configured")
	}
	return New(Options{URL: cfg.URL, User: cfg.User, PasswordFile: cfg.PasswordFile, Retry: retry, Metrics: metrics})
}

// URL returns the base URL without a trailing slash.
func (c *Client) URL() string { return strings.TrimSuffix(c.baseStr, "/") }

// BuildURL is the web page of a build; LogURL its log.
func (c *Client) BuildURL(id int64) string { return c.baseStr + "build/" + strconv.FormatInt(id, 10) }

// LogURL links to a build's log.
func (c *Client) LogURL(id int64) string { return c.BuildURL(id) + "/log" }

// EvalURL links to an evaluation.
func (c *Client) EvalURL(id int64) string { return c.baseStr + "eval/" + strconv.FormatInt(id, 10) }

// Stats returns the number of HTTP attempts per endpoint template so far.
func (c *Client) Stats() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.stats))
	for k, v := range c.stats {
		out[k] = v
	}
	return out
}

// Requests is the total of Stats.
func (c *Client) Requests() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.stats {
		n += v
	}
	return n
}

// StatsString renders Stats sorted, for logs and benchmarks.
func (c *Client) StatsString() string {
	s := c.Stats()
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%d ", k, s[k])
	}
	return strings.TrimSpace(b.String())
}

func (c *Client) url(p string, q url.Values) string {
	u := *c.base
	u.Path = c.base.Path + p
	u.RawPath = ""
	if len(q) > 0 {
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// seg escapes one path segment (job names contain dots, never slashes).
func seg(s string) string { return url.PathEscape(s) }

type response struct {
	status   int
	body     []byte
	location string
}

// do sends one request (with retries) and reads the body.
func (c *Client) do(ctx context.Context, endpoint, method, p string, q url.Values, body any) (*response, error) {
	var rdr any
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rdr = b
	}
	req, err := retryablehttp.NewRequestWithContext(httpretry.WithEndpoint(ctx, endpoint), method, c.url(p, q), rdr)
	if err != nil {
		return nil, fmt.Errorf("hydra: %s: %w", endpoint, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if method != http.MethodGet && method != http.MethodHead {
		// Hydra refuses POSTs whose Origin/Referer does not start with its
		// base URL; Referer wins when both are sent, and is the one that
		// survives a sub-path proxy.
		req.Header.Set("Origin", c.base.Scheme+"://"+c.base.Host)
		req.Header.Set("Referer", c.baseStr)
		if c.base.Path == "" {
			req.Header.Set("Origin", c.baseStr)
		}
	}
	c.mu.Lock()
	if c.cookie != nil {
		req.AddCookie(c.cookie)
	}
	c.mu.Unlock()
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("hydra: %s: %w", endpoint, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("hydra: %s: reading body: %w", endpoint, err)
	}
	if int64(len(b)) > c.maxBody {
		return nil, fmt.Errorf("hydra: %s: response larger than %d bytes", endpoint, c.maxBody)
	}
	r := &response{status: resp.StatusCode, body: b, location: resp.Header.Get("Location")}
	if method == http.MethodPost && p == "/login" {
		for _, ck := range resp.Cookies() {
			if ck.Name == "hydra_session" {
				c.mu.Lock()
				c.cookie = &http.Cookie{Name: ck.Name, Value: ck.Value}
				c.mu.Unlock()
			}
		}
	}
	return r, nil
}

func (r *response) err(endpoint string) error {
	var e apiError
	msg := ""
	if json.Unmarshal(r.body, &e) == nil && e.Error != "" {
		msg = string(e.Error)
	} else {
		msg = strings.TrimSpace(snippet(bytes.TrimSpace(r.body)))
	}
	return &Error{Endpoint: endpoint, Status: r.status, Message: msg}
}

// getJSON GETs p and decodes a 200 answer with dec.
func (c *Client) get(ctx context.Context, endpoint, p string, q url.Values) (*response, error) {
	r, err := c.do(ctx, endpoint, http.MethodGet, p, q, nil)
	if err != nil {
		return nil, err
	}
	if r.status != http.StatusOK {
		return nil, r.err(endpoint)
	}
	return r, nil
}

func (c *Client) password() (string, error) {
	if c.pwFile == "" {
		return "", errors.New("hydra: no password_file configured")
	}
	b, err := os.ReadFile(c.pwFile)
	if err != nil {
		// The error names the file, never its content.
		return "", fmt.Errorf("hydra: password file: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// ErrLogin means Hydra refused the user or password (403 on POST /login):
// retrying cannot help.
var ErrLogin = errors.New("refused (403): check hydra.user and hydra.password_file")

// Login opens a session: POST /login answers 302 with the hydra_session
// cookie, which is kept from that 302 (redirects are never followed).
func (c *Client) Login(ctx context.Context) error {
	pw, err := c.password()
	if err != nil {
		return err
	}
	const ep = "POST /login"
	r, err := c.do(ctx, ep, http.MethodPost, "/login", nil, map[string]string{"username": c.user, "password": pw})
	if err != nil {
		return err
	}
	if r.status == http.StatusForbidden || r.status == http.StatusUnauthorized {
		return fmt.Errorf("hydra: login as %q: %w: %w", c.user, ErrLogin, r.err(ep))
	}
	if r.status != http.StatusFound && r.status != http.StatusOK {
		return fmt.Errorf("hydra: login as %q: %w", c.user, r.err(ep))
	}
	c.mu.Lock()
	ok := c.cookie != nil
	c.mu.Unlock()
	if !ok {
		return fmt.Errorf("hydra: login as %q: HTTP %d without a hydra_session cookie", c.user, r.status)
	}
	return nil
}

// authed runs a request that needs a session: it logs in first if there is
// no cookie, and once more if the session expired (403).
func (c *Client) authed(ctx context.Context, endpoint, method, p string, q url.Values, body any) (*response, error) {
	c.mu.Lock()
	have := c.cookie != nil
	c.mu.Unlock()
	if !have {
		if err := c.Login(ctx); err != nil {
			return nil, err
		}
	}
	r, err := c.do(ctx, endpoint, method, p, q, body)
	if err != nil {
		return nil, err
	}
	if r.status == http.StatusForbidden && have {
		c.mu.Lock()
		c.cookie = nil
		c.mu.Unlock()
		if err := c.Login(ctx); err != nil {
			return nil, err
		}
		return c.do(ctx, endpoint, method, p, q, body)
	}
	return r, nil
}

// Push triggers an evaluation of each jobset ("project:jobset").
func (c *Client) Push(ctx context.Context, force bool, jobsets ...string) ([]string, error) {
	const ep = "POST /api/push"
	q := url.Values{"jobsets": {strings.Join(jobsets, ",")}}
	if force {
		q.Set("force", "1") // presence alone forces
	}
	r, err := c.authed(ctx, ep, http.MethodPost, "/api/push", q, nil)
	if err != nil {
		return nil, err
	}
	if r.status != http.StatusOK {
		return nil, r.err(ep)
	}
	var out struct {
		Triggered []string `json:"jobsetsTriggered"`
	}
	if err := decode(r.body, &out); err != nil {
		return nil, fmt.Errorf("hydra: push: %w", err)
	}
	return out.Triggered, nil
}

// JobsetSpec is what PUT /jobset/{p}/{j} accepts.
type JobsetSpec struct {
	Description      string
	Type             int // 0 legacy, 1 flake
	Flake            string
	NixExprInput     string
	NixExprPath      string
	Inputs           map[string]JobsetInputSpec
	Enabled          int // 0 off, 1 on, 2 one-shot, 3 one-at-a-time
	CheckInterval    int // <= 0: triggers only
	SchedulingShares int
	KeepNr           int
	EmailOverride    string
	Visible          bool
	EnableEmail      bool
}

// JobsetInputSpec is one input of a legacy jobset.
type JobsetInputSpec struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// body renders the spec. Hydra reads booleans by presence, so a false one is
// left out rather than sent as false (which would enable it).
func (s *JobsetSpec) body() map[string]any {
	m := map[string]any{
		"description":      s.Description,
		"type":             s.Type,
		"enabled":          s.Enabled,
		"checkinterval":    s.CheckInterval,
		"schedulingshares": max(s.SchedulingShares, 1),
		"keepnr":           s.KeepNr,
		"emailoverride":    s.EmailOverride,
	}
	if s.Type == 1 {
		m["flake"] = s.Flake
	} else {
		m["nixexprinput"] = s.NixExprInput
		m["nixexprpath"] = s.NixExprPath
		inputs := map[string]any{}
		for n, in := range s.Inputs {
			inputs[n] = map[string]any{"type": in.Type, "value": in.Value}
		}
		m["inputs"] = inputs
	}
	if s.Visible {
		m["visible"] = true
	}
	if s.EnableEmail {
		m["enableemail"] = true
	}
	return m
}

// PutJobset creates or updates a jobset; it reports whether it was created.
func (c *Client) PutJobset(ctx context.Context, project, jobset string, spec *JobsetSpec) (created bool, err error) {
	const ep = "PUT /jobset/{p}/{j}"
	r, err := c.authed(ctx, ep, http.MethodPut, "/jobset/"+seg(project)+"/"+seg(jobset), nil, spec.body())
	if err != nil {
		return false, err
	}
	switch r.status {
	case http.StatusCreated:
		return true, nil
	case http.StatusOK:
		return false, nil
	}
	return false, r.err(ep)
}

// Jobset reads a jobset. Its errormsg is empty on current servers: use
// JobsetErrors for the evaluation error.
func (c *Client) Jobset(ctx context.Context, project, jobset string) (*Jobset, error) {
	r, err := c.get(ctx, "GET /jobset/{p}/{j}", "/jobset/"+seg(project)+"/"+seg(jobset), nil)
	if err != nil {
		return nil, err
	}
	return DecodeJobset(r.body)
}

// JobsetErrors reads the jobset with its real errormsg.
func (c *Client) JobsetErrors(ctx context.Context, project, jobset string) (*Jobset, error) {
	r, err := c.get(ctx, "GET /jobset/{p}/{j}/errors", "/jobset/"+seg(project)+"/"+seg(jobset)+"/errors", nil)
	if err != nil {
		return nil, err
	}
	return DecodeJobset(r.body)
}

// Evals reads one page (1-based) of a jobset's evaluations, newest first.
// Only evals with hasnewbuilds = 1 are listed.
func (c *Client) Evals(ctx context.Context, project, jobset string, page int) (*EvalPage, error) {
	q := url.Values{}
	if page > 1 {
		q.Set("page", strconv.Itoa(page))
	}
	r, err := c.get(ctx, "GET /jobset/{p}/{j}/evals", "/jobset/"+seg(project)+"/"+seg(jobset)+"/evals", q)
	if err != nil {
		return nil, err
	}
	return DecodeEvalPage(r.body)
}

// NextPage returns the page number a relative "?page=N" link points to, 0 if none.
func NextPage(link string) int {
	if link == "" {
		return 0
	}
	u, err := url.Parse(link)
	if err != nil {
		return 0
	}
	n, err := strconv.Atoi(u.Query().Get("page"))
	if err != nil || n < 1 {
		return 0
	}
	return n
}

// FindEval walks a jobset's eval list, newest first, up to maxPages pages,
// and returns the first eval for which match is true, or nil. It stops early
// at an eval id not above stopAt (evals seen before).
func (c *Client) FindEval(ctx context.Context, project, jobset string, maxPages int, stopAt int64, match func(*Eval) bool) (*Eval, error) {
	page := 1
	for i := 0; i < maxPages && page > 0; i++ {
		p, err := c.Evals(ctx, project, jobset, page)
		if err != nil {
			return nil, err
		}
		for k := range p.Evals {
			e := &p.Evals[k]
			if int64(e.ID) <= stopAt {
				return nil, nil
			}
			if match(e) {
				return e, nil
			}
		}
		next := NextPage(string(p.Next))
		if next <= page {
			break
		}
		page = next
	}
	return nil, nil
}

// Eval reads one evaluation.
func (c *Client) Eval(ctx context.Context, id int64) (*Eval, error) {
	r, err := c.get(ctx, "GET /eval/{id}", "/eval/"+strconv.FormatInt(id, 10), nil)
	if err != nil {
		return nil, err
	}
	return DecodeEval(r.body)
}

// redirectID follows nothing: it reads the build or eval id from a 302's Location.
func redirectID(r *response, endpoint, kind string) (int64, error) {
	switch r.status {
	case http.StatusFound, http.StatusMovedPermanently, http.StatusSeeOther, http.StatusTemporaryRedirect:
	case http.StatusNotFound:
		return 0, r.err(endpoint)
	default:
		return 0, r.err(endpoint)
	}
	u, err := url.Parse(r.location)
	if err != nil {
		return 0, fmt.Errorf("hydra: %s: bad Location %q", endpoint, r.location)
	}
	dir, last := path.Split(strings.TrimRight(u.Path, "/"))
	if !strings.HasSuffix(dir, "/"+kind+"/") {
		return 0, fmt.Errorf("hydra: %s: Location %q is not a %s", endpoint, r.location, kind)
	}
	id, err := strconv.ParseInt(last, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("hydra: %s: Location %q has no %s id", endpoint, r.location, kind)
	}
	return id, nil
}

// EvalJob returns the build id of job in eval: Hydra answers 302 /build/{id},
// or 404 (ErrNotFound) when the eval has no such job, typically because the
// job failed to evaluate.
func (c *Client) EvalJob(ctx context.Context, evalID int64, job string) (int64, error) {
	const ep = "GET /eval/{id}/job/{job}"
	r, err := c.do(ctx, ep, http.MethodGet, "/eval/"+strconv.FormatInt(evalID, 10)+"/job/"+seg(job), nil, nil)
	if err != nil {
		return 0, err
	}
	return redirectID(r, ep, "build")
}

// Build reads one build.
func (c *Client) Build(ctx context.Context, id int64) (*Build, error) {
	r, err := c.get(ctx, "GET /build/{id}", "/build/"+strconv.FormatInt(id, 10), nil)
	if err != nil {
		return nil, err
	}
	return DecodeBuild(r.body)
}

// Constituents reads the constituent builds of an aggregate.
func (c *Client) Constituents(ctx context.Context, id int64) ([]Build, error) {
	r, err := c.get(ctx, "GET /build/{id}/constituents", "/build/"+strconv.FormatInt(id, 10)+"/constituents", nil)
	if err != nil {
		return nil, err
	}
	var out []Build
	if err := decode(r.body, &out); err != nil {
		return nil, fmt.Errorf("hydra: constituents of %d: %w", id, err)
	}
	return out, nil
}

// LatestFinished returns the id of the newest successful build of job that
// belongs to an eval with no unfinished builds (what NixOS channels use).
func (c *Client) LatestFinished(ctx context.Context, project, jobset, job string) (int64, error) {
	const ep = "GET /job/{p}/{j}/{job}/latest-finished"
	r, err := c.do(ctx, ep, http.MethodGet, "/job/"+seg(project)+"/"+seg(jobset)+"/"+seg(job)+"/latest-finished", nil, nil)
	if err != nil {
		return 0, err
	}
	return redirectID(r, ep, "build")
}

// LatestEval returns the id of the newest eval of a jobset with no unfinished builds.
func (c *Client) LatestEval(ctx context.Context, project, jobset string) (int64, error) {
	const ep = "GET /jobset/{p}/{j}/latest-eval"
	r, err := c.do(ctx, ep, http.MethodGet, "/jobset/"+seg(project)+"/"+seg(jobset)+"/latest-eval", nil, nil)
	if err != nil {
		return 0, err
	}
	return redirectID(r, ep, "eval")
}

// StorePaths lists the output paths of an eval's successful builds.
func (c *Client) StorePaths(ctx context.Context, evalID int64) ([]string, error) {
	r, err := c.get(ctx, "GET /eval/{id}/store-paths", "/eval/"+strconv.FormatInt(evalID, 10)+"/store-paths", nil)
	if err != nil {
		return nil, err
	}
	var out []string
	if err := decode(r.body, &out); err != nil {
		return nil, fmt.Errorf("hydra: store paths of eval %d: %w", evalID, err)
	}
	return out, nil
}
