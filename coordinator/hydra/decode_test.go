package hydra_test

import (
	"strings"
	"testing"

	"github.com/ironworks-ci/ironworks/coordinator/hydra"
)

func TestFlakeRevision(t *testing.T) {
	rev := "0123456789abcdef0123456789abcdef01234567"
	cases := []struct {
		in, want string
		ok       bool
	}{
		{"github:owner/repo/" + rev, rev, true},
		{"github:owner/repo/" + rev + "?narHash=sha256-abc%3D", rev, true},
		{"gitlab:group/repo/" + strings.ToUpper(rev), rev, true},
		{"sourcehut:~user/repo/" + rev, rev, true},
		{"git+https://example.org/r.git?ref=main&rev=" + rev, rev, true},
		{"git+ssh://git@example.org/r?rev=" + rev + "&narHash=x", rev, true},
		{"git+file:///srv/r?ref=refs/heads/x&rev=" + rev, rev, true},
		{"github:owner/repo?ref=forge-lock&rev=" + rev, rev, true},
		{"github:owner/repo/main", "", false},
		{"github:owner/repo", "", false},
		{"git+https://example.org/r.git?ref=main", "", false},
		{"git+https://example.org/r.git?rev=abc", "", false},
		{"path:/nix/store/xyz-source?narHash=sha256-x", "", false},
		{"nope", "", false},
		{"", "", false},
		{"weird:thing/" + rev, "", false},
	}
	for _, tc := range cases {
		got, err := hydra.FlakeRevision(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("%q: %q, %v", tc.in, got, err)
		}
	}
}

func TestLenientBuildDecoding(t *testing.T) {
	cases := map[string]struct {
		json     string
		done, ok bool
		status   string
	}{
		"ints":           {`{"id":1,"finished":1,"buildstatus":0,"buildmetrics":{}}`, true, true, "succeeded"},
		"numeric string": {`{"id":"2","finished":"1","buildstatus":"6","buildmetrics":null}`, true, false, "failed with output"},
		"boolean flag":   {`{"id":3,"finished":true,"buildstatus":1}`, true, false, "failed"},
		"queued":         {`{"id":4,"finished":0,"buildstatus":null,"starttime":null}`, false, false, "queued"},
		"restarted":      {`{"id":5,"finished":0,"buildstatus":0}`, false, false, "queued"},
		"unknown code":   {`{"id":6,"finished":1,"buildstatus":99}`, true, false, "failed (status 99)"},
		"float":          {`{"id":7.0,"finished":1.0,"buildstatus":7}`, true, false, "timed out"},
	}
	for name, tc := range cases {
		b, err := hydra.DecodeBuild([]byte(tc.json))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if b.Done() != tc.done || b.Succeeded() != tc.ok || b.StatusName() != tc.status {
			t.Errorf("%s: done %v ok %v status %q", name, b.Done(), b.Succeeded(), b.StatusName())
		}
	}
	for _, bad := range []string{`{"finished":"yes"}`, `{"id":1.5}`, `[`, ``, `<html>`, `{"buildstatus":{}}`} {
		if _, err := hydra.DecodeBuild([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestEvalDecodingAndLegacyRevision(t *testing.T) {
	e, err := hydra.DecodeEval([]byte(`{"id":5,"hasnewbuilds":1,"flake":null,"builds":[1,"2"],
		"jobsetevalinputs":{"src":{"revision":"abc","value":null,"type":"git","uri":"https://x","dependency":null}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if rev, err := e.Revision("src"); err != nil || rev != "abc" {
		t.Fatalf("%q %v", rev, err)
	}
	if _, err := e.Revision("other"); err == nil {
		t.Error("unknown input accepted")
	}
	e, _ = hydra.DecodeEval([]byte(`{"id":6,"hasnewbuilds":0,"builds":[],"jobsetevalinputs":{}}`))
	if _, err := e.Revision("src"); err == nil || !strings.Contains(err.Error(), "hasnewbuilds") {
		t.Errorf("empty eval: %v", err)
	}
	js, err := hydra.DecodeJobset([]byte(`{"name":"j","errormsg":null,"fetcherrormsg":"","type":"1","enabled":2,"visible":true,"enableemail":0,"triggertime":null,"starttime":1700000000}`))
	if err != nil || js.ErrorMsg != "" || js.Type != 1 || js.Enabled != 2 || !bool(js.Visible) || js.Idle() {
		t.Fatalf("%+v %v", js, err)
	}
	p, err := hydra.DecodeEvalPage([]byte(`{"evals":[],"first":"?page=1","last":"?page=0"}`))
	if err != nil || len(p.Evals) != 0 || hydra.NextPage(string(p.Next)) != 0 || hydra.NextPage("?page=3") != 3 {
		t.Fatalf("%+v %v", p, err)
	}
}

func FuzzDecodeBuild(f *testing.F) {
	for _, s := range []string{`{"id":1,"finished":1,"buildstatus":0,"buildmetrics":{}}`, `{"id":"2","finished":"0","buildstatus":null}`,
		`{"buildproducts":{"1":{"filesize":null,"sha256hash":null}},"jobsetevals":[1,2]}`, `<html>`, `[]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		bd, err := hydra.DecodeBuild(b)
		if err != nil {
			return
		}
		if bd.Succeeded() && !bd.Done() {
			t.Fatal("succeeded but not finished")
		}
		_ = bd.StatusName()
	})
}

func FuzzDecodeEval(f *testing.F) {
	for _, s := range []string{`{"id":5,"hasnewbuilds":1,"flake":"github:o/r/0123456789abcdef0123456789abcdef01234567","builds":[1],"jobsetevalinputs":{}}`,
		`{"evals":[{"id":1}],"next":"?page=2"}`, `{"jobsetevalinputs":{"x":{"revision":null}}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if e, err := hydra.DecodeEval(b); err == nil {
			_, _ = e.Revision("src")
		}
		if p, err := hydra.DecodeEvalPage(b); err == nil {
			if n := hydra.NextPage(string(p.Next)); n < 0 {
				t.Fatal("negative page")
			}
		}
		_, _ = hydra.DecodeJobset(b)
	})
}

func FuzzFlakeRevision(f *testing.F) {
	for _, s := range []string{"github:o/r/0123456789abcdef0123456789abcdef01234567?narHash=x", "git+https://h/r?rev=0123456789abcdef0123456789abcdef01234567", "path:/nix/store/x", "github:o/r", "::", "git+?rev="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rev, err := hydra.FlakeRevision(s)
		if err != nil {
			return
		}
		if len(rev) != 40 || strings.ToLower(rev) != rev || !strings.Contains(strings.ToLower(s), rev) {
			t.Fatalf("%q -> %q", s, rev)
		}
	})
}
