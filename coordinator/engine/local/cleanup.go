package local

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// cleanup runs when a run's jobs have all ended (not when the run was
// interrupted: a resumed run reuses its worktrees). A run whose jobs all
// passed loses its worktrees at once; a failed one keeps them for a look,
// but only the newest KeepFailed failed runs do. Shared target folders over
// TargetLimit are emptied (the next build starts cold rather than filling
// the disk).
func (e *Engine) cleanup(ctx context.Context, runID int64, comps []string, results map[string]string) {
	failed := false
	for _, s := range results {
		failed = failed || s != store.JobSuccess
	}
	work := filepath.Join(e.StateDir, "work")
	if !failed {
		e.removeRun(runID)
	} else {
		// Mark it, so that pruning knows a failed run from a running one.
		_ = os.WriteFile(filepath.Join(e.runDir(runID), ".failed"), nil, 0o644)
		keep := e.KeepFailed
		if keep < 0 {
			keep = 0
		}
		var failedRuns []int64
		entries, _ := os.ReadDir(work)
		for _, d := range entries {
			id, err := strconv.ParseInt(strings.TrimPrefix(d.Name(), "run-"), 10, 64)
			if err != nil || !strings.HasPrefix(d.Name(), "run-") {
				continue
			}
			if _, err := os.Stat(filepath.Join(work, d.Name(), ".failed")); err == nil {
				failedRuns = append(failedRuns, id)
			}
		}
		sort.Slice(failedRuns, func(i, j int) bool { return failedRuns[i] > failedRuns[j] })
		for _, id := range failedRuns[min(keep, len(failedRuns)):] {
			e.removeRun(id)
		}
	}
	for _, c := range comps {
		_ = e.Mirrors.Prune(ctx, c) // forget the removed worktrees
		if e.TargetLimit <= 0 {
			continue
		}
		target := filepath.Join(e.StateDir, "cache", "target", c)
		if size := du(target); size > e.TargetLimit {
			e.logger().Info("target folder over its limit: emptied", "component", c, "size", size, "limit", e.TargetLimit)
			_ = os.RemoveAll(target)
		}
	}
}

func (e *Engine) removeRun(runID int64) {
	if err := os.RemoveAll(e.runDir(runID)); err != nil {
		e.logger().Warn("removing worktrees", "run", runID, "err", fmt.Sprint(err))
	}
}

// du is the size of the files under dir.
func du(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
