package poll_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/central"
	"github.com/puawatch/puawatch/internal/fake/sim"
	"github.com/puawatch/puawatch/internal/match"
	"github.com/puawatch/puawatch/internal/poll"
	"github.com/puawatch/puawatch/internal/secret"
	"github.com/puawatch/puawatch/internal/store"
	"github.com/puawatch/puawatch/internal/store/sqlstore"
	"github.com/puawatch/puawatch/internal/store/storetest"
)

// These tests run the poller against real parts: the simulator over
// loopback HTTP, the real central client, the real SQLite store and the
// real matcher. One fake clock drives both the simulator and the poller.

// start is the fake clock's start: a whole second, so from_date (Unix
// seconds) is exact.
var start = time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)

var channels = []string{"email", "jsonl"}

// fakeClock is the time of the simulator and the poller.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// eventsCall is one Events call the poller made.
type eventsCall struct {
	req  central.EventsRequest
	page central.Page
	err  error
}

// recSource is the real client, with the Events calls recorded and a hook
// run before each one.
type recSource struct {
	*central.Client

	mu      sync.Mutex
	started int                                  // Events calls started
	calls   []eventsCall                         // Events calls ended
	before  func(n int, r central.EventsRequest) // run before the n-th Events call (1-based)
}

func (s *recSource) Events(ctx context.Context, req central.EventsRequest) (central.Page, error) {
	s.mu.Lock()
	s.started++
	n, hook := s.started, s.before
	s.mu.Unlock()
	if hook != nil {
		hook(n, req)
	}
	p, err := s.Client.Events(ctx, req)
	s.mu.Lock()
	s.calls = append(s.calls, eventsCall{req: req, page: p, err: err})
	s.mu.Unlock()
	return p, err
}

func (s *recSource) Started() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.started
}

func (s *recSource) Calls() []eventsCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]eventsCall(nil), s.calls...)
}

func (s *recSource) SetBefore(f func(n int, r central.EventsRequest)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.before = f
}

// env is a simulator, a client on one of its credentials and a store.
type env struct {
	t   *testing.T
	clk *fakeClock
	sim *sim.Simulator
	srv *sim.Server
	src *recSource
	st  *sqlstore.Store
}

