package email

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/puawatch/puawatch/internal/render"
	"github.com/puawatch/puawatch/internal/secret"
	"github.com/puawatch/puawatch/internal/urlpolicy"
)

// TLSMode says how the connection to the SMTP server is protected.
type TLSMode string

// TLS modes.
const (
	// TLSStartTLS requires STARTTLS on a plain connection (port 587); a
	// server that does not offer it is an error, never a fallback.
	TLSStartTLS TLSMode = "starttls"
	// TLSImplicit connects with TLS from the start (smtps, port 465).
	TLSImplicit TLSMode = "tls"
	// TLSNone sends in the clear; only allowed to loopback hosts (a local
	// relay).
	TLSNone TLSMode = "none"
)

// Default ports per mode and the default timeout.
const (
	DefaultPortStartTLS = 587
	DefaultPortTLS      = 465
	DefaultPortNone     = 25
	DefaultTimeout      = 30 * time.Second
)

// Config configures the e-mail channel.
type Config struct {
	// Host is the SMTP server's name or IP address.
	Host string
	// Port defaults to 587 (starttls), 465 (tls) or 25 (none).
	Port int
	// TLS defaults to TLSStartTLS.
	TLS TLSMode
	// Username enables SMTP AUTH (PLAIN or LOGIN; SCRAM when offered).
	Username string
	// Password is the SMTP AUTH password.
	Password secret.Secret
	// From is the sender address, "Name <addr>" or "addr".
	From string
	// To are the recipients; one message goes to all of them.
	To []string
	// RootCAs verifies the server certificate (nil: the system roots).
	RootCAs *x509.CertPool
	// Timeout bounds the connection and each SMTP command (default 30s).
	Timeout time.Duration
	// HeloName is the EHLO name (default: the machine's host name).
	HeloName string
	// Location shows times in this zone too, besides UTC (nil: UTC only).
	Location *time.Location
	// CentralURL is the Sophos Central address every detection links to
	// ("": https://central.sophos.com). It must be an http or https URL.
	CentralURL string
	// Template is the path of a Go text/template file, executed over a
	// render.View, whose output is the text/plain part of every mail
	// instead of the default layout. The text/html part is then that same
	// text, HTML-escaped, inside <pre>: a template writes plain text only,
	// never HTML, and no value of the View can become markup or a link.
	// The Subject stays the View's title. "" uses the default layout.
	Template string
}

// mode returns the effective TLS mode.
func (c Config) mode() TLSMode {
	if c.TLS == "" {
		return TLSStartTLS
	}
	return c.TLS
}

// port returns the effective port.
func (c Config) port() int {
	if c.Port != 0 {
		return c.Port
	}
	switch c.mode() {
	case TLSImplicit:
		return DefaultPortTLS
	case TLSNone:
		return DefaultPortNone
	}
	return DefaultPortStartTLS
}

// timeout returns the effective timeout.
func (c Config) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

// addr returns host:port.
func (c Config) addr() string { return net.JoinHostPort(c.Host, strconv.Itoa(c.port())) }

// Validate checks c: a host, a sender, at least one recipient, parseable
// addresses, a known TLS mode, TLS none only to a loopback host
// (127.0.0.0/8, ::1, localhost), an http or https central_url, and a
// template that is readable, parses and renders the sample detection
// (render.Sample) to some text. Errors about the template name
// "template", those about the Sophos Central address "central_url".
func (c Config) Validate() error {
	_, err := c.validate()
	return err
}

// validate is Validate, also returning the loaded template (nil when
// c.Template is "").
func (c Config) validate() (*render.Template, error) {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf("email: "+format, a...)) }
	switch {
	case c.Host == "":
		add("no SMTP host is set; set the host of your mail server (or an smtp:// URL)")
	case strings.IndexFunc(c.Host, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) || r == '/' }) >= 0:
		add("SMTP host %q is not a host name or IP address", c.Host)
	}
	if c.Port < 0 || c.Port > 65535 {
		add("SMTP port %d is out of range; use 1-65535 (or 0 for the default of the TLS mode)", c.Port)
	}
	switch c.TLS {
	case "", TLSStartTLS, TLSImplicit:
	case TLSNone:
		if c.Host != "" && !urlpolicy.Loopback(c.Host) {
			add("TLS mode none (unencrypted SMTP) is only allowed to a loopback host, not %q; "+
				"use starttls or tls, or relay through a local mail server", c.Host)
		}
	default:
		add("TLS mode %q is not known; use %q, %q or %q", c.TLS, TLSStartTLS, TLSImplicit, TLSNone)
	}
	if c.From == "" {
		add("no sender (from) address is set")
	} else if err := checkAddress(c.From); err != nil {
		add("sender address %q: %v", c.From, err)
	}
	if len(c.To) == 0 {
		add("no recipient (to) address is set; set at least one")
	}
	for _, to := range c.To {
		if err := checkAddress(to); err != nil {
			add("recipient address %q: %v", to, err)
		}
	}
	if c.Username == "" && !c.Password.Empty() {
		add("a password is set but no username; set the username too")
	}
	if strings.ContainsAny(c.Username, "\r\n\x00") {
		add("the username contains control characters")
	}
	if c.Timeout < 0 {
		add("timeout %s is negative", c.Timeout)
	}
	if strings.IndexFunc(c.HeloName, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		add("HELO name %q contains spaces or control characters", c.HeloName)
	}
	if c.CentralURL != "" && !urlpolicy.WebURL(c.CentralURL) {
		add("central_url: %q is not an http or https URL; write %s", c.CentralURL, render.DefaultCentralURL)
	}
	var tmpl *render.Template
	if c.Template != "" {
		t, err := loadTemplate(c.Template)
		if err != nil {
			errs = append(errs, fmt.Errorf("email: %w", err))
		} else {
			tmpl = t
		}
	}
	return tmpl, errors.Join(errs...)
}

