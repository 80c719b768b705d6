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
	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/forge"
)

func init() {
	register(&command{name: "notify-pr", summary: "report any CI's result to a pull request: status, one comment, uploaded logs", run: runNotifyPR})
}

// notifyPRInput is what notify-pr reports and where; flags and the --file
// TOML share its keys. It needs no coordinator configuration.
type notifyPRInput struct {
	Repo          string        `toml:"repo"`
	Commit        string        `toml:"commit"`
	SummaryFile   string        `toml:"summary_file"`
	Upload        []string      `toml:"upload"`
	RetentionDays int           `toml:"retention_days"`
	State         string        `toml:"state"`
	Context       string        `toml:"context"`
	TargetURL     string        `toml:"target_url"`
	TokenFile     string        `toml:"token_file"`
	APIURL        string        `toml:"api_url"`
	Store         notifyPRStore `toml:"store"`
}

// notifyPRStore is where uploads go: a folder served over HTTP with signed
// links (kind fs: dir, url, key_file), or an S3 bucket with presigned links
// (kind s3).
type notifyPRStore struct {
	Kind          string `toml:"kind"`
	Dir           string `toml:"dir"`
	URL           string `toml:"url"`
	KeyFile       string `toml:"key_file"`
	Endpoint      string `toml:"endpoint"`
	Bucket        string `toml:"bucket"`
	Region        string `toml:"region"`
	AccessKeyFile string `toml:"access_key_file"`
	SecretKeyFile string `toml:"secret_key_file"`
	Insecure      bool   `toml:"insecure"`
}

const notifyPRKeys = "repo, commit, summary_file, upload, retention_days, state, context, target_url, token_file, api_url, [store] kind, dir, url, key_file, endpoint, bucket, region, access_key_file, secret_key_file, insecure"

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
		errs = append(errs, fmt.Errorf("%s:%d: %s: unknown key (known: %s)", name, keyLine(data, k.String()), k, notifyPRKeys))
	}
	return in, errors.Join(errs...)
}

// keyLine finds the line where a top-level or dotted key is assigned or
// opened; for a key of a table, the line inside that table.
func keyLine(data []byte, key string) int {
	parts := strings.Split(key, ".")
	table, last := "", parts[len(parts)-1]
	if len(parts) > 1 {
		table = strings.Join(parts[:len(parts)-1], ".")
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	current, first := "", 0
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			current = strings.Trim(line, "[] ")
			if first == 0 && (current == key || current == parts[0]) {
				first = n
			}
			continue
		}
		if k, _, ok := strings.Cut(line, "="); ok {
			k = strings.Trim(strings.TrimSpace(k), `"'`)
			if current == table && k == last {
				return n
			}
			if first == 0 && current == "" && k == parts[0] {
				first = n
			}
		}
	}
	return first
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
	if in.TokenFile == "" {
		errs = append(errs, errors.New("token_file: required (a file holding the GitHub token)"))
	}
	if in.TargetURL != "" && !strings.HasPrefix(in.TargetURL, "https://") && !strings.HasPrefix(in.TargetURL, "http://") {
		errs = append(errs, fmt.Errorf("target_url %q: want an http(s) URL", in.TargetURL))
	}
	s := in.Store
	switch s.Kind {
	case "":
		if len(in.Upload) > 0 {
			errs = append(errs, errors.New("upload: needs a [store] (kind fs or s3) to upload to"))
		}
	case "fs":
		if s.Dir == "" {
			errs = append(errs, errors.New("store.dir: required for kind fs"))
		}
		if !strings.HasPrefix(s.URL, "https://") && !strings.HasPrefix(s.URL, "http://") {
			errs = append(errs, fmt.Errorf("store.url %q: want the http(s) URL that serves store.dir (`coordinator serve-artifacts`): links must open over HTTP", s.URL))
		}
		if s.KeyFile == "" {
			errs = append(errs, errors.New("store.key_file: required for kind fs (the key that signs links)"))
		}
	case "s3":
		for field, v := range map[string]string{"endpoint": s.Endpoint, "bucket": s.Bucket, "access_key_file": s.AccessKeyFile, "secret_key_file": s.SecretKeyFile} {
			if v == "" {
				errs = append(errs, fmt.Errorf("store.%s: required for kind s3", field))
			}
		}
	default:
		errs = append(errs, fmt.Errorf("store.kind %q: want fs or s3", s.Kind))
	}
	return errors.Join(errs...)
}

// maxComment keeps the comment under GitHub's 65,536-character limit.
const maxComment = 60000

// maxPresign is the longest life of an S3 presigned link.
const maxPresign = 7 * 24 * time.Hour

