package artifacts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/log"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/lifecycle"
)

// S3Config describes a bucket.
type S3Config struct {
	Endpoint      string // host:port, or a URL whose scheme decides TLS
	Bucket        string
	Region        string
	AccessKey     string
	SecretKey     string
	Insecure      bool // plain HTTP
	RetentionDays int
	// PartSize bounds the memory one streaming upload holds; default 16 MiB.
	PartSize uint64
}

// Object metadata and tag names. The tag drives the bucket lifecycle rule;
// the metadata drives Expire, because MinIO's lifecycle scanner may take
// hours to act.
const (
	expiresMeta  = "Ironworks-Expires"
	retentionTag = "ironworks-retention"
)

// S3 stores artifacts in a private bucket of S3 or MinIO.
type S3 struct {
	c   *minio.Client
	cfg S3Config
	// Now is the clock of expiry; tests replace it.
	Now func() time.Time
	Log *log.Logger

	mu    sync.Mutex
	rules map[int]bool // retention days whose lifecycle rule is known present
}

// NewS3 connects and creates the bucket if it does not exist. A new bucket is
// private: nothing here ever sets a bucket policy.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	endpoint, secure := cfg.Endpoint, !cfg.Insecure
	if u, err := url.Parse(cfg.Endpoint); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
		endpoint, secure = u.Host, u.Scheme == "https"
	}
	if cfg.PartSize == 0 {
		cfg.PartSize = 16 << 20
	}
	if cfg.RetentionDays <= 0 {
		cfg.RetentionDays = 14
	}
	c, err := minio.New(endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: secure,
		Region: cfg.Region,
	})
	if err != nil {
		return nil, fmt.Errorf("artifacts: s3 %s: %w", cfg.Endpoint, err)
	}
	s := &S3{c: c, cfg: cfg, Now: time.Now, Log: log.Default(), rules: map[int]bool{}}
	ok, err := c.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("artifacts: s3 bucket %s: %w", cfg.Bucket, err)
	}
	if !ok {
		if err := c.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{Region: cfg.Region}); err != nil {
			if minio.ToErrorResponse(err).Code != "BucketAlreadyOwnedByYou" {
				return nil, fmt.Errorf("artifacts: create bucket %s: %w", cfg.Bucket, err)
			}
		}
	}
	return s, nil
}

// Client exposes the underlying client (tests inspect the bucket with it).
func (s *S3) Client() *minio.Client { return s.c }

// Put stores r under key with the default retention.
func (s *S3) Put(ctx context.Context, key string, r io.Reader) error {
	return s.PutWith(ctx, key, r, PutOptions{Size: -1})
}

// PutWith streams r to the bucket. With an unknown size minio-go uploads in
// parts of PartSize, one buffer at a time, so memory stays flat whatever the
// length of the log.
func (s *S3) PutWith(ctx context.Context, key string, r io.Reader, o PutOptions) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	days := o.RetentionDays
	if days <= 0 {
		days = s.cfg.RetentionDays
	}
	s.ensureRule(ctx, days)
	size := o.Size
	if size <= 0 {
		size = -1
	}
	expires := s.Now().Add(time.Duration(days) * 24 * time.Hour).UTC()
	ct := o.ContentType
	if ct == "" {
		ct = "text/plain; charset=utf-8"
	}
	_, err := s.c.PutObject(ctx, s.cfg.Bucket, key, r, size, minio.PutObjectOptions{
		ContentType:  ct,
		UserMetadata: map[string]string{expiresMeta: expires.Format(time.RFC3339)},
		UserTags:     map[string]string{retentionTag: strconv.Itoa(days) + "d"},
		Expires:      expires,
		PartSize:     s.cfg.PartSize,
		NumThreads:   1,
	})
	if err != nil {
		return fmt.Errorf("artifacts: put %s: %w", key, err)
	}
	return nil
}

func ruleID(days int) string { return "ironworks-expire-" + strconv.Itoa(days) + "d" }

