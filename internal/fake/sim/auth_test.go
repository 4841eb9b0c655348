package sim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Helpers shared by auth_test.go, tenants_test.go and control_test.go.
// They carry a "tc" prefix so that they cannot collide with helpers of the
// other test files of this package.

// tcConfig is a small, fast, fault-free configuration on a fake clock.
func tcConfig(clock *fakeClock) Config {
	cfg := DefaultConfig()
	cfg.EventsPerTenant = 20
	cfg.Now = clock.Now
	return cfg
}

// tcDo sends a request with an optional body and headers ("Name: value")
// and returns the status, headers and body.
func tcDo(t testing.TB, method, u, body string, headers ...string) (int, http.Header, []byte) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, r)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, u, err)
	}
	return resp.StatusCode, resp.Header, b
}

// tcDecode decodes a JSON body into v or fails the test.
func tcDecode(t testing.TB, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
}

// tcCtl calls the control API on the global host.
func tcCtl(t testing.TB, s *Simulator, method, path, body string) (int, []byte) {
	t.Helper()
	var hdr []string
	if body != "" {
		hdr = append(hdr, "Content-Type: application/json")
	}
	st, _, b := tcDo(t, method, s.GlobalURL()+path, body, hdr...)
	return st, b
}

// tcTokenForm posts a token request form and returns the status and the
// decoded body.
func tcTokenForm(t testing.TB, s *Simulator, form url.Values) (int, map[string]any) {
	t.Helper()
	st, _, b := tcDo(t, http.MethodPost, s.TokenURL(), form.Encode(), "Content-Type: application/x-www-form-urlencoded")
	var m map[string]any
	tcDecode(t, b, &m)
	return st, m
}

// tcForm is a client-credentials token form for c.
func tcForm(c Credential) url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ClientID},
		"client_secret": {c.ClientSecret}, "scope": {"token"}}
}

// tcCred returns the credential of idType or fails the test.
func tcCred(t testing.TB, s *Simulator, idType string) Credential {
	t.Helper()
	c, ok := s.Credential(idType)
	if !ok {
		t.Fatalf("no %s credential", idType)
	}
	return c
}

// tcWhoami calls whoami with tok and returns the status and body.
func tcWhoami(t testing.TB, s *Simulator, tok string) (int, []byte) {
	t.Helper()
	st, _, b := get(t, s.GlobalURL()+"/whoami/v1", tok)
	return st, b
}

// tcCheckUnauthorized checks a 401 with Sophos's {"error":"Unauthorized",...} body.
func tcCheckUnauthorized(t testing.TB, what string, st int, b []byte) {
	t.Helper()
	if st != http.StatusUnauthorized {
		t.Errorf("%s: status %d, want 401; body %s", what, st, b)
		return
	}
	var m map[string]any
	tcDecode(t, b, &m)
	if m["error"] != "Unauthorized" {
		t.Errorf("%s: error = %v, want \"Unauthorized\"; body %s", what, m["error"], b)
	}
	for _, k := range []string{"correlationId", "requestId"} {
		if v, _ := m[k].(string); v == "" {
			t.Errorf("%s: 401 body lacks %s: %s", what, k, b)
		}
	}
}

// tcVal is what p points to, or "<absent>".
func tcVal[T any](p *T) any {
	if p == nil {
		return "<absent>"
	}
	return *p
}

// tcAlter changes the last character of s.
func tcAlter(s string) string {
	if strings.HasSuffix(s, "A") {
		return s[:len(s)-1] + "B"
	}
	return s[:len(s)-1] + "A"
}