// defaultRetentionDays is how long uploads are kept when nothing says.
const defaultRetentionDays = 14

// notifyPRMarker is notify-pr's comment marker: one comment per context,
// never the coordinator's own comment (forge.Marker).
func notifyPRMarker(context string) string {
	if context == "" {
		context = "notify-pr"
	}
	return "<!-- ironworks:pr-comment:" + strings.ReplaceAll(context, "--", "-") + " -->"
}

func runNotifyPR(ctx context.Context, args []string) int {
	fs := newFlags("notify-pr", "Report a CI result to the pull request of a commit: upload the summary and logs (files and\n"+
		"folders, recursively, in parallel) to a store (a folder served over HTTP with signed links, or S3\n"+
		"with presigned links), set a commit status whose target is the summary (or --target-url), and\n"+
		"create or update ONE comment per --context with the summary and links to the logs.\n"+
		"Keys can come from a TOML file of its own (--file; keys: "+notifyPRKeys+"); flags override it.\n"+
		"No coordinator configuration is needed; --config only supplies defaults from its [github],\n"+
		"[artifacts] and web.url (links then open through that coordinator's serve).")
	cfgPath := fs.String("config", "", "optional coordinator configuration supplying defaults")
	file := fs.String("file", "", "TOML file with notify-pr's keys")
	var in notifyPRInput
	var uploads multiFlag
	fs.StringVar(&in.Repo, "repo", "", "GitHub repository owner/name")
	fs.StringVar(&in.Commit, "commit", "", "commit SHA the result is for")
	fs.StringVar(&in.SummaryFile, "summary-file", "", "Markdown summary for the comment")
	fs.Var(&uploads, "upload", "file or folder to upload (repeatable)")
	fs.IntVar(&in.RetentionDays, "retention-days", 0, "keep uploads this many days (default 14)")
	fs.StringVar(&in.State, "state", "", "commit status: pending, success, failure or error (default: no status)")
	fs.StringVar(&in.Context, "context", "", "commit status context and comment name, e.g. ci/tests (default comment: notify-pr)")
	fs.StringVar(&in.TargetURL, "target-url", "", "status link (default: the uploaded summary)")
	fs.StringVar(&in.TokenFile, "token-file", "", "file holding the GitHub token")
	fs.StringVar(&in.APIURL, "api-url", "", "GitHub REST API root (default https://api.github.com/)")
	fs.StringVar(&in.Store.Kind, "store", "", "upload store: fs or s3 (s3 settings come from --file or --config)")
	fs.StringVar(&in.Store.Dir, "store-dir", "", "fs store: the folder uploads go to")
	fs.StringVar(&in.Store.URL, "store-url", "", "fs store: the http(s) URL that serves the folder (coordinator serve-artifacts)")
	fs.StringVar(&in.Store.KeyFile, "store-key-file", "", "fs store: file holding the key that signs links")
	parallel := fs.Int("parallel", 8, "uploads at once")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(os.Stderr, "coordinator notify-pr: "+format+"\n", a...)
		return code
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	in.Upload = uploads
	if *file != "" {
		data, err := os.ReadFile(*file)
		if err != nil {
			return fail(exitUsage, "%v", err)
		}
		fromFile, err := parseNotifyPRFile(*file, data)
		if err != nil {
			return fail(exitUsage, "%v", err)
		}
		in = mergeNotifyPRFile(in, fromFile, set, filepath.Dir(*file))
	}
	var signKey []byte
	if *cfgPath != "" {
		cfg, err := loadConfig(*cfgPath)
		if err != nil {
			return fail(exitConfig, "%v", err)
		}
		if signKey, err = notifyPRConfigDefaults(&in, cfg); err != nil {
			return fail(exitConfig, "%v", err)
		}
	}
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
	token, err := os.ReadFile(in.TokenFile)
	if err != nil {
		return fail(exitConfig, "token_file: %v", err)
	}
	if strings.TrimSpace(string(token)) == "" {
		return fail(exitConfig, "token_file %s is empty", in.TokenFile)
	}
	api := in.APIURL
	if api == "" {
		api = "https://api.github.com/"
	}
	gh := forge.New(api, strings.TrimSpace(string(token)), nil)
	owner, name, _ := forge.ParseRepo(in.Repo)

	days := in.RetentionDays
	if days == 0 {
		days = defaultRetentionDays
	}
	var links []string
	summaryURL, retention := "", ""
	if in.Store.Kind != "" {
		st, ttl, err := openNotifyPRStore(ctx, in.Store, days, signKey)
		if err != nil {
			return fail(exitConfig, "%v", err)
		}
		up, err := uploadNotifyPR(ctx, st, in, summary, days, *parallel)
		if err != nil {
			return fail(exitInfra, "%v", err)
		}
		for i, k := range up.keys {
			u, err := st.URL(ctx, k, ttl)
			if err != nil {
				return fail(exitInfra, "%v", err)
			}
			if i == 0 {
				summaryURL = u // the summary is uploaded first
				continue
			}
			links = append(links, fmt.Sprintf("- [%s](%s)", strings.TrimPrefix(k, up.prefix+"/"), u))
		}
		retention = retentionText(days, ttl, time.Now())
		fmt.Printf("uploaded %d file(s)\n", len(up.keys)-1)
	}
	target := in.TargetURL
	if target == "" {
		target = summaryURL
	}

	if in.State != "" {
		desc, _, _ := strings.Cut(strings.TrimSpace(string(summary)), "\n")
		desc = strings.TrimLeft(desc, "# ")
		if err := gh.SetStatus(ctx, owner, name, in.Commit, forge.Status{State: in.State, Context: in.Context, Description: desc, TargetURL: target}); err != nil {
			return fail(exitInfra, "%v", err)
		}
		fmt.Printf("status %s: %s %s\n", in.Context, in.State, target)
	}

	pr, err := gh.PullRequestForCommit(ctx, owner, name, in.Commit)
	if err != nil {
		return fail(exitInfra, "%v", err)
	}
	if pr == 0 {
		fmt.Printf("no open pull request contains %s; no comment\n", in.Commit)
		return exitOK
	}
	var body strings.Builder
	body.WriteString(strings.TrimSpace(string(summary)))
	if len(links) > 0 {
		fmt.Fprintf(&body, "\n\n<details><summary>Logs (%d; %s)</summary>\n\n", len(links), retention)
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
	id, err := gh.UpsertComment(ctx, owner, name, pr, notifyPRMarker(in.Context), text, 0)
	if err != nil {
		return fail(exitInfra, "%v", err)
	}
	fmt.Printf("comment %d on %s#%d\n", id, in.Repo, pr)
	return exitOK
}

// mergeNotifyPRFile fills what no flag set from the file; relative paths in
// the file are relative to its folder.
func mergeNotifyPRFile(in, f notifyPRInput, set map[string]bool, base string) notifyPRInput {
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(base, p)
	}
	pick := func(flagName string, dst *string, v string) {
		if !set[flagName] {
			*dst = v
		}
	}
	pick("repo", &in.Repo, f.Repo)
	pick("commit", &in.Commit, f.Commit)
	pick("summary-file", &in.SummaryFile, rel(f.SummaryFile))
	pick("state", &in.State, f.State)
	pick("context", &in.Context, f.Context)
	pick("target-url", &in.TargetURL, f.TargetURL)
	pick("token-file", &in.TokenFile, rel(f.TokenFile))
	pick("api-url", &in.APIURL, f.APIURL)
	if !set["retention-days"] {
		in.RetentionDays = f.RetentionDays
	}
	if !set["upload"] {
		for _, u := range f.Upload {
			in.Upload = append(in.Upload, rel(u))
		}
	}
	s := f.Store
	s.Dir, s.KeyFile, s.AccessKeyFile, s.SecretKeyFile = rel(s.Dir), rel(s.KeyFile), rel(s.AccessKeyFile), rel(s.SecretKeyFile)
	if set["store"] {
		s.Kind = in.Store.Kind
	}
	if set["store-dir"] {
		s.Dir = in.Store.Dir
	}
	if set["store-url"] {
		s.URL = in.Store.URL
	}
	if set["store-key-file"] {
		s.KeyFile = in.Store.KeyFile
	}
	in.Store = s
	return in
}

