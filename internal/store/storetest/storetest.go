package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/store"
)

// Run runs the conformance suite against the stores open returns. open is
// called once per subtest, from parallel subtests, and must return a new
// empty store that it closes in t.Cleanup.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Tenants", testTenants},
		{"TenantByID", testTenantByID},
		{"CommitPage", testCommitPage},
		{"CommitPageEmptyCursor", testEmptyCursor},
		{"CommitPageAtomic", testCommitAtomic},
		{"CommitPageLarge", testCommitLarge},
		{"CommitPageDuplicates", testCommitDuplicates},
		{"CommitPageGroupsInOnePage", testGroupsInOnePage},
		{"ClaimDueOnly", testClaimDue},
		{"ClaimLease", testClaimLease},
		{"MarkRetryHidesUntilNext", testMarkRetry},
		{"ClaimConcurrent", testClaimConcurrent},
		{"SentDeadRequeueBatch", testSentDeadRequeueBatch},
		{"UnknownIDs", testUnknownIDs},
		{"Listing", testListing},
		{"Times", testTimes},
		{"HostileStrings", testHostile},
		{"TextSanitized", testSanitized},
		{"RoutedGroups", testRoutedGroups},
		{"ClaimWholeGroups", testClaimWholeGroups},
		{"LostWindows", testLostWindows},
		{"MarksOnlyHeldRows", testMarksOnlyHeld},
		{"MessagesComposedOnce", testSetBatches},
		{"ReleaseClaims", testReleaseClaims},
		{"Holders", testHolders},
		{"OutboxCounts", testOutboxCounts},
		{"OutboxByChannel", testOutboxByChannel},
		{"AlarmSlots", testAlarmSlots},
		{"AlarmSlotsConcurrent", testAlarmSlotsConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// base is an arbitrary time with a millisecond part.
var base = time.Date(2025, 3, 14, 9, 26, 53, 589_000_000, time.UTC)

var channels = []string{"email", "slack"}

// det returns a detection with every field set.
func det(id, tenant string, created time.Time) store.Detection {
	return store.Detection{
		EventID:      id,
		TenantID:     tenant,
		TenantName:   "Tenant " + tenant,
		Kind:         store.KindDetection,
		Type:         "Event::Endpoint::CorePuaDetection",
		Name:         `PUA detected: 'PsExec' at 'C:\tools\psexec.exe'`,
		Severity:     "medium",
		Threat:       "PsExec",
		Location:     "HOST-" + id,
		User:         `CORP\alice`,
		EndpointID:   "ep-" + id,
		EndpointType: "computer",
		Path:         `C:\tools\psexec.exe`,
		When:         created.Add(-1500 * time.Millisecond),
		CreatedAt:    created,
		Raw:          []byte(`{"id":"` + id + `","severity":"medium"}`),
	}
}

// norm is how the store returns t.
func norm(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Millisecond)
}

// stored is d as the store returns it after a commit at at.
func stored(d store.Detection, at time.Time) store.Detection {
	if d.SeenAt.IsZero() {
		d.SeenAt = at
	}
	d.When, d.CreatedAt, d.SeenAt = norm(d.When), norm(d.CreatedAt), norm(d.SeenAt)
	return d
}

func sameTime(got, want time.Time) bool {
	if want.IsZero() {
		return got.IsZero()
	}
	return got.Equal(want) && got.Location() == time.UTC
}

type differ []string

func (d *differ) str(name, got, want string) {
	if got != want {
		*d = append(*d, fmt.Sprintf("%s = %q, want %q", name, short(got), short(want)))
	}
}

// time compares got with want as the store returns it (norm).
func (d *differ) time(name string, got, want time.Time) {
	want = norm(want)
	if !sameTime(got, want) {
		*d = append(*d, fmt.Sprintf("%s = %v (%v), want %v (UTC)", name, got, got.Location(), want))
	}
}

func (d *differ) int(name string, got, want int64) {
	if got != want {
		*d = append(*d, fmt.Sprintf("%s = %d, want %d", name, got, want))
	}
}

func short(s string) string {
	if len(s) > 80 {
		return fmt.Sprintf("%s...(%d bytes)", s[:80], len(s))
	}
	return s
}

func diffDetection(got, want store.Detection) differ {
	var d differ
	d.str("EventID", got.EventID, want.EventID)
	d.str("TenantID", got.TenantID, want.TenantID)
	d.str("TenantName", got.TenantName, want.TenantName)
	d.str("Kind", got.Kind, want.Kind)
	d.str("Type", got.Type, want.Type)
	d.str("Name", got.Name, want.Name)
	d.str("Severity", got.Severity, want.Severity)
	d.str("Threat", got.Threat, want.Threat)
	d.str("Location", got.Location, want.Location)
	d.str("User", got.User, want.User)
	d.str("EndpointID", got.EndpointID, want.EndpointID)
	d.str("EndpointType", got.EndpointType, want.EndpointType)
	d.str("Path", got.Path, want.Path)
	d.time("When", got.When, want.When)
	d.time("CreatedAt", got.CreatedAt, want.CreatedAt)
	d.time("SeenAt", got.SeenAt, want.SeenAt)
	if !bytes.Equal(got.Raw, want.Raw) {
		d = append(d, fmt.Sprintf("Raw = %q, want %q", short(string(got.Raw)), short(string(want.Raw))))
	}
	return d
}

func checkDetection(t *testing.T, label string, got, want store.Detection) {
	t.Helper()
	for _, m := range diffDetection(got, want) {
		t.Errorf("%s: %s", label, m)
	}
}

func checkDetections(t *testing.T, label string, got, want []store.Detection) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d detections %v, want %d %v", label, len(got), eventIDs(got), len(want), eventIDs(want))
	}
	for i := range got {
		checkDetection(t, fmt.Sprintf("%s[%d]", label, i), got[i], want[i])
	}
}

func eventIDs(ds []store.Detection) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.EventID
	}
	return out
}

func ids(items []store.OutboxItem) []int64 {
	out := make([]int64, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}

func commit(t *testing.T, s store.Store, p store.PageCommit) []store.Detection {
	t.Helper()
	fresh, err := s.CommitPage(t.Context(), p)
	if err != nil {
		t.Fatalf("CommitPage(%s): %v", p.TenantID, err)
	}
	return fresh
}

func tenants(t *testing.T, s store.Store) map[string]store.Tenant {
	t.Helper()
	ts, err := s.Tenants(t.Context())
	if err != nil {
		t.Fatalf("Tenants: %v", err)
	}
	m := make(map[string]store.Tenant, len(ts))
	for _, tn := range ts {
		if _, dup := m[tn.ID]; dup {
			t.Fatalf("Tenants lists %q twice", tn.ID)
		}
		m[tn.ID] = tn
	}
	return m
}

func tenant(t *testing.T, s store.Store, id string) store.Tenant {
	t.Helper()
	tn, ok := tenants(t, s)[id]
	if !ok {
		t.Fatalf("tenant %q is not stored", id)
	}
	return tn
}

func outbox(t *testing.T, s store.Store, states ...string) []store.OutboxItem {
	t.Helper()
	items, err := s.Outbox(t.Context(), store.OutboxFilter{States: states})
	if err != nil {
		t.Fatalf("Outbox(%v): %v", states, err)
	}
	return items
}

func row(t *testing.T, s store.Store, id int64) store.OutboxItem {
	t.Helper()
	for _, it := range outbox(t, s) {
		if it.ID == id {
			return it
		}
	}
	t.Fatalf("outbox row %d is not listed", id)
	return store.OutboxItem{}
}

func detections(t *testing.T, s store.Store, f store.DetectionFilter) []store.Detection {
	t.Helper()
	ds, err := s.Detections(t.Context(), f)
	if err != nil {
		t.Fatalf("Detections(%+v): %v", f, err)
	}
	return ds
}

func claim(t *testing.T, s store.Store, owner string, now time.Time, lease time.Duration, limit int) []store.OutboxItem {
	t.Helper()
	items, err := s.ClaimOutbox(t.Context(), store.Claim{Owner: owner, Now: now, Lease: lease, Limit: limit})
	if err != nil {
		t.Fatalf("ClaimOutbox(%s, %v): %v", owner, now, err)
	}
	return items
}

func checkIDs(t *testing.T, label string, got, want []int64) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s: ids %v, want %v", label, got, want)
	}
}

// page commits n detections e<prefix>0.. of tenant at at on chs and
// returns the outbox ids made, lowest first.
func page(t *testing.T, s store.Store, tenantID, prefix string, n int, chs []string, at time.Time) []int64 {
	t.Helper()
	p := store.PageCommit{TenantID: tenantID, Cursor: "cursor-" + prefix, Route: ToChannels(chs), At: at}
	for i := range n {
		p.Detections = append(p.Detections, det(fmt.Sprintf("%s%04d", prefix, i), tenantID, at.Add(-time.Duration(n-i)*time.Second)))
	}
	if fresh := commit(t, s, p); len(fresh) != n {
		t.Fatalf("CommitPage returned %d new detections, want %d", len(fresh), n)
	}
	var out []int64
	for _, it := range outbox(t, s) {
		if strings.HasPrefix(it.EventID, prefix) {
			out = append(out, it.ID)
		}
	}
	slices.Sort(out)
	if len(out) != n*len(chs) {
		t.Fatalf("%d outbox rows, want %d", len(out), n*len(chs))
	}
	return out
}

func checkTenant(t *testing.T, label string, got, want store.Tenant) {
	t.Helper()
	var d differ
	d.str("ID", got.ID, want.ID)
	d.str("Name", got.Name, want.Name)
	d.str("Region", got.Region, want.Region)
	d.str("APIHost", got.APIHost, want.APIHost)
	d.str("Cursor", got.Cursor, want.Cursor)
	d.time("LastRead", got.LastRead, want.LastRead)
	d.time("OverlapAt", got.OverlapAt, want.OverlapAt)
	d.str("LastError", got.LastError, want.LastError)
	d.time("ErrorAt", got.ErrorAt, want.ErrorAt)
	d.time("FirstSeen", got.FirstSeen, want.FirstSeen)
	if got.Removed != want.Removed {
		d = append(d, fmt.Sprintf("Removed = %v, want %v", got.Removed, want.Removed))
	}
	if got.UpdatedAt.IsZero() {
		d = append(d, "UpdatedAt is zero")
	}
	for _, m := range d {
		t.Errorf("%s: %s", label, m)
	}
}

