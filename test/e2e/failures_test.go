package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/app"
	"github.com/puawatch/puawatch/internal/cli"
	"github.com/puawatch/puawatch/internal/fake/sim"
	"github.com/puawatch/puawatch/internal/store"
	"github.com/puawatch/puawatch/internal/store/sqlstore"
)

// failRig is a simulator with one tenant, a webhook receiver and a
// watcher whose clock (shared with the simulator) the test moves.
type failRig struct {
	*rig
	clk     *clock
	hook    *hookServer
	tenant  sim.TenantInfo
	cfgYAML string
}

// newFailRig makes a simulator with tenants tenants (events backlog
// events each) on a fake clock, and a configuration with one webhook
// receiver "hook", a backoff of 1s doubling up to 4s, and route.
func newFailRig(t *testing.T, tenants, events int, route string) *failRig {
	t.Helper()
	clk := &clock{t: time.Now().UTC().Truncate(time.Second)}
	cfg := sim.DefaultConfig()
	cfg.Seed = 21
	cfg.Tenants = tenants
	cfg.EventsPerTenant = events
	cfg.Now = clk.Now
	r := newRig(t, cfg)
	h := newHook(t, "hook")
	return &failRig{rig: r, clk: clk, hook: h, tenant: r.sim.Tenants()[0],
		cfgYAML: fmt.Sprintf("notify:\n  backoff_base: 1s\n  backoff_max: 4s\nreceivers:\n  - name: hook\n    webhook: {url: %q}\n%s", h.url, route)}
}