// notifyPRConfigDefaults fills what is still unset from a coordinator
// configuration: its GitHub token and API, and its artifact store with the
// coordinator's own link key, so that its serve opens the links. It returns
// that key for the filesystem store.
func notifyPRConfigDefaults(in *notifyPRInput, cfg *config.Config) ([]byte, error) {
	if cfg.GitHub != nil {
		if in.TokenFile == "" {
			in.TokenFile = cfg.GitHub.TokenFile
		}
		if in.APIURL == "" {
			in.APIURL = cfg.GitHub.APIURL
		}
	}
	if in.RetentionDays == 0 {
		in.RetentionDays = cfg.Artifacts.RetentionDays
	}
	if in.Store.Kind != "" || len(in.Upload) == 0 && cfg.Web.URL == "" {
		return nil, nil
	}
	a := cfg.Artifacts
	switch a.Kind {
	case "", "fs":
		// The coordinator's own link key, so that its serve opens the links.
		in.Store = notifyPRStore{Kind: "fs", Dir: a.Dir, URL: cfg.Web.URL, KeyFile: filepath.Join(cfg.StateDir, "artifact-links.key")}
		return stateKey(cfg.StateDir, "artifact-links.key")
	case "s3":
		in.Store = notifyPRStore{Kind: "s3", Endpoint: a.Endpoint, Bucket: a.Bucket, Region: a.Region, AccessKeyFile: a.AccessKeyFile, SecretKeyFile: a.SecretKeyFile, Insecure: a.Insecure}
	}
	return nil, nil
}

