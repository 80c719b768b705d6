package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ironworks-ci/ironworks/coordinator/internal/fixture"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// Operator actions do what they say, in serve: a cancelled run stays
// cancelled (no new run of that candidate until the next commit or an
// operator's rebuild), cancelling a finished run is 409, the Rebuild button
// lands on the new run's live log, and the promote menu offers only the
// stages the candidate can reach, never stamp.
func TestStoryCancelStandsRebuildLandsPromoteMenu(t *testing.T) {
	if _, err := os.Stat("/usr/bin/bwrap"); err != nil {
		t.Skip("bubblewrap not installed (.ci/run installs it)")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	tok := filepath.Join(dir, "operator-token")
	os.WriteFile(tok, []byte(storyToken+"\n"), 0o600)
	markers := filepath.Join(dir, "markers")
	job := `[jobs.build]
stage = "forge"
command = 'touch "$MARK/started-$IRONWORKS_RUN_ID"; sleep "$(cat "$MARK/sleep")"'
[jobs.build.env]
MARK = "` + markers + `"
`
	cfg, _ := writeShellProject(t, dir, job, fmt.Sprintf("poll_interval = \"200ms\"\n[web]\noperator_token_file = %q\n", tok))
	os.WriteFile(filepath.Join(markers, "sleep"), []byte("60\n"), 0o644)
	base, _ := startServe(t, bin, dir, cfg)
	st, err := store.Open(context.Background(), filepath.Join(dir, "state", "ironworks.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	stageRuns := func(cand string) []*store.Run {
		t.Helper()
		runs, err := st.Runs(ctx, store.RunFilter{Candidate: cand})
		if err != nil {
			t.Fatal(err)
		}
		return runs
	}
	waitFile := func(p string) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for {
			if _, err := os.Stat(p); err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never appeared", p)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	post := func(path string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest("POST", base+path, nil)
		req.Header.Set("Authorization", "Bearer "+storyToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}

	// The first run starts; the operator cancels it.
	waitFile(filepath.Join(markers, "started-1"))
	first, err := st.Run(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if code, body := post("/api/runs/1/cancel"); code != http.StatusAccepted {
		t.Fatalf("cancel = %d %v", code, body)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, _ := st.Run(ctx, 1)
		if r.State == store.RunCancelled {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run 1 is %s after cancel", r.State)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Ten poll intervals later nothing was queued again.
	time.Sleep(2 * time.Second)
	if runs := stageRuns(first.Candidate); len(runs) != 1 {
		t.Fatalf("after cancel the candidate has %d runs, want the cancelled one only: %+v", len(runs), runs)
	}
	if code, body := post("/api/runs/1/cancel"); code != http.StatusConflict || !strings.Contains(fmt.Sprint(body["error"]), "cancelled already") {
		t.Errorf("cancel of a cancelled run = %d %v, want 409", code, body)
	}

	// In the browser: log in, rebuild the cancelled job from the candidate
	// page, land on the new run's log and see it pass live.
	os.WriteFile(filepath.Join(markers, "sleep"), []byte("3\n"), 0o644)
	bctx := storyBrowser(t)
	err = chromedp.Do(bctx,
		chromedp.Navigate(base+"/login?next="+"/candidates/"+first.Candidate),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), storyToken),
		chromedp.Click(chromedp.CSS("#login")),
		chromedp.WaitVisible(chromedp.CSS(`#run-1 tr[data-job="app:build"] button.rebuild`)),
		chromedp.Click(chromedp.CSS(`#run-1 tr[data-job="app:build"] button.rebuild`)),
		chromedp.WaitVisible(chromedp.CSS("#job-state")),
	)
	if err != nil {
		t.Fatalf("rebuild in the browser: %v", err)
	}
	landed := run1(t, bctx, chromedp.Evaluate[string](`location.pathname`))
	if landed != "/runs/2/jobs/app:build" {
		t.Errorf("rebuild landed on %s, want the new run 2's job page", landed)
	}
	// The live log follows its tail unless the operator unticks it.
	if follow := run1(t, bctx, chromedp.Evaluate[bool](`document.getElementById("follow") !== null && document.getElementById("follow").checked`)); !follow {
		t.Errorf("the running job's page has no ticked follow toggle")
	}
	if err := chromedp.Do(bctx, chromedp.WaitVisible(chromedp.CSS("#job-state.st-green"))); err != nil {
		t.Fatalf("the rebuilt job never showed success live: %v", err)
	}
	rebuilt, err := st.Run(ctx, 2)
	if err != nil || rebuilt.Kind != "rebuild" || rebuilt.Candidate != first.Candidate {
		t.Fatalf("run 2 = %+v %v, want the rebuild of run 1's candidate", rebuilt, err)
	}
	for _, r := range stageRuns(first.Candidate) {
		if r.ID > 2 {
			t.Errorf("run %d (%s) of the cancelled candidate appeared without an operator asking", r.ID, r.Kind)
		}
	}

	// The API's rebuild answers with the new run and where to look.
	code, body := post("/api/runs/2/jobs/app:build/rebuild")
	if code != http.StatusAccepted || body["run_id"] == float64(2) || body["rebuild_of"] != float64(2) || !strings.HasPrefix(fmt.Sprint(body["url"]), "/runs/") {
		t.Errorf("API rebuild = %d %v, want 202 with a new run_id", code, body)
	}
	newRun := int64(body["run_id"].(float64))
	waitFile(filepath.Join(markers, fmt.Sprintf("started-%d", newRun)))
	// While it runs, the previous run's duration is its estimate.
	resp, err := http.Get(fmt.Sprintf("%s/api/runs/%d", base, newRun))
	if err != nil {
		t.Fatal(err)
	}
	var rv struct {
		Jobs []struct {
			State    string `json:"state"`
			Estimate string `json:"estimate"`
		} `json:"job_results"`
	}
	json.NewDecoder(resp.Body).Decode(&rv)
	resp.Body.Close()
	if len(rv.Jobs) != 1 || rv.Jobs[0].State != store.JobRunning || !strings.HasPrefix(rv.Jobs[0].Estimate, "~3s") {
		t.Errorf("running rebuild's job = %+v, want running with the previous run's ~3s as estimate", rv.Jobs)
	}
	// The candidate page, opened while the run runs, shows it finish by itself.
	if err := chromedp.Do(bctx, chromedp.Navigate(base+"/candidates/"+first.Candidate), chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf("#run-%d", newRun)))); err != nil {
		t.Fatal(err)
	}
	if v := run1(t, bctx, chromedp.Evaluate[string](fmt.Sprintf(`document.getElementById("run-%d").dataset.verdict`, newRun))); v != "" {
		t.Logf("run %d had finished (%s) before the page opened: the live update is not shown", newRun, v)
	}
	if err := chromedp.Do(bctx, chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#run-%d[data-verdict="green"]`, newRun)))); err != nil {
		t.Fatalf("the candidate page never showed run %d green without a reload: %v", newRun, err)
	}

	// Promote menu: only reachable stages, the next one selected.
	cv := struct {
		Stages []struct {
			Name      string `json:"name"`
			Promotion any    `json:"promotion"`
		} `json:"stages"`
		PromoteTo   []string `json:"promote_to"`
		PromoteNext string   `json:"promote_next"`
	}{}
	deadline = time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/api/candidates/" + first.Candidate)
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(resp.Body).Decode(&cv)
		resp.Body.Close()
		if cv.PromoteNext == "harden" || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if cv.PromoteNext != "harden" {
		t.Fatalf("promote_next = %q after forge passed by the rebuild, want harden (%+v)", cv.PromoteNext, cv)
	}
	if err := chromedp.Do(bctx, chromedp.Navigate(base+"/candidates/"+first.Candidate), chromedp.WaitVisible(chromedp.CSS("#promote-stage"))); err != nil {
		t.Fatal(err)
	}
	options := run1(t, bctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#promote-stage option")).map(o => o.value)`))
	selected := run1(t, bctx, chromedp.Evaluate[string](`document.querySelector("#promote-stage").value`))
	if strings.Join(options, ",") != "spark,harden" || selected != "harden" {
		t.Errorf("promote menu offers %v with %q selected, want spark,harden with harden", options, selected)
	}

	// API filters are checked and echoed with the API's own names.
	for q, want := range map[string]int{"stage=nope": 400, "verdict=purple": 400, "state=later": 400, "component=nope": 400, "stage=forge&verdict=cancelled": 200} {
		resp, err := http.Get(base + "/api/history?" + q)
		if err != nil {
			t.Fatal(err)
		}
		var h struct {
			Error  string         `json:"error"`
			Filter map[string]any `json:"filter"`
			Runs   []struct {
				ID int64 `json:"id"`
			} `json:"runs"`
		}
		json.NewDecoder(resp.Body).Decode(&h)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("/api/history?%s = %d (%s), want %d", q, resp.StatusCode, h.Error, want)
		}
		if want == 400 && !strings.Contains(h.Error, "want one of") {
			t.Errorf("/api/history?%s error %q does not say what is allowed", q, h.Error)
		}
		if want == 200 && (h.Filter["stage"] != "forge" || h.Filter["verdict"] != "cancelled" || len(h.Runs) != 1 || h.Runs[0].ID != 1) {
			t.Errorf("/api/history?%s = filter %v runs %v, want the filter echoed and run 1", q, h.Filter, h.Runs)
		}
	}

	// A finished run's cancel is 409, and a new commit is a new candidate
	// that the scheduler queues by itself.
	if code, _ := post("/api/runs/2/cancel"); code != http.StatusConflict {
		t.Errorf("cancel of finished run 2 = %d, want 409", code)
	}
	fixture.Open(t, filepath.Join(dir, "src", "app")).Commit("second", map[string]string{"README": "again\n"})
	deadline = time.Now().Add(30 * time.Second)
	for {
		runs, err := st.Runs(ctx, store.RunFilter{Kind: "stage"})
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) > 0 && runs[0].Candidate != first.Candidate {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the next commit was never queued")
		}
		time.Sleep(100 * time.Millisecond)
	}

	// A rebuild of the older candidate's job, newer than the head's run,
	// does not become the branch's state on the dashboard.
	if code, body := post("/api/runs/2/jobs/app:build/rebuild"); code != http.StatusAccepted {
		t.Fatalf("rebuild of the old candidate = %d %v", code, body)
	}
	time.Sleep(time.Second)
	resp, err = http.Get(base + "/api/dashboard")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Rows []struct {
			Cells []struct {
				Stage, Candidate string
			} `json:"cells"`
		} `json:"rows"`
	}
	json.NewDecoder(resp.Body).Decode(&d)
	resp.Body.Close()
	if len(d.Rows) != 1 || d.Rows[0].Cells[1].Stage != "forge" || d.Rows[0].Cells[1].Candidate == first.Candidate || d.Rows[0].Cells[1].Candidate == "" {
		t.Errorf("dashboard forge cell = %+v, want the new head's candidate, not the rebuilt old one", d.Rows)
	}
}
