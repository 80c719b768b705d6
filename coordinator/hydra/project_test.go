package hydra_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/ironworks-ci/ironworks/coordinator/hydra"
)

func TestPutProjectCreatesThenUpdates(t *testing.T) {
	srv, c := newPair(t)
	ctx := context.Background()
	if _, err := c.Project(ctx, "p"); !errors.Is(err, hydra.ErrNotFound) {
		t.Fatalf("missing project: %v, want ErrNotFound", err)
	}
	spec := &hydra.ProjectSpec{DisplayName: "P", Description: "d", Enabled: true, Visible: false}
	created, err := c.PutProject(ctx, "p", spec)
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	p, err := c.Project(ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	if p.DisplayName != "P" || !bool(p.Enabled) || !bool(p.Hidden) || p.IsDeclarative() || p.Owner != "bot" {
		t.Fatalf("project %+v: visible=false must not be sent (Hydra reads it by presence)", p)
	}
	if d := spec.Diff(p); len(d) != 0 {
		t.Fatalf("diff after create: %v", d)
	}
	spec.Visible = true
	if d := spec.Diff(p); len(d) != 1 || !strings.HasPrefix(d[0], "visible: false -> true") {
		t.Fatalf("diff %v", d)
	}
	if created, err := c.PutProject(ctx, "p", spec); err != nil || created {
		t.Fatalf("update: %v %v", created, err)
	}
	if p, _ := c.Project(ctx, "p"); bool(p.Hidden) || len(spec.Diff(p)) != 0 {
		t.Fatalf("after update %+v", p)
	}
	if srv.Count("PUT /project/{p}") != 2 {
		t.Errorf("%d PUTs", srv.Count("PUT /project/{p}"))
	}
}

func TestPutProjectErrors(t *testing.T) {
	_, c := newPair(t)
	ctx := context.Background()
	_, err := c.PutProject(ctx, "p", &hydra.ProjectSpec{})
	var he *hydra.Error
	if !errors.As(err, &he) || he.Status != http.StatusInternalServerError || !strings.Contains(he.Message, "display name") {
		t.Fatalf("empty displayname: %v", err)
	}
	if _, err := c.PutProject(ctx, "bad name", &hydra.ProjectSpec{DisplayName: "x"}); err == nil || !strings.Contains(err.Error(), "Invalid project identifier") {
		t.Fatalf("bad name: %v", err)
	}
}

func TestPutJobsetNeedsItsProject(t *testing.T) {
	_, c := newPair(t)
	_, err := c.PutJobset(context.Background(), "nope", "forge", &hydra.JobsetSpec{Type: 1, Flake: "github:o/r", Enabled: 1})
	if !errors.Is(err, hydra.ErrNotFound) || !strings.Contains(err.Error(), "Project") {
		t.Fatalf("jobset of a missing project: %v", err)
	}
}

func TestJobsetDiff(t *testing.T) {
	srv, c := newPair(t)
	ctx := context.Background()
	srv.AddProject("p")
	spec := &hydra.JobsetSpec{Type: 1, Flake: "github:o/r?ref=forge-lock", Description: "forge", Enabled: 1, CheckInterval: 0, SchedulingShares: 100, KeepNr: 10, Visible: true}
	if _, err := c.PutJobset(ctx, "p", "forge", spec); err != nil {
		t.Fatal(err)
	}
	js, err := c.Jobset(ctx, "p", "forge")
	if err != nil {
		t.Fatal(err)
	}
	if d := spec.Diff(js); len(d) != 0 {
		t.Fatalf("diff right after PUT: %v", d)
	}
	other := *spec
	other.CheckInterval, other.Flake, other.EnableEmail = 300, "github:o/r/forge-lock", true
	d := strings.Join(other.Diff(js), "; ")
	for _, want := range []string{"checkinterval: 0 -> 300", `flake: "github:o/r?ref=forge-lock" -> "github:o/r/forge-lock"`, "enableemail: false -> true"} {
		if !strings.Contains(d, want) {
			t.Errorf("diff %q lacks %q", d, want)
		}
	}
}

// A PUT of a trigger-only jobset drops a pending push (Hydra sets
// triggertime only for enabled jobsets with checkinterval > 0); one with
// checkinterval > 0 schedules an evaluation.
func TestPutJobsetTriggertime(t *testing.T) {
	srv, c := newPair(t)
	ctx := context.Background()
	srv.AddJobset("p", "forge", "github:o/r?ref=forge-lock")
	if _, err := c.Push(ctx, false, "p:forge"); err != nil {
		t.Fatal(err)
	}
	spec := &hydra.JobsetSpec{Type: 1, Flake: "github:o/r?ref=forge-lock", Enabled: 1, KeepNr: 3}
	if _, err := c.PutJobset(ctx, "p", "forge", spec); err != nil {
		t.Fatal(err)
	}
	if js, _ := c.Jobset(ctx, "p", "forge"); js.TriggerTime.Valid {
		t.Fatalf("trigger-only PUT kept triggertime %v", js.TriggerTime)
	}
	spec.CheckInterval = 60
	if _, err := c.PutJobset(ctx, "p", "forge", spec); err != nil {
		t.Fatal(err)
	}
	if js, _ := c.Jobset(ctx, "p", "forge"); !js.TriggerTime.Valid {
		t.Fatal("PUT with checkinterval > 0 did not schedule an evaluation")
	}
}

func TestDeclarativeRendering(t *testing.T) {
	m := (&hydra.JobsetSpec{Type: 1, Flake: "github:o/r?ref=x", Enabled: 1, Visible: true, KeepNr: 2}).Declarative()
	if m["hidden"] != false || m["enableemail"] != false || m["flake"] != "github:o/r?ref=x" || m["schedulingshares"] != 1 {
		t.Fatalf("rendering %v", m)
	}
	for _, k := range []string{"visible", "enable_dynamic_run_command", "nixexprinput", "nixexprpath"} {
		if _, ok := m[k]; ok {
			t.Errorf("flake jobset spec has %s", k)
		}
	}
	legacy := (&hydra.JobsetSpec{Type: 0, NixExprInput: "src", NixExprPath: "release.nix", Inputs: map[string]hydra.JobsetInputSpec{"src": {Type: "git", Value: "https://x y"}}}).Declarative()
	if legacy["nixexprinput"] != "src" || legacy["hidden"] != true {
		t.Fatalf("legacy rendering %v", legacy)
	}
	if _, ok := legacy["flake"]; ok {
		t.Error("legacy jobset has a flake")
	}
}

func TestDeclarativeProjectRefusesJobsetEdits(t *testing.T) {
	srv, c := newPair(t)
	ctx := context.Background()
	srv.SetDeclarative("d")
	p, err := c.Project(ctx, "d")
	if err != nil || !p.IsDeclarative() || p.Declarative.File != "spec.json" || !slices.Contains(p.Jobsets, ".jobsets") {
		t.Fatalf("declarative project %+v %v", p, err)
	}
	if _, err := c.PutJobset(ctx, "d", "forge", &hydra.JobsetSpec{Type: 1, Flake: "github:o/r", Enabled: 1}); err == nil || !strings.Contains(err.Error(), "declarative") {
		t.Fatalf("jobset edit on a declarative project: %v", err)
	}
}

func FuzzDecodeProject(f *testing.F) {
	f.Add([]byte(`{"name":"p","displayname":"P","enabled":true,"hidden":false,"jobsets":["forge"],"declarative":{"file":"spec.json","type":"git","value":"u main"}}`))
	f.Add([]byte(`{"name":"p","enabled":1,"hidden":"0","jobsets":[]}`))
	f.Add([]byte(`<html>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := hydra.DecodeProject(b)
		if err == nil && p == nil {
			t.Fatal("nil project without an error")
		}
	})
}
