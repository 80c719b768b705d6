package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ironworks-ci/ironworks/coordinator/forge"
	"github.com/ironworks-ci/ironworks/coordinator/forge/githubtest"
)

func notifyPRSetup(t *testing.T) (dir, cfg string, prs *githubtest.PRState) {
	t.Helper()
	gh := githubtest.New()
	t.Cleanup(gh.Close)
	prs = gh.EnablePRs()
	prs.Token = "ghp_test"
	prs.PageSize = 1
	prs.AddPR(githubtest.PR{Repo: "o/r", Number: 3, HeadSHA: "0000000", Commits: []string{"abcdef0"}})
	prs.AddPR(githubtest.PR{Repo: "o/r", Number: 5, HeadSHA: "abcdef0"})
	dir = t.TempDir()
	os.WriteFile(filepath.Join(dir, "token"), []byte("ghp_test\n"), 0o600)
	cfg = filepath.Join(dir, "ironworks.toml")
	os.WriteFile(cfg, []byte(`state_dir = "state"
adapters = ["embedded:merkletree"]
[github]
api_url = "`+gh.URL()+`"
token_file = "`+filepath.Join(dir, "token")+`"
[artifacts]
kind = "fs"
dir = "artifacts"
retention_days = 5
[web]
url = "https://ci.example.org"
`), 0o600)
	os.WriteFile(filepath.Join(dir, "summary.md"), []byte("# Tests failed\n\n2 of 40 tests failed.\n"), 0o600)
	os.MkdirAll(filepath.Join(dir, "logs", "unit"), 0o755)
	os.WriteFile(filepath.Join(dir, "logs", "build.log"), []byte("built"), 0o644)
	os.WriteFile(filepath.Join(dir, "logs", "unit", "a.log"), []byte("FAILED a"), 0o644)
	os.WriteFile(filepath.Join(dir, "extra.txt"), []byte("extra"), 0o644)
	return dir, cfg, prs
}

func TestNotifyPR(t *testing.T) {
	dir, cfg, prs := notifyPRSetup(t)
	args := []string{"notify-pr", "--config", cfg, "--repo", "o/r", "--commit", "abcdef0", "--summary-file", filepath.Join(dir, "summary.md"),
		"--upload", filepath.Join(dir, "logs"), "--upload", filepath.Join(dir, "extra.txt"), "--state", "failure", "--context", "ci/tests"}
	code, out, errOut := captureCLI(t, args...)
	if code != exitOK || !strings.Contains(out, "uploaded 3 file(s)") || !strings.Contains(out, "on o/r#5") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	st := prs.Statuses()
	if len(st) != 1 || st[0].State != "failure" || st[0].Context != "ci/tests" || st[0].Description != "Tests failed" || st[0].SHA != "abcdef0" ||
		!strings.HasPrefix(st[0].TargetURL, "https://ci.example.org/artifacts/notify-pr/o/r/abcdef0/") || !strings.Contains(st[0].TargetURL, "/summary.md?") {
		t.Fatalf("statuses %+v", st)
	}
	cms := prs.Comments("o/r", 5)
	if len(cms) != 1 {
		t.Fatalf("comments %+v", cms)
	}
	for _, want := range []string{"<!-- ironworks:pr-comment:ci/tests -->", "2 of 40 tests failed.", "Logs (3; kept 5 days: links work until", "[logs/unit/a.log](https://ci.example.org/artifacts/notify-pr/o/r/abcdef0/", "[extra.txt](https://ci.example.org/artifacts/"} {
		if !strings.Contains(cms[0].Body, want) {
			t.Errorf("comment lacks %q:\n%s", want, cms[0].Body)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "artifacts", "notify-pr", "o", "r", "abcdef0", "*", "logs", "unit", "a.log"))
	if len(files) != 1 {
		t.Fatalf("uploaded files: %v", files)
	}

	// A second run (same CI, new result) edits the same comment.
	os.WriteFile(filepath.Join(dir, "summary.md"), []byte("All 40 tests pass.\n"), 0o600)
	code, out, errOut = captureCLI(t, "notify-pr", "--config", cfg, "--repo", "o/r", "--commit", "abcdef0", "--summary-file", filepath.Join(dir, "summary.md"), "--state", "success", "--context", "ci/tests")
	if code != exitOK {
		t.Fatalf("second run: %d\n%s\n%s", code, out, errOut)
	}
	cms = prs.Comments("o/r", 5)
	if len(cms) != 1 || cms[0].Edits != 1 || !strings.Contains(cms[0].Body, "All 40 tests pass.") || strings.Contains(cms[0].Body, "2 of 40") {
		t.Fatalf("after the second run: %+v", cms)
	}
	if n := prs.Calls("create-comment"); n != 1 {
		t.Fatalf("%d comments created", n)
	}
}

