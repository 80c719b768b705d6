// Package config loads and validates the coordinator's configuration and the
// adapter.toml of every component it follows.
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Config is the coordinator configuration; only StateDir and Adapters are required.
type Config struct {
	File string `toml:"-"`

	StateDir   string                       `toml:"state_dir"`
	Adapters   []string                     `toml:"adapters"`
	Components map[string]ComponentOverride `toml:"components"`
	Engine     Engine                       `toml:"engine"`
	Hydra      *Hydra                       `toml:"hydra"`
	GitHub     *GitHub                      `toml:"github"`
	SMTP       *SMTP                        `toml:"smtp"`
	Artifacts  Artifacts                    `toml:"artifacts"`
	Web        Web                          `toml:"web"`
	Notify     Notify                       `toml:"notify"`

	// Loaded adapters by component name, and every job by ID (component:job).
	Loaded   map[string]*Adapter `toml:"-"`
	JobsByID map[string]*Job     `toml:"-"`
}

// ComponentOverride changes where a component comes from without editing its adapter.
type ComponentOverride struct {
	Repo     string   `toml:"repo"`
	Branch   string   `toml:"branch"`
	Branches []string `toml:"branches"` // extra target branches beyond Branch
}

// Engine selects where jobs execute.
type Engine struct {
	Default      string   `toml:"default"`       // local | hydra
	Features     []string `toml:"features"`      // worker features the local engine offers
	Parallelism  int      `toml:"parallelism"`   // local jobs at once; default: number of CPUs
	PassEnv      []string `toml:"pass_env"`      // extra variables jobs may inherit (never secrets)
	PollInterval Duration `toml:"poll_interval"` // serve: how often heads are polled; default 1m
	OutputLimit  ByteSize `toml:"output_limit"`  // per-job log cap; default 64 MiB
	// Bisect caps the downstream builds spent looking for a culprit; 0 means the default.
	BisectLimit int `toml:"bisect_limit"`
	// Attempts is how often a failing job that would blame someone runs in all before the verdict; 0 means 2.
	Attempts int `toml:"attempts"`
	// BenchTokensFile holds the bearer tokens benchkit agents present, one per line.
	BenchTokensFile string `toml:"bench_tokens_file"`
	// KeepFailedWorktrees is how many failed runs keep their worktrees
	// (default 3; passed runs never keep them). TargetLimit empties a
	// component's shared cargo target folder grown over it (default 20GiB).
	KeepFailedWorktrees *int     `toml:"keep_failed_worktrees"`
	TargetLimit         ByteSize `toml:"target_limit"`
	// GitTimeout bounds one clone or fetch of a component (default 10m).
	GitTimeout Duration `toml:"git_timeout"`
	// Sandbox isolates local jobs: "bwrap" (default) or "off".
	Sandbox string `toml:"sandbox"`
	// SandboxRO and SandboxRW are extra paths every sandboxed job sees, read-only
	// or read-write (Groth parameters in /var/tmp/filecoin-proof-parameters, say).
	SandboxRO []string `toml:"sandbox_ro"`
	SandboxRW []string `toml:"sandbox_rw"`
	// Retries is how many more times a run that ended infra-error or
	// eval-error is tried again by later passes (default 3; 0: never).
	// RetryBackoff is the wait before the first retry, doubled for each
	// next one (default 1m).
	Retries      *int     `toml:"retries"`
	RetryBackoff Duration `toml:"retry_backoff"`
}

type Hydra struct {
	URL          string   `toml:"url"`
	Project      string   `toml:"project"`
	User         string   `toml:"user"`
	PasswordFile string   `toml:"password_file"`
	Jobsets      []string `toml:"jobsets"`       // optional explicit stage->jobset mapping "forge=staging"
	EvalDeadline Duration `toml:"eval_deadline"` // how long to wait for an eval before infra-error
	PollInterval Duration `toml:"poll_interval"`
	LockRepo     string   `toml:"lock_repo"`   // owner/name of the repository holding lock branches
	LockBranch   string   `toml:"lock_branch"` // default "<stage>-lock"; "{stage}" is replaced
	LockBase     string   `toml:"lock_base"`   // branch new lock branches start from; default: the repository's default branch
	System       string   `toml:"system"`      // Nix system of job attributes; default x86_64-linux
}

