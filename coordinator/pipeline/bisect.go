package pipeline

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/ironworks-ci/ironworks/coordinator/config"

	"github.com/ironworks-ci/ironworks/coordinator/source"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// explainIncompatible adds to an incompatible verdict what people need to act:
// the upstream and downstream commit ranges since the last compatible pair and,
// when the upstream range holds several commits, the culprit found by bisection.
// If the downstream changed too and fails even with the last compatible
// upstream, the downstream broke itself and the verdict becomes "failed".
func (p *Pipeline) explainIncompatible(ctx context.Context, cand *store.Candidate, run *store.Run, j *Judgement, opts RunOptions) error {
	up, _ := j.Detail["upstream"].(string)
	down, _ := j.Detail["downstream"].(string)
	upRev, downRev := cand.Revisions[up].Rev, cand.Revisions[down].Rev
	lastUp, lastDown, err := p.Store.LastCompatible(ctx, up, down)
	if err != nil {
		return err
	}
	if lastUp == "" {
		j.Detail["upstream_range"] = map[string]any{"from": "", "to": upRev}
		j.Detail["bisect"] = "no compatible pair recorded yet: nothing to bisect against"
		return nil
	}
	commits, err := p.Mirrors.Range(ctx, up, lastUp, upRev, 0)
	if err != nil {
		return err
	}
	j.Detail["upstream_range"] = rangeDetail(lastUp, upRev, commits)
	if len(commits) > 0 {
		// The bad end first: a failure that does not come back on the same
		// pair is a flaky test, never a culprit.
		if again, err := p.probe(ctx, cand, run, up, upRev, down, true); err != nil {
			return err
		} else if again == "good" {
			return p.notReproduced(ctx, cand, run, j)
		}
	}
	if lastDown != downRev {
		dc, err := p.Mirrors.Range(ctx, down, lastDown, downRev, 50)
		if err != nil {
			return err
		}
		j.Detail["downstream_range"] = rangeDetail(lastDown, downRev, dc)
		// Both moved: try the new downstream with the last compatible upstream.
		verdict, err := p.probe(ctx, cand, run, up, lastUp, down, false)
		if err != nil {
			return err
		}
		if verdict == "bad" {
			j.Verdict = store.VerdictFailed
			j.Detail["component"] = down
			j.Detail["reason"] = fmt.Sprintf("%s fails with the last compatible %s (%s) too: its own change broke it", down, up, store.ShortRev(lastUp))
			return nil
		}
	}
	switch {
	case len(commits) == 1:
		j.Detail["culprit"] = commits[0]
	case len(commits) > 1 && !opts.NoBisect:
		culprit, info, err := p.bisect(ctx, cand, run, up, down, commits)
		if err != nil {
			return err
		}
		if culprit != nil {
			j.Detail["culprit"] = *culprit
			confirmed, err := p.confirm(ctx, cand, run, up, down, lastUp, commits, *culprit)
			if err != nil {
				return err
			}
			info["confirmed"] = confirmed
			if !confirmed {
				j.Detail["culprit_unconfirmed"] = true
				info["result"] = "culprit NOT confirmed: re-running the pair before it and at it did not give good then bad (a flaky test?)"
			}
		}
		j.Detail["bisect"] = info
	}
	return nil
}

func rangeDetail(from, to string, commits []source.Commit) map[string]any {
	return map[string]any{"from": from, "to": to, "count": len(commits), "commits": commits}
}

// bisect finds the first upstream commit of commits (oldest first; the last is
// known bad, the one before the first known good) with which the downstream
// fails, in about log2(len) probes. A commit where the upstream itself is broken
// is skipped, as git bisect does.
func (p *Pipeline) bisect(ctx context.Context, cand *store.Candidate, run *store.Run, up, down string, commits []source.Commit) (*source.Commit, map[string]any, error) {
	limit := p.BisectLimit
	if limit <= 0 {
		limit = 16
	}
	cs := slices.Clone(commits)
	lo, hi := -1, len(cs)-1
	probes := 0
	skipped := []string{} // [] in JSON, never null
	for hi-lo > 1 {
		if probes >= limit {
			info := map[string]any{"probes": probes, "commits": len(commits), "skipped": skipped,
				"result": fmt.Sprintf("gave up after %d probes: culprit among %d commits", probes, hi-lo)}
			return nil, info, nil
		}
		mid := (lo + hi) / 2
		v, err := p.probe(ctx, cand, run, up, cs[mid].Rev, down, false)
		if err != nil {
			return nil, nil, err
		}
		probes++
		p.log().Info("bisect", "upstream", up, "rev", store.ShortRev(cs[mid].Rev), "result", v, "left", hi-lo-1)
		switch v {
		case "good":
			lo = mid
		case "bad":
			hi = mid
		default:
			skipped = append(skipped, cs[mid].Rev)
			cs = slices.Delete(cs, mid, mid+1)
			hi--
		}
	}
	info := map[string]any{"probes": probes, "commits": len(commits), "skipped": skipped}
	c := cs[hi]
	if len(skipped) > 0 {
		info["result"] = "culprit, or one of the skipped commits before it"
	}
	return &c, info, nil
}

