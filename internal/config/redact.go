package config

import (
	"github.com/puawatch/puawatch/internal/urlpolicy"
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
	r.Store.DB = urlpolicy.RedactPassword(c.Store.DB)
	smtp := urlpolicy.RedactPassword(c.Email.SMTPURL.Reveal())
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
	return strings.Contains(raw, "://") && urlpolicy.RedactPassword(raw) != raw
}
