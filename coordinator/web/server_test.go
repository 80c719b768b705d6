package web

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ironworks-ci/ironworks/coordinator/store"
)

func (e *env) get(path string, hdr ...string) (int, string, http.Header) {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.http.URL+path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp := e.do(req)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestPagesRender(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Bench = fakeBench{}; o.Subscriptions = fakeSubs{} })
	e.seed()
	job := url.PathEscape("merkletree:build")
	cases := []struct {
		path string
		code int
		want []string
	}{
		{"/", 200, []string{"merkletree", "rust-fil-proofs", "release", `data-status="running"`, "1/3 jobs", `data-status="red"`, "failed", `data-status="waiting"`, "queued", short(e.headMT)}},
		{"/candidates/" + e.cand.ID, 200, []string{"Run #" + fmt.Sprint(e.run.ID), "merkletree:test", "https://github.com/filecoin-project/merkletree/commit/" + e.headMT, "2m00s", "clippy failed"}},
		{"/candidates/" + e.cand.ID[:6], 200, []string{e.cand.ID}},
		{"/candidates/nope", 404, []string{"not found"}},
		{fmt.Sprintf("/runs/%d/jobs/%s", e.run.ID, job), 200, []string{`id="L2"`, `href="#L2"`, "Finished release [optimized]"}},
		{fmt.Sprintf("/runs/%d/jobs/%s", e.run.ID, url.PathEscape("merkletree:test")), 200, []string{"data-stream=", "events?from=2"}},
		{fmt.Sprintf("/runs/%d/jobs/nope", e.run.ID), 404, nil},
		{"/runs/abc/jobs/x", 400, nil},
		{fmt.Sprintf("/runs/%d/jobs/%s/raw", e.run.ID, job), 200, []string{"Compiling merkletree"}},
		{"/history", 200, []string{"3 runs", "#" + fmt.Sprint(e.queued.ID)}},
		{"/history?stage=spark&verdict=failed", 200, []string{"1 runs", "#" + fmt.Sprint(e.failed.ID)}},
		{"/history?component=merkletree&branch=release", 200, []string{"0 runs", "No runs match"}},
		{"/history?page=0", 400, nil},
		{"/bench", 200, []string{"window-post-wall-ms"}},
		{"/bench/window-post-wall-ms", 200, []string{`class="band"`, "<circle", "baseline 90 – 110", "polyline"}},
		{"/bench/empty", 200, []string{"No measurements"}},
		{"/subscriptions", 200, []string{"a***@example.org", "merkletree"}},
		{"/static/style.css", 200, []string{".st-green"}},
		{"/nope", 404, nil},
	}
	for _, c := range cases {
		code, body, _ := e.get(c.path)
		if code != c.code {
			t.Errorf("GET %s = %d, want %d\n%s", c.path, code, c.code, body)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(body, w) {
				t.Errorf("GET %s: missing %q", c.path, w)
			}
		}
		if !strings.HasSuffix(c.path, "/raw") && strings.Contains(body, "\x1b[") {
			t.Errorf("GET %s: terminal escapes reach the page", c.path)
		}
	}
}

func short(s string) string { return store.ShortRev(s) }

func TestEmptyStates(t *testing.T) {
	e := newEnv(t, nil)
	for path, want := range map[string]string{
		"/":              "Nothing queued or running",
		"/bench":         "No benchmark data source",
		"/bench/x":       "No measurements",
		"/subscriptions": "not configured",
	} {
		if code, body, _ := e.get(path); code != 200 || !strings.Contains(body, want) {
			t.Errorf("GET %s = %d, want 200 with %q", path, code, want)
		}
	}
}

type fakeBench struct{}

func (fakeBench) Metrics(context.Context) ([]string, error) {
	return []string{"window-post-wall-ms"}, nil
}
func (fakeBench) Series(_ context.Context, m string) ([]Point, Band, error) {
	if m != "window-post-wall-ms" {
		return nil, Band{}, nil
	}
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var pts []Point
	for i, v := range []float64{100, 98, 104, 101, 99, 131} {
		pts = append(pts, Point{At: t0.Add(time.Duration(i) * 24 * time.Hour), Value: v, Label: fmt.Sprintf("rev%d", i)})
	}
	return pts, Band{Low: 90, High: 110}, nil
}

type fakeSubs struct{}

func (fakeSubs) List(context.Context) ([]Subscription, error) {
	return []Subscription{{Email: "alice@example.org", Components: []string{"merkletree"}}}, nil
}

