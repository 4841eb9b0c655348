// Package access guards puawatch's HTTP server: who may use it
// (authentication), that a state-changing request comes from the
// dashboard's own pages (CSRF), and the security headers of every answer.
// It also holds the listener policy (LoopbackListen): the server is open
// without credentials on a loopback address only.
//
// Authentication: with neither a token nor users configured the server is
// open, which New allows on a loopback address only; there the Host
// header must name a loopback host too, so that a page whose name was
// rebound to 127.0.0.1 (DNS rebinding) cannot read the dashboard. With a
// token or users, every request but /healthz (the container's
// HEALTHCHECK) needs "Authorization: Bearer <token>" (compared in
// constant time) or basic auth with a user whose bcrypt hash matches;
// otherwise 401 with WWW-Authenticate.
//
// CSRF: every answer makes sure the client has a random cookie
// (SameSite=Strict, HttpOnly); the token the pages put in their forms
// (CSRFToken) is an HMAC of that cookie and the user, keyed by a secret
// that lives in the middleware's memory only (a restart makes the pages'
// tokens stale: reload). Every POST, PUT, PATCH and DELETE must carry it
// in the form field csrf, and is refused (403) when the browser says it
// comes from another origin (Sec-Fetch-Site other than same-origin or
// none, or an Origin that is not the server's; "null", which browsers
// send under Referrer-Policy no-referrer, leaves it to the token). A request authenticated
// by the bearer token skips the token check (not the origin checks): a
// browser never adds an Authorization: Bearer header by itself, and a
// page of another origin cannot add one without a CORS preflight, which
// this server does not grant, so such a request cannot be forged across
// sites. Basic auth does not skip it: browsers resend cached basic
// credentials to any request for the origin.
package access

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"

	"github.com/puawatch/puawatch/internal/urlpolicy"
)

