package web

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-github/v66/github"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/forge"
	"github.com/ironworks-ci/ironworks/coordinator/metrics"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// maxWebhookBody is GitHub's own cap on webhook payloads.
const maxWebhookBody = 25 << 20

// handledEvents are the X-GitHub-Event values the endpoint accepts; a hook
// should subscribe to exactly these.
var handledEvents = map[string]bool{"ping": true, "push": true, "pull_request": true, "pull_request_review": true, "check_run": true}

// webhookResult is what the delivery came to; it labels the metric.
type webhookResult struct {
	code   int
	result string // accepted, duplicate, ignored, unauthorized, bad_request, error
	msg    string
}

func (s *Server) webhook(w http.ResponseWriter, r *http.Request) {
	event := r.Header.Get("X-GitHub-Event")
	res := s.handleWebhook(r, event)
	label := event
	if !handledEvents[label] {
		label = "unknown" // bounded label values, whatever a client sends
	}
	metrics.Webhooks.WithLabelValues(label, res.result).Inc()
	if res.code >= 400 {
		s.log.Warn("web: webhook refused", "event", label, "delivery", r.Header.Get("X-GitHub-Delivery"), "code", res.code, "reason", res.msg)
	} else {
		s.log.Info("web: webhook", "event", label, "delivery", r.Header.Get("X-GitHub-Delivery"), "result", res.result, "detail", res.msg)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(res.code)
	io.WriteString(w, res.result+": "+res.msg+"\n")
}

// webhookReads bounds the bodies read at once: an unauthenticated client can
// make the daemon hold at most this many payloads of up to 25 MiB (GitHub
// delivers one at a time per hook; more wait their turn).
const webhookReads = 2

func (s *Server) handleWebhook(r *http.Request, event string) webhookResult {
	// Everything that can be refused without the body is refused first.
	if len(s.opts.WebhookSecret) == 0 {
		return webhookResult{http.StatusUnauthorized, "unauthorized", "no webhook secret configured: every delivery is refused"}
	}
	sig := r.Header.Get("X-Hub-Signature-256")
	if err := checkSignatureHeader(sig); err != nil {
		return webhookResult{http.StatusUnauthorized, "unauthorized", err.Error()}
	}
	if r.ContentLength > maxWebhookBody {
		return webhookResult{http.StatusRequestEntityTooLarge, "bad_request", "payload over 25 MiB"}
	}
	select {
	case s.webhookSlots <- struct{}{}:
		defer func() { <-s.webhookSlots }()
	case <-r.Context().Done():
		return webhookResult{http.StatusServiceUnavailable, "error", "gave up waiting to read the body"}
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength) + bytes.MinRead) // room to see EOF without doubling
	}
	if _, err := buf.ReadFrom(http.MaxBytesReader(nil, r.Body, maxWebhookBody)); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return webhookResult{http.StatusRequestEntityTooLarge, "bad_request", "payload over 25 MiB"}
		}
		return webhookResult{http.StatusBadRequest, "bad_request", "reading body: " + err.Error()}
	}
	body := buf.Bytes()
	if err := verifySignature(sig, body, s.opts.WebhookSecret); err != nil {
		return webhookResult{http.StatusUnauthorized, "unauthorized", err.Error()}
	}
	delivery := r.Header.Get("X-GitHub-Delivery")
	switch {
	case event == "":
		return webhookResult{http.StatusBadRequest, "bad_request", "missing X-GitHub-Event header"}
	case !handledEvents[event]:
		return webhookResult{http.StatusBadRequest, "bad_request", fmt.Sprintf("unsupported event %q (subscribe the hook to push, pull_request, pull_request_review and check_run)", truncate(event, 64))}
	case delivery == "":
		return webhookResult{http.StatusBadRequest, "bad_request", "missing X-GitHub-Delivery header"}
	case len(delivery) > 128:
		return webhookResult{http.StatusBadRequest, "bad_request", "X-GitHub-Delivery header too long"}
	}
	parsed, err := github.ParseWebHook(event, body)
	if err != nil {
		return webhookResult{http.StatusBadRequest, "bad_request", "malformed " + event + " payload: " + err.Error()}
	}
	// The action outlives a client that hangs up: GitHub would not redeliver.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 30*time.Second)
	defer cancel()
	act, res := s.planWebhook(ctx, parsed)
	if act == nil {
		return res
	}
	fresh, err := s.st.ClaimDelivery(ctx, delivery, event)
	if err != nil {
		return webhookResult{http.StatusInternalServerError, "error", err.Error()}
	}
	if !fresh {
		return webhookResult{http.StatusOK, "duplicate", "delivery " + delivery + " was already handled"}
	}
	if err := act(); err != nil {
		// Forget the delivery so that GitHub's redelivery is acted on.
		if rerr := s.st.ReleaseDelivery(ctx, delivery); rerr != nil {
			s.log.Error("web: releasing failed delivery", "delivery", delivery, "err", rerr)
		}
		return webhookResult{http.StatusInternalServerError, "error", err.Error()}
	}
	s.invalidate()
	return res
}

