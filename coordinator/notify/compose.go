package notify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// Linker turns an artifact key into a link a person can open (a presigned URL).
type Linker interface {
	URL(ctx context.Context, key string, ttl time.Duration) (string, error)
}

// linkTTL is how long log links in an e-mail work: S3 presigned URLs cannot
// outlive seven days.
const linkTTL = 7 * 24 * time.Hour

// composer renders e-mails. Everything it writes derives from the event and
// the recipient, so rendering the same event twice gives the same message.
type composer struct {
	from    string // bare address
	domain  string // right-hand side of Message-IDs
	webURL  string // public base URL, no trailing slash
	signer  *Signer
	linker  Linker
	tailMax int // lines of log tail quoted
}

func hash(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// messageID is stable per (event, recipient): a resend after a crash carries
// the same Message-ID, so receiving systems can drop the duplicate.
func (c *composer) messageID(e *store.Event, rcpt string) string {
	return "<ironworks." + hash(e.Key, rcpt)[:24] + "@" + c.domain + ">"
}

// threadID is the root every message about one target refers to, so that mail
// readers show a target's history (broken, fixed, broken again) as one thread.
func (c *composer) threadID(component, branch string) string {
	return "<ironworks.thread." + hash(component, branch)[:16] + "@" + c.domain + ">"
}

// oneLine makes untrusted text (commit subjects, summaries) safe for a header.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

func short(rev string) string { return store.ShortRev(rev) }

func subjectOf(e *store.Event, p *Payload) string {
	target := e.Component + "/" + e.Branch
	var s string
	switch e.Kind {
	case KindFailure:
		s = target + " is broken"
		if p.FailedJob != "" {
			s += ": " + p.FailedJob + " failed"
		}
	case KindIncompatible:
		s = target + " is incompatible with " + orDefault(p.Upstream, "its upstream")
		if r := p.UpstreamRange; r != nil && r.To != "" {
			s += " " + rangeText(r)
		}
	case KindNotAccepted:
		s = target + " did not accept the pinned " + orDefault(p.Upstream, "upstream")
	case KindRecovery:
		s = target + " is fixed"
	case KindPromotion:
		s = target + " promoted"
		if p.Stage != "" {
			s += " past " + p.Stage
		}
	case KindBenchRegress:
		s = target + ": benchmark regression"
	case KindStagingFailed:
		s = target + ": " + stagingText(p)
	case KindAdapterError:
		s = target + ": adapter error: " + p.FailedJob + " cannot run"
	case KindFlaky:
		s = target + ": flaky job (failed, then passed on the same revisions)"
	case KindEvalError:
		s = "the flake could not be evaluated at " + orDefault(p.Stage, "a stage") + " (" + target + ")"
		if p.Reason != "" {
			s += ": " + p.Reason
		}
	default:
		s = target + ": " + e.Kind
	}
	return "[ironworks] " + oneLine(s)
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func rangeText(r *Range) string {
	if r.From == "" {
		return short(r.To)
	}
	return short(r.From) + ".." + short(r.To)
}

func headline(e *store.Event, p *Payload) string {
	target := e.Component + "/" + e.Branch
	switch e.Kind {
	case KindFailure:
		return target + " is BROKEN: its own jobs failed."
	case KindIncompatible:
		return target + " is INCOMPATIBLE with " + orDefault(p.Upstream, "its upstream") + ": the upstream is green, " + e.Component + " fails against it."
	case KindNotAccepted:
		return target + " did not build against the pinned " + orDefault(p.Upstream, "upstream") + " revision (the pin was not accepted)."
	case KindRecovery:
		return target + " is GREEN again."
	case KindPromotion:
		return target + " was promoted" + map[bool]string{true: " past " + p.Stage, false: ""}[p.Stage != ""] + "."
	case KindBenchRegress:
		return target + ": a benchmark regressed."
	case KindStagingFailed:
		return target + ": " + stagingText(p) + "."
	case KindAdapterError:
		return target + ": ADAPTER ERROR: the command of " + p.FailedJob + " was not found or is not executable. This is the adapter's configuration, not the component's code."
	case KindFlaky:
		return target + ": a job FAILED and then PASSED on the same revisions: it is flaky. The run is green; nobody is blamed."
	case KindEvalError:
		return "EVALUATION ERROR at " + orDefault(p.Stage, "a stage") + ": Hydra could not fetch or evaluate the flake of the lock commit, so no job ran. No component is blamed and no target changed state. Hydra said: " + orDefault(p.Reason, "(no message)")
	}
	return target + ": " + e.Kind
}

func (c *composer) link(path string) string {
	if path == "" {
		return ""
	}
	if strings.HasPrefix(path, "http://") || strings.HasPrefix(path, "https://") {
		return path
	}
	if c.webURL == "" {
		return path
	}
	return c.webURL + "/" + strings.TrimPrefix(path, "/")
}

func (c *composer) logLink(ctx context.Context, key string) string {
	if key == "" || c.linker == nil {
		return ""
	}
	u, err := c.linker.URL(ctx, key, linkTTL)
	if err != nil {
		return ""
	}
	return u
}

func (c *composer) unsubscribeURL(rcpt, component string) string {
	tok := c.signer.Token(rcpt, component)
	return c.link("/unsubscribe?token=" + url.QueryEscape(tok))
}

func writeRange(b *strings.Builder, label string, r *Range) {
	if r == nil || (r.To == "" && len(r.Commits) == 0) {
		return
	}
	fmt.Fprintf(b, "%s: %s (%d commit%s)\n", label, rangeText(r), len(r.Commits), map[bool]string{true: "", false: "s"}[len(r.Commits) == 1])
	const max = 20
	for i, cm := range r.Commits {
		if i == max {
			fmt.Fprintf(b, "  ... and %d more\n", len(r.Commits)-max)
			break
		}
		fmt.Fprintf(b, "  %s %s (%s)\n", short(cm.Rev), oneLine(cm.Subject), oneLine(cm.Author))
	}
}

func lastLines(s string, n int) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}

// text renders the plain-text body.
func (c *composer) text(ctx context.Context, e *store.Event, p *Payload, rcpt string, parseErr error) string {
	var b strings.Builder
	b.WriteString(headline(e, p) + "\n\n")
	if p.Summary != "" {
		b.WriteString(oneLine(p.Summary) + "\n\n")
	}
	if p.Stage != "" {
		fmt.Fprintf(&b, "Stage:    %s\n", p.Stage)
	}
	if p.Verdict != "" {
		fmt.Fprintf(&b, "Verdict:  %s\n", p.Verdict)
	}
	if p.FailedJob != "" {
		fmt.Fprintf(&b, "Failed:   %s\n", p.FailedJob)
	}
	if p.PRURL != "" {
		fmt.Fprintf(&b, "PR:       %s\n", p.PRURL)
	}
	if u := c.link(p.RunURL); u != "" {
		fmt.Fprintf(&b, "Run:      %s\n", u)
	}
	if e.Candidate != "" {
		fmt.Fprintf(&b, "Candidate: %s\n", e.Candidate)
	}
	b.WriteString("\n")
	if p.Culprit != nil && p.Culprit.Rev != "" {
		how := "found by bisection"
		if p.CulpritUnconfirmed {
			how = "found by bisection, NOT CONFIRMED: re-running the pair before it and at it did not reproduce; a flaky test may be involved"
		}
		fmt.Fprintf(&b, "Culprit (%s): %s %s (%s)\n\n", how, p.Culprit.Rev, oneLine(p.Culprit.Subject), oneLine(p.Culprit.Author))
	}
	writeRange(&b, "Upstream "+orDefault(p.Upstream, "")+" since the last compatible pair", p.UpstreamRange)
	writeRange(&b, "Downstream "+e.Component+" since the last green run", p.DownstreamRange)
	if tail := lastLines(p.LogTail, c.tailMax); len(tail) > 0 {
		fmt.Fprintf(&b, "\nLast %d lines of the log of %s:\n", len(tail), orDefault(p.FailedJob, "the failing job"))
		for _, l := range tail {
			b.WriteString("    " + strings.TrimRight(l, "\r") + "\n")
		}
	}
	if u := c.logLink(ctx, p.LogKey); u != "" {
		fmt.Fprintf(&b, "\nFull log: %s\n", u)
	}
	if len(p.Jobs) > 0 {
		b.WriteString("\nJobs:\n")
		for _, j := range p.Jobs {
			fmt.Fprintf(&b, "  %-40s %-10s %8s", j.Job, j.State, (time.Duration(j.DurationMS) * time.Millisecond).Round(time.Second))
			if j.Reason != "" {
				fmt.Fprintf(&b, "  %s", oneLine(j.Reason))
			}
			if u := c.logLink(ctx, j.LogKey); u != "" {
				fmt.Fprintf(&b, "\n    log: %s", u)
			}
			b.WriteString("\n")
		}
	}
	if len(p.Revisions) > 0 {
		b.WriteString("\nRevisions:\n")
		names := make([]string, 0, len(p.Revisions))
		for n := range p.Revisions {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			r := p.Revisions[n]
			fmt.Fprintf(&b, "  %-20s %s %s (%s)\n", n, r.Rev, r.Repo, r.Branch)
		}
	}
	if parseErr != nil {
		fmt.Fprintf(&b, "\n(Some details are missing: %v)\n", parseErr)
	}
	fmt.Fprintf(&b, "\n-- \nYou receive this because %s subscribed to %s.\nUnsubscribe: %s\n", rcpt, e.Component, c.unsubscribeURL(rcpt, e.Component))
	return b.String()
}

// compose renders the whole RFC 5322 message for one recipient.
func (c *composer) compose(ctx context.Context, e *store.Event, rcpt string) store.Email {
	p, perr := ParsePayload(e.Payload)
	if perr != nil {
		p = parseLenient(e.Payload)
	}
	subject := subjectOf(e, p)
	body := c.text(ctx, e, p, rcpt, perr)
	thread := c.threadID(e.Component, e.Branch)
	date := e.CreatedAt
	if date.IsZero() {
		date = time.Unix(0, 0)
	}
	var m bytes.Buffer
	h := func(k, v string) { m.WriteString(k + ": " + v + "\r\n") }
	h("From", "Ironworks <"+c.from+">")
	h("To", rcpt)
	h("Subject", mime.QEncoding.Encode("utf-8", subject))
	h("Date", date.UTC().Format(time.RFC1123Z))
	h("Message-ID", c.messageID(e, rcpt))
	h("In-Reply-To", thread)
	h("References", thread)
	h("List-Id", "<"+hash(e.Component, e.Branch)[:12]+".ironworks."+c.domain+">")
	unsub := c.unsubscribeURL(rcpt, e.Component)
	h("List-Unsubscribe", "<"+unsub+">")
	h("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
	h("Auto-Submitted", "auto-generated")
	h("X-Ironworks-Event", e.Kind)
	h("X-Ironworks-Target", oneLine(e.Component+"/"+e.Branch))
	h("MIME-Version", "1.0")
	h("Content-Type", "text/plain; charset=utf-8")
	h("Content-Transfer-Encoding", "quoted-printable")
	m.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&m)
	qp.Write([]byte(strings.ReplaceAll(body, "\n", "\r\n")))
	qp.Close()
	return store.Email{
		MessageID: c.messageID(e, rcpt),
		Recipient: rcpt,
		Subject:   subject,
		Body:      m.Bytes(),
	}
}

// stagingText says which pull request failed in staging, where and why.
func stagingText(p *Payload) string {
	s := "staging failed"
	if p.PR != 0 {
		s = fmt.Sprintf("PR #%d failed in staging", p.PR)
	}
	if p.Stage != "" {
		s += " (" + p.Stage + ")"
	}
	if p.Reason != "" {
		s += ": " + p.Reason
	}
	return s
}
