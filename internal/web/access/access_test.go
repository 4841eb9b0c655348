package access

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

const testToken = "test-token-0123456789abcdef"

// echo answers with the user and the CSRF token the middleware gives,
// and records whether it ran.
type echo struct {
	m   *Middleware
	ran int
}

func (e *echo) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.ran++
	io.WriteString(w, "user="+e.m.User(r)+" csrf="+e.m.CSRFToken(r))
}

func newServer(t *testing.T, o Options) (*httptest.Server, *echo) {
	t.Helper()
	m, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	e := &echo{m: m}
	srv := httptest.NewServer(m.Wrap(e))
	t.Cleanup(srv.Close)
	return srv, e
}

func hash(t *testing.T, pw string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func do(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func get(t *testing.T, u string, edit func(*http.Request)) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	if edit != nil {
		edit(req)
	}
	return do(t, req)
}

func TestNewRefusesOpenOffLoopback(t *testing.T) {
	for _, addr := range []string{":9787", "0.0.0.0:9787", "192.168.1.10:9787", "example.com:80"} {
		if _, err := New(Options{Listen: addr}); err == nil || !strings.Contains(err.Error(), "web.auth") {
			t.Errorf("%s: %v", addr, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:9787", "localhost:1", "[::1]:0"} {
		if _, err := New(Options{Listen: addr}); err != nil {
			t.Errorf("%s: %v", addr, err)
		}
	}
	if _, err := New(Options{Listen: "127.0.0.1:0", Users: map[string]string{"a": "secret"}}); err == nil || !strings.Contains(err.Error(), "not a bcrypt hash") {
		t.Errorf("bad hash: %v", err)
	}
}

// TestAuthentication: configured for a non-loopback address, a request
// without credentials gets 401 with both challenges; the bearer token and
// a basic user with the right password pass; a wrong password, an
// unknown user and a wrong token do not; /healthz stays open.
func TestAuthentication(t *testing.T) {
	srv, e := newServer(t, Options{Listen: "0.0.0.0:9787", Token: testToken, Users: map[string]string{"alice": hash(t, "alice-pw")}})
	resp, _ := get(t, srv.URL+"/", nil)
	if resp.StatusCode != 401 {
		t.Fatalf("no credentials: %d", resp.StatusCode)
	}
	if ch := resp.Header.Values("WWW-Authenticate"); len(ch) != 2 || !strings.HasPrefix(ch[0], "Basic realm=") || !strings.HasPrefix(ch[1], "Bearer realm=") {
		t.Errorf("WWW-Authenticate %q", ch)
	}
	if e.ran != 0 {
		t.Errorf("the handler ran without credentials")
	}
	resp, body := get(t, srv.URL+"/", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+testToken) })
	if resp.StatusCode != 200 || !strings.HasPrefix(body, "user=token ") {
		t.Errorf("bearer: %d %q", resp.StatusCode, body)
	}
	for range 2 { // the second answer comes from the cache of checked credentials
		resp, body = get(t, srv.URL+"/", func(r *http.Request) { r.SetBasicAuth("alice", "alice-pw") })
		if resp.StatusCode != 200 || !strings.HasPrefix(body, "user=alice ") {
			t.Errorf("basic: %d %q", resp.StatusCode, body)
		}
	}
	for name, edit := range map[string]func(*http.Request){
		"bad password":   func(r *http.Request) { r.SetBasicAuth("alice", "wrong") },
		"unknown user":   func(r *http.Request) { r.SetBasicAuth("mallory", "alice-pw") },
		"bad token":      func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+testToken+"x") },
		"token as basic": func(r *http.Request) { r.SetBasicAuth("token", testToken) },
	} {
		if resp, _ := get(t, srv.URL+"/", edit); resp.StatusCode != 401 {
			t.Errorf("%s: %d", name, resp.StatusCode)
		}
	}
	if resp, _ := get(t, srv.URL+"/healthz", nil); resp.StatusCode != 200 {
		t.Errorf("/healthz: %d", resp.StatusCode)
	}
}

// TestOpenLoopbackChecksHost: open on loopback, a request naming another
// host (DNS rebinding) is refused.
func TestOpenLoopbackChecksHost(t *testing.T) {
	srv, _ := newServer(t, Options{Listen: "127.0.0.1:0"})
	if resp, body := get(t, srv.URL+"/", nil); resp.StatusCode != 200 || !strings.HasPrefix(body, "user= csrf=") {
		t.Errorf("loopback: %d %q", resp.StatusCode, body)
	}
	resp, body := get(t, srv.URL+"/", func(r *http.Request) { r.Host = "evil.example:9787" })
	if resp.StatusCode != 403 || !strings.Contains(body, "evil.example") {
		t.Errorf("rebound host: %d %q", resp.StatusCode, body)
	}
}

