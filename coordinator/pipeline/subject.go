package pipeline

import "github.com/ironworks-ci/ironworks/coordinator/store"

// subject is the component (and its branch) a run of cand reports on: the
// component whose pull request made the candidate, or for a head candidate
// the last component in build order, the one every other is built for. Run
// events carry it so that the pull-request reporter knows which commit gets
// the status; target events (failure, recovery, ...) set their own.
func (p *Pipeline) subject(cand *store.Candidate) (component, branch string) {
	order := p.Cfg.Order()
	if cand.Origin == "pr" {
		for _, c := range order {
			r, ok := cand.Revisions[c]
			if ok && r.Branch != p.Cfg.Loaded[c].Branch {
				return c, r.Branch
			}
		}
	}
	for i := len(order) - 1; i >= 0; i-- {
		if r, ok := cand.Revisions[order[i]]; ok {
			return order[i], r.Branch
		}
	}
	return "", ""
}