var tcUUID = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func TestTokenSuccessResponse(t *testing.T) {
	cfg := tcConfig(newFakeClock())
	cfg.TokenLifetime = 90 * time.Second // not the default, so expires_in must come from the config
	s, _ := startSim(t, cfg)
	seen := map[string]bool{}
	for _, idType := range []string{"partner", "organization", "tenant"} {
		t.Run(idType, func(t *testing.T) {
			st, hdr, b := tcDo(t, http.MethodPost, s.TokenURL(), tcForm(tcCred(t, s, idType)).Encode(),
				"Content-Type: application/x-www-form-urlencoded")
			if st != http.StatusOK {
				t.Fatalf("status %d, want 200; body %s", st, b)
			}
			if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
			var body struct {
				AccessToken  *string  `json:"access_token"`
				TokenType    *string  `json:"token_type"`
				ExpiresIn    *float64 `json:"expires_in"`
				RefreshToken *string  `json:"refresh_token"`
				ErrorCode    *string  `json:"errorCode"`
				Message      *string  `json:"message"`
				TrackingID   *string  `json:"trackingId"`
			}
			tcDecode(t, b, &body)
			switch {
			case body.AccessToken == nil || *body.AccessToken == "":
				t.Errorf("access_token missing or empty: %s", b)
			case len(strings.Split(*body.AccessToken, ".")) != 3:
				t.Errorf("access_token %q does not look like a JWT (three dot-separated parts)", *body.AccessToken)
			case seen[*body.AccessToken]:
				t.Errorf("access_token %q issued twice", *body.AccessToken)
			default:
				seen[*body.AccessToken] = true
			}
			if body.TokenType == nil || *body.TokenType != "bearer" {
				t.Errorf("token_type = %v, want \"bearer\"", tcVal(body.TokenType))
			}
			if body.ExpiresIn == nil || *body.ExpiresIn != 90 {
				t.Errorf("expires_in = %v, want 90 (Config.TokenLifetime in seconds)", tcVal(body.ExpiresIn))
			}
			if body.RefreshToken == nil || !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(*body.RefreshToken) {
				t.Errorf("refresh_token = %v, want 64 hex digits", tcVal(body.RefreshToken))
			}
			if body.ErrorCode == nil || *body.ErrorCode != "success" {
				t.Errorf("errorCode = %v, want \"success\"", tcVal(body.ErrorCode))
			}
			if body.Message == nil || *body.Message != "OK" {
				t.Errorf("message = %v, want \"OK\"", tcVal(body.Message))
			}
			if body.TrackingID == nil || !tcUUID.MatchString(*body.TrackingID) {
				t.Errorf("trackingId = %v, want a UUID", tcVal(body.TrackingID))
			}
			if body.AccessToken != nil {
				if st, b := tcWhoami(t, s, *body.AccessToken); st != http.StatusOK {
					t.Errorf("whoami with the issued token: %d %s", st, b)
				}
			}
		})
	}
}

