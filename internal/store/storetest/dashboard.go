package storetest

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/store"
)

// DashboardStore is a backend with the dashboard's queries.
type DashboardStore interface {
	store.Store
	store.Dashboard
}

// RunDashboard runs the conformance suite of store.Dashboard (and of the
// attempts MarkSent, MarkRetry and MarkDead record) against the stores
// open returns, as Run does.
func RunDashboard(t *testing.T, open func(t *testing.T) DashboardStore) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s DashboardStore)
	}{
		{"FiltersNarrow", testQueryFilters},
		{"Sort", testQuerySort},
		{"Paging", testQueryPaging},
		{"HostileText", testQueryHostile},
		{"DeliveryStates", testQueryDelivery},
		{"AckedFilter", testQueryAcked},
		{"Overview", testOverview},
		{"OverviewTopTen", testOverviewTop},
		{"Detail", testDetail},
		{"Ack", testAck},
		{"AttemptsRecorded", testAttempts},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// now is the dashboard tests' "now": an arbitrary time inside an hour.
var now = time.Date(2025, 6, 3, 14, 37, 12, 345_000_000, time.UTC)

// spec is one detection of a fixture.
type spec struct {
	id, tenant, name, typ, threat, host, user, severity string
	age                                                 time.Duration // created at now-age
	chans                                               []string
}

func (sp spec) detection() store.Detection {
	d := det(sp.id, sp.tenant, now.Add(-sp.age))
	d.TenantName = sp.name
	d.Type = "Event::Endpoint::" + sp.typ
	d.Threat, d.Location, d.User, d.Severity = sp.threat, sp.host, sp.user, sp.severity
	d.Path = `C:\Users\` + sp.user + `\` + sp.threat + `.exe`
	d.Name = "PUA detected: '" + sp.threat + "'"
	return d
}

// fixture is a set of detections over three tenants with repeated values
// (so that sorts have ties) and every delivery state.
var fixture = []spec{
	{"e01", "t-acme", "Acme Corp", "CorePuaDetection", "PsExec", "WS-001", `ACME\alice`, "medium", 1 * time.Hour, []string{"email"}},
	{"e02", "t-acme", "Acme Corp", "CorePuaDetection", "NetCat", "WS-002", `ACME\bob`, "high", 2 * time.Hour, []string{"email", "slack"}},
	{"e03", "t-acme", "Acme Corp", "CorePuaCleanupFailed", "PsExec", "WS-001", `ACME\alice`, "low", 3 * time.Hour, nil},
	{"e04", "t-beta", "Beta GmbH", "CorePuaDetection", "Mimikatz", "SRV-DB", `BETA\carol`, "critical", 30 * time.Hour, []string{"email"}},
	{"e05", "t-beta", "Beta GmbH", "CorePuaDetection", "PsExec", "srv-web", `BETA\dave`, "medium", 50 * time.Hour, []string{"slack"}},
	{"e06", "t-beta", "Beta GmbH", "CorePuaDetection", "netcat", "SRV-DB", `BETA\carol`, "high", 4 * time.Hour, []string{"email", "slack"}},
	{"e07", "t-gamma", "Gamma Ltd", "CorePuaDetection", "AnyDesk", "LAPTOP-7", `GAMMA\erin`, "low", 200 * time.Hour, []string{"email"}},
	{"e08", "t-gamma", "Gamma Ltd", "CorePuaDetection", "PsExec", "laptop-8", `GAMMA\frank`, "medium", 2 * time.Hour, nil},
	{"e09", "t-acme", "Acme Corp", "CorePuaDetection", "AnyDesk", "WS-009", `ACME\alice`, "medium", 1 * time.Hour, []string{"slack"}},
	{"e10", "t-gamma", "Gamma Ltd", "CorePuaCleanupFailed", "NetCat", "LAPTOP-7", `GAMMA\erin`, "high", 5 * time.Hour, []string{"email"}},
}

// loadFixture commits specs (each tenant's in one page, at now) and
// returns the detections as stored, by event id.
func loadFixture(t *testing.T, s store.Store, specs []spec) map[string]store.Detection {
	t.Helper()
	out := map[string]store.Detection{}
	byTenant := map[string][]spec{}
	var order []string
	for _, sp := range specs {
		if _, ok := byTenant[sp.tenant]; !ok {
			order = append(order, sp.tenant)
		}
		byTenant[sp.tenant] = append(byTenant[sp.tenant], sp)
	}
	for _, tid := range order {
		chans := map[string][]string{}
		p := store.PageCommit{TenantID: tid, Cursor: "c-" + tid, At: now, Route: func(d store.Detection) []store.Delivery {
			var ds []store.Delivery
			for _, ch := range chans[d.EventID] {
				ds = append(ds, store.Delivery{Channel: ch})
			}
			return ds
		}}
		for _, sp := range byTenant[tid] {
			d := sp.detection()
			chans[sp.id] = sp.chans
			p.Detections = append(p.Detections, d)
		}
		for _, d := range commit(t, s, p) {
			out[d.EventID] = d
		}
	}
	if len(out) != len(specs) {
		t.Fatalf("stored %d detections of the fixture, want %d", len(out), len(specs))
	}
	return out
}

// setDeliveries drives the fixture's outbox rows into every state:
// e01 sent; e02 email sent, slack dead (dead); e04 email retrying; e05
// slack pending untouched; e06 email sent, slack retrying (retrying); e07
// sent; e09 dead; e10 pending (a failure requeued: pending). It returns
// the expected delivery state by event id.
func setDeliveries(t *testing.T, s store.Store) map[string]string {
	t.Helper()
	ctx := t.Context()
	items := claim(t, s, "A", now, time.Minute, 100)
	row := map[string]int64{}
	for _, it := range items {
		row[it.EventID+"/"+it.Channel] = it.ID
	}
	pick := func(keys ...string) []int64 {
		var out []int64
		for _, k := range keys {
			id, ok := row[k]
			if !ok {
				t.Fatalf("fixture has no outbox row %s", k)
			}
			out = append(out, id)
		}
		return out
	}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	must("MarkSent", s.MarkSent(ctx, "A", pick("e01/email", "e02/email", "e06/email", "e07/email"), now))
	must("MarkDead", s.MarkDead(ctx, "A", pick("e02/slack", "e09/slack"), "400 invalid_blocks", now))
	must("MarkRetry", s.MarkRetry(ctx, "A", pick("e04/email", "e06/slack", "e10/email"), now.Add(time.Hour), "421 busy"))
	if _, err := s.Requeue(ctx, pick("e10/email"), now); err != nil {
		t.Fatalf("Requeue: %v", err)
	}
	if _, err := s.ReleaseClaims(ctx, "A", nil); err != nil {
		t.Fatalf("ReleaseClaims: %v", err)
	}
	return map[string]string{
		"e01": store.DeliverySent, "e02": store.DeliveryDead, "e03": store.DeliveryNone, "e04": store.DeliveryRetrying,
		"e05": store.DeliveryPending, "e06": store.DeliveryRetrying, "e07": store.DeliverySent, "e08": store.DeliveryNone,
		"e09": store.DeliveryDead, "e10": store.DeliveryPending,
	}
}

func query(t *testing.T, s store.Dashboard, q store.DetectionQuery) store.DetectionPage {
	t.Helper()
	p, err := s.QueryDetections(t.Context(), q)
	if err != nil {
		t.Fatalf("QueryDetections(%+v): %v", q, err)
	}
	return p
}

func rowIDs(p store.DetectionPage) []string {
	out := make([]string, len(p.Rows))
	for i, r := range p.Rows {
		out[i] = r.EventID
	}
	return out
}

// matching returns the ids of ds that keep holds for, sorted.
func matching(ds map[string]store.Detection, keep func(store.Detection) bool) []string {
	var out []string
	for id, d := range ds {
		if keep(d) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

func has(field, sub string) bool {
	return strings.Contains(strings.ToLower(field), strings.ToLower(sub))
}

func testQueryFilters(t *testing.T, s DashboardStore) {
	ds := loadFixture(t, s, fixture)
	all := query(t, s, store.DetectionQuery{})
	if all.Total != len(fixture) || len(all.Rows) != len(fixture) {
		t.Fatalf("no filter: %d rows, Total %d, want %d", len(all.Rows), all.Total, len(fixture))
	}
	for _, r := range all.Rows {
		want := ds[r.EventID]
		want.Raw = nil // the listing leaves the raw event out
		checkDetection(t, "listed "+r.EventID, r.Detection, want)
	}
	cases := []struct {
		name string
		q    store.DetectionQuery
		keep func(store.Detection) bool
	}{
		{"tenant by id", store.DetectionQuery{Tenant: "T-BETA"}, func(d store.Detection) bool { return d.TenantID == "t-beta" }},
		{"tenant by name", store.DetectionQuery{Tenant: "acme"}, func(d store.Detection) bool { return d.TenantID == "t-acme" }},
		{"type", store.DetectionQuery{Type: "cleanupfailed"}, func(d store.Detection) bool { return has(d.Type, "cleanupfailed") }},
		{"threat", store.DetectionQuery{Threat: "NETCAT"}, func(d store.Detection) bool { return has(d.Threat, "netcat") }},
		{"host", store.DetectionQuery{Host: "srv-"}, func(d store.Detection) bool { return has(d.Location, "srv-") }},
		{"user", store.DetectionQuery{User: `acme\ALICE`}, func(d store.Detection) bool { return d.User == `ACME\alice` }},
		{"search threat", store.DetectionQuery{Search: "mimi"}, func(d store.Detection) bool { return d.Threat == "Mimikatz" }},
		{"search id", store.DetectionQuery{Search: "E0"}, func(d store.Detection) bool { return strings.HasPrefix(d.EventID, "e0") }},
		{"search tenant name", store.DetectionQuery{Search: "gmbh"}, func(d store.Detection) bool { return d.TenantID == "t-beta" }},
		{"search host", store.DetectionQuery{Search: "laptop"}, func(d store.Detection) bool { return has(d.Location, "laptop") }},
		{"search user", store.DetectionQuery{Search: `gamma\frank`}, func(d store.Detection) bool { return d.EventID == "e08" }},
		{"search path", store.DetectionQuery{Search: `\anydesk.exe`}, func(d store.Detection) bool { return d.Threat == "AnyDesk" }},
		{"since", store.DetectionQuery{Since: now.Add(-3 * time.Hour)}, func(d store.Detection) bool { return !d.CreatedAt.Before(now.Add(-3 * time.Hour)) }},
		{"until (exclusive)", store.DetectionQuery{Until: now.Add(-3 * time.Hour)}, func(d store.Detection) bool { return d.CreatedAt.Before(now.Add(-3 * time.Hour)) }},
		{"since and until", store.DetectionQuery{Since: now.Add(-50 * time.Hour), Until: now.Add(-2 * time.Hour)}, func(d store.Detection) bool {
			return !d.CreatedAt.Before(now.Add(-50*time.Hour)) && d.CreatedAt.Before(now.Add(-2*time.Hour))
		}},
		{"several at once", store.DetectionQuery{Tenant: "acme", Threat: "psexec", User: "alice"}, func(d store.Detection) bool {
			return d.TenantID == "t-acme" && d.Threat == "PsExec"
		}},
		{"nothing matches", store.DetectionQuery{Host: "no-such-host"}, func(store.Detection) bool { return false }},
	}
	for _, tc := range cases {
		want := matching(ds, tc.keep)
		if tc.name != "nothing matches" && (len(want) == 0 || len(want) == len(fixture)) {
			t.Fatalf("%s: test bug: the fixture has %d matches; a filter must narrow", tc.name, len(want))
		}
		p := query(t, s, tc.q)
		got := slices.Sorted(slices.Values(rowIDs(p)))
		if !slices.Equal(got, want) {
			t.Errorf("%s (%+v): ids %v, want %v", tc.name, tc.q, got, want)
		}
		if p.Total != len(want) {
			t.Errorf("%s: Total %d, want %d", tc.name, p.Total, len(want))
		}
	}
	for _, q := range []store.DetectionQuery{{Sort: "raw; DROP TABLE detections"}, {Delivery: "lost"}} {
		if _, err := s.QueryDetections(t.Context(), q); err == nil {
			t.Errorf("QueryDetections(%+v) did not fail", q)
		}
	}
	if got := query(t, s, store.DetectionQuery{}).Total; got != len(fixture) {
		t.Errorf("after the bad queries: %d detections, want %d", got, len(fixture))
	}
}

var severityRank = map[string]int{"low": 1, "medium": 2, "high": 3, "critical": 4}

func testQuerySort(t *testing.T, s DashboardStore) {
	ds := loadFixture(t, s, fixture)
	keys := map[string]func(a, b store.Detection) int{
		"":           func(a, b store.Detection) int { return a.CreatedAt.Compare(b.CreatedAt) },
		"created_at": func(a, b store.Detection) int { return a.CreatedAt.Compare(b.CreatedAt) },
		"tenant":     func(a, b store.Detection) int { return strings.Compare(a.TenantName, b.TenantName) },
		"type":       func(a, b store.Detection) int { return strings.Compare(a.Type, b.Type) },
		"threat":     func(a, b store.Detection) int { return strings.Compare(a.Threat, b.Threat) },
		"host":       func(a, b store.Detection) int { return strings.Compare(a.Location, b.Location) },
		"user":       func(a, b store.Detection) int { return strings.Compare(a.User, b.User) },
		"severity":   func(a, b store.Detection) int { return cmp.Compare(severityRank[a.Severity], severityRank[b.Severity]) },
	}
	all := slices.Collect(func(yield func(store.Detection) bool) {
		for _, d := range ds {
			if !yield(d) {
				return
			}
		}
	})
	for col, key := range keys {
		for _, desc := range []bool{false, true} {
			want := slices.Clone(all)
			slices.SortFunc(want, func(a, b store.Detection) int {
				c := cmp.Or(key(a, b), strings.Compare(a.EventID, b.EventID))
				if desc {
					return -c
				}
				return c
			})
			ties := false
			for i := 1; i < len(want); i++ {
				ties = ties || key(want[i-1], want[i]) == 0
			}
			if !ties {
				t.Fatalf("test bug: the fixture has no ties in %q", col)
			}
			got := rowIDs(query(t, s, store.DetectionQuery{Sort: col, Desc: desc}))
			if w := eventIDs(want); !slices.Equal(got, w) {
				t.Errorf("sort %q desc=%v:\n got %v\nwant %v", col, desc, got, w)
			}
		}
	}
}

func testQueryPaging(t *testing.T, s DashboardStore) {
	loadFixture(t, s, fixture)
	full := rowIDs(query(t, s, store.DetectionQuery{Sort: "threat"}))
	for _, pg := range []struct{ offset, limit int }{{0, 3}, {3, 3}, {9, 3}, {2, 0}, {10, 5}, {20, 5}} {
		p := query(t, s, store.DetectionQuery{Sort: "threat", Offset: pg.offset, Limit: pg.limit})
		end := len(full)
		if pg.limit > 0 {
			end = min(pg.offset+pg.limit, len(full))
		}
		var want []string
		if pg.offset < len(full) {
			want = full[pg.offset:end]
		}
		if got := rowIDs(p); !slices.Equal(got, want) {
			t.Errorf("offset %d limit %d: ids %v, want %v", pg.offset, pg.limit, got, want)
		}
		if p.Total != len(full) {
			t.Errorf("offset %d limit %d: Total %d, want %d (the whole selection)", pg.offset, pg.limit, p.Total, len(full))
		}
	}
	p := query(t, s, store.DetectionQuery{Tenant: "acme", Sort: "created_at", Desc: true, Limit: 2})
	if p.Total != 4 || len(p.Rows) != 2 {
		t.Errorf("acme, 2 a page: %d rows, Total %d, want 2 of 4", len(p.Rows), p.Total)
	}
	if _, err := s.QueryDetections(t.Context(), store.DetectionQuery{Offset: -1}); err == nil {
		t.Error("a negative offset did not fail")
	}
}

func testQueryHostile(t *testing.T, s DashboardStore) {
	const (
		quotes = `O'Brien "quoted" ` + "`tick`"
		pct    = "100%"
		under  = "a_b"
		back   = `C:\x\%_\`
		emoji  = "détection 🦠 ☣"
	)
	values := []string{quotes, pct, under, back, emoji, "nul\x00byte", "1000", "axb", `C:\x\ab\`}
	specs := make([]spec, len(values))
	for i, v := range values {
		specs[i] = spec{fmt.Sprintf("h%02d", i), "t-" + v, v, v, v, v, v, "low", time.Duration(i) * time.Minute, nil}
	}
	ds := loadFixture(t, s, specs)
	if got := ds["h05"].Threat; got != "nul\uFFFDbyte" {
		t.Fatalf("the NUL is stored as %q, want U+FFFD", got)
	}
	for _, r := range query(t, s, store.DetectionQuery{}).Rows {
		want := ds[r.EventID]
		want.Raw = nil
		checkDetection(t, "listed "+r.EventID, r.Detection, want)
	}
	for _, tc := range []struct {
		filter string
		want   []string
	}{
		{"%", []string{"h01", "h03"}},     // not every row: % is literal
		{"_", []string{"h02", "h03"}},     // not every row: _ is literal
		{"100%", []string{"h01"}},         // not "1000"
		{"a_b", []string{"h02"}},          // not "axb"
		{`\%_\`, []string{"h03"}},         // backslashes literal, not an escape
		{`C:\x\`, []string{"h03", "h08"}}, // both paths
		{`o'brien "QUOTED"`, []string{"h00"}},
		{"🦠", []string{"h04"}},
		{"\uFFFDbyte", []string{"h05"}},
		{"nul\x00b", []string{"h05"}}, // a NUL in a filter is cleaned as stored text is
	} {
		for name, q := range map[string]store.DetectionQuery{
			"threat": {Threat: tc.filter}, "host": {Host: tc.filter}, "user": {User: tc.filter},
			"type": {Type: tc.filter}, "tenant": {Tenant: tc.filter}, "search": {Search: tc.filter},
		} {
			got := slices.Sorted(slices.Values(rowIDs(query(t, s, q))))
			if !slices.Equal(got, tc.want) {
				t.Errorf("%s %q: ids %v, want %v", name, tc.filter, got, tc.want)
			}
		}
	}
}

