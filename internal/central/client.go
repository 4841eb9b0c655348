package central

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/puawatch/puawatch/internal/backoff"
	"github.com/puawatch/puawatch/internal/plaintext"
	"github.com/puawatch/puawatch/internal/secret"
	"github.com/puawatch/puawatch/internal/urlpolicy"
)

// Sophos Central's endpoints.
const (
	// DefaultAuthURL is Sophos's OAuth2 token endpoint.
	DefaultAuthURL = "https://id.sophos.com/api/v2/oauth2/token"
	// DefaultAPIURL is the Sophos Central global API host (whoami, partner
	// and organization tenant lists); per-tenant regional hosts come from
	// whoami.
	DefaultAPIURL = "https://api.central.sophos.com"
)

// Defaults of Options.
const (
	// DefaultTimeout is Options.Timeout's default: one HTTP attempt.
	DefaultTimeout = 30 * time.Second
	// DefaultTokenTimeout is Options.TokenTimeout's default.
	DefaultTokenTimeout = 10 * time.Second
	// DefaultMaxAttempts is Options.MaxAttempts's default.
	DefaultMaxAttempts = 6
	// DefaultBackoffBase is Options.BackoffBase's default.
	DefaultBackoffBase = time.Second
	// DefaultBackoffMax is Options.BackoffMax's default.
	DefaultBackoffMax = 60 * time.Second
	// DefaultMaxRetryAfter is Options.MaxRetryAfter's default.
	DefaultMaxRetryAfter = 5 * time.Minute
	// DefaultUserAgent is Options.UserAgent's default.
	DefaultUserAgent = "puawatch"
)

// MaxEventsLimit is the largest EventsRequest.Limit the API accepts.
const MaxEventsLimit = 1000

const (
	tenantPageSize = 100
	maxTenantPages = 10000    // a safety stop for a list that never ends
	maxBody        = 64 << 20 // largest answer read
	maxMessage     = 200      // bytes of an answer quoted in an error
)

// Options configure a Client. AuthURL and APIURL are required; every other
// zero value means the documented default.
type Options struct {
	// AuthURL is the token endpoint, normally DefaultAuthURL.
	AuthURL string
	// APIURL is the global API host, normally DefaultAPIURL. Tenant
	// apiHosts must be under its parent domain (see CheckAPIHost).
	APIURL string
	// HTTPClient makes every request. Nil: a client with TLS verification
	// against RootCAs and sane transport timeouts. Redirects are never
	// followed, whichever client is used.
	HTTPClient *http.Client
	// RootCAs are the CAs TLS certificates are verified against; nil means
	// the system roots. For the system roots plus a custom CA (sophos.ca_file)
	// give certpool.Load's pool. It configures the default client, so it
	// must be nil when HTTPClient is set.
	RootCAs *x509.CertPool
	// Timeout bounds each HTTP attempt (token or API call, reading the
	// answer included). Default 30s.
	Timeout time.Duration
	// TokenTimeout bounds one token request. One request is in flight at
	// a time, shared by the callers without a valid token; a token inside
	// its renewal margin is used while the next one is fetched. Default
	// 10s.
	TokenTimeout time.Duration
	// Limits are the client-side rate limits, per tenant and once for the
	// global calls. The zero value means DefaultLimits; set NoLimits to
	// switch limiting off. A Limits with some field set is used as given
	// (a zero field is off).
	Limits Limits
	// NoLimits switches client-side rate limiting off; Limits is ignored.
	NoLimits bool
	// MaxAttempts bounds the attempts of one call that meets 429, 5xx,
	// timeouts, network errors or malformed JSON. Default 6. The one retry
	// after a 401 with a renewed token does not count.
	MaxAttempts int
	// BackoffBase and BackoffMax shape the exponential backoff with full
	// jitter (see backoff.Delay): retry n waits a random time in
	// [min(BackoffBase, 1s), min(BackoffMax, BackoffBase*2^n)]. Defaults
	// 1s and 60s.
	BackoffBase, BackoffMax time.Duration
	// MaxRetryAfter is the longest Retry-After waited for; a longer one
	// ends the call with *RateLimitedError. Default 5m. A Retry-After is
	// read up to backoff.RetryAfterCeiling (a day).
	MaxRetryAfter time.Duration
	// Sleep waits d unless ctx ends first (then it returns ctx.Err()). It
	// is used for backoff, Retry-After and rate limit waits. Nil: a real
	// timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// Logger gets retries, renewals and refused apiHosts. Nil: discard.
	Logger *slog.Logger
	// UserAgent is sent with every request. Default "puawatch".
	UserAgent string
	// Now is the local clock: token lifetimes are counted on it, and the
	// API's clock (APINow) is it plus the offset the answers' Date headers
	// show. Nil: time.Now. Give the clock the rest of the program uses.
	Now func() time.Time
	// Observer is told of every request, retry and token fetch (the
	// metrics). The zero value tells nobody.
	Observer Observer
}

