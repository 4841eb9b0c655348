package poll_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/central"
	"github.com/puawatch/puawatch/internal/fake/sim"
	"github.com/puawatch/puawatch/internal/poll"
)

// watchdog bounds every wait of these tests: it is not a timing
// assertion, only what turns a hang into a failure.
const watchdog = 20 * time.Second

// runEnv runs a poller's scheduler (Run) on the test's fake clock: its
// timer is a channel the test ticks after moving the clock on.
type runEnv struct {
	*env
	interval time.Duration
	timer    chan time.Time
	results  chan poll.TenantResult
	rounds   chan poll.Report
	cancel   context.CancelFunc
	done     chan error
}

// run starts p.Run with interval; mod may change the hooks.
func (e *env) run(interval time.Duration, mod func(*poll.Options), hooks func(*poll.Hooks)) *runEnv {
	e.t.Helper()
	r := &runEnv{env: e, interval: interval, timer: make(chan time.Time),
		results: make(chan poll.TenantResult, 1000), rounds: make(chan poll.Report, 1000), done: make(chan error, 1)}
	p := e.poller(func(o *poll.Options) {
		o.After = func(time.Duration) <-chan time.Time { return r.timer }
		if mod != nil {
			mod(o)
		}
	})
	h := poll.Hooks{
		Result: func(res poll.TenantResult) { r.results <- res },
		Round:  func(rep poll.Report) { r.rounds <- rep },
	}
	if hooks != nil {
		hooks(&h)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- p.Run(ctx, interval, h) }()
	e.t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(watchdog):
			e.t.Error("Run did not return after its context was cancelled")
		}
	})
	return r
}

// tick moves the clock on by d and wakes the scheduler's timer.
func (r *runEnv) tick(d time.Duration) {
	r.t.Helper()
	r.clk.Advance(d)
	select {
	case r.timer <- r.clk.Now():
	case <-time.After(watchdog):
		r.t.Fatal("the scheduler does not wait on its timer")
	}
}

// next waits for the next tenant result.
func (r *runEnv) next() poll.TenantResult {
	r.t.Helper()
	select {
	case res := <-r.results:
		return res
	case <-time.After(watchdog):
		r.t.Fatal("no tenant read ended")
	}
	return poll.TenantResult{}
}

// nextOf waits for the next result of tenant id, collecting the others'.
func (r *runEnv) nextOf(id string, others map[string]int) poll.TenantResult {
	r.t.Helper()
	for {
		res := r.next()
		if res.TenantID == id {
			return res
		}
		others[res.TenantID]++
	}
}

// each waits until every tenant of ids has a result, counting them.
func (r *runEnv) each(counts map[string]int, ids ...string) {
	r.t.Helper()
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	for len(want) > 0 {
		res := r.next()
		counts[res.TenantID]++
		delete(want, res.TenantID)
	}
}

// stop cancels Run and waits for it, then drains the results left.
func (r *runEnv) stop(counts map[string]int) {
	r.t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			r.t.Errorf("Run: %v", err)
		}
	case <-time.After(watchdog):
		r.t.Fatal("Run did not return after its context was cancelled")
	}
	r.done <- nil // for the cleanup
	for {
		select {
		case res := <-r.results:
			counts[res.TenantID]++
		default:
			return
		}
	}
}

