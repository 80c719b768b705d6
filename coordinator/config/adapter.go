package config

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/robfig/cron/v3"
)

// Stages in promotion order. stamp is not a job stage: it is the release itself.
var Stages = []string{"spark", "forge", "harden", "temper"}

// StageIndex returns the position of stage in the promotion order, or -1.
func StageIndex(stage string) int {
	if stage == "stamp" {
		return len(Stages)
	}
	return slices.Index(Stages, stage)
}

// Continuous is the schedule of a job whose next round starts as soon as the
// previous one ends.
const Continuous = "continuous"

// Adapter is one component's adapter.toml.
type Adapter struct {
	Dir  string `toml:"-"` // folder holding adapter.toml
	File string `toml:"-"` // path of adapter.toml

	Name     string     `toml:"name"`
	Repo     string     `toml:"repo"`
	Branch   string     `toml:"branch"`
	Crate    string     `toml:"crate"`    // the Rust crate this component publishes, if any
	Lockfile string     `toml:"lockfile"` // "committed" or "generate"
	Upstream []Upstream `toml:"upstream"`

	Jobs  map[string]*Job   `toml:"jobs"`
	Bench map[string]*Bench `toml:"bench"`
}

// Upstream names a component this one is built against and how its revision is pinned.
type Upstream struct {
	Name  string `toml:"name"`
	Pin   string `toml:"pin"`
	Crate string `toml:"crate"`
}

// Job is one named unit of work.
type Job struct {
	Name      string            `toml:"-"`
	Component string            `toml:"-"`
	Stage     string            `toml:"stage"`
	Command   string            `toml:"command"`
	Needs     []string          `toml:"needs"`
	Requires  []string          `toml:"requires"`
	Timeout   Duration          `toml:"timeout"`
	Schedule  string            `toml:"schedule"`
	Manual    bool              `toml:"manual"`
	Env       map[string]string `toml:"env"`
	Gating    *bool             `toml:"gating"` // default true: the stage's gate requires it
	OutputCap ByteSize          `toml:"output_limit"`
	// Network: false runs the job without network (only a loopback of its
	// own); default true, because cargo fetches crates.
	Network *bool `toml:"network"`
}

// ID is the job's global name, component:job.
func (j *Job) ID() string { return j.Component + ":" + j.Name }

// IsGating reports whether the stage gate waits for and requires this job.
func (j *Job) IsGating() bool { return j.Gating == nil || *j.Gating }

// Bench is one benchmark entry, run by benchkit.
type Bench struct {
	Name      string            `toml:"-"`
	Component string            `toml:"-"`
	Stage     string            `toml:"stage"`
	Command   string            `toml:"command"`
	Parser    string            `toml:"parser"`
	Requires  []string          `toml:"requires"`
	Repeat    int               `toml:"repeat"`
	Warmup    int               `toml:"warmup"`
	Timeout   Duration          `toml:"timeout"`
	Env       map[string]string `toml:"env"`
	Metrics   map[string]Metric `toml:"metrics"`
	// Upstream is the adapter's [[upstream]] list: a bench agent pins the
	// candidate's upstream revisions into the checkout it measures, as the
	// local engine does for jobs.
	Upstream []Upstream `toml:"-"`
}

// Metric says which way is better for a benchmark metric and the smallest change that matters.
type Metric struct {
	Direction string  `toml:"direction"` // lower | higher
	Threshold Percent `toml:"threshold"`
}

// DefaultJobTimeout applies to jobs that name none.
const DefaultJobTimeout = 45 * time.Minute

// Parsers benchkit understands.
var Parsers = []string{"benchy", "criterion", "gotest", "json"}

// PinMethods are the names adapters may use in [[upstream]] pin; the Go hooks
// register implementations under these names.
var PinMethods = []string{"cargo-patch"}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// LoadAdapter reads and validates dir/adapter.toml on its own; cross-component
// checks (upstream names, needs across components, cycles) happen in Load.
func LoadAdapter(dir string) (*Adapter, error) {
	return loadAdapterFS(os.DirFS(dir), "adapter.toml", filepath.Join(dir, "adapter.toml"), dir)
}