// Observer is told what the client's requests come to; a nil field is
// not told. The calls are made on the caller's goroutine (a token fetch's
// on the fetch's own) and must return at once.
type Observer struct {
	// Request is told of each HTTP request made: its endpoint (token,
	// whoami, tenants or events), the status code of the answer (0: none,
	// a network error or a timeout) and how long it took, reading the
	// answer included.
	Request func(endpoint string, status int, d time.Duration)
	// Retry is told of each retry of a call, after a 429, a 5xx, a
	// timeout, a network error or a malformed answer (the one retry after
	// a 401 with a renewed token is not one).
	Retry func(endpoint string)
	// Token is told of each bearer token fetch: ok false when no token
	// came of it.
	Token func(ok bool)
}

func (o Observer) request(endpoint string, status int, d time.Duration) {
	if o.Request != nil {
		o.Request(endpoint, status, d)
	}
}

func (o Observer) retry(endpoint string) {
	if o.Retry != nil {
		o.Retry(endpoint)
	}
}

func (o Observer) token(ok bool) {
	if o.Token != nil {
		o.Token(ok)
	}
}

// Client is a Sophos Central API client. It is safe for concurrent use;
// all calls share one bearer token.
type Client struct {
	creds         Credentials
	authURL       string
	apiURL        string
	apiU          *url.URL
	loopback      bool
	hc            *http.Client
	timeout       time.Duration
	tokenTimeout  time.Duration
	lim           *limiters // nil: no limits
	maxAttempts   int
	backoffBase   time.Duration
	backoffMax    time.Duration
	maxRetryAfter time.Duration
	sleep         func(context.Context, time.Duration) error
	log           *slog.Logger
	ua            string
	tc            tokenCache
	now           func() time.Time // the local clock: token expiry, and the base of APINow
	clock         apiClock         // the API's clock, from the Date of its answers
	rand          func() float64   // backoff jitter, in [0, 1)
	obs           Observer
}

