package notify

import (
	"fmt"
	"slices"
	"strings"
)

// Event kinds the pipeline emits.
const (
	KindFailure        = "failure"
	KindIncompatible   = "incompatible"
	KindNotAccepted    = "upstream-not-accepted"
	KindRecovery       = "recovery"
	KindPromotion      = "promotion"
	KindBenchRegress   = "bench-regression"
	KindStagingFailed  = "staging-failed"
	KindFlaky          = "flaky"
	KindAdapterError   = "adapter-error" // sent to [notify] operators, not subscribable
	KindEvalError      = "eval-error"    // the flake as a whole: every subscriber of the kind, whatever component
	KindRunStarted     = "run-started"
	KindRunFinished    = "run-finished"
	classHealth        = "health"
	healthRed          = "red"
	healthGreen        = "green"
	allComponents      = "*"
	defaultEventsFlag  = "failure,incompatible,upstream-not-accepted,recovery"
	subscribableEvents = "failure, incompatible, upstream-not-accepted, recovery, promotion, bench-regression, staging-failed, flaky, eval-error"
)

// Subscribable lists the event kinds an address can subscribe to.
var Subscribable = []string{KindFailure, KindIncompatible, KindNotAccepted, KindRecovery, KindPromotion, KindBenchRegress, KindStagingFailed, KindFlaky, KindEvalError}

// DefaultEvents is what a subscription without an explicit list receives: the
// health of the target, broken and fixed.
var DefaultEvents = strings.Split(defaultEventsFlag, ",")

// ParseEvents reads a comma-separated list of event kinds; empty means DefaultEvents.
func ParseEvents(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return slices.Clone(DefaultEvents), nil
	}
	var out []string
	for _, k := range strings.Split(s, ",") {
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		if !slices.Contains(Subscribable, k) {
			return nil, fmt.Errorf("unknown event kind %q (want some of: %s)", k, subscribableEvents)
		}
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no event kinds in %q (want some of: %s)", s, subscribableEvents)
	}
	return out, nil
}

// healthOf maps a kind to the red/green state of its target, or "" for kinds
// that are news of their own (promotion, benchmark regression) rather than a
// change of health.
func healthOf(kind string) string {
	switch kind {
	case KindFailure, KindIncompatible, KindNotAccepted:
		return healthRed
	case KindRecovery:
		return healthGreen
	}
	return ""
}