func loadAdapterFS(fsys fs.FS, name, display, dir string) (*Adapter, error) {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("adapter %s: %w", display, err)
	}
	a, err := ParseAdapter(display, data)
	if err != nil {
		return nil, err
	}
	a.Dir = dir
	return a, nil
}

// ParseAdapter decodes and validates one adapter.toml. file is used in errors only.
func ParseAdapter(file string, data []byte) (*Adapter, error) {
	var a Adapter
	md, err := toml.Decode(string(data), &a)
	if err != nil {
		return nil, syntaxError(file, err)
	}
	a.File = file
	p := &problems{file: file, data: data}
	for _, k := range md.Undecoded() {
		p.add(k, "unknown key")
	}
	a.validate(p)
	if err := p.err(); err != nil {
		return nil, err
	}
	return &a, nil
}

func (a *Adapter) validate(p *problems) {
	if a.Name == "" {
		p.add([]string{"name"}, "required")
	} else if !nameRE.MatchString(a.Name) {
		p.add([]string{"name"}, "%q is not a valid component name (lower case letters, digits, . _ -)", a.Name)
	}
	if a.Repo == "" {
		p.add([]string{"repo"}, "required")
	}
	if a.Branch == "" {
		a.Branch = "master"
	}
	switch a.Lockfile {
	case "":
		a.Lockfile = "committed"
	case "committed", "generate":
	default:
		p.add([]string{"lockfile"}, "%q: want committed or generate", a.Lockfile)
	}
	for i, u := range a.Upstream {
		key := []string{"upstream"}
		if u.Name == "" {
			p.add(key, "upstream #%d: name is required", i+1)
		}
		if !slices.Contains(PinMethods, u.Pin) {
			p.add(append(key, "pin"), "upstream %q: unknown pin method %q (want one of %s)", u.Name, u.Pin, strings.Join(PinMethods, ", "))
		}
		if u.Pin == "cargo-patch" && u.Crate == "" {
			a.Upstream[i].Crate = u.Name
		}
	}
	if len(a.Jobs) == 0 {
		p.add([]string{"jobs"}, "an adapter needs at least one job")
	}
	for _, name := range sortedKeys(a.Jobs) {
		j := a.Jobs[name]
		j.Name, j.Component = name, a.Name
		key := []string{"jobs", name}
		if !nameRE.MatchString(name) {
			p.add(key, "%q is not a valid job name", name)
		}
		if !slices.Contains(Stages, j.Stage) {
			p.add(append(key, "stage"), "unknown stage %q (want one of %s)", j.Stage, strings.Join(Stages, ", "))
		}
		if strings.TrimSpace(j.Command) == "" {
			p.add(append(key, "command"), "required")
		}
		if j.Timeout.Duration < 0 || j.Timeout.set && j.Timeout.Duration == 0 {
			p.add(append(key, "timeout"), "must be positive (leave it out for the default of %s)", DefaultJobTimeout)
		}
		if j.Timeout.Duration == 0 {
			j.Timeout.Duration = DefaultJobTimeout
		}
		if err := ValidateSchedule(j.Schedule); err != nil {
			p.add(append(key, "schedule"), "%v", err)
		}
		if j.Manual && j.Schedule != "" {
			p.add(append(key, "manual"), "a manual job cannot also have a schedule")
		}
		for _, n := range j.Needs {
			if strings.Count(n, ":") > 1 || n == "" {
				p.add(append(key, "needs"), "%q: want job or component:job", n)
			}
			if n == name || n == a.Name+":"+name {
				p.add(append(key, "needs"), "job needs itself")
			}
		}
		for k := range j.Env {
			if strings.HasPrefix(k, "IRONWORKS_") {
				p.add(append(key, "env"), "%s: IRONWORKS_* variables are set by the coordinator", k)
			}
		}
	}
	for _, name := range sortedKeys(a.Bench) {
		b := a.Bench[name]
		b.Name, b.Component, b.Upstream = name, a.Name, a.Upstream
		key := []string{"bench", name}
		if !slices.Contains(Stages, b.Stage) {
			p.add(append(key, "stage"), "unknown stage %q (want one of %s)", b.Stage, strings.Join(Stages, ", "))
		}
		if strings.TrimSpace(b.Command) == "" {
			p.add(append(key, "command"), "required")
		}
		if !slices.Contains(Parsers, b.Parser) {
			p.add(append(key, "parser"), "unknown parser %q (want one of %s)", b.Parser, strings.Join(Parsers, ", "))
		}
		if b.Repeat < 0 || b.Warmup < 0 {
			p.add(append(key, "repeat"), "repeat and warmup must not be negative")
		}
		if b.Repeat == 0 {
			b.Repeat = 1
		}
		if b.Timeout.Duration < 0 || b.Timeout.set && b.Timeout.Duration == 0 {
			p.add(append(key, "timeout"), "must be positive (leave it out for the default of %s)", DefaultJobTimeout)
		}
		if b.Timeout.Duration == 0 {
			b.Timeout.Duration = DefaultJobTimeout
		}
		for _, m := range sortedKeys(b.Metrics) {
			switch b.Metrics[m].Direction {
			case "lower", "higher":
			default:
				p.add(append(key, "metrics", m, "direction"), "%q: want lower or higher", b.Metrics[m].Direction)
			}
		}
	}
}