func testQueryDelivery(t *testing.T, s DashboardStore) {
	ds := loadFixture(t, s, fixture)
	want := setDeliveries(t, s)
	for _, r := range query(t, s, store.DetectionQuery{}).Rows {
		if r.Delivery != want[r.EventID] {
			t.Errorf("%s: delivery %q, want %q", r.EventID, r.Delivery, want[r.EventID])
		}
	}
	for _, st := range []string{store.DeliverySent, store.DeliveryPending, store.DeliveryRetrying, store.DeliveryDead, store.DeliveryNone} {
		exp := matching(ds, func(d store.Detection) bool { return want[d.EventID] == st })
		if len(exp) == 0 {
			t.Fatalf("test bug: no detection is %s", st)
		}
		p := query(t, s, store.DetectionQuery{Delivery: st})
		if got := slices.Sorted(slices.Values(rowIDs(p))); !slices.Equal(got, exp) || p.Total != len(exp) {
			t.Errorf("delivery %s: ids %v (Total %d), want %v", st, got, p.Total, exp)
		}
	}
	p := query(t, s, store.DetectionQuery{Delivery: store.DeliveryDead, Tenant: "acme"})
	if got := rowIDs(p); len(got) != 2 {
		t.Errorf("dead in acme: %v, want e02 and e09", got)
	}
}

