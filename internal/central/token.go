package central

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/puawatch/puawatch/internal/backoff"
	"github.com/puawatch/puawatch/internal/plaintext"
)

// tokenCache holds the one bearer token a Client shares between calls and
// tenants. sem lets one caller fetch while the others wait (or give up
// with their context); mu guards the fields.
type tokenCache struct {
	sem     chan struct{}
	mu      sync.Mutex
	tok     string
	renewAt time.Time // zero: keep until the API refuses it
}

// renewMargin is how long before expiry a token is renewed: 2 minutes, or
// half the lifetime when that is shorter.
func renewMargin(lifetime time.Duration) time.Duration {
	return min(2*time.Minute, lifetime/2)
}

// cached returns the token while it is fresh.
func (c *Client) cached() string {
	c.tc.mu.Lock()
	defer c.tc.mu.Unlock()
	if c.tc.tok != "" && (c.tc.renewAt.IsZero() || c.now().Before(c.tc.renewAt)) {
		return c.tc.tok
	}
	return ""
}

// invalidate drops tok if it is still the cached token, so that the
// callers refused with the same token share one renewal.
func (c *Client) invalidate(tok string) {
	c.tc.mu.Lock()
	defer c.tc.mu.Unlock()
	if c.tc.tok == tok {
		c.tc.tok, c.tc.renewAt = "", time.Time{}
	}
}

// token returns a fresh bearer token, fetching one when needed. Failures
// are classified like API answers: 429 and 5xx, timeouts and network
// errors may be retried, a refused credential may not.
func (c *Client) token(ctx context.Context) (string, *failure) {
	if t := c.cached(); t != "" {
		return t, nil
	}
	select {
	case c.tc.sem <- struct{}{}:
	case <-ctx.Done():
		return "", &failure{err: ctx.Err(), ctxDone: true}
	}
	defer func() { <-c.tc.sem }()
	if t := c.cached(); t != "" { // another caller fetched it meanwhile
		return t, nil
	}
	start := c.now()
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	actx = context.WithValue(actx, oauth2.HTTPClient, c.hc)
	cfg := clientcredentials.Config{
		ClientID:     c.creds.ClientID,
		ClientSecret: c.creds.ClientSecret.Reveal(),
		TokenURL:     c.authURL,
		Scopes:       []string{"token"},
		AuthStyle:    oauth2.AuthStyleInParams,
	}
	tok, err := cfg.Token(actx)
	if err != nil {
		return "", c.tokenFailure(ctx, err)
	}
	lifetime := time.Duration(tok.ExpiresIn) * time.Second
	if lifetime <= 0 && !tok.Expiry.IsZero() {
		lifetime = time.Until(tok.Expiry)
	}
	var renewAt time.Time
	if lifetime > 0 {
		renewAt = start.Add(lifetime - renewMargin(lifetime))
	}
	c.tc.mu.Lock()
	c.tc.tok, c.tc.renewAt = tok.AccessToken, renewAt
	c.tc.mu.Unlock()
	c.log.Debug("bearer token issued", "expires_in", lifetime, "renew_at", renewAt)
	return tok.AccessToken, nil
}

// tokenBody is what the token endpoint answers on failure.
type tokenBody struct {
	ErrorCode        string `json:"errorCode"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	Message          string `json:"message"`
}

// tokenFailure turns an error of the oauth2 package into a failure. The
// oauth2 error text is never used as such: it may quote the answer.
func (c *Client) tokenFailure(ctx context.Context, err error) *failure {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.Response == nil {
		return c.transportFailure(ctx, request{op: "token"}, err)
	}
	status := re.Response.StatusCode
	var b tokenBody
	_ = json.Unmarshal(re.Body, &b)
	code := cmp.Or(b.ErrorCode, b.Error, re.ErrorCode)
	msg := cmp.Or(b.Message, b.ErrorDescription, re.ErrorDescription)
	if msg == "" && code == "" {
		msg = plaintext.Clean(string(re.Body))
	}
	ae := &APIError{Op: "token", Status: status, Code: c.scrub(cut(code, 100)), Message: c.scrub(cut(msg, maxMessage))}
	switch {
	case status == http.StatusTooManyRequests:
		ra, ok := backoff.ParseRetryAfter(re.Response.Header.Get("Retry-After"), time.Now(), backoff.RetryAfterCeiling)
		return &failure{err: ae, retry: true, rateLimited: true, retryAfter: ra, hasRetryAfter: ok}
	case retryableStatus(status):
		return &failure{err: ae, retry: true}
	}
	ae.Message = tokenHint(status, ae.Code, ae.Message)
	return &failure{err: ae}
}

// tokenHint says what to do about a refused token request.
func tokenHint(status int, code, msg string) string {
	var hint string
	switch code {
	case "oauth.invalid_client_secret":
		hint = "the client secret is wrong: check the client id and secret of the API credential (Sophos Central: Global Settings > API Credentials Management)"
	case "oauth.client_app_does_not_exist":
		hint = "no API credential has this client id: check the client id and secret (the credential may have been deleted or have expired)"
	case "customer.validation":
		hint = "the token request was refused: check the client id and secret"
	default:
		switch {
		case status == http.StatusUnauthorized || status == http.StatusForbidden:
			hint = "check the client id and secret"
		case status >= 200 && status < 300:
			hint = "the token endpoint answered without a token: check auth_url and the client id and secret"
		default:
			hint = "the token endpoint refused the request: check auth_url and the client id and secret"
		}
	}
	if msg == "" || msg == code {
		return hint
	}
	return msg + ": " + hint
}
