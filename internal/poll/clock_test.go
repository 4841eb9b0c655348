package poll_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/fake/sim"
	"github.com/puawatch/puawatch/internal/poll"
)

// TestClockSkew: Sophos Central's clock 30 minutes ahead of the watcher's,
// or 30 minutes behind it. The first read and the overlap re-read ask
// from_date on the API's clock (told by its Date headers): both succeed
// (no "from_date must be within the last 24 hours"), and every detection
// is stored: one 23h40m old on the API's clock (inside the lookback of
// 23h45m) and one that lands 50 minutes behind the cursor (inside the
// overlap of an hour).
func TestClockSkew(t *testing.T) {
	for _, skew := range []time.Duration{30 * time.Minute, -30 * time.Minute} {
		t.Run(fmt.Sprintf("API clock %+v", skew), func(t *testing.T) {
			e := newEnv(t, "partner", func(c *sim.Config) {
				c.Tenants = 2
				c.EventsPerTenant = 60
				watcher := c.Now
				c.Now = func() time.Time { return watcher().Add(skew) }
			})
			apiNow := func() time.Time { return e.clk.Now().Add(skew) }
			tid := e.tenants()[0].ID
			early := e.inject(tid, puaEvent(apiNow().Add(-23*time.Hour-40*time.Minute), "EarlyInLookback"))[0]
			e.inject(tid, puaEvent(apiNow(), "AtTheCursor"))
			p := e.poller(func(o *poll.Options) {
				o.Overlap = time.Hour
				o.OverlapEvery = 5 * time.Minute
			})

			rep := e.sweep(p)
			noFailures(t, rep)
			want := e.wantAll(apiNow().Add(-poll.DefaultLookback))
			if !want[early] {
				t.Fatal("the simulator does not serve the early detection: the test proves nothing")
			}
			if d := diff(e.stored(""), want); d != "" {
				t.Errorf("first read: %s", d)
			}
			for _, c := range e.src.Calls() {
				if c.req.Cursor == "" {
					if w := apiNow().Add(-poll.DefaultLookback); c.req.FromDate.Sub(w).Abs() > time.Second {
						t.Errorf("first read of tenant %s from %v, want %v (the API's clock less the lookback)", c.req.Tenant.ID, c.req.FromDate, w)
					}
				}
			}

			e.clk.Advance(time.Minute)
			late := e.inject(tid, puaEvent(apiNow().Add(-50*time.Minute), "Late"))[0]
			e.clk.Advance(5 * time.Minute)
			n := len(e.src.Calls())
			rep = e.sweep(p)
			noFailures(t, rep)
			want[late] = true
			if d := diff(e.stored(""), want); d != "" {
				t.Errorf("after the overlap re-read: %s", d)
			}
			e.checkOutbox(want)
			overlaps := 0
			for _, c := range e.src.Calls()[n:] {
				if c.req.Cursor == "" {
					overlaps++
					if w := apiNow().Add(-time.Hour); c.req.FromDate.Sub(w).Abs() > time.Second {
						t.Errorf("overlap re-read of tenant %s from %v, want %v (the API's clock less the overlap)", c.req.Tenant.ID, c.req.FromDate, w)
					}
				}
			}
			if overlaps == 0 {
				t.Error("no overlap re-read")
			}
		})
	}
}