func ack(t *testing.T, s store.Dashboard, ids []string, by, comment string, at time.Time) int {
	t.Helper()
	n, err := s.AckDetections(t.Context(), ids, by, comment, at)
	if err != nil {
		t.Fatalf("AckDetections(%v): %v", ids, err)
	}
	return n
}

func testQueryAcked(t *testing.T, s DashboardStore) {
	ds := loadFixture(t, s, fixture)
	acked := []string{"e02", "e05", "e09"}
	ack(t, s, acked, "alice", "seen", now)
	yes, no := true, false
	p := query(t, s, store.DetectionQuery{Acked: &yes})
	if got := slices.Sorted(slices.Values(rowIDs(p))); !slices.Equal(got, acked) || p.Total != 3 {
		t.Errorf("acked: %v (Total %d), want %v", got, p.Total, acked)
	}
	for _, r := range p.Rows {
		if r.Ack == nil || r.Ack.By != "alice" || r.Ack.Comment != "seen" || !sameTime(r.Ack.At, now) || r.Ack.EventID != r.EventID {
			t.Errorf("%s: Ack %+v, want alice, seen, %v", r.EventID, r.Ack, now)
		}
	}
	want := matching(ds, func(d store.Detection) bool { return !slices.Contains(acked, d.EventID) })
	p = query(t, s, store.DetectionQuery{Acked: &no})
	if got := slices.Sorted(slices.Values(rowIDs(p))); !slices.Equal(got, want) || p.Total != len(want) {
		t.Errorf("not acked: %v (Total %d), want %v", got, p.Total, want)
	}
	for _, r := range p.Rows {
		if r.Ack != nil {
			t.Errorf("%s: Ack %+v in the unacknowledged rows", r.EventID, r.Ack)
		}
	}
	if p := query(t, s, store.DetectionQuery{Acked: &no, Tenant: "beta"}); p.Total != 2 {
		t.Errorf("not acked in beta: Total %d, want 2 (e04, e06)", p.Total)
	}
}

