package central

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/backoff"
	"github.com/puawatch/puawatch/internal/fake/sim"
	"github.com/puawatch/puawatch/internal/secret"
)

func smallConfig() sim.Config {
	cfg := sim.DefaultConfig()
	cfg.Tenants = 3
	cfg.EventsPerTenant = 120
	return cfg
}

func TestWhoamiAllCredentialTypes(t *testing.T) {
	s, srv := startSim(t, smallConfig())
	for _, idType := range []string{IDTypeTenant, IDTypePartner, IDTypeOrganization} {
		t.Run(idType, func(t *testing.T) {
			e := newEnv(t, s, srv, idType, nil)
			w, err := e.c.Whoami(context.Background())
			if err != nil {
				t.Fatalf("Whoami: %v", err)
			}
			if w.ID != e.cred.ID || w.IDType != idType {
				t.Errorf("Whoami = %+v, want id %s type %s", w, e.cred.ID, idType)
			}
			if w.GlobalURL != srv.GlobalURL {
				t.Errorf("GlobalURL = %q, want %q", w.GlobalURL, srv.GlobalURL)
			}
			want := ""
			if idType == IDTypeTenant {
				want = e.tenant(t, 0).APIHost
			}
			if w.DataRegionURL != want {
				t.Errorf("DataRegionURL = %q, want %q", w.DataRegionURL, want)
			}
			ts, err := e.c.Tenants(context.Background(), w)
			if err != nil {
				t.Fatalf("Tenants: %v", err)
			}
			if idType == IDTypeTenant {
				if len(ts) != 1 || ts[0].ID != w.ID || ts[0].APIHost != w.DataRegionURL {
					t.Errorf("Tenants of a tenant credential = %+v", ts)
				}
			} else if len(ts) != 3 {
				t.Errorf("Tenants = %d, want 3", len(ts))
			}
		})
	}
}

