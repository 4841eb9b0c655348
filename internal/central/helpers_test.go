package central

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/fake/sim"
	"github.com/puawatch/puawatch/internal/secret"
)

// startSim serves a simulator made of cfg on loopback listeners until the
// test ends.
func startSim(t *testing.T, cfg sim.Config) (*sim.Simulator, *sim.Server) {
	t.Helper()
	s := sim.New(cfg)
	srv, err := sim.Start(s, sim.ListenOptions{})
	if err != nil {
		t.Fatalf("start simulator: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return s, srv
}

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// sleeper records the waits a client asks for and returns at once (after
// running then, if set, e.g. to advance the simulator's clock).
type sleeper struct {
	mu    sync.Mutex
	waits []time.Duration
	then  func(time.Duration)
}

func (s *sleeper) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	if s.then != nil {
		s.then(d)
	}
	return nil
}

func (s *sleeper) Waits() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

// bearerRecorder is a transport that remembers every bearer token sent,
// so tests can check none of them leaks.
type bearerRecorder struct {
	base   http.RoundTripper
	mu     sync.Mutex
	tokens map[string]bool
}

func (b *bearerRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		b.mu.Lock()
		b.tokens[tok] = true
		b.mu.Unlock()
	}
	return b.base.RoundTrip(r)
}

func (b *bearerRecorder) Tokens() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for t := range b.tokens {
		out = append(out, t)
	}
	return out
}

// env is a client against a simulator, with its logs and the tokens it
// sent.
type env struct {
	sim    *sim.Simulator
	srv    *sim.Server
	c      *Client
	cred   sim.Credential
	logs   *syncBuffer
	bearer *bearerRecorder
	sleep  *sleeper
}

// newEnv makes a client for the simulator's idType credential. Waits are
// recorded, not slept; opts may change the options.
func newEnv(t *testing.T, s *sim.Simulator, srv *sim.Server, idType string, opts func(*Options)) *env {
	t.Helper()
	cred, ok := s.Credential(idType)
	if !ok {
		t.Fatalf("no %s credential", idType)
	}
	e := &env{sim: s, srv: srv, cred: cred, logs: &syncBuffer{}, sleep: &sleeper{}}
	e.bearer = &bearerRecorder{base: http.DefaultTransport.(*http.Transport).Clone(), tokens: map[string]bool{}}
	o := Options{
		AuthURL:     s.TokenURL(),
		APIURL:      srv.GlobalURL,
		HTTPClient:  &http.Client{Transport: e.bearer},
		Timeout:     5 * time.Second,
		BackoffBase: 10 * time.Millisecond,
		BackoffMax:  80 * time.Millisecond,
		Sleep:       e.sleep.Sleep,
		Logger:      slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if opts != nil {
		opts(&o)
	}
	c, err := New(Credentials{ClientID: cred.ClientID, ClientSecret: secret.Secret(cred.ClientSecret)}, o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.c = c
	return e
}

// noLeak fails the test when text holds the client secret or a bearer
// token the client sent.
func (e *env) noLeak(t *testing.T, what, text string) {
	t.Helper()
	if e.cred.ClientSecret != "" && strings.Contains(text, e.cred.ClientSecret) {
		t.Errorf("%s leaks the client secret: %s", what, text)
	}
	for _, tok := range e.bearer.Tokens() {
		if strings.Contains(text, tok) {
			t.Errorf("%s leaks a bearer token: %s", what, text)
		}
	}
}

func (e *env) stat(name string) int64 { return e.sim.Counters().Stats[name] }

func (e *env) requests(route string) int64 { return e.sim.Counters().Requests[route] }

// tenant returns the simulator's i-th tenant as a central.Tenant.
func (e *env) tenant(t *testing.T, i int) Tenant {
	t.Helper()
	ts := e.sim.Tenants()
	if i >= len(ts) {
		t.Fatalf("no tenant %d", i)
	}
	return Tenant{ID: ts[i].ID, Name: ts[i].Name, APIHost: ts[i].APIHost}
}

// allEvents pages through a tenant's events to the end.
func allEvents(t *testing.T, c *Client, req EventsRequest) []Event {
	t.Helper()
	var out []Event
	for i := 0; ; i++ {
		if i > 1000 {
			t.Fatal("paging does not end")
		}
		p, err := c.Events(context.Background(), req)
		if err != nil {
			t.Fatalf("Events page %d: %v", i, err)
		}
		out = append(out, p.Items...)
		if !p.HasMore {
			return out
		}
		if p.NextCursor == "" {
			t.Fatal("has_more without next_cursor")
		}
		req.Cursor = p.NextCursor
	}
}

// rtFunc is a transport made of a function.
type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// jsonResponse is an answer of a fake transport.
func jsonResponse(r *http.Request, status int, body string, hdr ...string) *http.Response {
	h := http.Header{"Content-Type": {"application/json"}}
	for i := 0; i+1 < len(hdr); i += 2 {
		h.Set(hdr[i], hdr[i+1])
	}
	return &http.Response{StatusCode: status, Status: http.StatusText(status), Header: h,
		Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: r}
}

// testLogger logs everything, as JSON, to w.
func testLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
