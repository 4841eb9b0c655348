package config

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/puawatch/puawatch/internal/secret"
)

const redactedMark = "[redacted]"

// Redacted is the effective configuration as YAML, every key present, for
// `puawatch config check`. Secrets are replaced: the client secret by
// "[redacted]" (an unset one stays ""), the password in email.smtp_url and
// in a store.db URL by "[redacted]" with the rest of the URL kept. The
// output loads back with Load when no secret was set.
func (c Config) Redacted() string {
	r := c
	r.Store.DB = redactPassword(c.Store.DB)
	smtp := redactPassword(c.Email.SMTPURL.Reveal())
	out, err := yaml.MarshalWithOptions(r,
		yaml.IndentSequence(true),
		yaml.CustomMarshaler[secret.Secret](func(s secret.Secret) ([]byte, error) {
			switch {
			case s.Empty():
				return []byte(`""`), nil
			// Only the SMTP URL shows its host: if the client secret were
			// the same text, it would not.
			case s == c.Email.SMTPURL && s != c.Sophos.ClientSecret:
				return []byte(strconv.Quote(smtp)), nil
			default:
				return []byte(strconv.Quote(redactedMark)), nil
			}
		}))
	if err != nil {
		// Marshalling plain structs does not fail; say so rather than
		// print a partial configuration.
		return "# cannot render the configuration: " + err.Error() + "\n"
	}
	return string(out)
}

// urlHasSecret reports whether raw is a URL carrying a password, in its
// user info or in a password query parameter.
func urlHasSecret(raw string) bool {
	return strings.Contains(raw, "://") && redactPassword(raw) != raw
}

// redactPassword replaces the password of a URL (user info, and the
// password and sslpassword query parameters PostgreSQL accepts) with
// "[redacted]", keeping the rest: it is for the configuration echoed by
// `config check`, which must stay readable and load back. Messages show
// URLs with urlpolicy.RedactURL (scheme and host only) instead. Text that
// is not a URL with "://" is returned as it is (a file path); a URL that
// does not parse is redacted whole.
func redactPassword(raw string) string {
	if !strings.Contains(raw, "://") {
		return raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return redactedMark
	}
	out := raw
	if u.User != nil {
		if _, has := u.User.Password(); has {
			v := *u
			v.User = nil
			s := v.String()
			prefix := v.Scheme + "://"
			out = prefix + url.User(u.User.Username()).String() + ":" + redactedMark + "@" + strings.TrimPrefix(s, prefix)
		}
	}
	if u.RawQuery != "" {
		parts := strings.Split(u.RawQuery, "&")
		changed := false
		for i, kv := range parts {
			k, _, _ := strings.Cut(kv, "=")
			if name, err := url.QueryUnescape(k); err == nil && (strings.EqualFold(name, "password") || strings.EqualFold(name, "sslpassword")) {
				parts[i] = k + "=" + redactedMark
				changed = true
			}
		}
		if changed {
			base, _, _ := strings.Cut(out, "?")
			frag := ""
			if u.Fragment != "" {
				frag = "#" + u.EscapedFragment()
			}
			out = base + "?" + strings.Join(parts, "&") + frag
		}
	}
	return out
}
