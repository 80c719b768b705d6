// Package sandbox runs untrusted commands (a pull request's build script is
// one) under bubblewrap: the command sees the system's read-only directories,
// its toolchains, the paths it is given and a private /tmp and home, and
// nothing else of the machine — not the coordinator's state directory, its
// database, its secret files or other runs. It runs as an unprivileged user
// in its own PID namespace, so that everything it starts, setsid escapes
// included, dies with it.
//
// bubblewrap (Debian's bubblewrap package) is chosen over hand-made
// namespaces because it is small, audited and used by Flatpak; over systemd
// transient units because the coordinator also runs where systemd is not PID 1
// (containers, CI).
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// Mode names how commands are isolated.
const (
	Bwrap = "bwrap" // the default
	Off   = "off"   // no isolation: commands see everything the coordinator sees
)

// Sandbox builds sandboxed commands. The zero value is a bubblewrap sandbox
// that finds bwrap on PATH.
type Sandbox struct {
	Mode string // Bwrap (default) or Off
	Path string // the bwrap binary; default: "bwrap" on PATH
	// Hide names files and folders that must never be visible, even when they
	// lie under a path that is shown (secret files under /etc, say).
	Hide []string
	// Env is the environment of the coordinator, used to find the toolchains
	// (PATH, RUSTUP_HOME, HOME); default: os.Environ().
	Env []string
}

// Spec is what one command may see.
type Spec struct {
	Dir string   // the working directory; it must lie in RW
	RW  []string // paths shown read-write (its worktree, its caches)
	RO  []string // extra paths shown read-only (the mirrors its worktree refers to)
	// NoNetwork cuts the network off; jobs have it by default (cargo fetches).
	NoNetwork bool
}

// Enabled reports whether commands are isolated.
func (s *Sandbox) Enabled() bool { return s == nil || s.Mode != Off }

func (s *Sandbox) bwrap() string {
	if s != nil && s.Path != "" {
		return s.Path
	}
	return "bwrap"
}

// Check proves that a sandboxed command can run here. It is called at start
// by every command that runs jobs, so that an unusable sandbox stops the
// coordinator before it runs anything rather than failing every job.
func (s *Sandbox) Check(ctx context.Context) error {
	if !s.Enabled() {
		return nil
	}
	dir, err := os.MkdirTemp("", "ironworks-sandbox-check-")
	if err != nil {
		return fmt.Errorf("sandbox check: %w", err)
	}
	defer os.RemoveAll(dir)
	cmd := s.Command(ctx, Spec{Dir: dir, RW: []string{dir}}, "sh", "-c", "touch ok")
	out, err := cmd.CombinedOutput()
	if err == nil {
		_, err = os.Stat(filepath.Join(dir, "ok"))
	}
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if errors.Is(err, exec.ErrNotFound) {
			msg = "bwrap not found (install Debian's bubblewrap package)"
		}
		return fmt.Errorf("the job sandbox (%s) does not work on this machine: %v %s; set engine.sandbox = \"off\" to run jobs unsandboxed, which lets every job read the secrets and the state", s.bwrap(), err, msg)
	}
	return nil
}

// Command returns the command that runs argv as spec allows. With Mode Off it
// is argv itself in spec.Dir.
func (s *Sandbox) Command(ctx context.Context, spec Spec, argv ...string) *exec.Cmd {
	if !s.Enabled() {
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Dir = spec.Dir
		return cmd
	}
	args := append(s.Args(spec), "--")
	args = append(args, argv...)
	cmd := exec.CommandContext(ctx, s.bwrap(), args...)
	cmd.Dir = spec.Dir
	return cmd
}

// Args are bubblewrap's arguments for spec, without the command.
func (s *Sandbox) Args(spec Spec) []string {
	env := os.Environ()
	var hide []string
	if s != nil {
		hide = s.Hide
		if s.Env != nil {
			env = s.Env
		}
	}
	a := []string{
		// The command is PID 1 of a namespace of its own: when it exits, or
		// the coordinator dies, the kernel ends everything it started.
		"--die-with-parent", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
		// An unprivileged user: no capabilities even where the coordinator
		// runs as root. Files it writes belong to the coordinator's user
		// outside.
		"--unshare-user", "--uid", "65534", "--gid", "65534",
		"--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
	}
	// GPUs (jobs and benchmarks that require "gpu"): every device node.
	for _, pattern := range []string{"/dev/nvidia*", "/dev/dri"} {
		matches, _ := filepath.Glob(pattern)
		for _, d := range matches {
			a = append(a, "--dev-bind", d, d)
		}
	}
	if spec.NoNetwork {
		a = append(a, "--unshare-net")
	}
	shown := []string{}
	// The system, read-only. On merged-/usr systems /bin and friends are
	// symlinks into /usr and are recreated as such.
	for _, p := range []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc", "/opt", "/nix", "/run/systemd/resolve"} {
		fi, err := os.Lstat(p)
		switch {
		case err != nil:
			continue
		case fi.Mode()&os.ModeSymlink != 0:
			if target, err := os.Readlink(p); err == nil {
				a = append(a, "--symlink", target, p)
			}
		default:
			a = append(a, "--ro-bind", p, p)
			shown = append(shown, p)
		}
	}
	// A private, empty home; toolchains installed under it are shown
	// read-only, but not the rest of it (~/.cargo/credentials.toml,
	// ~/.config, ~/.ssh).
	home := lookup(env, "HOME")
	if home != "" && home != "/" && !under(home, shown) {
		a = append(a, "--tmpfs", home)
	}
	var tools []string
	for _, d := range filepath.SplitList(lookup(env, "PATH")) {
		if filepath.IsAbs(d) {
			tools = append(tools, d)
		}
	}
	if r := lookup(env, "RUSTUP_HOME"); r != "" {
		tools = append(tools, r)
	} else if home != "" {
		tools = append(tools, filepath.Join(home, ".rustup"))
	}
	for _, d := range tools {
		d = filepath.Clean(d)
		if under(d, shown) || under(d, hide) || isDir(d) != nil {
			continue
		}
		a = append(a, "--ro-bind", d, d)
		shown = append(shown, d)
	}
	// What must stay hidden under what is shown is masked by an empty file
	// or folder: first under the system and the toolchains, then (after the
	// command's own paths, which may lie inside a masked folder such as the
	// state directory) under the command's paths.
	a = mask(a, hide, shown)
	var own []string
	for _, d := range spec.RO {
		a = append(a, "--ro-bind", d, d)
		own = append(own, d)
	}
	for _, d := range spec.RW {
		a = append(a, "--bind", d, d)
		own = append(own, d)
	}
	a = mask(a, hide, own)
	if spec.Dir != "" {
		a = append(a, "--chdir", spec.Dir)
	}
	return a
}

// mask hides every path of hide that lies under shown.
func mask(a, hide, shown []string) []string {
	for _, h := range hide {
		h = filepath.Clean(h)
		if !under(h, shown) {
			continue
		}
		fi, err := os.Stat(h)
		switch {
		case err != nil:
			continue
		case fi.IsDir():
			a = append(a, "--tmpfs", h)
		default:
			a = append(a, "--ro-bind", "/dev/null", h)
		}
	}
	return a
}

func lookup(env []string, k string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], k+"="); ok {
			return v
		}
	}
	return ""
}

// under reports whether p is one of roots or lies beneath one.
func under(p string, roots []string) bool {
	return slices.ContainsFunc(roots, func(r string) bool {
		r = filepath.Clean(r)
		return p == r || strings.HasPrefix(p, strings.TrimSuffix(r, "/")+"/")
	})
}

func isDir(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a folder", p)
	}
	return nil
}
