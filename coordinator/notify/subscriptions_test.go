package notify

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestParseAddress(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{"ops@example.org", "ops@example.org", ""},
		{"Ops.Team+ci@Example.ORG", "Ops.Team+ci@example.org", ""},
		{"", "", "empty"},
		{"Alice <alice@example.org>", "", "bare address"},
		{"<alice@example.org>", "", "bare address"},
		{"alice@example.org (Alice)", "", "bare address"},
		{"alice @example.org", "", "spaces"},
		{"alice@example.org,bob@example.org", "", "bare address"},
		{"alice", "", "missing"},
		{"alice@", "", "alice@"},
		{"@example.org", "", "@example.org"},
		{"alice@[127.0.0.1]", "", "bare address"},
		{"alice@example..org", "", "domain"},
		{"al\nice@example.org", "", "control"},
		{"ålice@example.org", "", "non-ASCII"},
		{strings.Repeat("a", 250) + "@example.org", "", "longer than 254"},
	} {
		got, err := ParseAddress(tc.in)
		if tc.err == "" {
			if err != nil || got != tc.want {
				t.Errorf("ParseAddress(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("ParseAddress(%q) error = %v; want one containing %q", tc.in, err, tc.err)
		}
	}
}

func TestParseEvents(t *testing.T) {
	if ev, err := ParseEvents(""); err != nil || len(ev) != len(DefaultEvents) {
		t.Errorf("default: %v %v", ev, err)
	}
	if ev, err := ParseEvents("failure, recovery,failure"); err != nil || strings.Join(ev, ",") != "failure,recovery" {
		t.Errorf("got %v %v", ev, err)
	}
	for _, bad := range []string{"failure,oops", ",", "run-started"} {
		if _, err := ParseEvents(bad); err == nil {
			t.Errorf("ParseEvents(%q) accepted", bad)
		}
	}
}

func TestNewSubscriptionErrors(t *testing.T) {
	e := newEnv(t, "")
	for _, tc := range []struct{ email, comp, branch, err string }{
		{"Alice <a@example.org>", "merkletree", "", "bare address"},
		{"a@example.org", "", "", "component is required"},
		{"a@example.org", "nope", "", `unknown component "nope" (configured: merkletree, rust-fil-proofs)`},
		{"a@example.org", "merkletree", "release", `does not follow branch "release" (targets: master)`},
	} {
		if _, err := NewSubscription(e.cfg, tc.email, tc.comp, tc.branch, nil); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%+v: err = %v", tc, err)
		}
	}
	if _, err := NewSubscription(e.cfg, "a@example.org", "merkletree", "", []string{"bogus"}); err == nil {
		t.Error("unknown event kind accepted")
	}
}

func TestToken(t *testing.T) {
	s, _ := NewSigner([]byte("0123456789abcdef0123"))
	other, _ := NewSigner([]byte("fedcba9876543210fedc"))
	tok := s.Token("a@example.org", "merkletree")
	if e, c, err := s.Verify(tok); err != nil || e != "a@example.org" || c != "merkletree" {
		t.Fatalf("verify: %q %q %v", e, c, err)
	}
	forged := other.Token("a@example.org", "merkletree")
	p, _, _ := strings.Cut(tok, ".")
	_, sig, _ := strings.Cut(s.Token("b@example.org", ""), ".")
	for _, bad := range []string{"", "x", forged, p + "." + sig, tok + "x", "." + sig} {
		if _, _, err := s.Verify(bad); err == nil {
			t.Errorf("Verify(%q) accepted", bad)
		}
	}
	if _, err := NewSigner([]byte("short")); err == nil {
		t.Error("short key accepted")
	}
}