// While tenant A's events call is held hanging, tenant B is read again
// every interval: a slow tenant delays itself only.
func TestRunSlowTenantDelaysOnlyItself(t *testing.T) {
	e := newEnv(t, "partner", func(c *sim.Config) { c.Tenants = 2; c.EventsPerTenant = 20 })
	a, b := e.tenants()[0], e.tenants()[1]
	held, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	e.src.SetBefore(func(n int, req central.EventsRequest) {
		if req.Tenant.ID == a.ID {
			once.Do(func() { close(held) })
			<-release
		}
	})
	r := e.run(time.Minute, func(o *poll.Options) { o.Workers = 2 }, nil)
	select {
	case <-held:
	case <-time.After(watchdog):
		t.Fatal("tenant A was never read")
	}
	others := map[string]int{}
	r.nextOf(b.ID, others)
	const ticks = 5
	for range ticks {
		r.tick(time.Minute)
		if res := r.nextOf(b.ID, others); res.Err != nil {
			t.Fatalf("tenant B: %v", res.Err)
		}
	}
	if others[a.ID] != 0 {
		t.Fatalf("tenant A's read ended while it was held: %v", others)
	}
	close(release)
	if res := r.nextOf(a.ID, others); res.Err != nil {
		t.Errorf("tenant A, released: %v", res.Err)
	}
	counts := map[string]int{}
	r.stop(counts)
	t.Logf("while tenant A's events call was held, tenant B was read %d times", ticks+1)
}

