package hydra

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
)

// Project is GET /project/{p}: Hydra renders enabled and hidden as real
// booleans, jobsets as a list of names, and declarative only when the
// project has a declarative spec file.
type Project struct {
	Name        Str          `json:"name"`
	DisplayName Str          `json:"displayname"`
	Description Str          `json:"description"`
	Homepage    Str          `json:"homepage"`
	Owner       Str          `json:"owner"`
	Enabled     Bool         `json:"enabled"`
	Hidden      Bool         `json:"hidden"`
	Jobsets     []Str        `json:"jobsets"`
	Declarative *Declarative `json:"declarative"`
}

// Declarative is a project's declarative spec input.
type Declarative struct {
	File  Str `json:"file"`
	Type  Str `json:"type"`
	Value Str `json:"value"`
}

// IsDeclarative reports whether Hydra manages the project's jobsets from a
// spec file: jobset edits then answer 403, and a PUT of the project without
// its declarative settings would turn the spec off.
func (p *Project) IsDeclarative() bool { return p.Declarative != nil && p.Declarative.File != "" }

// DecodeProject decodes a Project object.
func DecodeProject(b []byte) (*Project, error) {
	var v Project
	if err := decode(b, &v); err != nil {
		return nil, fmt.Errorf("hydra: project: %w", err)
	}
	return &v, nil
}

// ProjectSpec is what PUT /project/{p} accepts for a project without a
// declarative spec. Hydra reads enabled and visible by presence.
type ProjectSpec struct {
	DisplayName string // required: Hydra refuses an empty one
	Description string
	Homepage    string
	Enabled     bool
	Visible     bool
}

func (s *ProjectSpec) body() map[string]any {
	m := map[string]any{"displayname": s.DisplayName, "description": s.Description, "homepage": s.Homepage}
	if s.Enabled {
		m["enabled"] = true
	}
	if s.Visible {
		m["visible"] = true
	}
	return m
}

// Diff lists how p differs from s ("field: have -> want"), empty when a PUT
// would change nothing.
func (s *ProjectSpec) Diff(p *Project) []string {
	var d diff
	d.str("displayname", string(p.DisplayName), s.DisplayName)
	d.str("description", string(p.Description), s.Description)
	d.str("homepage", string(p.Homepage), s.Homepage)
	d.val("enabled", bool(p.Enabled), s.Enabled)
	d.val("visible", !bool(p.Hidden), s.Visible)
	return d
}

// Project reads a project; an unknown one is ErrNotFound.
func (c *Client) Project(ctx context.Context, name string) (*Project, error) {
	r, err := c.get(ctx, "GET /project/{p}", "/project/"+seg(name), nil)
	if err != nil {
		return nil, err
	}
	return DecodeProject(r.body)
}

// PutProject creates (201) or updates (200) a project; it reports whether it
// was created. It never sends declarative settings, so it must not be used
// on a declarative project (see Project.IsDeclarative).
func (c *Client) PutProject(ctx context.Context, name string, spec *ProjectSpec) (created bool, err error) {
	const ep = "PUT /project/{p}"
	r, err := c.authed(ctx, ep, http.MethodPut, "/project/"+seg(name), nil, spec.body())
	if err != nil {
		return false, err
	}
	switch r.status {
	case http.StatusCreated:
		return true, nil
	case http.StatusOK:
		return false, nil
	}
	return false, r.err(ep)
}

// Diff lists how the jobset j as Hydra returns it differs from s ("field:
// have -> want"), empty when a PUT of s would change nothing. Hydra trims
// strings and stores max(schedulingshares, 1); the comparison does too.
func (s *JobsetSpec) Diff(j *Jobset) []string {
	var d diff
	d.val("type", int64(j.Type), int64(s.Type))
	if s.Type == 1 {
		d.str("flake", string(j.Flake), s.Flake)
	} else {
		d.str("nixexprinput", string(j.NixExprInput), s.NixExprInput)
		d.str("nixexprpath", string(j.NixExprPath), s.NixExprPath)
		d.str("inputs", inputsKey(j.Inputs), specInputsKey(s.Inputs))
	}
	d.str("description", string(j.Description), s.Description)
	d.val("enabled", int64(j.Enabled), int64(s.Enabled))
	d.val("checkinterval", int64(j.CheckInterval), int64(s.CheckInterval))
	d.val("schedulingshares", int64(j.SchedulingShares), int64(max(s.SchedulingShares, 1)))
	d.val("keepnr", int64(j.KeepNr), int64(s.KeepNr))
	d.str("emailoverride", string(j.EmailOverride), s.EmailOverride)
	d.val("visible", bool(j.Visible), s.Visible)
	d.val("enableemail", bool(j.EnableEmail), s.EnableEmail)
	return d
}

// Declarative renders s as one jobset of a declarative project's spec file
// (Hydra's .jobsets format). Hydra's declarative loader writes these keys
// straight into the jobset's columns, so here, unlike in a PUT, booleans are
// values (hidden, enableemail: JSON false is 0) and visible is spelt hidden.
// enable_dynamic_run_command is never written: the loader enables it when the
// key is present at all, false included.
func (s *JobsetSpec) Declarative() map[string]any {
	m := map[string]any{
		"enabled":          s.Enabled,
		"hidden":           !s.Visible,
		"type":             s.Type,
		"description":      s.Description,
		"checkinterval":    s.CheckInterval,
		"schedulingshares": max(s.SchedulingShares, 1),
		"enableemail":      s.EnableEmail,
		"emailoverride":    s.EmailOverride,
		"keepnr":           s.KeepNr,
	}
	inputs := map[string]any{}
	if s.Type == 1 {
		m["flake"] = s.Flake
	} else {
		m["nixexprinput"] = s.NixExprInput
		m["nixexprpath"] = s.NixExprPath
		for n, in := range s.Inputs {
			inputs[n] = map[string]any{"type": in.Type, "value": in.Value}
		}
	}
	m["inputs"] = inputs
	return m
}

type diff []string

func (d *diff) str(field, have, want string) {
	if strings.TrimSpace(have) != strings.TrimSpace(want) {
		*d = append(*d, fmt.Sprintf("%s: %q -> %q", field, have, want))
	}
}

func (d *diff) val(field string, have, want any) {
	if have != want {
		*d = append(*d, fmt.Sprintf("%s: %v -> %v", field, have, want))
	}
}

func inputsKey(in map[string]JobsetInput) string {
	keys := make([]string, 0, len(in))
	for n, v := range in {
		keys = append(keys, n+"="+string(v.Type)+":"+string(v.Value))
	}
	sort.Strings(keys)
	return strings.Join(keys, " ")
}

func specInputsKey(in map[string]JobsetInputSpec) string {
	keys := make([]string, 0, len(in))
	for n, v := range in {
		keys = append(keys, n+"="+v.Type+":"+v.Value)
	}
	sort.Strings(keys)
	return strings.Join(keys, " ")
}
