// Command loadtest measures the web UI on loopback: many dashboard clients
// and live log streams while a simulated pipeline updates job states and
// appends log lines. It is bounded in clients, requests and time, and talks
// only to a server it starts itself on 127.0.0.1.
//
//	go run ./coordinator/web/loadtest -clients 200 -streams 50 -requests 25 -duration 20s
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/store"
	"github.com/ironworks-ci/ironworks/coordinator/web"
)

type noActions struct{}

func (noActions) Rebuild(context.Context, int64, string) (int64, error) { return 0, nil }
func (noActions) RebuildFailed(context.Context, string) (int, error)    { return 0, nil }
func (noActions) Cancel(context.Context, int64) error                   { return nil }
func (noActions) Promote(context.Context, string, string) error         { return nil }
func (noActions) Trigger(context.Context, string, string, string) error { return nil }
func (noActions) PullRequest(context.Context, web.PREvent) error        { return nil }
func (noActions) CheckRerun(context.Context, string) error              { return nil }

func main() {
	clients := flag.Int("clients", 200, "concurrent dashboard clients")
	streams := flag.Int("streams", 50, "concurrent live log streams")
	requests := flag.Int("requests", 25, "dashboard requests per client")
	duration := flag.Duration("duration", 20*time.Second, "upper bound on the whole test")
	history := flag.Int("history", 2000, "finished runs seeded before the test")
	flag.Parse()
	if err := run(*clients, *streams, *requests, *duration, *history); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

func run(clients, streams, requests int, limit time.Duration, history int) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	dir, err := os.MkdirTemp("", "ironworks-loadtest")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	st, err := store.Open(ctx, filepath.Join(dir, "ironworks.db"))
	if err != nil {
		return err
	}
	defer st.Close()
	cfg, err := config.Parse("loadtest.toml", []byte("state_dir = \"state\"\nadapters = [\"embedded:merkletree\", \"embedded:rust-fil-proofs\"]\n"), dir)
	if err != nil {
		return err
	}
	logDir := filepath.Join(dir, "logs")
	logPath := func(run int64, job string) string {
		comp, name, _ := strings.Cut(job, ":")
		return filepath.Join(logDir, fmt.Sprint(run), comp, name+".log")
	}
	srv, err := web.New(web.Options{Store: st, Config: cfg, Actions: noActions{}, LogPath: logPath})
	if err != nil {
		return err
	}

	// Seed: history, then one running run with a job per stream.
	revs := map[string]store.Revision{
		"merkletree":      {Repo: "https://github.com/filecoin-project/merkletree", Branch: "master", Rev: strings.Repeat("a", 40)},
		"rust-fil-proofs": {Repo: "https://github.com/filecoin-project/rust-fil-proofs", Branch: "master", Rev: strings.Repeat("b", 40)},
	}
	st.SetTarget(ctx, "merkletree", "master", revs["merkletree"].Rev)
	st.SetTarget(ctx, "rust-fil-proofs", "master", revs["rust-fil-proofs"].Rev)
	cand, err := st.PutCandidate(ctx, revs, "head", 0)
	if err != nil {
		return err
	}
	for i := 0; i < history; i++ {
		r, err := st.CreateRun(ctx, cand.ID, config.Stages[i%3], "stage", "local", []string{"merkletree:build", "rust-fil-proofs:test"}, nil)
		if err != nil {
			return err
		}
		st.Finish(ctx, r.ID, store.VerdictGreen, nil, nil, nil)
	}
	var jobs []string
	for i := 0; i < streams; i++ {
		jobs = append(jobs, fmt.Sprintf("merkletree:job%02d", i))
	}
	live, err := st.CreateRun(ctx, cand.ID, "forge", "stage", "local", jobs, nil)
	if err != nil {
		return err
	}
	st.StartRun(ctx, live.ID)
	for _, j := range jobs {
		os.MkdirAll(filepath.Dir(logPath(live.ID, j)), 0o755)
		st.UpdateJob(ctx, &store.JobResult{RunID: live.ID, Job: j, State: store.JobRunning, StartedAt: time.Now()})
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv.Handler()}
	go hs.Serve(ln)
	defer hs.Close()
	base := "http://" + ln.Addr().String()

	// The pipeline: every 20 ms, a line to every log; every 200 ms a job state write.
	var written atomic.Int64
	simDone := make(chan struct{})
	go func() {
		defer close(simDone)
		files := map[string]*os.File{}
		for _, j := range jobs {
			f, _ := os.OpenFile(logPath(live.ID, j), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
			files[j] = f
			defer f.Close()
		}
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for n := 0; ; n++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			for _, j := range jobs {
				fmt.Fprintf(files[j], "   Compiling crate-%d v0.1.0 (line %d)\n", n, n)
				written.Add(1)
			}
			if n%10 == 0 {
				st.UpdateJob(ctx, &store.JobResult{RunID: live.ID, Job: jobs[n/10%len(jobs)], State: store.JobRunning, StartedAt: time.Now()})
			}
		}
	}()

	// Memory sampler.
	var peakHeap atomic.Uint64
	go func() {
		for ctx.Err() == nil {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peakHeap.Load() {
				peakHeap.Store(m.HeapInuse)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()

	tr := &http.Transport{MaxIdleConnsPerHost: clients + streams, MaxConnsPerHost: 0}
	client := &http.Client{Transport: tr}
	var received atomic.Int64
	var streamWG sync.WaitGroup
	streamCtx, stopStreams := context.WithCancel(ctx)
	for _, j := range jobs {
		streamWG.Add(1)
		go func() {
			defer streamWG.Done()
			req, _ := http.NewRequestWithContext(streamCtx, "GET", fmt.Sprintf("%s/runs/%d/jobs/%s/events", base, live.ID, j), nil)
			resp, err := client.Do(req)
			if err != nil {
				return
			}
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), "data: ") {
					received.Add(1)
				}
			}
		}()
	}

	var mu sync.Mutex
	var lat []time.Duration
	var failures atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, requests)
			for i := 0; i < requests && ctx.Err() == nil; i++ {
				t0 := time.Now()
				req, _ := http.NewRequestWithContext(ctx, "GET", base+"/", nil)
				resp, err := client.Do(req)
				if err != nil {
					failures.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failures.Add(1)
					continue
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	stopStreams()
	streamWG.Wait()
	cancel()
	<-simDone

	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(float64(len(lat))*p))]
	}
	fmt.Printf("dashboard: %d clients x %d requests = %d ok, %d failed in %v (%.0f req/s)\n",
		clients, requests, len(lat), failures.Load(), elapsed.Round(time.Millisecond), float64(len(lat))/elapsed.Seconds())
	fmt.Printf("page time: p50 %v  p90 %v  p99 %v  max %v\n", pct(.50), pct(.90), pct(.99), pct(1))
	fmt.Printf("log streams: %d, lines written %d, lines delivered %d\n", streams, written.Load(), received.Load())
	fmt.Printf("memory: peak heap in use %.1f MiB, peak RSS %s\n", float64(peakHeap.Load())/(1<<20), vmHWM())
	fmt.Printf("history: %d finished runs seeded; GOMAXPROCS %d\n", history, runtime.GOMAXPROCS(0))
	if failures.Load() > 0 {
		return fmt.Errorf("%d dashboard requests failed", failures.Load())
	}
	return nil
}

// vmHWM is the process's peak resident set size (Linux).
func vmHWM() string {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
