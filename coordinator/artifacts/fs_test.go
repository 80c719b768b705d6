package artifacts

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCheckKey(t *testing.T) {
	for _, ok := range []string{"runs/12/merkletree:test.log", "a", "logs/with space.txt"} {
		if err := CheckKey(ok); err != nil {
			t.Errorf("CheckKey(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "/abs", "a/../b", "..", "./a", "a//b", "a/", `a\b`, "a\nb", metaDir + "/x", strings.Repeat("a", 1025)} {
		if err := CheckKey(bad); err == nil {
			t.Errorf("CheckKey(%q) accepted", bad)
		}
	}
}

func FuzzCheckKey(f *testing.F) {
	for _, s := range []string{"runs/1/a.log", "../x", "a/./b", "a\x00b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if CheckKey(key) != nil {
			return
		}
		clean := filepath.ToSlash(filepath.Clean(filepath.FromSlash(key)))
		if clean != key || strings.HasPrefix(clean, "../") || filepath.IsAbs(key) {
			t.Fatalf("accepted %q (cleans to %q)", key, clean)
		}
	})
}

func newFS(t *testing.T) (*FS, *time.Time) {
	t.Helper()
	f, err := NewFS(t.TempDir(), 14, "https://ci.example.org/", []byte("link-signing-key"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	f.Now = func() time.Time { return now }
	return f, &now
}

func TestFSPutOpenExpire(t *testing.T) {
	f, now := newFS(t)
	ctx := context.Background()
	if err := f.Put(ctx, "runs/1/build.log", strings.NewReader("built\n")); err != nil {
		t.Fatal(err)
	}
	if err := f.PutWith(ctx, "runs/1/keep.log", strings.NewReader("kept\n"), PutOptions{RetentionDays: 90}); err != nil {
		t.Fatal(err)
	}
	r, err := f.Open(ctx, "runs/1/build.log")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	r.Close()
	if string(b) != "built\n" {
		t.Fatalf("read %q", b)
	}
	if _, err := f.Open(ctx, "runs/1/missing.log"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
	if err := f.Put(ctx, "../escape", strings.NewReader("x")); err == nil {
		t.Fatal("escaping key accepted")
	}
	if n, err := f.Expire(ctx); err != nil || n != 0 {
		t.Fatalf("early expire removed %d, %v", n, err)
	}
	*now = now.Add(15 * 24 * time.Hour)
	if n, err := f.Expire(ctx); err != nil || n != 1 {
		t.Fatalf("expire removed %d, %v; want 1", n, err)
	}
	if _, err := f.Open(ctx, "runs/1/build.log"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("expired object still there: %v", err)
	}
	if _, err := f.Open(ctx, "runs/1/keep.log"); err != nil {
		t.Fatalf("object with 90-day retention gone: %v", err)
	}
}

func TestFSSignedLinks(t *testing.T) {
	f, now := newFS(t)
	ctx := context.Background()
	f.Put(ctx, "runs/2/test log.txt", strings.NewReader("ok\n"))
	srv := httptest.NewServer(f.Handler())
	defer srv.Close()
	u, err := f.URL(ctx, "runs/2/test log.txt", time.Hour)
	if err != nil || !strings.HasPrefix(u, "https://ci.example.org/artifacts/runs/2/test%20log.txt?") {
		t.Fatalf("URL = %q, %v", u, err)
	}
	local := srv.URL + strings.TrimPrefix(u, "https://ci.example.org")
	get := func(u string) (int, string) {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(local); code != 200 || body != "ok\n" {
		t.Fatalf("signed GET: %d %q", code, body)
	}
	if code, _ := get(strings.Split(local, "?")[0]); code != 403 {
		t.Fatalf("unsigned GET: %d", code)
	}
	if code, _ := get(strings.Replace(local, "sig=", "sig=0", 1)); code != 403 {
		t.Fatalf("tampered GET: %d", code)
	}
	*now = now.Add(2 * time.Hour)
	if code, body := get(local); code != 403 || !strings.Contains(body, "expired") {
		t.Fatalf("expired link: %d %q", code, body)
	}
	plain, _ := NewFS(t.TempDir(), 0, "", nil)
	if u, _ := plain.URL(ctx, "a/b.log", time.Hour); !strings.HasPrefix(u, "file:///") {
		t.Fatalf("without a base URL: %q", u)
	}
}

func TestUploadDir(t *testing.T) {
	f, _ := newFS(t)
	dir := t.TempDir()
	for name, body := range map[string]string{"build.log": "b", "test/unit.log": "u", "test/deep/x.log": "x"} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(body), 0o644)
	}
	outside := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(outside, []byte("secret"), 0o600)
	os.Symlink(outside, filepath.Join(dir, "link.log"))
	keys, err := UploadDir(context.Background(), f, "runs/3", dir, 2, PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := "runs/3/build.log runs/3/test/deep/x.log runs/3/test/unit.log"
	if strings.Join(keys, " ") != want {
		t.Fatalf("keys %v; want %s", keys, want)
	}
	r, err := f.Open(context.Background(), "runs/3/test/deep/x.log")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	r.Close()
	if string(b) != "x" {
		t.Fatalf("content %q", b)
	}
	if _, err := UploadDir(context.Background(), f, "runs/4", filepath.Join(dir, "missing"), 2, PutOptions{}); err == nil {
		t.Fatal("missing folder accepted")
	}
}

func TestRunExpiry(t *testing.T) {
	f, now := newFS(t)
	ctx, cancel := context.WithCancel(context.Background())
	f.Put(ctx, "runs/9/old.log", strings.NewReader("old"))
	*now = now.Add(30 * 24 * time.Hour)
	logs := make(chan string, 10)
	go RunExpiry(ctx, f, time.Millisecond, func(format string, a ...any) { logs <- format })
	select {
	case msg := <-logs:
		if !strings.Contains(msg, "removed") {
			t.Fatalf("log %q", msg)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sweep never ran")
	}
	cancel()
	if _, err := f.Open(context.Background(), "runs/9/old.log"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("expired object kept: %v", err)
	}
}