// testTenantByID: Tenant returns the row Tenants lists, progress
// included, and ErrNotFound for an id not stored.
func testTenantByID(t *testing.T, s store.Store) {
	ctx := t.Context()
	if err := s.UpsertTenants(ctx, []store.Tenant{{ID: "a", Name: "Alpha"}, {ID: "b", Name: "Bravo"}}, base); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CommitPage(ctx, store.PageCommit{TenantID: "b", Cursor: "cur-b", EndOfFeed: true, At: base.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	all := tenants(t, s)
	for _, want := range all {
		got, err := s.Tenant(ctx, want.ID)
		if err != nil {
			t.Fatalf("Tenant(%q): %v", want.ID, err)
		}
		if got != want {
			t.Errorf("Tenant(%q) = %+v, want what Tenants lists: %+v", want.ID, got, want)
		}
	}
	if b, _ := s.Tenant(ctx, "b"); b.Cursor != "cur-b" || !b.LastRead.Equal(base.Add(time.Minute)) {
		t.Errorf("Tenant(b) = %+v, want its cursor and last read", b)
	}
	if _, err := s.Tenant(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Tenant(nope) = %v, want ErrNotFound", err)
	}
}

func testTenants(t *testing.T, s store.Store) {
	ctx := t.Context()
	t1, t2, t3, t4, t5 := base, base.Add(time.Minute), base.Add(2*time.Minute), base.Add(3*time.Minute), base.Add(4*time.Minute)
	a := store.Tenant{ID: "a", Name: "Alpha", Region: "eu01", APIHost: "https://api-eu01.central.sophos.com"}
	b := store.Tenant{ID: "b", Name: "Bravo", Region: "us01", APIHost: "https://api-us01.central.sophos.com"}
	if err := s.UpsertTenants(ctx, []store.Tenant{a, b}, t1); err != nil {
		t.Fatalf("UpsertTenants: %v", err)
	}
	ts := tenants(t, s)
	if len(ts) != 2 {
		t.Fatalf("Tenants = %d, want 2", len(ts))
	}
	wantA := a
	wantA.FirstSeen = t1
	wantB := b
	wantB.FirstSeen = t1
	checkTenant(t, "new a", ts["a"], wantA)
	checkTenant(t, "new b", ts["b"], wantB)

	// Progress.
	commit(t, s, store.PageCommit{TenantID: "a", Cursor: "c1", EndOfFeed: true, At: t2})
	if err := s.SetOverlapAt(ctx, "a", t3); err != nil {
		t.Fatalf("SetOverlapAt: %v", err)
	}
	if err := s.SetTenantError(ctx, "b", "401 unauthorized", t4); err != nil {
		t.Fatalf("SetTenantError: %v", err)
	}

	// a renamed, b gone, c new: progress kept.
	a2 := a
	a2.Name, a2.Region, a2.APIHost = "Alpha Renamed", "eu02", "https://api-eu02.central.sophos.com"
	c := store.Tenant{ID: "c", Name: "Charlie", Region: "de01", APIHost: "https://api-de01.central.sophos.com",
		Cursor: "ignored", LastError: "ignored", Removed: true} // progress fields of the input are not taken
	if err := s.UpsertTenants(ctx, []store.Tenant{a2, c}, t5); err != nil {
		t.Fatalf("UpsertTenants: %v", err)
	}
	ts = tenants(t, s)
	if len(ts) != 3 {
		t.Fatalf("Tenants = %d, want 3", len(ts))
	}
	wantA = a2
	wantA.FirstSeen, wantA.Cursor, wantA.LastRead, wantA.OverlapAt = t1, "c1", t2, t3
	checkTenant(t, "renamed a", ts["a"], wantA)
	wantB.LastError, wantB.ErrorAt, wantB.Removed = "401 unauthorized", t4, true
	checkTenant(t, "removed b", ts["b"], wantB)
	wantC := store.Tenant{ID: "c", Name: "Charlie", Region: "de01", APIHost: "https://api-de01.central.sophos.com", FirstSeen: t5}
	checkTenant(t, "new c", ts["c"], wantC)

	// An empty list is no information: nothing changes.
	for _, empty := range [][]store.Tenant{nil, {}} {
		if err := s.UpsertTenants(ctx, empty, t5.Add(time.Hour)); err != nil {
			t.Fatalf("UpsertTenants(empty): %v", err)
		}
		after := tenants(t, s)
		checkTenant(t, "a after empty list", after["a"], wantA)
		checkTenant(t, "b after empty list", after["b"], wantB)
		checkTenant(t, "c after empty list", after["c"], wantC)
	}

	// b comes back.
	if err := s.UpsertTenants(ctx, []store.Tenant{a2, b, c}, t5.Add(2*time.Hour)); err != nil {
		t.Fatalf("UpsertTenants: %v", err)
	}
	wantB.Removed = false
	checkTenant(t, "returned b", tenant(t, s, "b"), wantB)

	// "" clears the error; a read clears it too.
	if err := s.SetTenantError(ctx, "b", "", t5); err != nil {
		t.Fatalf("SetTenantError(clear): %v", err)
	}
	wantB.LastError, wantB.ErrorAt = "", time.Time{}
	checkTenant(t, "cleared b", tenant(t, s, "b"), wantB)
	if err := s.SetTenantError(ctx, "a", "timeout", t5); err != nil {
		t.Fatalf("SetTenantError: %v", err)
	}
	commit(t, s, store.PageCommit{TenantID: "a", At: t5})
	if got := tenant(t, s, "a"); got.LastError != "" || !got.ErrorAt.IsZero() {
		t.Errorf("after a good read: LastError %q ErrorAt %v, want cleared", got.LastError, got.ErrorAt)
	}

	// Recording an error or an overlap of a tenant not stored yet creates it.
	if err := s.SetTenantError(ctx, "d", "403 forbidden", t5); err != nil {
		t.Fatalf("SetTenantError(new tenant): %v", err)
	}
	if err := s.SetOverlapAt(ctx, "e", t5); err != nil {
		t.Fatalf("SetOverlapAt(new tenant): %v", err)
	}
	checkTenant(t, "d", tenant(t, s, "d"), store.Tenant{ID: "d", LastError: "403 forbidden", ErrorAt: t5, FirstSeen: t5})
	checkTenant(t, "e", tenant(t, s, "e"), store.Tenant{ID: "e", OverlapAt: t5, FirstSeen: t5})

	if err := s.UpsertTenants(ctx, []store.Tenant{a2, {Name: "no id"}}, t5); err == nil {
		t.Error("UpsertTenants accepted a tenant with an empty id")
	}
	if len(tenants(t, s)) != 5 {
		t.Errorf("a rejected UpsertTenants changed the tenants")
	}
}

func testCommitPage(t *testing.T, s store.Store) {
	ctx := t.Context()
	at := base.Add(time.Minute)
	d1, d2, d3 := det("e1", "t1", base), det("e2", "t1", base.Add(time.Second)), det("e3", "t1", base.Add(2*time.Second))
	d2.Kind = store.KindFollowUp
	d3.SeenAt = base.Add(30 * time.Second) // kept when given
	fresh := commit(t, s, store.PageCommit{TenantID: "t1", Cursor: "c1", Detections: []store.Detection{d1, d2, d3}, Route: ToChannels(channels), At: at})
	want := []store.Detection{stored(d1, at), stored(d2, at), stored(d3, at)}
	checkDetections(t, "new detections", fresh, want)
	checkTenant(t, "created tenant", tenant(t, s, "t1"), store.Tenant{ID: "t1", Cursor: "c1", FirstSeen: at})

	rows := outbox(t, s)
	if len(rows) != 6 {
		t.Fatalf("%d outbox rows, want 6 (3 detections x 2 channels)", len(rows))
	}
	byEvent := map[string]store.Detection{"e1": want[0], "e2": want[1], "e3": want[2]}
	seen := map[string]bool{}
	for _, r := range rows {
		key := r.EventID + "/" + r.Channel
		if seen[key] {
			t.Errorf("two outbox rows for %s", key)
		}
		seen[key] = true
		if !slices.Contains(channels, r.Channel) {
			t.Errorf("row %d: channel %q", r.ID, r.Channel)
		}
		var d differ
		d.str("TenantID", r.TenantID, "t1")
		d.str("State", r.State, store.StatePending)
		d.int("Attempts", int64(r.Attempts), 0)
		d.time("NextAt", r.NextAt, at)
		d.time("CreatedAt", r.CreatedAt, at)
		d.time("SentAt", r.SentAt, time.Time{})
		d.str("LastError", r.LastError, "")
		d.str("BatchID", r.BatchID, "")
		for _, m := range d {
			t.Errorf("row %d: %s", r.ID, m)
		}
		checkDetection(t, fmt.Sprintf("row %d detection", r.ID), r.Detection, byEvent[r.EventID])
	}

	// The same page again: nothing new, no rows; the cursor still moves.
	at2 := at.Add(time.Minute)
	fresh = commit(t, s, store.PageCommit{TenantID: "t1", Cursor: "c2", Detections: []store.Detection{d1, d2, d3}, Route: ToChannels(channels), At: at2})
	if len(fresh) != 0 {
		t.Errorf("second commit of the page returned %v, want none", eventIDs(fresh))
	}
	if n := len(outbox(t, s)); n != 6 {
		t.Errorf("%d outbox rows after the second commit, want 6", n)
	}
	if c := tenant(t, s, "t1").Cursor; c != "c2" {
		t.Errorf("cursor %q, want c2", c)
	}
	checkDetections(t, "stored detections", detections(t, s, store.DetectionFilter{}), []store.Detection{want[2], want[1], want[0]})

	// A mixed page, with an event repeated inside it, reaching the end of the feed.
	at3 := at2.Add(time.Minute)
	d4 := det("e4", "t1", base.Add(3*time.Second))
	fresh = commit(t, s, store.PageCommit{TenantID: "t1", Cursor: "c3", Detections: []store.Detection{d1, d4, d4}, Route: ToChannels(channels), EndOfFeed: true, At: at3})
	checkDetections(t, "mixed page", fresh, []store.Detection{stored(d4, at3)})
	if n := len(outbox(t, s)); n != 8 {
		t.Errorf("%d outbox rows after the mixed page, want 8", n)
	}
	checkTenant(t, "tenant after end of feed", tenant(t, s, "t1"), store.Tenant{ID: "t1", Cursor: "c3", LastRead: at3, FirstSeen: at})

	// No channels: stored, no rows. A detection without TenantID takes the page's.
	d5 := det("e5", "", base.Add(4*time.Second))
	fresh = commit(t, s, store.PageCommit{TenantID: "t1", Cursor: "c4", Detections: []store.Detection{d5}, At: at3})
	d5.TenantID = "t1"
	checkDetections(t, "page without channels", fresh, []store.Detection{stored(d5, at3)})
	if n := len(outbox(t, s)); n != 8 {
		t.Errorf("%d outbox rows after a page without channels, want 8", n)
	}

	// Duplicate channels count once.
	d6 := det("e6", "t1", base.Add(5*time.Second))
	commit(t, s, store.PageCommit{TenantID: "t1", Detections: []store.Detection{d6}, Route: ToChannels([]string{"email", "email"}), At: at3})
	if n := len(outbox(t, s)); n != 9 {
		t.Errorf("%d outbox rows after a page with a repeated channel, want 9", n)
	}

	// An empty page only moves the cursor.
	if fresh, err := s.CommitPage(ctx, store.PageCommit{TenantID: "t1", Cursor: "c5", At: at3}); err != nil || len(fresh) != 0 {
		t.Fatalf("empty page: %v, %v", fresh, err)
	}
	if c := tenant(t, s, "t1").Cursor; c != "c5" {
		t.Errorf("cursor %q after an empty page, want c5", c)
	}
}

func testEmptyCursor(t *testing.T, s store.Store) {
	at := base
	commit(t, s, store.PageCommit{TenantID: "t1", Cursor: "c1", At: at})
	d := det("e1", "t1", base)
	fresh := commit(t, s, store.PageCommit{TenantID: "t1", Cursor: "", Detections: []store.Detection{d}, Route: ToChannels(channels), At: at.Add(time.Minute)})
	if len(fresh) != 1 {
		t.Fatalf("overlap page returned %d new detections, want 1", len(fresh))
	}
	if c := tenant(t, s, "t1").Cursor; c != "c1" {
		t.Errorf("cursor %q after an overlap page with no cursor, want c1 kept", c)
	}
	// A first page without cursor creates the tenant with none.
	commit(t, s, store.PageCommit{TenantID: "t2", At: at})
	checkTenant(t, "t2", tenant(t, s, "t2"), store.Tenant{ID: "t2", FirstSeen: at})
}

func testCommitAtomic(t *testing.T, s store.Store) {
	ctx := t.Context()
	at := base
	commit(t, s, store.PageCommit{TenantID: "t1", Cursor: "c1", Detections: []store.Detection{det("e1", "t1", base)}, Route: ToChannels(channels), At: at})
	if err := s.SetTenantError(ctx, "t1", "previous error", at); err != nil {
		t.Fatal(err)
	}
	wantT1 := store.Tenant{ID: "t1", Cursor: "c1", LastError: "previous error", ErrorAt: at, FirstSeen: at}
	unchanged := func(label string) {
		t.Helper()
		ts := tenants(t, s)
		if len(ts) != 1 {
			t.Errorf("%s: %d tenants, want 1", label, len(ts))
		}
		checkTenant(t, label+": tenant", ts["t1"], wantT1)
		if ds := detections(t, s, store.DetectionFilter{}); len(ds) != 1 {
			t.Errorf("%s: detections %v, want [e1]", label, eventIDs(ds))
		}
		if rows := outbox(t, s); len(rows) != 2 {
			t.Errorf("%s: %d outbox rows, want 2", label, len(rows))
		}
	}

	// The third detection is rejected after the tenant row and two
	// detections were written in the transaction.
	bad := store.Detection{TenantID: "t1", Kind: store.KindDetection, Name: "no event id", CreatedAt: base}
	p := store.PageCommit{TenantID: "t1", Cursor: "c2", EndOfFeed: true, Route: ToChannels(channels), At: at.Add(time.Minute),
		Detections: []store.Detection{det("e2", "t1", base), det("e3", "t1", base), bad}}
	if fresh, err := s.CommitPage(ctx, p); err == nil {
		t.Fatalf("CommitPage with an empty event id succeeded: %v", eventIDs(fresh))
	}
	unchanged("after a rejected detection")

	// A tenant not stored yet is not created by a failed page.
	p.TenantID = "t-new"
	if _, err := s.CommitPage(ctx, p); err == nil {
		t.Fatal("CommitPage with an empty event id succeeded")
	}
	unchanged("after a rejected page of a new tenant")

	// A cancelled context writes nothing.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.CommitPage(cctx, store.PageCommit{TenantID: "t1", Cursor: "c9", Detections: []store.Detection{det("e9", "t1", base)}, Route: ToChannels(channels), At: at}); err == nil {
		t.Fatal("CommitPage with a cancelled context succeeded")
	}
	unchanged("after a cancelled commit")

	// Bad pages are rejected.
	for name, p := range map[string]store.PageCommit{
		"no tenant id":  {Cursor: "c9", At: at},
		"empty channel": {TenantID: "t1", Cursor: "c9", Detections: []store.Detection{det("e9", "t1", base)}, Route: ToChannels([]string{"email", ""}), At: at},
		"zero time":     {TenantID: "t1", Cursor: "c9"},
	} {
		if _, err := s.CommitPage(ctx, p); err == nil {
			t.Errorf("CommitPage with %s succeeded", name)
		}
		unchanged("after a page with " + name)
	}

	// The detections of the failed page were not stored: they are new now.
	fresh := commit(t, s, store.PageCommit{TenantID: "t1", Cursor: "c2", Detections: []store.Detection{det("e2", "t1", base), det("e3", "t1", base)}, Route: ToChannels(channels), At: at})
	if len(fresh) != 2 {
		t.Errorf("after the failures, e2 and e3 are new: got %v", eventIDs(fresh))
	}
}

// largePage is bigger than one INSERT statement takes (SQLite: 32766
// parameters, so 1,927 detections or 4,095 outbox rows a statement).
const largePage = 5000

// testCommitLarge commits pages of 5,000 detections to two channels (one
// grouped in 1,000 groups of five) and checks every row is stored once,
// the new detections come back in page order, and a second large page
// mixing stored and new events, with repeats, adds only the new ones.
func testCommitLarge(t *testing.T, s store.Store) {
	at := base
	route := func(d store.Detection) []store.Delivery {
		n, _ := strconv.Atoi(strings.TrimPrefix(d.EventID, "big"))
		return []store.Delivery{{Channel: "email"},
			{Channel: "digest", GroupKey: fmt.Sprintf("g%d", n/5), Wait: time.Minute, DigestAbove: 3}}
	}
	id := func(i int) string { return fmt.Sprintf("big%05d", i) }
	var first []store.Detection
	for i := range largePage {
		first = append(first, det(id(i), "t1", base.Add(time.Duration(i)*time.Millisecond)))
	}
	fresh := commit(t, s, store.PageCommit{TenantID: "t1", Cursor: "c1", Detections: first, Route: route, At: at})
	if got, want := eventIDs(fresh), eventIDs(first); !slices.Equal(got, want) {
		t.Fatalf("first page: %d new detections, want the %d of the page in page order", len(got), len(want))
	}
	all := detections(t, s, store.DetectionFilter{})
	if len(all) != largePage {
		t.Fatalf("%d detections stored, want %d", len(all), largePage)
	}
	byID := map[string]store.Detection{}
	for _, d := range all {
		byID[d.EventID] = d
	}
	for _, i := range []int{0, 1926, 1927, 3853, 3854, largePage - 1} { // around the chunks of 1,927
		checkDetection(t, "stored "+id(i), byID[id(i)], stored(first[i], at))
		checkDetection(t, "new "+id(i), fresh[i], stored(first[i], at))
	}
	rows := outbox(t, s)
	if len(rows) != 2*largePage {
		t.Fatalf("%d outbox rows, want %d (2 channels)", len(rows), 2*largePage)
	}
	seen := map[string]bool{}
	for _, r := range rows {
		key := r.EventID + "/" + r.Channel
		if seen[key] {
			t.Fatalf("two outbox rows for %s", key)
		}
		seen[key] = true
		want, wantKey := at, ""
		if r.Channel == "digest" {
			n, _ := strconv.Atoi(strings.TrimPrefix(r.EventID, "big"))
			want, wantKey = at.Add(time.Minute), fmt.Sprintf("g%d", n/5)
		}
		if !sameTime(r.NextAt, want) || r.GroupKey != wantKey || r.TenantID != "t1" || r.State != store.StatePending {
			t.Fatalf("row %s: due %v, group %q, tenant %q, %s; want %v, %q, t1, pending", key, r.NextAt, r.GroupKey, r.TenantID, r.State, want, wantKey)
		}
		checkDetection(t, "row "+key, r.Detection, byID[r.EventID])
	}

	// The second page: events 2500..7499, each of the new ones twice,
	// the stored ones once. Only 5000..7499 are new, in page order, and
	// in new groups (g1000..g1499): due after the wait from this page.
	at2 := at.Add(10 * time.Second)
	var second, wantNew []store.Detection
	for i := largePage / 2; i < largePage+largePage/2; i++ {
		d := det(id(i), "t1", base.Add(time.Duration(i)*time.Millisecond))
		second = append(second, d)
		if i >= largePage {
			second = append(second, d)
			wantNew = append(wantNew, d)
		}
	}
	fresh = commit(t, s, store.PageCommit{TenantID: "t1", Cursor: "c2", Detections: second, Route: route, At: at2})
	if got, want := eventIDs(fresh), eventIDs(wantNew); !slices.Equal(got, want) {
		t.Fatalf("second page: %d new detections (first %v), want %d in page order (first %v)", len(got), got[:min(3, len(got))], len(want), want[:3])
	}
	rows = outbox(t, s)
	if len(rows) != 2*(largePage+largePage/2) {
		t.Fatalf("%d outbox rows after the second page, want %d", len(rows), 2*(largePage+largePage/2))
	}
	for _, r := range rows {
		if r.Channel == "digest" && r.EventID >= id(largePage) && !sameTime(r.NextAt, at2.Add(time.Minute)) {
			t.Fatalf("row %s/%s due %v, want %v (new groups, after their wait)", r.EventID, r.Channel, r.NextAt, at2.Add(time.Minute))
		}
	}
	if c := tenant(t, s, "t1").Cursor; c != "c2" {
		t.Errorf("cursor %q, want c2", c)
	}
}

// testCommitDuplicates: an event id given twice in a page is stored
// once, as first given; one stored by an earlier page is not new; the
// new detections are exactly the new events, in page order, each with
// one outbox row per channel.
func testCommitDuplicates(t *testing.T, s store.Store) {
	at := base
	a, b, c := det("dup-a", "t1", base), det("dup-b", "t1", base), det("dup-c", "t1", base)
	a2 := a
	a2.Name = "the same event again, changed"
	fresh := commit(t, s, store.PageCommit{TenantID: "t1", Cursor: "c1", Route: ToChannels(channels), At: at,
		Detections: []store.Detection{a, b, a2, c, b}})
	checkDetections(t, "first page", fresh, []store.Detection{stored(a, at), stored(b, at), stored(c, at)})
	for _, d := range detections(t, s, store.DetectionFilter{}) {
		if d.EventID == "dup-a" && d.Name != a.Name {
			t.Errorf("dup-a stored with name %q, want the first one's %q", d.Name, a.Name)
		}
	}

	at2 := at.Add(time.Minute)
	d, e := det("dup-d", "t1", base), det("dup-e", "t1", base)
	fresh = commit(t, s, store.PageCommit{TenantID: "t1", Cursor: "c2", Route: ToChannels(channels), At: at2,
		Detections: []store.Detection{d, a, d, c, e, a2}})
	checkDetections(t, "second page", fresh, []store.Detection{stored(d, at2), stored(e, at2)})

	// A page of nothing but stored events is new in nothing.
	if fresh := commit(t, s, store.PageCommit{TenantID: "t1", Cursor: "c3", Route: ToChannels(channels), At: at2,
		Detections: []store.Detection{e, a, b, e}}); len(fresh) != 0 {
		t.Errorf("a page of stored events returned %v as new", eventIDs(fresh))
	}
	rows := outbox(t, s)
	count := map[string]int{}
	for _, r := range rows {
		count[r.EventID]++
	}
	if len(rows) != 5*len(channels) {
		t.Errorf("%d outbox rows, want %d (5 events x %d channels): %v", len(rows), 5*len(channels), len(channels), count)
	}
	for _, id := range []string{"dup-a", "dup-b", "dup-c", "dup-d", "dup-e"} {
		if count[id] != len(channels) {
			t.Errorf("%s has %d outbox rows, want %d", id, count[id], len(channels))
		}
	}
}

// testGroupsInOnePage: detections of one group in one page share its
// message, as if committed one page each; a group whose last message
// was sent waits for the interval.
func testGroupsInOnePage(t *testing.T, s store.Store) {
	route := func(d store.Detection) []store.Delivery {
		return []store.Delivery{{Channel: "soc", GroupKey: "endpoint=" + d.EndpointID, Wait: 30 * time.Second, Interval: 5 * time.Minute}}
	}
	at := base
	x1, y1 := det("x1", "A", at), det("y1", "A", at)
	fresh := commit(t, s, store.PageCommit{TenantID: "A", Detections: []store.Detection{x1, y1}, Route: route, At: at})
	if len(fresh) != 2 {
		t.Fatalf("%d new, want 2", len(fresh))
	}
	var sent []int64
	for _, r := range outbox(t, s) {
		if !sameTime(r.NextAt, at.Add(30*time.Second)) {
			t.Errorf("%s due %v, want %v", r.EventID, r.NextAt, at.Add(30*time.Second))
		}
		sent = append(sent, r.ID)
	}
	msg := at.Add(30 * time.Second)
	claim(t, s, "A", msg, time.Minute, 10)
	if err := s.MarkSent(context.Background(), "A", sent, msg); err != nil {
		t.Fatal(err)
	}
	// One page a minute later: three more of x1's endpoint (its group was
	// sent: they wait for the interval, together) and two of a new one
	// (after the wait, together).
	at2 := at.Add(time.Minute)
	var page []store.Detection
	for i := range 3 {
		d := det(fmt.Sprintf("x%d", i+2), "A", at)
		d.EndpointID = x1.EndpointID
		page = append(page, d)
	}
	for i := range 2 {
		d := det(fmt.Sprintf("z%d", i+1), "A", at)
		d.EndpointID = "ep-z"
		page = append(page, d)
	}
	commit(t, s, store.PageCommit{TenantID: "A", Detections: page, Route: route, At: at2})
	for _, r := range outbox(t, s, store.StatePending) {
		want := at2.Add(30 * time.Second)
		if r.GroupKey == "endpoint="+x1.EndpointID {
			want = msg.Add(5 * time.Minute)
		}
		if !sameTime(r.NextAt, want) {
			t.Errorf("%s (group %s) due %v, want %v", r.EventID, r.GroupKey, r.NextAt, want)
		}
	}
	if n := len(outbox(t, s, store.StatePending)); n != 5 {
		t.Errorf("%d pending rows, want 5", n)
	}
}

func testClaimDue(t *testing.T, s store.Store) {
	at := base
	all := page(t, s, "t1", "e", 3, []string{"email"}, at)
	if got := claim(t, s, "A", at.Add(-time.Millisecond), time.Minute, 10); len(got) != 0 {
		t.Fatalf("claimed %v before the rows were due", ids(got))
	}
	got := claim(t, s, "A", at, time.Minute, 2)
	checkIDs(t, "first claim (limit 2, oldest first)", ids(got), all[:2])
	want := detections(t, s, store.DetectionFilter{})
	byEvent := map[string]store.Detection{}
	for _, d := range want {
		byEvent[d.EventID] = d
	}
	for _, it := range got {
		if it.State != store.StatePending || it.Channel != "email" || it.TenantID != "t1" {
			t.Errorf("claimed row %d: state %q channel %q tenant %q", it.ID, it.State, it.Channel, it.TenantID)
		}
		checkDetection(t, fmt.Sprintf("claimed row %d detection", it.ID), it.Detection, byEvent[it.EventID])
	}
	checkIDs(t, "second claim", ids(claim(t, s, "B", at, time.Minute, 10)), all[2:])
	if got := claim(t, s, "C", at, time.Minute, 10); len(got) != 0 {
		t.Fatalf("claimed %v while all rows were held", ids(got))
	}
	// Bad claims are rejected.
	for name, c := range map[string]store.Claim{
		"zero limit": {Owner: "A", Now: at, Lease: time.Minute},
		"zero lease": {Owner: "A", Now: at, Limit: 1},
	} {
		if _, err := s.ClaimOutbox(t.Context(), c); err == nil {
			t.Errorf("ClaimOutbox with %s succeeded", name)
		}
	}
}

func testClaimLease(t *testing.T, s store.Store) {
	at := base
	all := page(t, s, "t1", "e", 2, []string{"email"}, at)
	checkIDs(t, "claim by A", ids(claim(t, s, "A", at, time.Minute, 10)), all)
	if got := claim(t, s, "B", at.Add(time.Minute-time.Millisecond), time.Minute, 10); len(got) != 0 {
		t.Fatalf("B claimed %v while A's lease was live", ids(got))
	}
	checkIDs(t, "claim by B when the lease lapsed", ids(claim(t, s, "B", at.Add(time.Minute), time.Minute, 10)), all)
	if got := claim(t, s, "A", at.Add(time.Minute+30*time.Second), time.Minute, 10); len(got) != 0 {
		t.Fatalf("A claimed %v while B's lease was live", ids(got))
	}
}

func testMarkRetry(t *testing.T, s store.Store) {
	ctx := t.Context()
	at := base
	all := page(t, s, "t1", "e", 1, channels, at)
	checkIDs(t, "claim", ids(claim(t, s, "A", at, time.Minute, 10)), all)
	next := at.Add(10 * time.Minute)
	if err := s.MarkRetry(ctx, "A", all[:1], next, "smtp: 451 try again later"); err != nil {
		t.Fatalf("MarkRetry: %v", err)
	}
	// Row 0 waits for next; row 1's claim lapsed at at+1m.
	checkIDs(t, "claim before next", ids(claim(t, s, "B", at.Add(5*time.Minute), time.Hour, 10)), all[1:])
	if got := claim(t, s, "B", next.Add(-time.Millisecond), time.Minute, 10); len(got) != 0 {
		t.Fatalf("claimed %v before next", ids(got))
	}
	got := claim(t, s, "C", next, time.Minute, 10)
	checkIDs(t, "claim at next", ids(got), all[:1])
	var d differ
	d.str("State", got[0].State, store.StatePending)
	d.int("Attempts", int64(got[0].Attempts), 1)
	d.str("LastError", got[0].LastError, "smtp: 451 try again later")
	d.time("NextAt", got[0].NextAt, next)
	for _, m := range d {
		t.Errorf("retried row: %s", m)
	}
	if err := s.MarkRetry(ctx, "C", all[:1], time.Time{}, "x"); err == nil {
		t.Error("MarkRetry with a zero next time succeeded")
	}
}

func testClaimConcurrent(t *testing.T, s store.Store) {
	all := page(t, s, "t1", "e", 250, channels, base)
	claimers := make([]store.Store, 8)
	for i := range claimers {
		claimers[i] = s
	}
	got := ClaimConcurrently(t, claimers, base, 7, len(all))
	if len(got) != len(all) {
		t.Fatalf("%d rows claimed, want %d", len(got), len(all))
	}
	for _, id := range all {
		if _, ok := got[id]; !ok {
			t.Fatalf("row %d never claimed", id)
		}
	}
}

// ClaimConcurrently has every claimer (one goroutine each) claim due
// rows at now, limit at a time, until none are left, and fails t when a
// row is handed out twice or a claim errs. Each claimer makes at most
// rounds claims, so a store handing out rows twice fails instead of
// looping. It returns who claimed each row.
func ClaimConcurrently(t *testing.T, claimers []store.Store, now time.Time, limit, rounds int) map[int64]string {
	t.Helper()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		got  = map[int64]string{}
		errs []error
	)
	for w, s := range claimers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner := fmt.Sprintf("claimer-%d", w)
			for range rounds {
				items, err := s.ClaimOutbox(t.Context(), store.Claim{Owner: owner, Now: now, Lease: time.Hour, Limit: limit})
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				}
				dup := false
				for _, it := range items {
					if prev, ok := got[it.ID]; ok {
						errs = append(errs, fmt.Errorf("row %d claimed by %s and %s", it.ID, prev, owner))
						dup = true
					}
					got[it.ID] = owner
				}
				mu.Unlock()
				if err != nil || dup || len(items) == 0 {
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	return got
}

func testSentDeadRequeueBatch(t *testing.T, s store.Store) {
	ctx := t.Context()
	at := base
	r := page(t, s, "t1", "e", 4, []string{"email"}, at)
	checkIDs(t, "claim by A", ids(claim(t, s, "A", at, time.Minute, 10)), r)

	// A batch id survives a retry and comes back on the reclaim.
	if err := s.SetBatches(ctx, "A", []store.Batch{{ID: "batch-1", Digest: true, Rows: r[:2]}}); err != nil {
		t.Fatalf("SetBatches: %v", err)
	}
	if err := s.MarkRetry(ctx, "A", r[:2], at.Add(time.Second), "timeout"); err != nil {
		t.Fatalf("MarkRetry: %v", err)
	}
	re := claim(t, s, "B", at.Add(time.Second), time.Minute, 10)
	checkIDs(t, "reclaim", ids(re), r[:2])
	for _, it := range re {
		if it.BatchID != "batch-1" || !it.Digest || it.Attempts != 1 {
			t.Errorf("reclaimed row %d: BatchID %q Digest %v Attempts %d, want batch-1, a digest and 1", it.ID, it.BatchID, it.Digest, it.Attempts)
		}
	}

	// Sent.
	sentAt := at.Add(2 * time.Second)
	if err := s.MarkSent(ctx, "B", r[:1], sentAt); err != nil {
		t.Fatalf("MarkSent: %v", err)
	}
	got := row(t, s, r[0])
	var d differ
	d.str("State", got.State, store.StateSent)
	d.time("SentAt", got.SentAt, sentAt)
	d.str("BatchID", got.BatchID, "batch-1")
	for _, m := range d {
		t.Errorf("sent row: %s", m)
	}

	// Dead.
	if err := s.MarkDead(ctx, "B", r[1:2], "550 mailbox unavailable", at.Add(3*time.Second)); err != nil {
		t.Fatalf("MarkDead: %v", err)
	}
	got = row(t, s, r[1])
	d = nil
	d.str("State", got.State, store.StateDead)
	d.str("LastError", got.LastError, "550 mailbox unavailable")
	d.int("Attempts", int64(got.Attempts), 2)
	d.time("SentAt", got.SentAt, time.Time{})
	for _, m := range d {
		t.Errorf("dead row: %s", m)
	}

	// Sent and dead rows are never claimed; the others come back after A's lease.
	later := at.Add(time.Hour)
	checkIDs(t, "claim of the rest", ids(claim(t, s, "C", later, time.Hour, 10)), r[2:])

	// A late retry or death does not revive or kill a sent row: its
	// sender no longer holds it.
	if err := s.MarkRetry(ctx, "B", r[:1], at.Add(4*time.Second), "late"); !errors.Is(err, store.ErrNotHeld) {
		t.Fatalf("MarkRetry(sent row) = %v, want ErrNotHeld", err)
	}
	if err := s.MarkDead(ctx, "B", r[:1], "late", at.Add(4*time.Second)); !errors.Is(err, store.ErrNotHeld) {
		t.Fatalf("MarkDead(sent row) = %v, want ErrNotHeld", err)
	}
	if got := row(t, s, r[0]); got.State != store.StateSent || got.Attempts != 1 {
		t.Errorf("sent row after a late retry: state %q attempts %d, want sent, 1", got.State, got.Attempts)
	}

	// Requeue all dead rows: pending, due at at, a fresh attempt budget, the error and batch kept.
	rq := later.Add(time.Minute)
	n, err := s.Requeue(ctx, nil, rq)
	if err != nil || n != 1 {
		t.Fatalf("Requeue(nil) = %d, %v; want 1", n, err)
	}
	got = row(t, s, r[1])
	d = nil
	d.str("State", got.State, store.StatePending)
	d.time("NextAt", got.NextAt, rq)
	d.int("Attempts", int64(got.Attempts), 0)
	d.str("LastError", got.LastError, "550 mailbox unavailable")
	d.str("BatchID", got.BatchID, "batch-1")
	if !got.Digest {
		d = append(d, "Digest = false, want true (the message is kept)")
	}
	for _, m := range d {
		t.Errorf("requeued row: %s", m)
	}
	if got := claim(t, s, "D", rq.Add(-time.Millisecond), time.Minute, 10); len(got) != 0 {
		t.Fatalf("claimed %v before the requeue time", ids(got))
	}
	checkIDs(t, "claim of the requeued row", ids(claim(t, s, "D", rq, time.Minute, 10)), r[1:2])

	// Requeue by id: a claimed pending row is released, a sent row is left alone.
	n, err = s.Requeue(ctx, []int64{r[2], r[0]}, rq)
	if err != nil || n != 1 {
		t.Fatalf("Requeue(pending, sent) = %d, %v; want 1", n, err)
	}
	checkIDs(t, "claim after requeue by id", ids(claim(t, s, "E", rq, time.Minute, 10)), r[2:3])
	if got := row(t, s, r[0]); got.State != store.StateSent {
		t.Errorf("requeue changed a sent row to %q", got.State)
	}
	if n, err := s.Requeue(ctx, []int64{}, rq); err != nil || n != 0 {
		t.Errorf("Requeue(empty) = %d, %v; want 0", n, err)
	}
	if n, err := s.Requeue(ctx, nil, rq); err != nil || n != 0 {
		t.Errorf("Requeue(nil) with no dead rows = %d, %v; want 0", n, err)
	}

	// Empty id lists are no-ops.
	for name, err := range map[string]error{
		"MarkSent":   s.MarkSent(ctx, "A", nil, at),
		"MarkRetry":  s.MarkRetry(ctx, "A", nil, at, "x"),
		"MarkDead":   s.MarkDead(ctx, "A", nil, "x", at),
		"SetBatches": s.SetBatches(ctx, "A", nil),
	} {
		if err != nil {
			t.Errorf("%s(nil): %v", name, err)
		}
	}
}

func testUnknownIDs(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := page(t, s, "t1", "e", 2, []string{"email"}, base)
	claim(t, s, "A", base, time.Minute, 10)
	unknown := r[1] + 1_000_000
	for name, err := range map[string]error{
		"MarkSent":   s.MarkSent(ctx, "A", []int64{unknown}, base),
		"MarkRetry":  s.MarkRetry(ctx, "A", []int64{unknown}, base, "x"),
		"MarkDead":   s.MarkDead(ctx, "A", []int64{unknown}, "x", base),
		"SetBatches": s.SetBatches(ctx, "A", []store.Batch{{ID: "x", Rows: []int64{unknown}}}),
	} {
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s(unknown id) = %v, want ErrNotFound", name, err)
		}
	}
	if n, err := s.Requeue(ctx, []int64{unknown}, base); !errors.Is(err, store.ErrNotFound) || n != 0 {
		t.Errorf("Requeue(unknown id) = %d, %v; want 0, ErrNotFound", n, err)
	}
	if n, err := s.ReleaseClaims(ctx, "A", []int64{unknown}); !errors.Is(err, store.ErrNotFound) || n != 0 {
		t.Errorf("ReleaseClaims(unknown id) = %d, %v; want 0, ErrNotFound", n, err)
	}
	// A message is composed whole or not at all.
	if err := s.SetBatches(ctx, "A", []store.Batch{{ID: "b", Rows: []int64{r[0], unknown}}}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetBatches(known, unknown) = %v, want ErrNotFound", err)
	}
	if got := row(t, s, r[0]).BatchID; got != "" {
		t.Errorf("BatchID of the known row %q after a failed SetBatches, want none", got)
	}
	// The known ids of a mark with unknown ones are updated.
	if err := s.MarkSent(ctx, "A", []int64{r[0], unknown}, base); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("MarkSent(known, unknown) = %v, want ErrNotFound", err)
	}
	if got := row(t, s, r[0]).State; got != store.StateSent {
		t.Errorf("the known row is %s after MarkSent(known, unknown), want sent", got)
	}
}

