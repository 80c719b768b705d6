package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A coordinator killed outright (SIGKILL, the OOM killer) leaves no job
// running behind it, sandboxed or not: a leftover would keep writing the
// worktrees that the restarted coordinator resumes in.
func TestKilledCoordinatorLeavesNoJobBehind(t *testing.T) {
	bin := buildBinary(t)
	for _, mode := range []string{"bwrap", "off"} {
		t.Run("sandbox="+mode, func(t *testing.T) {
			if _, err := exec.LookPath("bwrap"); err != nil && mode == "bwrap" {
				t.Skip("bubblewrap not installed (.ci/run installs it)")
			}
			dir := t.TempDir()
			// A sleep no other process has: found by its command line, as
			// the sandbox's PID namespace hides its number.
			tag := fmt.Sprintf("%d.%03d", 600+os.Getpid()%100, time.Now().Nanosecond()%1000)
			cfg, _ := writeShellProject(t, dir, fmt.Sprintf(`[jobs.long]
stage = "forge"
timeout = "5m"
command = "exec sleep %s"
`, tag), "sandbox = \""+mode+"\"\n")
			cmd := exec.Command(bin, "run", "--once", "--config", cfg)
			cmd.Dir = dir
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			deadline := time.Now().Add(2 * time.Minute)
			for len(sleepers(tag)) == 0 {
				select {
				case err := <-exited:
					t.Fatalf("the coordinator ended (%v) before its job ran:\n%s", err, out.String())
				case <-time.After(20 * time.Millisecond):
				}
				if time.Now().After(deadline) {
					t.Fatal("the job never started")
				}
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			<-exited
			deadline = time.Now().Add(5 * time.Second)
			for len(sleepers(tag)) > 0 {
				if time.Now().After(deadline) {
					for _, p := range sleepers(tag) {
						syscall.Kill(p, syscall.SIGKILL)
					}
					t.Fatalf("the job (sleep %s) outlived its killed coordinator", tag)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// sleepers are the live (not zombie) processes running `sleep tag`.
func sleepers(tag string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || string(cmdline) != "sleep\x00"+tag+"\x00" {
			continue
		}
		stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:])); len(f) > 0 && f[0] == "Z" {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}