func TestHandler(t *testing.T) {
	e := newEnv(t, "")
	h := NewHandler(e.cfg, e.st, e.signer, func(r *http.Request) bool { return r.Header.Get("Authorization") == "Bearer op" })
	srv := httptest.NewServer(h)
	defer srv.Close()
	do := func(method, path, body string, auth bool) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if auth {
			req.Header.Set("Authorization", "Bearer op")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return resp, b.String()
	}
	for _, tc := range []struct {
		method, path, body string
		auth               bool
		code               int
		want               string
	}{
		{"GET", "/api/subscriptions", "", false, 401, "operator authorization required"},
		{"POST", "/api/subscriptions", `{"email":"a@example.org","component":"merkletree"}`, false, 401, "operator"},
		{"POST", "/api/subscriptions", `{"email":"a@example.org","component":"merkletree","colour":"red"}`, true, 400, `unknown field \"colour\"`},
		{"POST", "/api/subscriptions", `{"email":"a@example.org"`, true, 400, "request body"},
		{"POST", "/api/subscriptions", `{"email":"a@example.org","component":"merkletree"} {}`, true, 400, "trailing data"},
		{"POST", "/api/subscriptions", `{"email":"A <a@example.org>","component":"merkletree"}`, true, 400, "bare address"},
		{"POST", "/api/subscriptions", `{"email":"a@example.org","component":"nope"}`, true, 400, "unknown component"},
		{"POST", "/api/subscriptions", `{"email":"a@example.org","component":"merkletree","events":["failure"]}`, true, 201, `"events":["failure"]`},
		{"POST", "/api/subscriptions", `{"email":"b@example.org","component":"rust-fil-proofs","branch":"release"}`, true, 201, `"branch":"release"`},
		{"GET", "/api/subscriptions", "", true, 200, `"email":"b@example.org"`},
		{"DELETE", "/api/subscriptions?email=nobody@example.org", "", true, 404, "no such subscription"},
		{"DELETE", "/api/subscriptions?email=bad", "", true, 400, "e-mail address"},
		{"DELETE", "/api/subscriptions/x", "", true, 400, "not a number"},
		{"DELETE", "/api/subscriptions?email=b@example.org&component=rust-fil-proofs", "", true, 200, `"removed":1`},
		{"GET", "/unsubscribe?token=forged.token", "", false, 400, "invalid"},
		{"POST", "/unsubscribe?token=forged.token", "", false, 400, "invalid"},
	} {
		resp, body := do(tc.method, tc.path, tc.body, tc.auth)
		if resp.StatusCode != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("%s %s %s: %d %s; want %d containing %q", tc.method, tc.path, tc.body, resp.StatusCode, body, tc.code, tc.want)
		}
	}
	subs, _ := e.st.Subscriptions(context.Background())
	if len(subs) != 1 || subs[0].Email != "a@example.org" {
		t.Fatalf("subscriptions %+v", subs)
	}

	// GET shows a confirmation and changes nothing; the one-click POST unsubscribes.
	tok := url.QueryEscape(e.signer.Token("a@example.org", "merkletree"))
	resp, body := do("GET", "/unsubscribe?token="+tok, "", false)
	if resp.StatusCode != 200 || !strings.Contains(body, "<form method=\"post\"") {
		t.Fatalf("GET /unsubscribe: %d %s", resp.StatusCode, body)
	}
	if subs, _ := e.st.Subscriptions(context.Background()); len(subs) != 1 {
		t.Fatal("GET unsubscribed")
	}
	resp, body = do("POST", "/unsubscribe?token="+tok, "List-Unsubscribe=One-Click", false)
	if resp.StatusCode != 200 || !strings.Contains(body, "will no longer receive") {
		t.Fatalf("POST /unsubscribe: %d %s", resp.StatusCode, body)
	}
	if subs, _ := e.st.Subscriptions(context.Background()); len(subs) != 0 {
		t.Fatalf("still subscribed: %+v", subs)
	}
	// Repeating the one-click is harmless.
	if resp, _ := do("POST", "/unsubscribe?token="+tok, "", false); resp.StatusCode != 200 {
		t.Fatalf("repeat: %d", resp.StatusCode)
	}
	var list []any
	_, body = do("GET", "/api/subscriptions", "", true)
	if err := json.Unmarshal([]byte(body), &list); err != nil || len(list) != 0 {
		t.Fatalf("empty list: %s %v", body, err)
	}
}

func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{"ops@example.org", "A <a@b.c>", "a@b", "@", "a@[1.2.3.4]", "\"a b\"@c.d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAddress(s)
		if err != nil {
			return
		}
		if again, err := ParseAddress(a); err != nil || again != a {
			t.Fatalf("accepted %q as %q, which does not round-trip: %q %v", s, a, again, err)
		}
		if strings.ContainsAny(a, " <>\r\n,") {
			t.Fatalf("accepted %q", a)
		}
	})
}

func FuzzParsePayload(f *testing.F) {
	f.Add(`{"stage":"forge","jobs":[{"job":"a:b","state":"failure","duration_ms":5}],"pr":3}`)
	f.Add(`{"upstream_range":{"from":"a","to":"b","commits":[{"rev":"c"}]},"culprit":null}`)
	f.Add(`{"jobs":"x","pr":"7"}`)
	f.Fuzz(func(t *testing.T, s string) {
		var raw map[string]any
		if json.Unmarshal([]byte(s), &raw) != nil {
			return
		}
		if _, err := ParsePayload(raw); err != nil {
			parseLenient(raw) // must not panic
		}
	})
}

func FuzzSubscribeRequest(f *testing.F) {
	f.Add(`{"email":"a@example.org","component":"merkletree","events":["failure"]}`)
	f.Add(`{"email":1}`)
	f.Fuzz(func(t *testing.T, s string) {
		req, err := decodeSubscribeRequest(strings.NewReader(s))
		if err == nil && len(s) == 0 {
			t.Fatalf("empty body accepted: %+v", req)
		}
	})
}

func FuzzVerifyToken(f *testing.F) {
	s, _ := NewSigner([]byte("0123456789abcdef"))
	f.Add(s.Token("a@example.org", "merkletree"))
	f.Add("a.b")
	f.Fuzz(func(t *testing.T, tok string) {
		email, comp, err := s.Verify(tok)
		if err == nil && s.Token(email, comp) != tok {
			t.Fatalf("accepted a token that is not the canonical one: %q", tok)
		}
	})
}
