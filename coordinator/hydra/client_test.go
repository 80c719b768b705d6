package hydra_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ironworks-ci/ironworks/coordinator/httpretry"
	"github.com/ironworks-ci/ironworks/coordinator/hydra"
	"github.com/ironworks-ci/ironworks/coordinator/hydra/hydratest"
)

func fast() httpretry.Options {
	return httpretry.Options{RetryMax: 3, WaitMin: time.Millisecond, WaitMax: 2 * time.Millisecond, Timeout: 2 * time.Second}
}

func newPair(t *testing.T) (*hydratest.Server, *hydra.Client) {
	srv := hydratest.New()
	t.Cleanup(srv.Close)
	srv.AddUser("bot", "pw")
	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte("pw\n"), 0o600)
	c, err := hydra.New(hydra.Options{URL: srv.URL() + "/", User: "bot", PasswordFile: pw, Retry: fast()})
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

func TestLoginAndPush(t *testing.T) {
	srv, c := newPair(t)
	srv.AddJobset("p", "j", "github:o/r")
	got, err := c.Push(context.Background(), false, "p:j")
	if err != nil || len(got) != 1 || got[0] != "p:j" {
		t.Fatalf("%v %v", got, err)
	}
	if srv.Count("POST /login") != 1 || srv.Triggers("p", "j") != 1 {
		t.Errorf("logins %d triggers %d", srv.Count("POST /login"), srv.Triggers("p", "j"))
	}
	// The session is reused.
	if _, err := c.Push(context.Background(), true, "p:j"); err != nil {
		t.Fatal(err)
	}
	if srv.Count("POST /login") != 1 {
		t.Error("logged in twice")
	}
}

func TestBadPassword(t *testing.T) {
	srv, _ := newPair(t)
	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte("wrong-secret"), 0o600)
	c, _ := hydra.New(hydra.Options{URL: srv.URL(), User: "bot", PasswordFile: pw, Retry: fast()})
	err := c.Login(context.Background())
	if err == nil || !strings.Contains(err.Error(), "Bad username or password.") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "wrong-secret") {
		t.Fatal("password leaked into the error")
	}
	c2, _ := hydra.New(hydra.Options{URL: srv.URL(), User: "bot", PasswordFile: filepath.Join(t.TempDir(), "missing")})
	if err := c2.Login(context.Background()); err == nil || !strings.Contains(err.Error(), "password file") {
		t.Fatalf("missing file: %v", err)
	}
}

// The fake refuses POSTs without Origin/Referer exactly as Hydra does; the
// client always sends them.
func TestOriginRefererCheck(t *testing.T) {
	srv, _ := newPair(t)
	req, _ := http.NewRequest("POST", srv.URL()+"/login", strings.NewReader(`{"username":"bot","password":"pw"}`))
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Referer", "https://evil.example/")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 500 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	var seen atomic.Value
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" {
			seen.Store(r.Header.Get("Origin") + " " + r.Header.Get("Referer") + " " + r.Header.Get("Accept"))
		}
		w.WriteHeader(403)
	}))
	defer proxy.Close()
	c, _ := hydra.New(hydra.Options{URL: proxy.URL + "/hydra", User: "bot", PasswordFile: "/dev/null", Retry: fast()})
	c.Login(context.Background())
	if got, _ := seen.Load().(string); got != proxy.URL+" "+proxy.URL+"/hydra/ application/json" {
		t.Fatalf("headers %q", got)
	}
}

func TestHTMLWithoutAccept(t *testing.T) {
	srv, _ := newPair(t)
	srv.AddJobset("p", "j", "github:o/r")
	resp, err := http.Get(srv.URL() + "/jobset/p/j")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("content type %s", resp.Header.Get("Content-Type"))
	}
	if _, err := hydra.DecodeJobset([]byte("<!DOCTYPE html><html>")); err == nil || !strings.Contains(err.Error(), "not JSON") {
		t.Fatalf("HTML decoded: %v", err)
	}
}