func testOverview(t *testing.T, s DashboardStore) {
	ctx := t.Context()
	if err := s.UpsertTenants(ctx, []store.Tenant{{ID: "t-acme", Name: "Acme Corp"}, {ID: "t-beta", Name: "Beta GmbH"},
		{ID: "t-gamma", Name: "Gamma Ltd"}, {ID: "t-idle", Name: "Idle Inc"}}, now); err != nil {
		t.Fatal(err)
	}
	first := now.Truncate(time.Hour).Add(-167 * time.Hour) // the first bucket's start
	specs := []spec{
		{"d1", "t-acme", "Acme Corp", "CorePuaDetection", "PsExec", "WS-1", "u", "low", 0, []string{"email"}},                               // now: the last bucket
		{"d2", "t-acme", "Acme Corp", "CorePuaDetection", "PsExec", "WS-1", "u", "low", 24 * time.Hour, []string{"email"}},                  // exactly 24h: in the day
		{"d3", "t-acme", "Acme Corp", "CorePuaDetection", "NetCat", "WS-2", "u", "low", 24*time.Hour + time.Millisecond, []string{"email"}}, // just out of the day
		{"d4", "t-beta", "Beta GmbH", "CorePuaDetection", "PsExec", "SRV", "u", "low", 7 * 24 * time.Hour, nil},                             // exactly 7d: in the week
		{"d5", "t-beta", "Beta GmbH", "CorePuaDetection", "Old", "SRV", "u", "low", 7*24*time.Hour + time.Millisecond, nil},                 // out of the week
		{"d6", "t-beta", "Beta GmbH", "CorePuaDetection", "NetCat", "SRV", "u", "low", 90 * time.Minute, []string{"email"}},
		{"d7", "t-gamma", "Gamma Ltd", "CorePuaDetection", "PsExec", "", "u", "low", now.Sub(first), nil},                    // the first bucket's start
		{"d8", "t-gamma", "Gamma Ltd", "CorePuaDetection", "", "LT-8", "u", "low", now.Sub(first) + time.Millisecond, nil},   // before the first bucket, in the week
		{"d9", "t-gamma", "Gamma Ltd", "CorePuaDetection", "PsExec", "LT-9", "u", "low", 10*time.Hour + 59*time.Minute, nil}, // an hour's bucket, by its start
	}
	loadFixture(t, s, specs)
	items := claim(t, s, "A", now, time.Minute, 10)
	var dead []int64
	for _, it := range items {
		if it.EventID == "d1" || it.EventID == "d6" {
			dead = append(dead, it.ID)
		}
	}
	if err := s.MarkDead(ctx, "A", dead, "gone", now); err != nil {
		t.Fatal(err)
	}
	ack(t, s, []string{"d1", "d5"}, "bob", "", now)

	ov, err := s.Overview(ctx, now)
	if err != nil {
		t.Fatalf("Overview: %v", err)
	}
	if !sameTime(ov.Now, now) {
		t.Errorf("Now %v, want %v", ov.Now, now)
	}
	wantTenants := []store.TenantCounts{
		{TenantID: "t-acme", TenantName: "Acme Corp", Day: 2, Week: 3},
		{TenantID: "t-gamma", TenantName: "Gamma Ltd", Day: 1, Week: 3},
		{TenantID: "t-beta", TenantName: "Beta GmbH", Day: 1, Week: 2},
		{TenantID: "t-idle", TenantName: "Idle Inc", Day: 0, Week: 0},
	}
	if !slices.Equal(ov.Tenants, wantTenants) {
		t.Errorf("Tenants\n got %+v\nwant %+v", ov.Tenants, wantTenants)
	}
	// PsExec: d1 d2 d4 d7 d9; NetCat: d3 d6; "Old" is out of the week, d8's empty threat is not listed.
	if want := []store.Count{{Name: "PsExec", N: 5}, {Name: "NetCat", N: 2}}; !slices.Equal(ov.TopThreats, want) {
		t.Errorf("TopThreats %+v, want %+v", ov.TopThreats, want)
	}
	if want := []store.Count{{Name: "SRV", N: 2}, {Name: "WS-1", N: 2}, {Name: "LT-8", N: 1}, {Name: "LT-9", N: 1}, {Name: "WS-2", N: 1}}; !slices.Equal(ov.TopEndpoints, want) {
		t.Errorf("TopEndpoints %+v, want %+v", ov.TopEndpoints, want)
	}
	if ov.Unacked != 7 || ov.Dead != 2 {
		t.Errorf("Unacked %d, Dead %d, want 7 and 2", ov.Unacked, ov.Dead)
	}
	if len(ov.Hourly) != 168 {
		t.Fatalf("%d hourly buckets, want 168", len(ov.Hourly))
	}
	want := map[int]int{}
	total := 0
	for _, sp := range specs {
		at := now.Add(-sp.age)
		if at.Before(first) || !at.Before(first.Add(168*time.Hour)) {
			continue
		}
		want[int(at.Sub(first)/time.Hour)]++
		total++
	}
	sum := 0
	for i, b := range ov.Hourly {
		if w := first.Add(time.Duration(i) * time.Hour); !sameTime(b.Start, w) {
			t.Errorf("bucket %d starts %v, want %v", i, b.Start, w)
		}
		if b.N != want[i] {
			t.Errorf("bucket %d (%v): %d, want %d", i, b.Start, b.N, want[i])
		}
		sum += b.N
	}
	if sum != total || total != 6 {
		t.Errorf("the buckets hold %d detections, want %d (d1, d2, d3, d6, d7, d9)", sum, total)
	}
	if want[0] != 1 || want[167] != 1 {
		t.Fatalf("test bug: the first and the last bucket should hold one each: %v", want)
	}

	// The same store a day later: the day and the week move (d1, created
	// at now, is exactly 24 hours old then: still in the day).
	later, err := s.Overview(ctx, now.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	wantLater := []store.TenantCounts{
		{TenantID: "t-acme", TenantName: "Acme Corp", Day: 1, Week: 3},
		{TenantID: "t-beta", TenantName: "Beta GmbH", Day: 0, Week: 1},
		{TenantID: "t-gamma", TenantName: "Gamma Ltd", Day: 0, Week: 1},
		{TenantID: "t-idle", TenantName: "Idle Inc", Day: 0, Week: 0},
	}
	if !slices.Equal(later.Tenants, wantLater) {
		t.Errorf("a day later\n got %+v\nwant %+v", later.Tenants, wantLater)
	}
}

func testOverviewTop(t *testing.T, s DashboardStore) {
	var specs []spec
	// Threat k (k = 0..11) has 12-k detections, except T10 which has 3,
	// as many as T09: the 10 listed are T00..T09, the tie at the cut
	// broken by name ("T09" before "T10").
	n := 0
	for k := range 12 {
		c := 12 - k
		if k == 10 {
			c = 3
		}
		for i := range c {
			n++
			specs = append(specs, spec{fmt.Sprintf("x%03d", n), "t1", "T1", "CorePuaDetection", fmt.Sprintf("T%02d", k),
				fmt.Sprintf("H%02d", (k+i)%13), "u", "low", time.Duration(n) * time.Minute, nil})
		}
	}
	loadFixture(t, s, specs)
	ov, err := s.Overview(t.Context(), now)
	if err != nil {
		t.Fatal(err)
	}
	if len(ov.TopThreats) != 10 {
		t.Fatalf("%d top threats, want 10: %+v", len(ov.TopThreats), ov.TopThreats)
	}
	for i, c := range ov.TopThreats {
		want := store.Count{Name: fmt.Sprintf("T%02d", i), N: 12 - i}
		if i == 9 {
			want.N = 3
		}
		if c != want {
			t.Errorf("top threat %d: %+v, want %+v", i, c, want)
		}
	}
	if len(ov.TopEndpoints) != 10 {
		t.Fatalf("%d top endpoints, want 10", len(ov.TopEndpoints))
	}
	counts := map[string]int{}
	for _, sp := range specs {
		counts[sp.host]++
	}
	hosts := slices.Sorted(func(yield func(string) bool) {
		for h := range counts {
			if !yield(h) {
				return
			}
		}
	})
	slices.SortStableFunc(hosts, func(a, b string) int { return cmp.Compare(counts[b], counts[a]) })
	for i, c := range ov.TopEndpoints {
		if want := (store.Count{Name: hosts[i], N: counts[hosts[i]]}); c != want {
			t.Errorf("top endpoint %d: %+v, want %+v", i, c, want)
		}
	}
}

func testDetail(t *testing.T, s DashboardStore) {
	ctx := t.Context()
	main := det("m1", "t1", now.Add(-time.Hour))
	main.Raw = []byte("{\"id\":\"m1\",\"x\":\"\x00\xff<script>\"}")
	fu := func(id, tenant, endpoint, threat string, age time.Duration) store.Detection {
		d := det(id, tenant, now.Add(-age))
		d.Kind, d.Type, d.EndpointID, d.Threat = store.KindFollowUp, "Event::Endpoint::CorePuaCleanupFailed", endpoint, threat
		return d
	}
	main.EndpointID = "ep-1"
	page1 := []store.Detection{main,
		fu("f2", "t1", "ep-1", main.Threat, 10*time.Minute), // later
		fu("f1", "t1", "ep-1", main.Threat, 30*time.Minute), // earlier
		fu("x1", "t1", "ep-1", "NetCat", 20*time.Minute),    // another threat
		fu("x2", "t1", "ep-2", main.Threat, 20*time.Minute), // another endpoint
	}
	other := main
	other.EventID, other.Kind = "x3", store.KindFollowUp // same endpoint and threat, another tenant
	other.TenantID = "t2"
	plain := det("x4", "t1", now.Add(-15*time.Minute)) // a detection, not a follow-up
	plain.EndpointID = "ep-1"
	page1 = append(page1, plain)
	fresh := commit(t, s, store.PageCommit{TenantID: "t1", Detections: page1, Route: ToChannels([]string{"email", "slack"}), At: now})
	commit(t, s, store.PageCommit{TenantID: "t2", Detections: []store.Detection{other}, At: now})
	stored := map[string]store.Detection{}
	for _, d := range fresh {
		stored[d.EventID] = d
	}

	rows := map[string]int64{}
	for _, it := range claim(t, s, "A", now, time.Minute, 100) {
		if it.EventID == "m1" {
			rows[it.Channel] = it.ID
		}
	}
	if _, err := s.ReleaseClaims(ctx, "A", nil); err != nil {
		t.Fatal(err)
	}
	step := func(at time.Time, fn func(items []int64) error) {
		t.Helper()
		var mine []int64
		for _, it := range claim(t, s, "A", at, time.Minute, 100) {
			if it.EventID == "m1" {
				mine = append(mine, it.ID)
			}
		}
		if err := fn(mine); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ReleaseClaims(ctx, "A", nil); err != nil {
			t.Fatal(err)
		}
	}
	t1, t2 := now.Add(time.Minute), now.Add(2*time.Minute)
	step(now, func([]int64) error {
		return s.MarkRetry(ctx, "A", []int64{rows["email"], rows["slack"]}, t1, "421 busy")
	})
	step(t1, func([]int64) error { return s.MarkSent(ctx, "A", []int64{rows["email"]}, t1) })
	step(t1, func([]int64) error {
		return s.MarkRetry(ctx, "A", []int64{rows["slack"]}, t2, "429 slow down")
	})
	step(t2, func([]int64) error { return s.MarkDead(ctx, "A", []int64{rows["slack"]}, "400 invalid_blocks", t2) })
	ackAt := now.Add(3 * time.Minute)
	ack(t, s, []string{"m1"}, `CORP\ops`, "handled 🦠", ackAt)

	dd, err := s.DetectionDetail(ctx, "m1")
	if err != nil {
		t.Fatalf("DetectionDetail: %v", err)
	}
	checkDetection(t, "detail", dd.Detection, stored["m1"])
	if len(dd.Outbox) != 2 || dd.Outbox[0].ID != rows["email"] || dd.Outbox[1].ID != rows["slack"] {
		t.Fatalf("Outbox %+v, want the email then the slack row", dd.Outbox)
	}
	if o := dd.Outbox[0]; o.State != store.StateSent || o.Channel != "email" || !sameTime(o.SentAt, t1) || o.EventID != "m1" {
		t.Errorf("email row %+v", o)
	}
	if o := dd.Outbox[1]; o.State != store.StateDead || o.LastError != "400 invalid_blocks" || o.Attempts != 3 {
		t.Errorf("slack row %+v", o)
	}
	want := []store.Attempt{
		{OutboxID: rows["email"], Channel: "email", Result: store.AttemptRetry, Error: "421 busy"},
		{OutboxID: rows["slack"], Channel: "slack", Result: store.AttemptRetry, Error: "421 busy"},
		{OutboxID: rows["email"], Channel: "email", At: t1, Result: store.AttemptSent},
		{OutboxID: rows["slack"], Channel: "slack", Result: store.AttemptRetry, Error: "429 slow down"},
		{OutboxID: rows["slack"], Channel: "slack", At: t2, Result: store.AttemptDead, Error: "400 invalid_blocks"},
	}
	checkAttempts(t, "detail", dd.Attempts, want)
	if !sameAck(dd.Ack, &store.Ack{EventID: "m1", By: `CORP\ops`, At: ackAt, Comment: "handled 🦠"}) {
		t.Errorf("Ack %+v", dd.Ack)
	}
	if got := eventIDs(dd.FollowUps); !slices.Equal(got, []string{"f1", "f2"}) {
		t.Fatalf("FollowUps %v, want f1, f2 (same tenant, endpoint and threat, oldest first)", got)
	}
	w := stored["f1"]
	w.Raw = nil
	checkDetection(t, "follow-up", dd.FollowUps[0], w)

	dd, err = s.DetectionDetail(ctx, "x4")
	if err != nil {
		t.Fatal(err)
	}
	if dd.Ack != nil || len(dd.Attempts) != 0 || len(dd.Outbox) != 2 || len(dd.FollowUps) != 2 {
		t.Errorf("x4: Ack %+v, %d attempts, %d rows, %d follow-ups; want none, none, 2, 2", dd.Ack, len(dd.Attempts), len(dd.Outbox), len(dd.FollowUps))
	}
	if _, err := s.DetectionDetail(ctx, "no-such-id"); !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), "no-such-id") {
		t.Errorf("DetectionDetail(unknown) = %v, want ErrNotFound naming the id", err)
	}
}

