package central

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/fake/sim"
)

// tokenCounter is a transport that counts the token requests in flight
// and the most there ever were at once.
type tokenCounter struct {
	base              http.RoundTripper
	inFlight, maxSeen atomic.Int32
	started           atomic.Int32
}

func (c *tokenCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	if !strings.HasSuffix(r.URL.Path, "/oauth2/token") {
		return c.base.RoundTrip(r)
	}
	c.started.Add(1)
	n := c.inFlight.Add(1)
	defer c.inFlight.Add(-1)
	for {
		m := c.maxSeen.Load()
		if n <= m || c.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	return c.base.RoundTrip(r)
}

// tokenHangEnv is a client on a manual clock against a simulator whose
// token endpoint is made to hang, with its token requests counted.
type tokenHangEnv struct {
	*env
	tc      *tokenCounter
	mu      sync.Mutex
	now     time.Time
	timeout time.Duration
}

func newTokenHangEnv(t *testing.T, tokenTimeout time.Duration) *tokenHangEnv {
	t.Helper()
	cfg := smallConfig()
	cfg.TokenLifetime = time.Hour
	s, srv := startSim(t, cfg)
	h := &tokenHangEnv{now: time.Now(), timeout: tokenTimeout}
	h.env = newEnv(t, s, srv, IDTypePartner, func(o *Options) {
		h.tc = &tokenCounter{base: o.HTTPClient.Transport}
		o.HTTPClient = &http.Client{Transport: h.tc}
		o.Timeout = time.Hour // an API call's own timeout never ends a hang here
		o.TokenTimeout = tokenTimeout
		o.MaxAttempts = 2
		o.NoLimits = true
		o.Now = h.clock
	})
	return h
}

func (h *tokenHangEnv) clock() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.now
}

func (h *tokenHangEnv) advance(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.now = h.now.Add(d)
}

// While a token is valid but due for renewal and the token endpoint
// hangs, callers keep reading pages with the token they have; one
// renewal is in flight at a time.
func TestTokenRenewalHangDoesNotBlockCallers(t *testing.T) {
	h := newTokenHangEnv(t, time.Hour) // the renewal hangs for the whole test
	tn := h.tenant(t, 0)
	if _, err := h.c.Events(context.Background(), EventsRequest{Tenant: tn}); err != nil {
		t.Fatal(err)
	}
	if err := h.sim.SetFaults(sim.Faults{TokenHang: true}); err != nil {
		t.Fatal(err)
	}
	h.advance(59 * time.Minute) // inside the 2-minute renewal margin, still valid
	pagesBefore := h.stat("pages_served")
	var wg sync.WaitGroup
	errs := make(chan error, 30)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				// A watchdog only: a caller that waits for the hanging
				// renewal fails the test instead of hanging it.
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				_, err := h.c.Events(ctx, EventsRequest{Tenant: tn})
				cancel()
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if err != nil {
			failed++
			if failed == 1 {
				t.Errorf("a page could not be read with the still valid token while the renewal hangs: %v", err)
			}
		}
	}
	if got := h.stat("pages_served") - pagesBefore; got != 30 {
		t.Errorf("%d pages served while the renewal hung, want 30", got)
	}
	if n := h.stat("token_hangs"); n != 1 {
		t.Errorf("%d token requests hung, want 1: one renewal in flight at a time", n)
	}
	if m := h.tc.maxSeen.Load(); m != 1 {
		t.Errorf("%d token requests in flight at once, want 1", m)
	}
}

// With no valid token and a hanging token endpoint, callers wait for one
// shared fetch, and no longer than the token deadline: the error names
// the token request and its timeout.
func TestTokenFetchHangEndsAtTokenDeadline(t *testing.T) {
	h := newTokenHangEnv(t, 100*time.Millisecond)
	tn := h.tenant(t, 0)
	if err := h.sim.SetFaults(sim.Faults{TokenHang: true}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 5)
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second) // a watchdog
			defer cancel()
			_, err := h.c.Events(ctx, EventsRequest{Tenant: tn})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err == nil || !strings.Contains(err.Error(), "token") || !strings.Contains(err.Error(), "timeout") ||
			strings.Contains(err.Error(), "context deadline exceeded (last") {
			t.Errorf("err = %v, want the token request's own timeout (%s)", err, h.timeout)
		}
	}
	if m := h.tc.maxSeen.Load(); m != 1 {
		t.Errorf("%d token requests in flight at once, want 1 (callers share one fetch)", m)
	}
	// A caller whose own context ends first is not held by the fetch.
	if err := h.sim.SetFaults(sim.Faults{TokenHang: true}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.c.Events(ctx, EventsRequest{Tenant: tn}); err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Errorf("err = %v, want the caller's context canceled", err)
	}
}

// waitRenewal waits for the token fetch in flight, if any.
func waitRenewal(c *Client) {
	c.tc.mu.Lock()
	f := c.tc.fetch
	c.tc.mu.Unlock()
	if f != nil {
		<-f.done
	}
}
