package hydra

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Int decodes Hydra's integers leniently: JSON numbers, numeric strings,
// booleans (some columns are flags that older servers or proxies render as
// true/false) and null (zero). Hydra's 0/1 flags (finished, hasnewbuilds,
// enabled, type) are ints, not booleans, whatever hydra-api.yaml says.
type Int int64

// UnmarshalJSON implements json.Unmarshaler.
func (n *Int) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*n = 0
		return nil
	case bytes.Equal(b, []byte("true")):
		*n = 1
		return nil
	case bytes.Equal(b, []byte("false")):
		*n = 0
		return nil
	}
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		s = strings.TrimSpace(s)
		if s == "" {
			*n = 0
			return nil
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		// Some columns come back as floats through Perl's JSON encoder ("1.0").
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != float64(int64(f)) {
			return fmt.Errorf("not an integer: %.40s", b)
		}
		v = int64(f)
	}
	*n = Int(v)
	return nil
}

// OptInt is an integer column that can be null (buildstatus, starttime).
type OptInt struct {
	Valid bool
	V     int64
}

// UnmarshalJSON implements json.Unmarshaler.
func (o *OptInt) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		*o = OptInt{}
		return nil
	}
	var n Int
	if err := n.UnmarshalJSON(b); err != nil {
		return err
	}
	*o = OptInt{Valid: true, V: int64(n)}
	return nil
}

// MarshalJSON implements json.Marshaler.
func (o OptInt) MarshalJSON() ([]byte, error) {
	if !o.Valid {
		return []byte("null"), nil
	}
	return strconv.AppendInt(nil, o.V, 10), nil
}

// Str is a string column that can be null; null and "" both decode to "".
// Numbers are accepted and kept as their text.
type Str string

// UnmarshalJSON implements json.Unmarshaler.
func (s *Str) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*s = ""
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = Str(v)
		return nil
	}
	var num json.Number
	if err := json.Unmarshal(b, &num); err != nil {
		return fmt.Errorf("not a string: %.40s", b)
	}
	*s = Str(num.String())
	return nil
}

// Bool decodes a real boolean, a 0/1 number or their strings.
type Bool bool

// UnmarshalJSON implements json.Unmarshaler.
func (v *Bool) UnmarshalJSON(b []byte) error {
	var n Int
	if err := n.UnmarshalJSON(b); err != nil {
		return err
	}
	*v = n != 0
	return nil
}

// Eval is one jobset evaluation, as GET /eval/{id} and the eval lists return it.
// Hydra does not say which jobset an eval belongs to: callers carry that.
type Eval struct {
	ID           Int                  `json:"id"`
	Timestamp    Int                  `json:"timestamp"`
	CheckoutTime Int                  `json:"checkouttime"`
	EvalTime     Int                  `json:"evaltime"`
	HasNewBuilds Int                  `json:"hasnewbuilds"`
	Flake        Str                  `json:"flake"`
	Builds       []Int                `json:"builds"`
	Inputs       map[string]EvalInput `json:"jobsetevalinputs"`
}

// EvalInput is one input of a legacy jobset's evaluation.
type EvalInput struct {
	Revision   Str    `json:"revision"`
	Value      Str    `json:"value"`
	Type       Str    `json:"type"`
	URI        Str    `json:"uri"`
	Dependency OptInt `json:"dependency"`
}

// EvalPage is one page of GET /jobset/{p}/{j}/evals.
type EvalPage struct {
	Evals    []Eval `json:"evals"`
	First    Str    `json:"first"`
	Last     Str    `json:"last"`
	Next     Str    `json:"next"`
	Previous Str    `json:"previous"`
}

// Build is one build, as GET /build/{id} returns it.
type Build struct {
	ID            Int                     `json:"id"`
	Finished      Int                     `json:"finished"`
	BuildStatus   OptInt                  `json:"buildstatus"`
	Timestamp     Int                     `json:"timestamp"`
	StartTime     OptInt                  `json:"starttime"`
	StopTime      OptInt                  `json:"stoptime"`
	Project       Str                     `json:"project"`
	Jobset        Str                     `json:"jobset"`
	Job           Str                     `json:"job"`
	NixName       Str                     `json:"nixname"`
	System        Str                     `json:"system"`
	DrvPath       Str                     `json:"drvpath"`
	Priority      Int                     `json:"priority"`
	ReleaseName   Str                     `json:"releasename"`
	JobsetEvals   []Int                   `json:"jobsetevals"`
	BuildOutputs  map[string]BuildOutput  `json:"buildoutputs"`
	BuildProducts map[string]BuildProduct `json:"buildproducts"`
	// BuildMetrics is {} on current servers and null on very old ones; both
	// decode to an empty map.
	BuildMetrics map[string]BuildMetric `json:"buildmetrics"`
}

// BuildOutput is one output path of a build.
type BuildOutput struct {
	Path Str `json:"path"`
}

// BuildProduct is one product of a build (nix-support/hydra-build-products).
type BuildProduct struct {
	Type        Str    `json:"type"`
	Subtype     Str    `json:"subtype"`
	Name        Str    `json:"name"`
	FileSize    OptInt `json:"filesize"`
	SHA256      Str    `json:"sha256hash"`
	Path        Str    `json:"path"`
	DefaultPath Str    `json:"defaultpath"`
}

