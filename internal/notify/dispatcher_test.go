package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/store"
)

var t0 = time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)

// Clock is a settable clock for the tests.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) { c.Set(c.Now().Add(d)) }

// fakeNotifier records messages; fn, when set, decides each call's result.
type fakeNotifier struct {
	mu   sync.Mutex
	msgs []Message
	fn   func(ctx context.Context, call int, m Message) error
}

func (f *fakeNotifier) Notify(ctx context.Context, m Message) error {
	f.mu.Lock()
	f.msgs = append(f.msgs, m)
	call, fn := len(f.msgs), f.fn
	f.mu.Unlock()
	if fn != nil {
		return fn(ctx, call, m)
	}
	return nil
}

func (f *fakeNotifier) messages() []Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Message(nil), f.msgs...)
}

// SampleDetection returns a detection of tenant created at t0+created.
func SampleDetection(id, tenant string, created time.Duration) store.Detection {
	return store.Detection{
		EventID: id, TenantID: tenant, TenantName: "Tenant " + tenant, Kind: store.KindDetection,
		Type: "Event::Endpoint::CorePuaDetection", Threat: "PsExec", Location: "WS-" + id,
		When: t0.Add(created - time.Second), CreatedAt: t0.Add(created), SeenAt: t0,
	}
}

type env struct {
	st    *MemStore
	clock *Clock
	logs  *bytes.Buffer
}

func newEnv() *env {
	return &env{st: NewMemStore(), clock: NewClock(t0.Add(time.Minute)), logs: &bytes.Buffer{}}
}

