package config

import (
	"fmt"
	"net"
	"strings"

	"github.com/puawatch/puawatch/internal/notify/email"
	"github.com/puawatch/puawatch/internal/route"
	"github.com/puawatch/puawatch/internal/secret"
	"github.com/puawatch/puawatch/internal/urlpolicy"
)

// Receiver is a named notification target of exactly one kind. Routes
// (the route section) name receivers.
type Receiver struct {
	Name    string           `yaml:"name"`
	Email   *EmailReceiver   `yaml:"email"`
	Slack   *HookReceiver    `yaml:"slack"`
	Teams   *HookReceiver    `yaml:"teams"`
	Webhook *WebhookReceiver `yaml:"webhook"`
	Syslog  *SyslogReceiver  `yaml:"syslog"`
	JSONL   *JSONL           `yaml:"jsonl"`
}

// EmailReceiver is an e-mail receiver: the SMTP server and the people.
type EmailReceiver struct {
	SMTPURL secret.Secret `yaml:"smtp_url"` // as email.smtp_url; "" uses email.smtp_url
	From    string        `yaml:"from"`     // "" uses email.from
	To      []string      `yaml:"to"`
	CAFile  string        `yaml:"ca_file"`
	// Template is a Go text/template file for the text part ("": the
	// default layout).
	Template string `yaml:"template"`
}

// HookReceiver is a Slack incoming webhook or a Microsoft Teams Workflows
// webhook.
type HookReceiver struct {
	URL      secret.Secret `yaml:"url"`
	Template string        `yaml:"template"` // Go text/template file for the message text
}

// WebhookReceiver is a generic JSON webhook.
type WebhookReceiver struct {
	URL     secret.Secret     `yaml:"url"`
	Secret  secret.Secret     `yaml:"secret"`  // HMAC-SHA256 key of X-Puawatch-Signature
	Headers map[string]string `yaml:"headers"` // extra request headers
}

// SyslogReceiver is a syslog server (RFC 5424).
type SyslogReceiver struct {
	Network  string `yaml:"network"` // udp, tcp or tls
	Address  string `yaml:"address"` // host:port
	Format   string `yaml:"format"`  // json or cef
	Facility *int   `yaml:"facility"`
	CAFile   string `yaml:"ca_file"`
}

// Kind names the receiver's kind, "" when none or several are set.
func (r Receiver) Kind() string {
	var kinds []string
	for k, set := range map[string]bool{"email": r.Email != nil, "slack": r.Slack != nil, "teams": r.Teams != nil,
		"webhook": r.Webhook != nil, "syslog": r.Syslog != nil, "jsonl": r.JSONL != nil} {
		if set {
			kinds = append(kinds, k)
		}
	}
	if len(kinds) != 1 {
		return ""
	}
	return kinds[0]
}

// secrets lists the secrets a receiver holds, by YAML path.
func (r Receiver) secrets(i int) []string {
	var out []string
	p := fmt.Sprintf("receivers[%d]", i)
	if r.Email != nil && urlHasSecret(r.Email.SMTPURL.Reveal()) {
		out = append(out, "the password in "+p+".email.smtp_url")
	}
	for _, h := range []struct {
		kind string
		r    *HookReceiver
	}{{"slack", r.Slack}, {"teams", r.Teams}} {
		if h.r != nil && !h.r.URL.Empty() {
			out = append(out, p+"."+h.kind+".url")
		}
	}
	if r.Webhook != nil {
		if !r.Webhook.URL.Empty() {
			out = append(out, p+".webhook.url")
		}
		if !r.Webhook.Secret.Empty() {
			out = append(out, p+".webhook.secret")
		}
	}
	return out
}

// ReceiverNames lists the receivers in effect: the implicit "email" and
// "jsonl" of the email and jsonl sections (and their environment
// variables), then the receivers section.
func (c Config) ReceiverNames() []string {
	var out []string
	if c.Email.Enabled() {
		out = append(out, "email")
	}
	if c.JSONL.Enabled() {
		out = append(out, "jsonl")
	}
	for _, r := range c.Receivers {
		out = append(out, r.Name)
	}
	return out
}

// RouteTree builds the routing tree: the route section, or, without one,
// a root route to every receiver. email.digest makes the default route
// send a digest per tenant whatever its size.
func (c Config) RouteTree() (*route.Tree, error) {
	names := c.ReceiverNames()
	spec := route.Spec{Receivers: names}
	if c.Route != nil {
		spec = *c.Route
	} else if c.Email.Digest {
		zero := 0
		spec.DigestAbove = &zero
	}
	return route.New(spec, names, route.DefaultGrouping())
}

// validateReceivers checks the receivers section and the route.
func (c Config) validateReceivers(ps *problems) {
	seen := map[string]bool{}
	if c.Email.Enabled() {
		seen["email"] = true
	}
	if c.JSONL.Enabled() {
		seen["jsonl"] = true
	}
	for i, r := range c.Receivers {
		p := fmt.Sprintf("receivers[%d]", i)
		switch {
		case strings.TrimSpace(r.Name) == "":
			ps.add(p+".name", "not set: every receiver needs a name that routes refer to")
		case seen[r.Name]:
			ps.add(p+".name", "%q is used twice (the email and jsonl sections are receivers \"email\" and \"jsonl\"): give each receiver its own name", r.Name)
		}
		seen[r.Name] = true
		switch r.Kind() {
		case "":
			ps.add(p, "set exactly one of email, slack, teams, webhook, syslog, jsonl")
		case "email":
			e := r.Email
			u := e.SMTPURL
			if u.Empty() {
				u = c.Email.SMTPURL
			}
			if u.Empty() {
				ps.add(p+".email.smtp_url", "not set, and no email.smtp_url to fall back on")
			} else if _, err := email.ParseURL(u.Reveal()); err != nil {
				ps.add(p+".email.smtp_url", "%v", err)
			}
			if e.From == "" && c.Email.From == "" {
				ps.add(p+".email.from", "not set, and no email.from to fall back on")
			}
			if len(e.To) == 0 {
				ps.add(p+".email.to", "empty: name at least one recipient")
			}
			ps.file(p+".email.ca_file", e.CAFile)
			ps.file(p+".email.template", e.Template)
		case "slack", "teams":
			h, kind := r.Slack, "slack"
			if r.Teams != nil {
				h, kind = r.Teams, "teams"
			}
			if _, err := urlpolicy.Check(h.URL.Reveal()); err != nil {
				ps.add(p+"."+kind+".url", "%v", err)
			}
			ps.file(p+"."+kind+".template", h.Template)
		case "webhook":
			if _, err := urlpolicy.Check(r.Webhook.URL.Reveal()); err != nil {
				ps.add(p+".webhook.url", "%v", err)
			}
		case "syslog":
			s := r.Syslog
			switch s.Network {
			case "udp", "tcp", "tls":
			default:
				ps.add(p+".syslog.network", "%q is not udp, tcp or tls", s.Network)
			}
			if _, _, err := net.SplitHostPort(s.Address); err != nil {
				ps.add(p+".syslog.address", "%q is not host:port", s.Address)
			}
			switch s.Format {
			case "", "json", "cef":
			default:
				ps.add(p+".syslog.format", "%q is not json or cef", s.Format)
			}
			ps.file(p+".syslog.ca_file", s.CAFile)
		case "jsonl":
			if r.JSONL.Path == "" {
				ps.add(p+".jsonl.path", "not set: a file path, or - for standard output")
			}
		}
	}
	if _, err := c.RouteTree(); err != nil {
		ps.add("route", "%v", err)
	}
}