// New checks the credentials and options and makes a Client. It makes no
// request.
func New(creds Credentials, o Options) (*Client, error) {
	if strings.TrimSpace(creds.ClientID) == "" {
		return nil, errors.New("central: client_id is not set: copy it from Sophos Central (Global Settings > API Credentials Management)")
	}
	if creds.ClientSecret.Empty() {
		return nil, errors.New("central: client_secret is not set: copy it from Sophos Central when creating the API credential")
	}
	authURL, _, err := baseURL("auth_url", o.AuthURL, DefaultAuthURL)
	if err != nil {
		return nil, err
	}
	apiURL, apiU, err := baseURL("api_url", o.APIURL, DefaultAPIURL)
	if err != nil {
		return nil, err
	}
	c := &Client{
		creds:         creds,
		authURL:       authURL,
		apiURL:        apiURL,
		apiU:          apiU,
		loopback:      urlpolicy.Loopback(apiU.Hostname()),
		timeout:       cmp.Or(o.Timeout, DefaultTimeout),
		tokenTimeout:  cmp.Or(o.TokenTimeout, DefaultTokenTimeout),
		maxAttempts:   cmp.Or(o.MaxAttempts, DefaultMaxAttempts),
		backoffBase:   cmp.Or(o.BackoffBase, DefaultBackoffBase),
		backoffMax:    cmp.Or(o.BackoffMax, DefaultBackoffMax),
		maxRetryAfter: cmp.Or(o.MaxRetryAfter, DefaultMaxRetryAfter),
		sleep:         o.Sleep,
		log:           o.Logger,
		ua:            cmp.Or(o.UserAgent, DefaultUserAgent),
		now:           time.Now,
		rand:          rand.Float64,
		obs:           o.Observer,
	}
	if o.Now != nil {
		c.now = o.Now
	}
	if c.backoffMax < c.backoffBase {
		c.backoffMax = c.backoffBase
	}
	if c.sleep == nil {
		c.sleep = sleepCtx
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.log = c.log.With("component", "central")
	if !o.NoLimits {
		l := o.Limits
		if l == (Limits{}) {
			l = DefaultLimits()
		}
		if !l.off() {
			c.lim = newLimiters(l)
		}
	}
	base := o.HTTPClient
	if base == nil {
		base = defaultHTTPClient(o.RootCAs)
	} else if o.RootCAs != nil {
		return nil, errors.New("central: RootCAs configures the default HTTP client: set it on your HTTPClient's transport instead, or leave HTTPClient nil")
	}
	hc := *base
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	rt := hc.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	hc.Transport = &uaTransport{base: rt, ua: c.ua, date: func(d string) { c.clock.observe(c.log, d, c.now()) }}
	c.hc = &hc
	return c, nil
}

// String describes the client without its secret or token.
func (c *Client) String() string {
	return fmt.Sprintf("central.Client{api_url: %s, auth_url: %s, client_id: %s}", c.apiURL, c.authURL, c.creds.ClientID)
}

// GoString is String, so %#v cannot print the secret either.
func (c *Client) GoString() string { return c.String() }

// defaultHTTPClient verifies TLS against roots (nil: the system roots).
func defaultHTTPClient(roots *x509.CertPool) *http.Client {
	return &http.Client{Transport: newTransport(roots)}
}

// newTransport is an http.Transport with sane timeouts that verifies TLS
// against roots (nil: the system roots).
func newTransport(roots *x509.CertPool) *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots},
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   16,
		ForceAttemptHTTP2:     true,
	}
}

// uaTransport sets the User-Agent and hands every answer's Date header to
// date (the API's clock), the token request included.
type uaTransport struct {
	base http.RoundTripper
	ua   string
	date func(string)
}

// RoundTrip sends r with the User-Agent set.
func (t *uaTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get("User-Agent") == "" {
		r = r.Clone(r.Context())
		r.Header.Set("User-Agent", t.ua)
	}
	resp, err := t.base.RoundTrip(r)
	if err == nil && t.date != nil {
		t.date(resp.Header.Get("Date"))
	}
	return resp, err
}