func TestAPI(t *testing.T) {
	e := newEnv(t, nil)
	e.seed()
	getJSON := func(path string, v any) int {
		t.Helper()
		code, body, h := e.get(path)
		if ct := h.Get("Content-Type"); ct != "application/json" {
			t.Errorf("GET %s: Content-Type %q", path, ct)
		}
		if err := json.Unmarshal([]byte(body), v); err != nil {
			t.Fatalf("GET %s: %v\n%s", path, err, body)
		}
		return code
	}
	var d Dashboard
	if c := getJSON("/api/dashboard", &d); c != 200 || d.Running != 1 || d.Queued != 1 || len(d.Rows) != 3 {
		t.Fatalf("dashboard = %d %+v", c, d)
	}
	if c := d.Rows[0].Cells[1]; d.Rows[0].Component != "merkletree" || c.Stage != "forge" || c.Status != "running" || c.RunID != e.run.ID {
		t.Errorf("merkletree forge cell = %+v", c)
	}
	var cv struct {
		Candidate store.Candidate
		Stages    []StageView
	}
	if c := getJSON("/api/candidates/"+e.cand.ID, &cv); c != 200 || cv.Candidate.ID != e.cand.ID || cv.Stages[0].Name != "spark" || cv.Stages[0].Status != "red" {
		t.Errorf("candidate = %d %+v", c, cv)
	}
	var rv struct {
		ID         int64
		Status     string
		JobResults []JobView `json:"job_results"`
	}
	if c := getJSON(fmt.Sprintf("/api/runs/%d", e.run.ID), &rv); c != 200 || rv.Status != "running" || len(rv.JobResults) != 3 || rv.JobResults[0].Seconds != 120 {
		t.Errorf("run = %d %+v", c, rv)
	}
	var lp LogPage
	if c := getJSON(fmt.Sprintf("/api/runs/%d/jobs/merkletree:build/log?from=1", e.run.ID), &lp); c != 200 || lp.First != 2 || len(lp.Lines) != 1 || lp.Next != 2 || !lp.Final {
		t.Errorf("log = %d %+v", c, lp)
	}
	if !strings.HasPrefix(lp.Lines[0], "    Finished release") {
		t.Errorf("log line %q: escapes not stripped", lp.Lines[0])
	}
	var h HistoryView
	if c := getJSON("/api/history?verdict=failed", &h); c != 200 || h.Total != 1 || h.Runs[0].ID != e.failed.ID {
		t.Errorf("history = %d %+v", c, h)
	}
	var er map[string]string
	for path, want := range map[string]int{
		"/api/runs/999":                   404,
		"/api/runs/x":                     400,
		"/api/candidates/zzz":             404,
		"/api/history?page=-1":            400,
		"/api/runs/1/jobs/nope/log":       404,
		"/api/runs/1/jobs/a:b/log?from=x": 400,
	} {
		if c := getJSON(path, &er); c != want || er["error"] == "" {
			t.Errorf("GET %s = %d %v, want %d with an error", path, c, er, want)
		}
	}
}

