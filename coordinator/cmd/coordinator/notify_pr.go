package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/ironworks-ci/ironworks/coordinator/artifacts"
	"github.com/ironworks-ci/ironworks/coordinator/forge"
)

func init() {
	register(&command{name: "notify-pr", summary: "report any CI's result to a pull request: status, one comment, uploaded logs", run: runNotifyPR})
}

// notifyPRInput is what notify-pr reports; flags and the --file TOML share its keys.
type notifyPRInput struct {
	Repo          string   `toml:"repo"`
	Commit        string   `toml:"commit"`
	SummaryFile   string   `toml:"summary_file"`
	Upload        []string `toml:"upload"`
	RetentionDays int      `toml:"retention_days"`
	State         string   `toml:"state"`
	Context       string   `toml:"context"`
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

var commitRe = regexp.MustCompile(`^[0-9a-f]{7,64}$`)

// parseNotifyPRFile reads a notify-pr TOML file; unknown keys are errors
// naming file and line.
func parseNotifyPRFile(name string, data []byte) (notifyPRInput, error) {
	var in notifyPRInput
	md, err := toml.Decode(string(data), &in)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return in, fmt.Errorf("%s:%d: %s", name, pe.Position.Line, pe.Message)
		}
		return in, fmt.Errorf("%s: %w", name, err)
	}
	var errs []error
	for _, k := range md.Undecoded() {
		errs = append(errs, fmt.Errorf("%s:%d: %s: unknown key (known: repo, commit, summary_file, upload, retention_days, state, context)", name, keyLine(data, k.String()), k))
	}
	return in, errors.Join(errs...)
}

// keyLine finds the line where a top-level or dotted key is assigned or opened.
func keyLine(data []byte, key string) int {
	first := strings.SplitN(key, ".", 2)[0]
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "["+first) || strings.HasPrefix(line, "[["+first) {
			return n
		}
		if k, _, ok := strings.Cut(line, "="); ok && strings.Trim(strings.TrimSpace(k), `"'`) == first {
			return n
		}
	}
	return 0
}

func (in *notifyPRInput) validate() error {
	var errs []error
	if _, _, err := forge.ParseRepo(in.Repo); err != nil {
		errs = append(errs, fmt.Errorf("repo: %w", err))
	}
	if !commitRe.MatchString(in.Commit) {
		errs = append(errs, fmt.Errorf("commit %q: want a hexadecimal commit id", in.Commit))
	}
	if in.SummaryFile == "" {
		errs = append(errs, errors.New("summary_file: required"))
	}
	switch in.State {
	case "", "pending", "success", "failure", "error":
	default:
		errs = append(errs, fmt.Errorf("state %q: want pending, success, failure or error", in.State))
	}
	if in.State != "" && in.Context == "" {
		errs = append(errs, errors.New("context: required with state"))
	}
	if in.RetentionDays < 0 {
		errs = append(errs, errors.New("retention_days: must not be negative"))
	}
	return errors.Join(errs...)
}

// maxComment keeps the comment under GitHub's 65,536-character limit.
const maxComment = 60000

