package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/ironworks-ci/ironworks/coordinator/sandbox"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

func init() {
	register(&command{name: "demo", summary: "play the upstream-breaks-downstream story on two tiny crates, with the web UI", run: demoCmd})
}

const demoSummary = `Make two tiny Rust crates in a folder (an upstream "merkletree" and a downstream
"rust-fil-proofs" that calls it), serve the web UI, and play the story:
both green; eight upstream commits, the fifth of which renames the function
the downstream calls; the incompatibility, its culprit found by bisection;
the fix. It needs git and cargo only (no network, no registry), takes about
a minute, and keeps serving the UI until Ctrl-C (or ends with --exit).`

func demoCmd(ctx context.Context, args []string) int {
	fs := newFlags("demo", demoSummary)
	dir := fs.String("dir", "", "folder for the crates, the configuration and the state (default: a new temporary folder)")
	listen := fs.String("listen", "127.0.0.1:8080", "address of the web UI")
	exit := fs.Bool("exit", false, "stop serving once the story is played")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up when the story takes longer")
	pace := fs.Duration("pace", 5*time.Second, "pause between the story's steps, to watch the UI follow")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	for _, tool := range []string{"git", "cargo"} {
		if _, err := exec.LookPath(tool); err != nil {
			fmt.Fprintf(os.Stderr, "coordinator demo: %s is not on PATH; the demo needs git and cargo (https://rustup.rs)\n", tool)
			return exitConfig
		}
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "ironworks-demo-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "coordinator demo:", err)
			return exitInfra
		}
		*dir = d
	}
	d, err := newDemo(ctx, *dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "coordinator demo:", err)
		if errors.Is(err, errUsedDir) {
			return exitUsage
		}
		return exitInfra
	}
	fmt.Printf("demo: crates, configuration and state in %s\n", d.dir)
	addr, err := freeAddr(*listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "coordinator demo:", err)
		return exitInfra
	}
	serveCtx, stopServe := context.WithCancel(ctx)
	defer stopServe()
	served := make(chan int, 1)
	go func() {
		served <- serveCmd(serveCtx, []string{"--config", d.cfg, "--listen", addr, "--through", "forge"})
	}()
	storyCtx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	played := make(chan error, 1)
	d.pace = *pace
	go func() { played <- d.play(storyCtx, os.Stdout, "http://"+addr) }()
	select {
	case code := <-served: // it could not start, or was stopped
		cancel()
		<-played
		return code
	case err = <-played:
	}
	if err != nil {
		stopServe()
		code := <-served
		if ctx.Err() != nil {
			return code
		}
		fmt.Fprintln(os.Stderr, "coordinator demo:", err)
		return exitInfra
	}
	if *exit {
		stopServe()
		return <-served
	}
	fmt.Println("demo: the UI keeps serving; Ctrl-C to stop")
	return <-served
}

// freeAddr resolves a listen address with port 0 to a free port, so that the
// demo knows the UI's address before serve binds it.
func freeAddr(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("listen %s: %w", addr, err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

type demo struct {
	dir, cfg string
	up, down string // repositories
	st       *store.Store
	pace     time.Duration
}

// pause waits between steps, so that a person watching sees each one.
func (d *demo) pause(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d.pace):
		return nil
	}
}

const (
	demoLib = `//! A stand-in for merkletree.

/// Number of leaves of a tree of the given arity and height.
pub fn leaf_count(arity: usize, height: u32) -> usize {
    arity.pow(height)
}

#[cfg(test)]
mod tests {
    #[test]
    fn leaves() {
        assert_eq!(super::leaf_count(8, 2), 64);
    }
}
`
	demoUpManifest = `[package]
name = "merkletree"
version = "0.23.0"
edition = "2021"

[dependencies]
`
	demoMember = `//! A stand-in for a rust-fil-proofs crate.

/// Sector leaves, as the proofs compute them through merkletree.
pub fn sector_leaves() -> usize {
    merkletree::leaf_count(8, 2)
}

#[cfg(test)]
mod tests {
    #[test]
    fn uses_merkletree() {
        assert_eq!(super::sector_leaves(), 64);
    }
}
`
	demoUpAdapter = `name = "merkletree"
repo = "unused"
[jobs.build]
stage = "forge"
command = "cargo build"
[jobs.test]
stage = "forge"
needs = ["build"]
command = "cargo test"
`
	demoDownAdapter = `name = "rust-fil-proofs"
repo = "unused"
[[upstream]]
name = "merkletree"
pin = "cargo-patch"
[jobs.build]
stage = "forge"
needs = ["merkletree:build"]
command = "cargo build --workspace"
[jobs.test]
stage = "forge"
needs = ["build", "merkletree:test"]
command = "cargo test --workspace"
`
)