func TestNotifyPRFile(t *testing.T) {
	dir, cfg, prs := notifyPRSetup(t)
	f := filepath.Join(dir, "notify.toml")
	os.WriteFile(f, []byte(`repo = "o/r"
commit = "abcdef0"
summary_file = "summary.md"
upload = ["logs"]
retention_days = 2
`), 0o600)
	code, out, errOut := captureCLI(t, "notify-pr", "--config", cfg, "--file", f)
	if code != exitOK || !strings.Contains(out, "uploaded 2 file(s)") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	cms := prs.Comments("o/r", 5)
	if len(cms) != 1 || strings.HasPrefix(cms[0].Body, forge.Marker+"\n") || !strings.HasPrefix(cms[0].Body, "<!-- ironworks:pr-comment:notify-pr -->") || !strings.Contains(cms[0].Body, "kept 2 days") {
		t.Fatalf("comments %+v", cms)
	}
	if len(prs.Statuses()) != 0 {
		t.Fatal("status set without --state")
	}
}

func TestNotifyPRErrors(t *testing.T) {
	dir, cfg, prs := notifyPRSetup(t)
	sum := filepath.Join(dir, "summary.md")
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("repo = \"o/r\"\ncommit = \"abcdef0\"\n\ncolour = \"red\"\n"), 0o600)
	storeBad := filepath.Join(dir, "store.toml")
	os.WriteFile(storeBad, []byte("repo = \"o/r\"\n[store]\ncolour = \"red\"\n"), 0o600)
	broken := filepath.Join(dir, "broken.toml")
	os.WriteFile(broken, []byte("repo = \"o/r\"\ncommit = \n"), 0o600)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--help"}, exitOK, "summary-file"},
		{[]string{"--config", cfg, "--file", bad}, exitUsage, "bad.toml:4: colour: unknown key"},
		{[]string{"--config", cfg, "--file", broken}, exitUsage, "broken.toml:2"},
		{[]string{"--config", cfg, "--repo", "o", "--commit", "abcdef0", "--summary-file", sum}, exitUsage, `repository "o": want owner/name`},
		{[]string{"--config", cfg, "--repo", "o/r", "--commit", "xyz", "--summary-file", sum}, exitUsage, `commit "xyz"`},
		{[]string{"--config", cfg, "--repo", "o/r", "--commit", "abcdef0", "--summary-file", sum, "--state", "green", "--context", "c"}, exitUsage, `state "green"`},
		{[]string{"--config", cfg, "--repo", "o/r", "--commit", "abcdef0", "--summary-file", sum, "--state", "success"}, exitUsage, "context: required"},
		{[]string{"--config", cfg, "--repo", "o/r", "--commit", "abcdef0", "--summary-file", filepath.Join(dir, "none.md")}, exitUsage, "none.md"},
		{[]string{"--config", cfg, "--repo", "o/r", "--commit", "abcdef0", "--summary-file", sum, "--upload", filepath.Join(dir, "nope")}, exitUsage, "nope"},
		{[]string{"--repo", "o/r", "--commit", "abcdef0", "--summary-file", sum}, exitUsage, "token_file: required"},
		{[]string{"--token-file", filepath.Join(dir, "token"), "--repo", "o/r", "--commit", "abcdef0", "--summary-file", sum, "--upload", sum}, exitUsage, "upload: needs a [store]"},
		{[]string{"--token-file", filepath.Join(dir, "token"), "--repo", "o/r", "--commit", "abcdef0", "--summary-file", sum, "--store", "fs", "--store-dir", dir, "--store-key-file", sum}, exitUsage, "store.url \"\": want the http(s) URL"},
		{[]string{"--token-file", filepath.Join(dir, "token"), "--repo", "o/r", "--commit", "abcdef0", "--summary-file", sum, "--store", "ftp"}, exitUsage, `store.kind "ftp"`},
		{[]string{"--token-file", filepath.Join(dir, "token"), "--repo", "o/r", "--commit", "abcdef0", "--summary-file", sum, "--store", "s3"}, exitUsage, "store.bucket: required for kind s3"},
		{[]string{"--token-file", filepath.Join(dir, "token"), "--repo", "o/r", "--commit", "abcdef0", "--summary-file", sum, "--store", "fs", "--store-dir", dir, "--store-url", "http://x", "--store-key-file", filepath.Join(dir, "token")}, exitConfig, "want at least 16 bytes of key"},
		{[]string{"--token-file", filepath.Join(dir, "token"), "--repo", "o/r", "--commit", "abcdef0", "--summary-file", sum, "--target-url", "javascript:x"}, exitUsage, `target_url "javascript:x"`},
		{[]string{"--token-file", filepath.Join(dir, "none"), "--repo", "o/r", "--commit", "abcdef0", "--summary-file", sum}, exitConfig, "token_file"},
		{[]string{"--file", storeBad}, exitUsage, "store.toml:3: store.colour: unknown key"},
		{[]string{"--config", cfg, "--repo", "o/r", "--commit", "1234567", "--summary-file", sum}, exitOK, ""},
	} {
		code, out, errOut := captureCLI(t, append([]string{"notify-pr"}, tc.args...)...)
		if code != tc.code || !strings.Contains(out+errOut, tc.want) {
			t.Errorf("%v: exit %d\n%s%s\nwant %d with %q", tc.args, code, out, errOut, tc.code, tc.want)
		}
	}
	if len(prs.Statuses()) != 0 || prs.Calls("create-comment") != 0 {
		t.Fatal("bad input changed something on GitHub")
	}
	// A wrong token is an infrastructure error with GitHub's message.
	os.WriteFile(filepath.Join(dir, "token"), []byte("wrong"), 0o600)
	code, _, errOut := captureCLI(t, "notify-pr", "--config", cfg, "--repo", "o/r", "--commit", "abcdef0", "--summary-file", sum, "--state", "success", "--context", "c")
	if code != exitInfra || !strings.Contains(errOut, "401") {
		t.Fatalf("wrong token: %d %s", code, errOut)
	}
}

