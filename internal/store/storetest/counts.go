package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/store"
)

func outboxCounts(t *testing.T, s store.Store, since time.Time) []store.OutboxCount {
	t.Helper()
	cs, err := s.OutboxCounts(t.Context(), since)
	if err != nil {
		t.Fatalf("OutboxCounts(%v): %v", since, err)
	}
	return cs
}

func checkCounts(t *testing.T, label string, got, want []store.OutboxCount) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: OutboxCounts = %+v, want %+v", label, got, want)
	}
	for i := range got {
		g, w := got[i], want[i]
		var d differ
		d.str("Channel", g.Channel, w.Channel)
		d.str("State", g.State, w.State)
		d.int("Rows", int64(g.Rows), int64(w.Rows))
		d.int("Failed", int64(g.Failed), int64(w.Failed))
		d.int("Since", int64(g.Since), int64(w.Since))
		d.time("FirstDue", g.FirstDue, w.FirstDue)
		d.str("LastError", g.LastError, w.LastError)
		for _, m := range d {
			t.Errorf("%s: count %d (%s %s): %s", label, i, w.Channel, w.State, m)
		}
	}
}

// testOutboxCounts: rows counted by channel and state, with the failed
// ones, those since a time, the first due and the latest reason.
func testOutboxCounts(t *testing.T, s store.Store) {
	ctx := t.Context()
	checkCounts(t, "a new store", outboxCounts(t, s, base), nil)
	r := page(t, s, "t1", "e", 6, []string{"email", "slack"}, base) // email: r[0], r[2], ...; slack: r[1], r[3], ...
	email, slack := []int64{r[0], r[2], r[4], r[6], r[8], r[10]}, []int64{r[1], r[3], r[5], r[7], r[9], r[11]}
	claim(t, s, "A", base, time.Minute, 100)
	t1, t2, t3 := base.Add(time.Minute), base.Add(2*time.Minute), base.Add(3*time.Minute)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// email: two dead (at t1 "535 old", at t3 "535 new"), one retrying
	// until t2 ("421"), one sent, two pending untried.
	must(s.MarkDead(ctx, "A", email[:1], "535 old", t1))
	must(s.MarkDead(ctx, "A", email[1:2], "535 new", t3))
	must(s.MarkRetry(ctx, "A", email[2:3], t2, "421 busy"))
	must(s.MarkSent(ctx, "A", email[3:4], t1))
	// slack: every row dead at t2, the two reasons tied on time: the
	// higher id's wins.
	must(s.MarkDead(ctx, "A", slack[:3], "400 first", t2))
	must(s.MarkDead(ctx, "A", slack[3:], "400 last", t2))
	_, err := s.ReleaseClaims(ctx, "A", nil)
	must(err)

	want := []store.OutboxCount{
		{Channel: "email", State: store.StateDead, Rows: 2, Failed: 2, Since: 1, FirstDue: t1, LastError: "535 new"},
		{Channel: "email", State: store.StatePending, Rows: 3, Failed: 1, Since: 1, FirstDue: base, LastError: "421 busy"},
		{Channel: "email", State: store.StateSent, Rows: 1, Failed: 0, Since: 0, FirstDue: base, LastError: ""},
		{Channel: "slack", State: store.StateDead, Rows: 6, Failed: 6, Since: 6, FirstDue: t2, LastError: "400 last"},
	}
	checkCounts(t, "since t2", outboxCounts(t, s, t2), want)
	// Since counts from the time given.
	want[0].Since, want[1].Since, want[2].Since, want[3].Since = 2, 3, 1, 6
	checkCounts(t, "since base", outboxCounts(t, s, base), want)

	// A requeued row is pending again with a fresh budget: not failed,
	// its reason kept.
	n, err := s.Requeue(ctx, email[:1], t3)
	must(err)
	if n != 1 {
		t.Fatalf("Requeue = %d, want 1", n)
	}
	checkCounts(t, "after a requeue", outboxCounts(t, s, t3), []store.OutboxCount{
		{Channel: "email", State: store.StateDead, Rows: 1, Failed: 1, Since: 1, FirstDue: t3, LastError: "535 new"},
		{Channel: "email", State: store.StatePending, Rows: 4, Failed: 1, Since: 1, FirstDue: base, LastError: "535 old"},
		{Channel: "email", State: store.StateSent, Rows: 1, Failed: 0, Since: 0, FirstDue: base, LastError: ""},
		{Channel: "slack", State: store.StateDead, Rows: 6, Failed: 6, Since: 0, FirstDue: t2, LastError: "400 last"},
	})
}