func testListing(t *testing.T, s store.Store) {
	ctx := t.Context()
	at := base.Add(time.Hour)
	e1, e2 := det("e1", "t1", base), det("e2", "t1", base.Add(2*time.Second))
	e3, e4 := det("e3", "t2", base.Add(time.Second)), det("e4", "t2", base.Add(3*time.Second))
	commit(t, s, store.PageCommit{TenantID: "t1", Detections: []store.Detection{e1, e2}, Route: ToChannels([]string{"email"}), At: at})
	commit(t, s, store.PageCommit{TenantID: "t2", Detections: []store.Detection{e3, e4}, Route: ToChannels([]string{"email"}), At: at})
	w1, w2, w3, w4 := stored(e1, at), stored(e2, at), stored(e3, at), stored(e4, at)
	for _, tc := range []struct {
		f    store.DetectionFilter
		want []store.Detection
	}{
		{store.DetectionFilter{}, []store.Detection{w4, w2, w3, w1}},
		{store.DetectionFilter{TenantID: "t1"}, []store.Detection{w2, w1}},
		{store.DetectionFilter{Since: base.Add(time.Second)}, []store.Detection{w4, w2, w3}},
		{store.DetectionFilter{Limit: 2}, []store.Detection{w4, w2}},
		{store.DetectionFilter{TenantID: "t2", Since: base.Add(2 * time.Second), Limit: 5}, []store.Detection{w4}},
		{store.DetectionFilter{TenantID: "nobody"}, nil},
	} {
		checkDetections(t, fmt.Sprintf("Detections(%+v)", tc.f), detections(t, s, tc.f), tc.want)
	}

	all := outbox(t, s)
	if len(all) != 4 {
		t.Fatalf("%d outbox rows, want 4", len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i].ID >= all[i-1].ID {
			t.Fatalf("Outbox not newest first: %v", ids(all))
		}
	}
	asc := slices.Clone(ids(all))
	slices.Sort(asc)
	claim(t, s, "A", at, time.Minute, 10)
	if err := s.MarkDead(ctx, "A", asc[:1], "dead", at); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkSent(ctx, "A", asc[1:2], at); err != nil {
		t.Fatal(err)
	}
	checkIDs(t, "dead", ids(outbox(t, s, store.StateDead)), asc[:1])
	checkIDs(t, "sent or dead", ids(outbox(t, s, store.StateSent, store.StateDead)), []int64{asc[1], asc[0]})
	checkIDs(t, "pending", ids(outbox(t, s, store.StatePending)), []int64{asc[3], asc[2]})
	limited, err := s.Outbox(ctx, store.OutboxFilter{States: []string{store.StatePending}, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	checkIDs(t, "pending, limit 1", ids(limited), asc[3:])
	limited, err = s.Outbox(ctx, store.OutboxFilter{Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	checkIDs(t, "all, limit 3", ids(limited), []int64{asc[3], asc[2], asc[1]})
	for _, it := range limited {
		if it.Detection.EventID != it.EventID {
			t.Errorf("row %d of %s lists detection %q", it.ID, it.EventID, it.Detection.EventID)
		}
	}
}

func testTimes(t *testing.T, s store.Store) {
	ctx := t.Context()
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	at := time.Date(2025, 1, 2, 3, 4, 6, 987_654_321, zone)
	d := det("e1", "t1", time.Date(2025, 1, 2, 3, 4, 5, 123_456_789, zone))
	d.When = time.Time{}
	d.SeenAt = time.Date(1969, 12, 31, 23, 59, 59, 999_999_999, time.UTC) // before the epoch
	fresh := commit(t, s, store.PageCommit{TenantID: "t1", Cursor: "c1", Detections: []store.Detection{d}, Route: ToChannels([]string{"email"}), EndOfFeed: true, At: at})
	want := stored(d, at)
	if want.CreatedAt != time.Date(2025, 1, 1, 21, 34, 5, 123_000_000, time.UTC) || want.SeenAt.Nanosecond() != 999_000_000 {
		t.Fatalf("test bug: %v %v", want.CreatedAt, want.SeenAt)
	}
	checkDetections(t, "returned", fresh, []store.Detection{want})
	checkDetections(t, "listed", detections(t, s, store.DetectionFilter{}), []store.Detection{want})
	checkTenant(t, "tenant", tenant(t, s, "t1"), store.Tenant{ID: "t1", Cursor: "c1", LastRead: at, FirstSeen: at})

	items := claim(t, s, "A", norm(at), time.Minute, 1) // due at the stored millisecond
	if len(items) != 1 {
		t.Fatalf("claim at the stored NextAt got %d rows", len(items))
	}
	var df differ
	df.time("NextAt", items[0].NextAt, at)
	df.time("CreatedAt", items[0].CreatedAt, at)
	df.time("SentAt", items[0].SentAt, time.Time{})
	for _, m := range df {
		t.Errorf("outbox row: %s", m)
	}
	next := time.Date(2025, 1, 2, 3, 5, 0, 500_999_999, zone)
	if err := s.MarkRetry(ctx, "A", ids(items), next, "x"); err != nil {
		t.Fatal(err)
	}
	if got := claim(t, s, "B", norm(next).Add(-time.Millisecond), time.Minute, 1); len(got) != 0 {
		t.Fatal("claimed a millisecond before NextAt")
	}
	if got := claim(t, s, "B", norm(next), time.Minute, 1); len(got) != 1 {
		t.Fatal("not claimed at NextAt")
	}
	sent := time.Date(2031, 7, 8, 9, 10, 11, 12_345_678, zone)
	if err := s.MarkSent(ctx, "B", ids(items), sent); err != nil {
		t.Fatal(err)
	}
	if got := row(t, s, items[0].ID).SentAt; !sameTime(got, norm(sent)) {
		t.Errorf("SentAt %v, want %v", got, norm(sent))
	}
	if err := s.SetOverlapAt(ctx, "t1", sent); err != nil {
		t.Fatal(err)
	}
	if err := s.SetTenantError(ctx, "t1", "x", sent); err != nil {
		t.Fatal(err)
	}
	tn := tenant(t, s, "t1")
	if !sameTime(tn.OverlapAt, norm(sent)) || !sameTime(tn.ErrorAt, norm(sent)) {
		t.Errorf("OverlapAt %v ErrorAt %v, want %v", tn.OverlapAt, tn.ErrorAt, norm(sent))
	}

	// Order and Since work at millisecond precision across the epoch;
	// a zero CreatedAt sorts last.
	epoch := time.Unix(0, 0).UTC()
	created := []time.Time{
		time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2025, 6, 1, 0, 0, 1, 0, time.UTC),
		time.Date(2025, 6, 1, 0, 0, 0, 999_000_000, time.UTC),
		epoch.Add(time.Millisecond),
		epoch,
		epoch.Add(-time.Millisecond),
		time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC),
		{},
	}
	var page []store.Detection
	for i := len(created) - 1; i >= 0; i-- { // oldest first, so order is not insertion order
		d := det(fmt.Sprintf("o%d", i), "t2", created[i])
		d.When = time.Time{}
		page = append(page, d)
	}
	commit(t, s, store.PageCommit{TenantID: "t2", Detections: page, At: at})
	got := detections(t, s, store.DetectionFilter{TenantID: "t2"})
	if len(got) != len(created) {
		t.Fatalf("%d detections, want %d", len(got), len(created))
	}
	for i, d := range got {
		if d.EventID != fmt.Sprintf("o%d", i) || !sameTime(d.CreatedAt, created[i]) {
			t.Errorf("detection %d: %s created %v, want o%d created %v", i, d.EventID, d.CreatedAt, i, created[i])
		}
	}
	since := detections(t, s, store.DetectionFilter{TenantID: "t2", Since: created[1]})
	if !slices.Equal(eventIDs(since), []string{"o0", "o1"}) {
		t.Errorf("Since %v: %v, want [o0 o1]", created[1], eventIDs(since))
	}
	since = detections(t, s, store.DetectionFilter{TenantID: "t2", Since: epoch})
	if !slices.Equal(eventIDs(since), []string{"o0", "o1", "o2", "o3", "o4"}) {
		t.Errorf("Since the epoch: %v, want [o0 .. o4]", eventIDs(since))
	}
}

// hostile are strings every text column must store byte-exact.
var hostile = []string{
	`'; DROP TABLE detections; --`,
	`"double" 'single' \back\slash ` + "`tick` \\x00 \\0",
	"ctl:\x01\x02\x03\x07\x08\t\x0b\x0c\x0e\x1b\x1f\x7f end",
	"crlf:\r\n lf:\n cr:\r lflf:\n\n end",
	"emoji 🦠🔥 👩‍💻 🇩🇪 👍🏽 ",
	"unicode: ünïcødé ÆØÅ 日本語 العربية \u202e rtl \u200b zw \ufeff bom \U0010FFFD",
	"%s %d %% $1 ?1 ?? :name @p ${x} $$ E'x'",
	"  leading and trailing spaces\t ",
	"",
}

// long is a 10 KB path.
var long = strings.Repeat(`C:\Users\Public\Downloads\päth with spaces\🦠\`, 220)

func testHostile(t *testing.T, s store.Store) {
	ctx := t.Context()
	if len(long) < 10_000 {
		t.Fatalf("test bug: long is %d bytes", len(long))
	}
	values := append(slices.Clone(hostile), long)
	raw := make([]byte, 0, 256+len(long))
	for b := range 256 {
		raw = append(raw, byte(b)) // NUL and invalid UTF-8 included
	}
	raw = append(raw, long...)
	at := base
	for i, v := range values {
		// Keys are indexed (PostgreSQL limits an index entry to ~2.7 KB),
		// so they use the short strings, made unique.
		key := hostile[i%len(hostile)] + fmt.Sprintf("|%d", i)
		tenantID, eventID, channel := "tenant "+key, "event "+key, "channel "+key
		if err := s.UpsertTenants(ctx, []store.Tenant{{ID: tenantID, Name: v, Region: v, APIHost: v}}, at); err != nil {
			t.Fatalf("value %d: UpsertTenants: %v", i, err)
		}
		d := store.Detection{EventID: eventID, TenantID: tenantID, TenantName: v, Kind: v, Type: v, Name: v, Severity: v,
			Threat: v, Location: v, User: v, EndpointID: v, EndpointType: v, Path: v, CreatedAt: at, Raw: append([]byte(v), raw...)}
		fresh := commit(t, s, store.PageCommit{TenantID: tenantID, Cursor: v + "x", Detections: []store.Detection{d}, Route: ToChannels([]string{channel}), At: at})
		want := stored(d, at)
		checkDetections(t, fmt.Sprintf("value %d returned", i), fresh, []store.Detection{want})
		checkDetections(t, fmt.Sprintf("value %d listed", i), detections(t, s, store.DetectionFilter{TenantID: tenantID}), []store.Detection{want})
		if err := s.SetTenantError(ctx, tenantID, v+"x", at); err != nil {
			t.Fatalf("value %d: SetTenantError: %v", i, err)
		}
		checkTenant(t, fmt.Sprintf("value %d tenant", i), tenant(t, s, tenantID), store.Tenant{
			ID: tenantID, Name: v, Region: v, APIHost: v, Cursor: v + "x", LastError: v + "x", ErrorAt: at, FirstSeen: at})

		items := claim(t, s, v+"owner", at, time.Minute, 10)
		if len(items) != 1 || items[0].EventID != eventID || items[0].Channel != channel || items[0].TenantID != tenantID {
			t.Fatalf("value %d: claimed %+v", i, items)
		}
		checkDetection(t, fmt.Sprintf("value %d claimed", i), items[0].Detection, want)
		if err := s.SetBatches(ctx, v+"owner", []store.Batch{{ID: v + "batch", Rows: ids(items)}}); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkRetry(ctx, v+"owner", ids(items), at, v+"error"); err != nil {
			t.Fatal(err)
		}
		got := row(t, s, items[0].ID)
		if got.BatchID != v+"batch" || got.LastError != v+"error" {
			t.Errorf("value %d: BatchID %q LastError %q", i, short(got.BatchID), short(got.LastError))
		}
		if again := claim(t, s, v+"owner", at, time.Minute, 10); len(again) != 1 {
			t.Fatalf("value %d: reclaimed %d rows, want 1", i, len(again))
		}
		if err := s.MarkDead(ctx, v+"owner", ids(items), v+"reason", at); err != nil {
			t.Fatal(err)
		}
		if got := row(t, s, items[0].ID).LastError; got != v+"reason" {
			t.Errorf("value %d: dead reason %q", i, short(got))
		}
	}
}

func testSanitized(t *testing.T, s store.Store) {
	// Text cannot hold NUL in PostgreSQL, nor invalid UTF-8: the store
	// replaces both with U+FFFD everywhere, rather than failing a page
	// forever on one odd event. Raw keeps the bytes.
	in := "a\x00b\xffc\xc3"
	want := "a\uFFFDb\uFFFDc\uFFFD"
	d := det("e1", "t1", base)
	d.Name, d.Path, d.Raw = in, in, []byte(in)
	fresh := commit(t, s, store.PageCommit{TenantID: "t1", Detections: []store.Detection{d}, Route: ToChannels([]string{"email"}), At: base})
	w := stored(d, base)
	w.Name, w.Path = want, want
	checkDetections(t, "returned", fresh, []store.Detection{w})
	checkDetections(t, "listed", detections(t, s, store.DetectionFilter{}), []store.Detection{w})
	items := claim(t, s, "A", base, time.Minute, 1)
	if err := s.MarkRetry(t.Context(), "A", ids(items), base, in); err != nil {
		t.Fatalf("MarkRetry with NUL in the error: %v", err)
	}
	if got := row(t, s, items[0].ID).LastError; got != want {
		t.Errorf("LastError %q, want %q", got, want)
	}
	if err := s.SetTenantError(t.Context(), "t1", in, base); err != nil {
		t.Fatalf("SetTenantError with NUL: %v", err)
	}
	if got := tenant(t, s, "t1").LastError; got != want {
		t.Errorf("tenant LastError %q, want %q", got, want)
	}
}

// testRoutedGroups: deliveries put rows on their own channels with their
// group settings; a group's first row waits group_wait, later rows join
// it, and after a message the next one waits group_interval.
func testRoutedGroups(t *testing.T, s store.Store) {
	route := func(d store.Detection) []store.Delivery {
		out := []store.Delivery{{Channel: "soc", GroupKey: "tenant=" + d.TenantID, Wait: 30 * time.Second,
			Interval: 5 * time.Minute, DigestAbove: 3, MaxPerMessage: 50}}
		if d.TenantID == "A" {
			out = append(out, store.Delivery{Channel: "a-team"}, store.Delivery{Channel: "a-team"}) // twice: once
		}
		return out
	}
	at := base
	commit(t, s, store.PageCommit{TenantID: "A", Detections: []store.Detection{det("g1", "A", at)}, Route: route, At: at})
	commit(t, s, store.PageCommit{TenantID: "A", Detections: []store.Detection{det("g2", "A", at)}, Route: route, At: at.Add(10 * time.Second)})
	commit(t, s, store.PageCommit{TenantID: "B", Detections: []store.Detection{det("g3", "B", at)}, Route: route, At: at.Add(10 * time.Second)})
	rows := outbox(t, s)
	byKey := map[string]store.OutboxItem{}
	for _, r := range rows {
		byKey[r.EventID+"/"+r.Channel] = r
	}
	if len(rows) != 5 {
		t.Fatalf("%d rows, want 5 (g1 and g2 to soc and a-team, g3 to soc): %+v", len(rows), rows)
	}
	g1, g2, g3 := byKey["g1/soc"], byKey["g2/soc"], byKey["g3/soc"]
	if g1.GroupKey != "tenant=A" || g1.DigestAbove != 3 || g1.MaxPerMessage != 50 {
		t.Errorf("row settings not kept: %+v", g1)
	}
	if !sameTime(g1.NextAt, at.Add(30*time.Second)) || !sameTime(g2.NextAt, g1.NextAt) {
		t.Errorf("g1 due %v, g2 due %v: want both at %v (g2 joins the group's scheduled message)", g1.NextAt, g2.NextAt, at.Add(30*time.Second))
	}
	if !sameTime(g3.NextAt, at.Add(40*time.Second)) {
		t.Errorf("g3 (another group) due %v, want %v", g3.NextAt, at.Add(40*time.Second))
	}
	if a := byKey["g1/a-team"]; a.GroupKey != "" || !sameTime(a.NextAt, at) {
		t.Errorf("ungrouped row due %v with key %q, want at once without key", a.NextAt, a.GroupKey)
	}
	// The group's message goes out at +30s; a row a minute later waits
	// for the interval (5m after the message), not just group_wait.
	sent := at.Add(30 * time.Second)
	claim(t, s, "A", sent, time.Minute, 10)
	if err := s.MarkSent(context.Background(), "A", []int64{g1.ID, g2.ID}, sent); err != nil {
		t.Fatal(err)
	}
	commit(t, s, store.PageCommit{TenantID: "A", Detections: []store.Detection{det("g4", "A", at)}, Route: route, At: at.Add(time.Minute)})
	for _, r := range outbox(t, s) {
		if r.EventID == "g4" && r.Channel == "soc" && !sameTime(r.NextAt, sent.Add(5*time.Minute)) {
			t.Errorf("g4 due %v, want %v (group_interval after the last message)", r.NextAt, sent.Add(5*time.Minute))
		}
	}
}

// testClaimWholeGroups: a claim takes the rest of the groups of the rows
// within its limit, so a group is not split between claims.
func testClaimWholeGroups(t *testing.T, s store.Store) {
	route := func(d store.Detection) []store.Delivery {
		return []store.Delivery{{Channel: "soc", GroupKey: "tenant=" + d.TenantID, DigestAbove: 3, MaxPerMessage: 100}}
	}
	at := base
	commit(t, s, store.PageCommit{TenantID: "S", Detections: []store.Detection{det("s1", "S", at)}, Route: route, At: at})
	var burst []store.Detection
	for i := range 6 {
		burst = append(burst, det(fmt.Sprintf("b%d", i), "B", at))
	}
	commit(t, s, store.PageCommit{TenantID: "B", Detections: burst, Route: route, At: at})
	commit(t, s, store.PageCommit{TenantID: "C", Detections: []store.Detection{det("c1", "C", at)}, Route: route, At: at})
	got := claim(t, s, "w1", at.Add(time.Second), time.Minute, 2)
	var ids []string
	for _, it := range got {
		ids = append(ids, it.EventID)
	}
	if want := []string{"s1", "b0", "b1", "b2", "b3", "b4", "b5"}; !slices.Equal(ids, want) {
		t.Errorf("claim with limit 2 took %v, want %v: the first row, then the whole of the second's group", ids, want)
	}
	if rest := claim(t, s, "w2", at.Add(time.Second), time.Minute, 10); len(rest) != 1 || rest[0].EventID != "c1" {
		t.Errorf("second claim took %+v, want only c1", rest)
	}
}

// ToChannels is a PageCommit.Route that sends every detection to each of
// channels, a message each (no group key).
func ToChannels(channels []string) func(store.Detection) []store.Delivery {
	return func(store.Detection) []store.Delivery {
		out := make([]store.Delivery, len(channels))
		for i, ch := range channels {
			out[i] = store.Delivery{Channel: ch}
		}
		return out
	}
}

func checkLostWindows(t *testing.T, label string, got, want []store.LostWindow) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d lost windows %+v, want %d %+v", label, len(got), got, len(want), want)
	}
	for i := range want {
		var d differ
		d.str("TenantID", got[i].TenantID, want[i].TenantID)
		d.time("From", got[i].From, want[i].From)
		d.time("To", got[i].To, want[i].To)
		d.str("Reason", got[i].Reason, want[i].Reason)
		d.time("DetectedAt", got[i].DetectedAt, want[i].DetectedAt)
		if len(d) > 0 {
			t.Errorf("%s: window %d: %s", label, i, strings.Join(d, "; "))
		}
	}
}

func lostWindows(t *testing.T, s store.Store, tenantID string) []store.LostWindow {
	t.Helper()
	ws, err := s.LostWindows(t.Context(), tenantID)
	if err != nil {
		t.Fatalf("LostWindows(%q): %v", tenantID, err)
	}
	return ws
}

// testLostWindows: a window is keyed by tenant and From; adding it again
// is a no-op, a later To extends it (DetectedAt stays), an earlier To
// changes nothing; listing is per tenant or all, ordered; bad windows are
// refused and change nothing.
func testLostWindows(t *testing.T, s store.Store) {
	ctx := t.Context()
	if ws := lostWindows(t, s, ""); len(ws) != 0 {
		t.Fatalf("a new store lists lost windows: %+v", ws)
	}
	from := base.Add(-30 * time.Hour)
	add := func(w store.LostWindow) {
		t.Helper()
		if err := s.AddLostWindow(ctx, w); err != nil {
			t.Fatalf("AddLostWindow(%+v): %v", w, err)
		}
	}
	b1 := store.LostWindow{TenantID: "b", From: from, To: from.Add(6 * time.Hour), Reason: "watcher down", DetectedAt: base}
	add(b1)
	add(b1) // the same window again
	checkLostWindows(t, "after adding one window twice", lostWindows(t, s, "b"), []store.LostWindow{b1})

	// A later To extends it, with the new reason; DetectedAt stays.
	b1later := store.LostWindow{TenantID: "b", From: from, To: from.Add(7 * time.Hour), Reason: "cursor refused", DetectedAt: base.Add(time.Hour)}
	add(b1later)
	want := b1later
	want.DetectedAt = b1.DetectedAt
	checkLostWindows(t, "after a later To", lostWindows(t, s, "b"), []store.LostWindow{want})
	// An earlier To does not shrink it.
	add(store.LostWindow{TenantID: "b", From: from, To: from.Add(time.Hour), Reason: "older news", DetectedAt: base.Add(2 * time.Hour)})
	checkLostWindows(t, "after an earlier To", lostWindows(t, s, "b"), []store.LostWindow{want})

	// Another window of b, an earlier one, and one of a.
	b0 := store.LostWindow{TenantID: "b", From: from.Add(-48 * time.Hour), To: from.Add(-40 * time.Hour), Reason: "", DetectedAt: base}
	a1 := store.LostWindow{TenantID: "a", From: from.Add(time.Hour), To: from.Add(2 * time.Hour), Reason: "cursor refused", DetectedAt: base}
	add(b0)
	add(a1)
	checkLostWindows(t, "tenant b", lostWindows(t, s, "b"), []store.LostWindow{b0, want})
	checkLostWindows(t, "tenant a", lostWindows(t, s, "a"), []store.LostWindow{a1})
	checkLostWindows(t, "all tenants", lostWindows(t, s, ""), []store.LostWindow{a1, b0, want})
	checkLostWindows(t, "a tenant without windows", lostWindows(t, s, "zz"), nil)

	for name, w := range map[string]store.LostWindow{
		"empty tenant id":  {From: from, To: from.Add(time.Hour), DetectedAt: base},
		"zero From":        {TenantID: "c", To: from.Add(time.Hour), DetectedAt: base},
		"zero DetectedAt":  {TenantID: "c", From: from, To: from.Add(time.Hour)},
		"To before From":   {TenantID: "c", From: from, To: from.Add(-time.Hour), DetectedAt: base},
		"To equal to From": {TenantID: "c", From: from, To: from.Add(time.Microsecond), DetectedAt: base},
	} {
		if err := s.AddLostWindow(ctx, w); err == nil {
			t.Errorf("AddLostWindow accepted a window with %s", name)
		}
	}
	checkLostWindows(t, "after refused windows", lostWindows(t, s, ""), []store.LostWindow{a1, b0, want})
}

// testMarksOnlyHeld: an owner whose lease lapsed and whose rows another
// owner claimed cannot mark, compose or release them; a lapsed claim
// nobody took is still held.
func testMarksOnlyHeld(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := page(t, s, "t1", "e", 4, []string{"email"}, base)
	checkIDs(t, "claim by A", ids(claim(t, s, "A", base, time.Minute, 3)), r[:3])
	reclaim := base.Add(time.Minute) // A's lease lapsed: B takes the rows
	checkIDs(t, "reclaim by B", ids(claim(t, s, "B", reclaim, time.Minute, 3)), r[:3])

	late := reclaim.Add(time.Second)
	for name, err := range map[string]error{
		"MarkSent":   s.MarkSent(ctx, "A", r[:1], late),
		"MarkRetry":  s.MarkRetry(ctx, "A", r[1:2], late.Add(time.Hour), "late retry"),
		"MarkDead":   s.MarkDead(ctx, "A", r[2:3], "late death", late),
		"SetBatches": s.SetBatches(ctx, "A", []store.Batch{{ID: "late", Rows: r[:1]}}),
	} {
		if !errors.Is(err, store.ErrNotHeld) {
			t.Errorf("%s by A of rows B holds = %v, want ErrNotHeld", name, err)
		}
	}
	if n, err := s.ReleaseClaims(ctx, "A", r[:3]); err != nil || n != 0 {
		t.Errorf("ReleaseClaims by A of rows B holds = %d, %v; want 0, nil", n, err)
	}
	for _, id := range r[:3] {
		got := row(t, s, id)
		var d differ
		d.str("State", got.State, store.StatePending)
		d.int("Attempts", int64(got.Attempts), 0)
		d.str("LastError", got.LastError, "")
		d.str("BatchID", got.BatchID, "")
		for _, m := range d {
			t.Errorf("row %d after A's late calls: %s", id, m)
		}
	}
	if got := claim(t, s, "C", late, time.Minute, 10); len(got) != 1 || got[0].ID != r[3] {
		t.Errorf("C claimed %v, want only %d: B's claims must still hold", ids(got), r[3])
	}

	// B marks what it holds; a list with one row it does not hold changes
	// the others and names that one.
	if err := s.MarkSent(ctx, "B", []int64{r[0], r[3]}, late); !errors.Is(err, store.ErrNotHeld) ||
		!strings.Contains(err.Error(), fmt.Sprint(r[3])) {
		t.Errorf("MarkSent by B of its row and C's = %v, want ErrNotHeld naming %d", err, r[3])
	}
	if got := row(t, s, r[0]).State; got != store.StateSent {
		t.Errorf("B's row is %s, want sent", got)
	}
	if got := row(t, s, r[3]).State; got != store.StatePending {
		t.Errorf("C's row is %s, want pending", got)
	}

	// A lapsed claim that nobody took is still its owner's.
	if err := s.MarkSent(ctx, "C", r[3:], late.Add(time.Hour)); err != nil {
		t.Errorf("MarkSent by C after its lease lapsed, the row not reclaimed: %v", err)
	}

	// An owner is required.
	if _, err := s.ClaimOutbox(ctx, store.Claim{Now: late, Lease: time.Minute, Limit: 1}); err == nil {
		t.Error("ClaimOutbox without an owner succeeded")
	}
	for name, err := range map[string]error{
		"MarkSent":   s.MarkSent(ctx, "", r[1:2], late),
		"MarkRetry":  s.MarkRetry(ctx, "", r[1:2], late, "x"),
		"MarkDead":   s.MarkDead(ctx, "", r[1:2], "x", late),
		"SetBatches": s.SetBatches(ctx, "", []store.Batch{{ID: "x", Rows: r[1:2]}}),
	} {
		if err == nil {
			t.Errorf("%s without an owner succeeded", name)
		}
	}
	if _, err := s.ReleaseClaims(ctx, "", nil); err == nil {
		t.Error("ReleaseClaims without an owner succeeded")
	}
}

// testSetBatches: a message's composition is stored whole or not at all,
// once: no row moves to another message, no row joins one, and the
// message survives retries, releases, reclaims and requeues.
func testSetBatches(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := page(t, s, "t1", "e", 5, []string{"email"}, base)
	claim(t, s, "A", base, time.Minute, 10)
	if err := s.SetBatches(ctx, "A", []store.Batch{
		{ID: "m-digest", Digest: true, Rows: r[:2]},
		{ID: "e0002.email", Rows: r[2:3]},
	}); err != nil {
		t.Fatalf("SetBatches: %v", err)
	}
	check := func(label string) {
		t.Helper()
		for i, want := range []struct {
			batch  string
			digest bool
		}{{"m-digest", true}, {"m-digest", true}, {"e0002.email", false}, {"", false}, {"", false}} {
			got := row(t, s, r[i])
			if got.BatchID != want.batch || got.Digest != want.digest {
				t.Errorf("%s: row %d in message %q (digest %v), want %q (digest %v)", label, r[i], got.BatchID, got.Digest, want.batch, want.digest)
			}
		}
	}
	check("composed")

	// Refused, and nothing of the call is written: a row already in a
	// message, a key in use, a key twice, an empty key, no rows.
	for name, bs := range map[string][]store.Batch{
		"a row of another message": {{ID: "m-ok", Rows: r[3:4]}, {ID: "m-new", Rows: r[1:2]}},
		"a key in use":             {{ID: "m-ok", Rows: r[4:5]}, {ID: "m-digest", Digest: true, Rows: r[3:4]}},
		"a key twice":              {{ID: "m-twice", Rows: r[3:4]}, {ID: "m-twice", Rows: r[4:5]}},
		"an empty key":             {{ID: "m-ok", Rows: r[3:4]}, {ID: "", Rows: r[4:5]}},
		"no rows":                  {{ID: "m-ok", Rows: r[3:4]}, {ID: "m-empty"}},
	} {
		if err := s.SetBatches(ctx, "A", bs); err == nil {
			t.Errorf("SetBatches with %s succeeded", name)
		}
		check("after SetBatches with " + name)
	}

	// The message survives a retry, a release, a reclaim and a requeue.
	if err := s.MarkRetry(ctx, "A", r[:1], base, "timeout"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReleaseClaims(ctx, "A", nil); err != nil {
		t.Fatal(err)
	}
	claim(t, s, "B", base, time.Minute, 10)
	if err := s.MarkDead(ctx, "B", r[:2], "550", base); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Requeue(ctx, nil, base); err != nil {
		t.Fatal(err)
	}
	check("after retry, release, reclaim, death and requeue")
}

// testReleaseClaims: released rows are claimable at once by anyone, due
// as they were; only the owner's own claims are released.
func testReleaseClaims(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := page(t, s, "t1", "e", 4, []string{"email"}, base)
	checkIDs(t, "claim by A", ids(claim(t, s, "A", base, time.Hour, 3)), r[:3])
	checkIDs(t, "claim by B", ids(claim(t, s, "B", base, time.Hour, 3)), r[3:])
	if err := s.SetBatches(ctx, "A", []store.Batch{{ID: "m1", Digest: true, Rows: r[:1]}}); err != nil {
		t.Fatal(err)
	}

	if n, err := s.ReleaseClaims(ctx, "A", []int64{r[0], r[3]}); err != nil || n != 1 {
		t.Fatalf("ReleaseClaims(A, its row and B's) = %d, %v; want 1", n, err)
	}
	got := claim(t, s, "C", base, time.Minute, 10)
	checkIDs(t, "claim by C after A released one row", ids(got), r[:1])
	if got[0].BatchID != "m1" || !got[0].Digest || !sameTime(got[0].NextAt, norm(base)) {
		t.Errorf("released row: BatchID %q Digest %v NextAt %v, want m1, a digest, due at %v", got[0].BatchID, got[0].Digest, got[0].NextAt, norm(base))
	}
	if n, err := s.ReleaseClaims(ctx, "A", nil); err != nil || n != 2 {
		t.Fatalf("ReleaseClaims(A, all) = %d, %v; want 2", n, err)
	}
	checkIDs(t, "claim by D after A released all", ids(claim(t, s, "D", base, time.Minute, 10)), r[1:3])
	if n, err := s.ReleaseClaims(ctx, "A", nil); err != nil || n != 0 {
		t.Errorf("ReleaseClaims(A) holding nothing = %d, %v; want 0", n, err)
	}
	if n, err := s.ReleaseClaims(ctx, "B", []int64{}); err != nil || n != 0 {
		t.Errorf("ReleaseClaims(B, empty) = %d, %v; want 0", n, err)
	}
	if got := claim(t, s, "E", base, time.Minute, 10); len(got) != 0 {
		t.Errorf("E claimed %v: B's claim must still hold", ids(got))
	}
	// A released row can be marked only by whoever claims it next.
	if err := s.MarkSent(ctx, "A", r[1:2], base); !errors.Is(err, store.ErrNotHeld) {
		t.Errorf("MarkSent by A after it released the row = %v, want ErrNotHeld", err)
	}
}

// testHolders: the owners of live claims, with their counts and the end of
// their last claim; lapsed, released and marked claims are not listed.
func testHolders(t *testing.T, s store.Store) {
	ctx := t.Context()
	holders := func(now time.Time) []store.Holder {
		t.Helper()
		hs, err := s.Holders(ctx, now)
		if err != nil {
			t.Fatalf("Holders: %v", err)
		}
		return hs
	}
	r := page(t, s, "t1", "e", 4, []string{"email"}, base)
	if hs := holders(base); len(hs) != 0 {
		t.Fatalf("Holders before any claim: %+v", hs)
	}
	claim(t, s, "B", base, time.Minute, 1)
	claim(t, s, "A", base.Add(time.Second), 2*time.Minute, 2)
	hs := holders(base.Add(time.Second))
	want := []store.Holder{{Owner: "A", Rows: 2, Until: base.Add(time.Second + 2*time.Minute)}, {Owner: "B", Rows: 1, Until: base.Add(time.Minute)}}
	if len(hs) != len(want) {
		t.Fatalf("Holders = %+v, want %+v", hs, want)
	}
	for i := range hs {
		if hs[i].Owner != want[i].Owner || hs[i].Rows != want[i].Rows || !sameTime(hs[i].Until, norm(want[i].Until)) {
			t.Errorf("holder %d = %+v, want %+v", i, hs[i], want[i])
		}
	}
	if hs := holders(base.Add(time.Minute)); len(hs) != 1 || hs[0].Owner != "A" {
		t.Errorf("Holders when B's lease lapsed = %+v, want only A", hs)
	}
	if err := s.MarkSent(ctx, "A", r[1:2], base); err != nil {
		t.Fatal(err)
	}
	if hs := holders(base.Add(time.Second)); len(hs) != 2 || hs[0].Rows != 1 {
		t.Errorf("Holders after A marked a row sent = %+v, want A with 1 row, and B", hs)
	}
	if _, err := s.ReleaseClaims(ctx, "A", nil); err != nil {
		t.Fatal(err)
	}
	if hs := holders(base.Add(time.Second)); len(hs) != 1 || hs[0].Owner != "B" {
		t.Errorf("Holders after A released its claims = %+v, want only B", hs)
	}
}
