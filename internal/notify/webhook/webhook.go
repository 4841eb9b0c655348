package webhook

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/puawatch/puawatch/internal/notify"
	"github.com/puawatch/puawatch/internal/render"
	"github.com/puawatch/puawatch/internal/secret"
	"github.com/puawatch/puawatch/internal/urlpolicy"
)

// DefaultTimeout bounds one request when Config.Timeout is zero.
const DefaultTimeout = 15 * time.Second

// userAgent is sent unless a custom header sets another.
const userAgent = "puawatch-webhook/1"

// Config configures the webhook channel.
type Config struct {
	// URL receives the POST requests: https, or http to a loopback host.
	// It is a secret because webhook URLs often carry a token; errors and
	// logs show only its scheme and host.
	URL secret.Secret `yaml:"url"`
	// Secret is the HMAC-SHA256 signing key (its bytes as written, not
	// hex-decoded); empty: requests are not signed.
	Secret secret.Secret `yaml:"secret"`
	// Headers are added to every request, such as an Authorization or
	// API key header. Values are treated as secrets (never shown); names
	// must be HTTP tokens, values must not hold control characters, and
	// the headers puawatch sets (Content-Type, Content-Length, Host,
	// Idempotency-Key, X-Puawatch-*, and hop-by-hop headers) are refused.
	Headers map[string]string `yaml:"headers"`
	// Timeout bounds one request, connection included (default 15s).
	Timeout time.Duration `yaml:"-"`
	// Location is passed to render.Options; the body carries UTC times
	// only, so it does not change what is sent.
	Location *time.Location `yaml:"-"`
	// CentralURL is Sophos Central's web address for the body's
	// central_url ("" is https://central.sophos.com).
	CentralURL string `yaml:"-"`
}

var _ notify.ReceiverConfig = (*Config)(nil)

// Build validates c and returns its Notifier, with env's time zone and
// Sophos Central address.
func (c *Config) Build(env notify.Env) (notify.Notifier, error) {
	cc := *c
	cc.Location, cc.CentralURL = env.Location, env.CentralURL
	return New(cc, nil)
}

// reserved are headers a custom header may not set (lower case).
var reserved = []string{"content-type", "content-length", "host", "idempotency-key",
	"connection", "transfer-encoding", "te", "trailer", "upgrade", "keep-alive", "proxy-connection"}

// Validate checks c: a URL (https, or http to loopback), header names
// that are HTTP tokens and not reserved, header values without control
// characters, and a timeout that is not negative. Errors never show a
// header value or the URL's path and query.
func (c Config) Validate() error {
	var ps notify.Problems
	if c.URL.Empty() {
		ps.Add("url", "not set: set the https URL that receives the notifications")
	} else if _, err := urlpolicy.Check(c.URL.Reveal()); err != nil {
		ps.Add("url", "%v", err)
	}
	names := make([]string, 0, len(c.Headers))
	for k := range c.Headers {
		names = append(names, k)
	}
	slices.Sort(names)
	seen := map[string]string{}
	for _, k := range names {
		shown := strconv.Quote(k)
		lk := strings.ToLower(k)
		switch {
		case !validToken(k):
			ps.Add("headers", "%s is not a valid HTTP header name "+
				"(letters, digits and !#$%%&'*+-.^_`|~ only; no spaces, colons or line breaks)", shown)
			continue
		case slices.Contains(reserved, lk) || strings.HasPrefix(lk, "x-puawatch-"):
			ps.Add("headers", "%s is set by puawatch and cannot be configured; remove it", shown)
		}
		if prev, dup := seen[lk]; dup {
			ps.Add("headers", "%s is given twice (also as %q); keep one", shown, prev)
		}
		seen[lk] = k
		if strings.ContainsFunc(c.Headers[k], badValueRune) {
			ps.Add("headers", "the value of %s contains a line break or another control character; remove it", shown)
		}
	}
	if c.Timeout < 0 {
		ps.Add("timeout", "%s is negative", c.Timeout)
	}
	return ps.Err()
}

// validToken reports whether s is an RFC 9110 token.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("!#$%&'*+-.^_`|~", r):
		default:
			return false
		}
	}
	return true
}

// badValueRune reports characters a header value may not hold: control
// characters other than tab.
func badValueRune(r rune) bool { return (r < 0x20 && r != '\t') || r == 0x7f }