type GitHub struct {
	APIURL            string `toml:"api_url"`
	TokenFile         string `toml:"token_file"`
	WebhookSecretFile string `toml:"webhook_secret_file"`
	StagingBranch     string `toml:"staging_branch"`
	ReadyLabel        string `toml:"ready_label"`
	// Repos maps component name to owner/name on GitHub when repo is not a GitHub URL.
	Repos map[string]string `toml:"repos"`
}

type SMTP struct {
	Host         string `toml:"host"`
	Port         int    `toml:"port"`
	From         string `toml:"from"`
	TLS          string `toml:"tls"` // starttls | tls | none
	User         string `toml:"user"`
	PasswordFile string `toml:"password_file"`
	// CAFile holds PEM certificates trusted for the relay besides the system
	// roots (a private relay with its own CA).
	CAFile string `toml:"ca_file"`
}

type Artifacts struct {
	Kind          string `toml:"kind"` // fs | s3
	Dir           string `toml:"dir"`  // fs: default <state_dir>/artifacts
	Endpoint      string `toml:"endpoint"`
	Bucket        string `toml:"bucket"`
	Region        string `toml:"region"`
	AccessKeyFile string `toml:"access_key_file"`
	SecretKeyFile string `toml:"secret_key_file"`
	Insecure      bool   `toml:"insecure"` // plain HTTP endpoint (MinIO on loopback)
	RetentionDays int    `toml:"retention_days"`
}

type Web struct {
	Listen            string `toml:"listen"`
	URL               string `toml:"url"` // public base URL used in links
	OperatorTokenFile string `toml:"operator_token_file"`
	Private           bool   `toml:"private"`
}

// Notify tunes e-mail.
type Notify struct {
	OutboxDir         string   `toml:"outbox_dir"` // default <state_dir>/outbox
	UnsubscribeSecret string   `toml:"unsubscribe_secret_file"`
	Operators         []string `toml:"operators"` // addresses told of adapter errors (configuration, not code)
}

// Load reads the configuration file, then every adapter it names, and checks
// that they fit together. Nothing is partially applied: any error returns nil.
func Load(file string) (*Config, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(file, data, filepath.Dir(file))
}