// loadTemplate reads a user's template (render.Load) and checks that it
// renders the sample detection to some text. Errors name the template.
func loadTemplate(path string) (*render.Template, error) {
	t, err := render.Load(path)
	if err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	if _, _, err := bodies(render.Sample(), t); err != nil {
		return nil, fmt.Errorf("%w (rendering the sample detection of %s)", err, path)
	}
	return t, nil
}

// checkAddress parses one mailbox and refuses control characters, which
// would otherwise end up in a header.
func checkAddress(s string) error {
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return errors.New("contains control characters")
	}
	if _, err := mail.ParseAddress(s); err != nil {
		return fmt.Errorf("not a valid address (%v); use name@example.com or \"Name <name@example.com>\"", err)
	}
	return nil
}

// ParseURL reads the server part of a Config from a URL:
//
//	smtp://[user:pass@]host[:port][?starttls=required|none]
//	smtps://[user:pass@]host[:port]
//
// smtp defaults to port 587 and STARTTLS required; starttls=none (plain
// SMTP, port 25 by default) is only allowed to a loopback host. smtps is
// implicit TLS, port 465 by default. The user name and password are
// percent-decoded. From, To and the other fields are left for the caller.
// Errors name the URL with the password redacted and say what to do.
func ParseURL(raw string) (Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// Neither the URL nor the parser's message is shown: what looks
		// like a port may be a password whose host was left out.
		return Config{}, errors.New("email: the smtp URL is not a valid URL; write it as smtp://user:password@host:587 " +
			"and percent-encode special characters (such as @ : / % ?) in the user name and password")
	}
	shown := shownURL(u)
	bad := func(format string, a ...any) (Config, error) {
		return Config{}, fmt.Errorf("email: smtp URL %s: "+format, append([]any{shown}, a...)...)
	}
	var c Config
	switch u.Scheme {
	case "smtp":
		c.TLS = TLSStartTLS
	case "smtps":
		c.TLS = TLSImplicit
	case "":
		return bad("no scheme; write smtp://host:587 (STARTTLS) or smtps://host:465 (implicit TLS)")
	default:
		return bad("scheme %q is not supported; use smtp:// (STARTTLS) or smtps:// (implicit TLS)", u.Scheme)
	}
	if u.Opaque != "" || u.Host == "" {
		return bad("no host; write %s://host:port", u.Scheme)
	}
	c.Host = u.Hostname()
	if c.Host == "" {
		return bad("no host; write %s://host:port", u.Scheme)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return bad("port %q is not a number from 1 to 65535", p)
		}
		c.Port = n
	}
	if u.Path != "" && u.Path != "/" {
		return bad("unexpected path %q; the URL names only the server: %s://host:port", u.Path, u.Scheme)
	}
	if u.Fragment != "" {
		return bad("unexpected fragment #%s; remove it", u.Fragment)
	}
	if u.User != nil {
		c.Username = u.User.Username()
		if pw, ok := u.User.Password(); ok {
			c.Password = secret.Secret(pw)
		}
		if c.Username == "" {
			return bad("a password but no user name; write %s://user:password@host", u.Scheme)
		}
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return bad("the query is not valid (%v)", err)
	}
	for key, vals := range q {
		if key != "starttls" {
			return bad("unknown parameter %q; the only parameter is starttls=required|none (smtp:// only)", key)
		}
		if c.TLS == TLSImplicit {
			return bad("starttls does not apply to smtps:// (implicit TLS); remove it, or use smtp:// for STARTTLS")
		}
		if len(vals) != 1 {
			return bad("starttls is given %d times; give it once", len(vals))
		}
		switch strings.ToLower(vals[0]) {
		case "required", "":
			c.TLS = TLSStartTLS
		case "none":
			c.TLS = TLSNone
		default:
			return bad("starttls=%q is not known; use starttls=required (the default) or starttls=none (loopback hosts only)", vals[0])
		}
	}
	if c.TLS == TLSNone && !urlpolicy.Loopback(c.Host) {
		return bad("starttls=none (unencrypted SMTP) is only allowed to a loopback host, not %q; "+
			"remove starttls=none, use smtps://, or relay through a local mail server", c.Host)
	}
	if c.Port == 0 {
		c.Port = c.port()
	}
	return c, nil
}

// shownURL is how an error names an SMTP URL: only a well-formed
// scheme://[user:xxxxx@]host[:port], quoted; anything else (no "//", a
// query) could hold the password where url.URL.Redacted does not look,
// so it is not shown at all.
func shownURL(u *url.URL) string {
	if (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Opaque != "" || u.Host == "" {
		return "(not shown)"
	}
	s := u.Scheme + "://"
	if u.User != nil {
		s += u.User.Username()
		if _, ok := u.User.Password(); ok {
			s += ":xxxxx"
		}
		s += "@"
	}
	return strconv.Quote(s + u.Host)
}
