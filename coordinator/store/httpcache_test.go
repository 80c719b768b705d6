package store

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
)

func TestHTTPCacheAndDone(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := HTTPCache{s}
	if tag, body, err := c.Get(ctx, "u"); err != nil || tag != "" || body != nil {
		t.Fatalf("empty cache = %q %q %v", tag, body, err)
	}
	c.Put(ctx, "u", `W/"1"`, []byte("a"))
	c.Put(ctx, "u", `W/"2"`, []byte("b"))
	if tag, body, err := c.Get(ctx, "u"); err != nil || tag != `W/"2"` || string(body) != "b" {
		t.Fatalf("after two puts = %q %q %v, want the second", tag, body, err)
	}
	if ok, err := s.Done(ctx, "k"); ok || err != nil {
		t.Fatalf("unknown key done = %v %v", ok, err)
	}
	if _, err := s.Once(ctx, "k", "test", func() (string, error) { return "", errors.New("failed") }); err == nil {
		t.Fatal("failing effect reported no error")
	}
	if ok, _ := s.Done(ctx, "k"); ok {
		t.Fatal("a failed effect counts as done")
	}
	s.Once(ctx, "k", "test", func() (string, error) { return "r", nil })
	if ok, err := s.Done(ctx, "k"); !ok || err != nil {
		t.Fatalf("completed effect done = %v %v", ok, err)
	}
	s.Close()
	if _, _, err := c.Get(ctx, "u"); err == nil {
		t.Error("a closed store answered")
	}
}
