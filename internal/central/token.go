package central

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/puawatch/puawatch/internal/backoff"
	"github.com/puawatch/puawatch/internal/plaintext"
)

// tokenCache holds the one bearer token a Client shares between calls and
// tenants, and the one fetch of a token that may be in flight. mu guards
// the fields.
//
// A token is used until it expires. From renewAt (its renewal margin
// before expiry) a fetch of the next one starts in the background, and
// callers keep using the current token meanwhile: a token endpoint that
// hangs holds up nobody while a token is valid. Only a caller that has
// no valid token waits, for the fetch in flight, and no longer than its
// own context and the fetch's deadline (Options.TokenTimeout).
type tokenCache struct {
	mu        sync.Mutex
	tok       string
	renewAt   time.Time   // zero: keep until the API refuses it
	expiresAt time.Time   // zero: keep until the API refuses it
	fetch     *tokenFetch // the fetch in flight, nil when none
	retryAt   time.Time   // after a failed renewal, the next one starts no sooner
	failures  int         // renewals failed in a row
}

// tokenFetch is one token request, shared by every caller that waits for
// it. tok and f are set before done is closed.
type tokenFetch struct {
	done chan struct{}
	tok  string
	f    *failure
}

// renewMargin is how long before expiry a token is renewed: 2 minutes, or
// half the lifetime when that is shorter.
func renewMargin(lifetime time.Duration) time.Duration {
	return min(2*time.Minute, lifetime/2)
}

// invalidate drops tok if it is still the cached token, so that the
// callers refused with the same token share one renewal.
func (c *Client) invalidate(tok string) {
	c.tc.mu.Lock()
	defer c.tc.mu.Unlock()
	if c.tc.tok == tok {
		c.tc.tok, c.tc.renewAt, c.tc.expiresAt = "", time.Time{}, time.Time{}
	}
}

// token returns a valid bearer token. A token inside its renewal margin is
// returned at once, a renewal started in the background; without a valid
// token the caller waits for the one fetch in flight (starting it if
// need be), at most until ctx ends. Failures are classified like API
// answers: 429 and 5xx, timeouts and network errors may be retried, a
// refused credential may not.
func (c *Client) token(ctx context.Context) (string, *failure) {
	c.tc.mu.Lock()
	now := c.now()
	tok := c.tc.tok
	if tok != "" && (c.tc.expiresAt.IsZero() || now.Before(c.tc.expiresAt)) {
		if !c.tc.renewAt.IsZero() && !now.Before(c.tc.renewAt) && c.tc.fetch == nil && !now.Before(c.tc.retryAt) {
			c.startFetchLocked(true)
		}
		c.tc.mu.Unlock()
		return tok, nil
	}
	fetch := c.tc.fetch
	if fetch == nil {
		fetch = c.startFetchLocked(false)
	}
	c.tc.mu.Unlock()
	select {
	case <-fetch.done:
		return fetch.tok, fetch.f
	case <-ctx.Done():
		return "", &failure{err: ctx.Err(), ctxDone: true}
	}
}

// startFetchLocked starts the token fetch in the background; c.tc.mu is
// held. renewal: a valid token is in hand (a failure is logged and
// retried later, not reported to a caller).
func (c *Client) startFetchLocked(renewal bool) *tokenFetch {
	f := &tokenFetch{done: make(chan struct{})}
	c.tc.fetch = f
	go func() {
		tok, fail := c.fetchToken()
		c.tc.mu.Lock()
		c.tc.fetch = nil
		if fail == nil {
			c.tc.failures, c.tc.retryAt = 0, time.Time{}
		} else if renewal {
			c.tc.failures++
			wait := backoff.Delay(c.tc.failures-1, c.backoffBase, c.backoffMax, c.rand())
			c.tc.retryAt = c.now().Add(wait)
			c.log.Warn("token renewal failed; the current token is used until it expires", "expires_at", c.tc.expiresAt,
				"retry_in", wait, "error", fail.err.Error())
		}
		f.tok, f.f = tok, fail
		c.tc.mu.Unlock()
		close(f.done)
	}()
	return f
}

// fetchToken asks the token endpoint for a token, within the token
// timeout, and caches it.
func (c *Client) fetchToken() (string, *failure) {
	start := c.now()
	ctx, cancel := context.WithTimeout(context.Background(), c.tokenTimeout)
	defer cancel()
	ctx = context.WithValue(ctx, oauth2.HTTPClient, c.hc)
	cfg := clientcredentials.Config{
		ClientID:     c.creds.ClientID,
		ClientSecret: c.creds.ClientSecret.Reveal(),
		TokenURL:     c.authURL,
		Scopes:       []string{"token"},
		AuthStyle:    oauth2.AuthStyleInParams,
	}
	sent := time.Now()
	tok, err := cfg.Token(ctx)
	c.obs.request("token", tokenStatus(tok, err), time.Since(sent))
	c.obs.token(err == nil)
	if err != nil {
		if ctx.Err() != nil {
			return "", &failure{err: fmt.Errorf("central: token: no answer from the token endpoint within %s (timeout; check auth_url and the network to it)", c.tokenTimeout), retry: true}
		}
		return "", c.tokenFailure(ctx, err)
	}
	lifetime := time.Duration(tok.ExpiresIn) * time.Second
	if lifetime <= 0 && !tok.Expiry.IsZero() {
		lifetime = time.Until(tok.Expiry)
	}
	var renewAt, expiresAt time.Time
	if lifetime > 0 {
		renewAt = start.Add(lifetime - renewMargin(lifetime))
		expiresAt = start.Add(lifetime)
	}
	c.tc.mu.Lock()
	c.tc.tok, c.tc.renewAt, c.tc.expiresAt = tok.AccessToken, renewAt, expiresAt
	c.tc.mu.Unlock()
	c.log.Debug("bearer token issued", "expires_in", lifetime, "renew_at", renewAt)
	return tok.AccessToken, nil
}

// tokenStatus is the status code of a token request's answer as far as
// the oauth2 package tells it: 200 for a token, the refusal's status, 0
// when no answer came.
func tokenStatus(tok *oauth2.Token, err error) int {
	var re *oauth2.RetrieveError
	switch {
	case err == nil && tok != nil:
		return http.StatusOK
	case errors.As(err, &re) && re.Response != nil:
		return re.Response.StatusCode
	}
	return 0
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
