package notify

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// Signer makes and checks unsubscribe tokens: HMAC-SHA256 over the address and
// component, so a link removes exactly what it names and cannot be forged for
// somebody else. Tokens do not expire: an unsubscribe link in an old e-mail
// must keep working.
type Signer struct{ key []byte }

// NewSigner returns a signer with key, which must hold at least 16 bytes.
func NewSigner(key []byte) (*Signer, error) {
	if len(key) < 16 {
		return nil, errors.New("unsubscribe secret: want at least 16 bytes")
	}
	return &Signer{key: key}, nil
}

// LoadSigner uses notify.unsubscribe_secret_file when configured, else a random
// key generated once and kept in the store.
func LoadSigner(ctx context.Context, cfg *config.Config, st *store.Store) (*Signer, error) {
	if f := cfg.Notify.UnsubscribeSecret; f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("notify.unsubscribe_secret_file: %w", err)
		}
		s, err := NewSigner([]byte(strings.TrimSpace(string(b))))
		if err != nil {
			return nil, fmt.Errorf("notify.unsubscribe_secret_file %s: %w", f, err)
		}
		return s, nil
	}
	key, err := st.NotifyKey(ctx, "unsubscribe", func() ([]byte, error) {
		b := make([]byte, 32)
		_, err := rand.Read(b)
		return b, err
	})
	if err != nil {
		return nil, err
	}
	return NewSigner(key)
}

var b64 = base64.RawURLEncoding

func (s *Signer) mac(msg []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("ironworks-unsubscribe\x00"))
	m.Write(msg)
	return m.Sum(nil)
}

// Token signs (email, component); an empty component means every subscription of email.
func (s *Signer) Token(email, component string) string {
	msg := []byte(email + "\x00" + component)
	return b64.EncodeToString(msg) + "." + b64.EncodeToString(s.mac(msg))
}

// ErrBadToken is returned for a token that is malformed or not signed by this key.
var ErrBadToken = errors.New("invalid or tampered unsubscribe token")

// Verify checks a token and returns what it names.
func (s *Signer) Verify(token string) (email, component string, err error) {
	p, sig, ok := strings.Cut(token, ".")
	if !ok {
		return "", "", ErrBadToken
	}
	msg, err1 := b64.DecodeString(p)
	mac, err2 := b64.DecodeString(sig)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, s.mac(msg)) {
		return "", "", ErrBadToken
	}
	email, component, ok = strings.Cut(string(msg), "\x00")
	if !ok || email == "" {
		return "", "", ErrBadToken
	}
	return email, component, nil
}
