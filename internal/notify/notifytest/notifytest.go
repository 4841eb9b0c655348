// Package notifytest runs the outbox dispatcher against a real store: the
// scenarios where what the dispatcher does depends on what the store keeps
// (redelivery after a crash, claims released on a stop). A backend's test
// calls Run with a function that opens a new, empty store for each
// subtest (and closes it in t.Cleanup), as for storetest.Run:
//
//	func TestDispatcher(t *testing.T) {
//		notifytest.Run(t, func(t *testing.T) store.Store { return openEmpty(t) })
//	}
package notifytest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/notify"
	"github.com/puawatch/puawatch/internal/store"
)

// Run runs the dispatcher scenarios against the stores open returns. open
// is called once per subtest, from parallel subtests.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"RedeliverySingleKeepsItsMessage", testRedeliverySingle},
		{"RedeliveryDigestKeepsItsRows", testRedeliveryDigest},
		{"StopReleasesClaims", testStopReleasesClaims},
		{"GoneHolderTakenOver", testGoneHolderTakenOver},
		{"AwaitHeldSendsWhatAHolderLeaves", testAwaitHeld},
		{"AwaitHeldIsBounded", testAwaitHeldBounded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// base is an arbitrary time.
var base = time.Date(2025, 6, 2, 8, 0, 0, 0, time.UTC)

// lease is the dispatchers' lease.
const lease = time.Minute

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// recorder is a channel that keeps what it was sent. crash, when set, is
// called after the message was kept ("accepted") and its error returned:
// the instance dies before it can mark the rows sent.
type recorder struct {
	mu    sync.Mutex
	msgs  []notify.Message
	crash func() error
}

func (r *recorder) Notify(_ context.Context, m notify.Message) error {
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	crash := r.crash
	r.crash = nil
	r.mu.Unlock()
	if crash != nil {
		return crash()
	}
	return nil
}

func (r *recorder) messages() []notify.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.msgs)
}

// grouped routes every detection to channel "soc", grouped per tenant,
// as one message each up to 3 due at once and as a digest above.
func grouped(d store.Detection) []store.Delivery {
	return []store.Delivery{{Channel: "soc", GroupKey: "tenant=" + d.TenantID, DigestAbove: 3, MaxPerMessage: 100}}
}

// commit stores detections prefix+from .. prefix+to-1 of tenant A at at.
func commit(t *testing.T, s store.Store, prefix string, from, to int, at time.Time) {
	t.Helper()
	p := store.PageCommit{TenantID: "A", Route: grouped, At: at}
	for i := from; i < to; i++ {
		p.Detections = append(p.Detections, store.Detection{EventID: fmt.Sprintf("%s%02d", prefix, i), TenantID: "A",
			TenantName: "Tenant A", Kind: store.KindDetection, CreatedAt: base.Add(time.Duration(i) * time.Second)})
	}
	if _, err := s.CommitPage(t.Context(), p); err != nil {
		t.Fatalf("CommitPage: %v", err)
	}
}