func TestTokenErrors(t *testing.T) {
	s, srv := startSim(t, tcConfig(newFakeClock()))
	p := tcCred(t, s, "partner")
	form := func(change func(url.Values)) string {
		f := tcForm(p)
		change(f)
		return f.Encode()
	}
	const formCT = "Content-Type: application/x-www-form-urlencoded"
	jsonBody, _ := json.Marshal(map[string]string{"grant_type": "client_credentials", "client_id": p.ClientID,
		"client_secret": p.ClientSecret, "scope": "token"})
	tests := []struct {
		name     string
		method   string
		body     string
		headers  []string
		status   int
		code     string // "" when only the status and shape are specified
		checkHdr func(http.Header) string
	}{
		{name: "unknown client id", body: form(func(f url.Values) { f.Set("client_id", "00000000-0000-4000-8000-000000000000") }),
			headers: []string{formCT}, status: 401, code: "oauth.client_app_does_not_exist"},
		{name: "wrong secret", body: form(func(f url.Values) { f.Set("client_secret", "not-the-secret") }),
			headers: []string{formCT}, status: 401, code: "oauth.invalid_client_secret"},
		{name: "empty secret", body: form(func(f url.Values) { f.Set("client_secret", "") }),
			headers: []string{formCT}, status: 401, code: "oauth.invalid_client_secret"},
		{name: "secret of another credential", body: form(func(f url.Values) { f.Set("client_secret", tcCred(t, s, "tenant").ClientSecret) }),
			headers: []string{formCT}, status: 401, code: "oauth.invalid_client_secret"},
		{name: "wrong grant_type", body: form(func(f url.Values) { f.Set("grant_type", "password") }),
			headers: []string{formCT}, status: 400, code: "oauth.unsupported_grant_type"},
		{name: "refresh_token grant_type", body: form(func(f url.Values) { f.Set("grant_type", "refresh_token") }),
			headers: []string{formCT}, status: 400, code: "oauth.unsupported_grant_type"},
		{name: "missing grant_type", body: form(func(f url.Values) { f.Del("grant_type") }),
			headers: []string{formCT}, status: 400, code: "oauth.unsupported_grant_type"},
		{name: "wrong scope", body: form(func(f url.Values) { f.Set("scope", "openid") }),
			headers: []string{formCT}, status: 400, code: "oauth.invalid_scope"},
		{name: "missing scope", body: form(func(f url.Values) { f.Del("scope") }),
			headers: []string{formCT}, status: 400, code: "oauth.invalid_scope"},
		{name: "JSON body", body: string(jsonBody), headers: []string{"Content-Type: application/json"}, status: 400},
		{name: "form without content type", body: form(func(url.Values) {}), status: 400},
		{name: "GET", method: http.MethodGet, status: 405, code: "oauth.method_not_allowed",
			checkHdr: func(h http.Header) string {
				if a := h.Get("Allow"); a != "POST" {
					return "Allow = " + a + ", want POST"
				}
				return ""
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodPost
			}
			st, hdr, b := tcDo(t, method, s.TokenURL(), tt.body, tt.headers...)
			if st != tt.status {
				t.Fatalf("status %d, want %d; body %s", st, tt.status, b)
			}
			var m map[string]any
			tcDecode(t, b, &m)
			code, _ := m["errorCode"].(string)
			if tt.code != "" && code != tt.code {
				t.Errorf("errorCode %q, want %q; body %s", code, tt.code, b)
			}
			if code == "" || code == "success" {
				t.Errorf("errorCode %q is not an error code; body %s", code, b)
			}
			if msg, _ := m["message"].(string); msg == "" {
				t.Errorf("no message: %s", b)
			}
			if id, _ := m["trackingId"].(string); !tcUUID.MatchString(id) {
				t.Errorf("trackingId %q is not a UUID", id)
			}
			if _, ok := m["access_token"]; ok {
				t.Errorf("error answer carries an access_token: %s", b)
			}
			if tt.checkHdr != nil {
				if msg := tt.checkHdr(hdr); msg != "" {
					t.Error(msg)
				}
			}
		})
	}
	// The token endpoint lives on the global host only.
	for region, u := range srv.RegionURLs {
		st, _, b := tcDo(t, http.MethodPost, u+"/api/v2/oauth2/token", tcForm(p).Encode(), formCT)
		if st != http.StatusNotFound {
			t.Errorf("token request on region %s host: status %d, want 404; body %s", region, st, b)
		}
	}
}

