package hydraengine_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	hydraengine "github.com/ironworks-ci/ironworks/coordinator/engine/hydra"
	"github.com/ironworks-ci/ironworks/coordinator/engine/hydra/hydraenginetest"
	"github.com/ironworks-ci/ironworks/coordinator/hydra"
)

func actions(ch []hydraengine.SyncChange) []string {
	var out []string
	for _, c := range ch {
		out = append(out, c.Object+"="+c.Action)
	}
	return out
}

func TestSyncJobsetsCreatesThenChangesNothing(t *testing.T) {
	r := hydraenginetest.New(t)
	e := r.Engine(t, hydraengine.Options{Jobsets: map[string]string{"forge": "staging"}})
	ctx := context.Background()
	ch, err := e.SyncJobsets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"project ironworks=created", "jobset ironworks:spark=created", "jobset ironworks:staging=created", "jobset ironworks:harden=created", "jobset ironworks:temper=created"}
	if got := actions(ch); !slices.Equal(got, want) {
		t.Fatalf("first sync %v, want %v", got, want)
	}
	// A new project has no jobsets: they are written without being read.
	for ep, n := range map[string]int{"POST /login": 1, "GET /project/{p}": 1, "PUT /project/{p}": 1, "PUT /jobset/{p}/{j}": 4, "GET /jobset/{p}/{j}": 0} {
		if got := r.Hydra.Count(ep); got != n {
			t.Errorf("first sync: %s %d times, want %d", ep, got, n)
		}
	}
	f := r.Hydra.JobsetFields("ironworks", "staging")
	if f["flake"] != "github:"+r.LockRepo+"?ref=forge-lock" || f["checkinterval"] != 0 || f["visible"] != true || f["enableemail"] != false || f["type"] != 1 || f["enabled"] != 1 || f["keepnr"] != 10 ||
		!strings.Contains(f["description"].(string), "gate forge.gate.x86_64-linux") {
		t.Errorf("staging jobset %v", f)
	}

	r.Hydra.ResetCounts()
	ch, err = e.SyncJobsets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range ch {
		if c.Action != "unchanged" {
			t.Errorf("second sync: %s", c)
		}
	}
	for ep, n := range map[string]int{"POST /login": 1, "GET /project/{p}": 1, "PUT /project/{p}": 0, "PUT /jobset/{p}/{j}": 0, "GET /jobset/{p}/{j}": 4} {
		if got := r.Hydra.Count(ep); got != n {
			t.Errorf("second sync: %s %d times, want %d", ep, got, n)
		}
	}
	if r.Hydra.Total() != 6 {
		t.Errorf("second sync: %d requests (%v), want 6", r.Hydra.Total(), r.Hydra.Counts())
	}
}

// An existing jobset that differs is rewritten (and said how); a pending
// push survives a sync that has nothing to change for its jobset.
func TestSyncJobsetsUpdatesWhatDiffers(t *testing.T) {
	r := hydraenginetest.New(t)
	r.AddStage("forge", "forge", forgeJobs()) // keepnr 3, no description
	r.AddStage("spark", "spark", nil)
	e := r.Engine(t, hydraengine.Options{})
	ctx := context.Background()
	if _, err := e.SyncJobsets(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Client.Push(ctx, false, "ironworks:forge"); err != nil {
		t.Fatal(err)
	}
	r.Hydra.ResetCounts()
	ch, err := e.SyncJobsets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.Hydra.Count("PUT /jobset/{p}/{j}") != 0 {
		t.Fatalf("second sync wrote jobsets: %v", ch)
	}
	if js, _ := r.Client.Jobset(ctx, "ironworks", "forge"); !js.TriggerTime.Valid {
		t.Error("the pending push was dropped by a sync with nothing to change")
	}

	r2 := hydraenginetest.New(t)
	r2.AddStage("forge", "forge", forgeJobs())
	ch, err = r2.Engine(t, hydraengine.Options{}).SyncJobsets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var forge hydraengine.SyncChange
	for _, c := range ch {
		if c.Object == "jobset ironworks:forge" {
			forge = c
		}
	}
	d := strings.Join(forge.Diff, "; ")
	if forge.Action != "updated" || !strings.Contains(d, "keepnr: 3 -> 10") || !strings.Contains(d, "description:") {
		t.Fatalf("forge %s", forge)
	}
	if ch[0].Action != "updated" || !strings.Contains(ch[0].String(), "displayname") {
		t.Errorf("project %s", ch[0])
	}
}

func TestSyncJobsetsDeclarativeProjectIsOnlyCompared(t *testing.T) {
	r := hydraenginetest.New(t)
	e := r.Engine(t, hydraengine.Options{})
	ctx := context.Background()
	if _, err := e.SyncJobsets(ctx); err != nil {
		t.Fatal(err)
	}
	r.Hydra.SetDeclarative("ironworks")
	r.Hydra.ResetCounts()
	ch, err := e.SyncJobsets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ch) != 4 || ch[0].Action != "matches" {
		t.Fatalf("declarative, equal: %v", ch)
	}
	r.Hydra.AddJobset("ironworks", "harden", "github:"+r.LockRepo+"/harden-lock")
	_, err = e.SyncJobsets(ctx)
	if !errors.Is(err, hydraengine.ErrDeclarativeDiffers) || !strings.Contains(err.Error(), "harden: type") && !strings.Contains(err.Error(), "harden: flake") || !strings.Contains(err.Error(), "spec.json") {
		t.Fatalf("declarative, differing: %v", err)
	}
	if n := r.Hydra.Count("PUT /project/{p}") + r.Hydra.Count("PUT /jobset/{p}/{j}"); n != 0 {
		t.Fatalf("%d PUTs on a declarative project", n)
	}
}

