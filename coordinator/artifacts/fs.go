package artifacts

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// metaDir holds, beside the objects, one small JSON file per object with its
// expiry: the filesystem has no per-object metadata that survives copies.
const metaDir = ".ironworks-meta"

// FS stores artifacts as files below a folder.
type FS struct {
	Dir           string
	RetentionDays int
	// BaseURL (the coordinator's web.url) makes URL return signed links that
	// Handler serves; without it URL returns file:// paths.
	BaseURL string
	key     []byte
	// Now is the clock of expiry; tests replace it.
	Now func() time.Time
}

// NewFS opens (creating) a filesystem store.
func NewFS(dir string, retentionDays int, baseURL string, signKey []byte) (*FS, error) {
	if dir == "" {
		return nil, errors.New("artifacts: filesystem store without a folder")
	}
	if err := os.MkdirAll(filepath.Join(dir, metaDir), 0o700); err != nil {
		return nil, fmt.Errorf("artifacts: %w", err)
	}
	if retentionDays <= 0 {
		retentionDays = 14
	}
	return &FS{Dir: dir, RetentionDays: retentionDays, BaseURL: strings.TrimRight(baseURL, "/"), key: signKey, Now: time.Now}, nil
}

type meta struct {
	Expires     time.Time `json:"expires"`
	ContentType string    `json:"content_type,omitempty"`
}

func (f *FS) path(key string) string { return filepath.Join(f.Dir, filepath.FromSlash(key)) }
func (f *FS) metaPath(key string) string {
	return filepath.Join(f.Dir, metaDir, filepath.FromSlash(key)+".json")
}

// Put stores r under key with the default retention.
func (f *FS) Put(ctx context.Context, key string, r io.Reader) error {
	return f.PutWith(ctx, key, r, PutOptions{})
}

func writeAtomic(path string, r io.Reader) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	_, err = io.Copy(tmp, r)
	if err2 := tmp.Close(); err == nil {
		err = err2
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// PutWith stores r under key. The expiry is written before the data, so a
// crash in between leaves at worst an expiry record without an object.
func (f *FS) PutWith(ctx context.Context, key string, r io.Reader, o PutOptions) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	days := o.RetentionDays
	if days <= 0 {
		days = f.RetentionDays
	}
	m, _ := json.Marshal(meta{Expires: f.Now().Add(time.Duration(days) * 24 * time.Hour).UTC(), ContentType: o.ContentType})
	if err := writeAtomic(f.metaPath(key), strings.NewReader(string(m))); err != nil {
		return fmt.Errorf("artifacts: put %s: %w", key, err)
	}
	if err := writeAtomic(f.path(key), ctxReader{ctx, r}); err != nil {
		return fmt.Errorf("artifacts: put %s: %w", key, err)
	}
	return nil
}

// ctxReader stops a copy when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Open reads the object under key.
func (f *FS) Open(_ context.Context, key string) (io.ReadCloser, error) {
	if err := CheckKey(key); err != nil {
		return nil, err
	}
	r, err := os.Open(f.path(key))
	if err != nil {
		return nil, fmt.Errorf("artifacts: open %s: %w", key, err)
	}
	return r, nil
}

func (f *FS) sign(key string, exp int64) string {
	m := hmac.New(sha256.New, f.key)
	fmt.Fprintf(m, "%s\x00%d", key, exp)
	return hex.EncodeToString(m.Sum(nil))
}

// URL returns a link to key valid for ttl: signed for Handler when a base
// URL and key are set, else a file:// URL for local use.
func (f *FS) URL(_ context.Context, key string, ttl time.Duration) (string, error) {
	if err := CheckKey(key); err != nil {
		return "", err
	}
	if f.BaseURL == "" || len(f.key) == 0 {
		return (&url.URL{Scheme: "file", Path: filepath.ToSlash(f.path(key))}).String(), nil
	}
	exp := f.Now().Add(ttl).Unix()
	q := url.Values{"expires": {strconv.FormatInt(exp, 10)}, "sig": {f.sign(key, exp)}}
	return f.BaseURL + "/artifacts/" + (&url.URL{Path: key}).EscapedPath() + "?" + q.Encode(), nil
}

// Handler serves GET /artifacts/{key...} for links made by URL; mount it at
// /artifacts/ on the coordinator's web server.
func (f *FS) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /artifacts/{key...}", func(w http.ResponseWriter, r *http.Request) {
		key := r.PathValue("key")
		exp, err := strconv.ParseInt(r.URL.Query().Get("expires"), 10, 64)
		if err != nil || CheckKey(key) != nil || len(f.key) == 0 ||
			!hmac.Equal([]byte(r.URL.Query().Get("sig")), []byte(f.sign(key, exp))) {
			http.Error(w, "invalid signature", http.StatusForbidden)
			return
		}
		if f.Now().Unix() > exp {
			http.Error(w, "link expired", http.StatusForbidden)
			return
		}
		file, err := os.Open(f.path(key))
		if err != nil {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		defer file.Close()
		info, err := file.Stat()
		if err != nil || !info.Mode().IsRegular() {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		ct := "text/plain; charset=utf-8"
		if b, err := os.ReadFile(f.metaPath(key)); err == nil {
			var m meta
			if json.Unmarshal(b, &m) == nil && m.ContentType != "" {
				ct = m.ContentType
			}
		}
		w.Header().Set("Content-Type", ct)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		http.ServeContent(w, r, "", info.ModTime(), file)
	})
	return mux
}

// Expire removes objects whose expiry has passed.
func (f *FS) Expire(ctx context.Context) (int, error) {
	root := filepath.Join(f.Dir, metaDir)
	now := f.Now()
	n := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if d.IsDir() || !strings.HasSuffix(p, ".json") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var m meta
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("artifacts: %s: %w", p, err)
		}
		if m.Expires.After(now) {
			return nil
		}
		rel, _ := filepath.Rel(root, strings.TrimSuffix(p, ".json"))
		if err := os.Remove(filepath.Join(f.Dir, rel)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if err := os.Remove(p); err != nil {
			return err
		}
		n++
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("artifacts: expire: %w", err)
	}
	return n, nil
}