// openNotifyPRStore opens the upload store and says how long its links
// last: the retention for signed links of the folder, at most seven days for
// S3's presigned links.
func openNotifyPRStore(ctx context.Context, s notifyPRStore, days int, key []byte) (artifacts.Store, time.Duration, error) {
	ttl := time.Duration(days) * 24 * time.Hour
	switch s.Kind {
	case "fs":
		if key == nil {
			b, err := os.ReadFile(s.KeyFile)
			if err != nil {
				return nil, 0, fmt.Errorf("store.key_file: %w", err)
			}
			if key = bytes.TrimSpace(b); len(key) < 16 {
				return nil, 0, fmt.Errorf("store.key_file %s: want at least 16 bytes of key", s.KeyFile)
			}
		}
		st, err := artifacts.NewFS(s.Dir, days, s.URL, key)
		return st, ttl, err
	default:
		ak, err := readKeyFile("store.access_key_file", s.AccessKeyFile)
		if err != nil {
			return nil, 0, err
		}
		sk, err := readKeyFile("store.secret_key_file", s.SecretKeyFile)
		if err != nil {
			return nil, 0, err
		}
		st, err := artifacts.NewS3(ctx, artifacts.S3Config{Endpoint: s.Endpoint, Bucket: s.Bucket, Region: s.Region, AccessKey: ak, SecretKey: sk, Insecure: s.Insecure, RetentionDays: days})
		return st, min(ttl, maxPresign), err
	}
}

func readKeyFile(field, path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", field, err)
	}
	if s := strings.TrimSpace(string(b)); s != "" {
		return s, nil
	}
	return "", fmt.Errorf("%s: %s is empty", field, path)
}

type notifyPRUpload struct {
	prefix string
	keys   []string // the summary first, then every upload
}

// uploadNotifyPR uploads the summary and every file and folder asked for
// under notify-pr/<repo>/<commit>/<time>/.
func uploadNotifyPR(ctx context.Context, st artifacts.Store, in notifyPRInput, summary []byte, days, parallel int) (notifyPRUpload, error) {
	up := notifyPRUpload{prefix: fmt.Sprintf("notify-pr/%s/%s/%s", in.Repo, in.Commit, time.Now().UTC().Format("20060102T150405Z"))}
	opts := artifacts.PutOptions{RetentionDays: days}
	o := opts
	o.Size, o.ContentType = int64(len(summary)), "text/markdown; charset=utf-8"
	key := up.prefix + "/summary.md"
	if err := st.PutWith(ctx, key, bytes.NewReader(summary), o); err != nil {
		return up, err
	}
	up.keys = append(up.keys, key)
	for _, u := range in.Upload {
		info, err := os.Stat(u)
		if err != nil {
			return up, err
		}
		if info.IsDir() {
			k, err := artifacts.UploadDir(ctx, st, up.prefix+"/"+filepath.Base(filepath.Clean(u)), u, parallel, opts)
			if err != nil {
				return up, err
			}
			up.keys = append(up.keys, k...)
			continue
		}
		f, err := os.Open(u)
		if err != nil {
			return up, err
		}
		o := opts
		o.Size = info.Size()
		key := up.prefix + "/" + filepath.Base(u)
		err = st.PutWith(ctx, key, f, o)
		f.Close()
		if err != nil {
			return up, err
		}
		up.keys = append(up.keys, key)
	}
	return up, nil
}

// retentionText says truthfully how long the links work and the files are
// kept.
func retentionText(days int, ttl time.Duration, now time.Time) string {
	until := now.Add(ttl).UTC().Format("2006-01-02 15:04 UTC")
	if ttl >= time.Duration(days)*24*time.Hour {
		return fmt.Sprintf("kept %d days: links work until %s", days, until)
	}
	return fmt.Sprintf("kept %d days; these links work until %s (presigned links last 7 days at most), run notify-pr again for fresh ones", days, until)
}
