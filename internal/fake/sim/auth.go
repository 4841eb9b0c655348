package sim

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"
)

type token struct {
	cred    Credential
	expires time.Time
	revoked bool
}

// handleToken is the OAuth2 client-credentials token endpoint.
func (s *Simulator) handleToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		tokenError(w, http.StatusMethodNotAllowed, "oauth.method_not_allowed", "use POST")
		return
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" {
		tokenError(w, http.StatusBadRequest, "customer.validation", "Content-Type must be application/x-www-form-urlencoded")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "customer.validation", "malformed form body")
		return
	}
	f := r.PostForm
	if gt := f.Get("grant_type"); gt != "client_credentials" {
		tokenError(w, http.StatusBadRequest, "oauth.unsupported_grant_type", fmt.Sprintf("grant_type must be client_credentials, not %q", gt))
		return
	}
	if sc := f.Get("scope"); sc != "token" {
		tokenError(w, http.StatusBadRequest, "oauth.invalid_scope", fmt.Sprintf("scope must be token, not %q", sc))
		return
	}
	id, secret := f.Get("client_id"), f.Get("client_secret")
	if id == "" && secret == "" { // RFC 6749 §2.3.1: HTTP Basic is allowed too
		id, secret, _ = r.BasicAuth()
	}
	s.mu.Lock()
	c, ok := s.creds[id]
	if !ok {
		s.mu.Unlock()
		tokenError(w, http.StatusUnauthorized, "oauth.client_app_does_not_exist", "Unauthorized")
		return
	}
	if c.ClientSecret != secret {
		s.mu.Unlock()
		tokenError(w, http.StatusUnauthorized, "oauth.invalid_client_secret", "Unauthorized")
		return
	}
	now := s.now()
	if len(s.tokens) > 10000 {
		for k, t := range s.tokens {
			if now.After(t.expires) {
				delete(s.tokens, k)
			}
		}
	}
	tok := newJWTish(c, now)
	lifetime := s.lifetime
	s.tokens[tok] = &token{cred: c, expires: now.Add(lifetime)}
	s.mu.Unlock()
	s.counters.add("tokens_issued", 1)
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token":  tok,
		"token_type":    "bearer",
		"expires_in":    int(lifetime / time.Second),
		"refresh_token": randomHex(32),
		"errorCode":     "success",
		"message":       "OK",
		"trackingId":    pseudoUUID(),
	})
}

func tokenError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]string{"errorCode": code, "message": msg, "trackingId": pseudoUUID()})
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}

// newJWTish makes a token that looks like the JWTs Sophos issues; it is
// opaque to the simulator, which looks it up.
func newJWTish(c Credential, now time.Time) string {
	enc := base64.RawURLEncoding
	hdr := enc.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`))
	body, _ := json.Marshal(map[string]any{"sub": c.ClientID, "iat": now.Unix(), "jti": randomHex(8)})
	sig := make([]byte, 64)
	_, _ = rand.Read(sig)
	return hdr + "." + enc.EncodeToString(body) + "." + enc.EncodeToString(sig)
}

// authenticate checks the bearer token and returns its credential, or
// writes a 401 and returns false.
func (s *Simulator) authenticate(w http.ResponseWriter, r *http.Request) (Credential, bool) {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		tok, ok = strings.CutPrefix(h, "bearer ")
	}
	unauthorized := func() {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "Unauthorized", "correlationId": pseudoUUID(), "requestId": pseudoUUID()})
	}
	if !ok || tok == "" {
		unauthorized()
		return Credential{}, false
	}
	now := s.now()
	s.mu.Lock()
	t, found := s.tokens[tok]
	revokeRate := s.faults.RevokeRate
	s.mu.Unlock()
	if !found || now.After(t.expires) {
		s.counters.add("unauthorized", 1)
		unauthorized()
		return Credential{}, false
	}
	if revokeRate > 0 && s.randFloat() < revokeRate {
		s.mu.Lock()
		t.revoked = true
		s.mu.Unlock()
		s.counters.add("tokens_revoked", 1)
	}
	s.mu.RLock()
	revoked := t.revoked
	s.mu.RUnlock()
	if revoked {
		s.counters.add("unauthorized", 1)
		unauthorized()
		return Credential{}, false
	}
	if !s.rateLimit(w, t.cred.ClientID+"|"+r.Header.Get("X-Tenant-ID")) {
		return Credential{}, false
	}
	return t.cred, true
}

// RevokeTokens revokes every token issued so far; the next call with one
// of them answers 401.
func (s *Simulator) RevokeTokens() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, t := range s.tokens {
		if !t.revoked {
			t.revoked = true
			n++
		}
	}
	return n
}

func (s *Simulator) handleWhoami(w http.ResponseWriter, r *http.Request) {
	c, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	hosts := map[string]string{"global": s.GlobalURL()}
	if c.IDType == "tenant" {
		t := s.tenant(c.ID)
		if t == nil {
			writeError(w, http.StatusForbidden, "Forbidden", "the tenant of this credential no longer exists")
			return
		}
		hosts["dataRegion"] = s.regionBase(t.spec.Region)
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": c.ID, "idType": c.IDType, "apiHosts": hosts})
}

func (s *Simulator) regionBase(region string) string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if u, ok := s.regionURL[region]; ok {
		return u
	}
	return "https://api-" + region + ".central.sophos.com"
}

type regionKey struct{}

func contextWithRegion(ctx context.Context, region string) context.Context {
	return context.WithValue(ctx, regionKey{}, region)
}

func regionFrom(ctx context.Context) string {
	r, _ := ctx.Value(regionKey{}).(string)
	return r
}
