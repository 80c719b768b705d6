package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// startServe starts the built coordinator's serve on a free port and returns
// its base URL and process.
func startServe(t *testing.T, bin, dir, cfg string) (string, *exec.Cmd) {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--config", cfg, "--listen", "127.0.0.1:0")
	cmd.Dir = dir
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	})
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
			go io.Copy(io.Discard, stdout)
			return u, cmd
		}
	}
	t.Fatal("serve never said where it listens")
	return "", nil
}

// peakRSS is the high-water mark of a process's resident memory.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

// 30 concurrent 25 MB webhook bodies with a well-formed but wrong signature,
// 30 unsigned ones and 8 concurrent views of a job whose log is one 64 MiB
// line keep serve's peak memory under a bound (docs/performance.md); a
// login flood is answered 429 and `next` cannot leave the site.
func TestServeBoundsUnauthenticatedRequests(t *testing.T) {
	if testing.Short() {
		t.Skip("moves about 1.5 GB over loopback")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	secrets := filepath.Join(dir, "secrets")
	os.MkdirAll(secrets, 0o700)
	os.WriteFile(filepath.Join(secrets, "webhook"), []byte("whsec-0123456789\n"), 0o600)
	os.WriteFile(filepath.Join(secrets, "operator"), []byte("operator-0123456789\n"), 0o600)
	cfg, _ := writeShellProject(t, dir, `[jobs.big]
stage = "forge"
output_limit = "80MiB"
command = "head -c 67108864 /dev/zero | tr '\\0' 'a'"
`, fmt.Sprintf("poll_interval = \"300ms\"\n[github]\nwebhook_secret_file = %q\n[web]\noperator_token_file = %q\n",
		filepath.Join(secrets, "webhook"), filepath.Join(secrets, "operator")))
	// The big log is made by a real run first, so serve only reads it.
	if code := realMain([]string{"run", "--once", "--config", cfg}, io.Discard); code != exitOK {
		t.Fatalf("run --once = %d", code)
	}
	base, serve := startServe(t, bin, dir, cfg)
	idle := peakRSS(t, serve.Process.Pid)

	body := bytes.Repeat([]byte("x"), 25<<20)
	var wg sync.WaitGroup
	codes := make(chan int, 100)
	for i := range 60 {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, base+"/webhooks/github", bytes.NewReader(body))
			req.Header.Set("X-GitHub-Event", "push")
			if i%2 == 0 {
				req.Header.Set("X-Hub-Signature-256", "sha256="+strings.Repeat("ab", 32))
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				codes <- 0 // the server may close an unread upload early
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes <- resp.StatusCode
		}(i)
	}
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get(base + "/runs/1/jobs/app:big")
			if err != nil {
				t.Error(err)
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "more bytes of this line not shown") {
				t.Errorf("job page: %d, %d bytes, no cut note", resp.StatusCode, len(b))
			}
			if len(b) > 1<<20 {
				t.Errorf("job page of a 64 MiB line is %d bytes", len(b))
			}
		}()
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 0 && c != http.StatusUnauthorized {
			t.Errorf("webhook answered %d, want 401", c)
		}
	}
	peak := peakRSS(t, serve.Process.Pid)
	t.Logf("serve peak RSS: idle %d MiB, under load %d MiB", idle>>20, peak>>20)
	// 2 bodies of 25 MiB read at once, twice that before the GC returns them.
	if peak > 200<<20 {
		t.Errorf("serve peak RSS %d MiB, want under 200 MiB", peak>>20)
	}

	// A login flood: after 5 failures the client waits, even with the right token.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	login := func(token, next string) *http.Response {
		resp, err := noRedirect.PostForm(base+"/login", url.Values{"token": {token}, "next": {next}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := login("operator-0123456789", "/\t/evil.example"); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Errorf("next with a tab: %d to %q, want 303 to /", resp.StatusCode, resp.Header.Get("Location"))
	}
	for i := range 5 {
		if resp := login("wrong", "/"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failed login %d: %d", i+1, resp.StatusCode)
		}
	}
	resp := login("operator-0123456789", "/history")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("login after 5 failures: %d (Retry-After %q), want 429", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/api/runs/1/cancel", nil)
	req.Header.Set("Authorization", "Bearer operator-0123456789")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("bearer from a blocked client: %v %v, want 429", resp.StatusCode, err)
	}
}