func TestTokenHTTPBasicClientAuth(t *testing.T) {
	s, _ := startSim(t, tcConfig(newFakeClock()))
	p := tcCred(t, s, "partner")
	request := func(id, secret string) (int, map[string]any) {
		req, err := http.NewRequest(http.MethodPost, s.TokenURL(),
			strings.NewReader(url.Values{"grant_type": {"client_credentials"}, "scope": {"token"}}.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(id, secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		b, _ := io.ReadAll(resp.Body)
		tcDecode(t, b, &m)
		return resp.StatusCode, m
	}
	st, m := request(p.ClientID, p.ClientSecret)
	if st != http.StatusOK {
		t.Fatalf("Basic client auth: status %d, want 200: %v", st, m)
	}
	tok, _ := m["access_token"].(string)
	st, b := tcWhoami(t, s, tok)
	if st != http.StatusOK {
		t.Fatalf("whoami with the Basic-auth token: %d %s", st, b)
	}
	var who struct{ ID, IDType string }
	tcDecode(t, b, &who)
	if who.IDType != "partner" || who.ID != p.ID {
		t.Errorf("whoami = %+v, want the partner credential %s", who, p.ID)
	}
	if st, m := request(p.ClientID, "wrong"); st != http.StatusUnauthorized || m["errorCode"] != "oauth.invalid_client_secret" {
		t.Errorf("Basic auth with a wrong secret: %d %v, want 401 oauth.invalid_client_secret", st, m)
	}
	if st, m := request("no-such-client", p.ClientSecret); st != http.StatusUnauthorized || m["errorCode"] != "oauth.client_app_does_not_exist" {
		t.Errorf("Basic auth with an unknown client: %d %v, want 401 oauth.client_app_does_not_exist", st, m)
	}
}

func TestTokenLifetime(t *testing.T) {
	clock := newFakeClock()
	cfg := tcConfig(clock)
	cfg.TokenLifetime = 30 * time.Second
	s, _ := startSim(t, cfg)
	st, m := tcTokenForm(t, s, tcForm(tcCred(t, s, "partner")))
	if st != http.StatusOK || m["expires_in"] != float64(30) {
		t.Fatalf("token: %d %v, want 200 with expires_in 30", st, m)
	}
	tok, _ := m["access_token"].(string)
	if st, b := tcWhoami(t, s, tok); st != http.StatusOK {
		t.Fatalf("whoami with a fresh token: %d %s", st, b)
	}
	clock.Advance(29 * time.Second)
	if st, b := tcWhoami(t, s, tok); st != http.StatusOK {
		t.Fatalf("whoami 29s into a 30s token: %d %s", st, b)
	}
	clock.Advance(2 * time.Second) // 31s
	st, b := tcWhoami(t, s, tok)
	tcCheckUnauthorized(t, "whoami with a token 31s into its 30s lifetime", st, b)
	fresh := fetchToken(t, s, "partner")
	if st, b := tcWhoami(t, s, fresh); st != http.StatusOK {
		t.Errorf("whoami with a new token after expiry: %d %s", st, b)
	}
	// Advancing the simulator's own clock expires tokens too.
	s.Advance(31 * time.Second)
	st, b = tcWhoami(t, s, fresh)
	tcCheckUnauthorized(t, "whoami after Simulator.Advance(31s)", st, b)
}

func TestTokenRevocation(t *testing.T) {
	tests := []struct {
		name   string
		revoke func(t *testing.T, s *Simulator) int
	}{
		{"Simulator.RevokeTokens", func(t *testing.T, s *Simulator) int { return s.RevokeTokens() }},
		{"POST /sim/v1/tokens/revoke", func(t *testing.T, s *Simulator) int {
			st, b := tcCtl(t, s, http.MethodPost, "/sim/v1/tokens/revoke", "")
			if st != http.StatusOK {
				t.Fatalf("revoke: %d %s", st, b)
			}
			var m struct{ Revoked *int }
			tcDecode(t, b, &m)
			if m.Revoked == nil {
				t.Fatalf("revoke answer lacks \"revoked\": %s", b)
			}
			return *m.Revoked
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := startSim(t, tcConfig(newFakeClock()))
			old := []string{fetchToken(t, s, "partner"), fetchToken(t, s, "tenant")}
			for i, tok := range old {
				if st, b := tcWhoami(t, s, tok); st != http.StatusOK {
					t.Fatalf("token %d before revocation: %d %s", i, st, b)
				}
			}
			if n := tt.revoke(t, s); n != len(old) {
				t.Errorf("revoked %d tokens, want %d", n, len(old))
			}
			for i, tok := range old {
				st, b := tcWhoami(t, s, tok)
				tcCheckUnauthorized(t, "revoked token "+string(rune('0'+i)), st, b)
			}
			fresh := fetchToken(t, s, "partner")
			if st, b := tcWhoami(t, s, fresh); st != http.StatusOK {
				t.Errorf("token issued after revocation: %d %s", st, b)
			}
			if n := tt.revoke(t, s); n != 1 {
				t.Errorf("second revocation revoked %d tokens, want 1 (only the new one)", n)
			}
		})
	}
}

func TestBearerRequired(t *testing.T) {
	s, _ := startSim(t, tcConfig(newFakeClock()))
	tok := fetchToken(t, s, "partner")
	tests := []struct {
		name   string
		header string // Authorization header; "" sends none
	}{
		{"missing", ""},
		{"empty bearer", "Bearer"},
		{"garbage bearer", "Bearer garbage"},
		{"JWT-looking garbage", "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"},
		{"token with one character changed", "Bearer " + tcAlter(tok)},
		{"token without scheme", tok},
		{"token as Basic", "Basic " + tok},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdr []string
			if tt.header != "" {
				hdr = append(hdr, "Authorization: "+tt.header)
			}
			st, _, b := get(t, s.GlobalURL()+"/whoami/v1", "", hdr...)
			tcCheckUnauthorized(t, "whoami", st, b)
			p := tcCred(t, s, "partner")
			st, _, b = get(t, s.GlobalURL()+"/partner/v1/tenants", "", append(hdr, "X-Partner-ID: "+p.ID)...)
			tcCheckUnauthorized(t, "partner tenants", st, b)
			ti := s.Tenants()[0]
			st, _, b = get(t, eventsURL(t, s, ti.ID, "limit=10"), "", append(hdr, "X-Tenant-ID: "+ti.ID)...)
			tcCheckUnauthorized(t, "SIEM events", st, b)
		})
	}
	if st, b := tcWhoami(t, s, tok); st != http.StatusOK {
		t.Errorf("the real token: %d %s", st, b)
	}
}

func TestWhoamiPerCredentialType(t *testing.T) {
	s, srv := startSim(t, tcConfig(newFakeClock()))
	first := s.Tenants()[0]
	for _, idType := range []string{"tenant", "partner", "organization"} {
		t.Run(idType, func(t *testing.T) {
			st, b := tcWhoami(t, s, fetchToken(t, s, idType))
			if st != http.StatusOK {
				t.Fatalf("whoami: %d %s", st, b)
			}
			var who struct {
				ID       string            `json:"id"`
				IDType   string            `json:"idType"`
				APIHosts map[string]string `json:"apiHosts"`
			}
			tcDecode(t, b, &who)
			if who.IDType != idType {
				t.Errorf("idType %q, want %q", who.IDType, idType)
			}
			wantID := tcCred(t, s, idType).ID
			if idType == "tenant" {
				wantID = first.ID
			}
			if who.ID != wantID {
				t.Errorf("id %q, want %q", who.ID, wantID)
			}
			if who.APIHosts["global"] != srv.GlobalURL {
				t.Errorf("apiHosts.global %q, want the global URL %q", who.APIHosts["global"], srv.GlobalURL)
			}
			dr, hasDR := who.APIHosts["dataRegion"]
			switch idType {
			case "tenant":
				want := srv.RegionURLs[first.Region]
				if want == "" || dr != want {
					t.Errorf("apiHosts.dataRegion %q, want %q (region %s of the first tenant)", dr, want, first.Region)
				}
				if dr == srv.GlobalURL {
					t.Errorf("apiHosts.dataRegion is the global URL")
				}
			default:
				if hasDR {
					t.Errorf("a %s whoami has apiHosts.dataRegion %q; only tenants have one", idType, dr)
				}
				if len(who.APIHosts) != 1 {
					t.Errorf("apiHosts = %v, want only global", who.APIHosts)
				}
			}
		})
	}
}