func (e *env) dispatcher(t *testing.T, channels map[string]Notifier, edit ...func(*Options)) *Dispatcher {
	t.Helper()
	o := Options{
		Store: e.st, Channels: channels, Owner: "test", Now: e.clock.Now,
		Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Rand:   mrand.New(mrand.NewPCG(1, 2)),
	}
	for _, f := range edit {
		f(&o)
	}
	d, err := NewDispatcher(o)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func drain(t *testing.T, d *Dispatcher, want Result) {
	t.Helper()
	got, err := d.Drain(context.Background())
	if err != nil {
		t.Fatalf("Drain: %v", err)
	}
	if got != want {
		t.Fatalf("Drain = %+v, want %+v", got, want)
	}
}

func TestPerDetection(t *testing.T) {
	e := newEnv()
	e.st.Add(SampleDetection("ev-1", "A", 3*time.Second), "email")
	e.st.Add(SampleDetection("ev-2", "B", 1*time.Second), "email")
	e.st.Add(SampleDetection("ev-3", "A", 2*time.Second), "email")
	n := &fakeNotifier{}
	d := e.dispatcher(t, map[string]Notifier{"email": n})
	drain(t, d, Result{Sent: 3})
	drain(t, d, Result{})

	msgs := n.messages()
	if len(msgs) != 3 {
		t.Fatalf("%d messages, want 3", len(msgs))
	}
	keys := map[string]bool{}
	for _, m := range msgs {
		if len(m.Detections) != 1 || m.Digest || m.Channel != "email" {
			t.Errorf("message %+v", m)
		}
		dt := m.Detections[0]
		if m.Key != dt.EventID+".email" || m.TenantID != dt.TenantID || m.TenantName != "Tenant "+dt.TenantID {
			t.Errorf("message %q for %s/%s", m.Key, dt.TenantID, dt.EventID)
		}
		keys[m.Key] = true
	}
	if len(keys) != 3 {
		t.Errorf("keys %v", keys)
	}
	for _, r := range e.st.Rows() {
		if r.State != store.StateSent || !r.SentAt.Equal(e.clock.Now()) || r.Attempts != 0 {
			t.Errorf("row %d: %s sent %v attempts %d", r.ID, r.State, r.SentAt, r.Attempts)
		}
	}
	if !strings.Contains(e.logs.String(), "event_id=ev-1") || !strings.Contains(e.logs.String(), "channel=email") {
		t.Errorf("logs lack the keys:\n%s", e.logs)
	}
}

func TestDigestGroupsPerTenantWithCap(t *testing.T) {
	e := newEnv()
	// Tenant A: 5 rows added out of created order; tenant B: 2.
	route := func(d store.Detection) []store.Delivery {
		return []store.Delivery{{Channel: "digest", GroupKey: "tenant=" + d.TenantID, MaxPerMessage: 2}, {Channel: "each"}}
	}
	for i, c := range []int{5, 1, 4, 2, 3} {
		e.st.AddDeliveries(SampleDetection(fmt.Sprintf("a%d", i), "A", time.Duration(c)*time.Second), route)
	}
	e.st.AddDeliveries(SampleDetection("b0", "B", 2*time.Second), route)
	e.st.AddDeliveries(SampleDetection("b1", "B", 1*time.Second), route)
	dig, each := &fakeNotifier{}, &fakeNotifier{}
	d := e.dispatcher(t, map[string]Notifier{"digest": dig, "each": each})
	drain(t, d, Result{Sent: 14})

	if n := len(each.messages()); n != 7 {
		t.Errorf("per-detection channel: %d messages, want 7", n)
	}
	msgs := dig.messages()
	sizes := map[string][]int{}
	for _, m := range msgs {
		if !m.Digest || m.Channel != "digest" || m.Key == "" {
			t.Errorf("message %+v", m)
		}
		sizes[m.TenantID] = append(sizes[m.TenantID], len(m.Detections))
		for i, dt := range m.Detections {
			if dt.TenantID != m.TenantID {
				t.Errorf("message of %s holds a detection of %s", m.TenantID, dt.TenantID)
			}
			if i > 0 && dt.CreatedAt.Before(m.Detections[i-1].CreatedAt) {
				t.Errorf("message %s out of created order", m.Key)
			}
		}
	}
	if fmt.Sprint(sizes["A"]) != "[2 2 1]" || fmt.Sprint(sizes["B"]) != "[2]" {
		t.Errorf("digest sizes %v", sizes)
	}
	// Every row carries its message's key as batch id (a message of one
	// detection: its event and channel); the first message of A holds its
	// two oldest detections.
	byKey := map[string]int{}
	for _, r := range e.st.Rows() {
		if r.Channel == "digest" {
			byKey[r.BatchID]++
			if !r.Digest {
				t.Errorf("digest row %d is not marked a digest", r.ID)
			}
		} else if r.BatchID != r.EventID+".each" || r.Digest {
			t.Errorf("per-detection row %d has batch %q (digest %v), want %s.each", r.ID, r.BatchID, r.Digest, r.EventID)
		}
	}
	for _, m := range msgs {
		if byKey[m.Key] != len(m.Detections) {
			t.Errorf("batch %s: %d rows, message has %d", m.Key, byKey[m.Key], len(m.Detections))
		}
	}
	var firstA Message
	for _, m := range msgs {
		if m.TenantID == "A" {
			firstA = m
			break
		}
	}
	if firstA.Detections[0].EventID != "a1" || firstA.Detections[1].EventID != "a3" {
		t.Errorf("first digest of A: %v", firstA.Detections)
	}
}

func TestRetryThenSuccess(t *testing.T) {
	e := newEnv()
	ids := e.st.Add(SampleDetection("ev-1", "A", 0), "email")
	n := &fakeNotifier{fn: func(_ context.Context, call int, _ Message) error {
		if call <= 2 {
			return errors.New("connection refused")
		}
		return nil
	}}
	base := 10 * time.Second
	d := e.dispatcher(t, map[string]Notifier{"email": n}, func(o *Options) { o.BackoffBase, o.BackoffMax = base, time.Minute })

	for attempt := 1; attempt <= 2; attempt++ {
		now := e.clock.Now()
		drain(t, d, Result{Retried: 1})
		r := e.st.Row(ids[0])
		ceiling := base << (attempt - 1)
		if r.State != store.StatePending || r.Attempts != attempt || r.NextAt.Before(now.Add(time.Second)) || r.NextAt.After(now.Add(ceiling)) {
			t.Fatalf("after failure %d: state %s attempts %d next in %s (want 1s..%s)", attempt, r.State, r.Attempts, r.NextAt.Sub(now), ceiling)
		}
		if r.LastError != "connection refused" { // the row names its channel: no prefix
			t.Errorf("last error %q", r.LastError)
		}
		drain(t, d, Result{}) // not due yet
		e.clock.Set(r.NextAt)
	}
	drain(t, d, Result{Sent: 1})
	r := e.st.Row(ids[0])
	if r.State != store.StateSent || r.Attempts != 2 {
		t.Errorf("row %s attempts %d", r.State, r.Attempts)
	}
	msgs := n.messages()
	if len(msgs) != 3 || msgs[0].Key != msgs[2].Key {
		t.Errorf("%d calls, keys %q %q", len(msgs), msgs[0].Key, msgs[len(msgs)-1].Key)
	}
	if !strings.Contains(e.logs.String(), "attempt=3") {
		t.Errorf("logs lack attempt=3:\n%s", e.logs)
	}
}

func TestBackoffBounds(t *testing.T) {
	e := newEnv()
	base, maxDelay := 30*time.Second, time.Hour
	d := e.dispatcher(t, nil, func(o *Options) { o.BackoffBase, o.BackoffMax = base, maxDelay })
	for attempt := 1; attempt <= 70; attempt++ {
		ceiling := maxDelay
		if attempt < 10 {
			ceiling = min(maxDelay, base<<(attempt-1))
		}
		var top time.Duration
		for range 200 {
			got := d.backoff(attempt)
			if got < time.Second || got > ceiling {
				t.Fatalf("backoff(%d) = %s, want 1s..%s", attempt, got, ceiling)
			}
			top = max(top, got)
		}
		if top < ceiling/2 {
			t.Errorf("backoff(%d) never above %s of %s: no full jitter?", attempt, top, ceiling)
		}
	}
}

func TestPermanentGoesDead(t *testing.T) {
	e := newEnv()
	ids := e.st.Add(SampleDetection("ev-1", "A", 0), "email")
	n := &fakeNotifier{fn: func(context.Context, int, Message) error {
		return fmt.Errorf("wrapped: %w", Permanent(errors.New("550 no such user")))
	}}
	d := e.dispatcher(t, map[string]Notifier{"email": n})
	drain(t, d, Result{Dead: 1})
	r := e.st.Row(ids[0])
	if r.State != store.StateDead || r.LastError != "wrapped: 550 no such user" {
		t.Errorf("row %s %q", r.State, r.LastError)
	}
	e.clock.Add(24 * time.Hour)
	drain(t, d, Result{})
}

func TestRetryAfterHonoured(t *testing.T) {
	for _, tc := range []struct {
		after    time.Duration
		min, max time.Duration
	}{
		{2 * time.Hour, 2 * time.Hour, 2 * time.Hour}, // longer than any backoff: exactly After
		{time.Millisecond, time.Second, 30 * time.Second},
		{4 * time.Hour, 3 * time.Hour, 3 * time.Hour}, // longer than BackoffMax: BackoffMax
	} {
		e := newEnv()
		ids := e.st.Add(SampleDetection("ev-1", "A", 0), "hook")
		n := &fakeNotifier{fn: func(context.Context, int, Message) error {
			return &RetryAfterError{Err: errors.New("429 too many requests"), After: tc.after}
		}}
		d := e.dispatcher(t, map[string]Notifier{"hook": n}, func(o *Options) { o.BackoffMax = 3 * time.Hour })
		now := e.clock.Now()
		drain(t, d, Result{Retried: 1})
		r := e.st.Row(ids[0])
		if wait := r.NextAt.Sub(now); wait < tc.min || wait > tc.max {
			t.Errorf("after %s: next in %s, want %s..%s", tc.after, wait, tc.min, tc.max)
		}
		if !strings.Contains(r.LastError, "429") || r.Attempts != 1 {
			t.Errorf("row %q attempts %d", r.LastError, r.Attempts)
		}
	}
}

func TestUnknownChannelGoesDead(t *testing.T) {
	e := newEnv()
	ids := e.st.Add(SampleDetection("ev-1", "A", 0), "email", "slack")
	n := &fakeNotifier{}
	d := e.dispatcher(t, map[string]Notifier{"email": n})
	drain(t, d, Result{Sent: 1, Dead: 1})
	if r := e.st.Row(ids[1]); r.State != store.StateDead || r.LastError != "channel slack is not configured" {
		t.Errorf("slack row %s %q", r.State, r.LastError)
	}
	if r := e.st.Row(ids[0]); r.State != store.StateSent {
		t.Errorf("email row %s", r.State)
	}
}

func TestMaxAttempts(t *testing.T) {
	e := newEnv()
	ids := e.st.Add(SampleDetection("ev-1", "A", 0), "email")
	n := &fakeNotifier{fn: func(_ context.Context, call int, _ Message) error { return fmt.Errorf("timeout %d", call) }}
	d := e.dispatcher(t, map[string]Notifier{"email": n}, func(o *Options) { o.MaxAttempts = 2 })
	drain(t, d, Result{Retried: 1})
	e.clock.Set(e.st.Row(ids[0]).NextAt)
	drain(t, d, Result{Dead: 1})
	r := e.st.Row(ids[0])
	if r.State != store.StateDead || !strings.Contains(r.LastError, "gave up after 2 attempts") || !strings.Contains(r.LastError, "timeout 2") {
		t.Errorf("row %s %q", r.State, r.LastError)
	}
}

func TestCrashAfterSetBatchResendsSameKey(t *testing.T) {
	e := newEnv()
	e.st.AddDigest(SampleDetection("ev-1", "A", 1), "email")
	e.st.AddDigest(SampleDetection("ev-2", "A", 2), "email")

	// The first instance dies while sending: its context is cancelled
	// after SetBatch, before the channel answered.
	ctx, cancel := context.WithCancel(context.Background())
	crash := &fakeNotifier{fn: func(context.Context, int, Message) error { cancel(); return context.Canceled }}
	d1 := e.dispatcher(t, map[string]Notifier{"email": crash})
	if _, err := d1.Drain(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Drain = %v", err)
	}
	key := crash.messages()[0].Key
	for _, r := range e.st.Rows() {
		if r.State != store.StatePending || r.BatchID != key || r.Attempts != 0 {
			t.Fatalf("row %d: %s batch %q attempts %d", r.ID, r.State, r.BatchID, r.Attempts)
		}
	}

	// The stopped instance gave its claims back: the next one sends at
	// once, without waiting for the lease.
	n := &fakeNotifier{}
	d2 := e.dispatcher(t, map[string]Notifier{"email": n}, func(o *Options) { o.Owner = "second" })
	drain(t, d2, Result{Sent: 2})
	msgs := n.messages()
	if len(msgs) != 1 || msgs[0].Key != key || len(msgs[0].Detections) != 2 {
		t.Fatalf("messages %+v, want one with key %s", msgs, key)
	}
}

func TestAbandonedClaimResendsSameKey(t *testing.T) {
	e := newEnv()
	e.st.AddDigest(SampleDetection("ev-1", "A", 1), "email")
	e.st.AddDigest(SampleDetection("ev-2", "A", 2), "email")
	e.st.AddDigest(SampleDetection("ev-3", "B", 3), "email")
	ctx := context.Background()
	items, err := e.st.ClaimOutbox(ctx, store.Claim{Owner: "crashed", Now: e.clock.Now(), Lease: time.Minute, Limit: 10})
	if err != nil || len(items) != 3 {
		t.Fatalf("claim: %d %v", len(items), err)
	}
	if err := e.st.SetBatches(ctx, "crashed", []store.Batch{{ID: "b-crashed", Digest: true, Rows: []int64{items[0].ID, items[1].ID}}}); err != nil {
		t.Fatal(err)
	}

	n := &fakeNotifier{}
	d := e.dispatcher(t, map[string]Notifier{"email": n})
	drain(t, d, Result{})
	e.clock.Add(time.Minute)
	drain(t, d, Result{Sent: 3})
	msgs := n.messages()
	if len(msgs) != 2 {
		t.Fatalf("%d messages, want 2", len(msgs))
	}
	if msgs[0].Key != "b-crashed" || len(msgs[0].Detections) != 2 || msgs[1].Key == "b-crashed" || msgs[1].TenantID != "B" {
		t.Errorf("messages %q (%d) and %q (%s)", msgs[0].Key, len(msgs[0].Detections), msgs[1].Key, msgs[1].TenantID)
	}
}

func TestCancelStopsDrain(t *testing.T) {
	e := newEnv()
	for i := range 5 {
		e.st.Add(SampleDetection(fmt.Sprintf("ev-%d", i), "A", time.Duration(i)*time.Second), "email")
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &fakeNotifier{fn: func(sctx context.Context, call int, _ Message) error {
		cancel()
		return sctx.Err()
	}}
	d := e.dispatcher(t, map[string]Notifier{"email": n}, func(o *Options) { o.BatchSize = 2 })
	res, err := d.Drain(ctx)
	if !errors.Is(err, context.Canceled) || res != (Result{}) {
		t.Fatalf("Drain = %+v, %v", res, err)
	}
	if len(n.messages()) != 1 {
		t.Errorf("%d sends after cancel, want 1", len(n.messages()))
	}
	for _, r := range e.st.Rows() {
		if r.State != store.StatePending || r.Attempts != 0 {
			t.Errorf("row %d: %s attempts %d", r.ID, r.State, r.Attempts)
		}
	}
	// Nothing is lost, and nothing waits for the lease: the claims were
	// given back, so the next drain sends all five at once.
	n.fn = nil
	drain(t, d, Result{Sent: 5})
}

func TestAcceptedMessageIsMarkedDespiteCancel(t *testing.T) {
	e := newEnv()
	ids := e.st.Add(SampleDetection("ev-1", "A", 0), "email")
	e.st.Add(SampleDetection("ev-2", "A", 1), "email")
	ctx, cancel := context.WithCancel(context.Background())
	n := &fakeNotifier{fn: func(context.Context, int, Message) error { cancel(); return nil }}
	d := e.dispatcher(t, map[string]Notifier{"email": n})
	res, err := d.Drain(ctx)
	if !errors.Is(err, context.Canceled) || res.Sent != 1 {
		t.Fatalf("Drain = %+v, %v", res, err)
	}
	if r := e.st.Row(ids[0]); r.State != store.StateSent {
		t.Errorf("accepted row is %s", r.State)
	}
}

func TestLeaseRunOutSkipsSending(t *testing.T) {
	e := newEnv()
	e.st.Add(SampleDetection("ev-1", "A", 0), "email")
	ids := e.st.Add(SampleDetection("ev-2", "A", 1), "email")
	n := &fakeNotifier{fn: func(_ context.Context, call int, _ Message) error {
		e.clock.Add(DefaultLease) // a very slow channel
		return nil
	}}
	d := e.dispatcher(t, map[string]Notifier{"email": n})
	drain(t, d, Result{Sent: 2}) // the second row is claimed again in the same drain
	if len(n.messages()) != 2 || e.st.Row(ids[0]).State != store.StateSent {
		t.Errorf("%d sends, row %s", len(n.messages()), e.st.Row(ids[0]).State)
	}
	if !strings.Contains(e.logs.String(), "lease ran out") {
		t.Errorf("no lease warning in logs:\n%s", e.logs)
	}
}

func TestClaimErrorEndsDrain(t *testing.T) {
	e := newEnv()
	e.st.FailClaim = errors.New("database is locked")
	d := e.dispatcher(t, nil)
	if _, err := d.Drain(context.Background()); err == nil || !strings.Contains(err.Error(), "database is locked") {
		t.Errorf("Drain = %v", err)
	}
}

func TestRun(t *testing.T) {
	e := newEnv()
	e.st.Add(SampleDetection("ev-1", "A", 0), "email")
	got := make(chan Message, 10)
	n := &fakeNotifier{fn: func(_ context.Context, _ int, m Message) error { got <- m; return nil }}
	d := e.dispatcher(t, map[string]Notifier{"email": n})
	ctx, cancel := context.WithCancel(context.Background())
	wake := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, time.Hour, wake) }()

	recv := func() Message {
		select {
		case m := <-got:
			return m
		case <-time.After(5 * time.Second):
			t.Fatal("no message")
			return Message{}
		}
	}
	if m := recv(); m.Key != "ev-1.email" {
		t.Errorf("first %q", m.Key)
	}
	e.st.Add(SampleDetection("ev-2", "A", 0), "email")
	wake <- struct{}{}
	if m := recv(); m.Key != "ev-2.email" {
		t.Errorf("second %q", m.Key)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop")
	}
	if err := d.Run(context.Background(), 0, nil); err == nil {
		t.Error("Run with interval 0 accepted")
	}
}

