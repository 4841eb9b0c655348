package poll_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/central"
	"github.com/puawatch/puawatch/internal/fake/sim"
	"github.com/puawatch/puawatch/internal/poll"
	"github.com/puawatch/puawatch/internal/store"
)

// lostWindows are the store's lost windows of a tenant ("" all).
func (e *env) lostWindows(tenantID string) []store.LostWindow {
	e.t.Helper()
	ws, err := e.st.LostWindows(context.Background(), tenantID)
	if err != nil {
		e.t.Fatalf("LostWindows: %v", err)
	}
	return ws
}

// checkLost checks a tenant's result names the lost window [from, to).
func checkLost(t *testing.T, step string, r poll.TenantResult, from, to time.Time) {
	t.Helper()
	if r.Lost == nil {
		t.Errorf("%s: tenant %s reports no lost window, want [%v, %v)", step, r.TenantName, from, to)
		return
	}
	if !r.Lost.From.Equal(from) || !r.Lost.To.Equal(to) || r.Lost.TenantID != r.TenantID || r.Lost.Reason == "" {
		t.Errorf("%s: tenant %s lost window %+v, want [%v, %v) with a reason", step, r.TenantName, *r.Lost, from, to)
	}
}

// lostIDs are the ids of the tenants Report.Lost lists.
func lostIDs(rep poll.Report) []string {
	var ids []string
	for _, r := range rep.Lost() {
		ids = append(ids, r.TenantID)
	}
	return sorted(ids)
}

// TestLostWindowAfterDowntime: the watcher down for 30 hours. Before it
// reads a tenant again it compares the last complete read with the API's
// 24 hours: the 6 hours between are reported (in the result, in
// Report.Lost, in the store), though the read itself succeeds. A tenant
// that still cannot be read keeps one window, growing; once read, no
// window is reported again.
func TestLostWindowAfterDowntime(t *testing.T) {
	e := newEnv(t, "partner", func(c *sim.Config) { c.Tenants = 2; c.EventsPerTenant = 30 })
	good, bad := e.tenants()[0], e.tenants()[1]
	p := e.poller(nil)
	rep := e.sweep(p)
	noFailures(t, rep)
	if len(rep.Lost()) != 0 {
		t.Fatalf("first sweep reports lost windows: %+v", rep.Lost())
	}
	lastRead := e.clk.Now()

	if err := e.sim.SetFaults(sim.Faults{ForbiddenTenants: []string{bad.ID}}); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(30 * time.Hour)
	fresh := e.inject(good.ID, puaEvent(e.clk.Now().Add(-time.Hour), "AfterTheGap"))[0]
	detected := e.clk.Now()
	rep = e.sweep(p)
	gap := lastRead.Add(30*time.Hour - central.Retention)
	g, b := result(t, rep, good.ID), result(t, rep, bad.ID)
	if g.Err != nil || b.Err == nil {
		t.Fatalf("after the downtime: good tenant error %v, forbidden tenant error %v; want only the forbidden one to fail", g.Err, b.Err)
	}
	checkLost(t, "after 30h", g, lastRead, gap)
	checkLost(t, "after 30h", b, lastRead, gap)
	if got, want := lostIDs(rep), sorted([]string{good.ID, bad.ID}); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("Report.Lost lists %v, want %v", got, want)
	}
	if !e.stored(good.ID)[fresh] {
		t.Error("the detection after the gap was not stored")
	}
	ws := e.lostWindows("")
	if len(ws) != 2 {
		t.Fatalf("store holds %d lost windows %+v, want 2", len(ws), ws)
	}
	for _, w := range ws {
		if !w.From.Equal(lastRead) || !w.To.Equal(gap) || !w.DetectedAt.Equal(detected) || w.Reason == "" {
			t.Errorf("stored lost window %+v, want [%v, %v) detected at %v with a reason", w, lastRead, gap, detected)
		}
	}

	// An hour later: the good tenant lost nothing more; the forbidden one
	// has lost an hour more, in the same window.
	e.clk.Advance(time.Hour)
	rep = e.sweep(p)
	if r := result(t, rep, good.ID); r.Lost != nil || r.Err != nil {
		t.Errorf("an hour after a good read: lost %+v, error %v; want neither", r.Lost, r.Err)
	}
	checkLost(t, "an hour later", result(t, rep, bad.ID), lastRead, gap.Add(time.Hour))
	if ws := e.lostWindows(bad.ID); len(ws) != 1 || !ws[0].To.Equal(gap.Add(time.Hour)) || !ws[0].DetectedAt.Equal(detected) {
		t.Errorf("forbidden tenant's stored windows %+v, want one, to %v, detected at %v", ws, gap.Add(time.Hour), detected)
	}
	if ws := e.lostWindows(good.ID); len(ws) != 1 || !ws[0].To.Equal(gap) {
		t.Errorf("good tenant's stored windows %+v, want the one to %v", ws, gap)
	}

	// Readable again: reported once more (it was not read), then never.
	if err := e.sim.SetFaults(sim.Faults{}); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(5 * time.Minute)
	rep = e.sweep(p)
	noFailures(t, rep)
	checkLost(t, "readable again", result(t, rep, bad.ID), lastRead, gap.Add(time.Hour+5*time.Minute))
	e.clk.Advance(5 * time.Minute)
	rep = e.sweep(p)
	noFailures(t, rep)
	if len(rep.Lost()) != 0 {
		t.Errorf("after both tenants were read, lost windows are reported: %+v", rep.Lost())
	}
	if ws := e.lostWindows(""); len(ws) != 2 {
		t.Errorf("store holds %d lost windows, want 2 (one per tenant): %+v", len(ws), ws)
	}
}

