package cargopatch

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSatisfies(t *testing.T) {
	tests := []struct {
		version, req string
		want         bool
	}{
		{"0.23.0", "0.23.0", true},
		{"0.23.5", "0.23.0", true},
		{"0.24.0", "0.23.0", false},
		{"1.0.0", "0.23.0", false},
		{"0.23.0", "^0.23", true},
		{"0.23.0", "=0.23.0", true},
		{"0.23.1", "=0.23.0", false},
		{"0.23.1", "~0.23.0", true},
		{"1.2.0", ">=1.0, <2", true},
		{"2.0.0", ">=1.0, <2", false},
		{"1.5.0", "1", true},
	}
	for _, tt := range tests {
		got, err := Satisfies(tt.version, tt.req)
		if err != nil {
			t.Fatalf("Satisfies(%q, %q): %v", tt.version, tt.req, err)
		}
		if got != tt.want {
			t.Errorf("Satisfies(%q, %q) = %v, want %v", tt.version, tt.req, got, tt.want)
		}
	}
	if _, err := Satisfies("not-a-version", "1"); err == nil {
		t.Error("bad version accepted")
	}
	if _, err := Satisfies("1.0.0", "%%"); err == nil {
		t.Error("bad requirement accepted")
	}
}

func TestRequirement(t *testing.T) {
	tests := []struct {
		name, manifest, want, wantErr string
	}{
		{"workspace", "[workspace]\nmembers=[]\n[workspace.dependencies]\nmerkletree = \"0.23.0\"\n", "0.23.0", ""},
		{"table", "[package]\nname='x'\n[dependencies]\nmerkletree = { version = \"^0.23\", default-features = false }\n", "^0.23", ""},
		{"git", "[package]\nname='x'\n[dependencies]\nmerkletree = { git = \"https://x\" }\n", "", "no version requirement"},
		{"missing", "[package]\nname='x'\n", "", "no dependency on merkletree"},
		{"bad toml", "[package\n", "", "downstream manifest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "Cargo.toml"), []byte(tt.manifest), 0o644); err != nil {
				t.Fatal(err)
			}
			got, _, err := Requirement(dir, "merkletree")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Requirement = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestPackageVersion(t *testing.T) {
	dir := t.TempDir()
	m := filepath.Join(dir, "Cargo.toml")
	os.WriteFile(m, []byte("[package]\nname = \"merkletree\"\nversion = \"0.23.0\"\n"), 0o644)
	if v, err := PackageVersion(m, "merkletree"); err != nil || v != "0.23.0" {
		t.Fatalf("got %q, %v", v, err)
	}
	if _, err := PackageVersion(m, "other"); err == nil {
		t.Fatal("wrong crate name accepted")
	}
	os.WriteFile(m, []byte("[package]\nname = \"merkletree\"\nversion.workspace = true\n[workspace.package]\nversion = \"1.2.3\"\n"), 0o644)
	if v, err := PackageVersion(m, "merkletree"); err != nil || v != "1.2.3" {
		t.Fatalf("workspace version: got %q, %v", v, err)
	}
}
