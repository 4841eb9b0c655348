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

	"github.com/puawatch/puawatch/internal/certpool"
	"github.com/puawatch/puawatch/internal/notify"
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
	// TLSOpportunistic uses STARTTLS when the server offers it and plain
	// SMTP when it does not (a STARTTLS that fails is an error, never a
	// fallback); only allowed to loopback hosts, where it is the default:
	// a local relay often offers no STARTTLS, and nothing leaves the
	// machine unencrypted on the way to it.
	TLSOpportunistic TLSMode = "opportunistic"
)

// Default ports per mode and the default timeout.
const (
	DefaultPortStartTLS = 587
	DefaultPortTLS      = 465
	DefaultPortNone     = 25
	DefaultTimeout      = 30 * time.Second
)

// Config configures the e-mail channel. The YAML section (smtp_url,
// from, to, ca_file, template) fills the fields with yaml tags; Validate
// and New read SMTPURL into the server fields (Host, Port, TLS, Username,
// Password) and CAFile into RootCAs. Code may set the server fields
// directly and leave SMTPURL empty.
type Config struct {
	// SMTPURL is smtp://[user:pass@]host[:port][?starttls=required|none]
	// or smtps://[user:pass@]host[:port] (ParseURL). A secret: it may
	// carry the password.
	SMTPURL secret.Secret `yaml:"smtp_url"`
	// CAFile is a PEM bundle trusted besides the system roots for the
	// SMTP server (certpool.Load).
	CAFile string `yaml:"ca_file"`
	// Host is the SMTP server's name or IP address.
	Host string `yaml:"-"`
	// Port defaults to 587 (starttls), 465 (tls) or 25 (none).
	Port int `yaml:"-"`
	// TLS defaults to TLSOpportunistic for a loopback host and to
	// TLSStartTLS for every other.
	TLS TLSMode `yaml:"-"`
	// Username enables SMTP AUTH (PLAIN or LOGIN; SCRAM when offered).
	Username string `yaml:"-"`
	// Password is the SMTP AUTH password.
	Password secret.Secret `yaml:"-"`
	// From is the sender address, "Name <addr>" or "addr".
	From string `yaml:"from"`
	// To are the recipients; one message goes to all of them.
	To []string `yaml:"to"`
	// RootCAs verifies the server certificate (nil: the system roots).
	RootCAs *x509.CertPool `yaml:"-"`
	// Timeout bounds the connection and each SMTP command (default 30s).
	Timeout time.Duration `yaml:"-"`
	// HeloName is the EHLO name (default: the machine's host name).
	HeloName string `yaml:"-"`
	// Location shows times in this zone too, besides UTC (nil: UTC only).
	Location *time.Location `yaml:"-"`
	// CentralURL is the Sophos Central address every detection links to
	// ("": https://central.sophos.com). It must be an http or https URL.
	CentralURL string `yaml:"-"`
	// Section is where this configuration is in the file ("email",
	// "receivers[2].email"): errors name its keys with it
	// (email.ca_file). "" names them bare (ca_file).
	Section string `yaml:"-"`
	// Template is the path of a Go text/template file, executed over a
	// render.View, whose output is the text/plain part of every mail
	// instead of the default layout. The text/html part is then that same
	// text, HTML-escaped, inside <pre>: a template writes plain text only,
	// never HTML, and no value of the View can become markup or a link.
	// The Subject stays the View's title. "" uses the default layout.
	Template string `yaml:"template"`
}

var _ notify.ReceiverConfig = (*Config)(nil)

// Inherit fills the SMTP URL and the sender from section (the top-level
// email section) where c leaves them empty: a receiver names only its
// recipients and shares the server.
func (c *Config) Inherit(section Config) {
	if c.SMTPURL.Empty() {
		c.SMTPURL = section.SMTPURL
	}
	if c.From == "" {
		c.From = section.From
	}
}

// SecretKeys names the keys holding a secret: smtp_url when it carries a
// password.
func (c Config) SecretKeys() []string {
	if u, err := url.Parse(c.SMTPURL.Reveal()); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			return []string{"smtp_url"}
		}
	}
	return nil
}

// Build validates c and returns its Notifier, with env's time zone and
// Sophos Central address.
func (c *Config) Build(env notify.Env) (notify.Notifier, error) {
	cc := *c
	cc.Location, cc.CentralURL = env.Location, env.CentralURL
	return New(cc)
}

// mode returns the effective TLS mode.
func (c Config) mode() TLSMode {
	if c.TLS == "" {
		if urlpolicy.Loopback(c.Host) {
			return TLSOpportunistic
		}
		return TLSStartTLS
	}
	return c.TLS
}

