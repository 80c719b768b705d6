package web

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func pushBody(repo, ref, after string) []byte {
	return []byte(fmt.Sprintf(`{"ref":%q,"before":"0000000000000000000000000000000000000000","after":%q,"deleted":false,
		"repository":{"id":1,"name":"x","full_name":%q,"clone_url":"https://github.com/%s.git"},"pusher":{"name":"dev"}}`, ref, after, repo, repo))
}

func (e *env) hook(event, delivery string, body []byte, sig string) *http.Response {
	req, _ := http.NewRequest("POST", e.http.URL+"/webhooks/github", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if event != "" {
		req.Header.Set("X-GitHub-Event", event)
	}
	if delivery != "" {
		req.Header.Set("X-GitHub-Delivery", delivery)
	}
	if sig != "" {
		req.Header.Set("X-Hub-Signature-256", sig)
	}
	resp := e.do(req)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func TestWebhookPushTriggersWithin100ms(t *testing.T) {
	e := newEnv(t, nil)
	sha := strings.Repeat("d", 40)
	body := pushBody("filecoin-project/merkletree", "refs/heads/master", sha)
	start := time.Now()
	resp := e.hook("push", "delivery-1", body, sign(body, testSecret))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status = %d, want 202", resp.StatusCode)
	}
	calls := e.acts.calls("Trigger")
	if len(calls) != 1 {
		t.Fatalf("Trigger called %d times, want 1 (before the response)", len(calls))
	}
	if got := calls[0].Args; got[0] != "merkletree" || got[1] != "master" || got[2] != sha {
		t.Errorf("Trigger%v, want (merkletree, master, %s)", got, sha)
	}
	if lat := calls[0].At.Sub(start); lat >= 100*time.Millisecond {
		t.Errorf("push to Trigger took %v, want < 100ms", lat)
	}
	tg, _ := e.st.Targets(context.Background())
	if len(tg) != 1 || tg[0].Head != sha {
		t.Errorf("targets = %+v, want merkletree master at the pushed sha", tg)
	}
}

func TestWebhookReplayIsIgnored(t *testing.T) {
	e := newEnv(t, nil)
	body := pushBody("filecoin-project/merkletree", "refs/heads/master", strings.Repeat("d", 40))
	if r := e.hook("push", "d-1", body, sign(body, testSecret)); r.StatusCode != http.StatusAccepted {
		t.Fatalf("first delivery: %d", r.StatusCode)
	}
	if r := e.hook("push", "d-1", body, sign(body, testSecret)); r.StatusCode != http.StatusOK {
		t.Fatalf("replay: %d, want 200", r.StatusCode)
	}
	// A restarted coordinator (a new server on the same database) still knows it.
	srv2, err := New(Options{Store: e.st, Config: e.cfg, Actions: e.acts, WebhookSecret: []byte(testSecret)})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("POST", "/webhooks/github", bytes.NewReader(body))
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", "d-1")
	req.Header.Set("X-Hub-Signature-256", sign(body, testSecret))
	rec := httptest.NewRecorder()
	srv2.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "duplicate") {
		t.Errorf("replay after restart: %d %q", rec.Code, rec.Body)
	}
	if n := len(e.acts.calls("Trigger")); n != 1 {
		t.Errorf("Trigger called %d times, want 1", n)
	}
}