// start makes a watcher on the rig's database and clock.
func (f *failRig) start(t *testing.T, owner string) *app.App {
	t.Helper()
	a, err := app.New(context.Background(), f.writeConfig(t, f.cfgYAML), app.Deps{Now: f.clk.Now, Stdout: io.Discard, Owner: owner})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// injectOne puts one new PUA detection into the rig's tenant.
func (f *failRig) injectOne(t *testing.T) string {
	t.Helper()
	ids, err := f.sim.Inject(f.tenant.ID, []sim.Event{{Type: sim.TypeCorePuaDetection, Name: "PUA detected: 'PsExec' at 'C:\\t\\PsExec.exe'",
		Severity: "medium", Group: "PUA", Location: "WS-RETRY-1", Threat: ptr("PsExec")}}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return ids[0]
}

// rows lists the rig's outbox rows in the given states.
func (f *failRig) rows(t *testing.T, states ...string) []store.OutboxItem {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), f.db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	items, err := st.Outbox(context.Background(), store.OutboxFilter{States: states})
	if err != nil {
		t.Fatal(err)
	}
	return items
}

// onlyRow returns the single outbox row, failing if there are others.
func (f *failRig) onlyRow(t *testing.T) store.OutboxItem {
	t.Helper()
	items := f.rows(t)
	if len(items) != 1 {
		t.Fatalf("%d outbox rows, want 1: %+v", len(items), items)
	}
	return items[0]
}

// answers makes a receiver answer with statuses in turn, then 200.
func answers(statuses ...int) func(n int) (int, http.Header) {
	return func(n int) (int, http.Header) {
		if n <= len(statuses) {
			return statuses[n-1], nil
		}
		return http.StatusOK, nil
	}
}

// checkOneMessage checks that every request carried the same message of
// the one detection id, and that the last one was accepted.
func checkOneMessage(t *testing.T, reqs []hookRequest, id string) {
	t.Helper()
	for i, req := range reqs {
		b := webhookBody(t, req, "")
		if len(b.Detections) != 1 || b.Detections[0].ID != id {
			t.Errorf("request %d carried %d detections (%+v), want detection %s", i+1, len(b.Detections), b.Detections, id)
		}
		if k := req.Header.Get("Idempotency-Key"); k != reqs[0].Header.Get("Idempotency-Key") {
			t.Errorf("request %d has Idempotency-Key %q, the first had %q: a redelivery must keep it", i+1, k, reqs[0].Header.Get("Idempotency-Key"))
		}
	}
	for i, req := range reqs {
		if ok := req.Status/100 == 2; ok != (i == len(reqs)-1) {
			t.Errorf("request %d answered %d; want only the last one accepted", i+1, req.Status)
		}
	}
}

// 4. A 500 is retried after the backoff, and delivered once.
func TestFailureServerErrorThenDelivered(t *testing.T) {
	f := newFailRig(t, 1, 0, "")
	f.hook.setAnswer(answers(http.StatusInternalServerError))
	id := f.injectOne(t)
	a := f.start(t, "")
	defer a.Close()

	out := once(t, a)
	if n := len(f.hook.requests()); n != 1 || out.Sent.Retried != 1 || out.Sent.Sent != 0 {
		t.Fatalf("first run: %d requests, %+v; want one request, answered 500, retried", n, out.Sent)
	}
	row := f.onlyRow(t)
	if row.State != store.StatePending || row.Attempts != 1 || !strings.Contains(row.LastError, "500") || !row.NextAt.After(f.clk.Now()) {
		t.Fatalf("after a 500 the row is %s, %d attempts, next %s (now %s), error %q; want pending, 1 attempt, due later, the 500",
			row.State, row.Attempts, row.NextAt, f.clk.Now(), row.LastError)
	}
	// Not again before the backoff is over.
	once(t, a)
	if n := len(f.hook.requests()); n != 1 {
		t.Fatalf("%d requests before the backoff of 1s passed, want 1", n)
	}
	f.clk.Advance(time.Second)
	out = once(t, a)
	reqs := f.hook.requests()
	if len(reqs) != 2 || out.Sent.Sent != 1 {
		t.Fatalf("after the backoff: %d requests, %+v; want 2 requests, the second delivered", len(reqs), out.Sent)
	}
	checkOneMessage(t, reqs, id)
	if row := f.onlyRow(t); row.State != store.StateSent {
		t.Errorf("the row is %s after delivery, want sent", row.State)
	}
	f.clk.Advance(time.Hour)
	once(t, a)
	if n := len(f.hook.requests()); n != 2 {
		t.Errorf("%d requests after a later run, want still 2", n)
	}
}

// 5. A 429 with Retry-After: 120 is not retried before 120 s (a
// Retry-After is honoured up to notify.backoff_max, here 10m).
func TestFailureRetryAfterHonoured(t *testing.T) {
	f := newFailRig(t, 1, 0, "")
	f.cfgYAML = strings.Replace(f.cfgYAML, "backoff_max: 4s", "backoff_max: 10m", 1)
	f.hook.setAnswer(func(n int) (int, http.Header) {
		if n == 1 {
			return http.StatusTooManyRequests, http.Header{"Retry-After": {"120"}}
		}
		return http.StatusOK, nil
	})
	id := f.injectOne(t)
	a := f.start(t, "")
	defer a.Close()
	t0 := f.clk.Now()

	once(t, a)
	if n := len(f.hook.requests()); n != 1 {
		t.Fatalf("first run: %d requests, want 1", n)
	}
	row := f.onlyRow(t)
	if row.State != store.StatePending || row.NextAt.Sub(t0) < 120*time.Second || !strings.Contains(row.LastError, "429") {
		t.Fatalf("after a 429 with Retry-After: 120 the row is %s, due %s after the failure, error %q; want pending, due no sooner than 120s",
			row.State, row.NextAt.Sub(t0), row.LastError)
	}
	for _, at := range []time.Duration{time.Second, 5 * time.Second, 60 * time.Second, 119 * time.Second, 119*time.Second + 900*time.Millisecond} {
		f.clk.Advance(t0.Add(at).Sub(f.clk.Now()))
		once(t, a)
		if n := len(f.hook.requests()); n != 1 {
			t.Fatalf("the receiver was called again %s after it asked for 120s (Retry-After): %d requests", at, n)
		}
	}
	f.clk.Advance(t0.Add(120 * time.Second).Sub(f.clk.Now()))
	once(t, a)
	reqs := f.hook.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests once 120s passed, want 2 (the retry)", len(reqs))
	}
	checkOneMessage(t, reqs, id)
	if row := f.onlyRow(t); row.State != store.StateSent {
		t.Errorf("the row is %s after delivery, want sent", row.State)
	}
}