// Parse decodes configuration text. Relative paths resolve against base.
func Parse(file string, data []byte, base string) (*Config, error) {
	var c Config
	md, err := toml.Decode(string(data), &c)
	if err != nil {
		return nil, syntaxError(file, err)
	}
	c.File = file
	p := &problems{file: file, data: data}
	for _, k := range md.Undecoded() {
		p.add(k, "unknown key")
	}
	c.validate(p)
	// Every problem at once: the configuration's and every adapter's.
	errs := []error{p.err()}
	abs := func(s string) string {
		if s == "" || filepath.IsAbs(s) {
			return s
		}
		return filepath.Join(base, s)
	}
	c.StateDir = abs(c.StateDir)
	var adapters []*Adapter
	for i, dir := range c.Adapters {
		var a *Adapter
		if embedded, ok := strings.CutPrefix(dir, EmbeddedPrefix); ok {
			a, err = loadEmbedded(embedded)
		} else {
			c.Adapters[i] = abs(dir)
			a, err = LoadAdapter(c.Adapters[i])
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		adapters = append(adapters, a)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := c.link(p, adapters); err != nil {
		return nil, err
	}
	for _, f := range []*string{&c.Artifacts.Dir, &c.Notify.OutboxDir} {
		*f = abs(*f)
	}
	if c.Artifacts.Dir == "" {
		c.Artifacts.Dir = filepath.Join(c.StateDir, "artifacts")
	}
	if c.Notify.OutboxDir == "" {
		c.Notify.OutboxDir = filepath.Join(c.StateDir, "outbox")
	}
	return &c, nil
}

func (c *Config) validate(p *problems) {
	if c.StateDir == "" {
		p.add([]string{"state_dir"}, "required")
	}
	if len(c.Adapters) == 0 {
		p.add([]string{"adapters"}, "required: at least one adapter folder")
	}
	switch c.Engine.Default {
	case "":
		c.Engine.Default = "local"
	case "local", "hydra":
	default:
		p.add([]string{"engine", "default"}, "unknown engine %q (want local or hydra)", c.Engine.Default)
	}
	if c.Engine.Default == "hydra" && (c.Hydra == nil || c.Hydra.URL == "") {
		p.add([]string{"engine", "default"}, "the hydra engine needs a [hydra] section with url")
	}
	if c.Engine.Attempts < 0 {
		p.add([]string{"engine", "attempts"}, "must not be negative (1 runs a failing job once, 0 means the default 2)")
	}
	if c.Engine.Parallelism < 0 {
		p.add([]string{"engine", "parallelism"}, "must not be negative")
	}
	if c.Engine.GitTimeout.Duration < 0 || c.Engine.GitTimeout.set && c.Engine.GitTimeout.Duration == 0 {
		p.add([]string{"engine", "git_timeout"}, "must be positive (leave it out for the default of 10m)")
	}
	if c.Engine.Retries == nil {
		three := 3
		c.Engine.Retries = &three
	} else if *c.Engine.Retries < 0 {
		p.add([]string{"engine", "retries"}, "must not be negative (0 never retries an infra-error)")
	}
	if c.Engine.RetryBackoff.Duration < 0 || c.Engine.RetryBackoff.set && c.Engine.RetryBackoff.Duration == 0 {
		p.add([]string{"engine", "retry_backoff"}, "must be positive (leave it out for the default of 1m)")
	} else if !c.Engine.RetryBackoff.set {
		c.Engine.RetryBackoff.Duration = time.Minute
	}
	if c.Engine.KeepFailedWorktrees == nil {
		three := 3
		c.Engine.KeepFailedWorktrees = &three
	} else if *c.Engine.KeepFailedWorktrees < 0 {
		p.add([]string{"engine", "keep_failed_worktrees"}, "must not be negative")
	}
	if c.Engine.TargetLimit == 0 {
		c.Engine.TargetLimit = 20 << 30
	}
	switch c.Engine.Sandbox {
	case "":
		c.Engine.Sandbox = "bwrap"
	case "bwrap", "off":
	default:
		p.add([]string{"engine", "sandbox"}, "unknown sandbox %q (want bwrap or off)", c.Engine.Sandbox)
	}
	for _, k := range []struct {
		key   string
		paths []string
	}{{"sandbox_ro", c.Engine.SandboxRO}, {"sandbox_rw", c.Engine.SandboxRW}} {
		for _, d := range k.paths {
			if !filepath.IsAbs(d) {
				p.add([]string{"engine", k.key}, "%q: must be an absolute path", d)
			}
		}
	}
	if c.Engine.OutputLimit == 0 {
		c.Engine.OutputLimit = 64 << 20
	}
	if c.SMTP != nil {
		switch c.SMTP.TLS {
		case "":
			c.SMTP.TLS = "starttls"
		case "starttls", "tls", "none":
		default:
			p.add([]string{"smtp", "tls"}, "%q: want starttls, tls or none", c.SMTP.TLS)
		}
		if c.SMTP.Host == "" {
			p.add([]string{"smtp", "host"}, "required")
		}
		if c.SMTP.From == "" {
			p.add([]string{"smtp", "from"}, "required")
		}
		if c.SMTP.Port == 0 {
			c.SMTP.Port = 587
		}
	}
	switch c.Artifacts.Kind {
	case "":
		c.Artifacts.Kind = "fs"
	case "fs":
	case "s3":
		for k, v := range map[string]string{"endpoint": c.Artifacts.Endpoint, "bucket": c.Artifacts.Bucket} {
			if v == "" {
				p.add([]string{"artifacts", k}, "required for kind s3")
			}
		}
	default:
		p.add([]string{"artifacts", "kind"}, "%q: want fs or s3", c.Artifacts.Kind)
	}
	if c.Artifacts.RetentionDays < 0 {
		p.add([]string{"artifacts", "retention_days"}, "must not be negative")
	}
	if c.Artifacts.RetentionDays == 0 {
		c.Artifacts.RetentionDays = 14
	}
	if c.Web.Listen == "" {
		c.Web.Listen = "127.0.0.1:8080"
	}
}

// link checks what spans adapters: unique names, known upstreams, needs that
// resolve, no cycles, and applies per-component overrides.
func (c *Config) link(p *problems, adapters []*Adapter) error {
	c.Loaded = map[string]*Adapter{}
	c.JobsByID = map[string]*Job{}
	for _, a := range adapters {
		if prev, dup := c.Loaded[a.Name]; dup {
			p.add([]string{"adapters"}, "component %q defined twice (%s and %s)", a.Name, prev.File, a.File)
			continue
		}
		c.Loaded[a.Name] = a
		for _, j := range a.Jobs {
			c.JobsByID[j.ID()] = j
		}
	}
	for _, name := range sortedKeys(c.Components) {
		o := c.Components[name]
		a, ok := c.Loaded[name]
		if !ok {
			p.add([]string{"components", name}, "no adapter defines component %q", name)
			continue
		}
		if o.Repo != "" {
			a.Repo = o.Repo
		}
		if o.Branch != "" {
			a.Branch = o.Branch
		}
	}
	for _, a := range adapters {
		ap := &problems{file: a.File, data: mustRead(a)}
		for _, u := range a.Upstream {
			if _, ok := c.Loaded[u.Name]; !ok {
				ap.add([]string{"upstream"}, "unknown upstream component %q (not among the configured adapters)", u.Name)
			}
		}
		for _, jn := range sortedKeys(a.Jobs) {
			j := a.Jobs[jn]
			for i, n := range j.Needs {
				id := n
				if !strings.Contains(n, ":") {
					id = a.Name + ":" + n
				}
				j.Needs[i] = id
				dep, ok := c.JobsByID[id]
				if !ok {
					ap.add([]string{"jobs", jn, "needs"}, "unknown job %q", n)
					continue
				}
				if dep.Component != a.Name && !a.dependsOn(c, dep.Component) {
					ap.add([]string{"jobs", jn, "needs"}, "%q belongs to %s, which is not an upstream of %s", n, dep.Component, a.Name)
				}
				if StageIndex(dep.Stage) > StageIndex(j.Stage) {
					ap.add([]string{"jobs", jn, "needs"}, "%q runs in a later stage (%s) than %s (%s)", n, dep.Stage, jn, j.Stage)
				}
			}
		}
		p.errs = append(p.errs, ap.errs...)
	}
	if err := p.err(); err != nil {
		return err
	}
	if cyc := c.findCycle(); cyc != nil {
		j := c.JobsByID[cyc[0]]
		a := c.Loaded[j.Component]
		ap := &problems{file: a.File, data: mustRead(a)}
		ap.add([]string{"jobs", j.Name, "needs"}, "cycle: %s", strings.Join(cyc, " -> "))
		return ap.err()
	}
	if cyc := c.upstreamCycle(); cyc != nil {
		a := c.Loaded[cyc[0]]
		ap := &problems{file: a.File, data: mustRead(a)}
		ap.add([]string{"upstream"}, "upstream cycle: %s", strings.Join(cyc, " -> "))
		return ap.err()
	}
	return nil
}

func (a *Adapter) dependsOn(c *Config, comp string) bool {
	seen := map[string]bool{}
	var walk func(string) bool
	walk = func(name string) bool {
		if seen[name] {
			return false
		}
		seen[name] = true
		for _, u := range c.Loaded[name].Upstream {
			if u.Name == comp || (c.Loaded[u.Name] != nil && walk(u.Name)) {
				return true
			}
		}
		return false
	}
	return walk(a.Name)
}

// findCycle returns the job IDs of a needs cycle, first repeated at the end, or nil.
func (c *Config) findCycle() []string {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	var cycle []string
	var visit func(id string) bool
	visit = func(id string) bool {
		color[id] = grey
		stack = append(stack, id)
		for _, n := range c.JobsByID[id].Needs {
			switch color[n] {
			case grey:
				i := slices.Index(stack, n)
				cycle = append(append([]string{}, stack[i:]...), n)
				return true
			case white:
				if visit(n) {
					return true
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[id] = black
		return false
	}
	ids := sortedKeys(c.JobsByID)
	for _, id := range ids {
		if color[id] == white && visit(id) {
			return cycle
		}
	}
	return nil
}

func (c *Config) upstreamCycle() []string {
	state := map[string]int{}
	var stack, cycle []string
	var visit func(string) bool
	visit = func(n string) bool {
		state[n] = 1
		stack = append(stack, n)
		for _, u := range c.Loaded[n].Upstream {
			if state[u.Name] == 1 {
				i := slices.Index(stack, u.Name)
				cycle = append(append([]string{}, stack[i:]...), u.Name)
				return true
			}
			if state[u.Name] == 0 && visit(u.Name) {
				return true
			}
		}
		stack = stack[:len(stack)-1]
		state[n] = 2
		return false
	}
	for _, n := range sortedKeys(c.Loaded) {
		if state[n] == 0 && visit(n) {
			return cycle
		}
	}
	return nil
}

func mustRead(a *Adapter) []byte {
	if data, ok := embeddedData(a.File); ok {
		return data
	}
	data, _ := os.ReadFile(a.File)
	return data
}

// Order returns component names in dependency order (upstreams first), ties by name.
func (c *Config) Order() []string {
	var out []string
	done := map[string]bool{}
	var visit func(string)
	visit = func(n string) {
		if done[n] {
			return
		}
		done[n] = true
		ups := make([]string, 0, len(c.Loaded[n].Upstream))
		for _, u := range c.Loaded[n].Upstream {
			ups = append(ups, u.Name)
		}
		sort.Strings(ups)
		for _, u := range ups {
			visit(u)
		}
		out = append(out, n)
	}
	for _, n := range sortedKeys(c.Loaded) {
		visit(n)
	}
	return out
}

// Branches returns every target branch of a component: its branch first.
func (c *Config) Branches(component string) []string {
	a := c.Loaded[component]
	out := []string{a.Branch}
	for _, b := range c.Components[component].Branches {
		if !slices.Contains(out, b) {
			out = append(out, b)
		}
	}
	return out
}

// Downstreams returns the components that name comp as a direct upstream.
func (c *Config) Downstreams(comp string) []string {
	var out []string
	for _, n := range c.Order() {
		for _, u := range c.Loaded[n].Upstream {
			if u.Name == comp {
				out = append(out, n)
			}
		}
	}
	return out
}

// StageJobs returns the jobs of stage across components, in a stable order.
func (c *Config) StageJobs(stage string) []*Job {
	var out []*Job
	for _, comp := range c.Order() {
		a := c.Loaded[comp]
		for _, n := range sortedKeys(a.Jobs) {
			if a.Jobs[n].Stage == stage {
				out = append(out, a.Jobs[n])
			}
		}
	}
	return out
}