func TestWebhookRefusalsChangeNothing(t *testing.T) {
	good := pushBody("filecoin-project/merkletree", "refs/heads/master", strings.Repeat("d", 40))
	cases := []struct {
		name              string
		event, delivery   string
		body              []byte
		sig               string
		want              int
		noSecret          bool
		wantDeliveryStays bool
	}{
		{name: "bad signature", event: "push", delivery: "x", body: good, sig: sign(good, "wrong"), want: 401},
		{name: "missing signature", event: "push", delivery: "x", body: good, want: 401},
		{name: "signature not hex", event: "push", delivery: "x", body: good, sig: "sha256=zz", want: 401},
		{name: "sha1 signature", event: "push", delivery: "x", body: good, sig: "sha1=abcd", want: 401},
		{name: "signature of other body", event: "push", delivery: "x", body: good, sig: sign([]byte("{}"), testSecret), want: 401},
		{name: "no secret configured", event: "push", delivery: "x", body: good, sig: sign(good, testSecret), want: 401, noSecret: true},
		{name: "missing delivery", event: "push", body: good, sig: sign(good, testSecret), want: 400},
		{name: "missing event", delivery: "x", body: good, sig: sign(good, testSecret), want: 400},
		{name: "unknown event", event: "issues", delivery: "x", body: good, sig: sign(good, testSecret), want: 400},
		{name: "malformed json", event: "push", delivery: "x", body: []byte(`{"ref":`), sig: sign([]byte(`{"ref":`), testSecret), want: 400},
		{name: "no repository", event: "push", delivery: "x", body: []byte(`{"ref":"refs/heads/master","after":"` + strings.Repeat("d", 40) + `"}`), want: 400},
		{name: "after not a sha", event: "push", delivery: "x", body: pushBody("filecoin-project/merkletree", "refs/heads/master", "main"), want: 400},
		{name: "unknown repository", event: "push", delivery: "x", body: pushBody("someone/else", "refs/heads/master", strings.Repeat("d", 40)), want: 202},
		{name: "tag push", event: "push", delivery: "x", body: pushBody("filecoin-project/merkletree", "refs/tags/v1", strings.Repeat("d", 40)), want: 202},
		{name: "branch not followed", event: "push", delivery: "x", body: pushBody("filecoin-project/merkletree", "refs/heads/feature", strings.Repeat("d", 40)), want: 202},
		{name: "branch deleted", event: "push", delivery: "x", body: pushBody("filecoin-project/merkletree", "refs/heads/master", strings.Repeat("0", 40)), want: 202},
		{name: "ping", event: "ping", delivery: "x", body: []byte(`{"zen":"Keep it logically awesome.","hook_id":1}`), want: 200},
		{name: "check_run completed", event: "check_run", delivery: "x", body: []byte(`{"action":"completed","repository":{"full_name":"filecoin-project/merkletree"},"check_run":{"head_sha":"` + strings.Repeat("e", 40) + `"}}`), want: 202},
		{name: "pull_request edited", event: "pull_request", delivery: "x", body: []byte(`{"action":"edited","number":3,"repository":{"full_name":"filecoin-project/merkletree"},"pull_request":{"number":3,"head":{"sha":"` + strings.Repeat("e", 40) + `"}}}`), want: 202},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, func(o *Options) {
				if c.noSecret {
					o.WebhookSecret = nil
				}
			})
			sig := c.sig
			if sig == "" && c.want != 401 {
				sig = sign(c.body, testSecret)
			}
			r := e.hook(c.event, c.delivery, c.body, sig)
			if r.StatusCode != c.want {
				t.Errorf("status = %d, want %d", r.StatusCode, c.want)
			}
			if n := len(e.acts.calls("")); n != 0 {
				t.Errorf("actions called: %+v", e.acts.calls(""))
			}
			if n := e.deliveries(); n != 0 {
				t.Errorf("%d deliveries recorded, want none", n)
			}
			if tg, _ := e.st.Targets(context.Background()); len(tg) != 0 {
				t.Errorf("targets changed: %+v", tg)
			}
		})
	}
}