// checkAttempts compares attempts; a zero At in want is the store's
// clock (MarkRetry), checked only to be set.
func checkAttempts(t *testing.T, label string, got, want []store.Attempt) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d attempts %+v, want %d %+v", label, len(got), got, len(want), want)
	}
	for i := range got {
		g, w := got[i], want[i]
		if w.At.IsZero() {
			if g.At.IsZero() || g.At.Location() != time.UTC {
				t.Errorf("%s: attempt %d has At %v, want a time in UTC", label, i, g.At)
			}
		} else if !sameTime(g.At, norm(w.At)) {
			t.Errorf("%s: attempt %d at %v, want %v", label, i, g.At, norm(w.At))
		}
		g.At, w.At = time.Time{}, time.Time{}
		if g != w {
			t.Errorf("%s: attempt %d\n got %+v\nwant %+v", label, i, g, w)
		}
	}
}

func testAck(t *testing.T, s DashboardStore) {
	ctx := t.Context()
	loadFixture(t, s, fixture)
	if n := ack(t, s, []string{"e01", "e02", "e01"}, "alice", "first", now); n != 2 {
		t.Errorf("acknowledged %d, want 2 (e01 given twice)", n)
	}
	if n := ack(t, s, []string{"e02", "e03"}, "bob", "second", now.Add(time.Hour)); n != 1 {
		t.Errorf("acknowledged %d, want 1 (e02 was already)", n)
	}
	if n := ack(t, s, nil, "bob", "", now); n != 0 {
		t.Errorf("no ids: %d", n)
	}
	_, err := s.AckDetections(ctx, []string{"e04", "nope-1", "e05", "nope-2"}, "eve", "x", now)
	if !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), "nope-1") || !strings.Contains(err.Error(), "nope-2") ||
		strings.Contains(err.Error(), "e04") {
		t.Errorf("AckDetections(unknown ids) = %v, want ErrNotFound naming nope-1 and nope-2 (only)", err)
	}
	want := map[string]store.Ack{
		"e01": {EventID: "e01", By: "alice", At: now, Comment: "first"},
		"e02": {EventID: "e02", By: "alice", At: now, Comment: "first"},
		"e03": {EventID: "e03", By: "bob", At: now.Add(time.Hour), Comment: "second"},
	}
	for _, r := range query(t, s, store.DetectionQuery{}).Rows {
		w, ok := want[r.EventID]
		switch {
		case !ok && r.Ack != nil:
			t.Errorf("%s is acknowledged (%+v); the failed call wrote it", r.EventID, *r.Ack)
		case ok && !sameAck(r.Ack, &w):
			t.Errorf("%s: Ack %+v, want %+v", r.EventID, r.Ack, w)
		}
	}
	ov, err := s.Overview(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if ov.Unacked != len(fixture)-3 {
		t.Errorf("Unacked %d, want %d", ov.Unacked, len(fixture)-3)
	}
}

