package config

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/puawatch/puawatch/internal/secret"
)

// SMTPServer is a parsed email.smtp_url.
type SMTPServer struct {
	// TLS is true for smtps:// (TLS from the first byte, usually port 465).
	TLS bool
	// StartTLS is "required" (the default) or "none" for smtp://, and ""
	// for smtps://.
	StartTLS string
	Host     string
	Port     int
	// Username and Password are for SMTP AUTH; both empty means none.
	Username string
	Password secret.Secret
}

// Server parses SMTPURL; see ParseSMTPURL.
func (e Email) Server() (SMTPServer, error) { return ParseSMTPURL(e.SMTPURL) }

// ParseSMTPURL parses smtp://[user:pass@]host:port[?starttls=required|none]
// or smtps://[user:pass@]host:port. The port is required. A password may
// not travel in the clear: smtp:// with starttls=none and a password is
// accepted only for a loopback host. Errors show the URL with its password
// redacted.
func ParseSMTPURL(s secret.Secret) (SMTPServer, error) {
	raw := strings.TrimSpace(s.Reveal())
	shown := redactURL(raw)
	u, err := url.Parse(raw)
	if err != nil || !strings.Contains(raw, "://") {
		// The parser's own message may quote part of the password (a
		// "port" that is really a password when the host is missing).
		why := "it is not a valid URL"
		var esc url.EscapeError
		if errors.As(err, &esc) {
			why = "it has a bad %-escape"
		}
		return SMTPServer{}, fmt.Errorf("%s (%s): write smtp://user:password@host:587 or smtps://user:password@host:465 (%%-escape special characters in the password)", shown, why)
	}
	var srv SMTPServer
	switch strings.ToLower(u.Scheme) {
	case "smtp":
		srv.StartTLS = "required"
	case "smtps":
		srv.TLS = true
	default:
		return SMTPServer{}, fmt.Errorf("%s: scheme %q is not smtp or smtps: write smtp://host:587 or smtps://host:465", shown, u.Scheme)
	}
	srv.Host = u.Hostname()
	if srv.Host == "" {
		return SMTPServer{}, fmt.Errorf("%s has no host: write e.g. smtp://mail.example.com:587", shown)
	}
	port := u.Port()
	if port == "" {
		return SMTPServer{}, fmt.Errorf("%s has no port: add it, e.g. :587 for smtp, :465 for smtps", shown)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return SMTPServer{}, fmt.Errorf("%s: port %q is not from 1 to 65535", shown, port)
	}
	srv.Port = n
	if u.Path != "" && u.Path != "/" {
		return SMTPServer{}, fmt.Errorf("%s: remove the path %q", shown, u.Path)
	}
	if u.User != nil {
		srv.Username = u.User.Username()
		pw, _ := u.User.Password()
		srv.Password = secret.Secret(pw)
	}
	switch {
	case srv.Username == "" && !srv.Password.Empty():
		return SMTPServer{}, fmt.Errorf("%s has a password but no user name: write smtp://user:password@host:port", shown)
	case srv.Username != "" && srv.Password.Empty():
		return SMTPServer{}, fmt.Errorf("%s has a user name but no password: write smtp://user:password@host:port", shown)
	}
	for k, vs := range u.Query() {
		if k != "starttls" {
			return SMTPServer{}, fmt.Errorf("%s: unknown parameter %q: only starttls=required|none is known", shown, k)
		}
		if srv.TLS {
			return SMTPServer{}, fmt.Errorf("%s: smtps:// is TLS from the first byte: remove ?starttls", shown)
		}
		v := strings.ToLower(vs[len(vs)-1])
		if v != "required" && v != "none" {
			return SMTPServer{}, fmt.Errorf("%s: starttls=%s is not required or none", shown, vs[len(vs)-1])
		}
		srv.StartTLS = v
	}
	if srv.StartTLS == "none" && !srv.Password.Empty() && !isLoopbackHost(srv.Host) {
		return SMTPServer{}, fmt.Errorf("%s would send the password unencrypted: use starttls=required or smtps://, or drop the password", shown)
	}
	return srv, nil
}
