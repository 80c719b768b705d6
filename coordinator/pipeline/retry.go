package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// Runs that ended infra-error or eval-error blame nobody and may pass when
// tried again (a remote back up, an eval that appeared late, a fix of the
// flake on main), so later passes try them again, with a backoff that
// doubles, a bounded number of times ([engine] retries, retry_backoff). The
// count is in the run's detail: "attempt" (1 for the first run),
// "attempts" (all that will be made) and "retry_at" (RFC 3339, when the next
// one is due; absent on the last).

// retryable reports whether a verdict is worth trying again unchanged.
func retryable(verdict string) bool {
	return verdict == store.VerdictInfraError || verdict == store.VerdictEvalError
}

func (p *Pipeline) retries() int {
	if p.Cfg.Engine.Retries == nil {
		return 0
	}
	return *p.Cfg.Engine.Retries
}

// Attempt reads from a run's detail which attempt the run was: 1 for the
// first run (or a detail without a count).
func Attempt(detail map[string]any) int {
	if n := intOf(detail["attempt"]); n >= 1 {
		return n
	}
	return 1
}

// intOf reads a count from a run's detail: an int before it was stored, a
// float64 after JSON; 0 otherwise.
func intOf(v any) int {
	switch n := v.(type) {
	case int:
		return n
	case float64:
		return int(n)
	}
	return 0
}

// backoff is the wait after attempt n before attempt n+1.
func (p *Pipeline) backoff(n int) time.Duration {
	d := p.Cfg.Engine.RetryBackoff.Duration
	if d <= 0 {
		d = time.Minute
	}
	for i := 1; i < n && d < 24*time.Hour; i++ {
		d *= 2
	}
	return d
}

// noteRetry writes the attempt count into a finished run's judgement and,
// when another attempt will be made, when it is due.
func (p *Pipeline) noteRetry(run *store.Run, j *Judgement, finished time.Time) {
	n, total := Attempt(run.Detail), p.retries()+1
	if n > 1 {
		// A retry keeps saying it is one, whatever its verdict.
		j.Detail["attempt"], j.Detail["retry_of"] = n, run.Detail["retry_of"]
	}
	if !retryable(j.Verdict) || run.Kind == "bisect" {
		return
	}
	j.Detail["attempt"], j.Detail["attempts"] = n, total
	if n < total {
		j.Detail["retry_at"] = finished.Add(p.backoff(n)).UTC().Format(time.RFC3339)
	}
}

// retry returns a new run trying r again when r ended with a retryable
// verdict, attempts are left and its backoff has passed; nil otherwise.
func (p *Pipeline) retry(ctx context.Context, r *store.Run, now time.Time) (*store.Run, error) {
	if r.State != store.RunDone || !retryable(r.Verdict) {
		return nil, nil
	}
	at, ok := r.Detail["retry_at"].(string)
	if !ok {
		return nil, nil // the last attempt, or a run from before retries
	}
	due, err := time.Parse(time.RFC3339, at)
	if err != nil {
		return nil, fmt.Errorf("run %d: retry_at %q: %w", r.ID, at, err)
	}
	if now.Before(due) {
		return nil, nil
	}
	n := Attempt(r.Detail) + 1
	p.log().Info("trying again", "run", r.ID, "stage", r.Stage, "verdict", r.Verdict, "attempt", n, "of", p.retries()+1)
	return p.Store.CreateRun(ctx, r.Candidate, r.Stage, r.Kind, p.Engine.Name(), r.Jobs,
		map[string]any{"attempt": n, "retry_of": r.ID})
}

// RetryText says, for Summary and status, which attempt this was and what comes next.
func RetryText(d map[string]any) string {
	n, total := Attempt(d), intOf(d["attempts"])
	if total <= 1 {
		return ""
	}
	if at, ok := d["retry_at"].(string); ok {
		return fmt.Sprintf(" (attempt %d of %d; next at %s)", n, total, at)
	}
	return fmt.Sprintf(" (attempt %d of %d; no retries left)", n, total)
}