func TestTenantsPaged(t *testing.T) {
	cfg := sim.DefaultConfig()
	cfg.Tenants = 250
	cfg.EventsPerTenant = 0
	cfg.TenantPageMax = 100
	cfg.Regions = []string{"eu01", "us03", "eu02"}
	s, srv := startSim(t, cfg)
	truth := s.Tenants()
	for _, idType := range []string{IDTypePartner, IDTypeOrganization} {
		t.Run(idType, func(t *testing.T) {
			e := newEnv(t, s, srv, idType, nil)
			before := e.requests(idType + "_tenants")
			w, err := e.c.Whoami(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			ts, err := e.c.Tenants(context.Background(), w)
			if err != nil {
				t.Fatalf("Tenants: %v", err)
			}
			if len(ts) != len(truth) {
				t.Fatalf("got %d tenants, want %d", len(ts), len(truth))
			}
			seen := map[string]bool{}
			for i, tn := range ts {
				if seen[tn.ID] {
					t.Errorf("tenant %s listed twice", tn.ID)
				}
				seen[tn.ID] = true
				want := truth[i]
				if tn.ID != want.ID || tn.Name != want.Name || tn.DataRegion != want.Region {
					t.Errorf("tenant %d = %+v, want %+v", i, tn, want)
				}
				if tn.APIHost != srv.RegionURLs[want.Region] {
					t.Errorf("tenant %s apiHost %q, want %q", tn.ID, tn.APIHost, srv.RegionURLs[want.Region])
				}
				if err := e.c.CheckAPIHost(tn.APIHost); err != nil {
					t.Errorf("CheckAPIHost(%s): %v", tn.APIHost, err)
				}
			}
			if n := e.requests(idType+"_tenants") - before; n != 3 {
				t.Errorf("%d tenant list requests, want 3", n)
			}
		})
	}
}

func TestEventsPagingMatchesSimulator(t *testing.T) {
	s, srv := startSim(t, smallConfig())
	e := newEnv(t, s, srv, IDTypePartner, nil)
	for i := range 3 {
		tn := e.tenant(t, i)
		got := allEvents(t, e.c, EventsRequest{Tenant: tn, Limit: 37})
		truth, err := s.Events(tn.ID)
		if err != nil {
			t.Fatal(err)
		}
		var gotIDs, wantIDs []string
		for _, ev := range got {
			gotIDs = append(gotIDs, ev.ID)
			var raw map[string]any
			if err := json.Unmarshal(ev.Raw, &raw); err != nil || raw["id"] != ev.ID {
				t.Fatalf("Raw of %s is not its item: %v %s", ev.ID, err, ev.Raw)
			}
			if ev.CustomerID != tn.ID || ev.Type == "" || ev.CreatedAt.IsZero() {
				t.Errorf("event %s decoded badly: %+v", ev.ID, ev)
			}
		}
		for _, ev := range truth {
			wantIDs = append(wantIDs, ev.ID)
		}
		if !slices.Equal(gotIDs, wantIDs) {
			t.Errorf("tenant %s: got %d ids, want %d (or order differs)", tn.ID, len(gotIDs), len(wantIDs))
		}
	}
}

func TestEventsExcludeTypesAndTenantCredential(t *testing.T) {
	s, srv := startSim(t, smallConfig())
	e := newEnv(t, s, srv, IDTypeTenant, nil)
	w, err := e.c.Whoami(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ts, err := e.c.Tenants(context.Background(), w)
	if err != nil {
		t.Fatal(err)
	}
	truth, _ := s.Events(w.ID)
	count := map[string]int{}
	for _, ev := range truth {
		count[ev.Type]++
	}
	var excl []string
	n := 0
	for typ, c := range count {
		if len(excl) < 2 {
			excl = append(excl, typ)
			n += c
		}
	}
	got := allEvents(t, e.c, EventsRequest{Tenant: ts[0], Limit: 1000, ExcludeTypes: excl})
	if len(got) != len(truth)-n {
		t.Errorf("got %d events, want %d", len(got), len(truth)-n)
	}
	for _, ev := range got {
		if slices.Contains(excl, ev.Type) {
			t.Errorf("excluded type %s returned", ev.Type)
		}
	}
}

func TestTokenErrors(t *testing.T) {
	s, srv := startSim(t, smallConfig())
	good, _ := s.Credential(IDTypePartner)
	const wrong = "wrong-secret-8d1f2b77c0"
	cases := []struct {
		name, id, secret, code string
	}{
		{"wrong secret", good.ClientID, wrong, "oauth.invalid_client_secret"},
		{"unknown client", "6f1c3d2e-0000-4a1e-9c55-0d2e7a9b4f13", wrong, "oauth.client_app_does_not_exist"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			logs := &syncBuffer{}
			c, err := New(Credentials{ClientID: tc.id, ClientSecret: secret.Secret(tc.secret)}, Options{
				AuthURL: s.TokenURL(), APIURL: srv.GlobalURL,
				Logger: testLogger(logs),
			})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Whoami(context.Background())
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v (%T), want *APIError", err, err)
			}
			if ae.Op != "token" || ae.Status != http.StatusUnauthorized || ae.Code != tc.code {
				t.Errorf("APIError = %+v, want token 401 %s", ae, tc.code)
			}
			if !strings.Contains(err.Error(), "check the client id and secret") {
				t.Errorf("error gives no advice: %v", err)
			}
			for what, text := range map[string]string{"error": err.Error(), "logs": logs.String(), "%+v": fmt.Sprintf("%+v %#v", err, c)} {
				if strings.Contains(text, tc.secret) {
					t.Errorf("%s leaks the secret: %s", what, text)
				}
			}
		})
	}
}