func TestSyncJobsetsWrongPassword(t *testing.T) {
	r := hydraenginetest.New(t)
	if err := os.WriteFile(r.PWFile, []byte("wrong\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := r.Engine(t, hydraengine.Options{}).SyncJobsets(context.Background())
	if !errors.Is(err, hydra.ErrLogin) || !strings.Contains(err.Error(), `"ironworks"`) {
		t.Fatalf("wrong password: %v", err)
	}
	if r.Hydra.Total() != 1 {
		t.Errorf("%d requests after a refused login, want 1", r.Hydra.Total())
	}
}

func TestNamesHydraRefuses(t *testing.T) {
	r := hydraenginetest.New(t)
	for _, o := range []hydraengine.Options{
		{Hydra: r.Client, Locks: r.Forge, Project: "iron works", LockRepo: r.LockRepo},
		{Hydra: r.Client, Locks: r.Forge, Project: "ironworks", LockRepo: r.LockRepo, Jobsets: map[string]string{"forge": "a/b"}},
	} {
		if _, err := hydraengine.New(o); err == nil || !strings.Contains(err.Error(), "Hydra") {
			t.Errorf("%+v: %v", o, err)
		}
	}
}

// The declarative rendering holds only keys Hydra's declarative loader
// accepts, never enable_dynamic_run_command (present means enabled), and
// says of each jobset what a PUT of the same spec makes.
func TestDeclarativeSpecKeys(t *testing.T) {
	accepted := []string{"enabled", "hidden", "type", "flake", "description", "nixexprinput", "nixexprpath",
		"checkinterval", "schedulingshares", "enableemail", "enable_dynamic_run_command", "emailoverride", "keepnr", "inputs"}
	r := hydraenginetest.New(t)
	e := r.Engine(t, hydraengine.Options{})
	b, err := e.DeclarativeSpec()
	if err != nil {
		t.Fatal(err)
	}
	var spec map[string]map[string]any
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	if len(spec) != 4 {
		t.Fatalf("%d jobsets", len(spec))
	}
	if _, err := e.SyncJobsets(context.Background()); err != nil {
		t.Fatal(err)
	}
	for name, js := range spec {
		for k := range js {
			if !slices.Contains(accepted, k) || k == "enable_dynamic_run_command" {
				t.Errorf("%s: key %s", name, k)
			}
		}
		got := r.Hydra.JobsetFields("ironworks", name)
		for k, v := range js {
			switch k {
			case "hidden":
				if got["visible"] != !v.(bool) {
					t.Errorf("%s: hidden %v but PUT made visible %v", name, v, got["visible"])
				}
			case "inputs":
			default:
				if w, _ := json.Marshal(got[k]); string(w) != mustJSON(v) {
					t.Errorf("%s: %s = %s in the spec file, %s through PUT", name, k, mustJSON(v), w)
				}
			}
		}
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// A 502 burst in front of Hydra is retried with backoff; PUTs are
// idempotent, so a retried write whose first answer was lost is harmless
// (the retry finds the jobset and updates it to the same fields).
func TestSyncJobsetsRetries502(t *testing.T) {
	r := hydraenginetest.New(t)
	r.Hydra.FailNext(2, 502, "", "PUT /jobset")
	r.Hydra.FailNext(1, 502, "", "GET /project")
	ch, err := r.Engine(t, hydraengine.Options{}).SyncJobsets(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(ch) != 5 {
		t.Fatalf("changes %v", ch)
	}
	if n := r.Hydra.Count("PUT /jobset/{p}/{j}"); n != 6 {
		t.Errorf("%d jobset PUTs, want 4 and 2 retries", n)
	}
	if n := r.Hydra.Count("GET /project/{p}"); n != 2 {
		t.Errorf("%d project reads, want 1 and 1 retry", n)
	}
}
