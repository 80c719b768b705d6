package local

import (
	"os"
	"path/filepath"
	"testing"
)

func TestClearFailedRustcProbes(t *testing.T) {
	for _, tc := range []struct {
		name, cache string
		cleared     bool
	}{
		{"a failed probe", `{"rustc_fingerprint":1,"outputs":{"7":{"success":true},"8":{"success":false,"stderr":"error: Current directory is invalid"}}}`, true},
		{"all answers good", `{"rustc_fingerprint":1,"outputs":{"7":{"success":true}}}`, false},
		{"not cargo's format", `not json`, false},
		{"no cache", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := t.TempDir()
			path := filepath.Join(target, ".rustc_info.json")
			if tc.cache != "" {
				if err := os.WriteFile(path, []byte(tc.cache), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cleared, err := clearFailedRustcProbes(target)
			if err != nil || cleared != tc.cleared {
				t.Fatalf("cleared %v, %v; want %v", cleared, err, tc.cleared)
			}
			_, statErr := os.Stat(path)
			if exists := statErr == nil; exists != (tc.cache != "" && !tc.cleared) {
				t.Errorf("cache exists = %v after clearing = %v", exists, cleared)
			}
		})
	}
}

func FuzzClearFailedRustcProbes(f *testing.F) {
	f.Add([]byte(`{"rustc_fingerprint":1,"outputs":{"8":{"success":false}}}`))
	f.Add([]byte(`{"outputs":{"8":{"success":"no"}}}`))
	f.Fuzz(func(t *testing.T, cache []byte) {
		target := t.TempDir()
		path := filepath.Join(target, ".rustc_info.json")
		if err := os.WriteFile(path, cache, 0o644); err != nil {
			t.Fatal(err)
		}
		cleared, err := clearFailedRustcProbes(target)
		if err != nil {
			t.Fatal(err)
		}
		if _, statErr := os.Stat(path); (statErr == nil) == cleared {
			t.Fatalf("cleared = %v but the cache exists = %v", cleared, statErr == nil)
		}
	})
}