// key is how messages name the key k of this section: email.ca_file,
// receivers[2].email.ca_file, or ca_file without a Section.
func (c Config) key(k string) string {
	if c.Section == "" {
		return k
	}
	return c.Section + "." + k
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
// addresses, a known TLS mode, TLS none and opportunistic only to a
// loopback host (127.0.0.0/8, ::1, localhost), an http or https central_url, and a
// template that is readable, parses and renders the sample detection
// (render.Sample) to some text. Errors about the template name
// "template", those about the Sophos Central address "central_url".
func (c Config) Validate() error {
	_, _, err := c.validate()
	return err
}

// validate is Validate, also returning c with SMTPURL and CAFile read
// into their fields, and the loaded template (nil when c.Template is "").
func (c Config) validate() (Config, *render.Template, error) {
	var ps notify.Problems
	if !c.SMTPURL.Empty() {
		u, err := ParseURL(c.SMTPURL.Reveal())
		if err != nil {
			ps.Add("smtp_url", "%v", err)
		} else {
			c.Host, c.Port, c.TLS, c.Username, c.Password = u.Host, u.Port, u.TLS, u.Username, u.Password
		}
	} else if c.Host == "" {
		ps.Add("smtp_url", "not set: write smtp://user:password@host:587 (STARTTLS) or smtps://host:465")
	}
	if c.CAFile != "" {
		pool, err := certpool.Load(c.CAFile)
		if err != nil {
			ps.Add("ca_file", "%v", err)
		}
		c.RootCAs = pool
	}
	if len(ps) == 0 {
		switch {
		case c.Host == "":
			ps.Add("smtp_url", "no SMTP host is set; set the host of your mail server")
		case strings.IndexFunc(c.Host, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) || r == '/' }) >= 0:
			ps.Add("smtp_url", "SMTP host %q is not a host name or IP address", c.Host)
		}
		if c.Port < 0 || c.Port > 65535 {
			ps.Add("smtp_url", "SMTP port %d is out of range; use 1-65535 (or 0 for the default of the TLS mode)", c.Port)
		}
		switch c.TLS {
		case "", TLSStartTLS, TLSImplicit:
		case TLSNone, TLSOpportunistic:
			if c.Host != "" && !urlpolicy.Loopback(c.Host) {
				ps.Add("smtp_url", "TLS mode %s (unencrypted SMTP) is only allowed to a loopback host, not %q; "+
					"use starttls or tls, or relay through a local mail server", c.TLS, c.Host)
			}
		default:
			ps.Add("smtp_url", "TLS mode %q is not known; use %q, %q, %q or %q", c.TLS, TLSStartTLS, TLSImplicit, TLSOpportunistic, TLSNone)
		}
		if c.Username == "" && !c.Password.Empty() {
			ps.Add("smtp_url", "a password is set but no username; set the username too")
		}
		if strings.ContainsAny(c.Username, "\r\n\x00") {
			ps.Add("smtp_url", "the username contains control characters")
		}
	}
	if c.From == "" {
		ps.Add("from", "not set: set the sender address")
	} else if err := checkAddress(c.From); err != nil {
		ps.Add("from", "%q: %v", c.From, err)
	}
	if len(c.To) == 0 {
		ps.Add("to", "empty: name at least one recipient")
	}
	for _, to := range c.To {
		if err := checkAddress(to); err != nil {
			ps.Add("to", "%q: %v", to, err)
		}
	}
	if c.Timeout < 0 {
		ps.Add("timeout", "%s is negative", c.Timeout)
	}
	if strings.IndexFunc(c.HeloName, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		ps.Add("helo_name", "%q contains spaces or control characters", c.HeloName)
	}
	if c.CentralURL != "" && !urlpolicy.WebURL(c.CentralURL) {
		ps.Add("central_url", "%q is not an http or https URL; write %s", c.CentralURL, render.DefaultCentralURL)
	}
	var tmpl *render.Template
	if c.Template != "" {
		t, err := loadTemplate(c.Template)
		if err != nil {
			ps.Add("template", "%v", err)
		} else {
			tmpl = t
		}
	}
	return c, tmpl, ps.Err()
}

// loadTemplate reads a user's template (render.Load) and checks that it
// renders the sample detection to some text. Errors name the template.
func loadTemplate(path string) (*render.Template, error) {
	t, err := render.Load(path)
	if err != nil {
		return nil, err
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
// smtp defaults to port 587 and STARTTLS required, except to a loopback
// host (a local relay), where STARTTLS is used when the server offers it
// and plain SMTP otherwise (TLSOpportunistic); starttls=required insists
// on STARTTLS there too. starttls=none (plain SMTP, port 25 by default)
// is only allowed to a loopback host. smtps is implicit TLS, port 465 by
// default. The user name and password are
// percent-decoded. From, To and the other fields are left for the caller.
// Errors name the URL with the password redacted and say what to do.
func ParseURL(raw string) (Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// Neither the URL nor the parser's message is shown: what looks
		// like a port may be a password whose host was left out.
		return Config{}, errors.New("the smtp URL is not a valid URL; write it as smtp://user:password@host:587 " +
			"and percent-encode special characters (such as @ : / % ?) in the user name and password")
	}
	if strings.Contains(u.Path, "@") || strings.Contains(u.RawQuery, "@") || strings.Contains(u.Fragment, "@") {
		// An @ after the host: a password holding / ? or #, not
		// percent-encoded, ended the host early; what the parser took for
		// host, path, query or fragment is part of the password.
		return Config{}, errors.New("the smtp URL is not a valid URL; write it as smtp://user:password@host:587 " +
			"and percent-encode special characters (such as @ : / % ? #) in the user name and password")
	}
	shown := shownURL(u)
	bad := func(format string, a ...any) (Config, error) {
		return Config{}, fmt.Errorf("smtp URL %s: "+format, append([]any{shown}, a...)...)
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
		return bad("unexpected path after the host; the URL names only the server: %s://host:port", u.Scheme)
	}
	if u.Fragment != "" {
		return bad("unexpected fragment (#...); remove it")
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
	if c.TLS == TLSStartTLS && !q.Has("starttls") && urlpolicy.Loopback(c.Host) {
		c.TLS = TLSOpportunistic
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
