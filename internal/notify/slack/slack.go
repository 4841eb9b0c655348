package slack

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
)

// Notifier posts notify.Messages to a Slack incoming webhook. It is safe
// for concurrent use.
type Notifier struct {
	url     string
	client  *http.Client
	tmpl    *render.Template
	opts    render.Options
	timeout time.Duration
}

var _ notify.Notifier = (*Notifier)(nil)

// New validates c, loads its template and returns a Notifier that posts
// with client. A nil client is a default one: TLS certificates verified
// (TLS 1.2 or later), proxies from the environment, c.Timeout per request
// and no redirects followed (a webhook that redirects is a permanent
// failure rather than a payload sent somewhere else).
func New(c Config, client *http.Client) (*Notifier, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	n := &Notifier{url: c.URL.Reveal(), client: client, timeout: c.timeout(),
		opts: render.Options{Location: c.Location, CentralURL: c.CentralURL}}
	if c.Template != "" {
		t, err := loadChecked(c.Template)
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
// TLS 1.2 or later, proxies from the environment, timeout per request,
// redirects not followed.
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

// Notify renders m and posts it to the webhook. A nil error means Slack
// accepted it (2xx). Errors are classified by notify.Post: a
// notify.RetryAfterError for 429, retryable for 5xx, 408, timeouts and
// network errors, notify.Permanent for other answers and for a message
// that cannot be rendered. Errors show the webhook URL only as scheme and
// host.
func (n *Notifier) Notify(ctx context.Context, m notify.Message) error {
	if len(m.Detections) == 0 {
		return notify.Permanent(fmt.Errorf("slack: message %s has no detections", m.Key))
	}
	body, err := Render(render.NewView(m, n.opts), n.tmpl)
	if err != nil {
		return notify.Permanent(fmt.Errorf("slack: message %s: %w", m.Key, err))
	}
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	h := http.Header{"Content-Type": {"application/json; charset=utf-8"}, "User-Agent": {"puawatch"}}
	if err := notify.Post(ctx, n.client, n.url, h, body); err != nil {
		return redact(fmt.Errorf("slack: message %s: %w", m.Key, err), n.url)
	}
	return nil
}

// redact hides the secret parts of rawURL (its path and query, and the
// long segments and values of them, which is where a webhook keeps its
// token) should an answer have quoted them. notify.Post already shows the
// URL as scheme and host; this guards against a server echoing the path.
// The result unwraps to err, so notify.IsPermanent and errors.As still
// see its class.
func redact(err error, rawURL string) error {
	msg := err.Error()
	clean := msg
	for _, s := range secretParts(rawURL) {
		clean = strings.ReplaceAll(clean, s, "[redacted]")
	}
	if clean == msg {
		return err
	}
	return &redactedError{err: err, msg: clean}
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

// redactedError is an error whose text had secrets removed.
type redactedError struct {
	err error
	msg string
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
