package benchqueue

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/ironworks-ci/ironworks/benchkit/gate"
	"github.com/ironworks-ci/ironworks/benchkit/report"
	"github.com/ironworks-ci/ironworks/benchkit/results"
	"github.com/ironworks-ci/ironworks/benchkit/stats"
	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// Regression is a metric the bench gate found regressed in a candidate.
type Regression struct {
	Component string `json:"component"`
	Bench     string `json:"bench"`
	HostClass string `json:"host_class"`
	Metric    string `json:"metric"`
	// Change is the measured relative change against Baseline (+0.10: 10%
	// larger).
	Change   float64 `json:"change"`
	Baseline string  `json:"baseline,omitempty"`
	// Gating regressions fail the gate unless Acked.
	Gating bool         `json:"gating"`
	Acked  *results.Ack `json:"acked,omitempty"`
}

// Summary is what the bench gate last decided for a candidate, read from its
// newest stored report without deciding anything anew.
type Summary struct {
	// State is the newest report's gate state (pass or fail); "" before the
	// gate reached a final verdict.
	State       string        `json:"state"`
	Report      string        `json:"report,omitempty"`
	Regressions []Regression  `json:"regressions"`
	Acks        []results.Ack `json:"acks"`
}

// Summary returns the bench gate's newest verdict of a candidate with its
// regressions and acknowledgements.
func (q *Queue) Summary(ctx context.Context, candidate string) (*Summary, error) {
	s := &Summary{Regressions: []Regression{}}
	var js string
	err := q.st.DB.QueryRowContext(ctx, `SELECT id, state, json FROM bench_reports WHERE candidate=? ORDER BY created_at DESC, rowid DESC LIMIT 1`, candidate).Scan(&s.Report, &s.State, &js)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("benchqueue: report of %s: %w", candidate, err)
	}
	if err == nil {
		var rep report.Report
		if err := json.Unmarshal([]byte(js), &rep); err != nil {
			return nil, fmt.Errorf("benchqueue: report %s: %w", s.Report, err)
		}
		for _, j := range rep.Judgements {
			for _, m := range j.Metrics {
				if m.Verdict == stats.Regressed {
					s.Regressions = append(s.Regressions, Regression{Component: j.Series.Component, Bench: j.Series.Bench, HostClass: j.Series.HostClass,
						Metric: m.Metric, Change: m.Change, Baseline: j.Baseline, Gating: m.Gating, Acked: m.Acked})
				}
			}
		}
	}
	if s.Acks, err = q.results.Acks(ctx, candidate); err != nil {
		return nil, err
	}
	return s, nil
}

// AckRefusal is an acknowledgement the bench gate refuses: nothing was
// recorded.
type AckRefusal struct{ Reason string }

func (e *AckRefusal) Error() string { return e.Reason }

// AckResult is a recorded acknowledgement.
type AckResult struct {
	Ack results.Ack `json:"ack"` // its Candidate is the full ID
	// Regressions are the gating regressions it accepts.
	Regressions []Regression `json:"regressions"`
	// Reopened counts the candidate's runs whose failed gate now waits for
	// the next re-check (run --once, serve's scheduler).
	Reopened int64 `json:"reopened"`
}

// Ack accepts a regression the bench gate found: metric, in a.Bench or in
// every bench entry when "", of candidate a.Candidate (a unique ID prefix is
// accepted). It refuses (*AckRefusal, nothing recorded) an unknown
// candidate, one without benchmarks, an unknown bench entry, a metric no
// entry gates, and a metric the gate's newest verdict did not find
// regressed. The acknowledgement belongs to that candidate alone; in the
// same transaction the candidate's runs whose gate failed are marked as
// waiting again, so the next re-check of waiting gates decides them with
// the acknowledgement counted. Acknowledging again replaces the reason.
func (q *Queue) Ack(ctx context.Context, a results.Ack) (*AckResult, error) {
	if a.Candidate == "" || a.Metric == "" {
		return nil, &AckRefusal{"an acknowledgement needs a candidate and a metric"}
	}
	if len(strings.TrimSpace(a.Reason)) < 3 {
		return nil, &AckRefusal{"an acknowledgement needs a reason (at least 3 characters)"}
	}
	c, err := q.st.Candidate(ctx, a.Candidate)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &AckRefusal{fmt.Sprintf("unknown candidate %q (coordinator status lists them)", a.Candidate)}
	}
	if errors.Is(err, store.ErrAmbiguous) {
		return nil, &AckRefusal{err.Error() + "; give more of its ID"}
	}
	if err != nil {
		return nil, fmt.Errorf("benchqueue: ack: %w", err)
	}
	a.Candidate = c.ID
	regs, err := q.ackable(ctx, a)
	if err != nil {
		return nil, err
	}
	res := &AckResult{Ack: a, Regressions: regs}
	err = q.st.Tx(ctx, func(tx *sql.Tx) error {
		if err := q.results.AddAckTx(ctx, tx, a); err != nil {
			return err
		}
		res.Reopened, err = q.st.ReopenGatesTx(ctx, tx, a.Candidate)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("benchqueue: ack: %w", err)
	}
	return res, nil
}