// ensureRule makes sure the bucket has the lifecycle rule expiring objects
// tagged with this retention. It reads the configuration and writes only when
// the rule is missing, keeping every other rule, and remembers success so a
// process checks each retention once. Failure (no permission) is logged: the
// Expire sweep still removes expired objects.
func (s *S3) ensureRule(ctx context.Context, days int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rules[days] {
		return
	}
	if err := s.addRule(ctx, days); err != nil {
		s.Log.Warn("artifacts: bucket lifecycle rule not set; relying on the expiry sweep", "bucket", s.cfg.Bucket, "days", days, "err", err)
		s.rules[days] = true // do not retry on every object
		return
	}
	s.rules[days] = true
}

func (s *S3) addRule(ctx context.Context, days int) error {
	cfg, err := s.c.GetBucketLifecycle(ctx, s.cfg.Bucket)
	if err != nil {
		if minio.ToErrorResponse(err).Code != "NoSuchLifecycleConfiguration" {
			return err
		}
		cfg = lifecycle.NewConfiguration()
	}
	for _, r := range cfg.Rules {
		if r.ID == ruleID(days) {
			return nil
		}
	}
	cfg.Rules = append(cfg.Rules, lifecycle.Rule{
		ID:         ruleID(days),
		Status:     "Enabled",
		RuleFilter: lifecycle.Filter{Tag: lifecycle.Tag{Key: retentionTag, Value: strconv.Itoa(days) + "d"}},
		Expiration: lifecycle.Expiration{Days: lifecycle.ExpirationDays(days)},
	})
	return s.c.SetBucketLifecycle(ctx, s.cfg.Bucket, cfg)
}

// Open reads the object under key.
func (s *S3) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := CheckKey(key); err != nil {
		return nil, err
	}
	if _, err := s.c.StatObject(ctx, s.cfg.Bucket, key, minio.StatObjectOptions{}); err != nil {
		if minio.ToErrorResponse(err).StatusCode == http.StatusNotFound {
			return nil, fmt.Errorf("artifacts: open %s: %w", key, ErrNotFound)
		}
		return nil, fmt.Errorf("artifacts: open %s: %w", key, err)
	}
	obj, err := s.c.GetObject(ctx, s.cfg.Bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("artifacts: open %s: %w", key, err)
	}
	return obj, nil
}

// maxPresign is the longest validity S3 allows a presigned URL.
const maxPresign = 7 * 24 * time.Hour

// URL returns a presigned GET link valid for ttl (at most seven days).
func (s *S3) URL(ctx context.Context, key string, ttl time.Duration) (string, error) {
	if err := CheckKey(key); err != nil {
		return "", err
	}
	ttl = min(max(ttl, time.Second), maxPresign)
	u, err := s.c.PresignedGetObject(ctx, s.cfg.Bucket, key, ttl, nil)
	if err != nil {
		return "", fmt.Errorf("artifacts: presign %s: %w", key, err)
	}
	return u.String(), nil
}

func expiryOf(md map[string]string) (time.Time, bool) {
	for k, v := range md {
		k = strings.TrimPrefix(strings.ToLower(k), "x-amz-meta-")
		if k == strings.ToLower(expiresMeta) {
			t, err := time.Parse(time.RFC3339, v)
			return t, err == nil
		}
	}
	return time.Time{}, false
}

// Expire removes objects whose Ironworks-Expires metadata has passed. It
// lists with metadata (a MinIO extension) and falls back to one HEAD per
// object where the server does not return it.
func (s *S3) Expire(ctx context.Context) (int, error) {
	now := s.Now()
	n := 0
	var errs []error
	for obj := range s.c.ListObjects(ctx, s.cfg.Bucket, minio.ListObjectsOptions{Recursive: true, WithMetadata: true}) {
		if obj.Err != nil {
			return n, fmt.Errorf("artifacts: expire: list: %w", obj.Err)
		}
		exp, ok := expiryOf(obj.UserMetadata)
		if !ok {
			st, err := s.c.StatObject(ctx, s.cfg.Bucket, obj.Key, minio.StatObjectOptions{})
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if exp, ok = expiryOf(st.UserMetadata); !ok {
				continue // not ours to expire
			}
		}
		if exp.After(now) {
			continue
		}
		if err := s.c.RemoveObject(ctx, s.cfg.Bucket, obj.Key, minio.RemoveObjectOptions{}); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	if err := errors.Join(errs...); err != nil {
		return n, fmt.Errorf("artifacts: expire: %w", err)
	}
	return n, nil
}