func TestWebhookPullRequestReviewAndRerun(t *testing.T) {
	e := newEnv(t, nil)
	head := strings.Repeat("f", 40)
	pr := `{"number":7,"html_url":"https://github.com/filecoin-project/rust-fil-proofs/pull/7","draft":false,
		"head":{"sha":"` + head + `","ref":"feature"},"base":{"ref":"master"},"labels":[{"name":"ready-for-staging"}]}`
	send := func(event, delivery, body string) int {
		b := []byte(body)
		return e.hook(event, delivery, b, sign(b, testSecret)).StatusCode
	}
	if c := send("pull_request", "p1", `{"action":"labeled","number":7,"label":{"name":"ready-for-staging"},"repository":{"full_name":"filecoin-project/rust-fil-proofs"},"pull_request":`+pr+`}`); c != 202 {
		t.Fatalf("pull_request: %d", c)
	}
	if c := send("pull_request_review", "p2", `{"action":"submitted","review":{"state":"APPROVED","user":{"login":"reviewer"}},"repository":{"full_name":"Filecoin-Project/Rust-Fil-Proofs"},"pull_request":`+pr+`}`); c != 202 {
		t.Fatalf("review: %d", c)
	}
	if c := send("check_run", "p3", `{"action":"rerequested","repository":{"full_name":"filecoin-project/merkletree"},"check_run":{"head_sha":"`+head+`"}}`); c != 202 {
		t.Fatalf("check_run: %d", c)
	}
	prs := e.acts.calls("PullRequest")
	if len(prs) != 2 {
		t.Fatalf("PullRequest calls = %d, want 2", len(prs))
	}
	labeled := prs[0].Args[0].(PREvent)
	if labeled.Component != "rust-fil-proofs" || labeled.Number != 7 || labeled.Action != "labeled" || labeled.Label != "ready-for-staging" ||
		labeled.HeadSHA != head || labeled.BaseRef != "master" || len(labeled.Labels) != 1 {
		t.Errorf("labeled event = %+v", labeled)
	}
	review := prs[1].Args[0].(PREvent)
	if review.Action != "review_submitted" || review.Review != "approved" || review.Reviewer != "reviewer" {
		t.Errorf("review event = %+v", review)
	}
	if rr := e.acts.calls("CheckRerun"); len(rr) != 1 || rr[0].Args[0] != head {
		t.Errorf("CheckRerun calls = %+v", rr)
	}
}

func TestWebhookActionFailureAllowsRedelivery(t *testing.T) {
	e := newEnv(t, nil)
	body := pushBody("filecoin-project/merkletree", "refs/heads/release", strings.Repeat("d", 40))
	e.acts.fail = errBoom
	if r := e.hook("push", "r-1", body, sign(body, testSecret)); r.StatusCode != http.StatusInternalServerError {
		t.Fatalf("failing action: %d, want 500", r.StatusCode)
	}
	e.acts.fail = nil
	if r := e.hook("push", "r-1", body, sign(body, testSecret)); r.StatusCode != http.StatusAccepted {
		t.Fatalf("redelivery: %d, want 202", r.StatusCode)
	}
	if n := len(e.acts.calls("Trigger")); n != 2 {
		t.Errorf("Trigger calls = %d, want 2 (failed, then redelivered)", n)
	}
}

func TestWebhookBodyLimit(t *testing.T) {
	e := newEnv(t, nil)
	body := bytes.Repeat([]byte(" "), maxWebhookBody+1)
	if r := e.hook("push", "big", body, sign(body, testSecret)); r.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized payload: %d, want 413", r.StatusCode)
	}
}

// FuzzWebhook feeds arbitrary payloads and headers, signed or not: the
// server must never panic, never answer 5xx, and act only on signed input.
func FuzzWebhook(f *testing.F) {
	f.Add("push", "id-1", []byte(pushBody("filecoin-project/merkletree", "refs/heads/master", strings.Repeat("d", 40))), true)
	f.Add("pull_request", "id-2", []byte(`{"action":"opened","repository":{"full_name":"filecoin-project/merkletree"},"pull_request":{"number":1,"head":{"sha":"`+strings.Repeat("a", 40)+`"}}}`), true)
	f.Add("pull_request_review", "id-3", []byte(`{"action":"submitted","review":null,"pull_request":null}`), true)
	f.Add("check_run", "id-4", []byte(`{"action":"rerequested","check_run":{"head_sha":5}}`), true)
	f.Add("ping", "", []byte(`[]`), false)
	f.Add("push", "id-5", []byte(`{"ref":null,"repository":{"full_name":""}}`), true)
	f.Add("\x00", "\n", []byte{0xff, 0xfe}, true)
	e := newEnv(f, nil)
	h := e.srv.Handler()
	f.Fuzz(func(t *testing.T, event, delivery string, body []byte, signed bool) {
		before := len(e.acts.calls(""))
		req := httptest.NewRequest("POST", "/webhooks/github", bytes.NewReader(body))
		req.Header["X-GitHub-Event"] = []string{event}
		req.Header["X-GitHub-Delivery"] = []string{delivery}
		if signed {
			req.Header.Set("X-Hub-Signature-256", sign(body, testSecret))
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for event %q: %s", rec.Code, event, rec.Body)
		}
		if !signed && len(e.acts.calls("")) != before {
			t.Fatal("an unsigned delivery reached Actions")
		}
	})
}