// BuildMetric is one metric of a build.
type BuildMetric struct {
	Value json.Number `json:"value"`
	Unit  Str         `json:"unit"`
}

// Done reports whether the build has a final result. finished comes first:
// a restarted build has finished = 0 and still carries its old buildstatus.
func (b *Build) Done() bool { return b.Finished != 0 }

// Succeeded reports whether the build finished successfully.
func (b *Build) Succeeded() bool { return b.Done() && b.BuildStatus.Valid && b.BuildStatus.V == 0 }

// StatusName names the build's result as Hydra's UI does.
func (b *Build) StatusName() string {
	if !b.Done() {
		return "queued"
	}
	if !b.BuildStatus.Valid {
		return "finished without status"
	}
	return StatusName(b.BuildStatus.V)
}

// StatusName names a build status code.
func StatusName(code int64) string {
	switch code {
	case 0:
		return "succeeded"
	case 1:
		return "failed"
	case 2:
		return "dependency failed"
	case 3:
		return "aborted"
	case 4:
		return "cancelled"
	case 5:
		return "obsolete"
	case 6:
		return "failed with output"
	case 7:
		return "timed out"
	case 8:
		return "cached failure"
	case 9:
		return "unsupported system"
	case 10:
		return "log limit exceeded"
	case 11:
		return "output size limit exceeded"
	case 12:
		return "not deterministic"
	case 13:
		return "resolved"
	}
	return fmt.Sprintf("failed (status %d)", code)
}

// Jobset is GET /jobset/{p}/{j} (and /errors, which adds the real errormsg).
type Jobset struct {
	Name             Str                    `json:"name"`
	Project          Str                    `json:"project"`
	Description      Str                    `json:"description"`
	NixExprInput     Str                    `json:"nixexprinput"`
	NixExprPath      Str                    `json:"nixexprpath"`
	ErrorMsg         Str                    `json:"errormsg"`
	FetchErrorMsg    Str                    `json:"fetcherrormsg"`
	EmailOverride    Str                    `json:"emailoverride"`
	Type             Int                    `json:"type"`
	Flake            Str                    `json:"flake"`
	ErrorTime        OptInt                 `json:"errortime"`
	LastCheckedTime  OptInt                 `json:"lastcheckedtime"`
	TriggerTime      OptInt                 `json:"triggertime"`
	StartTime        OptInt                 `json:"starttime"`
	Enabled          Int                    `json:"enabled"`
	KeepNr           Int                    `json:"keepnr"`
	CheckInterval    Int                    `json:"checkinterval"`
	SchedulingShares Int                    `json:"schedulingshares"`
	EnableEmail      Bool                   `json:"enableemail"`
	Visible          Bool                   `json:"visible"`
	Inputs           map[string]JobsetInput `json:"inputs"`
}

// JobsetInput is one input of a legacy jobset.
type JobsetInput struct {
	Name             Str  `json:"name"`
	Type             Str  `json:"type"`
	Value            Str  `json:"value"`
	EmailResponsible Bool `json:"emailresponsible"`
}

// Idle reports whether no evaluation of the jobset is pending or running.
func (j *Jobset) Idle() bool { return !j.TriggerTime.Valid && !j.StartTime.Valid }

// apiError is Hydra's JSON error body.
type apiError struct {
	Error Str `json:"error"`
}

// DecodeEval decodes an Eval object.
func DecodeEval(b []byte) (*Eval, error) {
	var e Eval
	if err := decode(b, &e); err != nil {
		return nil, fmt.Errorf("hydra: eval: %w", err)
	}
	return &e, nil
}

// DecodeBuild decodes a Build object.
func DecodeBuild(b []byte) (*Build, error) {
	var v Build
	if err := decode(b, &v); err != nil {
		return nil, fmt.Errorf("hydra: build: %w", err)
	}
	return &v, nil
}

// DecodeJobset decodes a Jobset object.
func DecodeJobset(b []byte) (*Jobset, error) {
	var v Jobset
	if err := decode(b, &v); err != nil {
		return nil, fmt.Errorf("hydra: jobset: %w", err)
	}
	return &v, nil
}

// DecodeEvalPage decodes one page of an eval list.
func DecodeEvalPage(b []byte) (*EvalPage, error) {
	var v EvalPage
	if err := decode(b, &v); err != nil {
		return nil, fmt.Errorf("hydra: evals: %w", err)
	}
	return &v, nil
}

// decode insists on a JSON object or array: an HTML page (the answer when
// Accept was lost on the way, or a proxy's error page) is an error that names
// what came back, never a zero value.
func decode(b []byte, v any) error {
	t := bytes.TrimSpace(b)
	if len(t) == 0 {
		return fmt.Errorf("empty body")
	}
	if t[0] != '{' && t[0] != '[' {
		return fmt.Errorf("not JSON (starts with %q)", snippet(t))
	}
	if err := json.Unmarshal(t, v); err != nil {
		var ute *json.UnmarshalTypeError
		if errorsAs(err, &ute) && ute.Field != "" {
			return fmt.Errorf("field %s: %w", ute.Field, err)
		}
		return err
	}
	return nil
}

func snippet(b []byte) string {
	if len(b) > 40 {
		b = b[:40]
	}
	return string(b)
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }
