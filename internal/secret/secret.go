// Package secret holds the Secret string type: a credential that prints
// as "[redacted]" in every format, in JSON, in YAML and in slog, so it
// cannot leak through a log line, an error or an echoed configuration.
// Scrub and RedactError hide secrets in text that came from elsewhere (a
// server's answer quoted in an error).
package secret

import (
	"cmp"
	"log/slog"
	"slices"
	"strings"
)

// Secret is a credential: a client secret, an SMTP password.
type Secret string

const redacted = "[redacted]"

// String redacts the secret.
func (Secret) String() string { return redacted }

// GoString redacts the secret in %#v.
func (Secret) GoString() string { return `"` + redacted + `"` }

// MarshalJSON redacts the secret.
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText redacts the secret (YAML, TOML and others use it).
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// UnmarshalText reads a secret from configuration.
func (s *Secret) UnmarshalText(b []byte) error { *s = Secret(b); return nil }

// LogValue redacts the secret in slog.
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// Reveal returns the secret itself, for the one place that must send it.
func (s Secret) Reveal() string { return string(s) }

// Empty reports whether no secret is set.
func (s Secret) Empty() bool { return s == "" }

// Scrub returns s with every secret in it replaced by "[redacted]". The
// longest secrets go first, so one that contains another is hidden whole
// rather than in part; empty ones are skipped, and every other one is
// hidden however short: a server that echoes a two-letter password must
// not show it. A short secret also hides the same letters in unrelated
// words, so callers scrub only the text that came from elsewhere (the
// server's answer) and add their own words around the result.
func Scrub(s string, secrets ...string) string {
	if len(secrets) > 1 {
		secrets = slices.Clone(secrets)
		slices.SortStableFunc(secrets, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	}
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, redacted)
		}
	}
	return s
}

// RedactError returns err with the secrets scrubbed from its text (see
// Scrub). The result unwraps to err, so errors.Is and errors.As see what
// they saw before (a permanent failure, a Retry-After); err itself is
// returned when its text holds none of the secrets, and nil for nil.
func RedactError(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := Scrub(msg, secrets...)
	if clean == msg {
		return err
	}
	return &redactedError{err: err, msg: clean}
}

// redactedError is an error whose text had secrets removed.
type redactedError struct {
	err error
	msg string
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
