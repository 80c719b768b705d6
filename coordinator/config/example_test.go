package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// The shipped example configuration loads, and uses every section.
func TestExampleConfigurationLoads(t *testing.T) {
	c, err := Load("../../docs/ironworks.example.toml")
	if err != nil {
		t.Fatalf("docs/ironworks.example.toml: %v", err)
	}
	if len(c.Loaded) != 2 || c.Hydra == nil || c.GitHub == nil || c.SMTP == nil || c.Web.URL == "" || len(c.Notify.Operators) == 0 {
		t.Errorf("the example leaves sections out: %+v", c)
	}
	if got := c.Branches("merkletree"); len(got) != 2 {
		t.Errorf("merkletree branches = %v, want master and the extra branch", got)
	}
}

// docs/configuration.md names every key the configuration accepts.
func TestConfigurationReferenceNamesEveryKey(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	var walk func(prefix string, typ reflect.Type)
	walk = func(prefix string, typ reflect.Type) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Map {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct {
			return
		}
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			key, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
			if key == "" || key == "-" {
				continue
			}
			ft := f.Type
			for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Map {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct && ft != reflect.TypeOf(Duration{}) {
				if !strings.Contains(string(doc), "`["+prefix+key) {
					t.Errorf("docs/configuration.md has no section [%s%s]", prefix, key)
				}
				walk(key+".", ft)
				continue
			}
			if !strings.Contains(string(doc), "`"+key+"`") {
				t.Errorf("docs/configuration.md does not name %s%s", prefix, key)
			}
		}
	}
	walk("", reflect.TypeOf(Config{}))
}