func runNotifyPR(ctx context.Context, args []string) int {
	fs := newFlags("notify-pr", "Report a CI result to the pull request of a commit: upload logs (files and folders, recursively,\n"+
		"in parallel) to the artifact store, set a commit status, and create or update ONE comment with the\n"+
		"summary and links to the logs. Keys can also come from a TOML file (--file); flags override it.\n"+
		"The [github] and [artifacts] sections of --config are used.")
	cfgPath := fs.String("config", "", "configuration file with [github] and [artifacts] (required)")
	file := fs.String("file", "", "TOML file with the keys repo, commit, summary_file, upload, retention_days, state, context")
	var in notifyPRInput
	var uploads multiFlag
	fs.StringVar(&in.Repo, "repo", "", "GitHub repository owner/name")
	fs.StringVar(&in.Commit, "commit", "", "commit SHA the result is for")
	fs.StringVar(&in.SummaryFile, "summary-file", "", "Markdown summary for the comment")
	fs.Var(&uploads, "upload", "file or folder to upload (repeatable)")
	fs.IntVar(&in.RetentionDays, "retention-days", 0, "keep uploads this many days (default: artifacts.retention_days)")
	fs.StringVar(&in.State, "state", "", "commit status: pending, success, failure or error (default: no status)")
	fs.StringVar(&in.Context, "context", "", "commit status context, e.g. ci/tests")
	parallel := fs.Int("parallel", 8, "uploads at once")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(os.Stderr, "coordinator notify-pr: "+format+"\n", a...)
		return code
	}
	if *file != "" {
		data, err := os.ReadFile(*file)
		if err != nil {
			return fail(exitUsage, "%v", err)
		}
		fromFile, err := parseNotifyPRFile(*file, data)
		if err != nil {
			return fail(exitUsage, "%v", err)
		}
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		base := filepath.Dir(*file)
		rel := func(p string) string {
			if p == "" || filepath.IsAbs(p) {
				return p
			}
			return filepath.Join(base, p)
		}
		if !set["repo"] {
			in.Repo = fromFile.Repo
		}
		if !set["commit"] {
			in.Commit = fromFile.Commit
		}
		if !set["summary-file"] {
			in.SummaryFile = rel(fromFile.SummaryFile)
		}
		if !set["retention-days"] {
			in.RetentionDays = fromFile.RetentionDays
		}
		if !set["state"] {
			in.State = fromFile.State
		}
		if !set["context"] {
			in.Context = fromFile.Context
		}
		if !set["upload"] {
			for _, u := range fromFile.Upload {
				uploads = append(uploads, rel(u))
			}
		}
	}
	in.Upload = uploads
	if err := in.validate(); err != nil {
		return fail(exitUsage, "%v", err)
	}
	summary, err := os.ReadFile(in.SummaryFile)
	if err != nil {
		return fail(exitUsage, "summary: %v", err)
	}
	for _, u := range in.Upload {
		if _, err := os.Stat(u); err != nil {
			return fail(exitUsage, "upload: %v", err)
		}
	}
	if *cfgPath == "" {
		return fail(exitUsage, "--config is required (its [github] and [artifacts] sections)")
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return fail(exitConfig, "%v", err)
	}
	gh, err := forge.NewFromConfig(cfg.GitHub)
	if err != nil {
		return fail(exitConfig, "%v", err)
	}
	owner, name, _ := forge.ParseRepo(in.Repo)

	var links []string
	if len(in.Upload) > 0 {
		st, err := artifacts.FromConfig(ctx, cfg, nil)
		if err != nil {
			return fail(exitConfig, "%v", err)
		}
		prefix := fmt.Sprintf("notify-pr/%s/%s/%s", in.Repo, in.Commit, time.Now().UTC().Format("20060102T150405Z"))
		opts := artifacts.PutOptions{RetentionDays: in.RetentionDays}
		var keys []string
		for _, u := range in.Upload {
			info, _ := os.Stat(u)
			if info.IsDir() {
				k, err := artifacts.UploadDir(ctx, st, prefix+"/"+filepath.Base(filepath.Clean(u)), u, *parallel, opts)
				if err != nil {
					return fail(exitInfra, "%v", err)
				}
				keys = append(keys, k...)
				continue
			}
			f, err := os.Open(u)
			if err != nil {
				return fail(exitInfra, "%v", err)
			}
			o := opts
			o.Size = info.Size()
			key := prefix + "/" + filepath.Base(u)
			err = st.PutWith(ctx, key, f, o)
			f.Close()
			if err != nil {
				return fail(exitInfra, "%v", err)
			}
			keys = append(keys, key)
		}
		for _, k := range keys {
			u, err := st.URL(ctx, k, 7*24*time.Hour)
			if err != nil {
				return fail(exitInfra, "%v", err)
			}
			links = append(links, fmt.Sprintf("- [%s](%s)", strings.TrimPrefix(k, prefix+"/"), u))
		}
		fmt.Printf("uploaded %d file(s)\n", len(keys))
	}

	if in.State != "" {
		desc, _, _ := strings.Cut(strings.TrimSpace(string(summary)), "\n")
		desc = strings.TrimLeft(desc, "# ")
		if err := gh.SetStatus(ctx, owner, name, in.Commit, forge.Status{State: in.State, Context: in.Context, Description: desc}); err != nil {
			return fail(exitInfra, "%v", err)
		}
		fmt.Printf("status %s: %s\n", in.Context, in.State)
	}

	pr, err := gh.PullRequestForCommit(ctx, owner, name, in.Commit)
	if err != nil {
		return fail(exitInfra, "%v", err)
	}
	if pr == 0 {
		fmt.Printf("no open pull request contains %s; no comment\n", in.Commit)
		return exitOK
	}
	marker := forge.Marker
	if in.Context != "" {
		marker = "<!-- ironworks:pr-comment:" + strings.ReplaceAll(in.Context, "--", "-") + " -->"
	}
	var body strings.Builder
	body.WriteString(strings.TrimSpace(string(summary)))
	if len(links) > 0 {
		days := in.RetentionDays
		if days == 0 {
			days = cfg.Artifacts.RetentionDays
		}
		fmt.Fprintf(&body, "\n\n<details><summary>Logs (%d; kept %d days, links valid 7 days)</summary>\n\n", len(links), days)
		for i, l := range links {
			if body.Len()+len(l) > maxComment-200 {
				fmt.Fprintf(&body, "- … and %d more\n", len(links)-i)
				break
			}
			body.WriteString(l + "\n")
		}
		body.WriteString("\n</details>")
	}
	fmt.Fprintf(&body, "\n\n<sub>Commit %s, updated %s</sub>\n", in.Commit, time.Now().UTC().Format(time.RFC3339))
	text := body.String()
	if len(text) > maxComment {
		text = text[:maxComment] + "\n\n(truncated)\n"
	}
	id, err := gh.UpsertComment(ctx, owner, name, pr, marker, text, 0)
	if err != nil {
		return fail(exitInfra, "%v", err)
	}
	fmt.Printf("comment %d on %s#%d\n", id, in.Repo, pr)
	return exitOK
}
