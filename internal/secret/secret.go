// Package secret holds the Secret string type: a credential that prints
// as "[redacted]" in every format, in JSON, in YAML and in slog, so it
// cannot leak through a log line, an error or an echoed configuration.
package secret

import "log/slog"

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