// planWebhook validates a parsed payload and returns the action it calls
// for, or nil with the answer when it calls for none. Nothing here changes state.
func (s *Server) planWebhook(ctx context.Context, ev any) (func() error, webhookResult) {
	ignore := func(format string, a ...any) (func() error, webhookResult) {
		return nil, webhookResult{http.StatusAccepted, "ignored", fmt.Sprintf(format, a...)}
	}
	bad := func(format string, a ...any) (func() error, webhookResult) {
		return nil, webhookResult{http.StatusBadRequest, "bad_request", fmt.Sprintf(format, a...)}
	}
	switch e := ev.(type) {
	case *github.PingEvent:
		return nil, webhookResult{http.StatusOK, "accepted", "pong"}

	case *github.PushEvent:
		repo := e.GetRepo().GetFullName()
		if repo == "" {
			return bad("push: missing repository.full_name")
		}
		ref, after := e.GetRef(), e.GetAfter()
		if ref == "" {
			return bad("push: missing ref")
		}
		branch, ok := strings.CutPrefix(ref, "refs/heads/")
		if !ok {
			return ignore("push to %s is not a branch", truncate(ref, 100))
		}
		if e.GetDeleted() || strings.Trim(after, "0") == "" {
			return ignore("branch %s deleted", truncate(branch, 100))
		}
		if !forge.IsSHA(after) {
			return bad("push: after %q is not a commit id", truncate(after, 64))
		}
		comp, ok := s.component(repo)
		if !ok {
			return ignore("repository %s is not a configured component", truncate(repo, 100))
		}
		if !s.follows(comp, branch) {
			return ignore("%s branch %s is not a target", comp, truncate(branch, 100))
		}
		return func() error { return s.opts.Actions.Trigger(ctx, comp, branch, after) },
			webhookResult{http.StatusAccepted, "accepted", fmt.Sprintf("%s %s at %s", comp, branch, store.ShortRev(after))}

	case *github.PullRequestEvent:
		pe, res, ok := s.prEvent(e.GetRepo(), e.GetPullRequest(), e.GetAction())
		if !ok {
			return nil, res
		}
		switch pe.Action {
		case "opened", "reopened", "synchronize", "labeled", "unlabeled", "ready_for_review", "converted_to_draft", "closed":
		default:
			return ignore("pull_request action %q", truncate(pe.Action, 40))
		}
		pe.Label = e.GetLabel().GetName()
		return func() error { return s.opts.Actions.PullRequest(ctx, pe) },
			webhookResult{http.StatusAccepted, "accepted", fmt.Sprintf("%s #%d %s", pe.Repo, pe.Number, pe.Action)}

	case *github.PullRequestReviewEvent:
		pe, res, ok := s.prEvent(e.GetRepo(), e.GetPullRequest(), e.GetAction())
		if !ok {
			return nil, res
		}
		switch pe.Action {
		case "submitted", "dismissed":
			pe.Action = "review_" + pe.Action
		default:
			return ignore("pull_request_review action %q", truncate(pe.Action, 40))
		}
		pe.Review = strings.ToLower(e.GetReview().GetState())
		pe.Reviewer = e.GetReview().GetUser().GetLogin()
		return func() error { return s.opts.Actions.PullRequest(ctx, pe) },
			webhookResult{http.StatusAccepted, "accepted", fmt.Sprintf("%s #%d %s %s", pe.Repo, pe.Number, pe.Action, pe.Review)}

	case *github.CheckRunEvent:
		if e.GetAction() != "rerequested" {
			return ignore("check_run action %q", truncate(e.GetAction(), 40))
		}
		repo := e.GetRepo().GetFullName()
		if _, ok := s.component(repo); !ok {
			return ignore("repository %s is not a configured component", truncate(repo, 100))
		}
		sha := e.GetCheckRun().GetHeadSHA()
		if !forge.IsSHA(sha) {
			return bad("check_run: check_run.head_sha %q is not a commit id", truncate(sha, 64))
		}
		return func() error { return s.opts.Actions.CheckRerun(ctx, sha) },
			webhookResult{http.StatusAccepted, "accepted", "re-run " + store.ShortRev(sha)}
	}
	return bad("unexpected payload type %T", ev)
}