// TestCursorRefusedAsTooOld: an API that answers 400 to a cursor older
// than 24 hours (faults.refuse_old_cursor). The tenant is read again from
// the oldest from_date the API accepts (now less poll.MaxLookback), the
// read succeeds, and the gap up to that from_date is recorded; the next
// sweep reads from the new cursor. Without the fallback the tenant would
// fail at every sweep.
func TestCursorRefusedAsTooOld(t *testing.T) {
	e := newEnv(t, "partner", func(c *sim.Config) { c.Tenants = 2; c.EventsPerTenant = 30 })
	tid := e.tenants()[0].ID
	if err := e.sim.SetFaults(sim.Faults{RefuseOldCursor: true}); err != nil {
		t.Fatal(err)
	}
	p := e.poller(nil)
	noFailures(t, e.sweep(p))
	lastRead := e.clk.Now()

	e.clk.Advance(30 * time.Hour)
	now := e.clk.Now()
	fallback := now.Add(-poll.MaxLookback)
	ids := e.inject(tid, puaEvent(now.Add(-central.Retention+2*time.Minute), "InTheMargin"), puaEvent(now.Add(-time.Hour), "Fresh"))
	inMargin, fresh := ids[0], ids[1]
	n := len(e.src.Calls())
	rep := e.sweep(p)
	noFailures(t, rep)
	for _, ti := range e.tenants() {
		checkLost(t, "cursor refused", result(t, rep, ti.ID), lastRead, fallback)
	}
	stored := e.stored(tid)
	if !stored[fresh] {
		t.Error("the fresh detection was not stored after the fallback")
	}
	if stored[inMargin] {
		t.Error("a detection older than the fallback's from_date was stored: the test's margin is wrong")
	}
	var refused, fellBack int
	for _, c := range e.src.Calls()[n:] {
		var ae *central.APIError
		switch {
		case c.req.Cursor != "" && errors.As(c.err, &ae) && ae.Status == http.StatusBadRequest:
			refused++
		case c.req.Cursor == "" && c.err == nil:
			fellBack++
			if !c.req.FromDate.Equal(fallback) {
				t.Errorf("fallback read of tenant %s from %v, want %v", c.req.Tenant.ID, c.req.FromDate, fallback)
			}
		}
	}
	if refused != 2 || fellBack != 2 {
		t.Errorf("%d cursors refused and %d fallback reads, want 2 of each", refused, fellBack)
	}
	ws := e.lostWindows(tid)
	if len(ws) != 1 || !ws[0].From.Equal(lastRead) || !ws[0].To.Equal(fallback) {
		t.Fatalf("stored lost windows %+v, want one [%v, %v)", ws, lastRead, fallback)
	}

	e.clk.Advance(5 * time.Minute)
	n = len(e.src.Calls())
	rep = e.sweep(p)
	noFailures(t, rep)
	if len(rep.Lost()) != 0 {
		t.Errorf("the sweep after the fallback reports lost windows: %+v", rep.Lost())
	}
	for _, c := range e.src.Calls()[n:] {
		if c.req.Cursor == "" {
			t.Errorf("the sweep after the fallback read tenant %s by from_date, want its new cursor", c.req.Tenant.ID)
		}
	}
}

// TestCursorRefusedWithinRetention: a stored cursor the API refuses (400:
// not one it issued) though the last read is an hour old. The tenant is
// read from its last read instead: nothing is lost, nothing reported.
func TestCursorRefusedWithinRetention(t *testing.T) {
	e := newEnv(t, "partner", func(c *sim.Config) { c.Tenants = 1; c.EventsPerTenant = 20 })
	tid := e.tenants()[0].ID
	lastRead := e.clk.Now().Add(-time.Hour)
	if _, err := e.st.CommitPage(context.Background(), store.PageCommit{TenantID: tid, Cursor: "bm90LWEtY3Vyc29y", EndOfFeed: true, At: lastRead}); err != nil {
		t.Fatal(err)
	}
	missed := e.inject(tid, puaEvent(lastRead.Add(10*time.Minute), "SinceTheLastRead"))[0]
	rep := e.sweep(e.poller(nil))
	noFailures(t, rep)
	if r := result(t, rep, tid); r.Lost != nil {
		t.Errorf("lost window %+v reported, want none", *r.Lost)
	}
	if ws := e.lostWindows(""); len(ws) != 0 {
		t.Errorf("store holds lost windows %+v, want none", ws)
	}
	if !e.stored(tid)[missed] {
		t.Error("the detection since the last read was not stored")
	}
	calls := e.src.Calls()
	if len(calls) < 2 || calls[0].err == nil || calls[1].req.Cursor != "" || !calls[1].req.FromDate.Equal(lastRead) {
		t.Errorf("calls %+v: want the cursor refused, then a read from the last read %v", calls, lastRead)
	}
}
