// Package urlpolicy decides which URLs puawatch talks to and how it shows
// them. Every URL it sends credentials, tokens or notifications to must be
// https, or plain http to this machine (a loopback host: localhost,
// 127.0.0.0/8, ::1); and a URL is shown, in errors and logs, as its scheme
// and host only, since webhook URLs carry their token in the path or query.
package urlpolicy

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Loopback reports whether host (a name or an address, without port;
// brackets and an IPv6 zone are allowed) is localhost or in 127.0.0.0/8
// or ::1: the only hosts puawatch talks to without TLS.
func Loopback(host string) bool {
	h := strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if h == "localhost" {
		return true
	}
	if i := strings.IndexByte(h, '%'); i >= 0 {
		h = h[:i]
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// httpHint says where plain http is accepted.
const httpHint = "plain http is accepted only for a loopback host: localhost, 127.0.0.0/8 or ::1"

// Check parses raw and applies the transport policy: an https URL, or
// plain http to a loopback host, with a host. The error says what is
// wrong and what to do, quotes the URL only as RedactURL shows it, and
// does not name the setting: callers prefix it ("webhook.url: ...").
func Check(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Hostname() == "" {
		// Neither the value nor the parser's message is shown: it may be
		// a secret pasted into the wrong place.
		return nil, errors.New("not a URL with a scheme and host: write it as https://host/path")
	}
	switch {
	case u.Scheme == "https":
		return u, nil
	case u.Scheme == "http" && Loopback(u.Hostname()):
		return u, nil
	case u.Scheme == "http":
		return nil, fmt.Errorf("%q uses plain http to a host that is not loopback: use https (%s)", RedactURL(raw), httpHint)
	}
	return nil, fmt.Errorf("%q is not an https URL: use https (%s)", RedactURL(raw), httpHint)
}

// CheckBase is Check for a base URL that paths are appended to (the
// Sophos token and API URLs): it must carry neither user info nor a query
// or fragment.
func CheckBase(raw string) (*url.URL, error) {
	u, err := Check(raw)
	switch {
	case err != nil:
		return nil, err
	case u.User != nil:
		return nil, fmt.Errorf("%q must not carry a user name or password: remove them from the URL", RedactURL(raw))
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return nil, fmt.Errorf("%q must not have a query or fragment: remove them", RedactURL(raw))
	}
	return u, nil
}

// WebURL reports whether raw is a link people may open, such as the
// Sophos Central address messages link to: an absolute http or https URL
// with a host. Plain http is accepted for a link: puawatch sends nothing
// to it.
func WebURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// RedactURL shows a URL without what may make it a secret: only the
// scheme and host remain, and "/…" marks that something was left out
// ("https://hooks.slack.com/…"). Slack, Teams and most webhook URLs carry
// their token in the path or query, database and SMTP URLs a password.
// Text that is not a URL with a host is not shown at all.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "[redacted URL]"
	}
	s := u.Scheme + "://" + u.Host
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		s += "/…"
	}
	return s
}

// RedactPassword replaces the password of a URL (user info, and the
// password and sslpassword query parameters PostgreSQL accepts) with
// "[redacted]", keeping the rest: for the configuration echoed by `config check`,
// which must stay readable and load back, and for naming a store. Messages about
// webhook URLs use RedactURL (scheme and host only) instead. Text that
// is not a URL with "://" is returned as it is (a file path); a URL that
// does not parse is redacted whole.
func RedactPassword(raw string) string {
	if !strings.Contains(raw, "://") {
		return raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "[redacted]"
	}
	out := raw
	if u.User != nil {
		if _, has := u.User.Password(); has {
			v := *u
			v.User = nil
			s := v.String()
			prefix := v.Scheme + "://"
			out = prefix + url.User(u.User.Username()).String() + ":" + "[redacted]" + "@" + strings.TrimPrefix(s, prefix)
		}
	}
	if u.RawQuery != "" {
		parts := strings.Split(u.RawQuery, "&")
		changed := false
		for i, kv := range parts {
			k, _, _ := strings.Cut(kv, "=")
			if name, err := url.QueryUnescape(k); err == nil && (strings.EqualFold(name, "password") || strings.EqualFold(name, "sslpassword")) {
				parts[i] = k + "=" + "[redacted]"
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