// testOutboxByChannel: Outbox lists one receiver's rows.
func testOutboxByChannel(t *testing.T, s store.Store) {
	r := page(t, s, "t1", "e", 3, []string{"email", "slack"}, base)
	got, err := s.Outbox(t.Context(), store.OutboxFilter{Channel: "slack"})
	if err != nil {
		t.Fatal(err)
	}
	checkIDs(t, "slack's rows", ids(got), []int64{r[5], r[3], r[1]})
	for _, it := range got {
		if it.Channel != "slack" {
			t.Errorf("row %d of channel %q listed for slack", it.ID, it.Channel)
		}
	}
	got, err = s.Outbox(t.Context(), store.OutboxFilter{Channel: "email", States: []string{store.StatePending}, Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	checkIDs(t, "email's pending rows, limit 2", ids(got), []int64{r[4], r[2]})
	if got := outboxOf(t, s, "nobody"); len(got) != 0 {
		t.Errorf("rows of a receiver that has none: %v", ids(got))
	}
}

func outboxOf(t *testing.T, s store.Store, channel string) []store.OutboxItem {
	t.Helper()
	items, err := s.Outbox(t.Context(), store.OutboxFilter{Channel: channel})
	if err != nil {
		t.Fatal(err)
	}
	return items
}

// testAlarmSlots: a slot is taken at most once per interval, per name;
// a released slot is free again.
func testAlarmSlots(t *testing.T, s store.Store) {
	ctx := t.Context()
	take := func(name string, now time.Time) bool {
		t.Helper()
		ok, err := s.TakeAlarmSlot(ctx, name, now, time.Hour)
		if err != nil {
			t.Fatalf("TakeAlarmSlot(%s, %v): %v", name, now, err)
		}
		return ok
	}
	release := func(name string, at time.Time) {
		t.Helper()
		if err := s.ReleaseAlarmSlot(ctx, name, at); err != nil {
			t.Fatalf("ReleaseAlarmSlot(%s, %v): %v", name, at, err)
		}
	}
	for _, step := range []struct {
		name string
		at   time.Time
		want bool
	}{
		{"t1", base, true},
		{"t1", base, false},
		{"t1", base.Add(59 * time.Minute), false},
		{"t2", base.Add(59 * time.Minute), true}, // another name has a slot of its own
		{"t1", base.Add(time.Hour), true},        // an hour later
		{"t1", base.Add(time.Hour + time.Minute), false},
	} {
		if got := take(step.name, step.at); got != step.want {
			t.Fatalf("TakeAlarmSlot(%s, base+%v) = %v, want %v", step.name, step.at.Sub(base), got, step.want)
		}
	}
	// A release of another time leaves the slot taken; of its time frees it.
	release("t1", base)
	if take("t1", base.Add(time.Hour+2*time.Minute)) {
		t.Fatal("the slot was free after releasing a time it was no longer taken at")
	}
	release("t1", base.Add(time.Hour))
	if !take("t1", base.Add(time.Hour+3*time.Minute)) {
		t.Fatal("the slot was not free after its release")
	}
	release("never-taken", base)
	if !take("never-taken", base) {
		t.Fatal("releasing a slot never taken took it")
	}
	// A name with control characters and quotes is one like any other.
	odd := "t'\"\r\n\x00x"
	if !take(odd, base) || take(odd, base.Add(time.Minute)) {
		t.Fatalf("slot %q: not taken once", odd)
	}

	for label, call := range map[string]func() error{
		"an empty name":            func() error { _, err := s.TakeAlarmSlot(ctx, "", base, time.Hour); return err },
		"a zero time":              func() error { _, err := s.TakeAlarmSlot(ctx, "x", time.Time{}, time.Hour); return err },
		"no interval":              func() error { _, err := s.TakeAlarmSlot(ctx, "x", base, 0); return err },
		"release of an empty name": func() error { return s.ReleaseAlarmSlot(ctx, "", base) },
	} {
		if call() == nil {
			t.Errorf("alarm slot with %s: no error", label)
		}
	}
}

// testAlarmSlotsConcurrent: of many takers at once, exactly one gets the
// slot.
func testAlarmSlotsConcurrent(t *testing.T, s store.Store) {
	const takers = 8
	for round := range 3 {
		now := base.Add(time.Duration(round) * 2 * time.Hour)
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			won  int
			errs []error
		)
		for i := range takers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := s.TakeAlarmSlot(t.Context(), "tenant", now.Add(time.Duration(i)*time.Millisecond), time.Hour)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, fmt.Errorf("taker %d: %w", i, err))
				}
				if ok {
					won++
				}
			}()
		}
		wg.Wait()
		for _, err := range errs {
			t.Error(err)
		}
		if won != 1 {
			t.Fatalf("round %d: %d of %d concurrent takers got the slot, want 1", round, won, takers)
		}
	}
}
