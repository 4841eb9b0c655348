package poll_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/central"
	"github.com/puawatch/puawatch/internal/fake/sim"
	"github.com/puawatch/puawatch/internal/match"
	"github.com/puawatch/puawatch/internal/poll"
	"github.com/puawatch/puawatch/internal/secret"
	"github.com/puawatch/puawatch/internal/store/storetest"
)

// TestAutoWorkers: the automatic worker count is one per tenant, at
// least one, at most MaxAutoWorkers.
func TestAutoWorkers(t *testing.T) {
	for _, tc := range []struct{ tenants, want int }{
		{0, 1}, {1, 1}, {7, 7}, {poll.MaxAutoWorkers, poll.MaxAutoWorkers},
		{poll.MaxAutoWorkers + 1, poll.MaxAutoWorkers}, {200, poll.MaxAutoWorkers}, {1000, poll.MaxAutoWorkers},
	} {
		if got := poll.AutoWorkers(tc.tenants); got != tc.want {
			t.Errorf("AutoWorkers(%d) = %d, want %d", tc.tenants, got, tc.want)
		}
	}
}

// inFlight counts the Events calls under way and the most at once.
type inFlight struct {
	poll.Source
	mu       sync.Mutex
	now, max int
}

func (s *inFlight) Events(ctx context.Context, req central.EventsRequest) (central.Page, error) {
	s.mu.Lock()
	s.now++
	s.max = max(s.max, s.now)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.now--
		s.mu.Unlock()
	}()
	return s.Source.Events(ctx, req)
}

// TestAutoWorkersWithinRateLimits sweeps 200 tenants of the simulator,
// which answers Sophos's documented limits with 429 and adds 20 ms to
// every request, with the automatic worker count and the client's
// default limiters, on the real clock: a first sweep (a page each) and an
// idle one. Every tenant is read both times, the simulator answered no
// call with 429, and no more than AutoWorkers(200) reads ran at once.
func TestAutoWorkersWithinRateLimits(t *testing.T) {
	const tenants = 200
	cfg := sim.DefaultConfig()
	cfg.Tenants = tenants
	cfg.EventsPerTenant = 20
	cfg.Limits = sim.SophosLimits()
	cfg.Faults = sim.Faults{Latency: sim.Duration(20 * time.Millisecond)}
	s := sim.New(cfg)
	srv, err := sim.Start(s, sim.ListenOptions{})
	if err != nil {
		t.Fatalf("start simulator: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	cred, ok := s.Credential("partner")
	if !ok {
		t.Fatal("simulator has no partner credential")
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	c, err := central.New(central.Credentials{ClientID: cred.ClientID, ClientSecret: secret.Secret(cred.ClientSecret)},
		central.Options{AuthURL: s.TokenURL(), APIURL: srv.GlobalURL, HTTPClient: &http.Client{Transport: tr}, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("central.New: %v", err)
	}
	m, err := match.New(match.Config{})
	if err != nil {
		t.Fatal(err)
	}
	src := &inFlight{Source: c}
	p, err := poll.New(poll.Options{Source: src, Store: openStore(t), Matcher: m, Route: storetest.ToChannels(channels)})
	if err != nil {
		t.Fatal(err)
	}
	for _, sweep := range []string{"first", "idle"} {
		rep, err := p.Sweep(context.Background())
		if err != nil {
			t.Fatalf("%s sweep: %v", sweep, err)
		}
		if len(rep.Tenants) != tenants {
			t.Fatalf("%s sweep read %d tenants, want %d", sweep, len(rep.Tenants), tenants)
		}
		for _, r := range rep.Tenants {
			if r.Err != nil {
				t.Errorf("%s sweep: tenant %s: %v", sweep, r.TenantName, r.Err)
			}
		}
	}
	if n := s.Counters().Stats["rate_limited"]; n != 0 {
		t.Errorf("the simulator answered %d calls with 429, want none", n)
	}
	if src.max > poll.AutoWorkers(tenants) {
		t.Errorf("%d reads at once, want at most %d", src.max, poll.AutoWorkers(tenants))
	}
	t.Logf("at most %d reads at once", src.max)
}