// 5b. A hostile Retry-After (99999999999 seconds, about 3170 years)
// parks the row no longer than notify.backoff_max (4s).
func TestFailureRetryAfterCappedAtBackoffMax(t *testing.T) {
	f := newFailRig(t, 1, 0, "")
	f.hook.setAnswer(func(n int) (int, http.Header) {
		if n == 1 {
			return http.StatusTooManyRequests, http.Header{"Retry-After": {"99999999999"}}
		}
		return http.StatusOK, nil
	})
	id := f.injectOne(t)
	a := f.start(t, "")
	defer a.Close()
	t0 := f.clk.Now()

	once(t, a)
	row := f.onlyRow(t)
	if row.State != store.StatePending || row.NextAt.Sub(t0) > 4*time.Second || row.NextAt.Sub(t0) < time.Second {
		t.Fatalf("after a 429 with Retry-After: 99999999999 the row is %s, due %s after the failure; want pending, due 1s..4s (backoff_max)",
			row.State, row.NextAt.Sub(t0))
	}
	f.clk.Advance(t0.Add(4 * time.Second).Sub(f.clk.Now()))
	once(t, a)
	reqs := f.hook.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests once backoff_max passed, want 2 (the retry)", len(reqs))
	}
	checkOneMessage(t, reqs, id)
	if row := f.onlyRow(t); row.State != store.StateSent {
		t.Errorf("the row is %s after delivery, want sent", row.State)
	}
}