// probe runs the downstream's jobs of the run's stage against upstream at rev,
// keeping the downstream at the candidate's revision. It answers good, bad or
// skip, reusing a recorded verdict for the same pair unless fresh is set.
func (p *Pipeline) probe(ctx context.Context, cand *store.Candidate, run *store.Run, up, rev, down string, fresh bool) (string, error) {
	downRev := cand.Revisions[down].Rev
	if !fresh {
		known, err := p.Store.CompatVerdict(ctx, up, rev, down, downRev)
		if err != nil {
			return "", err
		}
		switch known {
		case store.VerdictGreen:
			return "good", nil
		case store.VerdictIncompatible, store.VerdictFailed:
			return "bad", nil
		}
	}
	revs := maps.Clone(cand.Revisions)
	r := revs[up]
	r.Rev = rev
	revs[up] = r
	pc, err := p.Store.PutCandidate(ctx, revs, "bisect", 0)
	if err != nil {
		return "", err
	}
	jobs := p.closure(run.Stage, down)
	pr, err := p.Enqueue(ctx, pc, run.Stage, RunOptions{Kind: "bisect", Jobs: jobs, New: fresh})
	if err != nil {
		return "", err
	}
	pr, err = p.Execute(ctx, pr.ID, RunOptions{Kind: "bisect"})
	if err != nil {
		return "", err
	}
	res, err := p.Store.JobResults(ctx, pr.ID)
	if err != nil {
		return "", err
	}
	jd := Judge(p.Cfg, pc, pr, res)
	switch {
	case jd.States[down] == store.VerdictGreen:
		return "good", nil
	case jd.States[up] == "red":
		return "skip", nil
	case jd.States[down] == "red":
		return "bad", nil
	}
	return "skip", nil
}

// closure returns the stage's jobs of comp with everything they need, in the
// stage's job order.
func (p *Pipeline) closure(stage, comp string) []string {
	want := map[string]bool{}
	var add func(id string)
	add = func(id string) {
		if want[id] {
			return
		}
		want[id] = true
		for _, n := range p.Cfg.JobsByID[id].Needs {
			add(n)
		}
	}
	for _, id := range p.StageJobs(stage) {
		if p.Cfg.JobsByID[id].Component == comp {
			add(id)
		}
	}
	var out []string
	for _, st := range config.Stages {
		for _, j := range p.Cfg.StageJobs(st) {
			if want[j.ID()] {
				out = append(out, j.ID())
			}
		}
	}
	return out
}

// notReproduced turns an incompatible verdict whose failure did not come back
// at the bad end into green with the failed job marked flaky.
func (p *Pipeline) notReproduced(ctx context.Context, cand *store.Candidate, run *store.Run, j *Judgement) error {
	up, _ := j.Detail["upstream"].(string)
	down, _ := j.Detail["downstream"].(string)
	failed, _ := j.Detail["failed_job"].(string)
	j.Verdict = store.VerdictGreen
	j.States[down] = store.VerdictGreen
	j.Detail["bisect"] = map[string]any{"result": "the failure did not reproduce at the bad end: flaky, no culprit"}
	for _, k := range []string{"failed_job", "failed_reason", "culprit"} {
		delete(j.Detail, k)
	}
	if failed != "" {
		markFlaky(j, []string{failed})
	}
	return p.Store.RecordCompat(ctx, up, cand.Revisions[up].Rev, down, cand.Revisions[down].Rev, store.VerdictGreen, run.ID)
}

// confirm re-runs the pair before the culprit (it must pass) and the pair at
// it (it must fail). lastUp is the last compatible upstream revision, the
// parent of commits[0].
func (p *Pipeline) confirm(ctx context.Context, cand *store.Candidate, run *store.Run, up, down, lastUp string, commits []source.Commit, culprit source.Commit) (bool, error) {
	parent := lastUp
	for i, c := range commits {
		if c.Rev == culprit.Rev && i > 0 {
			parent = commits[i-1].Rev
		}
	}
	before, err := p.probe(ctx, cand, run, up, parent, down, true)
	if err != nil {
		return false, err
	}
	at, err := p.probe(ctx, cand, run, up, culprit.Rev, down, true)
	if err != nil {
		return false, err
	}
	p.log().Info("bisect confirmation", "before", before, "at", at, "culprit", store.ShortRev(culprit.Rev))
	return before == "good" && at == "bad", nil
}