// CloseIdleConnections closes the base transport's idle connections.
func (t *uaTransport) CloseIdleConnections() {
	if ci, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// request is one API call.
type request struct {
	op       string // token, whoami, tenants, events
	tenantID string // events: the tenant (also the rate limit key)
	tenant   string // events: the tenant's name, for the log beside its id
	url      string
	header   http.Header
}

func (r request) label() string {
	if r.tenantID != "" {
		return fmt.Sprintf("%s (tenant %s)", r.op, r.tenantID)
	}
	return r.op
}

// failure is a failed attempt and what may be done about it.
type failure struct {
	err           error
	retry         bool // worth another attempt
	rateLimited   bool // a 429
	retryAfter    time.Duration
	hasRetryAfter bool
	unauthorized  bool // a 401: renew the token
	ctxDone       bool // the call's context ended
}

// get runs an API call with its retries: decode is given each 2xx body
// and its error makes the attempt count as malformed.
func (c *Client) get(ctx context.Context, rq request, decode func([]byte) error) error {
	failures := 0
	renewed := false
	var last *failure
	for {
		if err := ctx.Err(); err != nil {
			return c.ctxError(rq, err, last)
		}
		if _, err := c.lim.wait(ctx, rq.tenantID, c.sleep); err != nil {
			if ctx.Err() != nil {
				return c.ctxError(rq, ctx.Err(), last)
			}
			return fmt.Errorf("central: %s: %w", rq.label(), err)
		}
		tok, f := c.token(ctx)
		if f == nil {
			f = c.attempt(ctx, rq, tok, decode)
			if f == nil {
				return nil
			}
		}
		switch {
		case f.ctxDone:
			return c.ctxError(rq, f.err, last)
		case f.unauthorized && !renewed:
			renewed = true
			c.invalidate(tok)
			c.log.Info("token refused, renewing it", "op", rq.op, "tenant_id", rq.tenantID, "tenant", rq.tenant)
			continue
		case f.unauthorized:
			return f.err
		case !f.retry:
			return f.err
		}
		last = f
		failures++
		if f.rateLimited && f.hasRetryAfter && f.retryAfter > c.maxRetryAfter {
			return rateLimitedError(f)
		}
		if failures >= c.maxAttempts {
			err := f.err
			if f.rateLimited {
				err = rateLimitedError(f)
			}
			return fmt.Errorf("%w (gave up after %d attempts)", err, failures)
		}
		wait := backoff.Delay(failures-1, c.backoffBase, c.backoffMax, c.rand())
		if f.rateLimited && f.hasRetryAfter {
			wait = f.retryAfter
		}
		c.obs.retry(rq.op)
		c.log.Warn("retrying", "op", rq.op, "tenant_id", rq.tenantID, "tenant", rq.tenant, "attempt", failures,
			"max_attempts", c.maxAttempts, "wait", wait, "error", f.err.Error())
		if err := c.sleep(ctx, wait); err != nil {
			return c.ctxError(rq, err, last)
		}
	}
}

func rateLimitedError(f *failure) error {
	var ae *APIError
	if !errors.As(f.err, &ae) {
		return f.err
	}
	return &RateLimitedError{APIError: *ae, RetryAfter: f.retryAfter}
}

// ctxError is the error of a call whose context ended, with the failure
// before it, if any. The operation is named once: the last failure is
// quoted without the "central: " and operation prefix it shares.
func (c *Client) ctxError(rq request, err error, last *failure) error {
	if last != nil {
		why := strings.TrimPrefix(last.err.Error(), "central: ")
		why = strings.TrimPrefix(why, rq.label()+": ")
		return fmt.Errorf("central: %s: %w (last failure: %s)", rq.label(), err, why)
	}
	return fmt.Errorf("central: %s: %w", rq.label(), err)
}

// attempt makes one request and reads its answer.
func (c *Client) attempt(ctx context.Context, rq request, tok string, decode func([]byte) error) *failure {
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodGet, rq.url, nil)
	if err != nil {
		return &failure{err: fmt.Errorf("central: %s: %w", rq.label(), err)}
	}
	for k, vs := range rq.header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.ua)
	req.Header.Set("Authorization", "Bearer "+tok)
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		c.obs.request(rq.op, 0, time.Since(start))
		return c.transportFailure(ctx, rq, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	c.obs.request(rq.op, resp.StatusCode, time.Since(start))
	if err != nil {
		return c.transportFailure(ctx, rq, err)
	}
	status := resp.StatusCode
	switch {
	case status >= 200 && status < 300:
		if len(body) > maxBody {
			return &failure{err: fmt.Errorf("central: %s: answer larger than %d bytes", rq.label(), maxBody), retry: true}
		}
		if err := decode(body); err != nil {
			// The decoder's text may quote the answer: cut it and keep it
			// printable.
			return &failure{err: fmt.Errorf("central: %s: malformed JSON answer: %s", rq.label(), c.scrub(cut(plaintext.Clean(err.Error()), 2*maxMessage))), retry: true}
		}
		return nil
	case status == http.StatusUnauthorized:
		ae := c.apiError(rq, status, body)
		ae.Message = joinMessage(ae.Message, "the API refused a freshly issued token: check that the API credential still exists and its role allows this call")
		return &failure{err: ae, unauthorized: true}
	case status == http.StatusTooManyRequests:
		ra, ok := backoff.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now(), backoff.RetryAfterCeiling)
		return &failure{err: c.apiError(rq, status, body), retry: true, rateLimited: true, retryAfter: ra, hasRetryAfter: ok}
	case retryableStatus(status):
		return &failure{err: c.apiError(rq, status, body), retry: true}
	case status == http.StatusForbidden && rq.tenantID != "":
		ae := c.apiError(rq, status, body)
		ae.Message = joinMessage(ae.Message, "the credential may not read tenant "+rq.tenantID+" (tenant removed, no partner access, or a role without SIEM access)")
		return &failure{err: ae}
	case status >= 300 && status < 400:
		ae := c.apiError(rq, status, body)
		ae.Message = joinMessage(ae.Message, "redirected to "+plaintext.Clean(cut(resp.Header.Get("Location"), maxMessage))+"; redirects are not followed")
		return &failure{err: ae}
	}
	return &failure{err: c.apiError(rq, status, body)}
}

