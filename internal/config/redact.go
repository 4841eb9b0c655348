package config

import (
	"github.com/puawatch/puawatch/internal/urlpolicy"
	"reflect"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/puawatch/puawatch/internal/secret"
)

const redactedMark = "[redacted]"

// Redacted is the effective configuration as YAML, every key present, for
// `puawatch config check`. Secrets are replaced: the client secret by
// "[redacted]" (an unset one stays ""), the password in email.smtp_url and
// in a store.db URL by "[redacted]" with the rest of the URL kept, and
// every value of a webhook's headers by "[redacted]". The
// output loads back with Load when no secret was set.
func (c Config) Redacted() string {
	r := c
	r.Store.DB = urlpolicy.RedactPassword(c.Store.DB)
	r.Receivers = redactHeaders(c.Receivers)
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

// redactHeaders is rs with the values of every receiver's headers (a
// webhook's, which may carry an Authorization or API key) redacted; the
// configurations are copies, rs is not changed.
func redactHeaders(rs []Receiver) []Receiver {
	out := make([]Receiver, len(rs))
	for i, r := range rs {
		out[i] = r
		v, ok := configStruct(r.Config)
		if !ok {
			continue
		}
		for j := range v.NumField() {
			h, ok := secretHeaders(v.Type().Field(j), v.Field(j))
			if !ok || len(h) == 0 {
				continue
			}
			red := make(map[string]string, len(h))
			for k := range h {
				red[k] = redactedMark
			}
			cp := copyConfig(r.Config)
			reflect.ValueOf(cp).Elem().Field(j).Set(reflect.ValueOf(red))
			out[i].Config = cp
		}
	}
	return out
}

// urlHasSecret reports whether raw is a URL carrying a password, in its
// user info or in a password query parameter.
func urlHasSecret(raw string) bool {
	return strings.Contains(raw, "://") && urlpolicy.RedactPassword(raw) != raw
}