// runCLI runs the puawatch command line and returns its output.
func runCLI(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := cli.Main(context.Background(), args, strings.NewReader(""), &stdout, &stderr); code != cli.ExitOK {
		t.Fatalf("puawatch %s: exit status %d\n%s%s", strings.Join(args, " "), code, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// 6. A 401 is a dead letter with the reason; outbox list shows it, outbox
// retry --all and a run deliver it once the receiver is mended.
func TestFailureDeadLetterListAndRetry(t *testing.T) {
	f := newFailRig(t, 1, 0, "")
	var status atomic.Int32
	status.Store(http.StatusUnauthorized)
	f.hook.setAnswer(func(int) (int, http.Header) { return int(status.Load()), nil })
	id := f.injectOne(t)
	// The real clock here: outbox retry requeues rows at the time of day.
	a, err := app.New(context.Background(), f.writeConfig(t, f.cfgYAML), app.Deps{Stdout: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()

	out := once(t, a)
	if n := len(f.hook.requests()); n != 1 || out.Sent.Dead != 1 {
		t.Fatalf("first run: %d requests, %+v; want one request, answered 401, dead", n, out.Sent)
	}
	dead := f.rows(t, store.StateDead)
	if len(dead) != 1 || dead[0].EventID != id || !strings.Contains(dead[0].LastError, "401") || !strings.Contains(dead[0].LastError, "hook") {
		t.Fatalf("dead rows %+v; want the detection %s with a reason naming the 401 and the receiver", dead, id)
	}
	t.Logf("dead letter reason: %s", dead[0].LastError)
	// No retry on its own.
	once(t, a)
	if n := len(f.hook.requests()); n != 1 {
		t.Fatalf("a dead row was sent again without outbox retry: %d requests", n)
	}

	list := runCLI(t, "outbox", "list", "--db", f.db)
	var line string
	for l := range strings.SplitSeq(list, "\n") {
		if strings.Contains(l, id) {
			line = l
		}
	}
	// The LAST ERROR column is cut at 80 characters, which for a webhook
	// ends before the status ("hook: webhook: send <event id>.hook: POST
	// http://…"): the list shows the state and the receiver; the store
	// holds the whole reason (checked above).
	if fields := strings.Fields(line); len(fields) < 3 || fields[1] != store.StateDead || fields[2] != "hook" {
		t.Fatalf("outbox list does not show the row of %s as dead on receiver hook:\n%s", id, list)
	}

	status.Store(http.StatusOK) // the receiver is mended
	if got := runCLI(t, "outbox", "retry", "--all", "--db", f.db); !strings.Contains(got, "1 row(s)") {
		t.Errorf("outbox retry --all said %q, want 1 row requeued", got)
	}
	out = once(t, a)
	reqs := f.hook.requests()
	if len(reqs) != 2 || out.Sent.Sent != 1 {
		t.Fatalf("after outbox retry: %d requests, %+v; want the second delivered", len(reqs), out.Sent)
	}
	checkOneMessage(t, reqs, id)
	if row := f.onlyRow(t); row.State != store.StateSent {
		t.Errorf("the row is %s after delivery, want sent", row.State)
	}
	if list := runCLI(t, "outbox", "list", "--db", f.db); strings.Contains(list, id) {
		t.Errorf("outbox list (pending and dead) still shows %s:\n%s", id, list)
	}
	if list := runCLI(t, "outbox", "list", "--state", "sent", "--db", f.db); !strings.Contains(list, id) || !strings.Contains(list, store.StateSent) {
		t.Errorf("outbox list --state sent does not show %s as sent:\n%s", id, list)
	}
}

// 7. A restart while rows wait for their retry loses nothing and sends
// nothing twice.
func TestFailureRestartDuringRetries(t *testing.T) {
	f := newFailRig(t, 2, 60, "route:\n  receivers: [hook]\n  group_by: [tenant]\n  digest_above: 3\n  max_per_message: 5\n")
	var failing atomic.Bool
	failing.Store(true)
	f.hook.setAnswer(func(int) (int, http.Header) {
		if failing.Load() {
			return http.StatusInternalServerError, nil
		}
		return http.StatusOK, nil
	})
	want := f.expected(t, nil)
	if len(want) < 10 {
		t.Fatalf("only %d detections: the test proves little", len(want))
	}

	a1 := f.start(t, "first")
	out := once(t, a1)
	if out.Sent.Sent != 0 || out.Sent.Retried != len(want) {
		t.Fatalf("first run: %+v; want all %d detections retried", out.Sent, len(want))
	}
	f.clk.Advance(time.Second)
	once(t, a1) // the second attempt of every message, failing too
	pending := f.rows(t, store.StatePending)
	if len(pending) != len(want) {
		t.Fatalf("%d pending rows, want %d", len(pending), len(want))
	}
	for _, it := range pending {
		if !it.NextAt.After(f.clk.Now()) || it.Attempts != 2 {
			t.Fatalf("row %d: %d attempts, next %s (now %s); want 2 attempts, a retry still ahead", it.ID, it.Attempts, it.NextAt, f.clk.Now())
		}
	}
	tried := map[string]bool{}
	for _, req := range f.hook.requests() {
		tried[req.Header.Get("Idempotency-Key")] = true
	}
	if err := a1.Close(); err != nil {
		t.Fatal(err)
	}

	failing.Store(false)
	f.clk.Advance(10 * time.Second) // past every backoff (at most 4s)
	before := len(f.hook.requests())
	a2 := f.start(t, "second")
	defer a2.Close()
	once(t, a2)
	got := map[string]int{}
	var keys []string
	for _, req := range f.hook.accepted() {
		b := webhookBody(t, req, "")
		for _, d := range b.Detections {
			got[d.ID]++
		}
		k := req.Header.Get("Idempotency-Key")
		keys = append(keys, k)
		if !tried[k] {
			t.Errorf("message %s delivered after the restart was never tried before it: the rows were regrouped", k)
		}
	}
	compareIDs(t, "hook after the restart", boolSet(want), got)
	if len(keys) != len(tried) {
		t.Errorf("%d messages delivered after the restart, %d tried before it", len(keys), len(tried))
	}
	slices.Sort(keys)
	if len(slices.Compact(keys)) != len(keys) {
		t.Errorf("a message was delivered twice: keys %v", keys)
	}
	if left := f.pending(t); len(left) > 0 {
		t.Errorf("%d rows not sent after the restart (e.g. %+v)", len(left), left[0])
	}
	t.Logf("%d detections in %d messages: %d failed requests before the restart, all delivered once after it",
		len(want), len(keys), before)

	f.clk.Advance(time.Hour)
	n := len(f.hook.requests())
	once(t, a2)
	if m := len(f.hook.requests()); m != n {
		t.Errorf("a later run sent %d more requests, want none", m-n)
	}
}