func (e *env) post(path string, form url.Values, hdr ...string) *http.Response {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.http.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp := e.do(req)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func TestAPIActionsNeedBearer(t *testing.T) {
	e := newEnv(t, nil)
	e.seed()
	rebuild := fmt.Sprintf("/api/runs/%d/jobs/merkletree:build/rebuild", e.run.ID)
	if r := e.post(rebuild, nil); r.StatusCode != 401 {
		t.Errorf("anonymous rebuild = %d, want 401", r.StatusCode)
	}
	if r := e.post(rebuild, nil, "Authorization", "Bearer wrong"); r.StatusCode != 403 {
		t.Errorf("wrong token = %d, want 403", r.StatusCode)
	}
	if n := len(e.acts.calls("")); n != 0 {
		t.Fatalf("refused requests reached Actions: %d", n)
	}
	auth := []string{"Authorization", "Bearer " + testToken}
	if r := e.post(rebuild, nil, auth...); r.StatusCode != 202 {
		t.Fatalf("rebuild = %d", r.StatusCode)
	}
	jr, _ := e.st.JobResult(context.Background(), e.run.ID, "merkletree:build")
	if jr.State != store.JobPending || jr.Attempt != 2 {
		t.Errorf("after rebuild job = %+v, want pending attempt 2", jr)
	}
	if r := e.post(fmt.Sprintf("/api/candidates/%s/rebuild-failed", e.cand.ID), nil, auth...); r.StatusCode != 202 {
		t.Errorf("rebuild-failed = %d", r.StatusCode)
	}
	if jr, _ := e.st.JobResult(context.Background(), e.failed.ID, "rust-fil-proofs:clippy"); jr.State != store.JobPending {
		t.Errorf("failed job not re-queued: %+v", jr)
	}
	if r := e.post(fmt.Sprintf("/api/runs/%d/cancel", e.queued.ID), nil, auth...); r.StatusCode != 202 {
		t.Errorf("cancel = %d", r.StatusCode)
	}
	if run, _ := e.st.Run(context.Background(), e.queued.ID); run.State != store.RunCancelled {
		t.Errorf("run not cancelled: %s", run.State)
	}
	promote := "/api/candidates/" + e.cand.ID + "/promote"
	for q, want := range map[string]int{"?stage=forge": 202, "?stage=temper": 409, "?stage=bogus": 400, "": 400} {
		if r := e.post(promote+q, nil, auth...); r.StatusCode != want {
			t.Errorf("promote%s = %d, want %d", q, r.StatusCode, want)
		}
	}
	if r := e.post("/api/runs/999/jobs/x:y/rebuild", nil, auth...); r.StatusCode != 404 {
		t.Errorf("rebuild of a missing job = %d, want 404", r.StatusCode)
	}
}

// login logs in through the form and returns the session cookie and CSRF token.
func (e *env) login() (*http.Cookie, string) {
	e.t.Helper()
	r := e.post("/login", url.Values{"token": {testToken}, "next": {"/history"}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/history" {
		e.t.Fatalf("login = %d to %q", r.StatusCode, r.Header.Get("Location"))
	}
	var c *http.Cookie
	for _, ck := range r.Cookies() {
		if ck.Name == sessionCookie {
			c = ck
		}
	}
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
		e.e().Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict", c)
	}
	_, body, _ := e.get("/", "Cookie", c.Name+"="+c.Value)
	i := strings.Index(body, `name="csrf" value="`)
	if i < 0 {
		e.t.Fatal("no CSRF token on the page of a logged-in operator")
	}
	tok := body[i+len(`name="csrf" value="`):]
	return c, tok[:strings.IndexByte(tok, '"')]
}

func (e *env) e() testing.TB { return e.t }

func TestOperatorFormsNeedLoginAndCSRF(t *testing.T) {
	e := newEnv(t, nil)
	e.seed()
	rebuild := fmt.Sprintf("/runs/%d/jobs/merkletree:build/rebuild", e.run.ID)
	if r := e.post(rebuild, nil); r.StatusCode != 403 {
		t.Errorf("anonymous rebuild = %d, want 403", r.StatusCode)
	}
	if r := e.post("/login", url.Values{"token": {"wrong"}}); r.StatusCode != 401 {
		t.Errorf("wrong token login = %d, want 401", r.StatusCode)
	}
	if r := e.post("/login", url.Values{"token": {testToken}}, "Origin", "https://evil.example"); r.StatusCode != 403 {
		t.Errorf("cross-origin login = %d, want 403", r.StatusCode)
	}
	c, csrf := e.login()
	cookie := []string{"Cookie", c.Name + "=" + c.Value}
	if r := e.post(rebuild, nil, cookie...); r.StatusCode != 403 {
		t.Errorf("rebuild without CSRF token = %d, want 403", r.StatusCode)
	}
	if r := e.post(rebuild, url.Values{"csrf": {"forged"}}, cookie...); r.StatusCode != 403 {
		t.Errorf("rebuild with a wrong CSRF token = %d, want 403", r.StatusCode)
	}
	if r := e.post(rebuild, url.Values{"csrf": {csrf}}, append(cookie, "Origin", "https://evil.example")...); r.StatusCode != 403 {
		t.Errorf("cross-origin rebuild = %d, want 403", r.StatusCode)
	}
	if n := len(e.acts.calls("")); n != 0 {
		t.Fatalf("refused requests reached Actions: %+v", e.acts.calls(""))
	}
	if r := e.post(rebuild, url.Values{"csrf": {csrf}}, append(cookie, "Origin", e.http.URL)...); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("operator rebuild = %d, want 303", r.StatusCode)
	}
	if jr, _ := e.st.JobResult(context.Background(), e.run.ID, "merkletree:build"); jr.State != store.JobPending {
		t.Errorf("job not re-queued: %+v", jr)
	}
	if r := e.post("/candidates/"+e.cand.ID+"/promote", url.Values{"csrf": {csrf}, "stage": {"temper"}}, cookie...); r.StatusCode != http.StatusConflict {
		t.Errorf("refused promotion = %d, want 409", r.StatusCode)
	}
	if r := e.post("/logout", url.Values{"csrf": {csrf}}, cookie...); r.StatusCode != http.StatusSeeOther {
		t.Errorf("logout = %d", r.StatusCode)
	}
	if r := e.post(rebuild, url.Values{"csrf": {csrf}}, cookie...); r.StatusCode != 403 {
		t.Errorf("rebuild after logout = %d, want 403", r.StatusCode)
	}
}

