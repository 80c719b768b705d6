package main

import (
	"testing"
	"time"

	"github.com/ironworks-ci/ironworks/coordinator/forge"
)

func TestPromotedPR(t *testing.T) {
	msg := forge.PromotionMessage("https://github.com/o/r/pull/42", 42, "Faster trees", "abc", "feature", time.Unix(0, 0))
	if got := promotedPR(msg); got != 42 {
		t.Fatalf("promotedPR = %d, want 42 from %q", got, msg)
	}
	for _, other := range []string{"", "Merge pull request #42", "Promote #x to staging"} {
		if got := promotedPR(other); got != 0 {
			t.Errorf("promotedPR(%q) = %d, want 0", other, got)
		}
	}
}
