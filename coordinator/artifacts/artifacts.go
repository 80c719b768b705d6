// Package artifacts keeps logs and other run outputs: on the filesystem (the
// default) or in S3-compatible object storage, with a retention per object,
// links that expire, and a sweep that removes expired objects.
package artifacts

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/ironworks-ci/ironworks/coordinator/config"
)

// Store keeps artifacts under slash-separated keys. It satisfies
// pipeline.ArtifactStore.
type Store interface {
	Put(ctx context.Context, key string, r io.Reader) error
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	URL(ctx context.Context, key string, ttl time.Duration) (string, error)
	// PutWith stores r under key with per-object options.
	PutWith(ctx context.Context, key string, r io.Reader, o PutOptions) error
	// Expire removes every object whose retention has run out and reports how many.
	Expire(ctx context.Context) (int, error)
}

// PutOptions tune one object.
type PutOptions struct {
	// RetentionDays keeps the object this many days; 0 means the store's default.
	RetentionDays int
	// Size is the length of the reader when known, -1 (or 0) when not.
	Size        int64
	ContentType string
}

// ErrNotFound is returned by Open for a key that does not exist.
var ErrNotFound = fs.ErrNotExist

// CheckKey rejects keys that could escape the store or confuse it: empty,
// absolute, with . or .. segments, backslashes, control characters, or too long.
func CheckKey(key string) error {
	if key == "" || len(key) > 1024 {
		return fmt.Errorf("artifact key %.60q: must be 1 to 1024 bytes", key)
	}
	if strings.HasPrefix(key, "/") || strings.HasSuffix(key, "/") {
		return fmt.Errorf("artifact key %q: must not start or end with /", key)
	}
	for _, r := range key {
		if r < ' ' || r == 0x7f || r == '\\' {
			return fmt.Errorf("artifact key %q: control characters and backslashes are not allowed", key)
		}
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." || seg == metaDir {
			return fmt.Errorf("artifact key %q: empty, ., .. and %s segments are not allowed", key, metaDir)
		}
	}
	return nil
}

// FromConfig opens the store the [artifacts] section describes. signKey signs
// the filesystem store's links (unused for S3, which presigns).
func FromConfig(ctx context.Context, cfg *config.Config, signKey []byte) (Store, error) {
	a := cfg.Artifacts
	switch a.Kind {
	case "", "fs":
		return NewFS(a.Dir, a.RetentionDays, cfg.Web.URL, signKey)
	case "s3":
		ak, err := readSecret("artifacts.access_key_file", a.AccessKeyFile)
		if err != nil {
			return nil, err
		}
		sk, err := readSecret("artifacts.secret_key_file", a.SecretKeyFile)
		if err != nil {
			return nil, err
		}
		return NewS3(ctx, S3Config{
			Endpoint: a.Endpoint, Bucket: a.Bucket, Region: a.Region, AccessKey: ak, SecretKey: sk,
			Insecure: a.Insecure, RetentionDays: a.RetentionDays,
		})
	}
	return nil, fmt.Errorf("artifacts.kind %q: want fs or s3", a.Kind)
}

func readSecret(field, file string) (string, error) {
	if file == "" {
		return "", fmt.Errorf("%s: required for kind s3", field)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s: %w", field, err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("%s: %s is empty", field, file)
	}
	return s, nil
}

// UploadDir uploads every regular file below dir to prefix/<relative path>,
// parallel at a time, and returns the keys in order. Symbolic links are not
// followed, so nothing outside dir is uploaded.
func UploadDir(ctx context.Context, st Store, prefix, dir string, parallel int, o PutOptions) ([]string, error) {
	if parallel < 1 {
		parallel = 4
	}
	type file struct {
		path, key string
		size      int64
	}
	var files []file
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if prefix != "" {
			key = strings.TrimSuffix(prefix, "/") + "/" + key
		}
		if err := CheckKey(key); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		files = append(files, file{p, key, info.Size()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("upload %s: %w", dir, err)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallel)
	for _, f := range files {
		g.Go(func() error {
			r, err := os.Open(f.path)
			if err != nil {
				return err
			}
			defer r.Close()
			fo := o
			fo.Size = f.size
			if err := st.PutWith(gctx, f.key, r, fo); err != nil {
				return fmt.Errorf("upload %s: %w", f.path, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	keys := make([]string, len(files))
	for i, f := range files {
		keys[i] = f.key
	}
	sort.Strings(keys)
	return keys, nil
}

// RunExpiry sweeps st every interval until ctx ends. MinIO's lifecycle
// scanner can take hours; this sweep is what makes retention exact.
func RunExpiry(ctx context.Context, st Store, every time.Duration, logf func(format string, args ...any)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if n, err := st.Expire(ctx); err != nil && ctx.Err() == nil {
			logf("artifacts: expiry sweep: %v", err)
		} else if n > 0 {
			logf("artifacts: removed %d expired object(s)", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