// sameAck reports whether got is want as the store returns it.
func sameAck(got, want *store.Ack) bool {
	if got == nil || want == nil {
		return got == want
	}
	return got.EventID == want.EventID && got.By == want.By && got.Comment == want.Comment && sameTime(got.At, norm(want.At))
}

// testAttempts: MarkSent, MarkRetry and MarkDead record one attempt per
// row they change, and none for the rows they leave alone.
func testAttempts(t *testing.T, s DashboardStore) {
	ctx := t.Context()
	loadFixture(t, s, fixture[:2]) // e01 email; e02 email and slack
	rows := map[string]int64{}
	for _, it := range claim(t, s, "A", now, time.Minute, 10) {
		rows[it.EventID+"/"+it.Channel] = it.ID
	}
	before := time.Now().UTC().Truncate(time.Millisecond)
	if err := s.MarkRetry(ctx, "A", []int64{rows["e02/slack"]}, now.Add(time.Minute), "timeout\x00"); err != nil {
		t.Fatal(err)
	}
	after := time.Now().UTC()
	// e02/slack is no longer held: marking it again changes nothing and
	// records nothing.
	err := s.MarkSent(ctx, "A", []int64{rows["e01/email"], rows["e02/slack"]}, now)
	if !errors.Is(err, store.ErrNotHeld) {
		t.Fatalf("MarkSent(held, released) = %v, want ErrNotHeld", err)
	}
	if err := s.MarkDead(ctx, "B", []int64{rows["e02/email"]}, "not mine", now); !errors.Is(err, store.ErrNotHeld) {
		t.Fatalf("MarkDead by another owner = %v, want ErrNotHeld", err)
	}
	if err := s.MarkDead(ctx, "A", []int64{rows["e02/email"]}, "550 no such user", now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	d1, err := s.DetectionDetail(ctx, "e01")
	if err != nil {
		t.Fatal(err)
	}
	checkAttempts(t, "e01", d1.Attempts, []store.Attempt{{OutboxID: rows["e01/email"], Channel: "email", At: now, Result: store.AttemptSent}})
	d2, err := s.DetectionDetail(ctx, "e02")
	if err != nil {
		t.Fatal(err)
	}
	checkAttempts(t, "e02", d2.Attempts, []store.Attempt{
		{OutboxID: rows["e02/slack"], Channel: "slack", Result: store.AttemptRetry, Error: "timeout\uFFFD"},
		{OutboxID: rows["e02/email"], Channel: "email", At: now.Add(time.Second), Result: store.AttemptDead, Error: "550 no such user"},
	})
	if at := d2.Attempts[0].At; at.Before(before) || at.After(after) {
		t.Errorf("the retry is recorded at %v, want the store's clock when MarkRetry ran (%v..%v)", at, before, after)
	}
}