func TestEvalsPaginationAndRevision(t *testing.T) {
	srv, c := newPair(t)
	srv.AddJobset("p", "j", "github:o/r")
	var ids []int64
	for i := range 45 {
		rev := strings.Repeat(string("0123456789abcdef"[i%16]), 39) + string("0123456789abcdef"[i/16])
		ids = append(ids, srv.AddEval("p", "j", &hydratest.EvalSpec{Flake: "github:o/r/" + rev + "?narHash=sha256-x", Jobs: []hydratest.Job{{Name: "a", Drv: rev}}}))
	}
	ctx := context.Background()
	p1, err := c.Evals(ctx, "p", "j", 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(p1.Evals) != 20 || int64(p1.Evals[0].ID) != ids[44] || p1.Next != "?page=2" || p1.Last != "?page=3" || p1.Previous != "" {
		t.Fatalf("page 1: %d evals, first %d, next %q last %q", len(p1.Evals), p1.Evals[0].ID, p1.Next, p1.Last)
	}
	target := ids[2]
	ev, err := c.FindEval(ctx, "p", "j", 5, 0, func(e *hydra.Eval) bool { return int64(e.ID) == target })
	if err != nil || ev == nil {
		t.Fatalf("not found on page 3: %v", err)
	}
	rev, err := ev.Revision("")
	if err != nil || len(rev) != 40 {
		t.Fatalf("rev %q %v", rev, err)
	}
	if ev, _ := c.FindEval(ctx, "p", "j", 1, 0, func(e *hydra.Eval) bool { return int64(e.ID) == target }); ev != nil {
		t.Error("found beyond maxPages")
	}
	if srv.Count("GET /jobset/{p}/{j}/evals") != 5 { // page 1; pages 1-3; page 1
		t.Errorf("requests %d", srv.Count("GET /jobset/{p}/{j}/evals"))
	}
	if _, err := c.Evals(ctx, "p", "nope", 1); !errors.Is(err, hydra.ErrNotFound) {
		t.Errorf("unknown jobset: %v", err)
	}
}

func TestEvalJobRedirectAnd404(t *testing.T) {
	srv, c := newPair(t)
	srv.AddJobset("p", "j", "github:o/r")
	id := srv.AddEval("p", "j", &hydratest.EvalSpec{Flake: "github:o/r/" + strings.Repeat("a", 40), Jobs: []hydratest.Job{{Name: "x.build.x86_64-linux", Status: hydratest.Status(0)}}})
	ctx := context.Background()
	bid, err := c.EvalJob(ctx, id, "x.build.x86_64-linux")
	if err != nil || bid != srv.BuildID(id, "x.build.x86_64-linux") {
		t.Fatalf("%d %v", bid, err)
	}
	if _, err := c.EvalJob(ctx, id, "missing"); !errors.Is(err, hydra.ErrNotFound) || !strings.Contains(err.Error(), "no job with the specified name") {
		t.Fatalf("missing job: %v", err)
	}
	b, err := c.Build(ctx, bid)
	if err != nil || !b.Succeeded() || b.StatusName() != "succeeded" {
		t.Fatalf("%+v %v", b, err)
	}
	srv.Restart(bid)
	b, _ = c.Build(ctx, bid)
	if b.Done() || b.Succeeded() || !b.BuildStatus.Valid || b.StatusName() != "queued" {
		t.Fatalf("restarted build reads as %+v", b)
	}
	lf, err := c.LatestFinished(ctx, "p", "j", "x.build.x86_64-linux")
	if err == nil {
		t.Errorf("latest-finished returned %d while the eval has an unfinished build", lf)
	}
	srv.FinishBuild(bid, 0)
	if lf, err := c.LatestFinished(ctx, "p", "j", "x.build.x86_64-linux"); err != nil || lf != bid {
		t.Errorf("latest-finished %d %v", lf, err)
	}
	if le, err := c.LatestEval(ctx, "p", "j"); err != nil || le != id {
		t.Errorf("latest-eval %d %v", le, err)
	}
	if paths, err := c.StorePaths(ctx, id); err != nil || len(paths) != 1 {
		t.Errorf("store paths %v %v", paths, err)
	}
}

func TestPutJobsetBooleansByPresence(t *testing.T) {
	srv, c := newPair(t)
	ctx := context.Background()
	srv.AddProject("p")
	spec := &hydra.JobsetSpec{Type: 1, Flake: "github:o/r?ref=forge-lock", Enabled: 1, Visible: false, EnableEmail: false}
	created, err := c.PutJobset(ctx, "p", "forge", spec)
	if err != nil || !created {
		t.Fatalf("%v %v", created, err)
	}
	js, err := c.Jobset(ctx, "p", "forge")
	if err != nil || js.Visible || js.EnableEmail || js.Type != 1 || js.Enabled != 1 {
		t.Fatalf("false booleans were sent: %+v %v", js, err)
	}
	spec.Visible = true
	if created, err := c.PutJobset(ctx, "p", "forge", spec); err != nil || created {
		t.Fatalf("update: %v %v", created, err)
	}
	if js, _ := c.Jobset(ctx, "p", "forge"); !js.Visible {
		t.Error("visible not set")
	}
	srv.SetDeclarative("q")
	if _, err := c.PutJobset(ctx, "q", "forge", spec); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("declarative: %v", err)
	}
}

func TestEvalErrorOnlyInErrorsPage(t *testing.T) {
	srv, c := newPair(t)
	srv.AddJobset("p", "j", "github:o/r")
	srv.FailEval("p", "j", "error: undefined variable 'pkgs'")
	srv.Evaluate("p", "j")
	ctx := context.Background()
	js, _ := c.Jobset(ctx, "p", "j")
	errs, err := c.JobsetErrors(ctx, "p", "j")
	if err != nil || js.ErrorMsg != "" || errs.ErrorMsg != "error: undefined variable 'pkgs'" {
		t.Fatalf("plain %q errors %q %v", js.ErrorMsg, errs.ErrorMsg, err)
	}
}

func TestRetriesAndRetryAfter(t *testing.T) {
	srv, c := newPair(t)
	srv.AddJobset("p", "j", "github:o/r")
	srv.FailNext(2, 503, "0", "")
	var hooks atomic.Int64
	c2, _ := hydra.New(hydra.Options{URL: srv.URL(), Retry: fast(), Metrics: func(string, int) { hooks.Add(1) }})
	if _, err := c2.Jobset(context.Background(), "p", "j"); err != nil {
		t.Fatal(err)
	}
	if got := c2.Stats()["GET /jobset/{p}/{j}"]; got != 3 || hooks.Load() != 3 {
		t.Errorf("attempts %d hooks %d", got, hooks.Load())
	}
	srv.FailNext(10, 502, "", "")
	_, err := c.Jobset(context.Background(), "p", "j")
	var he *hydra.Error
	if !errors.As(err, &he) || he.Status != 502 {
		t.Fatalf("after retries: %v", err)
	}
}

func TestNewRejectsBadURL(t *testing.T) {
	for _, u := range []string{"", "ftp://x", "hydra.example.org", "http://"} {
		if _, err := hydra.New(hydra.Options{URL: u}); err == nil {
			t.Errorf("%q accepted", u)
		}
	}
}
