package forge_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/forge"
	"github.com/ironworks-ci/ironworks/coordinator/forge/githubtest"
	"github.com/ironworks-ci/ironworks/coordinator/httpretry"
)

func setup(t *testing.T) (*githubtest.Server, *forge.Client) {
	gh := githubtest.New()
	t.Cleanup(gh.Close)
	gh.Token = "tok"
	gh.AddRepo("o/r", "main", map[string]string{"README": "hi"})
	return gh, forge.New(gh.URL(), "tok", forge.RetryingHTTPClient(httpretry.Options{RetryMax: 2, WaitMin: time.Millisecond, WaitMax: time.Millisecond}))
}

func TestWriteFileOnlyWhenChanged(t *testing.T) {
	gh, c := setup(t)
	ctx := context.Background()
	c1, changed, err := c.WriteFile(ctx, "o", "r", "forge-lock", "", "locks/forge.json", []byte("{\"a\":1}\n"), "lock", nil)
	if err != nil || !changed || c1 != gh.Head("o/r", "forge-lock") {
		t.Fatalf("%s %v %v", c1, changed, err)
	}
	c2, changed, err := c.WriteFile(ctx, "o", "r", "forge-lock", "", "locks/forge.json", []byte("{\"a\":1}\n"), "lock", nil)
	if err != nil || changed || c2 != c1 {
		t.Fatalf("rewrite made a commit: %s %v %v", c2, changed, err)
	}
	c3, changed, err := c.WriteFile(ctx, "o", "r", "forge-lock", "", "locks/forge.json", []byte("{\"a\":2}\n"), "lock", nil)
	if err != nil || !changed || c3 == c1 {
		t.Fatalf("update: %v %v", changed, err)
	}
	if n := gh.Writes("o/r", "forge-lock", "locks/forge.json"); n != 2 {
		t.Errorf("%d commits", n)
	}
	if got, _ := gh.FileAt("o/r", "forge-lock", "locks/forge.json"); got != "{\"a\":2}\n" {
		t.Errorf("content %q", got)
	}
}

func TestCreateTagIdempotent(t *testing.T) {
	gh, c := setup(t)
	ctx := context.Background()
	head := gh.Head("o/r", "main")
	for i, want := range []bool{true, false} {
		created, err := c.CreateTag(ctx, "o", "r", "v1", head)
		if err != nil || created != want {
			t.Fatalf("round %d: %v %v", i, created, err)
		}
	}
	if n := len(gh.RefCreations()); n != 1 {
		t.Errorf("%d ref creations", n)
	}
	other := gh.CommitTo("o/r", "main", "next", map[string]string{"x": "y"})
	if _, err := c.CreateTag(ctx, "o", "r", "v1", other); !errors.Is(err, forge.ErrTagMoved) {
		t.Errorf("moved tag: %v", err)
	}
	// A 422 "Reference already exists" race that ends at the same sha is success.
	gh.FailNext(1, 404, "git/ref/")
	created, err := c.CreateTag(ctx, "o", "r", "v1", head)
	if err != nil || created {
		t.Errorf("race: %v %v", created, err)
	}
}

func TestMerge(t *testing.T) {
	gh, c := setup(t)
	ctx := context.Background()
	feature := gh.CommitTo("o/r", "feature", "work", map[string]string{"a": "b"})
	if _, err := c.EnsureBranch(ctx, "o", "r", "staging", ""); err != nil {
		t.Fatal(err)
	}
	sha, merged, err := c.Merge(ctx, "o", "r", "staging", feature, forge.PromotionMessage("u", 1, "t", feature, "feature", time.Now()))
	if err != nil || !merged || gh.Head("o/r", "staging") != sha {
		t.Fatalf("%s %v %v", sha, merged, err)
	}
	again, merged, err := c.Merge(ctx, "o", "r", "staging", feature, "m")
	if err != nil || merged || again != sha {
		t.Fatalf("204 case: %s %v %v", again, merged, err)
	}
	gh.SetConflict("o/r", "main")
	gh.CommitTo("o/r", "main", "more", map[string]string{"c": "d"})
	if _, _, err := c.Merge(ctx, "o", "r", "staging", "main", "m"); !errors.Is(err, forge.ErrConflict) {
		t.Errorf("conflict: %v", err)
	}
	if _, _, err := c.Merge(ctx, "o", "r", "nope", feature, "m"); !errors.Is(err, forge.ErrNotFound) {
		t.Errorf("missing base: %v", err)
	}
}

func TestBadTokenAndConfig(t *testing.T) {
	gh, _ := setup(t)
	dir := t.TempDir()
	tok := filepath.Join(dir, "token")
	os.WriteFile(tok, []byte("wrong\n"), 0o600)
	c, err := forge.NewFromConfig(&config.GitHub{APIURL: gh.URL(), TokenFile: tok})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.BranchHead(context.Background(), "o", "r", "main")
	if err == nil || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), "wrong") {
		t.Errorf("err = %v", err)
	}
	if _, err := forge.NewFromConfig(&config.GitHub{APIURL: gh.URL(), TokenFile: filepath.Join(dir, "missing")}); err == nil {
		t.Error("missing token file accepted")
	}
	os.WriteFile(tok, nil, 0o600)
	if _, err := forge.NewFromConfig(&config.GitHub{APIURL: gh.URL(), TokenFile: tok}); err == nil {
		t.Error("empty token accepted")
	}
	if _, err := forge.NewFromConfig(&config.GitHub{APIURL: "not a url"}); err == nil {
		t.Error("bad api_url accepted")
	}
	if _, _, err := forge.SplitRepo("just-a-name"); err == nil {
		t.Error("bad repo accepted")
	}
}