func TestNewDispatcherChecks(t *testing.T) {
	st := NewMemStore()
	for name, o := range map[string]Options{
		"no store":         {},
		"nil notifier":     {Store: st, Channels: map[string]Notifier{"x": nil}},
		"negative lease":   {Store: st, Lease: -1},
		"max below base":   {Store: st, BackoffBase: time.Hour, BackoffMax: time.Minute},
		"negative attempt": {Store: st, MaxAttempts: -1},
	} {
		if _, err := NewDispatcher(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	d, err := NewDispatcher(Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	if d.lease != DefaultLease || d.batchSize != DefaultBatchSize || d.base != DefaultBackoffBase || d.max != DefaultBackoffMax || d.Owner() == "" {
		t.Errorf("defaults %+v", d)
	}
}

// A Retry-After never parks a row longer than backoff_max: not a
// RetryAfterError as long as time.Duration goes (about 292 years; 1000
// years do not fit), nor 1000 years of seconds in a 429 answer.
func TestRetryAfterCappedAtBackoffMax(t *testing.T) {
	const maxDelay = 10 * time.Minute
	for name, mk := range map[string]func() error{
		"max duration": func() error {
			return &RetryAfterError{Err: errors.New("429 too many requests"), After: time.Duration(math.MaxInt64)}
		},
		"1000 years of seconds": func() error {
			return ClassifyHTTP(http.StatusTooManyRequests, "31536000000", errors.New("429 too many requests"))
		},
		"99999999999 seconds": func() error {
			return ClassifyHTTP(http.StatusTooManyRequests, "99999999999", errors.New("429 too many requests"))
		},
		"10000000000 seconds": func() error {
			return ClassifyHTTP(http.StatusTooManyRequests, "10000000000", errors.New("429 too many requests"))
		},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv()
			ids := e.st.Add(SampleDetection("ev-1", "A", 0), "hook")
			n := &fakeNotifier{fn: func(context.Context, int, Message) error { return mk() }}
			d := e.dispatcher(t, map[string]Notifier{"hook": n}, func(o *Options) { o.BackoffMax = maxDelay })
			now := e.clock.Now()
			drain(t, d, Result{Retried: 1})
			r := e.st.Row(ids[0])
			if wait := r.NextAt.Sub(now); wait < time.Second || wait > maxDelay {
				t.Errorf("next in %s, want 1s..%s (backoff_max)", wait, maxDelay)
			}
		})
	}
}
