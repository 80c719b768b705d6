package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/charmbracelet/log"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/engine/local"
	"github.com/ironworks-ci/ironworks/coordinator/pipeline"
	"github.com/ironworks-ci/ironworks/coordinator/source"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// newPipeline wires the pipeline for a configuration with the local engine.
func newPipeline(cfg *config.Config, st *store.Store, logger *log.Logger) *pipeline.Pipeline {
	mirrors := source.New(filepath.Join(cfg.StateDir, "mirrors"))
	par := cfg.Engine.Parallelism
	if par == 0 {
		par = runtime.NumCPU()
	}
	eng := &local.Engine{
		StateDir:    cfg.StateDir,
		Mirrors:     mirrors,
		Offered:     cfg.Engine.Features,
		Parallelism: par,
		OutputLimit: int64(cfg.Engine.OutputLimit),
		PassEnv:     cfg.Engine.PassEnv,
		Secrets:     secrets(cfg),
		Log:         logger,
	}
	return &pipeline.Pipeline{
		Cfg:         cfg,
		Store:       st,
		Engine:      eng,
		Mirrors:     mirrors,
		Log:         logger,
		BisectLimit: cfg.Engine.BisectLimit,
		LogTail: func(runID int64, job string, lines int) string {
			return tail(local.LogPath(cfg.StateDir, runID, job), lines)
		},
	}
}

// secrets reads every secret file the configuration names, so that the engine
// can keep their values out of jobs. Unreadable files are skipped here; the
// component that needs the secret reports the error.
func secrets(cfg *config.Config) []string {
	var files []string
	if cfg.Hydra != nil {
		files = append(files, cfg.Hydra.PasswordFile)
	}
	if cfg.GitHub != nil {
		files = append(files, cfg.GitHub.TokenFile, cfg.GitHub.WebhookSecretFile)
	}
	if cfg.SMTP != nil {
		files = append(files, cfg.SMTP.PasswordFile)
	}
	files = append(files, cfg.Artifacts.AccessKeyFile, cfg.Artifacts.SecretKeyFile, cfg.Web.OperatorTokenFile, cfg.Notify.UnsubscribeSecret)
	var out []string
	for _, f := range files {
		if f == "" {
			continue
		}
		if b, err := os.ReadFile(f); err == nil {
			if s := strings.TrimSpace(string(b)); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// tail returns the last n lines of a file, reading at most 64 KiB of it.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	const max = 64 << 10
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	off := st.Size() - max
	if off < 0 {
		off = 0
	}
	buf := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil {
		return ""
	}
	lines := bytes.Split(bytes.TrimRight(buf, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