// client fetches a page to get the CSRF cookie and the token, as a
// browser would.
func csrfOf(t *testing.T, srv *httptest.Server, edit func(*http.Request)) (*http.Cookie, string) {
	t.Helper()
	resp, body := get(t, srv.URL+"/", edit)
	var c *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == CookieName {
			c = ck
		}
	}
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" {
		t.Fatalf("CSRF cookie %+v", c)
	}
	_, tok, _ := strings.Cut(body, "csrf=")
	if tok == "" {
		t.Fatalf("no token in %q", body)
	}
	return c, tok
}

func post(t *testing.T, srv *httptest.Server, c *http.Cookie, form url.Values, edit func(*http.Request)) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", srv.URL+"/ack", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if c != nil {
		req.AddCookie(c)
	}
	if edit != nil {
		edit(req)
	}
	return do(t, req)
}

// TestCSRF: a POST with its cookie's token passes; without a token, with
// another cookie's token, with a forged one, from another origin or with
// Sec-Fetch-Site cross-site or same-site it is refused (403) and the
// handler does not run.
func TestCSRF(t *testing.T) {
	srv, e := newServer(t, Options{Listen: "127.0.0.1:0"})
	c, tok := csrfOf(t, srv, nil)
	other, otherTok := csrfOf(t, srv, nil)
	if other.Value == c.Value || otherTok == tok {
		t.Fatal("two clients got the same cookie")
	}
	// A request carrying the cookie keeps it: no new Set-Cookie.
	if resp, _ := get(t, srv.URL+"/", func(r *http.Request) { r.AddCookie(c) }); len(resp.Cookies()) != 0 {
		t.Errorf("cookie set again: %v", resp.Cookies())
	}
	e.ran = 0
	sameOrigin := func(r *http.Request) {
		r.Header.Set("Origin", srv.URL)
		r.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	if resp, body := post(t, srv, c, url.Values{"csrf": {tok}, "id": {"1"}}, sameOrigin); resp.StatusCode != 200 || e.ran != 1 {
		t.Fatalf("good POST: %d %q", resp.StatusCode, body)
	}
	if resp, _ := post(t, srv, c, url.Values{"csrf": {tok}}, nil); resp.StatusCode != 200 {
		t.Errorf("good POST without Origin (a client that sends none): %d", resp.StatusCode)
	}
	// Under Referrer-Policy no-referrer a browser sends Origin: null for
	// the page's own form.
	if resp, _ := post(t, srv, c, url.Values{"csrf": {tok}}, func(r *http.Request) {
		r.Header.Set("Origin", "null")
		r.Header.Set("Sec-Fetch-Site", "same-origin")
	}); resp.StatusCode != 200 {
		t.Errorf("good POST with Origin null: %d", resp.StatusCode)
	}
	e.ran = 0
	cases := map[string]struct {
		cookie *http.Cookie
		form   url.Values
		edit   func(*http.Request)
		want   string
	}{
		"no token":          {c, url.Values{"id": {"1"}}, sameOrigin, "no CSRF token"},
		"wrong token":       {c, url.Values{"csrf": {"AAAA" + tok[4:]}}, sameOrigin, "not this browser's"},
		"other client's":    {c, url.Values{"csrf": {otherTok}}, sameOrigin, "not this browser's"},
		"no cookie":         {nil, url.Values{"csrf": {tok}}, sameOrigin, "not this browser's"},
		"cross-site origin": {c, url.Values{"csrf": {tok}}, func(r *http.Request) { r.Header.Set("Origin", "http://evil.example") }, "another origin"},
		"other port origin": {c, url.Values{"csrf": {tok}}, func(r *http.Request) { r.Header.Set("Origin", "http://127.0.0.1:1") }, "another origin"},
		"null origin, cross-site": {c, url.Values{"csrf": {tok}}, func(r *http.Request) {
			r.Header.Set("Origin", "null")
			r.Header.Set("Sec-Fetch-Site", "cross-site")
		}, "another site"},
		"null origin, no token": {c, url.Values{}, func(r *http.Request) { r.Header.Set("Origin", "null") }, "no CSRF token"},
		"fetch-site cross":      {c, url.Values{"csrf": {tok}}, func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "cross-site") }, "another site"},
		"fetch-site same-site":  {c, url.Values{"csrf": {tok}}, func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "same-site") }, "another site"},
	}
	for name, tc := range cases {
		resp, body := post(t, srv, tc.cookie, tc.form, tc.edit)
		if resp.StatusCode != 403 || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %q", name, resp.StatusCode, body)
		}
	}
	for _, method := range []string{"PUT", "PATCH", "DELETE"} {
		req, _ := http.NewRequest(method, srv.URL+"/x", nil)
		req.AddCookie(c)
		if resp, _ := do(t, req); resp.StatusCode != 403 {
			t.Errorf("%s without token: %d", method, resp.StatusCode)
		}
	}
	if e.ran != 0 {
		t.Errorf("the handler ran %d times for refused requests", e.ran)
	}
}