// String describes c without its secrets.
func (c Config) String() string {
	var b strings.Builder
	b.WriteString("webhook ")
	if c.URL.Empty() {
		b.WriteString("(no URL)")
	} else {
		b.WriteString(urlpolicy.RedactURL(c.URL.Reveal()))
	}
	if !c.Secret.Empty() {
		b.WriteString(" signed")
	}
	names := make([]string, 0, len(c.Headers))
	for k := range c.Headers {
		names = append(names, k)
	}
	slices.Sort(names)
	for i, k := range names {
		if i == 0 {
			b.WriteString(" headers:")
		}
		fmt.Fprintf(&b, " %q=[redacted]", k)
	}
	return b.String()
}

// GoString describes c without its secrets, for %#v.
func (c Config) GoString() string { return c.String() }

// LogValue describes c without its secrets, for slog.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// Notifier posts messages to a webhook. It is safe for concurrent use.
type Notifier struct {
	c      Config
	client *http.Client
	opts   render.Options
	now    func() time.Time
	hide   []string // secret strings errors must not show
}

var _ notify.Notifier = (*Notifier)(nil)

// New checks c and returns a Notifier that sends with client (nil: a new
// client with Go's default transport). The client is copied and set not
// to follow redirects: a 3xx answer is a permanent error naming the
// status, so the body and signature never go to a host nobody
// configured.
func New(c Config, client *http.Client) (*Notifier, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	var cl http.Client
	if client != nil {
		cl = *client
	}
	cl.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	n := &Notifier{c: c, client: &cl, opts: render.Options{Location: c.Location, CentralURL: c.CentralURL}, now: time.Now}
	if c.Timeout <= 0 {
		n.c.Timeout = DefaultTimeout
	}
	// Every header value, however short, is hidden (secret.Scrub skips
	// the empty ones).
	for _, v := range c.Headers {
		n.hide = append(n.hide, v)
	}
	n.hide = append(n.hide, c.Secret.Reveal())
	// notify.Post shows the URL redacted; an answer quoting the URL's
	// token in pieces is caught here. A path of "/" names no token.
	if u, err := url.Parse(c.URL.Reveal()); err == nil {
		if u.Path != "/" {
			n.hide = append(n.hide, u.Path)
		}
		n.hide = append(n.hide, u.RawQuery)
		if p, ok := u.User.Password(); ok {
			n.hide = append(n.hide, p)
		}
	}
	return n, nil
}

// Notify posts m's JSON body (see Render) with the timestamp, signature
// and Idempotency-Key headers and the custom headers. A 2xx answer is
// success; 429 (and 503 with Retry-After) return a
// notify.RetryAfterError; 408, 5xx, timeouts and network errors are
// retryable; other statuses are permanent (see notify.Post). Errors never
// show the URL's path or query, the signing secret or a header value.
func (n *Notifier) Notify(ctx context.Context, m notify.Message) error {
	if len(m.Detections) == 0 {
		return notify.Permanent(fmt.Errorf("webhook: message %s has no detections", render.Clean(m.Key)))
	}
	at := n.now()
	body, err := renderAt(m, n.opts, at)
	if err != nil {
		return notify.Permanent(err)
	}
	ts := strconv.FormatInt(at.Unix(), 10)
	h := make(http.Header, len(n.c.Headers)+5)
	h.Set("User-Agent", userAgent)
	for k, v := range n.c.Headers {
		h.Set(k, v)
	}
	h.Set("Content-Type", "application/json")
	h.Set(HeaderTimestamp, ts)
	// The key is cleaned like every untrusted value: no CR/LF can end the
	// header line early.
	if key := render.Clean(m.Key); key != "" {
		h.Set(HeaderIdempotencyKey, key)
	}
	if !n.c.Secret.Empty() {
		h.Set(HeaderSignature, Sign([]byte(n.c.Secret.Reveal()), ts, body))
	}
	ctx, cancel := context.WithTimeout(ctx, n.c.Timeout)
	defer cancel()
	if err := notify.Post(ctx, n.client, n.c.URL.Reveal(), h, body); err != nil {
		// Only what came back is scrubbed: the key and the words around
		// it stay as written, whatever the secrets.
		return fmt.Errorf("webhook: send %s: %w", render.Clean(m.Key), secret.RedactError(err, n.hide...))
	}
	return nil
}