func TestNoOperatorTokenDisablesLogin(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.OperatorToken = "" })
	if r := e.post("/login", url.Values{"token": {""}}); r.StatusCode != 401 {
		t.Errorf("login with no token configured = %d, want 401", r.StatusCode)
	}
	if r := e.post("/api/runs/1/cancel", nil, "Authorization", "Bearer "); r.StatusCode != 403 {
		t.Errorf("empty bearer = %d, want 403", r.StatusCode)
	}
}

func TestPrivateMode(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		o.Private = true
		o.Extra = map[string]http.Handler{"/api/subscriptions": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "subs") })}
	})
	e.seed()
	if code, _, h := e.get("/history?stage=forge"); code != http.StatusSeeOther || h.Get("Location") != "/login?next=%2Fhistory%3Fstage%3Dforge" {
		t.Errorf("anonymous page = %d to %q", code, h.Get("Location"))
	}
	for _, p := range []string{"/api/dashboard", "/api/subscriptions", fmt.Sprintf("/runs/%d/jobs/merkletree:build/events", e.run.ID)} {
		if code, _, _ := e.get(p); code != 401 {
			t.Errorf("anonymous %s = %d, want 401", p, code)
		}
	}
	if code, _, _ := e.get("/api/dashboard", "Authorization", "Bearer "+testToken); code != 200 {
		t.Errorf("bearer read = %d", code)
	}
	if code, body, _ := e.get("/api/subscriptions", "Authorization", "Bearer "+testToken); code != 200 || body != "subs" {
		t.Errorf("extra handler = %d %q", code, body)
	}
	c, _ := e.login()
	if code, body, _ := e.get("/", "Cookie", c.Name+"="+c.Value); code != 200 || !strings.Contains(body, "operator") {
		t.Errorf("operator page = %d", code)
	}
	for _, p := range []string{"/healthz", "/metrics", "/login", "/static/app.js"} {
		if code, _, _ := e.get(p); code != 200 {
			t.Errorf("%s = %d, want public 200", p, code)
		}
	}
}

func TestExtraPatternClash(t *testing.T) {
	e := newEnv(t, nil)
	_, err := New(Options{Store: e.st, Config: e.cfg, Actions: e.acts, Extra: map[string]http.Handler{"GET /api/dashboard": http.NotFoundHandler()}})
	if err == nil {
		t.Fatal("a clashing Extra pattern was accepted")
	}
	if _, err := New(Options{Config: e.cfg, Actions: e.acts}); err == nil {
		t.Error("missing Store accepted")
	}
}

func TestHealthzAndMetrics(t *testing.T) {
	e := newEnv(t, nil)
	e.seed()
	if code, body, _ := e.get("/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("healthz = %d %q", code, body)
	}
	body := []byte(`{"zen":"x"}`)
	e.hook("ping", "m-1", body, sign(body, testSecret))
	e.hook("push", "m-2", body, "sha256=00")
	_, m, _ := e.get("/metrics")
	for _, want := range []string{"ironworks_queue_depth 1", `ironworks_webhooks_total{event="ping",result="accepted"}`, `ironworks_webhooks_total{event="push",result="unauthorized"}`, "go_goroutines"} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	e.st.Close()
	if code, _, _ := e.get("/healthz"); code != 503 {
		t.Errorf("healthz with the database closed = %d, want 503", code)
	}
}

func TestReadSecret(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "tok")
	os.WriteFile(p, []byte("  s3cret\n"), 0o600)
	if v, err := ReadSecret(p); err != nil || v != "s3cret" {
		t.Errorf("ReadSecret = %q, %v", v, err)
	}
	os.WriteFile(p, []byte(" \n"), 0o600)
	if _, err := ReadSecret(p); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty secret: %v", err)
	}
	if _, err := ReadSecret(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file accepted")
	}
}

// sse reads server-sent events from a stream.
type sse struct {
	r *bufio.Reader
}

type event struct{ id, name, data string }

func (s *sse) next() (event, error) {
	var ev event
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return ev, err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if ev.data != "" || ev.name != "" {
				return ev, nil
			}
		case strings.HasPrefix(line, "id: "):
			ev.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			ev.name = line[7:]
		case strings.HasPrefix(line, "data: "):
			ev.data = line[6:]
		}
	}
}

