package notify

import (
	"errors"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/store"
	"github.com/puawatch/puawatch/internal/store/storetest"
)

// TestMemStoreConformance keeps the test double honest: it must behave as
// the store contract says, as the real backends do.
func TestMemStoreConformance(t *testing.T) {
	storetest.Run(t, func(*testing.T) store.Store { return NewMemStore() })
}

// TestMemStoreAttempts: MarkSent, MarkRetry and MarkDead record one
// attempt per row they change, as the store contract says, and none for
// the rows they leave alone.
func TestMemStoreAttempts(t *testing.T) {
	s := NewMemStore()
	ctx := t.Context()
	a := s.Add(store.Detection{EventID: "e1", TenantID: "t1"}, "email", "slack")
	b := s.Add(store.Detection{EventID: "e2", TenantID: "t1"}, "email")
	if _, err := s.ClaimOutbox(ctx, store.Claim{Owner: "A", Now: t0, Lease: time.Minute, Limit: 10}); err != nil {
		t.Fatal(err)
	}
	before := time.Now().UTC().Truncate(time.Millisecond)
	if err := s.MarkRetry(ctx, "A", a[1:], t0.Add(time.Minute), "429\x00"); err != nil {
		t.Fatal(err)
	}
	after := time.Now().UTC()
	if err := s.MarkSent(ctx, "A", []int64{a[0], a[1]}, t0); !errors.Is(err, store.ErrNotHeld) {
		t.Fatalf("MarkSent(held, released) = %v, want ErrNotHeld", err)
	}
	if err := s.MarkDead(ctx, "A", b, "550", t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	got := s.Attempts()
	want := []store.Attempt{
		{OutboxID: a[1], Channel: "slack", Result: store.AttemptRetry, Error: "429\uFFFD"},
		{OutboxID: a[0], Channel: "email", At: t0, Result: store.AttemptSent},
		{OutboxID: b[0], Channel: "email", At: t0.Add(time.Second), Result: store.AttemptDead, Error: "550"},
	}
	if len(got) != len(want) {
		t.Fatalf("attempts %+v, want %+v", got, want)
	}
	if at := got[0].At; at.Before(before) || at.After(after) {
		t.Errorf("the retry is recorded at %v, want the clock when MarkRetry ran (%v..%v)", at, before, after)
	}
	got[0].At = time.Time{}
	for i := range want {
		if !got[i].At.Equal(want[i].At) {
			t.Errorf("attempt %d at %v, want %v", i, got[i].At, want[i].At)
		}
		got[i].At, want[i].At = time.Time{}, time.Time{}
		if got[i] != want[i] {
			t.Errorf("attempt %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}