// Security headers of every answer.
const (
	// ContentSecurityPolicy allows the page's own style sheets and images
	// (and data: images), no script at all, forms posting to the server
	// only, and no framing.
	ContentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

// CookieName is the CSRF cookie; FormField the form field holding the
// token.
const (
	CookieName = "puawatch_csrf"
	FormField  = "csrf"
)

// TokenUser is User's answer for a request authenticated by the bearer
// token.
const TokenUser = "token"

// maxForm bounds the body of a state-changing request read for the CSRF
// token.
const maxForm = 1 << 20

// Options configure the middleware.
type Options struct {
	// Listen is the address the server is bound to (host:port); it
	// decides whether the server may be open (LoopbackListen).
	Listen string
	// Token is the bearer token; "" for none.
	Token string
	// Users maps basic-auth user names to bcrypt hashes.
	Users map[string]string
	// Open are paths served without authentication; nil means /healthz.
	Open []string
}

// Middleware is the access guard of one server.
type Middleware struct {
	token    []byte
	users    map[string][]byte
	dummy    []byte // a hash to compare against for unknown users
	loopback bool
	open     map[string]bool
	key      []byte // the CSRF and credential-cache key, in memory only

	mu       sync.Mutex
	verified map[[sha256.Size]byte]string // HMAC of user and password → user
}

// maxVerified bounds the cache of checked basic credentials (bcrypt is
// slow on purpose; a page and its assets would each pay for it).
const maxVerified = 256

// New checks o and builds the middleware. Without a token or users it
// refuses an address other machines reach.
func New(o Options) (*Middleware, error) {
	m := &Middleware{token: []byte(o.Token), users: map[string][]byte{}, loopback: LoopbackListen(o.Listen),
		open: map[string]bool{}, verified: map[[sha256.Size]byte]string{}}
	names := make([]string, 0, len(o.Users))
	for name, h := range o.Users {
		if _, err := bcrypt.Cost([]byte(h)); err != nil {
			return nil, fmt.Errorf("web.auth.users.%s: not a bcrypt hash (%v): write the hash, not the password", name, err)
		}
		m.users[name] = []byte(h)
		names = append(names, name)
	}
	sort.Strings(names)
	if len(names) > 0 {
		m.dummy = m.users[names[0]]
	}
	if !m.loopback && !m.authEnabled() {
		return nil, fmt.Errorf("web.listen %q is reachable from other machines and web.auth is not set: set web.auth.token or web.auth.users, or listen on a loopback address", o.Listen)
	}
	open := o.Open
	if open == nil {
		open = []string{"/healthz"}
	}
	for _, p := range open {
		m.open[p] = true
	}
	m.key = make([]byte, 32)
	if _, err := rand.Read(m.key); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *Middleware) authEnabled() bool { return len(m.token) > 0 || len(m.users) > 0 }

type ctxKey int

const (
	userKey ctxKey = iota
	cookieKey
	bearerKey
)

// User is the authenticated user of r: the basic-auth name, TokenUser
// for the bearer token, "" when the server is open.
func (m *Middleware) User(r *http.Request) string {
	u, _ := r.Context().Value(userKey).(string)
	return u
}

// CSRFToken is the token the forms of the page answering r carry in
// their field csrf; "" when r did not pass through the middleware.
func (m *Middleware) CSRFToken(r *http.Request) string {
	c, _ := r.Context().Value(cookieKey).(string)
	if c == "" {
		return ""
	}
	return m.csrfFor(c, m.User(r))
}

func (m *Middleware) csrfFor(cookie, user string) string {
	mac := hmac.New(sha256.New, m.key)
	fmt.Fprintf(mac, "csrf\x00%s\x00%s", cookie, user)
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// Wrap guards next.
func (m *Middleware) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		if !strings.HasPrefix(r.URL.Path, "/assets/") {
			h.Set("Cache-Control", "no-store")
		}
		if m.open[r.URL.Path] {
			next.ServeHTTP(w, r)
			return
		}
		ctx := r.Context()
		if !m.authEnabled() {
			// Open on loopback: only for a client that named a loopback
			// host, not a rebound domain name.
			if host := hostOnly(r.Host); !urlpolicy.Loopback(host) {
				http.Error(w, fmt.Sprintf("forbidden: this server answers to a loopback host name only (127.0.0.1, localhost, [::1]), not %q", host), http.StatusForbidden)
				return
			}
		} else {
			user, bearer, ok := m.authenticate(r)
			if !ok {
				m.challenge(w)
				return
			}
			ctx = context.WithValue(ctx, userKey, user)
			ctx = context.WithValue(ctx, bearerKey, bearer)
		}
		cookie := ""
		if c, err := r.Cookie(CookieName); err == nil && validCookie(c.Value) {
			cookie = c.Value
		} else {
			cookie = newCookieValue()
			http.SetCookie(w, &http.Cookie{Name: CookieName, Value: cookie, Path: "/", HttpOnly: true,
				SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
		}
		ctx = context.WithValue(ctx, cookieKey, cookie)
		r = r.WithContext(ctx)
		if stateChanging(r.Method) {
			if err := m.checkForgery(w, r); err != nil {
				http.Error(w, "forbidden: "+err.Error(), http.StatusForbidden)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func stateChanging(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// checkForgery refuses a state-changing request from another origin or
// without the token of its cookie.
func (m *Middleware) checkForgery(w http.ResponseWriter, r *http.Request) error {
	switch site := r.Header.Get("Sec-Fetch-Site"); site {
	case "", "same-origin", "none":
	default:
		return fmt.Errorf("a %s request from another site (Sec-Fetch-Site: %s)", r.Method, site)
	}
	// "null" is what a browser sends for its own page's form when the
	// page's Referrer-Policy is no-referrer (ours is): it tells nothing,
	// and the token decides.
	if origin := r.Header.Get("Origin"); origin != "" && origin != "null" {
		u, err := url.Parse(origin)
		if err != nil || !strings.EqualFold(u.Host, r.Host) {
			return fmt.Errorf("a %s request from another origin", r.Method)
		}
	}
	if bearer, _ := r.Context().Value(bearerKey).(bool); bearer {
		return nil
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	got := r.PostFormValue(FormField)
	c, _ := r.Context().Value(cookieKey).(string)
	if got == "" {
		return errors.New("the form carries no CSRF token: reload the page and try again")
	}
	if !hmac.Equal([]byte(got), []byte(m.csrfFor(c, m.User(r)))) {
		return errors.New("the form's CSRF token is not this browser's (the page is stale, or the server restarted): reload the page and try again")
	}
	return nil
}

// authenticate checks r's credentials: the user, whether it was the
// bearer token, and whether they are good.
func (m *Middleware) authenticate(r *http.Request) (string, bool, bool) {
	authz := r.Header.Get("Authorization")
	if scheme, tok, ok := strings.Cut(authz, " "); ok && strings.EqualFold(scheme, "Bearer") && len(m.token) > 0 {
		// Compare digests, so the comparison takes as long whatever the
		// length of the token sent.
		a, b := sha256.Sum256([]byte(strings.TrimSpace(tok))), sha256.Sum256(m.token)
		return TokenUser, true, subtle.ConstantTimeCompare(a[:], b[:]) == 1
	}
	user, pass, ok := r.BasicAuth()
	if !ok || len(m.users) == 0 {
		return "", false, false
	}
	mac := hmac.New(sha256.New, m.key)
	fmt.Fprintf(mac, "basic\x00%s\x00%s", user, pass)
	var k [sha256.Size]byte
	copy(k[:], mac.Sum(nil))
	m.mu.Lock()
	known, hit := m.verified[k]
	m.mu.Unlock()
	if hit && known == user {
		return user, false, true
	}
	hash, exists := m.users[user]
	if !exists {
		// As slow as a known user's check, so that names cannot be told
		// apart by timing.
		_ = bcrypt.CompareHashAndPassword(m.dummy, []byte(pass))
		return "", false, false
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(pass)) != nil {
		return "", false, false
	}
	m.mu.Lock()
	if len(m.verified) >= maxVerified {
		clear(m.verified)
	}
	m.verified[k] = user
	m.mu.Unlock()
	return user, false, true
}

func (m *Middleware) challenge(w http.ResponseWriter) {
	if len(m.users) > 0 {
		w.Header().Add("WWW-Authenticate", `Basic realm="puawatch", charset="UTF-8"`)
	}
	if len(m.token) > 0 {
		w.Header().Add("WWW-Authenticate", `Bearer realm="puawatch"`)
	}
	http.Error(w, "authentication required: sign in with a user of web.auth.users, or send Authorization: Bearer <web.auth.token>", http.StatusUnauthorized)
}

// hostOnly is the host of a Host header, without port.
func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

// cookieBytes is the size of the CSRF cookie's random value.
const cookieBytes = 32

func newCookieValue() string {
	b := make([]byte, cookieBytes)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail
	return base64.RawURLEncoding.EncodeToString(b)
}

func validCookie(v string) bool {
	b, err := base64.RawURLEncoding.DecodeString(v)
	return err == nil && len(b) == cookieBytes
}