func (s *Server) prEvent(repo *github.Repository, pr *github.PullRequest, action string) (PREvent, webhookResult, bool) {
	fail := func(code int, result, format string, a ...any) (PREvent, webhookResult, bool) {
		return PREvent{}, webhookResult{code, result, fmt.Sprintf(format, a...)}, false
	}
	name := repo.GetFullName()
	switch {
	case name == "":
		return fail(http.StatusBadRequest, "bad_request", "missing repository.full_name")
	case action == "":
		return fail(http.StatusBadRequest, "bad_request", "missing action")
	case pr == nil || pr.GetNumber() <= 0:
		return fail(http.StatusBadRequest, "bad_request", "missing pull_request.number")
	case !forge.IsSHA(pr.GetHead().GetSHA()):
		return fail(http.StatusBadRequest, "bad_request", "pull_request.head.sha %q is not a commit id", truncate(pr.GetHead().GetSHA(), 64))
	}
	comp, ok := s.component(name)
	if !ok {
		return fail(http.StatusAccepted, "ignored", "repository %s is not a configured component", truncate(name, 100))
	}
	pe := PREvent{
		Component: comp,
		Repo:      name,
		Number:    pr.GetNumber(),
		Title:     pr.GetTitle(),
		Action:    action,
		URL:       pr.GetHTMLURL(),
		HeadSHA:   pr.GetHead().GetSHA(),
		HeadRef:   pr.GetHead().GetRef(),
		BaseRef:   pr.GetBase().GetRef(),
		Draft:     pr.GetDraft(),
		Merged:    pr.GetMerged(),
	}
	for _, l := range pr.Labels {
		pe.Labels = append(pe.Labels, l.GetName())
	}
	return pe, webhookResult{}, true
}

// checkSignatureHeader checks the form of the header, before the body is read.
func checkSignatureHeader(header string) error {
	if header == "" {
		return errors.New("missing X-Hub-Signature-256 header")
	}
	hexSig, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return errors.New("X-Hub-Signature-256 is not sha256=<hex>")
	}
	if b, err := hex.DecodeString(hexSig); err != nil || len(b) != sha256.Size {
		return errors.New("X-Hub-Signature-256 is not sha256=<64 hex digits>")
	}
	return nil
}

// verifySignature checks GitHub's "sha256=<hex>" HMAC of the body in constant time.
func verifySignature(header string, body, secret []byte) error {
	if err := checkSignatureHeader(header); err != nil {
		return err
	}
	got, _ := hex.DecodeString(strings.TrimPrefix(header, "sha256="))
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return errors.New("signature does not match the payload")
	}
	return nil
}

// repoIndex maps GitHub owner/name (lower case) to component.
func repoIndex(cfg *config.Config) map[string]string {
	out := map[string]string{}
	for comp := range cfg.Loaded {
		if name, ok := forge.RepoOf(cfg, comp, ""); ok {
			out[strings.ToLower(name)] = comp
		}
	}
	return out
}

func (s *Server) component(fullName string) (string, bool) {
	c, ok := s.repos[strings.ToLower(fullName)]
	return c, ok
}

func (s *Server) follows(comp, branch string) bool {
	if _, ok := s.cfg.Loaded[comp]; !ok {
		return false
	}
	for _, b := range s.cfg.Branches(comp) {
		if b == branch {
			return true
		}
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