func dispatcher(t *testing.T, s store.Store, owner string, clk *clock, ch notify.Notifier, edit ...func(*notify.Options)) *notify.Dispatcher {
	t.Helper()
	o := notify.Options{Store: s, Channels: map[string]notify.Notifier{"soc": ch}, Owner: owner, Lease: lease, Now: clk.Now}
	for _, f := range edit {
		f(&o)
	}
	d, err := notify.NewDispatcher(o)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func eventIDs(m notify.Message) []string {
	out := make([]string, len(m.Detections))
	for i, d := range m.Detections {
		out[i] = d.EventID
	}
	return out
}

// crashAfterAccept has a first instance send one message that its channel
// accepts, and die before marking the rows sent (its context is cancelled
// as the channel answers, so the answer is never recorded). It returns
// the message the channel got.
func crashAfterAccept(t *testing.T, s store.Store, clk *clock) notify.Message {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	first := &recorder{crash: func() error { cancel(); return context.Canceled }}
	if _, err := dispatcher(t, s, "first", clk, first).Drain(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("the first instance's Drain = %v, want it cancelled", err)
	}
	msgs := first.messages()
	if len(msgs) != 1 {
		t.Fatalf("the first instance sent %d messages, want 1 before it died", len(msgs))
	}
	// The message's composition is in the store: its rows carry its key.
	items, err := s.Outbox(t.Context(), store.OutboxFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var inMessage []string
	for _, it := range items {
		if it.State != store.StatePending {
			t.Errorf("row %d of %s is %s after the crash, want pending", it.ID, it.EventID, it.State)
		}
		if it.BatchID == msgs[0].Key {
			inMessage = append(inMessage, it.EventID)
		}
	}
	slices.Sort(inMessage)
	if want := eventIDs(msgs[0]); !slices.Equal(inMessage, want) {
		t.Errorf("rows stored under the sent message's key %q: %v, want its detections %v", msgs[0].Key, inMessage, want)
	}
	return msgs[0]
}

// redeliver has a second instance send what is due once the first one's
// claims lapsed, and checks that the message in the crash window goes out
// again exactly (key, rows, form) and that the rows that came later go in
// messages of their own.
func redeliver(t *testing.T, s store.Store, clk *clock, sent notify.Message, later []string) {
	t.Helper()
	clk.Add(lease)
	second := &recorder{}
	res, err := dispatcher(t, s, "second", clk, second).Drain(t.Context())
	if err != nil {
		t.Fatalf("the second instance's Drain: %v", err)
	}
	if want := len(sent.Detections) + len(later); res.Sent != want {
		t.Errorf("the second instance sent %d rows, want %d", res.Sent, want)
	}
	var again []notify.Message
	var others []string
	for _, m := range second.messages() {
		if m.Key == sent.Key {
			again = append(again, m)
			continue
		}
		others = append(others, eventIDs(m)...)
	}
	if len(again) != 1 {
		t.Fatalf("the message %q (%v) was sent again %d times, want once under the same key; the second instance sent %v",
			sent.Key, eventIDs(sent), len(again), summary(second.messages()))
	}
	if got, want := eventIDs(again[0]), eventIDs(sent); !slices.Equal(got, want) || again[0].Digest != sent.Digest {
		t.Errorf("redelivery of %q holds %v (digest %v), want exactly %v (digest %v)", sent.Key, got, again[0].Digest, want, sent.Digest)
	}
	slices.Sort(others)
	if !slices.Equal(others, later) {
		t.Errorf("the later rows went out as %v, want %v in messages of their own", others, later)
	}
	items, err := s.Outbox(t.Context(), store.OutboxFilter{States: []string{store.StatePending, store.StateDead}})
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 0 {
		t.Errorf("%d rows not sent after the redelivery", len(items))
	}
}

func summary(msgs []notify.Message) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, fmt.Sprintf("%s%v", m.Key, eventIDs(m)))
	}
	return out
}

func ids(prefix string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("%s%02d", prefix, i))
	}
	return out
}

// testRedeliverySingle: a group's one row goes out as a message of its
// own; the instance dies before marking it; four more rows of the group
// arrive (a digest now). The redelivery is the first message again, same
// key, that row alone; the four go in a digest of their own.
func testRedeliverySingle(t *testing.T, s store.Store) {
	clk := &clock{t: base.Add(time.Minute)}
	commit(t, s, "e", 0, 1, clk.Now())
	sent := crashAfterAccept(t, s, clk)
	if sent.Digest || len(sent.Detections) != 1 {
		t.Fatalf("first message %v (digest %v), want one detection alone", eventIDs(sent), sent.Digest)
	}
	commit(t, s, "e", 1, 5, clk.Now())
	redeliver(t, s, clk, sent, ids("e", 1, 5))
}

// testRedeliveryDigest: four rows of a group go out as a digest; the
// instance dies before marking them; four more arrive. The redelivery is
// the same digest, same key, the same four rows; the new four go in a
// digest of their own.
func testRedeliveryDigest(t *testing.T, s store.Store) {
	clk := &clock{t: base.Add(time.Minute)}
	commit(t, s, "e", 0, 4, clk.Now())
	sent := crashAfterAccept(t, s, clk)
	if !sent.Digest || len(sent.Detections) != 4 {
		t.Fatalf("first message %v (digest %v), want a digest of 4", eventIDs(sent), sent.Digest)
	}
	commit(t, s, "e", 4, 8, clk.Now())
	redeliver(t, s, clk, sent, ids("e", 4, 8))
}

