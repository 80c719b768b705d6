package artifacts

import (
	"context"
	"errors"
	"fmt"
	"go/build"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/charmbracelet/log"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// minioBinary finds the MinIO server: $IRONWORKS_MINIO, then PATH, then
// $GOPATH/bin where `go install github.com/minio/minio@...` puts it.
func minioBinary() string {
	if p := os.Getenv("IRONWORKS_MINIO"); p != "" {
		return p
	}
	if p, err := exec.LookPath("minio"); err == nil {
		return p
	}
	p := filepath.Join(build.Default.GOPATH, "bin", "minio")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ""
}

const (
	minioUser = "ironworks-test"
	minioPass = "ironworks-test-secret"
)

// startMinIO runs a real MinIO server on loopback with a temporary folder
// and returns its endpoint (host:port).
func startMinIO(tb testing.TB) string {
	tb.Helper()
	bin := minioBinary()
	if bin == "" {
		if os.Getenv("CI") != "" {
			tb.Fatal("minio not found, and CI must run the MinIO tests (.ci/install-minio.sh)")
		}
		tb.Skip("minio not found: set $IRONWORKS_MINIO or run `go install github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c` (CI does)")
	}
	port := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		defer l.Close()
		return l.Addr().String()
	}
	addr, console := port(), port()
	cmd := exec.Command(bin, "server", "--quiet", "--address", addr, "--console-address", console, tb.TempDir())
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+minioUser, "MINIO_ROOT_PASSWORD="+minioPass,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off", "MINIO_CI_CD=on")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start minio: %v", err)
	}
	tb.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	c, err := minio.New(addr, &minio.Options{Creds: credentials.NewStaticV4(minioUser, minioPass, "")})
	if err != nil {
		tb.Fatal(err)
	}
	// Ready when the S3 API answers, not merely the health endpoint.
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := c.ListBuckets(ctx)
		cancel()
		if err == nil {
			return addr
		}
		if time.Now().After(deadline) {
			tb.Fatalf("minio did not become ready at %s: %v\n%s", addr, err, out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func newS3(tb testing.TB, endpoint, bucket string) *S3 {
	tb.Helper()
	s, err := NewS3(context.Background(), S3Config{Endpoint: "http://" + endpoint, Bucket: bucket, AccessKey: minioUser, SecretKey: minioPass, RetentionDays: 7})
	if err != nil {
		tb.Fatal(err)
	}
	s.Log = log.New(io.Discard)
	return s
}

func httpGet(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestMinIOEndToEnd(t *testing.T) {
	endpoint := startMinIO(t)
	ctx := context.Background()
	s := newS3(t, endpoint, "ironworks-logs")
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	s.Now = func() time.Time { return now }

	dir := t.TempDir()
	files := map[string]string{"build.log": "compiling merkletree\n", "test/unit.log": "test result: ok\n", "test/big/proofs.log": strings.Repeat("proof ok\n", 100000)}
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(body), 0o644)
	}
	keys, err := UploadDir(ctx, s, "runs/7", dir, 3, PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 3 {
		t.Fatalf("keys %v", keys)
	}
	if err := s.PutWith(ctx, "runs/7/keep.log", strings.NewReader("kept"), PutOptions{RetentionDays: 30}); err != nil {
		t.Fatal(err)
	}

	// Presigned links work; the bucket is private.
	u, err := s.URL(ctx, "runs/7/test/unit.log", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if code, body := httpGet(t, u); code != 200 || body != files["test/unit.log"] {
		t.Fatalf("presigned GET: %d %q", code, body)
	}
	if code, _ := httpGet(t, "http://"+endpoint+"/ironworks-logs/runs/7/test/unit.log"); code != http.StatusForbidden {
		t.Fatalf("unsigned GET: %d, want 403", code)
	}
	r, err := s.Open(ctx, "runs/7/test/big/proofs.log")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	r.Close()
	if string(b) != files["test/big/proofs.log"] {
		t.Fatalf("read back %d bytes", len(b))
	}
	if _, err := s.Open(ctx, "runs/7/none.log"); err == nil || !isNotFound(err) {
		t.Fatalf("missing object: %v", err)
	}

	// One lifecycle rule per retention, written once and never rewritten.
	lc, err := s.Client().GetBucketLifecycle(ctx, "ironworks-logs")
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, r := range lc.Rules {
		ids[r.ID] = true
	}
	if len(lc.Rules) != 2 || !ids["ironworks-expire-7d"] || !ids["ironworks-expire-30d"] {
		t.Fatalf("lifecycle rules %+v", lc.Rules)
	}
	tags, err := s.Client().GetObjectTagging(ctx, "ironworks-logs", "runs/7/build.log", minio.GetObjectTaggingOptions{})
	if err != nil || tags.ToMap()[retentionTag] != "7d" {
		t.Fatalf("object tags %v, %v", tags, err)
	}
	// A second process finds the rules and leaves the configuration alone:
	// an operator's own rule added meanwhile survives.
	lc.Rules[0].Expiration.Days = 99
	lc.Rules[0].ID = "operator-rule"
	lc.Rules[0].RuleFilter.Tag.Value = "operator"
	lc.Rules = append(lc.Rules[:1], lc.Rules[1:]...)
	full, _ := s.Client().GetBucketLifecycle(ctx, "ironworks-logs")
	full.Rules = append(full.Rules, lc.Rules[0])
	if err := s.Client().SetBucketLifecycle(ctx, "ironworks-logs", full); err != nil {
		t.Fatal(err)
	}
	s2 := newS3(t, endpoint, "ironworks-logs")
	if err := s2.Put(ctx, "runs/8/a.log", strings.NewReader("a")); err != nil {
		t.Fatal(err)
	}
	after, _ := s.Client().GetBucketLifecycle(ctx, "ironworks-logs")
	if len(after.Rules) != 3 {
		t.Fatalf("rules after a second process: %+v", after.Rules)
	}

	// The sweep removes what expired, and only that.
	if n, err := s.Expire(ctx); err != nil || n != 0 {
		t.Fatalf("early sweep removed %d, %v", n, err)
	}
	now = now.Add(8 * 24 * time.Hour)
	n, err := s.Expire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Fatalf("sweep removed %d objects, want the 3 uploaded with 7 days", n)
	}
	for _, k := range keys {
		if _, err := s.Open(ctx, k); !isNotFound(err) {
			t.Errorf("%s still there after expiry: %v", k, err)
		}
	}
	if _, err := s.Open(ctx, "runs/7/keep.log"); err != nil {
		t.Errorf("30-day object gone: %v", err)
	}
	if code, _ := httpGet(t, u); code != http.StatusNotFound {
		t.Errorf("presigned link to an expired object: %d", code)
	}
}

func TestS3Errors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	if _, err := NewS3(ctx, S3Config{Endpoint: "http://" + addr, Bucket: "b", AccessKey: "a", SecretKey: "s"}); err == nil || !strings.Contains(err.Error(), "bucket b") {
		t.Fatalf("unreachable endpoint: %v", err)
	}
	endpoint := startMinIO(t)
	if _, err := NewS3(ctx, S3Config{Endpoint: "http://" + endpoint, Bucket: "b", AccessKey: minioUser, SecretKey: "wrong"}); err == nil {
		t.Fatal("wrong secret accepted")
	}
}

// BenchmarkUpload streams generated logs of 256 MiB and 1 GiB to MinIO and
// reports the peak Go heap in use while uploading: it must not grow with the
// size. Run:
//
//	go test ./coordinator/artifacts -run '^$' -bench Upload -benchtime 1x
func BenchmarkUpload(b *testing.B) {
	endpoint := startMinIO(b)
	s := newS3(b, endpoint, "bench")
	for _, size := range []int64{256 << 20, 1 << 30} {
		b.Run(fmt.Sprintf("%dMiB", size>>20), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				runtime.GC()
				var peak atomic.Uint64
				stop := make(chan struct{})
				done := make(chan struct{})
				go func() {
					defer close(done)
					t := time.NewTicker(5 * time.Millisecond)
					defer t.Stop()
					var ms runtime.MemStats
					for {
						select {
						case <-stop:
							return
						case <-t.C:
							runtime.ReadMemStats(&ms)
							if ms.HeapInuse > peak.Load() {
								peak.Store(ms.HeapInuse)
							}
						}
					}
				}()
				b.SetBytes(size)
				if err := s.Put(context.Background(), fmt.Sprintf("big/%d-%d.log", size, i), io.LimitReader(logLines{}, size)); err != nil {
					b.Fatal(err)
				}
				close(stop)
				<-done
				b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
			}
		})
	}
}

// logLines is an endless log.
type logLines struct{}

func (logLines) Read(p []byte) (int, error) {
	const line = "test merkle::proof::verify_large_tree ... ok\n"
	for i := range p {
		p[i] = line[i%len(line)]
	}
	return len(p), nil
}

func isNotFound(err error) bool { return errors.Is(err, fs.ErrNotExist) }