// A failing tenant is tried again with backoff: never sooner than an
// interval after its failure, never later than 4 intervals, while the
// healthy tenant is read every interval.
func TestRunFailingTenantBacksOff(t *testing.T) {
	e := newEnv(t, "partner", func(c *sim.Config) { c.Tenants = 2; c.EventsPerTenant = 20 })
	bad, good := e.tenants()[0], e.tenants()[1]
	if err := e.sim.SetFaults(sim.Faults{ForbiddenTenants: []string{bad.ID}}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var badAgain []time.Duration
	r := e.run(time.Minute, func(o *poll.Options) { o.Workers = 2 }, func(h *poll.Hooks) {
		inner := h.Result
		h.Result = func(res poll.TenantResult) {
			switch res.TenantID {
			case bad.ID:
				if res.Err == nil {
					t.Errorf("the forbidden tenant was read")
				}
				mu.Lock()
				badAgain = append(badAgain, res.Again)
				mu.Unlock()
			case good.ID:
				if res.Again != time.Minute {
					t.Errorf("the healthy tenant is read again in %s, want the interval", res.Again)
				}
			}
			inner(res)
		}
	})
	others := map[string]int{}
	r.nextOf(good.ID, others)
	const ticks = 24
	for range ticks {
		r.tick(time.Minute)
		r.nextOf(good.ID, others)
	}
	r.stop(others)
	mu.Lock()
	defer mu.Unlock()
	if len(badAgain) < 2 || len(badAgain) >= ticks {
		t.Fatalf("the failing tenant was read %d times in %d intervals, want backoff: more than once, fewer than the healthy tenant", len(badAgain), ticks+1)
	}
	// The schedule's own word for each failure (the reads' end times are
	// not the test's to know: it does not wait for the failing reads).
	for i, d := range badAgain {
		if d < time.Minute || d > 4*time.Minute {
			t.Errorf("failure %d: read again in %s, want between 1 and 4 intervals", i+1, d)
		}
	}
	if st := e.state(bad.ID); st.LastError == "" {
		t.Errorf("the failing tenant's error is not stored")
	}
}

// The backoff of a failing tenant stays inside the lag alarm: with a lag
// alarm of 2 intervals, it is tried again every interval.
func TestRunBackoffCappedByLagAlarm(t *testing.T) {
	e := newEnv(t, "partner", func(c *sim.Config) { c.Tenants = 1; c.EventsPerTenant = 5 })
	bad := e.tenants()[0]
	if err := e.sim.SetFaults(sim.Faults{ForbiddenTenants: []string{bad.ID}}); err != nil {
		t.Fatal(err)
	}
	r := e.run(time.Minute, func(o *poll.Options) { o.LagAlarm = 2 * time.Minute }, nil)
	r.next()
	for i := range 6 {
		r.tick(time.Minute)
		if res := r.next(); res.Err == nil {
			t.Fatalf("read %d: the forbidden tenant was read", i)
		}
	}
	r.stop(map[string]int{})
}

// The lag is computed per tenant after its read: the failing tenant's
// grows and crosses the lag alarm, the healthy one's stays 0; every
// round reports each tenant once.
func TestRunLagPerTenantAndRounds(t *testing.T) {
	e := newEnv(t, "partner", func(c *sim.Config) { c.Tenants = 2; c.EventsPerTenant = 20 })
	bad, good := e.tenants()[0], e.tenants()[1]
	r := e.run(time.Minute, func(o *poll.Options) { o.Workers = 2; o.LagAlarm = 10 * time.Minute }, nil)
	others := map[string]int{}
	r.each(others, bad.ID, good.ID)
	select {
	case rep := <-r.rounds:
		if len(rep.Tenants) != 2 {
			t.Errorf("first round has %d tenants, want 2", len(rep.Tenants))
		}
	case <-time.After(watchdog):
		t.Fatal("no round after every tenant was read")
	}
	if err := e.sim.SetFaults(sim.Faults{ForbiddenTenants: []string{bad.ID}}); err != nil {
		t.Fatal(err)
	}
	var last poll.TenantResult
	for i := 0; i < 40 && !last.Lagging; i++ {
		r.tick(time.Minute)
		for {
			res := r.next()
			if res.TenantID == bad.ID {
				if res.Lag < last.Lag {
					t.Errorf("failing tenant's lag went down from %s to %s", last.Lag, res.Lag)
				}
				last = res
				continue
			}
			if res.Lag != 0 || res.Lagging {
				t.Fatalf("healthy tenant: lag %s lagging %v, want 0", res.Lag, res.Lagging)
			}
			break
		}
	}
	if !last.Lagging || last.Lag <= 10*time.Minute {
		t.Errorf("failing tenant: last lag %s lagging %v, want over the 10m lag alarm", last.Lag, last.Lagging)
	}
	r.stop(others)
}

// hangingList is the source with its tenant list held from its second
// call on, until released.
type hangingList struct {
	*recSource
	mu      sync.Mutex
	calls   int
	held    chan struct{}
	release chan struct{}
}

func (h *hangingList) Tenants(ctx context.Context, who central.Whoami) ([]central.Tenant, error) {
	h.mu.Lock()
	h.calls++
	n := h.calls
	h.mu.Unlock()
	if n == 2 {
		close(h.held)
		select {
		case <-h.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return h.recSource.Tenants(ctx, who)
}

// The tenant list is read again every TenantRefresh inside the
// scheduler: while that read hangs, the tenants known are still read;
// when it ends, added tenants are read and removed ones no more.
func TestRunTenantRefresh(t *testing.T) {
	e := newEnv(t, "partner", func(c *sim.Config) { c.Tenants = 2; c.EventsPerTenant = 10 })
	orig := e.tenants()
	hl := &hangingList{recSource: e.src, held: make(chan struct{}), release: make(chan struct{})}
	r := e.run(time.Minute, func(o *poll.Options) { o.Source = hl; o.TenantRefresh = 5 * time.Minute; o.Workers = 2 }, nil)
	counts := map[string]int{}
	r.each(counts, orig[0].ID, orig[1].ID)
	added := e.sim.AddTenant("Added Ltd", "")
	if !e.sim.RemoveTenant(orig[1].ID) {
		t.Fatal("RemoveTenant")
	}
	// Past TenantRefresh: the list read hangs, the known tenant goes on.
	for range 5 {
		r.tick(time.Minute)
		r.nextOf(orig[0].ID, counts)
	}
	select {
	case <-hl.held:
	case <-time.After(watchdog):
		t.Fatal("the tenant list was not read again after TenantRefresh")
	}
	for range 3 {
		r.tick(time.Minute)
		r.nextOf(orig[0].ID, counts)
	}
	close(hl.release)
	r.nextOf(added.ID, counts) // due at once once listed
	clear(counts)
	for range 3 {
		r.tick(time.Minute)
		r.nextOf(orig[0].ID, counts)
	}
	r.stop(counts)
	if counts[orig[1].ID] != 0 {
		t.Errorf("the removed tenant was read %d times after the list said it is gone", counts[orig[1].ID])
	}
	if counts[added.ID] == 0 {
		t.Errorf("the added tenant was not read again: %v", counts)
	}
}

// A stop during a page finishes and commits that page, starts no other,
// and Run returns.
func TestRunStopFinishesPageInHand(t *testing.T) {
	e := newEnv(t, "partner", func(c *sim.Config) { c.Tenants = 1; c.EventsPerTenant = 200 })
	var cancel func()
	var mu sync.Mutex
	e.src.SetBefore(func(n int, _ central.EventsRequest) {
		if n == 3 {
			mu.Lock()
			cancel()
			mu.Unlock()
		}
	})
	mu.Lock()
	r := e.run(time.Minute, func(o *poll.Options) { o.PageLimit = 10 }, nil)
	cancel = r.cancel
	mu.Unlock()
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		r.done <- nil
	case <-time.After(watchdog):
		t.Fatal("Run did not return after the stop")
	}
	calls := e.src.Calls()
	if len(calls) != 3 || calls[2].err != nil {
		t.Fatalf("%d pages read after a stop during the third, want the third finished and no other", len(calls))
	}
	if st := e.state(e.tenants()[0].ID); st.Cursor != calls[2].page.NextCursor {
		t.Errorf("stored cursor %q, want the page in hand's %q", st.Cursor, calls[2].page.NextCursor)
	}
	select {
	case res := <-r.results:
		t.Errorf("a read cut short by the stop was reported: %+v", res)
	default:
	}
}

// Without a tenant list, ListFailed is told; true stops Run with the
// error.
func TestRunListFailed(t *testing.T) {
	e := newEnv(t, "partner", nil)
	if err := e.sim.SetFaults(sim.Faults{ErrorRate: 1}); err != nil {
		t.Fatal(err)
	}
	var told []error
	r := e.run(time.Minute, nil, func(h *poll.Hooks) {
		h.ListFailed = func(err error) bool { told = append(told, err); return len(told) == 2 }
	})
	// The list is tried again after backoff: move the clock on until it is.
	for {
		r.clk.Advance(time.Minute)
		select {
		case r.timer <- r.clk.Now():
			continue
		case err := <-r.done:
			r.done <- nil
			if err == nil || len(told) != 2 || !errors.Is(err, told[1]) {
				t.Errorf("Run returned %v after ListFailed was told %v, want the second error", err, told)
			}
		case <-time.After(watchdog):
			t.Fatal("Run did not stop when ListFailed said so")
		}
		break
	}
}

// Progress counts the first read of every tenant: in Sweep and in Run's
// first round, ending with Done == Total and the totals of the reads.
func TestProgress(t *testing.T) {
	e := newEnv(t, "partner", func(c *sim.Config) { c.Tenants = 3; c.EventsPerTenant = 40 })
	var mu sync.Mutex
	var seen []poll.Progress
	record := func(o *poll.Options) {
		o.Progress = func(p poll.Progress) { mu.Lock(); seen = append(seen, p); mu.Unlock() }
	}
	rep := e.sweep(e.poller(record))
	_, events, fresh := rep.Totals()
	mu.Lock()
	if len(seen) != 4 || seen[0] != (poll.Progress{Total: 3}) || seen[3] != (poll.Progress{Done: 3, Total: 3, Events: events, Detections: fresh}) {
		t.Errorf("Sweep progress %+v, want 0 to 3 of 3 ending at %d events and %d detections", seen, events, fresh)
	}
	seen = nil
	mu.Unlock()

	r := e.run(time.Minute, record, nil)
	counts := map[string]int{}
	var ids []string
	for _, ti := range e.tenants() {
		ids = append(ids, ti.ID)
	}
	r.each(counts, ids...)
	for range 3 {
		r.tick(time.Minute)
		r.each(counts, ids...)
	}
	r.stop(counts)
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 4 || seen[0].Done != 0 || seen[3].Done != 3 || seen[3].Total != 3 {
		t.Errorf("Run progress %+v, want 0 to 3 of 3 in the first round and nothing after", seen)
	}
}
