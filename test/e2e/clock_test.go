package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/app"
	"github.com/puawatch/puawatch/internal/fake/sim"
)

// TestAPIClockSkew: Sophos Central's clock 30 minutes ahead of the
// watcher's (moved with POST /sim/v1/clock, as an operator would) or 30
// minutes behind it, a fresh store. The first read and the overlap
// re-read ask from_date on the API's clock: every run exits 0 and every
// detection is mailed once, among them one 23h40m old on the API's clock
// (inside the lookback) and one that lands 40 minutes behind the cursor,
// 55 minutes old when the overlap re-read runs (inside its hour).
func TestAPIClockSkew(t *testing.T) {
	for _, skew := range []time.Duration{30 * time.Minute, -30 * time.Minute} {
		t.Run(fmt.Sprintf("API clock %+v", skew), func(t *testing.T) {
			clk := &clock{t: time.Now().UTC().Truncate(time.Second)}
			cfg := sim.DefaultConfig()
			cfg.Tenants = 3
			cfg.EventsPerTenant = 40
			cfg.Now = clk.Now
			if skew < 0 {
				cfg.Now = func() time.Time { return clk.Now().Add(skew) }
			}
			r := newRig(t, cfg)
			if skew > 0 {
				resp, err := http.Post(r.srv.GlobalURL+"/sim/v1/clock", "application/json", strings.NewReader(fmt.Sprintf(`{"advance":%q}`, skew)))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("POST /sim/v1/clock: %d", resp.StatusCode)
				}
			}
			apiNow := func() time.Time { return clk.Now().Add(skew) }
			tid := r.sim.Tenants()[0].ID
			inject := func(created time.Time, threat string) string {
				t.Helper()
				ids, err := r.sim.Inject(tid, []sim.Event{{Type: sim.TypeCorePuaDetection, Name: "PUA detected: '" + threat + "' at 'C:\\t\\x.exe'",
					Severity: "medium", Group: "PUA", Location: "WS-CLOCK", Threat: ptr(threat), CreatedAt: created}}, time.Time{})
				if err != nil {
					t.Fatal(err)
				}
				return ids[0]
			}
			early := inject(apiNow().Add(-23*time.Hour-40*time.Minute), "EarlyInLookback")
			inject(apiNow(), "AtTheCursor")

			a, err := app.New(context.Background(), r.config(t), app.Deps{Now: clk.Now, Stdout: io.Discard})
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			check := func(step string, out app.Outcome) {
				t.Helper()
				if code := app.ExitStatus(out, nil); code != 0 {
					t.Fatalf("%s: exit status %d: failed %+v, lost %+v", step, code, out.Report.Failed(), out.Report.Lost())
				}
				want := r.expected(t, nil)
				got, _ := r.delivered(t)
				missing, extra := diff(want, got)
				if len(missing) > 0 || len(extra) > 0 {
					t.Fatalf("%s: %d of %d detections not mailed (%v), %d extra (%v)", step, len(missing), len(want), first(missing), len(extra), first(extra))
				}
				for id, n := range got {
					if n != 1 {
						t.Errorf("%s: detection %s mailed %d times", step, id, n)
					}
				}
			}
			check("first run", once(t, a))
			if got, _ := r.delivered(t); got[early] != 1 {
				t.Fatal("the early detection was not mailed")
			}

			clk.Advance(time.Minute)
			late := inject(apiNow().Add(-40*time.Minute), "LateBehindTheCursor")
			clk.Advance(15 * time.Minute) // poll.overlap_every
			check("overlap run", once(t, a))
			if got, _ := r.delivered(t); got[late] != 1 {
				t.Fatal("the detection behind the cursor was not mailed")
			}
		})
	}
}