func TestLogStreamFollowsAndResumes(t *testing.T) {
	e := newEnv(t, nil)
	e.seed()
	open := func(hdr ...string) (*sse, func()) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s/runs/%d/jobs/merkletree:test/events", e.http.URL, e.run.ID), nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
			t.Fatalf("Content-Type %q", ct)
		}
		return &sse{bufio.NewReader(resp.Body)}, func() { cancel(); resp.Body.Close() }
	}
	s, stop := open()
	for i, want := range []string{"running 12 tests", "test store::tests::disk ... ok"} {
		ev, err := s.next()
		if err != nil || ev.id != fmt.Sprint(i+1) || ev.data != want {
			t.Fatalf("event %d = %+v, %v", i+1, ev, err)
		}
	}
	e.writeLog(e.run.ID, "merkletree:test", "test store::tests::mmap ... ok\npartial")
	if ev, err := s.next(); err != nil || ev.id != "3" || ev.data != "test store::tests::mmap ... ok" {
		t.Fatalf("appended line = %+v, %v", ev, err)
	}
	stop()

	// A reconnect resumes after the last line it saw, and the stream ends
	// once the job is final, flushing the unterminated last line.
	s, stop = open("Last-Event-ID", "2")
	defer stop()
	if ev, err := s.next(); err != nil || ev.id != "3" {
		t.Fatalf("resumed at %+v, %v; want line 3", ev, err)
	}
	e.writeLog(e.run.ID, "merkletree:test", " line\n")
	if err := e.st.UpdateJob(context.Background(), &store.JobResult{RunID: e.run.ID, Job: "merkletree:test", State: store.JobFailure, ExitCode: 101, FinishedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	ev, err := s.next()
	if err != nil || ev.id != "4" || ev.data != "partial line" {
		t.Fatalf("last line = %+v, %v", ev, err)
	}
	if ev, err := s.next(); err != nil || ev.name != "end" || ev.data != "failure" {
		t.Fatalf("end event = %+v, %v", ev, err)
	}
}

func TestChart(t *testing.T) {
	pts, band, _ := fakeBench{}.Series(context.Background(), "window-post-wall-ms")
	c := chart(pts, band)
	if len(c.Dots) != 6 || c.Band == nil || c.Band.H <= 0 {
		t.Fatalf("chart = %+v", c)
	}
	for _, d := range c.Dots {
		if d.X < float64(c.PlotLeft) || d.X > float64(c.PlotRight) || d.Y < float64(c.PlotTop) || d.Y > float64(c.PlotBot) {
			t.Errorf("dot %+v outside the plot", d)
		}
	}
	// The regression (131) plots above the band; the higher value is higher up.
	if c.Dots[5].Y >= c.Band.Y {
		t.Errorf("regression dot y=%v not above band top %v", c.Dots[5].Y, c.Band.Y)
	}
	one := chart([]Point{{Value: 5}}, Band{})
	if len(one.Dots) != 1 || one.Band != nil {
		t.Errorf("single point chart = %+v", one)
	}
}

func TestReadLines(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.log")
	long := strings.Repeat("x", 200<<10)
	os.WriteFile(p, []byte("a\r\n\x1b[31mb\x1b[0m\n"+long+"\ntail"), 0o644)
	c, err := readLines(p, 0, 0, 0, false)
	if err != nil || len(c.Lines) != 3 || c.Lines[0] != "a" || c.Lines[1] != "b" || c.Next != 3 {
		t.Fatalf("running: %v %d lines next=%d", err, len(c.Lines), c.Next)
	}
	// An overlong line is cut at 64 KiB, saying how much is not shown; the
	// offset still moves past all of it.
	if want := strings.Repeat("x", maxLine) + fmt.Sprintf(" … (%d more bytes of this line not shown; see the raw log)", len(long)-maxLine); c.Lines[2] != want {
		t.Errorf("long line: %d bytes %q…", len(c.Lines[2]), c.Lines[2][len(c.Lines[2])-80:])
	}
	if c.Offset != int64(len("a\r\n\x1b[31mb\x1b[0m\n"+long+"\n")) {
		t.Errorf("offset %d", c.Offset)
	}
	c, _ = readLines(p, 1, 2, 0, true)
	if c.First != 3 || len(c.Lines) != 2 || c.Lines[1] != "tail" || c.Next != 4 {
		t.Errorf("final keep 2 from 1: first=%d next=%d %d lines", c.First, c.Next, len(c.Lines))
	}
	c, _ = readLines(p, 0, 0, 1, true)
	if len(c.Lines) != 1 || c.Next != 1 {
		t.Errorf("limit 1: %+v", c.Lines)
	}
}