// ValidateSchedule accepts "", "continuous", or a standard five-field cron
// expression (descriptors such as @daily and @every 4h too).
func ValidateSchedule(s string) error {
	if s == "" || s == Continuous {
		return nil
	}
	if _, err := CronParser.Parse(s); err != nil {
		return fmt.Errorf("bad cron expression %q: %w", s, err)
	}
	return nil
}

// CronParser is the one cron dialect Ironworks speaks.
var CronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

func syntaxError(file string, err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return &Error{File: file, Line: pe.Position.Line, Key: pe.LastKey, Msg: pe.Message}
	}
	// Type mismatches name the key but not the line.
	msg := err.Error()
	e := &Error{File: file, Msg: msg}
	if m := regexp.MustCompile(`toml: line (\d+)`).FindStringSubmatch(msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
	}
	return e
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Duration is a time.Duration written as "45m" in TOML.
type Duration struct {
	time.Duration
	set bool // written in the file (so "0s" is not mistaken for "not set")
}

func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("bad duration %q (want e.g. 90s, 45m, 3h)", b)
	}
	d.Duration, d.set = v, true
	return nil
}

func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Percent is a relative threshold written as "5%".
type Percent struct{ Fraction float64 }

func (p *Percent) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	if !strings.HasSuffix(s, "%") {
		return fmt.Errorf("bad threshold %q (want a percentage such as 5%%)", s)
	}
	v, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil || v < 0 || v > 1000 {
		return fmt.Errorf("bad threshold %q (want a percentage such as 5%%)", s)
	}
	p.Fraction = v / 100
	return nil
}

func (p Percent) MarshalText() ([]byte, error) {
	return []byte(strconv.FormatFloat(p.Fraction*100, 'g', -1, 64) + "%"), nil
}

// ByteSize is a size written as "16MiB", "1GB" or a plain number of bytes.
type ByteSize int64

func (s *ByteSize) UnmarshalText(b []byte) error {
	str := strings.TrimSpace(string(b))
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(str, u.suffix) {
			mult, str = u.mult, strings.TrimSpace(strings.TrimSuffix(str, u.suffix))
			break
		}
	}
	v, err := strconv.ParseInt(str, 10, 64)
	if err != nil || v < 0 {
		return fmt.Errorf("bad size %q (want e.g. 16MiB)", b)
	}
	if v > math.MaxInt64/mult {
		return fmt.Errorf("size %q is too large", b)
	}
	*s = ByteSize(v * mult)
	return nil
}
