package benchqueue

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/ironworks-ci/ironworks/benchkit/gate"
	"github.com/ironworks-ci/ironworks/benchkit/protocol"
	"github.com/ironworks-ci/ironworks/benchkit/report"
	"github.com/ironworks-ci/ironworks/benchkit/results"
	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// Gate states returned by Verdict.
const (
	StatePending = "pending" // jobs queued or running, or confirmation runs under way
	StatePass    = "pass"
	StateFail    = "fail"
	StateNone    = "none" // no bench job was enqueued for the candidate
)

// Result is the bench gate's answer for a candidate.
type Result struct {
	State string `json:"state"`
	// Details says why, one line per bench entry and host class.
	Details []string `json:"details"`
	// ReportIDs name the stored reports (Report) once the state is final.
	ReportIDs []string `json:"report_ids"`
}

// Verdict is the harden gate's bench check of a candidate: pending until every
// bench job of the candidate finished and every judgement is firm; fail when a
// job failed or a gating metric regressed against the baseline (the newest
// released candidate on the same host class) without an acknowledgement; pass
// otherwise. A judgement that is inconclusive or borderline enqueues a
// confirmation run (up to ConfirmRounds) and stays pending; one still
// inconclusive after them passes with a warning in Details, because an
// unmeasurable bench must not block every release (it is reported instead).
// A final verdict stores its report and, on failure, a bench-regression event.
func (q *Queue) Verdict(ctx context.Context, candidateID string) (*Result, error) {
	if err := q.st.Tx(ctx, func(tx *sql.Tx) error { return q.expire(ctx, tx) }); err != nil {
		return nil, fmt.Errorf("benchqueue: verdict: %w", err)
	}
	type entry struct {
		component, bench string
		spec             config.Bench
		sources          map[string]Revision
		lastRound        int
		open, failed     bool
		errMsg           string
		baseline         *protocol.Baseline
		keys             []string // result keys of the done attempts
	}
	rows, err := q.st.DB.QueryContext(ctx, `SELECT component, bench, round, state, error, spec, sources, baseline, lease_id, bisect, result FROM bench_jobs WHERE candidate=? ORDER BY component, bench, round`, candidateID)
	if err != nil {
		return nil, fmt.Errorf("benchqueue: verdict: %w", err)
	}
	var entries []*entry
	var bisections []string
	byKey := map[string]*entry{}
	for rows.Next() {
		var comp, bench, state, errMsg, spec, srcs, base, lease, bis, result string
		var round int
		if err := rows.Scan(&comp, &bench, &round, &state, &errMsg, &spec, &srcs, &base, &lease, &bis, &result); err != nil {
			rows.Close()
			return nil, err
		}
		if round < 0 {
			// A bisection of a confirmed regression: reported, never judged.
			if state == Failed {
				bisections = append(bisections, fmt.Sprintf("%s/%s: bisection failed: %s", comp, bench, errMsg))
			} else {
				bisections = append(bisections, comp+"/"+bench+": "+bisection(state, bis, result))
			}
			continue
		}
		e := byKey[comp+"\x00"+bench]
		if e == nil {
			e = &entry{component: comp, bench: bench}
			if err := json.Unmarshal([]byte(spec), &e.spec); err != nil {
				rows.Close()
				return nil, fmt.Errorf("benchqueue: spec of %s/%s: %w", comp, bench, err)
			}
			_ = json.Unmarshal([]byte(srcs), &e.sources)
			if base != "" {
				e.baseline = &protocol.Baseline{}
				_ = json.Unmarshal([]byte(base), e.baseline)
			}
			byKey[comp+"\x00"+bench] = e
			entries = append(entries, e)
		}
		e.lastRound = max(e.lastRound, round)
		switch state {
		case Queued, Leased:
			e.open = true
		case Failed:
			e.failed, e.errMsg = true, errMsg
		case Done:
			e.keys = append(e.keys, "lease:"+lease)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	res := &Result{State: StatePass, Details: []string{}, ReportIDs: []string{}}
	if len(entries) == 0 {
		res.State = StateNone
		return res, nil
	}
	acks, err := q.results.Acks(ctx, candidateID)
	if err != nil {
		return nil, err
	}
	var judgements []*gate.Judgement
	for _, e := range entries {
		name := e.component + "/" + e.bench
		switch {
		case e.failed:
			res.State = StateFail
			res.Details = append(res.Details, fmt.Sprintf("%s: bench job failed: %s", name, e.errMsg))
			continue
		case e.open:
			if res.State != StateFail {
				res.State = StatePending
			}
			res.Details = append(res.Details, fmt.Sprintf("%s: waiting for an agent (round %d)", name, e.lastRound))
			continue
		}
		classes, err := q.results.HostClasses(ctx, candidateID, e.component, e.bench)
		if err != nil {
			return nil, err
		}
		for _, hc := range classes {
			se := results.Series{Component: e.component, Bench: e.bench, HostClass: hc}
			var j *gate.Judgement
			if e.baseline != nil {
				j, err = q.judgeSideBySide(ctx, se, candidateID, e.baseline.Candidate, e.keys, &e.spec, acks)
			} else {
				j, err = gate.Judge(ctx, q.results, se, candidateID, &e.spec)
			}
			if err != nil {
				return nil, err
			}
			// A side-by-side baseline holding an outlier is measured again
			// (once) before anything is decided on it.
			outlier := e.baseline != nil && e.lastRound == 0 && gate.BaselineOutliers(j)
			if (j.NeedsConfirmation() || outlier) && e.lastRound < q.ConfirmRounds {
				if err := q.enqueue(ctx, candidateID, e.component, e.sources, &e.spec, e.lastRound+1, e.baseline, nil); err != nil {
					return nil, err
				}
				if res.State != StateFail {
					res.State = StatePending
				}
				res.Details = append(res.Details, fmt.Sprintf("%s on %s: confirmation run %d of %d", name, hc, e.lastRound+1, q.ConfirmRounds))
				continue
			}
			judgements = append(judgements, j)
			switch j.State {
			case gate.Fail:
				res.State = StateFail
				for _, m := range j.Metrics {
					if m.Gating && m.Acked == nil && m.Verdict == "regressed" {
						res.Details = append(res.Details, fmt.Sprintf("%s on %s: %s regressed %+.2f%% against %s", name, hc, m.Metric, m.Change*100, j.Baseline))
					}
				}
			case gate.Inconclusive:
				res.Details = append(res.Details, fmt.Sprintf("%s on %s: inconclusive after %d confirmation runs (not blocking)", name, hc, e.lastRound))
			case gate.NoBaseline:
				res.Details = append(res.Details, fmt.Sprintf("%s on %s: no released baseline on this host class; recorded", name, hc))
			default:
				res.Details = append(res.Details, fmt.Sprintf("%s on %s: pass against %s", name, hc, j.Baseline))
			}
		}
	}
	if res.State == StatePending {
		return res, nil
	}
	rep := report.New(candidateID, judgements, acks)
	if err := q.storeReport(ctx, rep, res.State); err != nil {
		return nil, err
	}
	res.ReportIDs = append(res.ReportIDs, rep.ID)
	if res.State == StateFail && len(bisections) == 0 {
		// Find the culprit of a regression measured side by side.
		for _, e := range entries {
			if e.baseline == nil || e.failed {
				continue
			}
			started, err := q.startBisections(ctx, candidateID, e.component, e.sources, &e.spec, e.baseline, rep.ID)
			if err != nil {
				return nil, err
			}
			for _, s := range started {
				bisections = append(bisections, fmt.Sprintf("%s/%s: bisecting %s for the culprit", e.component, e.bench, s))
			}
		}
	}
	res.Details = append(res.Details, bisections...)
	if res.State == StateFail {
		err := q.st.AppendEvent(ctx, store.Event{
			Key: "bench-regression:" + candidateID + ":" + rep.ID, Kind: "bench-regression", Candidate: candidateID,
			Payload: map[string]any{"report": rep.ID, "details": res.Details},
		})
		if err != nil {
			return nil, fmt.Errorf("benchqueue: event: %w", err)
		}
	}
	return res, nil
}

func (q *Queue) storeReport(ctx context.Context, rep *report.Report, state string) error {
	js, err := rep.JSON()
	if err != nil {
		return err
	}
	_, err = q.st.DB.ExecContext(ctx, `INSERT OR IGNORE INTO bench_reports(id, candidate, state, json, markdown, created_at) VALUES (?,?,?,?,?,?)`,
		rep.ID, rep.Candidate, state, string(js), rep.Markdown(), q.now().UnixMilli())
	if err != nil {
		return fmt.Errorf("benchqueue: store report: %w", err)
	}
	return nil
}

// Report returns a stored report's JSON and Markdown.
func (q *Queue) Report(ctx context.Context, id string) (jsonText, markdown string, err error) {
	err = q.st.DB.QueryRowContext(ctx, `SELECT json, markdown FROM bench_reports WHERE id=?`, id).Scan(&jsonText, &markdown)
	if err == sql.ErrNoRows {
		return "", "", fmt.Errorf("benchqueue: report %s: %w", id, store.ErrNotFound)
	}
	return jsonText, markdown, err
}