// demoUpCommits are the story's upstream commits, oldest first; the one at
// index demoBreak (the fifth of eight) renames the function the downstream
// calls.
var demoUpCommits = []struct{ subject, author string }{
	{"docs: explain arity", "Maintainer <maintainer@example.org>"},
	{"bench: larger trees", "Bench Keeper <bench@example.org>"},
	{"refactor: name the height", "Maintainer <maintainer@example.org>"},
	{"test: a tree of height zero", "Bench Keeper <bench@example.org>"},
	{"rename leaf_count to leaves", "Hasty Contributor <hasty@example.org>"},
	{"docs: changelog", "Maintainer <maintainer@example.org>"},
	{"ci: cache the target folder", "Bench Keeper <bench@example.org>"},
	{"docs: mention leaves in the README", "Maintainer <maintainer@example.org>"},
}

const demoBreak = 4

var errUsedDir = errors.New("give --dir a new folder")

// newDemo writes the two repositories, their adapters and the configuration
// under dir.
func newDemo(ctx context.Context, dir string) (*demo, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	d := &demo{dir: dir, up: filepath.Join(dir, "src", "merkletree"), down: filepath.Join(dir, "src", "rust-fil-proofs")}
	if _, err := os.Stat(d.up); err == nil {
		return nil, fmt.Errorf("%s exists: %w", d.up, errUsedDir)
	}
	if err := d.repo(ctx, d.up, "Maintainer <maintainer@example.org>", "merkletree 0.23.0", map[string]string{
		"Cargo.toml": demoUpManifest, "src/lib.rs": demoLib, ".gitignore": "/target\nCargo.lock\n",
	}); err != nil {
		return nil, err
	}
	down := map[string]string{
		"Cargo.toml":                             "[workspace]\nresolver = \"2\"\nmembers = [\"filecoin-proofs\"]\n\n[workspace.dependencies]\nmerkletree = \"0.23.0\"\n",
		".cargo/config.toml":                     "[source.crates-io]\nreplace-with = \"vendored\"\n\n[source.vendored]\ndirectory = \"vendor\"\n",
		"vendor/merkletree/Cargo.toml":           demoUpManifest,
		"vendor/merkletree/src/lib.rs":           demoLib,
		"vendor/merkletree/.cargo-checksum.json": `{"files":{},"package":null}`,
		"filecoin-proofs/Cargo.toml":             "[package]\nname = \"filecoin-proofs\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nmerkletree.workspace = true\n",
		"filecoin-proofs/src/lib.rs":             demoMember,
		".gitignore":                             "/target\n",
	}
	if err := d.repo(ctx, d.down, "Maintainer <maintainer@example.org>", "rust-fil-proofs", down); err != nil {
		return nil, err
	}
	if out, err := runTool(ctx, d.down, "cargo", "generate-lockfile", "--offline"); err != nil {
		return nil, fmt.Errorf("cargo generate-lockfile: %v\n%s", err, out)
	}
	if err := d.commit(ctx, d.down, "Maintainer <maintainer@example.org>", "Cargo.lock", nil); err != nil {
		return nil, err
	}
	if err := writeAdapters(dir, map[string]string{"merkletree": demoUpAdapter, "rust-fil-proofs": demoDownAdapter}); err != nil {
		return nil, err
	}
	mode := "bwrap"
	if err := (&sandbox.Sandbox{Mode: mode}).Check(ctx); err != nil {
		fmt.Printf("demo: jobs run unsandboxed here (%v)\n", err)
		mode = "off"
	}
	d.cfg = filepath.Join(dir, "ironworks.toml")
	cfg := "# The demo's configuration: two local repositories, the local engine.\n" + demoComponents("file://"+d.up, "file://"+d.down) + fmt.Sprintf(`
[engine]
poll_interval = "500ms"
attempts = 1
sandbox = %q
`, mode)
	if err := os.WriteFile(d.cfg, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	return d, nil
}

// demoComponents is the start of a configuration of the demo's two
// components, merkletree and rust-fil-proofs, at the repositories up and down,
// with their adapters in adapters/ and the state in state/.
func demoComponents(up, down string) string {
	return fmt.Sprintf(`state_dir = "state"
adapters  = ["adapters/merkletree", "adapters/rust-fil-proofs"]

[components.merkletree]
repo = %q

[components.rust-fil-proofs]
repo = %q
`, up, down)
}

// writeAdapters writes each adapter (component name -> adapter.toml) to
// dir/adapters/NAME/adapter.toml.
func writeAdapters(dir string, adapters map[string]string) error {
	for name, body := range adapters {
		a := filepath.Join(dir, "adapters", name)
		if err := os.MkdirAll(a, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(a, "adapter.toml"), []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func (d *demo) repo(ctx context.Context, dir, author, msg string, files map[string]string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if out, err := runTool(ctx, dir, "git", "init", "-q", "-b", "master"); err != nil {
		return fmt.Errorf("git init: %v\n%s", err, out)
	}
	return d.commit(ctx, dir, author, msg, files)
}

// commit writes files and commits everything as author ("Name <mail>").
func (d *demo) commit(ctx context.Context, dir, author, msg string, files map[string]string) error {
	for p, body := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			return err
		}
	}
	name, mail, _ := strings.Cut(strings.TrimSuffix(author, ">"), " <")
	if out, err := runTool(ctx, dir, "git", "add", "-A"); err != nil {
		return fmt.Errorf("git add: %v\n%s", err, out)
	}
	if out, err := runTool(ctx, dir, "git", "-c", "user.name="+name, "-c", "user.email="+mail, "-c", "commit.gpgsign=false",
		"commit", "-q", "--allow-empty", "-m", msg); err != nil {
		return fmt.Errorf("git commit: %v\n%s", err, out)
	}
	return nil
}

func (d *demo) head(ctx context.Context, dir string) (string, error) {
	out, err := runTool(ctx, dir, "git", "rev-parse", "HEAD")
	return strings.TrimSpace(out), err
}

func runTool(ctx context.Context, dir, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// play runs the story against the serving coordinator and tells it on w.
func (d *demo) play(ctx context.Context, w io.Writer, base string) error {
	st, err := d.store(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	d.st = st
	fmt.Fprintf(w, "demo: 1/4 both crates at their first commits; watch %s\n", base)
	run, err := d.waitHead(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "demo:     forge %s (run %d)\n", run.Verdict, run.ID)
	if err := d.pause(ctx); err != nil {
		return err
	}

	for i, c := range demoUpCommits {
		files := map[string]string{"NOTES.md": fmt.Sprintf("note %d: %s\n", i+1, c.subject)}
		if i == demoBreak {
			files["src/lib.rs"] = strings.ReplaceAll(demoLib, "leaf_count", "leaves")
		}
		if err := d.commit(ctx, d.up, c.author, c.subject, files); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "demo: 2/4 %d merkletree commits pushed; commit %d renames leaf_count, which rust-fil-proofs calls\n", len(demoUpCommits), demoBreak+1)
	run, err = d.waitHead(ctx)
	if err != nil {
		return err
	}
	line := fmt.Sprintf("forge %s", run.Verdict)
	if c, ok := run.Detail["culprit"].(map[string]any); ok {
		line = fmt.Sprintf("rust-fil-proofs is %s with merkletree; culprit %s %q by %v", run.Verdict, store.ShortRev(fmt.Sprint(c["rev"])), c["subject"], c["author"])
		if b, ok := run.Detail["bisect"].(map[string]any); ok {
			line += fmt.Sprintf(", found by bisection in %v probes", b["probes"])
		}
	}
	fmt.Fprintf(w, "demo: 3/4 %s\n", line)
	fmt.Fprintf(w, "demo:     see %s/candidates/%s#run-%d and %s/compat\n", base, run.Candidate, run.ID, base)
	culprit := line
	if err := d.pause(ctx); err != nil {
		return err
	}

	if err := d.commit(ctx, d.up, "Maintainer <maintainer@example.org>", "keep leaf_count as an alias of leaves",
		map[string]string{"src/lib.rs": strings.ReplaceAll(demoLib, "leaf_count", "leaves") + "\n/// The old name, kept for downstreams.\npub fn leaf_count(arity: usize, height: u32) -> usize {\n    leaves(arity, height)\n}\n"}); err != nil {
		return err
	}
	fmt.Fprintln(w, "demo: 4/4 merkletree restores leaf_count as an alias")
	run, err = d.waitHead(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "demo:     forge %s (run %d)\n", run.Verdict, run.ID)
	fmt.Fprintf(w, "demo: done: %s; fixed, forge %s; the UI at %s\n", culprit, run.Verdict, base)
	return nil
}

func (d *demo) store(ctx context.Context) (*store.Store, error) {
	path := filepath.Join(d.dir, "state", "ironworks.db")
	for {
		if _, err := os.Stat(path); err == nil {
			return store.Open(ctx, path)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitHead waits until the forge run of the candidate of both current heads
// is done and returns it.
func (d *demo) waitHead(ctx context.Context) (*store.Run, error) {
	up, err := d.head(ctx, d.up)
	if err != nil {
		return nil, err
	}
	down, err := d.head(ctx, d.down)
	if err != nil {
		return nil, err
	}
	id := store.CandidateID(map[string]store.Revision{"merkletree": {Rev: up}, "rust-fil-proofs": {Rev: down}})
	for {
		runs, err := d.st.Runs(ctx, store.RunFilter{Candidate: id, Stage: "forge", Kind: "stage", Limit: 1})
		if err != nil && ctx.Err() == nil {
			return nil, err
		}
		if len(runs) > 0 && runs[0].State == store.RunDone {
			return runs[0], nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for the run of %s: %w", id, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
