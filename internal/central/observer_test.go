package central

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/fake/sim"
)

// recorder is an Observer that writes down what it is told.
type recorder struct {
	mu       sync.Mutex
	requests map[string]int // "endpoint status" -> count
	retries  map[string]int
	tokens   map[bool]int
}

func newRecorder() *recorder {
	return &recorder{requests: map[string]int{}, retries: map[string]int{}, tokens: map[bool]int{}}
}

func (r *recorder) observer() Observer {
	return Observer{
		Request: func(endpoint string, status int, d time.Duration) {
			r.mu.Lock()
			defer r.mu.Unlock()
			if d < 0 {
				panic("negative duration")
			}
			r.requests[fmt.Sprintf("%s %d", endpoint, status)]++
		},
		Retry: func(endpoint string) { r.mu.Lock(); r.retries[endpoint]++; r.mu.Unlock() },
		Token: func(ok bool) { r.mu.Lock(); r.tokens[ok]++; r.mu.Unlock() },
	}
}

func (r *recorder) get(m map[string]int, k string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return m[k]
}

// The Observer is told of every HTTP request by endpoint and status (the
// token request included), of each retry after a 429, and of each token
// fetch; a 403 is a request, not a retry.
func TestObserverToldOfRequestsRetriesAndTokens(t *testing.T) {
	s, srv := startSim(t, smallConfig())
	rec := newRecorder()
	e := newEnv(t, s, srv, IDTypePartner, func(o *Options) { o.NoLimits = true; o.Observer = rec.observer() })
	e.sleep.then = s.Advance
	ctx := context.Background()
	who, err := e.c.Whoami(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.Tenants(ctx, who); err != nil {
		t.Fatal(err)
	}
	forbidden := e.tenant(t, 1)
	if err := s.SetFaults(sim.Faults{ForbiddenTenants: []string{forbidden.ID}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.Events(ctx, EventsRequest{Tenant: forbidden}); err == nil {
		t.Fatal("events of a forbidden tenant: no error")
	}
	// Rate limited: the second whoami of the second is answered 429,
	// retried after Retry-After.
	if err := s.SetLimits(sim.RateLimits{PerSecond: 1}); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := e.c.Whoami(ctx); err != nil {
			t.Fatalf("whoami %d: %v", i, err)
		}
	}
	limited := int(e.stat("rate_limited"))
	if limited < 1 {
		t.Fatal("the simulator never answered 429")
	}
	for k, want := range map[string]int{"token 200": 1, "whoami 200": 3, "tenants 200": 1, "events 403": 1, "whoami 429": limited} {
		if got := rec.get(rec.requests, k); got != want {
			t.Errorf("requests %q = %d, want %d (all: %v)", k, got, want, rec.requests)
		}
	}
	if got := rec.get(rec.retries, "whoami"); got != limited {
		t.Errorf("whoami retries = %d, want %d (one per 429)", got, limited)
	}
	if got := rec.get(rec.retries, "events"); got != 0 {
		t.Errorf("events retries = %d, want 0: a 403 is not retried", got)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.tokens[true] != 1 || rec.tokens[false] != 0 {
		t.Errorf("token fetches = %v, want one that worked", rec.tokens)
	}
}

// A refused credential is a token request with the refusal's status and
// a failed token fetch.
func TestObserverToldOfRefusedToken(t *testing.T) {
	s, srv := startSim(t, smallConfig())
	rec := newRecorder()
	e := newEnv(t, s, srv, IDTypePartner, func(o *Options) { o.Observer = rec.observer() })
	bad, err := New(Credentials{ClientID: e.cred.ClientID, ClientSecret: "wrong"}, Options{AuthURL: s.TokenURL(), APIURL: srv.GlobalURL, Observer: rec.observer()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.Whoami(context.Background()); err == nil {
		t.Fatal("whoami with a wrong secret: no error")
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.tokens[false] != 1 || rec.tokens[true] != 0 {
		t.Errorf("token fetches = %v, want one failed", rec.tokens)
	}
	n := 0
	for k, v := range rec.requests {
		var status int
		if _, err := fmt.Sscanf(k, "token %d", &status); err == nil && status >= 400 && status < 500 {
			n += v
		} else {
			t.Errorf("request %q told, want only the refused token request", k)
		}
	}
	if n != 1 {
		t.Errorf("refused token requests = %d, want 1 (all: %v)", n, rec.requests)
	}
}
