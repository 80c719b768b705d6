// Package notify tells people what happened: it routes pipeline events to
// e-mail subscribers (one message per state change, threaded per target),
// delivers the e-mail outbox over SMTP or into a folder, and reports runs back
// to pull requests as commit statuses and one living comment.
package notify

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
)

// ParseAddress accepts a bare e-mail address such as ops@example.org and
// returns it with its domain lower-cased. Display names, angle brackets,
// comments, lists and IP-literal domains are refused: a subscription names one
// mailbox and nothing else.
func ParseAddress(s string) (string, error) {
	if s == "" {
		return "", errors.New("e-mail address is empty")
	}
	if len(s) > 254 {
		return "", fmt.Errorf("e-mail address %.40q... is longer than 254 characters", s)
	}
	if strings.ContainsAny(s, "<>(),;\"[]\\") {
		return "", fmt.Errorf("e-mail address %q: give the bare address (like ops@example.org), without a display name, brackets, quotes or comments", s)
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || r > 0x7e {
			return "", fmt.Errorf("e-mail address %q: spaces, control and non-ASCII characters are not allowed", s)
		}
	}
	if i := strings.LastIndexByte(s, '@'); i > 0 {
		d := s[i+1:]
		if strings.HasPrefix(d, ".") || strings.HasSuffix(d, ".") || strings.Contains(d, "..") {
			return "", fmt.Errorf("e-mail address %q: malformed domain %q", s, d)
		}
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return "", fmt.Errorf("e-mail address %q: %w", s, err)
	}
	if a.Name != "" || a.Address != s {
		return "", fmt.Errorf("e-mail address %q: give the bare address only", s)
	}
	local, domain, ok := strings.Cut(a.Address, "@")
	if !ok || local == "" || domain == "" {
		return "", fmt.Errorf("e-mail address %q: missing local part or domain", s)
	}
	return local + "@" + strings.ToLower(domain), nil
}
