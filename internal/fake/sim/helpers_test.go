package sim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// startSim serves a simulator made of cfg on loopback listeners until the
// test ends.
func startSim(t testing.TB, cfg Config) (*Simulator, *Server) {
	t.Helper()
	s := New(cfg)
	srv, err := Start(s, ListenOptions{})
	if err != nil {
		t.Fatalf("start simulator: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return s, srv
}

// fetchToken gets a bearer token for the credential of idType.
func fetchToken(t testing.TB, s *Simulator, idType string) string {
	t.Helper()
	c, ok := s.Credential(idType)
	if !ok {
		t.Fatalf("no %s credential", idType)
	}
	resp, err := http.PostForm(s.TokenURL(), url.Values{
		"grant_type": {"client_credentials"}, "client_id": {c.ClientID},
		"client_secret": {c.ClientSecret}, "scope": {"token"},
	})
	if err != nil {
		t.Fatalf("token request: %v", err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("token: %d %s", resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.AccessToken == "" {
		t.Fatalf("token body: %v", err)
	}
	return body.AccessToken
}

// get makes a GET with a bearer token and headers ("Name: value") and
// returns the status, headers and body.
func get(t testing.TB, u, tok string, headers ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", u, err)
	}
	return resp.StatusCode, resp.Header, b
}

// siemPage is a decoded SIEM answer.
type siemPage struct {
	HasMore    bool              `json:"has_more"`
	NextCursor string            `json:"next_cursor"`
	Items      []json.RawMessage `json:"items"`
}

// eventsURL is the events URL of a tenant on its own regional host.
func eventsURL(t testing.TB, s *Simulator, tenantID, query string) string {
	t.Helper()
	for _, ti := range s.Tenants() {
		if ti.ID == tenantID {
			return ti.APIHost + "/siem/v1/events?" + query
		}
	}
	t.Fatalf("no tenant %s", tenantID)
	return ""
}