func TestTokenReusedAcrossCallsAndTenants(t *testing.T) {
	cfg := smallConfig()
	cfg.Tenants = 12
	cfg.EventsPerTenant = 20
	s, srv := startSim(t, cfg)
	e := newEnv(t, s, srv, IDTypePartner, nil)
	// Concurrent first calls share one token fetch.
	var wg sync.WaitGroup
	errs := make(chan error, 12)
	for i := range 12 {
		wg.Add(1)
		go func(tn Tenant) {
			defer wg.Done()
			_, err := e.c.Events(context.Background(), EventsRequest{Tenant: tn})
			errs <- err
		}(e.tenant(t, i))
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Events: %v", err)
		}
	}
	for range 5 {
		if _, err := e.c.Whoami(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.stat("tokens_issued"); n != 1 {
		t.Errorf("tokens_issued = %d, want 1", n)
	}
}

func TestTokenRenewedAfterRevocation(t *testing.T) {
	s, srv := startSim(t, smallConfig())
	e := newEnv(t, s, srv, IDTypePartner, nil)
	tn := e.tenant(t, 1)
	if _, err := e.c.Events(context.Background(), EventsRequest{Tenant: tn}); err != nil {
		t.Fatal(err)
	}
	s.RevokeTokens()
	if _, err := e.c.Events(context.Background(), EventsRequest{Tenant: tn}); err != nil {
		t.Fatalf("Events after revocation: %v", err)
	}
	if n := e.stat("tokens_issued"); n != 2 {
		t.Errorf("tokens_issued = %d, want 2", n)
	}
	if w := e.sleep.Waits(); len(w) != 0 {
		t.Errorf("a renewal should not wait: %v", w)
	}
	e.noLeak(t, "logs", e.logs.String())
}

func TestTokenRefusedTwiceIsAnAPIError(t *testing.T) {
	s, srv := startSim(t, smallConfig())
	e := newEnv(t, s, srv, IDTypePartner, nil)
	if _, err := e.c.Whoami(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.SetFaults(sim.Faults{RevokeRate: 1}); err != nil {
		t.Fatal(err)
	}
	tn := e.tenant(t, 0)
	_, err := e.c.Events(context.Background(), EventsRequest{Tenant: tn})
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized || ae.TenantID != tn.ID {
		t.Fatalf("err = %v, want *APIError 401 for tenant %s", err, tn.ID)
	}
	if n := e.stat("tokens_issued"); n != 2 {
		t.Errorf("tokens_issued = %d, want 2 (one renewal)", n)
	}
	e.noLeak(t, "error", err.Error())
	e.noLeak(t, "logs", e.logs.String())
}

func TestTokenRenewedAfterExpiry(t *testing.T) {
	s, srv := startSim(t, smallConfig())
	e := newEnv(t, s, srv, IDTypeTenant, nil)
	w, err := e.c.Whoami(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s.Advance(61 * time.Minute) // the simulator's token expires; the client does not know
	if _, err := e.c.Whoami(context.Background()); err != nil {
		t.Fatalf("Whoami after expiry: %v", err)
	}
	if _, err := e.c.Events(context.Background(), EventsRequest{Tenant: Tenant{ID: w.ID, APIHost: w.DataRegionURL}}); err != nil {
		t.Fatalf("Events after expiry: %v", err)
	}
	if n := e.stat("tokens_issued"); n != 2 {
		t.Errorf("tokens_issued = %d, want 2", n)
	}
}

func TestTokenRenewedBeforeExpiry(t *testing.T) {
	for _, tc := range []struct {
		lifetime     time.Duration
		keep, renew  time.Duration
		wantMarginAt string
	}{
		{time.Hour, 57 * time.Minute, 58*time.Minute + time.Second, "2m before"},
		{3 * time.Minute, 89 * time.Second, 91 * time.Second, "half the lifetime"},
	} {
		t.Run(tc.wantMarginAt, func(t *testing.T) {
			cfg := smallConfig()
			cfg.TokenLifetime = tc.lifetime
			s, srv := startSim(t, cfg)
			e := newEnv(t, s, srv, IDTypePartner, nil)
			var mu sync.Mutex
			now := time.Now()
			e.c.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
			advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
			if _, err := e.c.Whoami(context.Background()); err != nil {
				t.Fatal(err)
			}
			advance(tc.keep)
			if _, err := e.c.Whoami(context.Background()); err != nil {
				t.Fatal(err)
			}
			if n := e.stat("tokens_issued"); n != 1 {
				t.Errorf("after %s: tokens_issued = %d, want 1", tc.keep, n)
			}
			advance(tc.renew - tc.keep)
			if _, err := e.c.Whoami(context.Background()); err != nil {
				t.Fatal(err)
			}
			waitRenewal(e.c) // the renewal runs beside the call
			if n := e.stat("tokens_issued"); n != 2 {
				t.Errorf("after %s: tokens_issued = %d, want 2", tc.renew, n)
			}
			if n := e.stat("unauthorized"); n != 0 {
				t.Errorf("renewal was not proactive: %d 401s", n)
			}
		})
	}
}

func TestRateLimitedRetryAfterHonoured(t *testing.T) {
	s, srv := startSim(t, smallConfig())
	if err := s.SetLimits(sim.RateLimits{PerSecond: 1}); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, s, srv, IDTypePartner, func(o *Options) { o.NoLimits = true })
	e.sleep.then = s.Advance // waiting moves the simulator's clock
	for i := range 3 {
		if _, err := e.c.Whoami(context.Background()); err != nil {
			t.Fatalf("Whoami %d: %v", i, err)
		}
	}
	if n := e.stat("rate_limited"); n < 1 {
		t.Fatalf("the simulator never answered 429")
	}
	waits := e.sleep.Waits()
	if len(waits) == 0 {
		t.Fatal("no wait recorded")
	}
	for _, w := range waits {
		if w < time.Second {
			t.Errorf("waited %s, less than Retry-After 1s", w)
		}
	}
}

func TestRateLimitedRetryAfterTooLong(t *testing.T) {
	s, srv := startSim(t, smallConfig())
	if err := s.SetLimits(sim.RateLimits{PerMinute: 1, MinuteBurst: 1}); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, s, srv, IDTypePartner, func(o *Options) { o.NoLimits = true; o.MaxRetryAfter = 10 * time.Second })
	if _, err := e.c.Whoami(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err := e.c.Whoami(context.Background())
	var rl *RateLimitedError
	if !errors.As(err, &rl) {
		t.Fatalf("err = %v, want *RateLimitedError", err)
	}
	if rl.RetryAfter < 50*time.Second || rl.Status != http.StatusTooManyRequests {
		t.Errorf("RateLimitedError = %+v", rl)
	}
	var ae *APIError
	if !errors.As(err, &ae) || ae.Op != "whoami" {
		t.Errorf("errors.As APIError = %+v", ae)
	}
	if w := e.sleep.Waits(); len(w) != 0 {
		t.Errorf("waited %v for a Retry-After beyond MaxRetryAfter", w)
	}
}

func TestRateLimitedAttemptsExhausted(t *testing.T) {
	s, srv := startSim(t, smallConfig())
	if err := s.SetLimits(sim.RateLimits{PerMinute: 1, MinuteBurst: 1}); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, s, srv, IDTypePartner, func(o *Options) { o.NoLimits = true; o.MaxAttempts = 3 })
	if _, err := e.c.Whoami(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err := e.c.Whoami(context.Background())
	var rl *RateLimitedError
	if !errors.As(err, &rl) || !strings.Contains(err.Error(), "after 3 attempts") {
		t.Fatalf("err = %v, want *RateLimitedError after 3 attempts", err)
	}
	if w := e.sleep.Waits(); len(w) != 2 || w[0] < 50*time.Second {
		t.Errorf("waits = %v, want 2 of about a minute", w)
	}
}

func TestServerErrorsRetriedWithBackoff(t *testing.T) {
	s, srv := startSim(t, smallConfig())
	e := newEnv(t, s, srv, IDTypePartner, func(o *Options) { o.MaxAttempts = 5 })
	if _, err := e.c.Whoami(context.Background()); err != nil { // the token, before the faults
		t.Fatal(err)
	}
	if err := s.SetFaults(sim.Faults{ErrorRate: 1}); err != nil {
		t.Fatal(err)
	}
	tn := e.tenant(t, 0)
	before := e.requests("siem_events")
	_, err := e.c.Events(context.Background(), EventsRequest{Tenant: tn})
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status < 500 || ae.TenantID != tn.ID {
		t.Fatalf("err = %v, want a 5xx *APIError for tenant %s", err, tn.ID)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("HTTP %d", ae.Status)) || !strings.Contains(err.Error(), "after 5 attempts") {
		t.Errorf("error does not name the status and attempts: %v", err)
	}
	if n := e.requests("siem_events") - before; n != 5 {
		t.Errorf("%d requests, want 5", n)
	}
	waits := e.sleep.Waits()
	if len(waits) != 4 {
		t.Fatalf("waits = %v, want 4", waits)
	}
	for i, w := range waits {
		if cp := backoff.Ceiling(i, 10*time.Millisecond, 80*time.Millisecond); w < 0 || w > cp {
			t.Errorf("wait %d = %s, outside [0, %s]", i, w, cp)
		}
	}
	if !strings.Contains(e.logs.String(), `"attempt":4`) {
		t.Errorf("retries not logged: %s", e.logs.String())
	}

	// Half the answers failing: calls get through.
	if err := s.SetFaults(sim.Faults{ErrorRate: 0.5}); err != nil {
		t.Fatal(err)
	}
	e.c.maxAttempts = 12
	got := allEvents(t, e.c, EventsRequest{Tenant: tn, Limit: 25})
	truth, _ := s.Events(tn.ID)
	if len(got) != len(truth) {
		t.Errorf("got %d events, want %d", len(got), len(truth))
	}
	if e.stat("errors_5xx") < 6 {
		t.Errorf("few 5xx injected: %d", e.stat("errors_5xx"))
	}
}

func TestHangRetriedThenTimeout(t *testing.T) {
	s, srv := startSim(t, smallConfig())
	e := newEnv(t, s, srv, IDTypePartner, func(o *Options) { o.Timeout = 200 * time.Millisecond; o.MaxAttempts = 3 })
	if _, err := e.c.Whoami(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.SetFaults(sim.Faults{HangRate: 1}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := e.c.Events(context.Background(), EventsRequest{Tenant: e.tenant(t, 0)})
	if err == nil || !strings.Contains(err.Error(), "timeout") {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if d := time.Since(start); d < 600*time.Millisecond || d > 3*time.Second {
		t.Errorf("took %s, want about 3 × 200ms", d)
	}
	if n := e.stat("hangs"); n != 3 {
		t.Errorf("hangs = %d, want 3 attempts", n)
	}
	if len(e.sleep.Waits()) != 2 {
		t.Errorf("waits = %v, want 2 backoffs", e.sleep.Waits())
	}
}

func TestMalformedJSONRetried(t *testing.T) {
	s, srv := startSim(t, smallConfig())
	e := newEnv(t, s, srv, IDTypePartner, func(o *Options) { o.MaxAttempts = 3 })
	if _, err := e.c.Whoami(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.SetFaults(sim.Faults{MalformedRate: 1}); err != nil {
		t.Fatal(err)
	}
	tn := e.tenant(t, 2)
	_, err := e.c.Events(context.Background(), EventsRequest{Tenant: tn})
	if err == nil || !strings.Contains(err.Error(), "malformed JSON") || !strings.Contains(err.Error(), tn.ID) {
		t.Fatalf("err = %v, want malformed JSON for tenant %s", err, tn.ID)
	}
	if n := e.stat("malformed"); n != 3 {
		t.Errorf("malformed answers = %d, want 3", n)
	}
	if err := s.SetFaults(sim.Faults{MalformedRate: 0.5}); err != nil {
		t.Fatal(err)
	}
	e.c.maxAttempts = 12
	got := allEvents(t, e.c, EventsRequest{Tenant: tn, Limit: 30})
	truth, _ := s.Events(tn.ID)
	if len(got) != len(truth) {
		t.Errorf("got %d events, want %d", len(got), len(truth))
	}
}

func TestForbiddenTenantNotRetried(t *testing.T) {
	s, srv := startSim(t, smallConfig())
	e := newEnv(t, s, srv, IDTypePartner, nil)
	tn := e.tenant(t, 1)
	if err := s.SetFaults(sim.Faults{ForbiddenTenants: []string{tn.ID}}); err != nil {
		t.Fatal(err)
	}
	_, err := e.c.Events(context.Background(), EventsRequest{Tenant: tn})
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusForbidden || ae.TenantID != tn.ID || ae.Op != "events" {
		t.Fatalf("err = %v, want *APIError 403 for tenant %s", err, tn.ID)
	}
	if !strings.Contains(err.Error(), tn.ID) {
		t.Errorf("error does not name the tenant: %v", err)
	}
	if n := e.requests("siem_events"); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
	if w := e.sleep.Waits(); len(w) != 0 {
		t.Errorf("waits = %v", w)
	}
	// The other tenants are not affected.
	if _, err := e.c.Events(context.Background(), EventsRequest{Tenant: e.tenant(t, 0)}); err != nil {
		t.Errorf("another tenant: %v", err)
	}
}

func TestBadRequestNotRetried(t *testing.T) {
	s, srv := startSim(t, smallConfig())
	e := newEnv(t, s, srv, IDTypePartner, nil)
	tn := e.tenant(t, 0)
	_, err := e.c.Events(context.Background(), EventsRequest{Tenant: tn, FromDate: time.Now().Add(-48 * time.Hour)})
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || !strings.Contains(ae.Message, "24 hours") {
		t.Fatalf("err = %v, want *APIError 400 about 24 hours", err)
	}
	if n := e.requests("siem_events"); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestSecretsNeverInErrorsOrLogs(t *testing.T) {
	s, srv := startSim(t, smallConfig())
	e := newEnv(t, s, srv, IDTypePartner, func(o *Options) { o.MaxAttempts = 2 })
	ctx := context.Background()
	tn := e.tenant(t, 0)
	var errs []error
	run := func(f sim.Faults) {
		if err := s.SetFaults(f); err != nil {
			t.Fatal(err)
		}
		_, err := e.c.Events(ctx, EventsRequest{Tenant: tn})
		errs = append(errs, err)
		_, err = e.c.Whoami(ctx)
		errs = append(errs, err)
	}
	run(sim.Faults{})
	s.RevokeTokens()
	run(sim.Faults{})
	run(sim.Faults{ErrorRate: 1})
	run(sim.Faults{RevokeRate: 1})
	run(sim.Faults{MalformedRate: 1})
	run(sim.Faults{ForbiddenTenants: []string{tn.ID}})
	if len(e.bearer.Tokens()) < 3 {
		t.Fatalf("only %d tokens seen", len(e.bearer.Tokens()))
	}
	for _, err := range errs {
		if err != nil {
			e.noLeak(t, "error", err.Error())
			e.noLeak(t, "error %+v", fmt.Sprintf("%+v %#v", err, err))
		}
	}
	e.noLeak(t, "logs", e.logs.String())
	e.noLeak(t, "client", fmt.Sprintf("%v %+v %#v %s", e.c, e.c, e.c, e.c))
	if !strings.Contains(e.logs.String(), "retrying") {
		t.Errorf("nothing logged: %s", e.logs.String())
	}
}

func TestContextCancelledDuringBackoff(t *testing.T) {
	s, srv := startSim(t, smallConfig())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := newEnv(t, s, srv, IDTypePartner, func(o *Options) { o.MaxAttempts = 10 })
	if _, err := e.c.Whoami(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.SetFaults(sim.Faults{ErrorRate: 1}); err != nil {
		t.Fatal(err)
	}
	e.sleep.then = func(time.Duration) { cancel() }
	_, err := e.c.Events(ctx, EventsRequest{Tenant: e.tenant(t, 0)})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if n := e.requests("siem_events"); n > 2 {
		t.Errorf("%d requests after cancel", n)
	}
}

func TestTLSWithCustomCA(t *testing.T) {
	certs, err := sim.NewCerts(nil, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	s := sim.New(smallConfig())
	srv, err := sim.Start(s, sim.ListenOptions{TLS: certs.ServerTLSConfig()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	cred, _ := s.Credential(IDTypeTenant)
	creds := Credentials{ClientID: cred.ClientID, ClientSecret: secret.Secret(cred.ClientSecret)}
	rec := &sleeper{}
	o := Options{AuthURL: s.TokenURL(), APIURL: srv.GlobalURL, Sleep: rec.Sleep, RootCAs: certs.ClientPool()}
	c, err := New(creds, o)
	if err != nil {
		t.Fatal(err)
	}
	w, err := c.Whoami(context.Background())
	if err != nil {
		t.Fatalf("Whoami over TLS with the CA: %v", err)
	}
	if !strings.HasPrefix(w.DataRegionURL, "https://") {
		t.Errorf("DataRegionURL = %q", w.DataRegionURL)
	}
	if _, err := c.Events(context.Background(), EventsRequest{Tenant: Tenant{ID: w.ID, APIHost: w.DataRegionURL}, Limit: 5}); err != nil {
		t.Fatalf("Events over TLS: %v", err)
	}
	o.RootCAs = nil
	c, err = New(creds, o)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Whoami(context.Background())
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("err = %v, want a certificate error", err)
	}
	if w := rec.Waits(); len(w) != 0 {
		t.Errorf("an untrusted certificate was retried: %v", w)
	}
}
