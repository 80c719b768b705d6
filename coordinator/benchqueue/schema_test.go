package benchqueue

import (
	"os"
	"strings"
	"testing"

	"github.com/ironworks-ci/ironworks/benchkit/results"
)

// benchkit keeps its results in its own file, the coordinator in its own
// database; the tables must be the same so that one results package serves
// both. The coordinator's migration starts with benchkit's schema verbatim.
func TestMigrationCarriesBenchkitSchema(t *testing.T) {
	mig, err := os.ReadFile("../store/migrations/0200_bench.sql")
	if err != nil {
		t.Fatal(err)
	}
	body := func(s string) string {
		var out []string
		for _, l := range strings.Split(s, "\n") {
			if !strings.HasPrefix(strings.TrimSpace(l), "--") {
				out = append(out, l)
			}
		}
		return strings.TrimSpace(strings.Join(out, "\n"))
	}
	want := body(results.Schema)
	if !strings.HasPrefix(body(string(mig)), want) {
		t.Fatal("coordinator/store/migrations/0200_bench.sql no longer starts with benchkit/results/schema.sql: change both, with a new migration for existing databases")
	}
}
