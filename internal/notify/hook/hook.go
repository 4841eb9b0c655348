// Package hook is what the chat channels (Slack, Teams) share: a
// configuration with a secret webhook URL, an optional user template and
// the message view's options; and a Notifier that renders a message with
// the channel's own renderer and posts it through notify.Post, with a
// client that verifies TLS and never follows redirects, and errors that
// never show the webhook's path or token.
package hook

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/puawatch/puawatch/internal/notify"
	"github.com/puawatch/puawatch/internal/render"
	"github.com/puawatch/puawatch/internal/secret"
	"github.com/puawatch/puawatch/internal/urlpolicy"
)

// DefaultTimeout bounds one request when Config.Timeout is zero.
const DefaultTimeout = 15 * time.Second

// Config is a chat channel's configuration.
type Config struct {
	// URL is the webhook URL. It is a secret: its path or query is the
	// credential. It must be https, or http to a loopback host.
	URL secret.Secret `yaml:"url"`
	// Template is the path of a Go text/template file whose text replaces
	// the default message body; "" uses the default rendering.
	Template string `yaml:"template"`
	// Location shows times in this zone too, besides UTC (nil: UTC only).
	Location *time.Location `yaml:"-"`
	// CentralURL is the Sophos Central address messages link to ("":
	// https://central.sophos.com).
	CentralURL string `yaml:"-"`
	// Timeout bounds one request (0: DefaultTimeout).
	Timeout time.Duration `yaml:"-"`
}

// WithEnv is c with env's time zone and Sophos Central address.
func (c Config) WithEnv(env notify.Env) Config {
	c.Location, c.CentralURL = env.Location, env.CentralURL
	return c
}

// Channel is what a chat channel brings: its name for errors, a hint for
// a missing URL, its renderer and its template loader (which checks the
// template against a sample).
type Channel struct {
	Name         string
	URLHint      string
	Render       func(v render.View, tmpl *render.Template) ([]byte, error)
	LoadTemplate func(path string) (*render.Template, error)
}

func (c Config) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

// Validate checks c and names the field at fault: url (set, a URL, https
// or http to loopback), template (readable, parses, renders a sample),
// central_url (an http or https URL) and timeout (not negative). Errors
// never show the webhook URL beyond its scheme and host.
func (c Config) Validate(ch Channel) error {
	var ps notify.Problems
	if c.URL.Empty() {
		ps.Add("url", "not set: set %s", ch.URLHint)
	} else if _, err := urlpolicy.Check(c.URL.Reveal()); err != nil {
		ps.Add("url", "%v", err)
	}
	if c.Template != "" {
		if _, err := ch.LoadTemplate(c.Template); err != nil {
			ps.Add("template", "%v", err)
		}
	}
	if c.CentralURL != "" && !urlpolicy.WebURL(c.CentralURL) {
		ps.Add("central_url", "%q is not an http or https URL; write %s", c.CentralURL, render.DefaultCentralURL)
	}
	if c.Timeout < 0 {
		ps.Add("timeout", "%s is negative; use a positive duration, or 0 for %s", c.Timeout, DefaultTimeout)
	}
	return ps.Err()
}

// Notifier posts messages to one webhook. It is safe for concurrent use.
type Notifier struct {
	ch      Channel
	url     string
	client  *http.Client
	tmpl    *render.Template
	opts    render.Options
	timeout time.Duration
}

var _ notify.Notifier = (*Notifier)(nil)

// New validates c, loads its template and returns a Notifier that posts
// with client. A nil client is DefaultClient(c.Timeout).
func New(ch Channel, c Config, client *http.Client) (*Notifier, error) {
	if err := c.Validate(ch); err != nil {
		return nil, err
	}
	n := &Notifier{ch: ch, url: c.URL.Reveal(), client: client, timeout: c.timeout(),
		opts: render.Options{Location: c.Location, CentralURL: c.CentralURL}}
	if c.Template != "" {
		t, err := ch.LoadTemplate(c.Template)
		if err != nil {
			return nil, err
		}
		n.tmpl = t
	}
	if n.client == nil {
		n.client = DefaultClient(n.timeout)
	}
	return n, nil
}

// DefaultClient is the client New uses without one: certificates verified,
// TLS 1.2 or later, proxies from the environment, timeout per request, and
// redirects not followed (a webhook that redirects is a permanent failure
// rather than a payload sent somewhere else).
func DefaultClient(timeout time.Duration) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	return &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// Notify renders m and posts it to the webhook. A nil error means the
// webhook accepted it (any 2xx). Errors are classified by notify.Post: a
// notify.RetryAfterError for 429, retryable for 5xx, 408, timeouts and
// network errors, notify.Permanent for other answers and for a message
// that cannot be rendered. Errors show the webhook URL only as scheme and
// host.
func (n *Notifier) Notify(ctx context.Context, m notify.Message) error {
	if len(m.Detections) == 0 {
		return notify.Permanent(fmt.Errorf("%s: message %s has no detections", n.ch.Name, m.Key))
	}
	body, err := n.ch.Render(render.NewView(m, n.opts), n.tmpl)
	if err != nil {
		return notify.Permanent(fmt.Errorf("%s: message %s: %w", n.ch.Name, m.Key, err))
	}
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	h := http.Header{"Content-Type": {"application/json; charset=utf-8"}, "User-Agent": {"puawatch"}}
	if err := notify.Post(ctx, n.client, n.url, h, body); err != nil {
		return fmt.Errorf("%s: message %s: %w", n.ch.Name, m.Key, Redact(err, n.url))
	}
	return nil
}

// Redact hides the secret parts of rawURL (its path and query, and the
// long segments and values of them, which is where a webhook keeps its
// token) should an answer have quoted them. notify.Post already shows the
// URL as scheme and host; this guards against a server echoing the path.
// The result unwraps to err, so notify.IsPermanent and errors.As still
// see its class.
func Redact(err error, rawURL string) error {
	return secret.RedactError(err, secretParts(rawURL)...)
}

// minSecret is the length from which a path segment or query value is
// taken for a token (Slack's are 24 characters, a Power Automate
// signature 43) rather than a word such as "services".
const minSecret = 16

// secretParts lists the pieces of rawURL that must not be shown, longest
// first.
func secretParts(rawURL string) []string {
	parts := []string{rawURL}
	u, err := url.Parse(rawURL)
	if err != nil {
		return parts
	}
	if u.RawQuery != "" {
		parts = append(parts, u.EscapedPath()+"?"+u.RawQuery, u.RawQuery)
	}
	if p := u.EscapedPath(); len(p) > 1 {
		parts = append(parts, p, u.Path)
	}
	for _, seg := range strings.Split(u.Path, "/") {
		if len(seg) >= minSecret {
			parts = append(parts, seg)
		}
	}
	for _, vs := range u.Query() {
		for _, v := range vs {
			if len(v) >= minSecret {
				parts = append(parts, v)
			}
		}
	}
	return parts
}