// newEnv starts a simulator (DefaultConfig changed by mod) and makes a
// client for its idType credential and an empty store.
func newEnv(t *testing.T, idType string, mod func(*sim.Config)) *env {
	t.Helper()
	clk := &fakeClock{now: start}
	cfg := sim.DefaultConfig()
	cfg.Now = clk.Now
	cfg.Tenants = 3
	cfg.EventsPerTenant = 150
	cfg.TokenLifetime = 72 * time.Hour
	if mod != nil {
		mod(&cfg)
	}
	s := sim.New(cfg)
	srv, err := sim.Start(s, sim.ListenOptions{})
	if err != nil {
		t.Fatalf("start simulator: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	cred, ok := s.Credential(idType)
	if !ok {
		t.Fatalf("simulator has no %s credential", idType)
	}
	// The client's connections are closed before the simulator, so that
	// its shutdown does not wait for a connection dialed but never used.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	c, err := central.New(central.Credentials{ClientID: cred.ClientID, ClientSecret: secret.Secret(cred.ClientSecret)},
		central.Options{
			AuthURL:     s.TokenURL(),
			APIURL:      srv.GlobalURL,
			HTTPClient:  &http.Client{Transport: tr},
			NoLimits:    true,
			Now:         clk.Now, // the watcher's clock: the API's is told by its Date headers
			Timeout:     10 * time.Second,
			MaxAttempts: 3,
			BackoffBase: time.Millisecond,
			BackoffMax:  time.Millisecond,
			Sleep: func(ctx context.Context, d time.Duration) error {
				return ctx.Err() // no real waits
			},
		})
	if err != nil {
		t.Fatalf("central.New: %v", err)
	}
	e := &env{t: t, clk: clk, sim: s, srv: srv, src: &recSource{Client: c}}
	e.st = openStore(t)
	return e
}

func openStore(t *testing.T) *sqlstore.Store {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// poller makes a poller on e with test defaults, changed by mod.
func (e *env) poller(mod func(*poll.Options)) *poll.Poller {
	e.t.Helper()
	m, err := match.New(match.Config{})
	if err != nil {
		e.t.Fatalf("match.New: %v", err)
	}
	o := poll.Options{
		Source:    e.src,
		Store:     e.st,
		Matcher:   m,
		Route:     storetest.ToChannels(channels),
		PageLimit: 50,
		Workers:   3,
		Now:       e.clk.Now,
	}
	if mod != nil {
		mod(&o)
	}
	p, err := poll.New(o)
	if err != nil {
		e.t.Fatalf("poll.New: %v", err)
	}
	return p
}

// sweep runs one sweep that must not fail as a whole.
func (e *env) sweep(p *poll.Poller) poll.Report {
	e.t.Helper()
	return e.sweepCtx(context.Background(), p)
}

func (e *env) sweepCtx(ctx context.Context, p *poll.Poller) poll.Report {
	e.t.Helper()
	rep, err := p.Sweep(ctx)
	if err != nil {
		e.t.Fatalf("Sweep: %v", err)
	}
	return rep
}

// tenants are the simulator's tenants.
func (e *env) tenants() []sim.TenantInfo { return e.sim.Tenants() }

// want is the simulator's ground truth: the ids of tenantID's PUA
// detections created at or after since.
func (e *env) want(tenantID string, since time.Time) set {
	e.t.Helper()
	evs, err := e.sim.Events(tenantID)
	if err != nil {
		e.t.Fatalf("sim.Events(%s): %v", tenantID, err)
	}
	out := set{}
	for _, ev := range evs {
		if slices.Contains(sim.DetectionTypes, ev.Type) && !ev.CreatedAt.Before(since) {
			out[ev.ID] = true
		}
	}
	return out
}

// wantAll is want over every current tenant of the simulator.
func (e *env) wantAll(since time.Time) set {
	out := set{}
	for _, ti := range e.tenants() {
		for id := range e.want(ti.ID, since) {
			out[id] = true
		}
	}
	return out
}

// stored are the ids of the detections the store holds (of one tenant,
// or all with "").
func (e *env) stored(tenantID string) set {
	e.t.Helper()
	ds, err := e.st.Detections(context.Background(), store.DetectionFilter{TenantID: tenantID})
	if err != nil {
		e.t.Fatalf("Detections: %v", err)
	}
	out := set{}
	for _, d := range ds {
		if out[d.EventID] {
			e.t.Errorf("detection %s listed twice", d.EventID)
		}
		out[d.EventID] = true
	}
	return out
}

// outbox lists the outbox rows by event id: the channels of each.
func (e *env) outbox() map[string][]string {
	e.t.Helper()
	rows, err := e.st.Outbox(context.Background(), store.OutboxFilter{})
	if err != nil {
		e.t.Fatalf("Outbox: %v", err)
	}
	out := map[string][]string{}
	for _, r := range rows {
		out[r.EventID] = append(out[r.EventID], r.Channel)
	}
	for id := range out {
		sort.Strings(out[id])
	}
	return out
}

// checkOutbox checks there is exactly one row per detection of ids and
// channel, and none other.
func (e *env) checkOutbox(ids set) {
	e.t.Helper()
	ob := e.outbox()
	for id := range ids {
		if got := ob[id]; !slices.Equal(got, channels) {
			e.t.Errorf("outbox rows of detection %s: channels %v, want one row each on %v", id, got, channels)
		}
	}
	var extra []string
	for id := range ob {
		if !ids[id] {
			extra = append(extra, id)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		e.t.Errorf("outbox has rows of %d detections that should have none: %v", len(extra), extra)
	}
}

// state is the stored state of a tenant.
func (e *env) state(tenantID string) store.Tenant {
	e.t.Helper()
	ts, err := e.st.Tenants(context.Background())
	if err != nil {
		e.t.Fatalf("store Tenants: %v", err)
	}
	for _, t := range ts {
		if t.ID == tenantID {
			return t
		}
	}
	e.t.Fatalf("tenant %s is not stored", tenantID)
	return store.Tenant{}
}

// pagesServed is the simulator's count of SIEM pages served.
func (e *env) pagesServed() int64 { return e.sim.Counters().Stats["pages_served"] }

// inject adds events to a tenant of the simulator and returns their ids.
func (e *env) inject(tenantID string, evs ...sim.Event) []string {
	e.t.Helper()
	ids, err := e.sim.Inject(tenantID, evs, time.Time{})
	if err != nil {
		e.t.Fatalf("Inject: %v", err)
	}
	return ids
}

// puaEvent is a PUA detection created at created (zero: now).
func puaEvent(created time.Time, threat string) sim.Event {
	return sim.Event{
		Type: sim.TypeCorePuaDetection, Name: "PUA detected: '" + threat + "' at 'C:\\Users\\bob\\" + threat + ".exe'",
		Severity: "medium", Group: "PUA", Location: "ws-042", Source: `ACME\bob`, Threat: &threat,
		CreatedAt: created,
	}
}

// otherEvent is an event the matcher does not report.
func otherEvent(created time.Time) sim.Event {
	return sim.Event{Type: "Event::Endpoint::UpdateSuccess", Name: "Update succeeded", Severity: "low",
		Group: "UPDATING", Location: "ws-042", CreatedAt: created}
}

// lastPage is the last Events call of tenantID among calls (the cursor
// read, when no overlap read followed).
func lastPage(t *testing.T, calls []eventsCall, tenantID string) central.Page {
	t.Helper()
	for i := len(calls) - 1; i >= 0; i-- {
		if calls[i].req.Tenant.ID == tenantID && calls[i].err == nil {
			return calls[i].page
		}
	}
	t.Fatalf("no successful Events call for tenant %s", tenantID)
	return central.Page{}
}

func result(t *testing.T, rep poll.Report, tenantID string) poll.TenantResult {
	t.Helper()
	for _, r := range rep.Tenants {
		if r.TenantID == tenantID {
			return r
		}
	}
	t.Fatalf("report has no result for tenant %s: %+v", tenantID, rep.Tenants)
	return poll.TenantResult{}
}

func reportIDs(rep poll.Report) []string {
	var ids []string
	for _, r := range rep.Tenants {
		ids = append(ids, r.TenantID)
	}
	sort.Strings(ids)
	return ids
}

type set map[string]bool

func setOf(ids ...string) set {
	s := set{}
	for _, id := range ids {
		s[id] = true
	}
	return s
}

// diff says how got differs from want, or "" when they are equal.
func diff(got, want set) string {
	var missing, extra []string
	for id := range want {
		if !got[id] {
			missing = append(missing, id)
		}
	}
	for id := range got {
		if !want[id] {
			extra = append(extra, id)
		}
	}
	if len(missing) == 0 && len(extra) == 0 {
		return ""
	}
	sort.Strings(missing)
	sort.Strings(extra)
	return fmt.Sprintf("%d missing %v, %d unexpected %v (got %d, want %d)", len(missing), missing, len(extra), extra, len(got), len(want))
}

func noFailures(t *testing.T, rep poll.Report) {
	t.Helper()
	for _, r := range rep.Failed() {
		t.Errorf("tenant %s (%s) failed: %v", r.TenantName, r.TenantID, r.Err)
	}
	if rep.Stopped {
		t.Errorf("report says stopped, but nothing stopped the sweep")
	}
}

// 1. A first sweep stores exactly the PUA detections, with their outbox
// rows and every tenant's cursor; a second one reads from the cursors and
// stores nothing new.
func TestFirstSweepStoresEveryDetection(t *testing.T) {
	e := newEnv(t, "partner", func(c *sim.Config) { c.Tenants = 4 })
	p := e.poller(nil)
	ctx := context.Background()

	rep := e.sweep(p)
	noFailures(t, rep)
	if len(rep.Tenants) != 4 {
		t.Fatalf("report has %d tenants, want the simulator's 4: %v", len(rep.Tenants), reportIDs(rep))
	}
	want := e.wantAll(time.Time{})
	if len(want) == 0 {
		t.Fatal("the simulator generated no detection: the test proves nothing")
	}
	if d := diff(e.stored(""), want); d != "" {
		t.Errorf("stored detections differ from the simulator's: %s", d)
	}
	e.checkOutbox(want)
	_, events, fresh := rep.Totals()
	if fresh != len(want) {
		t.Errorf("report counts %d new detections, want %d", fresh, len(want))
	}
	allEvents := 0
	calls := e.src.Calls()
	for _, ti := range e.tenants() {
		evs, _ := e.sim.Events(ti.ID)
		allEvents += len(evs)
		if d := diff(e.stored(ti.ID), e.want(ti.ID, time.Time{})); d != "" {
			t.Errorf("tenant %s: %s", ti.Name, d)
		}
		r := result(t, rep, ti.ID)
		if r.TenantName != ti.Name {
			t.Errorf("tenant %s reported as %q, want %q", ti.ID, r.TenantName, ti.Name)
		}
		st := e.state(ti.ID)
		if st.Cursor == "" {
			t.Errorf("tenant %s: no cursor stored after a full read", ti.Name)
		} else if last := lastPage(t, calls, ti.ID); st.Cursor != last.NextCursor || last.HasMore {
			t.Errorf("tenant %s: stored cursor %q, want the last page's next_cursor %q (has_more %v)", ti.Name, st.Cursor, last.NextCursor, last.HasMore)
		}
		if !st.LastRead.Equal(start) {
			t.Errorf("tenant %s: LastRead %v, want the sweep's time %v", ti.Name, st.LastRead, start)
		}
		if st.LastError != "" || st.Removed || st.Name != ti.Name || st.APIHost != ti.APIHost || st.Region != ti.Region {
			t.Errorf("tenant %s: stored as %+v", ti.Name, st)
		}
	}
	if events != allEvents {
		t.Errorf("report counts %d events read, want all %d of the simulator", events, allEvents)
	}
	// The detections are stored as the matcher made them.
	ds, err := e.st.Detections(ctx, store.DetectionFilter{Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.Kind != store.KindDetection || d.TenantName == "" || d.CreatedAt.IsZero() || !d.SeenAt.Equal(start) || len(d.Raw) == 0 {
			t.Errorf("detection stored as %+v", d)
		}
	}

	// Second sweep: one page per tenant, from the stored cursor; nothing new.
	cursors := map[string]string{}
	for _, ti := range e.tenants() {
		cursors[ti.ID] = e.state(ti.ID).Cursor
	}
	before, nCalls := e.pagesServed(), len(calls)
	e.clk.Advance(time.Minute)
	rep = e.sweep(p)
	noFailures(t, rep)
	pages, events, fresh := rep.Totals()
	if fresh != 0 || events != 0 || pages != 4 {
		t.Errorf("second sweep: %d pages, %d events, %d new; want 4 pages (one per tenant), 0 events, 0 new", pages, events, fresh)
	}
	if got := e.pagesServed() - before; got != 4 {
		t.Errorf("second sweep: the simulator served %d pages, want 4", got)
	}
	for _, c := range e.src.Calls()[nCalls:] {
		if c.req.Cursor == "" || c.req.Cursor != cursors[c.req.Tenant.ID] || !c.req.FromDate.IsZero() {
			t.Errorf("second sweep read tenant %s from cursor %q and from_date %v, want the stored cursor %q", c.req.Tenant.ID, c.req.Cursor, c.req.FromDate, cursors[c.req.Tenant.ID])
		}
	}
	if d := diff(e.stored(""), want); d != "" {
		t.Errorf("after the second sweep: %s", d)
	}
	e.checkOutbox(want)
	for _, ti := range e.tenants() {
		if st := e.state(ti.ID); !st.LastRead.Equal(start.Add(time.Minute)) {
			t.Errorf("tenant %s: LastRead %v after the second sweep, want %v", ti.Name, st.LastRead, start.Add(time.Minute))
		}
	}
}

// 2. Ties on created_at at page edges and replayed items do not lose or
// double a detection.
func TestTiesAndReplays(t *testing.T) {
	e := newEnv(t, "partner", func(c *sim.Config) {
		c.Tenants = 2
		c.EventsPerTenant = 300
		c.TieShare = 0.5
		c.Faults.ReplayRate = 0.5
	})
	p := e.poller(func(o *poll.Options) { o.PageLimit = 7 })
	rep := e.sweep(p)
	noFailures(t, rep)

	all := 0
	ties := 0
	for _, ti := range e.tenants() {
		evs, _ := e.sim.Events(ti.ID)
		all += len(evs)
		for i := 1; i < len(evs); i++ {
			if evs[i].CreatedAt.Equal(evs[i-1].CreatedAt) {
				ties++
			}
		}
	}
	if ties == 0 {
		t.Fatal("the simulator made no ties: the test proves nothing")
	}
	_, events, fresh := rep.Totals()
	if events <= all {
		t.Fatalf("read %d events of %d: no page was replayed, the test proves nothing", events, all)
	}
	want := e.wantAll(time.Time{})
	if d := diff(e.stored(""), want); d != "" {
		t.Errorf("stored detections differ from the simulator's: %s", d)
	}
	if fresh != len(want) {
		t.Errorf("report counts %d new detections, want %d: a replayed item was counted twice", fresh, len(want))
	}
	e.checkOutbox(want)
	for _, ti := range e.tenants() {
		if st := e.state(ti.ID); st.Cursor == "" || st.LastRead.IsZero() {
			t.Errorf("tenant %s not read to the end: %+v", ti.Name, st)
		}
	}

	// Nothing more comes on a second sweep.
	e.clk.Advance(time.Minute)
	rep = e.sweep(p)
	noFailures(t, rep)
	if _, _, fresh := rep.Totals(); fresh != 0 {
		t.Errorf("second sweep stored %d new detections, want 0", fresh)
	}
	e.checkOutbox(want)
}

// 3. Initial "silent": the first read stores without notifying; what comes
// afterwards is notified.
func TestInitialSilent(t *testing.T) {
	t.Run("first read", func(t *testing.T) {
		e := newEnv(t, "partner", nil)
		p := e.poller(func(o *poll.Options) { o.Initial = "silent" })
		rep := e.sweep(p)
		noFailures(t, rep)
		first := e.wantAll(time.Time{})
		if len(first) == 0 {
			t.Fatal("no detection in the backlog: the test proves nothing")
		}
		if d := diff(e.stored(""), first); d != "" {
			t.Errorf("first read: %s", d)
		}
		if ob := e.outbox(); len(ob) != 0 {
			t.Errorf("first read in silent mode made outbox rows for %d detections, want none", len(ob))
		}

		e.clk.Advance(time.Minute)
		tid := e.tenants()[1].ID
		ids := e.inject(tid, puaEvent(time.Time{}, "Later1"), otherEvent(time.Time{}), puaEvent(time.Time{}, "Later2"))
		later := setOf(ids[0], ids[2])
		e.clk.Advance(time.Minute)
		rep = e.sweep(p)
		noFailures(t, rep)
		if r := result(t, rep, tid); r.New != 2 {
			t.Errorf("second sweep: tenant stored %d new detections, want 2", r.New)
		}
		e.checkOutbox(later)
		if d := diff(e.stored(""), e.wantAll(time.Time{})); d != "" {
			t.Errorf("after the second sweep: %s", d)
		}
	})

	// A first read that is stopped half-way stays silent to its end.
	t.Run("first read stopped", func(t *testing.T) {
		e := newEnv(t, "partner", func(c *sim.Config) { c.Tenants = 1; c.EventsPerTenant = 200 })
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		p := e.poller(func(o *poll.Options) {
			o.Initial = "silent"
			o.PageLimit = 10
			o.OnCommit = func(central.Tenant, []store.Detection) { cancel() }
		})
		rep := e.sweepCtx(ctx, p)
		if !rep.Stopped {
			t.Fatalf("the first sweep was not stopped: the test proves nothing")
		}
		tid := e.tenants()[0].ID
		if st := e.state(tid); st.Cursor == "" || !st.LastRead.IsZero() {
			t.Fatalf("after the stopped first sweep the tenant is %+v, want a cursor and no LastRead", st)
		}
		e.clk.Advance(time.Minute)
		rep = e.sweep(p)
		noFailures(t, rep)
		if d := diff(e.stored(""), e.wantAll(time.Time{})); d != "" {
			t.Errorf("after the first read: %s", d)
		}
		if ob := e.outbox(); len(ob) != 0 {
			t.Errorf("the rest of the first read made outbox rows for %d detections, want none (initial silent)", len(ob))
		}
		ids := e.inject(tid, puaEvent(time.Time{}, "Later"))
		e.clk.Advance(time.Minute)
		noFailures(t, e.sweep(p))
		e.checkOutbox(setOf(ids...))
	})
}

// 4. The first read starts Lookback back.
func TestLookback(t *testing.T) {
	e := newEnv(t, "partner", func(c *sim.Config) { c.Tenants = 2; c.EventsPerTenant = 200 })
	tid := e.tenants()[0].ID
	ids := e.inject(tid,
		puaEvent(start.Add(-3*time.Hour), "TooOld"),
		puaEvent(start.Add(-2*time.Hour-time.Second), "JustTooOld"),
		puaEvent(start.Add(-2*time.Hour+time.Second), "JustInside"),
		puaEvent(start.Add(-time.Hour), "Inside"))
	old, inside := setOf(ids[:2]...), setOf(ids[2:]...)
	p := e.poller(func(o *poll.Options) { o.Lookback = 2 * time.Hour })
	rep := e.sweep(p)
	noFailures(t, rep)

	for _, c := range e.src.Calls() {
		if c.req.Cursor == "" && !c.req.FromDate.Equal(start.Add(-2*time.Hour)) {
			t.Errorf("first page of tenant %s asked from %v, want %v", c.req.Tenant.ID, c.req.FromDate, start.Add(-2*time.Hour))
		}
	}
	got := e.stored("")
	for id := range old {
		if got[id] {
			t.Errorf("detection %s older than the lookback was stored", id)
		}
	}
	for id := range inside {
		if !got[id] {
			t.Errorf("detection %s inside the lookback was not stored", id)
		}
	}
	want := e.wantAll(start.Add(-2 * time.Hour))
	if len(want) <= len(inside) {
		t.Fatalf("no backlog detection inside the lookback: the test proves little")
	}
	if d := diff(got, want); d != "" {
		t.Errorf("stored detections differ from the simulator's of the last 2 hours: %s", d)
	}
	e.checkOutbox(want)
}

// 5. The overlap re-read finds what landed behind the cursor; without it,
// such a detection is missed. It neither moves the cursor nor doubles a
// detection.
func TestOverlap(t *testing.T) {
	// setup reads the backlog and a fresh detection at the current time
	// (so the cursor is at "now"), then injects a detection created 10
	// minutes before: behind the cursor.
	setup := func(t *testing.T, overlap time.Duration) (e *env, p *poll.Poller, tid, late string, before set) {
		e = newEnv(t, "partner", func(c *sim.Config) { c.Tenants = 2 })
		tid = e.tenants()[0].ID
		e.inject(tid, puaEvent(start, "AtTheCursor"))
		p = e.poller(func(o *poll.Options) {
			o.Overlap = overlap
			o.OverlapEvery = 5 * time.Minute
		})
		noFailures(t, e.sweep(p))
		before = e.wantAll(time.Time{})
		if d := diff(e.stored(""), before); d != "" {
			t.Fatalf("first sweep: %s", d)
		}
		e.clk.Advance(time.Minute)
		late = e.inject(tid, puaEvent(e.clk.Now().Add(-10*time.Minute), "Late"))[0]
		e.clk.Advance(5 * time.Minute) // past OverlapEvery
		return e, p, tid, late, before
	}

	t.Run("without overlap the late detection is missed", func(t *testing.T) {
		e, p, tid, late, before := setup(t, 0)
		rep := e.sweep(p)
		noFailures(t, rep)
		if !e.want(tid, time.Time{})[late] {
			t.Fatal("the simulator does not hold the late detection")
		}
		if r := result(t, rep, tid); r.Pages != 1 || r.New != 0 {
			t.Errorf("tenant read %d pages and stored %d, want 1 page (the cursor's) and nothing", r.Pages, r.New)
		}
		if e.stored("")[late] {
			t.Fatal("the late detection was found without the overlap re-read: the simulator's cursor did not pass it and this test proves nothing")
		}
		if d := diff(e.stored(""), before); d != "" {
			t.Errorf("%s", d)
		}
	})

	t.Run("with overlap", func(t *testing.T) {
		e, p, tid, late, before := setup(t, time.Hour)
		cursor := e.state(tid).Cursor
		nCalls := len(e.src.Calls())
		rep := e.sweep(p)
		noFailures(t, rep)
		r := result(t, rep, tid)
		if r.New != 1 {
			t.Errorf("tenant stored %d new detections, want 1 (the late one)", r.New)
		}
		if r.Pages < 2 || r.Events < 2 {
			t.Errorf("tenant read %d pages with %d events: want the cursor's page and an overlap page re-reading known events too", r.Pages, r.Events)
		}
		want := set{late: true}
		for id := range before {
			want[id] = true
		}
		if d := diff(e.stored(""), want); d != "" {
			t.Errorf("after the overlap re-read: %s", d)
		}
		e.checkOutbox(want)
		st := e.state(tid)
		if st.Cursor != cursor {
			t.Errorf("the overlap re-read moved the cursor from %q to %q", cursor, st.Cursor)
		}
		if !st.OverlapAt.Equal(e.clk.Now()) {
			t.Errorf("OverlapAt %v, want %v", st.OverlapAt, e.clk.Now())
		}
		var overlapReqs int
		for _, c := range e.src.Calls()[nCalls:] {
			if c.req.Tenant.ID == tid && c.req.Cursor == "" {
				overlapReqs++
				if from := e.clk.Now().Add(-time.Hour); !c.req.FromDate.Equal(from) {
					t.Errorf("overlap re-read from %v, want %v", c.req.FromDate, from)
				}
			}
		}
		if overlapReqs != 1 {
			t.Errorf("%d overlap re-reads of the tenant, want 1", overlapReqs)
		}

		// Before OverlapEvery has passed again: no re-read.
		e.clk.Advance(time.Minute)
		rep = e.sweep(p)
		noFailures(t, rep)
		if r := result(t, rep, tid); r.Pages != 1 {
			t.Errorf("a minute after the re-read the tenant read %d pages, want 1 (no overlap re-read before OverlapEvery)", r.Pages)
		}
		// After: a re-read that finds nothing new and doubles nothing.
		e.clk.Advance(5 * time.Minute)
		rep = e.sweep(p)
		noFailures(t, rep)
		if r := result(t, rep, tid); r.Pages != 2 || r.New != 0 {
			t.Errorf("after OverlapEvery the tenant read %d pages and stored %d, want 2 pages and nothing new", r.Pages, r.New)
		}
		if d := diff(e.stored(""), want); d != "" {
			t.Errorf("after the second re-read: %s", d)
		}
		e.checkOutbox(want)
		if st := e.state(tid); st.Cursor != cursor {
			t.Errorf("the cursor moved from %q to %q though no new event came", cursor, st.Cursor)
		}
		// An overlap window without any event: its read ends at the
		// window's start, which must not become the cursor.
		e.clk.Advance(2 * time.Hour)
		rep = e.sweep(p)
		noFailures(t, rep)
		if r := result(t, rep, tid); r.Pages != 2 || r.Events != 0 {
			t.Errorf("2 hours on the tenant read %d pages with %d events, want 2 empty pages", r.Pages, r.Events)
		}
		if st := e.state(tid); st.Cursor != cursor {
			t.Errorf("an empty overlap re-read moved the cursor from %q to %q", cursor, st.Cursor)
		}
	})
}

// 6. Include and exclude select tenants by id or by name glob, in any case.
func TestIncludeExclude(t *testing.T) {
	e := newEnv(t, "partner", func(c *sim.Config) { c.Tenants = 5; c.EventsPerTenant = 20 })
	ts := e.tenants()
	// An ASCII name, so that upper-casing it is plain.
	var named sim.TenantInfo
	for _, ti := range ts {
		if isASCII(ti.Name) && len(ti.Name) >= 4 {
			named = ti
			break
		}
	}
	if named.ID == "" {
		t.Fatalf("no ASCII tenant name among %v", ts)
	}
	prefix := strings.ToLower(named.Name[:3])
	var byPrefix []string
	for _, ti := range ts {
		if strings.HasPrefix(strings.ToLower(ti.Name), prefix) {
			byPrefix = append(byPrefix, ti.ID)
		}
	}
	ids := func(pick func(sim.TenantInfo) bool) []string {
		var out []string
		for _, ti := range ts {
			if pick(ti) {
				out = append(out, ti.ID)
			}
		}
		sort.Strings(out)
		return out
	}
	sort.Strings(byPrefix)
	other := ts[0]
	if other.ID == named.ID {
		other = ts[1]
	}

	cases := []struct {
		name             string
		include, exclude []string
		want             []string
	}{
		{"everyone", nil, nil, ids(func(sim.TenantInfo) bool { return true })},
		{"include name in upper case", []string{strings.ToUpper(named.Name)}, nil, []string{named.ID}},
		{"include glob in mixed case", []string{strings.ToUpper(prefix[:1]) + prefix[1:] + "*"}, nil, byPrefix},
		{"include id", []string{other.ID}, nil, []string{other.ID}},
		{"include id and name", []string{other.ID, strings.ToLower(named.Name)}, nil, ids(func(ti sim.TenantInfo) bool { return ti.ID == other.ID || ti.ID == named.ID })},
		{"exclude id", nil, []string{other.ID}, ids(func(ti sim.TenantInfo) bool { return ti.ID != other.ID })},
		{"exclude name glob", []string{"*"}, []string{strings.ToUpper(named.Name[:len(named.Name)-1]) + "?"}, ids(func(ti sim.TenantInfo) bool { return ti.ID != named.ID })},
		{"exclude wins over include", []string{other.ID, named.ID}, []string{strings.ToLower(named.Name)}, []string{other.ID}},
		{"include nothing that exists", []string{"no such tenant*"}, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.st = openStore(t)
			e.src.mu.Lock()
			e.src.calls = nil
			e.src.mu.Unlock()
			p := e.poller(func(o *poll.Options) { o.Include, o.Exclude = tc.include, tc.exclude })
			rep := e.sweep(p)
			noFailures(t, rep)
			if got := reportIDs(rep); !slices.Equal(got, tc.want) {
				t.Errorf("read tenants %v, want %v", got, tc.want)
			}
			read := map[string]bool{}
			for _, c := range e.src.Calls() {
				read[c.req.Tenant.ID] = true
			}
			if d := diff(read, setOf(tc.want...)); d != "" {
				t.Errorf("events read of tenants: %s", d)
			}
			stored, err := e.st.Tenants(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var live []string
			for _, s := range stored {
				if !s.Removed {
					live = append(live, s.ID)
				}
			}
			if !slices.Equal(live, tc.want) && !(len(live) == 0 && len(tc.want) == 0) {
				t.Errorf("stored tenants %v, want %v", live, tc.want)
			}
			want := set{}
			for _, id := range tc.want {
				for d := range e.want(id, time.Time{}) {
					want[d] = true
				}
			}
			if d := diff(e.stored(""), want); d != "" {
				t.Errorf("stored detections: %s", d)
			}
		})
	}
}

// Tenant ids in include and exclude are patterns too, compared without
// regard to case, as the configuration documents (config.Tenants: patterns
// "are compared to both the tenant id and the tenant name").
func TestIncludeExcludeIDPatterns(t *testing.T) {
	e := newEnv(t, "partner", func(c *sim.Config) { c.Tenants = 3; c.EventsPerTenant = 10 })
	ts := e.tenants()
	a, b := ts[0], ts[1]
	cases := []struct {
		name             string
		include, exclude []string
		want             []string
	}{
		{"include id in upper case", []string{strings.ToUpper(a.ID)}, nil, []string{a.ID}},
		{"include id glob", []string{a.ID[:13] + "*"}, nil, []string{a.ID}},
		{"exclude id in upper case", nil, []string{strings.ToUpper(b.ID)}, sorted([]string{a.ID, ts[2].ID})},
		{"exclude id glob", nil, []string{b.ID[:13] + "*"}, sorted([]string{a.ID, ts[2].ID})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.st = openStore(t)
			p := e.poller(func(o *poll.Options) { o.Include, o.Exclude = tc.include, tc.exclude })
			rep := e.sweep(p)
			noFailures(t, rep)
			if got := reportIDs(rep); !slices.Equal(got, tc.want) {
				t.Errorf("BUG: include %q exclude %q read tenants %v, want %v as the configuration documents and its "+
					"documentation say: poll.matchTenant compares a pattern to the tenant id only with == "+
					"(case-sensitive, no glob)", tc.include, tc.exclude, got, tc.want)
			}
		})
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 || s[i] == '*' || s[i] == '?' || s[i] == '[' || s[i] == '\\' {
			return false
		}
	}
	return true
}

// 7. A tenant that cannot be read does not hold up the others.
func TestFailingTenant(t *testing.T) {
	var bad sim.TenantInfo
	e := newEnv(t, "partner", func(c *sim.Config) { c.Tenants = 4 })
	bad = e.tenants()[2]
	if err := e.sim.SetFaults(sim.Faults{ForbiddenTenants: []string{bad.ID}}); err != nil {
		t.Fatal(err)
	}
	p := e.poller(func(o *poll.Options) { o.Workers = 2 })
	rep := e.sweep(p)
	if rep.Stopped {
		t.Error("report says stopped")
	}
	failed := rep.Failed()
	if len(failed) != 1 || failed[0].TenantID != bad.ID {
		t.Fatalf("failed tenants %+v, want only %s", failed, bad.ID)
	}
	r := failed[0]
	if r.TenantName != bad.Name {
		t.Errorf("failed tenant named %q, want %q", r.TenantName, bad.Name)
	}
	var ae *central.APIError
	if !errors.As(r.Err, &ae) || ae.Status != 403 || ae.TenantID != bad.ID {
		t.Errorf("failed tenant's error %v (%T), want a 403 APIError of tenant %s", r.Err, r.Err, bad.ID)
	}
	if !strings.Contains(r.Err.Error(), "403") {
		t.Errorf("error %q does not name the 403", r.Err)
	}
	st := e.state(bad.ID)
	if !strings.Contains(st.LastError, "403") || !st.ErrorAt.Equal(start) || st.Cursor != "" || !st.LastRead.IsZero() {
		t.Errorf("failed tenant stored as %+v, want LastError naming the 403 at %v and no progress", st, start)
	}
	want := set{}
	for _, ti := range e.tenants() {
		if ti.ID == bad.ID {
			continue
		}
		if st := e.state(ti.ID); st.LastError != "" || !st.LastRead.Equal(start) || st.Cursor == "" {
			t.Errorf("tenant %s stored as %+v, want read to the end", ti.Name, st)
		}
		for id := range e.want(ti.ID, time.Time{}) {
			want[id] = true
		}
	}
	if d := diff(e.stored(""), want); d != "" {
		t.Errorf("detections of the other tenants: %s", d)
	}
	e.checkOutbox(want)

	// The access comes back: the tenant is read and its error cleared.
	if err := e.sim.SetFaults(sim.Faults{}); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(time.Minute)
	rep = e.sweep(p)
	noFailures(t, rep)
	if st := e.state(bad.ID); st.LastError != "" || st.LastRead.IsZero() {
		t.Errorf("after access came back the tenant is stored as %+v", st)
	}
	if d := diff(e.stored(""), e.wantAll(time.Time{})); d != "" {
		t.Errorf("after access came back: %s", d)
	}
}

// 8. A tenant unread for longer than LagAlarm is reported lagging.
func TestLagAlarm(t *testing.T) {
	e := newEnv(t, "partner", func(c *sim.Config) { c.Tenants = 2; c.EventsPerTenant = 30 })
	bad, good := e.tenants()[0], e.tenants()[1]
	if err := e.sim.SetFaults(sim.Faults{ForbiddenTenants: []string{bad.ID}}); err != nil {
		t.Fatal(err)
	}
	p := e.poller(func(o *poll.Options) { o.LagAlarm = time.Hour })

	check := func(step string, rep poll.Report, badLag time.Duration, badLagging bool) {
		t.Helper()
		b, g := result(t, rep, bad.ID), result(t, rep, good.ID)
		if b.Err == nil {
			t.Errorf("%s: the forbidden tenant did not fail", step)
		}
		if b.Lag != badLag || b.Lagging != badLagging {
			t.Errorf("%s: failing tenant lag %v lagging %v, want %v and %v", step, b.Lag, b.Lagging, badLag, badLagging)
		}
		if g.Err != nil || g.Lag != 0 || g.Lagging {
			t.Errorf("%s: good tenant err %v lag %v lagging %v, want read with no lag", step, g.Err, g.Lag, g.Lagging)
		}
		var lagging []string
		for _, r := range rep.Lagging() {
			lagging = append(lagging, r.TenantID)
		}
		if want := map[bool][]string{true: {bad.ID}}[badLagging]; !slices.Equal(lagging, want) {
			t.Errorf("%s: Lagging() lists %v, want %v", step, lagging, want)
		}
	}
	check("first sweep", e.sweep(p), 0, false)
	e.clk.Advance(59 * time.Minute)
	check("after 59 minutes", e.sweep(p), 59*time.Minute, false)
	e.clk.Advance(2 * time.Minute)
	check("after 61 minutes", e.sweep(p), 61*time.Minute, true)

	// Read again: the lag is gone.
	if err := e.sim.SetFaults(sim.Faults{}); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(time.Minute)
	rep := e.sweep(p)
	noFailures(t, rep)
	if l := rep.Lagging(); len(l) != 0 {
		t.Errorf("after a good read, lagging: %+v", l)
	}
}

// 9. Stopping a sweep finishes the page in hand, starts no other and
// leaves the store consistent; a later sweep completes the feed.
func TestGracefulStop(t *testing.T) {
	// checkConsistent checks the store holds exactly the detections of the
	// pages read (each with its outbox rows) and the cursor of the last.
	checkConsistent := func(t *testing.T, e *env, calls []eventsCall) {
		t.Helper()
		m, _ := match.New(match.Config{})
		read := set{}
		last := map[string]central.Page{}
		for _, c := range calls {
			if c.err != nil {
				continue
			}
			last[c.req.Tenant.ID] = c.page
			for _, ev := range c.page.Items {
				if _, ok := m.Match(ev); ok {
					read[ev.ID] = true
				}
			}
		}
		if d := diff(e.stored(""), read); d != "" {
			t.Errorf("stored detections differ from those of the pages read: %s", d)
		}
		e.checkOutbox(read)
		for _, ti := range e.tenants() {
			st := e.state(ti.ID)
			pg, ok := last[ti.ID]
			if !ok {
				if st.Cursor != "" {
					t.Errorf("tenant %s was not read but has cursor %q", ti.Name, st.Cursor)
				}
				continue
			}
			if st.Cursor != pg.NextCursor {
				t.Errorf("tenant %s: stored cursor %q, want the last page's %q", ti.Name, st.Cursor, pg.NextCursor)
			}
			if st.LastRead.IsZero() == !pg.HasMore {
				t.Errorf("tenant %s: LastRead %v though the last page read had has_more %v", ti.Name, st.LastRead, pg.HasMore)
			}
		}
	}
	// complete sweeps again and checks every detection is there once.
	complete := func(t *testing.T, e *env, p *poll.Poller, before int) {
		t.Helper()
		e.clk.Advance(time.Minute)
		rep := e.sweep(p)
		noFailures(t, rep)
		want := e.wantAll(time.Time{})
		if d := diff(e.stored(""), want); d != "" {
			t.Errorf("after the later sweep: %s", d)
		}
		e.checkOutbox(want)
		if _, _, fresh := rep.Totals(); before+fresh != len(want) {
			t.Errorf("%d detections new before the stop and %d after, want %d in all", before, fresh, len(want))
		}
	}

	t.Run("stop after a commit", func(t *testing.T) {
		e := newEnv(t, "partner", func(c *sim.Config) { c.Tenants = 3; c.EventsPerTenant = 200 })
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var mu sync.Mutex
		startedAtStop, commits, fresh := -1, 0, 0
		p := e.poller(func(o *poll.Options) {
			o.PageLimit = 10
			o.Workers = 1
			o.OnCommit = func(_ central.Tenant, ds []store.Detection) {
				mu.Lock()
				defer mu.Unlock()
				commits++
				fresh += len(ds)
				if startedAtStop < 0 {
					startedAtStop = e.src.Started()
					cancel()
				}
			}
		})
		rep := e.sweepCtx(ctx, p)
		if !rep.Stopped {
			t.Fatal("report does not say stopped")
		}
		if commits != 1 {
			t.Errorf("%d commits after the stop was asked for, want 1 (the page in hand)", commits)
		}
		if n := e.src.Started(); n != startedAtStop {
			t.Errorf("%d Events calls started after the stop: no new page may start", n-startedAtStop)
		}
		calls := e.src.Calls()
		stoppedAt := calls[len(calls)-1].req.Tenant.ID
		for _, r := range rep.Tenants {
			if r.Err == nil {
				t.Errorf("tenant %s reported as read to the end", r.TenantName)
			}
			if r.TenantID == stoppedAt && r.Pages != len(calls) {
				t.Errorf("stopped tenant reports %d pages, %d were read", r.Pages, len(calls))
			}
		}
		if len(rep.Tenants) != 3 {
			t.Errorf("report has %d tenants, want all 3 (those not read with an error)", len(rep.Tenants))
		}
		checkConsistent(t, e, calls)
		if st := e.state(stoppedAt); st.LastError != "" {
			t.Errorf("a stop is stored as an error of the tenant: %q", st.LastError)
		}
		_, _, n := rep.Totals()
		if n != fresh {
			t.Errorf("report counts %d new, OnCommit saw %d", n, fresh)
		}
		complete(t, e, p, n)
	})

	t.Run("stop during a page", func(t *testing.T) {
		e := newEnv(t, "partner", func(c *sim.Config) {
			c.Tenants = 1
			c.EventsPerTenant = 200
			c.Faults.Latency = sim.Duration(5 * time.Millisecond)
		})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		e.src.SetBefore(func(n int, _ central.EventsRequest) {
			if n == 3 {
				cancel() // while the third page is in hand
			}
		})
		p := e.poller(func(o *poll.Options) { o.PageLimit = 10 })
		rep := e.sweepCtx(ctx, p)
		e.src.SetBefore(nil)
		if !rep.Stopped {
			t.Fatal("report does not say stopped")
		}
		calls := e.src.Calls()
		if len(calls) != 3 || calls[2].err != nil {
			t.Fatalf("%d pages read after a stop during the third (last error %v), want the third finished and no other", len(calls), calls[len(calls)-1].err)
		}
		if r := rep.Tenants[0]; r.Pages != 3 || r.Err == nil {
			t.Errorf("tenant reports %d pages and error %v, want 3 and a stop", r.Pages, r.Err)
		}
		checkConsistent(t, e, calls)
		_, _, n := rep.Totals()
		complete(t, e, p, n)
	})

	t.Run("stop grace runs out", func(t *testing.T) {
		e := newEnv(t, "partner", func(c *sim.Config) { c.Tenants = 1; c.EventsPerTenant = 200 })
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		e.src.SetBefore(func(n int, _ central.EventsRequest) {
			if n == 2 {
				// The page in hand never comes: StopGrace ends it.
				if err := e.sim.SetFaults(sim.Faults{HangRate: 1}); err != nil {
					t.Error(err)
				}
				cancel()
			}
		})
		p := e.poller(func(o *poll.Options) { o.PageLimit = 10; o.StopGrace = 50 * time.Millisecond })
		done := make(chan poll.Report, 1)
		go func() {
			rep, err := p.Sweep(ctx)
			if err != nil {
				t.Errorf("Sweep: %v", err)
			}
			done <- rep
		}()
		var rep poll.Report
		select {
		case rep = <-done:
		case <-time.After(5 * time.Second): // a watchdog, 100 times StopGrace
			_ = e.srv.Close() // ends the hanging request
			<-done
			t.Fatal("Sweep did not return long after StopGrace (50ms) ran out: the page in hand was not cut short")
		}
		e.src.SetBefore(nil)
		if err := e.sim.SetFaults(sim.Faults{}); err != nil {
			t.Fatal(err)
		}
		if !rep.Stopped {
			t.Fatal("report does not say stopped")
		}
		calls := e.src.Calls()
		if len(calls) != 2 || calls[1].err == nil {
			t.Fatalf("%d calls, want the first page and the second cut short", len(calls))
		}
		if !errors.Is(calls[1].err, context.Canceled) {
			t.Errorf("the page in hand ended with %v, want it cancelled when StopGrace ran out", calls[1].err)
		}
		if r := rep.Tenants[0]; r.Pages != 1 || r.Err == nil {
			t.Errorf("tenant reports %d pages and error %v, want 1 and an error", r.Pages, r.Err)
		}
		checkConsistent(t, e, calls)
		_, _, n := rep.Totals()
		complete(t, e, p, n)
	})

	// A stop that comes on the last page of the cursor read must not start
	// the overlap re-read: "no new page starts".
	t.Run("no overlap re-read after a stop", func(t *testing.T) {
		e := newEnv(t, "partner", func(c *sim.Config) { c.Tenants = 1; c.EventsPerTenant = 50 })
		tid := e.tenants()[0].ID
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var mu sync.Mutex
		armed, startedAtStop := false, -1
		p := e.poller(func(o *poll.Options) {
			o.Overlap = time.Hour
			o.OnCommit = func(central.Tenant, []store.Detection) {
				mu.Lock()
				defer mu.Unlock()
				if armed && startedAtStop < 0 {
					startedAtStop = e.src.Started()
					cancel()
				}
			}
		})
		noFailures(t, e.sweep(p))
		e.clk.Advance(time.Minute)
		e.inject(tid, puaEvent(time.Time{}, "New"))
		e.clk.Advance(time.Minute)
		mu.Lock()
		armed = true
		mu.Unlock()
		rep := e.sweepCtx(ctx, p)
		if !rep.Stopped || startedAtStop < 0 {
			t.Fatalf("the sweep was not stopped (stopped %v): the test proves nothing", rep.Stopped)
		}
		if n := e.src.Started(); n != startedAtStop {
			calls := e.src.Calls()
			last := calls[len(calls)-1].req
			t.Errorf("BUG: %d Events call(s) started after the sweep was stopped (last: cursor %q from_date %v): "+
				"readTenant starts the overlap re-read after a stop that came on the cursor read's last page; "+
				"Sweep promises no new page starts", n-startedAtStop, last.Cursor, last.FromDate)
		}
		if d := diff(e.stored(""), e.wantAll(time.Time{})); d != "" {
			t.Errorf("%s", d)
		}
	})
}

// 10. The tenant list is read again every TenantRefresh: added tenants are
// read from then on, removed ones no more.
func TestTenantRefresh(t *testing.T) {
	e := newEnv(t, "partner", func(c *sim.Config) { c.Tenants = 2; c.EventsPerTenant = 30 })
	p := e.poller(func(o *poll.Options) { o.TenantRefresh = time.Hour })
	orig := e.tenants()
	rep := e.sweep(p)
	noFailures(t, rep)
	if len(rep.Tenants) != 2 {
		t.Fatalf("first sweep read %d tenants, want 2", len(rep.Tenants))
	}

	added := e.sim.AddTenant("Newcomer Ltd", "")
	ids := e.inject(added.ID, puaEvent(time.Time{}, "NewcomerPUA"))
	e.clk.Advance(59 * time.Minute)
	rep = e.sweep(p)
	noFailures(t, rep)
	if slices.Contains(reportIDs(rep), added.ID) {
		t.Errorf("the added tenant was read before TenantRefresh elapsed")
	}

	e.clk.Advance(time.Minute)
	rep = e.sweep(p)
	noFailures(t, rep)
	if !slices.Contains(reportIDs(rep), added.ID) {
		t.Fatalf("the added tenant was not read once TenantRefresh elapsed: %v", reportIDs(rep))
	}
	if r := result(t, rep, added.ID); r.TenantName != "Newcomer Ltd" || r.New != 1 {
		t.Errorf("added tenant: %+v, want named Newcomer Ltd with 1 new detection", r)
	}
	if !e.stored(added.ID)[ids[0]] {
		t.Errorf("the added tenant's detection was not stored")
	}
	if st := e.state(added.ID); !st.FirstSeen.Equal(e.clk.Now()) || st.Name != "Newcomer Ltd" {
		t.Errorf("added tenant stored as %+v", st)
	}

	gone := orig[0]
	if !e.sim.RemoveTenant(gone.ID) {
		t.Fatal("RemoveTenant failed")
	}
	e.clk.Advance(time.Hour)
	nCalls := len(e.src.Calls())
	rep = e.sweep(p)
	noFailures(t, rep)
	if got, want := reportIDs(rep), []string{added.ID, orig[1].ID}; !slices.Equal(got, sorted(want)) {
		t.Errorf("after the removal read %v, want %v", got, sorted(want))
	}
	for _, c := range e.src.Calls()[nCalls:] {
		if c.req.Tenant.ID == gone.ID {
			t.Errorf("the removed tenant's events were asked for")
		}
	}
	if st := e.state(gone.ID); !st.Removed {
		t.Errorf("the removed tenant is not marked removed: %+v", st)
	}
}

// TenantRefresh holds too when include and exclude leave no tenant: the
// list is read again after TenantRefresh, not on every sweep.
func TestTenantRefreshWithNoTenantSelected(t *testing.T) {
	e := newEnv(t, "partner", func(c *sim.Config) { c.Tenants = 2; c.EventsPerTenant = 10 })
	p := e.poller(func(o *poll.Options) { o.TenantRefresh = time.Hour; o.Include = []string{"no such tenant"} })
	for i := 0; i < 3; i++ {
		if rep := e.sweep(p); len(rep.Tenants) != 0 {
			t.Fatalf("sweep %d read tenants %v, want none", i, reportIDs(rep))
		}
		e.clk.Advance(time.Minute)
	}
	if n := e.sim.Counters().Requests["partner_tenants"]; n != 1 {
		t.Errorf("BUG (minor): the tenant list was read %d times in 3 sweeps within TenantRefresh, want 1: "+
			"refreshTenants takes a nil p.tenants (filter kept nothing) for \"never listed\" and lists again on every sweep", n)
	}
	e.clk.Advance(time.Hour)
	e.sweep(p)
	if n := e.sim.Counters().Requests["partner_tenants"]; n < 2 {
		t.Errorf("the tenant list was not read again after TenantRefresh")
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}

// 11. A tenant credential reads its one tenant on whoami's dataRegion and
// names it TenantName.
func TestTenantCredential(t *testing.T) {
	e := newEnv(t, "tenant", func(c *sim.Config) { c.Tenants = 3 })
	cred, _ := e.sim.Credential("tenant")
	var own sim.TenantInfo
	for _, ti := range e.tenants() {
		if ti.ID == cred.ID {
			own = ti
		}
	}
	if own.ID == "" {
		t.Fatalf("the tenant credential's tenant %s is not listed", cred.ID)
	}
	p := e.poller(func(o *poll.Options) { o.TenantName = "Acme Single" })
	rep := e.sweep(p)
	noFailures(t, rep)
	if len(rep.Tenants) != 1 {
		t.Fatalf("read %d tenants, want the credential's one: %v", len(rep.Tenants), reportIDs(rep))
	}
	r := rep.Tenants[0]
	if r.TenantID != own.ID || r.TenantName != "Acme Single" {
		t.Errorf("read tenant %s named %q, want %s named Acme Single", r.TenantID, r.TenantName, own.ID)
	}
	for _, c := range e.src.Calls() {
		if c.req.Tenant.APIHost != own.APIHost {
			t.Errorf("events asked of %q, want the dataRegion host %q", c.req.Tenant.APIHost, own.APIHost)
		}
	}
	want := e.want(own.ID, time.Time{})
	if d := diff(e.stored(""), want); d != "" {
		t.Errorf("stored detections: %s", d)
	}
	e.checkOutbox(want)
	st := e.state(own.ID)
	if st.Name != "Acme Single" || st.APIHost != own.APIHost || st.LastRead.IsZero() {
		t.Errorf("tenant stored as %+v", st)
	}
	ds, _ := e.st.Detections(context.Background(), store.DetectionFilter{Limit: 3})
	for _, d := range ds {
		if d.TenantName != "Acme Single" {
			t.Errorf("detection %s stored with tenant name %q", d.EventID, d.TenantName)
		}
	}
	c := e.sim.Counters().Requests
	if c["partner_tenants"] != 0 || c["organization_tenants"] != 0 || c["whoami"] != 1 {
		t.Errorf("requests %v: want one whoami and no tenant list", c)
	}
}

// 12. New checks its options.
func TestNewChecksOptions(t *testing.T) {
	c, err := central.New(central.Credentials{ClientID: "id", ClientSecret: secret.Secret("s")},
		central.Options{AuthURL: "http://127.0.0.1:1/token", APIURL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	st := openStore(t)
	m, _ := match.New(match.Config{})
	base := poll.Options{Source: c, Store: st, Matcher: m}
	cases := []struct {
		name    string
		mod     func(*poll.Options)
		wantErr string // "" : accepted
	}{
		{"defaults", func(*poll.Options) {}, ""},
		{"no source", func(o *poll.Options) { o.Source = nil }, "required"},
		{"no store", func(o *poll.Options) { o.Store = nil }, "required"},
		{"no matcher", func(o *poll.Options) { o.Matcher = nil }, "required"},
		{"lookback 23h55m", func(o *poll.Options) { o.Lookback = 23*time.Hour + 55*time.Minute }, ""},
		{"lookback 23h55m1s", func(o *poll.Options) { o.Lookback = 23*time.Hour + 55*time.Minute + time.Second }, "23h55m"},
		{"lookback 24h", func(o *poll.Options) { o.Lookback = 24 * time.Hour }, "23h55m"},
		{"initial notify", func(o *poll.Options) { o.Initial = "notify" }, ""},
		{"initial silent", func(o *poll.Options) { o.Initial = "silent" }, ""},
		{"initial loud", func(o *poll.Options) { o.Initial = "loud" }, `"loud"`},
		{"initial Silent", func(o *poll.Options) { o.Initial = "Silent" }, `"Silent"`},
		{"bad include glob", func(o *poll.Options) { o.Include = []string{"acme["} }, "acme["},
		{"bad exclude glob", func(o *poll.Options) { o.Exclude = []string{"[x"} }, "[x"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := base
			tc.mod(&o)
			p, err := poll.New(o)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("New: %v, want accepted", err)
			case tc.wantErr == "" && p == nil:
				t.Errorf("New returned no poller")
			case tc.wantErr != "" && err == nil:
				t.Errorf("New accepted it, want an error naming %s", tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Errorf("New: %v, want an error naming %s", err, tc.wantErr)
			}
		})
	}
}