// ackable returns the gating regressions of a.Metric the gate's newest
// verdict found in a.Candidate (in a.Bench when given), or why there are
// none to acknowledge.
func (q *Queue) ackable(ctx context.Context, a results.Ack) ([]Regression, error) {
	rows, err := q.st.DB.QueryContext(ctx, `SELECT component, bench, spec FROM bench_jobs WHERE candidate=? AND round=0 ORDER BY component, bench`, a.Candidate)
	if err != nil {
		return nil, fmt.Errorf("benchqueue: ack: %w", err)
	}
	type entry struct {
		name string
		spec config.Bench
	}
	var entries []entry
	for rows.Next() {
		var comp, bench, spec string
		if err := rows.Scan(&comp, &bench, &spec); err != nil {
			rows.Close()
			return nil, err
		}
		e := entry{name: comp + "/" + bench}
		if err := json.Unmarshal([]byte(spec), &e.spec); err != nil {
			rows.Close()
			return nil, fmt.Errorf("benchqueue: spec of %s: %w", e.name, err)
		}
		entries = append(entries, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, &AckRefusal{fmt.Sprintf("candidate %s has no benchmarks: no bench entry was queued for it", a.Candidate)}
	}
	var names, gated []string
	known := false
	for _, e := range entries {
		names = append(names, e.name)
		if a.Bench != "" && e.spec.Name != a.Bench {
			continue
		}
		known = true
		if _, ok := gate.Spec(&e.spec, a.Metric); ok {
			gated = append(gated, e.name)
		}
	}
	if !known {
		return nil, &AckRefusal{fmt.Sprintf("candidate %s has no bench entry %q (its entries: %s)", a.Candidate, a.Bench, strings.Join(names, ", "))}
	}
	if len(gated) == 0 {
		var list []string
		for _, e := range entries {
			if a.Bench != "" && e.spec.Name != a.Bench {
				continue
			}
			ms := make([]string, 0, len(e.spec.Metrics))
			for m := range e.spec.Metrics {
				ms = append(ms, m)
			}
			sort.Strings(ms)
			list = append(list, strings.Join(ms, ", ")+" in "+e.name)
		}
		return nil, &AckRefusal{fmt.Sprintf("metric %q is not gated by the benchmarks of candidate %s (gated: %s): only a gating metric can fail the gate", a.Metric, a.Candidate, strings.Join(list, "; "))}
	}
	s, err := q.Summary(ctx, a.Candidate)
	if err != nil {
		return nil, err
	}
	if s.Report == "" {
		return nil, &AckRefusal{fmt.Sprintf("the bench gate of candidate %s has not reached a verdict yet: only a regression it found can be acknowledged", a.Candidate)}
	}
	var regs []Regression
	for _, r := range s.Regressions {
		if r.Metric == a.Metric && r.Gating && (a.Bench == "" || r.Bench == a.Bench) {
			regs = append(regs, r)
		}
	}
	if len(regs) == 0 {
		return nil, &AckRefusal{fmt.Sprintf("metric %q did not regress in candidate %s (bench report %s, verdict %s): only a regression the bench gate found can be acknowledged", a.Metric, a.Candidate, s.Report, s.State)}
	}
	return regs, nil
}
