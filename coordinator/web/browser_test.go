package web

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// chromium finds Debian's headless-capable Chromium; browser tests skip only
// when it is not installed (CI installs it).
func chromium(t *testing.T) string {
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed, and CI must run the browser tests")
	}
	t.Skip("chromium is not installed (apt-get install -y chromium)")
	return ""
}

func browser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 760),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() { cancelT(); cancelC(); cancelA() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

func TestBrowserDashboardShowsRunningPipeline(t *testing.T) {
	e := newEnv(t, nil)
	e.seed()
	ctx := browser(t)
	forge := chromedp.CSS(`tr[data-target="merkletree/master"] td[data-stage="forge"]`)
	if err := chromedp.Do(ctx, chromedp.Navigate(e.http.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#grid"))); err != nil {
		t.Fatal(err)
	}
	grid := run(t, ctx, chromedp.Text(chromedp.CSS("#grid")))
	forgeStatus := run(t, ctx, chromedp.AttributeValue(forge, "data-status")).Value
	forgeClass := run(t, ctx, chromedp.AttributeValue(forge, "class")).Value
	sparkText := run(t, ctx, chromedp.Text(chromedp.CSS(`tr[data-target="rust-fil-proofs/master"] td[data-stage="spark"]`)))
	shot := run(t, ctx, chromedp.FullScreenshot(100))
	if forgeStatus != "running" || !strings.Contains(forgeClass, "st-running") {
		t.Errorf("merkletree forge cell: status %q class %q, want running", forgeStatus, forgeClass)
	}
	for _, want := range []string{"running", "1/3 jobs", "queued", short(e.headMT)} {
		if !strings.Contains(grid, want) {
			t.Errorf("grid text lacks %q:\n%s", want, grid)
		}
	}
	if !strings.Contains(sparkText, "failed") {
		t.Errorf("rust-fil-proofs spark cell = %q, want failed", sparkText)
	}
	dst := filepath.Join(t.TempDir(), "dashboard.png")
	if os.Getenv("IRONWORKS_SCREENSHOT") == "1" {
		dst = filepath.Join("..", "..", "docs", "screenshots", "dashboard.png")
	}
	if err := os.WriteFile(dst, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	if len(shot) < 10000 {
		t.Errorf("screenshot is only %d bytes", len(shot))
	}

	// The dashboard follows the pipeline without a reload.
	ctxb := context.Background()
	if err := e.st.UpdateJob(ctxb, &store.JobResult{RunID: e.run.ID, Job: "merkletree:test", State: store.JobSuccess, StartedAt: time.Now().Add(-time.Minute), FinishedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.Finish(ctxb, e.run.ID, store.VerdictGreen, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`tr[data-target="merkletree/master"] td[data-stage="forge"][data-status="green"]`))); err != nil {
		t.Fatalf("dashboard did not turn green: %v", err)
	}
}

func TestBrowserLogStreamsLive(t *testing.T) {
	e := newEnv(t, nil)
	e.seed()
	ctx := browser(t)
	page := fmt.Sprintf("%s/runs/%d/jobs/merkletree:test#L2", e.http.URL, e.run.ID)
	if err := chromedp.Do(ctx, chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS("#L2"))); err != nil {
		t.Fatal(err)
	}
	before := run(t, ctx, chromedp.Text(chromedp.CSS("#log")))
	if strings.Contains(before, "mmap") {
		t.Fatal("line present before it was written")
	}
	e.writeLog(e.run.ID, "merkletree:test", "test store::tests::mmap ... ok\n")
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("#L3"))); err != nil {
		t.Fatalf("appended line did not appear: %v", err)
	}
	line := run(t, ctx, chromedp.Text(chromedp.CSS("#L3")))
	href := run(t, ctx, chromedp.AttributeValue(chromedp.CSS("#L3 a"), "href")).Value
	if !strings.Contains(line, "test store::tests::mmap ... ok") || href != "#L3" {
		t.Errorf("live line = %q (href %q)", line, href)
	}
	if err := e.st.UpdateJob(context.Background(), &store.JobResult{RunID: e.run.ID, Job: "merkletree:test", State: store.JobSuccess, FinishedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`#job-state.st-green`))); err != nil {
		t.Fatalf("job state did not turn green: %v", err)
	}
	if status := run(t, ctx, chromedp.Text(chromedp.CSS("#stream-status"))); !strings.Contains(status, "finished: success") {
		t.Errorf("end of stream: %q", status)
	}
}

func TestBrowserRebuildOnlyForOperator(t *testing.T) {
	e := newEnv(t, nil)
	e.seed()
	ctx := browser(t)
	page := fmt.Sprintf("%s/runs/%d/jobs/merkletree:build", e.http.URL, e.run.ID)
	if err := chromedp.Do(ctx, chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS("#log"))); err != nil {
		t.Fatal(err)
	}
	if n := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("button.rebuild").length`)); n != 0 {
		t.Errorf("anonymous visitor sees %d rebuild buttons", n)
	}
	// A hand-made POST from the anonymous page is refused.
	code := run(t, ctx, chromedp.Evaluate[int](fmt.Sprintf(`fetch("/runs/%d/jobs/merkletree:build/rebuild", {method: "POST"}).then(r => r.status)`, e.run.ID), chromedp.EvalAwaitPromise))
	if code != 403 {
		t.Errorf("anonymous POST = %d, want 403", code)
	}
	if n := len(e.acts.calls("Rebuild")); n != 0 {
		t.Fatalf("anonymous rebuild reached Actions")
	}

	err := chromedp.Do(ctx,
		chromedp.Navigate(e.http.URL+"/login?next="+fmt.Sprintf("/runs/%d/jobs/merkletree:build", e.run.ID)),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), testToken),
		chromedp.Click(chromedp.CSS("#login")),
		chromedp.WaitVisible(chromedp.CSS("#rebuild")),
		chromedp.Click(chromedp.CSS("#rebuild")),
		chromedp.WaitVisible(chromedp.CSS(`#job-state.st-waiting`)),
	)
	if err != nil {
		t.Fatalf("operator rebuild: %v", err)
	}
	if n := len(e.acts.calls("Rebuild")); n != 1 {
		t.Errorf("Rebuild called %d times, want 1", n)
	}
	jr, _ := e.st.JobResult(context.Background(), e.run.ID, "merkletree:build")
	if jr.State != store.JobPending || jr.Attempt != 2 {
		t.Errorf("job after rebuild = %s attempt %d, want pending attempt 2", jr.State, jr.Attempt)
	}
}

// run runs one browser action and returns its result, failing the test on error.
func run[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