func FuzzNotifyPRFile(f *testing.F) {
	f.Add("repo = \"o/r\"\ncommit = \"abc1234\"\nupload = [\"a\", \"b\"]\n")
	f.Add("[x]\ny = 1\n")
	f.Fuzz(func(t *testing.T, s string) {
		in, err := parseNotifyPRFile("f.toml", []byte(s))
		if err == nil {
			in.validate() // must not panic
		}
	})
}

func TestServeArtifactsErrors(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "short.key")
	os.WriteFile(short, []byte("tiny"), 0o600)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{nil, exitUsage, "--dir and --key-file"},
		{[]string{"--dir", dir, "--key-file", filepath.Join(dir, "none")}, exitConfig, "store.key_file"},
		{[]string{"--dir", dir, "--key-file", short}, exitConfig, "at least 16 bytes"},
		{[]string{"--file", filepath.Join(dir, "none.toml")}, exitUsage, "none.toml"},
	} {
		code, out, errOut := captureCLI(t, append([]string{"serve-artifacts"}, tc.args...)...)
		if code != tc.code || !strings.Contains(out+errOut, tc.want) {
			t.Errorf("%v: exit %d\n%s%s\nwant %d with %q", tc.args, code, out, errOut, tc.code, tc.want)
		}
	}
}