// retryableStatus are the 5xx answers worth another attempt.
func retryableStatus(s int) bool {
	switch s {
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// transportFailure classifies an error of the HTTP client: the call's
// context ending stops, a certificate problem is permanent, the rest
// (timeouts, refused or reset connections) may be retried.
func (c *Client) transportFailure(ctx context.Context, rq request, err error) *failure {
	if ctx.Err() != nil {
		return &failure{err: ctx.Err(), ctxDone: true}
	}
	var cve *tls.CertificateVerificationError
	var uae x509.UnknownAuthorityError
	var he x509.HostnameError
	var cie x509.CertificateInvalidError
	if errors.As(err, &cve) || errors.As(err, &uae) || errors.As(err, &he) || errors.As(err, &cie) {
		return &failure{err: fmt.Errorf("central: %s: TLS certificate not trusted (for a private CA or a TLS-inspecting proxy, set sophos.ca_file or PUAWATCH_CA_FILE to its PEM file): %w", rq.label(), err)}
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return &failure{err: fmt.Errorf("central: %s: no answer within %s (timeout): %w", rq.label(), c.timeout, err), retry: true}
	}
	return &failure{err: fmt.Errorf("central: %s: %w", rq.label(), err), retry: true}
}

// errorBody is Sophos's common error object (and the token endpoint's).
type errorBody struct {
	Error     string `json:"error"`
	ErrorCode string `json:"errorCode"`
	Code      string `json:"code"`
	Message   string `json:"message"`
}

// apiError makes an APIError of a non-2xx answer, quoting at most
// maxMessage bytes of it.
func (c *Client) apiError(rq request, status int, body []byte) *APIError {
	ae := &APIError{Op: rq.op, TenantID: rq.tenantID, Status: status}
	var b errorBody
	if json.Unmarshal(body, &b) == nil {
		ae.Code = cmp.Or(b.Error, b.ErrorCode, b.Code)
		ae.Message = b.Message
	} else if t := strings.TrimSpace(string(body)); t != "" {
		ae.Message = plaintext.Clean(t)
	}
	ae.Code = c.scrub(cut(plaintext.Clean(ae.Code), 100))
	ae.Message = c.scrub(cut(plaintext.Clean(ae.Message), maxMessage))
	return ae
}

func joinMessage(msg, hint string) string {
	if msg == "" {
		return hint
	}
	return msg + ": " + hint
}

// scrub removes the client secret and the current token from text that
// came from a server (however short they are: see secret.Scrub).
func (c *Client) scrub(s string) string {
	c.tc.mu.Lock()
	tok := c.tc.tok
	c.tc.mu.Unlock()
	return secret.Scrub(s, c.creds.ClientSecret.Reveal(), tok)
}

// cut shortens s to at most n bytes on a rune boundary, marking the cut.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// Whoami asks who the credential is (GET {APIURL}/whoami/v1). For a tenant
// credential, the dataRegion host must pass CheckAPIHost.
func (c *Client) Whoami(ctx context.Context) (Whoami, error) {
	var body struct {
		ID       string `json:"id"`
		IDType   string `json:"idType"`
		APIHosts struct {
			Global     string `json:"global"`
			DataRegion string `json:"dataRegion"`
		} `json:"apiHosts"`
	}
	rq := request{op: "whoami", url: c.apiURL + "/whoami/v1"}
	if err := c.get(ctx, rq, func(b []byte) error { return decodeObject(b, &body) }); err != nil {
		return Whoami{}, err
	}
	w := Whoami{
		ID:            body.ID,
		IDType:        body.IDType,
		GlobalURL:     strings.TrimRight(body.APIHosts.Global, "/"),
		DataRegionURL: strings.TrimRight(body.APIHosts.DataRegion, "/"),
	}
	switch w.IDType {
	case IDTypeTenant, IDTypePartner, IDTypeOrganization:
	default:
		return Whoami{}, fmt.Errorf("central: whoami: idType %q is not tenant, partner or organization", plaintext.Clean(cut(w.IDType, 50)))
	}
	if w.ID == "" {
		return Whoami{}, errors.New("central: whoami: the answer has no id")
	}
	if w.IDType == IDTypeTenant {
		if err := c.checkAPIHost(w.DataRegionURL); err != nil {
			return Whoami{}, fmt.Errorf("central: whoami: dataRegion of tenant %s: %w", w.ID, err)
		}
	}
	return w, nil
}

// decodeObject decodes a JSON object; null or any other value is an error.
func decodeObject(b []byte, v any) error {
	if t := bytes.TrimSpace(b); len(t) == 0 || t[0] != '{' {
		return errors.New("the answer is not a JSON object")
	}
	return json.Unmarshal(b, v)
}

// Tenants lists the tenants the credential reads. A tenant credential is
// its own one tenant (on its dataRegion host); a partner or organization
// credential pages through its tenant list on the configured API URL.
// Tenants whose apiHost fails CheckAPIHost are returned all the same (and
// logged): Events refuses them, and the caller reports them.
func (c *Client) Tenants(ctx context.Context, who Whoami) ([]Tenant, error) {
	var path, header string
	switch who.IDType {
	case IDTypeTenant:
		if who.ID == "" {
			return nil, errors.New("central: tenants: whoami has no id")
		}
		return []Tenant{{ID: who.ID, APIHost: strings.TrimRight(who.DataRegionURL, "/")}}, nil
	case IDTypePartner:
		path, header = "/partner/v1/tenants", "X-Partner-ID"
	case IDTypeOrganization:
		path, header = "/organization/v1/tenants", "X-Organization-ID"
	default:
		return nil, fmt.Errorf("central: tenants: idType %q is not tenant, partner or organization", who.IDType)
	}
	if who.ID == "" {
		return nil, fmt.Errorf("central: tenants: whoami has no %s id", who.IDType)
	}
	var out []Tenant
	seen := map[string]bool{}
	for page := 1; ; page++ {
		if page > maxTenantPages {
			return nil, fmt.Errorf("central: tenants: more than %d pages; giving up", maxTenantPages)
		}
		var body struct {
			Items []Tenant `json:"items"`
			Pages struct {
				Current int `json:"current"`
				Size    int `json:"size"`
				Total   int `json:"total"`
				Items   int `json:"items"`
			} `json:"pages"`
		}
		q := url.Values{"pageTotal": {"true"}, "pageSize": {strconv.Itoa(tenantPageSize)}, "page": {strconv.Itoa(page)}}
		rq := request{op: "tenants", url: c.apiURL + path + "?" + q.Encode(), header: http.Header{header: {who.ID}}}
		if err := c.get(ctx, rq, func(b []byte) error { return decodeObject(b, &body) }); err != nil {
			return nil, err
		}
		for _, t := range body.Items {
			if t.ID == "" {
				c.log.Warn("tenant list item without an id skipped", "page", page, "name", t.DisplayName())
				continue
			}
			if seen[t.ID] {
				continue
			}
			seen[t.ID] = true
			t.APIHost = strings.TrimRight(t.APIHost, "/")
			if err := c.CheckAPIHost(t.APIHost); err != nil {
				c.log.Warn("tenant apiHost refused; its events will not be read",
					"tenant_id", t.ID, "tenant", t.DisplayName(), "api_host", t.APIHost, "error", err.Error())
			}
			out = append(out, t)
		}
		if len(body.Items) == 0 {
			break
		}
		if body.Pages.Total > 0 {
			if page >= body.Pages.Total {
				break
			}
			continue
		}
		size := body.Pages.Size
		if size <= 0 {
			size = tenantPageSize
		}
		if len(body.Items) < size {
			break
		}
	}
	return out, nil
}

// Events reads one page of a tenant's SIEM events from the tenant's
// apiHost (GET {APIHost}/siem/v1/events with X-Tenant-ID). The apiHost
// must pass CheckAPIHost, or no request is made. Each Event keeps its item
// as sent in Raw.
func (c *Client) Events(ctx context.Context, req EventsRequest) (Page, error) {
	tid := req.Tenant.ID
	if tid == "" {
		return Page{}, errors.New("central: events: the tenant has no id")
	}
	host := strings.TrimRight(req.Tenant.APIHost, "/")
	if err := c.checkAPIHost(host); err != nil {
		return Page{}, fmt.Errorf("central: events (tenant %s): %w", tid, err)
	}
	if req.Limit < 0 || req.Limit > MaxEventsLimit {
		return Page{}, fmt.Errorf("central: events (tenant %s): limit %d is not between 1 and %d (0: the API's default)", tid, req.Limit, MaxEventsLimit)
	}
	if req.OffsetMins < 0 {
		return Page{}, fmt.Errorf("central: events (tenant %s): from_date_offset_minutes %d is negative", tid, req.OffsetMins)
	}
	q := url.Values{}
	if req.Limit > 0 {
		q.Set("limit", strconv.Itoa(req.Limit))
	}
	switch {
	case req.Cursor != "":
		q.Set("cursor", req.Cursor)
	case !req.FromDate.IsZero():
		q.Set("from_date", strconv.FormatInt(req.FromDate.Unix(), 10))
	}
	var types []string
	for _, t := range req.ExcludeTypes {
		if t = strings.TrimSpace(t); t != "" {
			types = append(types, t)
		}
	}
	if len(types) > 0 {
		q.Set("exclude_types", strings.Join(types, ","))
	}
	if req.OffsetMins > 0 {
		q.Set("from_date_offset_minutes", strconv.Itoa(req.OffsetMins))
	}
	u := host + "/siem/v1/events"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	rq := request{op: "events", tenantID: tid, tenant: req.Tenant.DisplayName(), url: u, header: http.Header{"X-Tenant-ID": {tid}}}
	var page Page
	err := c.get(ctx, rq, func(b []byte) error {
		p, err := DecodePage(b)
		page = p
		return err
	})
	if err != nil {
		return Page{}, err
	}
	return page, nil
}

// DecodePage decodes the body of a /siem/v1/events answer, as Events
// does: every item must have an id, has_more must come with a
// next_cursor, and each Event keeps its item's bytes in Raw. The answer
// is read once: each item is decoded straight from b, and its Raw is the
// slice of b it was decoded from (b must not change afterwards). Keys
// match as encoding/json matches them (without regard to case; a key
// given twice: the last wins).
func DecodePage(b []byte) (Page, error) {
	if t := bytes.TrimSpace(b); len(t) == 0 || t[0] != '{' {
		return Page{}, errors.New("the answer is not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil { // the '{' checked above
		return Page{}, err
	}
	var p Page
	var itemsErr error // of the last items array: an earlier one given twice does not count
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return Page{}, err
		}
		key, _ := tok.(string) // a key is always a string
		switch {
		case strings.EqualFold(key, "has_more"):
			err = dec.Decode(&p.HasMore)
		case strings.EqualFold(key, "next_cursor"):
			err = dec.Decode(&p.NextCursor)
		case strings.EqualFold(key, "items"):
			p.Items, itemsErr, err = decodeItems(dec, b)
		default:
			var skip json.RawMessage
			err = dec.Decode(&skip)
		}
		if err != nil {
			return Page{}, err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return Page{}, err
	}
	if rest := trimJSONSpace(b[dec.InputOffset():]); len(rest) > 0 {
		return Page{}, fmt.Errorf("invalid character %q after the answer's object", rest[0])
	}
	if itemsErr != nil {
		return Page{}, itemsErr
	}
	if p.HasMore && p.NextCursor == "" {
		return Page{}, errors.New("has_more without a next_cursor")
	}
	if p.Items == nil {
		p.Items = []Event{}
	}
	return p, nil
}

// decodeItems decodes the items array dec is at. A syntax error is fatal
// (err); an item that does not decode or has no id is itemsErr, which
// counts only if no later items array replaces this one, as with
// encoding/json.
func decodeItems(dec *json.Decoder, b []byte) (items []Event, itemsErr, err error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, err
	}
	if tok == nil { // "items": null
		return nil, nil, nil
	}
	if tok != json.Delim('[') {
		kind := "an object"
		switch tok.(type) {
		case string:
			kind = "a string"
		case float64:
			kind = "a number"
		case bool:
			kind = "a boolean"
		}
		return nil, nil, fmt.Errorf("items is %s, not an array", kind)
	}
	for i := 0; dec.More(); i++ {
		start := dec.InputOffset()
		// Decoded in place: an Event is large, and one on its own would
		// be allocated, then copied.
		items = append(items, Event{})
		e := &items[len(items)-1]
		if derr := dec.Decode(e); derr != nil {
			items = items[:len(items)-1]
			// A syntax error ends the reading; any other (a wrong type,
			// a bad time) came after the item was read whole.
			var se *json.SyntaxError
			if errors.As(derr, &se) || errors.Is(derr, io.ErrUnexpectedEOF) || errors.Is(derr, io.EOF) {
				return nil, nil, fmt.Errorf("item %d: %w", i, derr)
			}
			if itemsErr == nil {
				itemsErr = fmt.Errorf("item %d: %w", i, derr)
			}
			continue
		}
		if e.ID == "" {
			items = items[:len(items)-1]
			if itemsErr == nil {
				itemsErr = fmt.Errorf("item %d has no id", i)
			}
			continue
		}
		end := dec.InputOffset()
		raw := trimJSONSpace(b[start:end])
		raw = bytes.TrimPrefix(raw, []byte(","))
		raw = trimJSONSpace(raw)
		e.Raw = raw[:len(raw):len(raw)]
		if len(items) == 1 && len(raw) > 0 {
			// Room for as many more items of the first one's size as the
			// rest of the answer holds.
			items = slices.Grow(items, int(int64(len(b))-end)/len(raw)+1)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing ']'
		return nil, nil, err
	}
	if itemsErr != nil {
		return nil, itemsErr, nil
	}
	if items == nil {
		items = []Event{}
	}
	return items, nil, nil
}

// trimJSONSpace cuts JSON whitespace (space, tab, CR, LF) off the start
// of b.
func trimJSONSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r' || b[0] == '\n') {
		b = b[1:]
	}
	return b
}
