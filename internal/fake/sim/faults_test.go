package sim

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Fault tests: each fault is switched on once by Config and once at run
// time through PUT /sim/v1/settings with partial JSON.

var fltVias = []string{"config", "settings"}

// fltPut sends a partial settings document to the control API.
func fltPut(t testing.TB, s *Simulator, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, s.GlobalURL()+"/sim/v1/settings", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("PUT settings: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// fltSet is fltPut that must succeed.
func fltSet(t testing.TB, s *Simulator, body string) {
	t.Helper()
	if status, b := fltPut(t, s, body); status != http.StatusOK {
		t.Fatalf("PUT settings %s: status %d: %s", body, status, b)
	}
}

// fltToken posts a token request for the partner credential and returns
// the raw answer.
func fltToken(t testing.TB, s *Simulator) (int, []byte) {
	t.Helper()
	c, _ := s.Credential("partner")
	resp, err := http.PostForm(s.TokenURL(), url.Values{
		"grant_type": {"client_credentials"}, "client_id": {c.ClientID},
		"client_secret": {c.ClientSecret}, "scope": {"token"},
	})
	if err != nil {
		t.Fatalf("token request: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// fltStatus is the status of one SIEM call.
func fltStatus(t testing.TB, e *siemEnv, route, tid string) int {
	t.Helper()
	status, _, _ := e.call(t, route, tid, nil)
	return status
}

// fltCheck429 checks a rate-limit answer and returns its Retry-After.
func fltCheck429(t testing.TB, what string, status int, h http.Header, body []byte) int {
	t.Helper()
	if status != http.StatusTooManyRequests {
		t.Fatalf("%s: status %d, want 429: %.200s", what, status, body)
	}
	ra, err := strconv.Atoi(h.Get("Retry-After"))
	if err != nil || ra < 1 {
		t.Errorf("%s: Retry-After %q, want whole seconds >= 1", what, h.Get("Retry-After"))
	}
	siemCheckErrorBody(t, what, body, "tooManyRequests")
	return ra
}

func fltStat(e *siemEnv, name string) int64 { return e.s.Counters().Stats[name] }

// ---------------------------------------------------------------------------
// Rate limits.

func TestFaultRateLimitPerSecond(t *testing.T) {
	t.Parallel()
	for _, via := range fltVias {
		t.Run(via, func(t *testing.T) {
			e := newSiemEnv(t, func(c *Config) {
				c.Tenants, c.EventsPerTenant = 2, 10
				if via == "config" {
					c.Limits = RateLimits{PerSecond: 3}
				}
			}).login(t)
			if via == "settings" {
				fltSet(t, e.s, `{"limits":{"per_second":3}}`)
			}
			ids := e.tenantIDs()
			a, b := ids[0], ids[1]
			routes := []string{"events", "alerts", "events"}
			for i, r := range routes {
				if st := fltStatus(t, e, r, a); st != 200 {
					t.Fatalf("tenant A call %d: status %d, want 200", i+1, st)
				}
			}
			status, h, body := e.call(t, "alerts", a, nil)
			fltCheck429(t, "4th quick call", status, h, body)
			if n := fltStat(e, "rate_limited"); n != 1 {
				t.Errorf("Stats[rate_limited] = %d, want 1", n)
			}
			// Another tenant has its own budget.
			for i := 0; i < 3; i++ {
				if st := fltStatus(t, e, "events", b); st != 200 {
					t.Fatalf("tenant B call %d after A was limited: status %d, want 200", i+1, st)
				}
			}
			status, h, body = e.call(t, "events", b, nil)
			fltCheck429(t, "tenant B 4th call", status, h, body)
			// A second later the bucket has refilled.
			e.clock.Advance(time.Second)
			for i := 0; i < 3; i++ {
				if st := fltStatus(t, e, "events", a); st != 200 {
					t.Fatalf("tenant A call %d one second later: status %d, want 200", i+1, st)
				}
			}
			if n := fltStat(e, "rate_limited"); n != 2 {
				t.Errorf("Stats[rate_limited] = %d, want 2", n)
			}
		})
	}
}

func TestFaultRateLimitPerMinute(t *testing.T) {
	t.Parallel()
	for _, via := range fltVias {
		t.Run(via, func(t *testing.T) {
			e := newSiemEnv(t, func(c *Config) {
				c.EventsPerTenant = 10
				if via == "config" {
					c.Limits = RateLimits{PerMinute: 5, MinuteBurst: 8}
				}
			}).login(t)
			if via == "settings" {
				fltSet(t, e.s, `{"limits":{"per_minute":5,"minute_burst":8}}`)
			}
			for i := 0; i < 8; i++ {
				if st := fltStatus(t, e, "events", e.tid); st != 200 {
					t.Fatalf("call %d of the burst: status %d, want 200", i+1, st)
				}
			}
			status, h, body := e.call(t, "events", e.tid, nil)
			ra := fltCheck429(t, "9th call", status, h, body)
			if ra > 60 {
				t.Errorf("Retry-After %d for a per-minute limit of 5, want at most 60", ra)
			}
			e.clock.Advance(time.Duration(ra) * time.Second)
			if st := fltStatus(t, e, "events", e.tid); st != 200 {
				t.Errorf("after Retry-After (%d s): status %d, want 200", ra, st)
			}
			status, h, body = e.call(t, "events", e.tid, nil)
			fltCheck429(t, "next call", status, h, body)
		})
	}
}

func TestFaultRateLimitPerDay(t *testing.T) {
	t.Parallel()
	for _, via := range fltVias {
		t.Run(via, func(t *testing.T) {
			e := newSiemEnv(t, func(c *Config) {
				c.EventsPerTenant = 10
				if via == "config" {
					c.Limits = RateLimits{PerDay: 4}
				}
			}).login(t)
			if via == "settings" {
				fltSet(t, e.s, `{"limits":{"per_day":4}}`)
			}
			for i := 0; i < 4; i++ {
				if st := fltStatus(t, e, "alerts", e.tid); st != 200 {
					t.Fatalf("call %d: status %d, want 200", i+1, st)
				}
				e.clock.Advance(time.Minute)
			}
			status, h, body := e.call(t, "alerts", e.tid, nil)
			ra := fltCheck429(t, "5th call", status, h, body)
			if ra <= 3600 || ra > 86400 {
				t.Errorf("Retry-After %d, want near 24 h (more than 3600, at most 86400)", ra)
			}
			e.clock.Advance(24 * time.Hour)
			e.login(t) // the first token has expired; same credential, same budget
			if st := fltStatus(t, e, "alerts", e.tid); st != 200 {
				t.Errorf("a day later: status %d, want 200", st)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// 5xx, latency, hangs.

func TestFaultErrorRate(t *testing.T) {
	t.Parallel()
	for _, via := range fltVias {
		t.Run(via, func(t *testing.T) {
			e := newSiemEnv(t, func(c *Config) {
				c.EventsPerTenant = 10
				if via == "config" {
					c.Faults.ErrorRate = 1
				}
			})
			if via == "settings" {
				e.login(t)
				fltSet(t, e.s, `{"faults":{"error_rate":1}}`)
			}
			// Every API request fails, the token endpoint too; the fault
			// comes before authentication.
			seen := map[int]int{}
			for i := 0; i < 15; i++ {
				results := map[string]func() (int, []byte){
					"token": func() (int, []byte) { return fltToken(t, e.s) },
					"whoami": func() (int, []byte) {
						st, _, b := get(t, e.s.GlobalURL()+"/whoami/v1", e.tok)
						return st, b
					},
					"events": func() (int, []byte) { st, _, b := e.call(t, "events", e.tid, nil); return st, b },
					"alerts": func() (int, []byte) { st, _, b := e.call(t, "alerts", e.tid, nil); return st, b },
				}
				for name, do := range results {
					status, body := do()
					seen[status]++
					switch status {
					case 500:
						siemCheckErrorBody(t, name, body, "internalServerError")
					case 502, 503, 504:
						siemCheckErrorBody(t, name, body, "")
					default:
						t.Fatalf("%s with error_rate 1: status %d, want 500/502/503/504: %.200s", name, status, body)
					}
				}
			}
			for _, code := range []int{500, 502, 503, 504} {
				if seen[code] == 0 {
					t.Errorf("60 faulted requests never answered %d: %v", code, seen)
				}
			}
			if n := fltStat(e, "errors_5xx"); n != 60 {
				t.Errorf("Stats[errors_5xx] = %d, want 60", n)
			}
			fltSet(t, e.s, `{"faults":{"error_rate":0}}`)
			if e.tok == "" {
				e.login(t)
			}
			for i := 0; i < 20; i++ {
				if status, _, body := e.call(t, "events", e.tid, nil); status != 200 {
					t.Fatalf("error_rate 0: status %d: %.200s", status, body)
				}
			}
		})
	}
}

func TestFaultLatency(t *testing.T) {
	t.Parallel()
	const lat = 50 * time.Millisecond
	for _, via := range fltVias {
		t.Run(via, func(t *testing.T) {
			e := newSiemEnv(t, func(c *Config) {
				c.EventsPerTenant = 10
				if via == "config" {
					c.Faults.Latency = Duration(lat)
				}
			}).login(t)
			if via == "settings" {
				fltSet(t, e.s, `{"faults":{"latency":"50ms"}}`)
			}
			for _, route := range []string{"events", "alerts"} {
				start := time.Now()
				status, _, body := e.call(t, route, e.tid, nil)
				took := time.Since(start)
				if status != 200 {
					t.Fatalf("%s: status %d: %.200s", route, status, body)
				}
				if took < lat {
					t.Errorf("%s took %v with latency %v", route, took, lat)
				}
			}
		})
	}
}

func TestFaultHang(t *testing.T) {
	t.Parallel()
	for _, via := range fltVias {
		t.Run(via, func(t *testing.T) {
			e := newSiemEnv(t, func(c *Config) {
				c.EventsPerTenant = 10
				if via == "config" {
					c.Faults.HangRate = 1
				}
			})
			if via == "settings" {
				e.login(t)
				fltSet(t, e.s, `{"faults":{"hang_rate":1}}`)
			}
			do := func(timeout time.Duration) (*http.Response, error) {
				req, _ := http.NewRequest(http.MethodGet, e.url(t, "events", e.tid, nil), nil)
				req.Header.Set("Authorization", "Bearer "+e.tok)
				req.Header.Set("X-Tenant-ID", e.tid)
				return (&http.Client{Timeout: timeout}).Do(req)
			}
			resp, err := do(200 * time.Millisecond)
			if err == nil {
				resp.Body.Close()
				t.Fatalf("hang_rate 1: got status %d, want a client timeout", resp.StatusCode)
			}
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Fatalf("hang_rate 1: error %v, want a timeout", err)
			}
			if n := fltStat(e, "hangs"); n != 1 {
				t.Errorf("Stats[hangs] = %d, want 1", n)
			}

			fltSet(t, e.s, `{"faults":{"hang_for":"100ms"}}`)
			start := time.Now()
			resp, err = do(10 * time.Second)
			if err != nil {
				t.Fatalf("hang_for 100ms: %v, want a 504", err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusGatewayTimeout {
				t.Fatalf("hang_for 100ms: status %d, want 504: %s", resp.StatusCode, body)
			}
			if took := time.Since(start); took < 100*time.Millisecond {
				t.Errorf("504 after %v, want after hang_for 100ms", took)
			}
			siemCheckErrorBody(t, "hang_for 504", body, "")
		})
	}
}

// ---------------------------------------------------------------------------
// Tokens.

func TestFaultTokenLifetimeSetting(t *testing.T) {
	t.Parallel()
	for _, via := range fltVias {
		t.Run(via, func(t *testing.T) {
			e := newSiemEnv(t, func(c *Config) {
				c.EventsPerTenant = 10
				if via == "config" {
					c.TokenLifetime = 2 * time.Second
				}
			})
			if via == "settings" {
				status, body := fltToken(t, e.s)
				var tok struct {
					ExpiresIn int `json:"expires_in"`
				}
				if status != 200 || json.Unmarshal(body, &tok) != nil || tok.ExpiresIn != 3600 {
					t.Fatalf("default token: status %d: %s", status, body)
				}
				fltSet(t, e.s, `{"token_lifetime":"2s"}`)
				if got := time.Duration(e.s.Settings().TokenLifetime); got != 2*time.Second {
					t.Errorf("Settings().TokenLifetime = %v, want 2s", got)
				}
			}
			status, body := fltToken(t, e.s)
			var tok struct {
				AccessToken string `json:"access_token"`
				ExpiresIn   int    `json:"expires_in"`
			}
			if status != 200 || json.Unmarshal(body, &tok) != nil {
				t.Fatalf("token: status %d: %s", status, body)
			}
			if tok.ExpiresIn != 2 {
				t.Errorf("expires_in %d, want 2", tok.ExpiresIn)
			}
			e.tok = tok.AccessToken
			if st := fltStatus(t, e, "events", e.tid); st != 200 {
				t.Fatalf("fresh token: status %d", st)
			}
			e.clock.Advance(3 * time.Second)
			status, _, body = e.call(t, "events", e.tid, nil)
			if status != http.StatusUnauthorized {
				t.Errorf("3 s after a 2 s token: status %d, want 401: %s", status, body)
			}
		})
	}
}

func TestFaultRevokeRate(t *testing.T) {
	t.Parallel()
	for _, via := range fltVias {
		t.Run(via, func(t *testing.T) {
			e := newSiemEnv(t, func(c *Config) {
				c.EventsPerTenant = 10
				if via == "config" {
					c.Faults.RevokeRate = 1
				}
			}).login(t)
			if via == "settings" {
				if st := fltStatus(t, e, "events", e.tid); st != 200 {
					t.Fatalf("before revoke_rate: status %d", st)
				}
				fltSet(t, e.s, `{"faults":{"revoke_rate":1}}`)
			}
			status, _, body := e.call(t, "events", e.tid, nil)
			if status != http.StatusUnauthorized {
				t.Fatalf("revoke_rate 1: status %d, want 401: %s", status, body)
			}
			var m map[string]string
			if json.Unmarshal(body, &m) != nil || m["error"] != "Unauthorized" {
				t.Errorf("401 body %s, want {\"error\":\"Unauthorized\",...}", body)
			}
			if n := fltStat(e, "tokens_revoked"); n < 1 {
				t.Errorf("Stats[tokens_revoked] = %d, want >= 1", n)
			}
			fltSet(t, e.s, `{"faults":{"revoke_rate":0}}`)
			if st := fltStatus(t, e, "alerts", e.tid); st != http.StatusUnauthorized {
				t.Errorf("revoked token after revoke_rate 0: status %d, want 401 (it stays revoked)", st)
			}
			e.login(t)
			if st := fltStatus(t, e, "events", e.tid); st != 200 {
				t.Errorf("new token: status %d, want 200", st)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// Bodies.

func TestFaultMalformed(t *testing.T) {
	t.Parallel()
	t.Run("config", func(t *testing.T) {
		e := newSiemEnv(t, func(c *Config) { c.EventsPerTenant = 10; c.Faults.MalformedRate = 1 })
		// The token endpoint is an API request too: its 200 is cut short.
		status, body := fltToken(t, e.s)
		var v any
		if status != 200 || json.Unmarshal(body, &v) == nil {
			t.Errorf("token with malformed_rate 1: status %d, body %q; want 200 with a body json.Unmarshal rejects", status, body)
		}
		// Only 200 answers are cut: a 401 stays readable.
		status, _, body = e.call(t, "events", e.tid, nil)
		if status != http.StatusUnauthorized || !json.Valid(body) {
			t.Errorf("unauthenticated call: status %d, body %q; want a whole 401 body", status, body)
		}
		if n := fltStat(e, "malformed"); n != 1 {
			t.Errorf("Stats[malformed] = %d, want 1", n)
		}
	})
	t.Run("settings", func(t *testing.T) {
		e := newSiemEnv(t, func(c *Config) { c.EventsPerTenant = 50 }).login(t)
		fltSet(t, e.s, `{"faults":{"malformed_rate":1}}`)
		for _, route := range []string{"events", "alerts", "events"} {
			status, _, body := e.call(t, route, e.tid, nil)
			var v any
			if status != 200 || json.Unmarshal(body, &v) == nil {
				t.Errorf("%s with malformed_rate 1: status %d, body %.200q; want 200 with a body json.Unmarshal rejects", route, status, body)
			}
		}
		if n := fltStat(e, "malformed"); n != 3 {
			t.Errorf("Stats[malformed] = %d, want 3", n)
		}
		fltSet(t, e.s, `{"faults":{"malformed_rate":0}}`)
		e.page(t, "events", e.tid, nil)
	})
}

func TestFaultReplay(t *testing.T) {
	t.Parallel()
	for _, via := range fltVias {
		t.Run(via, func(t *testing.T) {
			e := newSiemEnv(t, func(c *Config) {
				c.EventsPerTenant, c.TieShare = 300, 0.3
				if via == "config" {
					c.Faults.ReplayRate = 1
				}
			}).login(t)
			if via == "settings" {
				fltSet(t, e.s, `{"faults":{"replay_rate":1}}`)
			}
			items, pages := e.readAll(t, "events", e.tid, url.Values{"limit": {"25"}})
			for i := 0; i+1 < len(pages); i++ {
				a, b := siemItemIDs(t, pages[i].Items), siemItemIDs(t, pages[i+1].Items)
				if !pages[i].HasMore || len(a) == 0 || len(b) == 0 {
					t.Fatalf("page %d: has_more %v, %d items, next page %d items", i, pages[i].HasMore, len(a), len(b))
				}
				if a[len(a)-1] != b[0] {
					t.Errorf("page %d ends with %s, page %d starts with %s; replay_rate 1 repeats the last item", i, a[len(a)-1], i+1, b[0])
				}
			}
			ids := siemItemIDs(t, items)
			var dedup []string
			seen := map[string]bool{}
			for _, id := range ids {
				if !seen[id] {
					seen[id] = true
					dedup = append(dedup, id)
				}
			}
			if dups := len(ids) - len(dedup); dups != len(pages)-1 || dups == 0 {
				t.Errorf("%d duplicates over %d pages, want one per page boundary (%d)", dups, len(pages), len(pages)-1)
			}
			siemSameIDs(t, "deduplicated replayed pages vs Simulator.Events", dedup, siemEventIDs(e.events(t, e.tid)))
		})
	}
}

// ---------------------------------------------------------------------------
// Forbidden tenants and validation.

func TestFaultForbiddenTenants(t *testing.T) {
	t.Parallel()
	for _, via := range fltVias {
		for _, by := range []string{"id", "name"} {
			t.Run(via+"/"+by, func(t *testing.T) {
				probe := New(Config{Seed: 1, Tenants: 3, Regions: DefaultConfig().Regions})
				victim := probe.Tenants()[1]
				key := victim.ID
				if by == "name" {
					key = victim.Name
				}
				e := newSiemEnv(t, func(c *Config) {
					c.Tenants, c.EventsPerTenant = 3, 20
					if via == "config" {
						c.Faults.ForbiddenTenants = []string{key}
					}
				}).login(t)
				if got := e.s.Tenants()[1]; got.ID != victim.ID {
					t.Fatalf("tenants differ between simulators of one seed: %s vs %s", got.ID, victim.ID)
				}
				if via == "settings" {
					b, _ := json.Marshal(map[string]any{"faults": map[string]any{"forbidden_tenants": []string{key}}})
					fltSet(t, e.s, string(b))
				}
				for _, route := range []string{"events", "alerts"} {
					status, _, body := e.call(t, route, victim.ID, nil)
					if status != http.StatusForbidden {
						t.Errorf("%s of forbidden tenant: status %d, want 403", route, status)
						continue
					}
					var m map[string]string
					if json.Unmarshal(body, &m) != nil || m["error"] != "Forbidden" {
						t.Errorf("%s of forbidden tenant: body %s, want {\"error\":\"Forbidden\",...}", route, body)
					}
					for _, other := range []string{e.tenantIDs()[0], e.tenantIDs()[2]} {
						if st := fltStatus(t, e, route, other); st != 200 {
							t.Errorf("%s of another tenant: status %d, want 200", route, st)
						}
					}
				}
				if n := fltStat(e, "forbidden"); n != 2 {
					t.Errorf("Stats[forbidden] = %d, want 2", n)
				}
				fltSet(t, e.s, `{"faults":{"forbidden_tenants":[]}}`)
				if st := fltStatus(t, e, "events", victim.ID); st != 200 {
					t.Errorf("after clearing forbidden_tenants: status %d, want 200", st)
				}
			})
		}
	}
}

func TestFaultSettingsValidation(t *testing.T) {
	t.Parallel()
	e := newSiemEnv(t, func(c *Config) { c.EventsPerTenant = 0 })
	cases := []struct {
		name string
		edit func(*Settings)
		json string
		want string
	}{
		{"error_rate 1.5", func(s *Settings) { s.Faults.ErrorRate = 1.5 }, `{"faults":{"error_rate":1.5}}`, "faults.error_rate"},
		{"hang_rate -0.1", func(s *Settings) { s.Faults.HangRate = -0.1 }, `{"faults":{"hang_rate":-0.1}}`, "faults.hang_rate"},
		{"replay_rate 2", func(s *Settings) { s.Faults.ReplayRate = 2 }, `{"faults":{"replay_rate":2}}`, "faults.replay_rate"},
		{"per_second -1", func(s *Settings) { s.Limits.PerSecond = -1 }, `{"limits":{"per_second":-1}}`, "limits.per_second"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.s.Settings()
			st := e.s.Settings()
			tc.edit(&st)
			err := e.s.SetSettings(st)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("SetSettings: error %v, want one naming %s", err, tc.want)
			}
			status, body := fltPut(t, e.s, tc.json)
			if status != http.StatusBadRequest || !strings.Contains(string(body), tc.want) {
				t.Errorf("PUT %s: status %d, body %s; want 400 naming %s", tc.json, status, body, tc.want)
			}
			if after := e.s.Settings(); after.Faults.ErrorRate != before.Faults.ErrorRate || after.Faults.HangRate != before.Faults.HangRate ||
				after.Faults.ReplayRate != before.Faults.ReplayRate || after.Limits != before.Limits {
				t.Errorf("rejected settings changed the simulator: %+v -> %+v", before, after)
			}
		})
	}
}