// testStopReleasesClaims: an instance stopped (its context cancelled)
// while sending gives its claims back at once: another instance claims
// every row at the same moment, without waiting for the lease.
func testStopReleasesClaims(t *testing.T, s store.Store) {
	clk := &clock{t: base.Add(time.Minute)}
	commit(t, s, "e", 0, 2, clk.Now())
	p := store.PageCommit{TenantID: "B", Route: grouped, At: clk.Now()}
	for i := range 5 {
		p.Detections = append(p.Detections, store.Detection{EventID: fmt.Sprintf("b%02d", i), TenantID: "B", CreatedAt: base.Add(time.Hour)})
	}
	if _, err := s.CommitPage(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	stopped := &recorder{crash: func() error { cancel(); return context.Canceled }}
	if _, err := dispatcher(t, s, "stopped", clk, stopped).Drain(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Drain = %v, want cancelled", err)
	}
	items, err := s.ClaimOutbox(t.Context(), store.Claim{Owner: "next", Now: clk.Now(), Lease: lease, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 7 {
		t.Errorf("after the stop another instance claims %d of the 7 rows at once, want all: the stopped one kept its claims", len(items))
	}
}

// claimAs claims every due row for owner until a lease from now.
func claimAs(t *testing.T, s store.Store, owner string, now time.Time, limit int) []store.OutboxItem {
	t.Helper()
	items, err := s.ClaimOutbox(t.Context(), store.Claim{Owner: owner, Now: now, Lease: lease, Limit: limit})
	if err != nil {
		t.Fatal(err)
	}
	return items
}

func unsent(t *testing.T, s store.Store) []string {
	t.Helper()
	items, err := s.Outbox(t.Context(), store.OutboxFilter{States: []string{store.StatePending, store.StateDead}})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, it := range items {
		out = append(out, it.EventID)
	}
	slices.Sort(out)
	return out
}

// testGoneHolderTakenOver: the rows of a holder that is gone (a killed
// process) are sent at once, its message under its key; those of a
// holder that runs are left to it.
func testGoneHolderTakenOver(t *testing.T, s store.Store) {
	clk := &clock{t: base.Add(time.Minute)}
	commit(t, s, "e", 0, 1, clk.Now())
	dead := claimAs(t, s, "killed", clk.Now(), 1)
	if err := s.SetBatches(t.Context(), "killed", []store.Batch{{ID: "e00.soc", Rows: []int64{dead[0].ID}}}); err != nil {
		t.Fatal(err)
	}
	commit(t, s, "e", 1, 2, clk.Now())
	claimAs(t, s, "running", clk.Now(), 1)
	ch := &recorder{}
	d := dispatcher(t, s, "next", clk, ch, func(o *notify.Options) {
		o.Gone = func(owner string) bool { return owner == "killed" }
	})
	res, err := d.Drain(t.Context())
	if err != nil || res.Sent != 1 {
		t.Fatalf("Drain = %+v, %v; want the killed holder's row sent", res, err)
	}
	if msgs := ch.messages(); len(msgs) != 1 || msgs[0].Key != "e00.soc" {
		t.Errorf("sent %v, want the killed holder's message e00.soc", summary(msgs))
	}
	if left := unsent(t, s); !slices.Equal(left, []string{"e01"}) {
		t.Errorf("unsent %v, want only e01 (held by an instance that runs)", left)
	}
}

// testAwaitHeld: rows a running instance holds are sent by AwaitHeld
// once that instance lets go of them (here: it sends one, its claim on
// the other lapses), whichever happens first.
func testAwaitHeld(t *testing.T, s store.Store) {
	clk := &clock{t: base.Add(time.Minute)}
	commit(t, s, "e", 0, 2, clk.Now())
	held := claimAs(t, s, "running", clk.Now(), 10)
	if len(held) != 2 {
		t.Fatalf("the running instance claimed %d rows, want 2", len(held))
	}
	ch := &recorder{}
	d := dispatcher(t, s, "once", clk, ch)
	done := make(chan error, 1)
	var res notify.Result
	go func() {
		var err error
		res, err = d.AwaitHeld(t.Context())
		done <- err
	}()
	if err := s.MarkSent(t.Context(), "running", []int64{held[0].ID}, clk.Now()); err != nil {
		t.Fatal(err)
	}
	clk.Add(lease) // the other claim lapses
	select {
	case err := <-done:
		if err != nil || res.Sent != 1 {
			t.Fatalf("AwaitHeld = %+v, %v; want the row the running instance left sent", res, err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("AwaitHeld did not return")
	}
	if left := unsent(t, s); len(left) != 0 {
		t.Errorf("unsent after AwaitHeld: %v", left)
	}
}

// testAwaitHeldBounded: rows a running instance keeps holding make
// AwaitHeld give up after one lease with an error naming the holder.
func testAwaitHeldBounded(t *testing.T, s store.Store) {
	clk := &clock{t: base.Add(time.Minute)}
	commit(t, s, "e", 0, 1, clk.Now())
	claimAs(t, s, "running", clk.Now(), 10)
	d := dispatcher(t, s, "once", clk, &recorder{}, func(o *notify.Options) { o.Lease = time.Second })
	_, err := d.AwaitHeld(t.Context())
	if err == nil || !strings.Contains(err.Error(), "running") {
		t.Errorf("AwaitHeld with rows held throughout = %v, want an error naming the holder", err)
	}
}