// TestCSRFBoundToUser: a basic user's token does not serve another user
// with the same cookie; the bearer token skips the token, not the origin
// checks.
func TestCSRFBoundToUser(t *testing.T) {
	srv, _ := newServer(t, Options{Listen: "0.0.0.0:0", Token: testToken,
		Users: map[string]string{"alice": hash(t, "a"), "bob": hash(t, "b")}})
	asAlice := func(r *http.Request) { r.SetBasicAuth("alice", "a") }
	asBob := func(r *http.Request) { r.SetBasicAuth("bob", "b") }
	c, tok := csrfOf(t, srv, asAlice)
	if resp, _ := post(t, srv, c, url.Values{"csrf": {tok}}, asAlice); resp.StatusCode != 200 {
		t.Errorf("alice with her token: %d", resp.StatusCode)
	}
	if resp, _ := post(t, srv, c, url.Values{"csrf": {tok}}, asBob); resp.StatusCode != 403 {
		t.Errorf("bob with alice's token: %d", resp.StatusCode)
	}
	if resp, _ := post(t, srv, nil, nil, asAlice); resp.StatusCode != 403 {
		t.Errorf("basic without a token: %d", resp.StatusCode)
	}
	bearer := func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+testToken) }
	if resp, _ := post(t, srv, nil, nil, bearer); resp.StatusCode != 200 {
		t.Errorf("bearer without a token: %d", resp.StatusCode)
	}
	if resp, _ := post(t, srv, nil, nil, func(r *http.Request) { bearer(r); r.Header.Set("Origin", "http://evil.example") }); resp.StatusCode != 403 {
		t.Errorf("bearer from another origin: %d", resp.StatusCode)
	}
	if resp, _ := post(t, srv, nil, nil, nil); resp.StatusCode != 401 {
		t.Errorf("POST without credentials: %d", resp.StatusCode)
	}
}

// TestSecurityHeaders: every answer, refusals and /healthz included,
// carries the headers; pages are not cached, assets may be.
func TestSecurityHeaders(t *testing.T) {
	srv, _ := newServer(t, Options{Listen: "127.0.0.2:0", Token: testToken})
	auth := func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+testToken) }
	for _, tc := range []struct {
		path  string
		edit  func(*http.Request)
		code  int
		store bool
	}{
		{"/", auth, 200, true}, {"/", nil, 401, true}, {"/healthz", nil, 200, true}, {"/assets/style.css", auth, 200, false},
	} {
		resp, _ := get(t, srv.URL+tc.path, tc.edit)
		if resp.StatusCode != tc.code {
			t.Errorf("%s: %d", tc.path, resp.StatusCode)
		}
		h := resp.Header
		for k, want := range map[string]string{
			"Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
			"X-Frame-Options":         "DENY",
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "no-referrer",
		} {
			if got := h.Get(k); got != want {
				t.Errorf("%s %d: %s = %q, want %q", tc.path, tc.code, k, got, want)
			}
		}
		if strings.Contains(h.Get("Content-Security-Policy"), "unsafe") {
			t.Errorf("CSP allows unsafe: %q", h.Get("Content-Security-Policy"))
		}
		if got := h.Get("Cache-Control") == "no-store"; got != tc.store {
			t.Errorf("%s: Cache-Control %q", tc.path, h.Get("Cache-Control"))
		}
	}
}

func TestLoopbackListen(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:9787": true, "127.9.9.9:1": true, "localhost:9787": true, "LOCALHOST:1": true, "[::1]:9787": true,
		":9787": false, "0.0.0.0:9787": false, "[::]:9787": false, "192.168.0.1:9787": false, "host.example:1": false,
		"localhost.example:1": false, "9787": false, "": false,
	} {
		if got := LoopbackListen(addr); got != want {
			t.Errorf("LoopbackListen(%q) = %v, want %v", addr, got, want)
		}
	}
}
