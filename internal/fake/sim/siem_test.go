package sim

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Tests of /siem/v1/events and /siem/v1/alerts (§6 of the API notes) over
// real HTTP. The helpers here are shared with faults_test.go.

// siemTimeLayout is the SIEM timestamp format, written out independently
// of the simulator's own constant.
const siemTimeLayout = "2006-01-02T15:04:05.000Z"

var siemTimeRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$`)

// siemEnv is a started simulator on a fake clock, optionally with a
// partner token. Its methods take the testing.TB of the (sub)test that
// calls them.
type siemEnv struct {
	s     *Simulator
	srv   *Server
	clock *fakeClock
	tok   string
	tid   string // the first tenant's id
}

// newSiemEnv starts a one-tenant simulator on a fake clock; edit changes
// the config before it is made.
func newSiemEnv(t testing.TB, edit func(*Config)) *siemEnv {
	t.Helper()
	clock := newFakeClock()
	cfg := DefaultConfig()
	cfg.Tenants = 1
	cfg.Now = clock.Now
	if edit != nil {
		edit(&cfg)
	}
	s, srv := startSim(t, cfg)
	e := &siemEnv{s: s, srv: srv, clock: clock}
	if ts := s.Tenants(); len(ts) > 0 {
		e.tid = ts[0].ID
	}
	return e
}

// login fetches a partner token (a partner may read every tenant).
func (e *siemEnv) login(t testing.TB) *siemEnv {
	t.Helper()
	e.tok = fetchToken(t, e.s, "partner")
	return e
}

// tenantIDs lists the tenants' ids in listing order.
func (e *siemEnv) tenantIDs() []string {
	var ids []string
	for _, ti := range e.s.Tenants() {
		ids = append(ids, ti.ID)
	}
	return ids
}

// url is the URL of route ("events" or "alerts") on tenant tid's host.
func (e *siemEnv) url(t testing.TB, route, tid string, q url.Values) string {
	t.Helper()
	u := eventsURL(t, e.s, tid, q.Encode())
	switch route {
	case "events":
	case "alerts":
		u = strings.Replace(u, "/siem/v1/events?", "/siem/v1/alerts?", 1)
	default:
		t.Fatalf("unknown SIEM route %q", route)
	}
	return strings.TrimSuffix(u, "?")
}

// call makes one SIEM request with the env's token and X-Tenant-ID.
func (e *siemEnv) call(t testing.TB, route, tid string, q url.Values) (int, http.Header, []byte) {
	t.Helper()
	return get(t, e.url(t, route, tid, q), e.tok, "X-Tenant-ID: "+tid)
}

// page makes one SIEM request that must answer 200 with a well-formed
// envelope: has_more, a §6.3 next_cursor (also on empty pages) and an items
// array.
func (e *siemEnv) page(t testing.TB, route, tid string, q url.Values) siemPage {
	t.Helper()
	status, _, body := e.call(t, route, tid, q)
	if status != http.StatusOK {
		t.Fatalf("GET %s %s: status %d, want 200: %s", route, q.Encode(), status, body)
	}
	return siemDecodePage(t, body)
}

func siemDecodePage(t testing.TB, body []byte) siemPage {
	t.Helper()
	var raw struct {
		HasMore    *bool              `json:"has_more"`
		NextCursor *string            `json:"next_cursor"`
		Items      *[]json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatalf("SIEM body is not a JSON envelope: %v: %.300s", err, body)
	}
	if raw.HasMore == nil || raw.NextCursor == nil || raw.Items == nil {
		t.Fatalf("SIEM envelope lacks has_more, next_cursor or an items array: %.300s", body)
	}
	p := siemPage{HasMore: *raw.HasMore, NextCursor: *raw.NextCursor, Items: *raw.Items}
	siemCursorTime(t, p.NextCursor)
	return p
}

// readAll reads from q on and follows next_cursor while has_more (dropping
// from_date, keeping the other parameters), as §6.2 describes.
func (e *siemEnv) readAll(t testing.TB, route, tid string, q url.Values) ([]json.RawMessage, []siemPage) {
	t.Helper()
	q = siemClone(q)
	var items []json.RawMessage
	var pages []siemPage
	for n := 0; ; n++ {
		if n > 20000 {
			t.Fatalf("%s: still has_more after %d pages", route, n)
		}
		p := e.page(t, route, tid, q)
		pages = append(pages, p)
		items = append(items, p.Items...)
		if !p.HasMore {
			return items, pages
		}
		q.Del("from_date")
		q.Set("cursor", p.NextCursor)
	}
}

// events is the simulator's ground truth for a tenant.
func (e *siemEnv) events(t testing.TB, tid string) []Event {
	t.Helper()
	evs, err := e.s.Events(tid)
	if err != nil {
		t.Fatalf("Events(%s): %v", tid, err)
	}
	return evs
}

// inject stores events (type defaults to a PUA detection) and returns their ids.
func (e *siemEnv) inject(t testing.TB, tid string, evs []Event, visibleAt time.Time) []string {
	t.Helper()
	for i := range evs {
		if evs[i].Type == "" {
			evs[i].Type = TypeCorePuaDetection
		}
		if evs[i].Name == "" {
			evs[i].Name = fmt.Sprintf("PUA detected: 'Injected %d' at 'C:\\x.exe'", i)
		}
		if evs[i].Severity == "" {
			evs[i].Severity = "medium"
		}
	}
	ids, err := e.s.Inject(tid, evs, visibleAt)
	if err != nil {
		t.Fatalf("Inject: %v", err)
	}
	return ids
}

func siemClone(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// siemCursorTime checks that c is a §6.3 cursor (URL-safe base64 of
// "V2_CURSOR|<ms timestamp>...") and returns its timestamp.
func siemCursorTime(t testing.TB, c string) time.Time {
	t.Helper()
	if c == "" {
		t.Fatalf("next_cursor is empty; it must be present on every page")
	}
	if strings.ContainsAny(c, "+/=") {
		t.Fatalf("next_cursor %q is not URL-safe (has + / or =)", c)
	}
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		t.Fatalf("next_cursor %q is not base64url: %v", c, err)
	}
	rest, ok := strings.CutPrefix(string(raw), "V2_CURSOR|")
	if !ok {
		t.Fatalf("next_cursor decodes to %q, want a V2_CURSOR| prefix", raw)
	}
	ts, _, _ := strings.Cut(rest, "|")
	if !siemTimeRE.MatchString(ts) {
		t.Fatalf("next_cursor decodes to %q: timestamp %q is not %s", raw, ts, siemTimeLayout)
	}
	tm, err := time.Parse(siemTimeLayout, ts)
	if err != nil {
		t.Fatalf("next_cursor timestamp %q: %v", ts, err)
	}
	return tm
}

// siemHead is what every SIEM item has.
type siemHead struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	CreatedAt string `json:"created_at"`
}

func siemHeads(t testing.TB, items []json.RawMessage) []siemHead {
	t.Helper()
	hs := make([]siemHead, len(items))
	for i, it := range items {
		if err := json.Unmarshal(it, &hs[i]); err != nil {
			t.Fatalf("item %d: %v: %.200s", i, err, it)
		}
		if hs[i].ID == "" {
			t.Fatalf("item %d has no id: %.200s", i, it)
		}
	}
	return hs
}

func siemHeadIDs(hs []siemHead) []string {
	ids := make([]string, len(hs))
	for i, h := range hs {
		ids[i] = h.ID
	}
	return ids
}

func siemItemIDs(t testing.TB, items []json.RawMessage) []string {
	t.Helper()
	return siemHeadIDs(siemHeads(t, items))
}

func siemEventIDs(evs []Event) []string {
	ids := make([]string, len(evs))
	for i := range evs {
		ids[i] = evs[i].ID
	}
	return ids
}

func siemFilter(evs []Event, keep func(*Event) bool) []Event {
	var out []Event
	for i := range evs {
		if keep(&evs[i]) {
			out = append(out, evs[i])
		}
	}
	return out
}

// siemSameIDs reports (as an error) whether got and want differ, naming
// the first difference.
func siemSameIDs(t testing.TB, what string, got, want []string) bool {
	t.Helper()
	if slices.Equal(got, want) {
		return true
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	g, w := "<end>", "<end>"
	if i < len(got) {
		g = got[i]
	}
	if i < len(want) {
		w = want[i]
	}
	t.Errorf("%s: got %d ids, want %d; first difference at %d: got %s, want %s", what, len(got), len(want), i, g, w)
	return false
}

// siemCheckErrorBody checks Sophos's common error object (§5).
func siemCheckErrorBody(t testing.TB, what string, body []byte, wantError string) map[string]string {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal(body, &m); err != nil {
		t.Errorf("%s: error body is not a JSON object of strings: %v: %s", what, err, body)
		return nil
	}
	for _, k := range []string{"error", "message", "correlationId", "requestId"} {
		if m[k] == "" {
			t.Errorf("%s: error body lacks %q: %s", what, k, body)
		}
	}
	if wantError != "" && m["error"] != wantError {
		t.Errorf("%s: error = %q, want %q", what, m["error"], wantError)
	}
	return m
}

func siemUnix(tm time.Time) string { return strconv.FormatInt(tm.Unix(), 10) }

// ---------------------------------------------------------------------------
// 1. Paging.

// TestSIEMPagingAcrossTies is the proof that cursor paging loses and
// repeats nothing across same-millisecond ties, for small and large pages.
func TestSIEMPagingAcrossTies(t *testing.T) {
	t.Parallel()
	const n = 1500
	e := newSiemEnv(t, func(c *Config) { c.EventsPerTenant = n; c.TieShare = 0.5 }).login(t)
	want := e.events(t, e.tid)
	if len(want) != n {
		t.Fatalf("ground truth has %d events, want %d", len(want), n)
	}
	ties := 0
	for i := 1; i < len(want); i++ {
		if want[i].CreatedAt.Equal(want[i-1].CreatedAt) {
			ties++
		}
	}
	if ties < len(want)/4 {
		t.Fatalf("only %d of %d events share created_at with the one before; TieShare 0.5 should give about half", ties, len(want))
	}
	wantIDs := siemEventIDs(want)
	if u := len(slicesCompactCopy(wantIDs)); u != len(wantIDs) {
		t.Fatalf("ground truth has duplicate ids: %d unique of %d", u, len(wantIDs))
	}

	t.Run("limits", func(t *testing.T) {
		for _, limit := range []int{1, 7, 200, 1000} {
			t.Run(fmt.Sprintf("limit=%d", limit), func(t *testing.T) {
				t.Parallel() // read-only; the final-cursor subtest below injects
				_, pages := e.readAll(t, "events", e.tid, url.Values{"limit": {strconv.Itoa(limit)}})
				var all []siemHead
				pageHeads := make([][]siemHead, len(pages))
				for i, p := range pages {
					pageHeads[i] = siemHeads(t, p.Items)
					all = append(all, pageHeads[i]...)
				}
				siemSameIDs(t, "union of pages vs Simulator.Events", siemHeadIDs(all), wantIDs)
				seen := map[string]bool{}
				for _, h := range all {
					if seen[h.ID] {
						t.Errorf("event %s returned twice", h.ID)
					}
					seen[h.ID] = true
				}
				// Same-millisecond ties must show in the pages too.
				pageTies := 0
				for i := 1; i < len(all); i++ {
					if all[i].CreatedAt == all[i-1].CreatedAt {
						pageTies++
					}
				}
				if pageTies != ties {
					t.Errorf("%d consecutive items share a created_at, ground truth has %d", pageTies, ties)
				}
				for i, p := range pages {
					last := i == len(pages)-1
					if len(p.Items) > limit {
						t.Errorf("page %d has %d items, limit %d", i, len(p.Items), limit)
					}
					if !last && (!p.HasMore || len(p.Items) != limit) {
						t.Errorf("page %d of %d: has_more %v with %d items", i, len(pages), p.HasMore, len(p.Items))
					}
					if last && p.HasMore {
						t.Errorf("last page has has_more true")
					}
					if len(p.Items) > 0 {
						lastItem := pageHeads[i][len(pageHeads[i])-1]
						if got := siemCursorTime(t, p.NextCursor).Format(siemTimeLayout); got != lastItem.CreatedAt {
							t.Errorf("page %d: cursor timestamp %s, want the last item's created_at %s", i, got, lastItem.CreatedAt)
						}
					}
				}
				if limit <= 7 {
					splits := 0
					for i := 0; i+1 < len(pages); i++ {
						a, b := pageHeads[i], pageHeads[i+1]
						if len(a) > 0 && len(b) > 0 && a[len(a)-1].CreatedAt == b[0].CreatedAt {
							splits++
						}
					}
					if splits == 0 {
						t.Errorf("no page boundary falls inside a group of same-millisecond events: the tie proof is void")
					}
				}
			})
		}
	})

	t.Run("final cursor", func(t *testing.T) {
		_, pages := e.readAll(t, "events", e.tid, url.Values{"limit": {"1000"}})
		final := pages[len(pages)-1].NextCursor
		p := e.page(t, "events", e.tid, url.Values{"cursor": {final}})
		if p.HasMore || len(p.Items) != 0 {
			t.Fatalf("final cursor: has_more %v, %d items; want an empty last page", p.HasMore, len(p.Items))
		}
		if p.NextCursor != final {
			t.Errorf("an empty page moved the cursor from %q to %q; it must hand back the position it was given", final, p.NextCursor)
		}
		e.clock.Advance(time.Minute)
		now := e.clock.Now()
		newIDs := e.inject(t, e.tid, []Event{{CreatedAt: now.Add(-30 * time.Second)}, {CreatedAt: now.Add(-10 * time.Second)}, {CreatedAt: now}}, time.Time{})
		items, _ := e.readAll(t, "events", e.tid, url.Values{"cursor": {final}})
		siemSameIDs(t, "final cursor reused after new events", siemItemIDs(t, items), newIDs)
	})
}

// slicesCompactCopy returns the distinct values of s.
func slicesCompactCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return slices.Compact(c)
}

// ---------------------------------------------------------------------------
// 2. limit.

func TestSIEMLimit(t *testing.T) {
	t.Parallel()
	cases := []struct {
		limit     string
		clamp     bool
		status    int
		wantItems int
	}{
		{"", false, 200, 200},
		{"1", false, 200, 1},
		{"1000", false, 200, 1000},
		{"1001", false, 400, 0},
		{"0", false, 400, 0},
		{"-1", false, 400, 0},
		{"abc", false, 400, 0},
		{"1.5", false, 400, 0},
		{"1001", true, 200, 1000},
		{"100000", true, 200, 1000},
		{"0", true, 400, 0},
		{"abc", true, 400, 0},
	}
	envs := map[bool]*siemEnv{}
	for _, clamp := range []bool{false, true} {
		envs[clamp] = newSiemEnv(t, func(c *Config) { c.EventsPerTenant = 1100; c.ClampLimit = clamp }).login(t)
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("limit=%q clamp=%v", tc.limit, tc.clamp), func(t *testing.T) {
			e := envs[tc.clamp]
			q := url.Values{}
			if tc.limit != "" {
				q.Set("limit", tc.limit)
			}
			for _, route := range []string{"events", "alerts"} {
				status, _, body := e.call(t, route, e.tid, q)
				if status != tc.status {
					t.Errorf("%s: status %d, want %d: %.200s", route, status, tc.status, body)
					continue
				}
				if status == 400 {
					siemCheckErrorBody(t, route, body, "")
					continue
				}
				p := siemDecodePage(t, body)
				if route == "events" && len(p.Items) != tc.wantItems {
					t.Errorf("events: %d items, want %d", len(p.Items), tc.wantItems)
				}
				if route == "alerts" && len(p.Items) > tc.wantItems {
					t.Errorf("alerts: %d items, more than %d", len(p.Items), tc.wantItems)
				}
			}
		})
	}
}

// ---------------------------------------------------------------------------
// 3. from_date and cursors.

func TestSIEMFromDate(t *testing.T) {
	t.Parallel()
	e := newSiemEnv(t, func(c *Config) { c.EventsPerTenant = 500 }).login(t)
	now := e.clock.Now()
	all := e.events(t, e.tid)

	t.Run("from that second on", func(t *testing.T) {
		sec := all[200].CreatedAt.Truncate(time.Second)
		if sec.Equal(all[200].CreatedAt) {
			sec = all[201].CreatedAt.Truncate(time.Second)
		}
		want := siemFilter(all, func(ev *Event) bool { return !ev.CreatedAt.Before(sec) })
		if len(want) == 0 || len(want) == len(all) {
			t.Fatalf("bad test setup: %d of %d events from %v", len(want), len(all), sec)
		}
		items, _ := e.readAll(t, "events", e.tid, url.Values{"from_date": {siemUnix(sec)}, "limit": {"150"}})
		siemSameIDs(t, "from_date read", siemItemIDs(t, items), siemEventIDs(want))
	})

	t.Run("window", func(t *testing.T) {
		cases := []struct {
			name     string
			fromDate string
			status   int
		}{
			{"24h and 1s ago", siemUnix(now.Add(-Retention - time.Second)), 400},
			{"48h ago", siemUnix(now.Add(-48 * time.Hour)), 400},
			{"negative", "-5", 400},
			{"not a number", "abc", 400},
			{"milliseconds", strconv.FormatInt(now.UnixMilli(), 10), 200}, // far future in seconds
			{"24h less 1s ago", siemUnix(now.Add(-Retention + time.Second)), 200},
			{"1h ago", siemUnix(now.Add(-time.Hour)), 200},
			{"now", siemUnix(now), 200},
		}
		for _, tc := range cases {
			for _, route := range []string{"events", "alerts"} {
				status, _, body := e.call(t, route, e.tid, url.Values{"from_date": {tc.fromDate}})
				if status != tc.status {
					t.Errorf("%s: from_date %s (%s): status %d, want %d: %.200s", route, tc.fromDate, tc.name, status, tc.status, body)
					continue
				}
				if status == 400 {
					m := siemCheckErrorBody(t, route+" from_date "+tc.name, body, "")
					if m != nil && !strings.Contains(m["message"], "from_date") {
						t.Errorf("%s: from_date %s: message %q does not name from_date", route, tc.name, m["message"])
					}
				}
			}
		}
	})

	t.Run("future", func(t *testing.T) {
		for _, fd := range []struct{ name, v string }{
			{"in a minute", siemUnix(now.Add(time.Minute))},
			{"in a year", siemUnix(now.AddDate(1, 0, 0))},
			{"year 3000", siemUnix(time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC))},
			// 1e16 s: from_date*1000 no longer fits an int64.
			{"1e16 seconds", "10000000000000000"},
		} {
			status, _, body := e.call(t, "events", e.tid, url.Values{"from_date": {fd.v}})
			if status == 400 && fd.name == "1e16 seconds" {
				continue // rejecting an absurd from_date is fine too
			}
			if status != 200 {
				t.Errorf("future from_date %s: status %d, want 200: %.200s", fd.name, status, body)
				continue
			}
			p := siemDecodePage(t, body)
			if len(p.Items) != 0 || p.HasMore {
				t.Errorf("future from_date %s (%s): %d items, has_more %v; want none (events.go parsePageQuery: from_date*1000 must not overflow int64 and wrap into the past)",
					fd.name, fd.v, len(p.Items), p.HasMore)
			}
		}
	})

	t.Run("ignored with a cursor", func(t *testing.T) {
		first := e.page(t, "events", e.tid, url.Values{"limit": {"10"}})
		want, _ := e.readAll(t, "events", e.tid, url.Values{"cursor": {first.NextCursor}, "limit": {"1000"}})
		for _, fd := range []string{siemUnix(now.Add(-48 * time.Hour)), siemUnix(now.Add(time.Hour))} {
			q := url.Values{"cursor": {first.NextCursor}, "limit": {"1000"}, "from_date": {fd}}
			status, _, body := e.call(t, "events", e.tid, q)
			if status != 200 {
				t.Errorf("cursor with from_date %s: status %d, want 200 (from_date is ignored): %.200s", fd, status, body)
				continue
			}
			got, _ := e.readAll(t, "events", e.tid, q)
			siemSameIDs(t, "cursor with from_date "+fd, siemItemIDs(t, got), siemItemIDs(t, want))
		}
	})

	t.Run("malformed cursor", func(t *testing.T) {
		b64 := base64.RawURLEncoding.EncodeToString
		for _, c := range []string{
			"not-a-cursor!",
			"abc",
			b64([]byte("hello world")),
			b64([]byte("V2_CURSOR|yesterday|3")),
			b64([]byte("V2_CURSOR|2026-11-27T11:00:00.000Z|x")),
			b64([]byte("V1_CURSOR|2026-11-27T11:00:00.000Z|3")),
		} {
			for _, route := range []string{"events", "alerts"} {
				status, _, body := e.call(t, route, e.tid, url.Values{"cursor": {c}})
				if status != 400 {
					t.Errorf("%s: cursor %q: status %d, want 400", route, c, status)
					continue
				}
				siemCheckErrorBody(t, route+" malformed cursor", body, "")
			}
		}
	})
}

// ---------------------------------------------------------------------------
// 4. Retention.

func TestSIEMRetention(t *testing.T) {
	t.Parallel()
	t.Run("old events drop out", func(t *testing.T) {
		e := newSiemEnv(t, func(c *Config) { c.EventsPerTenant = 600 }).login(t)
		before, _ := e.readAll(t, "events", e.tid, url.Values{"limit": {"1000"}})
		if len(before) != 600 {
			t.Fatalf("read %d events at start, want 600", len(before))
		}
		e.clock.Advance(6 * time.Hour)
		e.login(t) // the first token has expired
		cut := e.clock.Now().Add(-Retention)
		var wantIDs []string
		for _, h := range siemHeads(t, before) {
			if c, _ := time.Parse(siemTimeLayout, h.CreatedAt); !c.Before(cut) {
				wantIDs = append(wantIDs, h.ID)
			}
		}
		if len(wantIDs) == len(before) || len(wantIDs) < 250 {
			t.Fatalf("bad test setup: %d of %d events stay in the window", len(wantIDs), len(before))
		}
		after, _ := e.readAll(t, "events", e.tid, url.Values{"limit": {"1000"}})
		heads := siemHeads(t, after)
		if len(after) >= len(before) {
			t.Errorf("6 h later a fresh read has %d events, at start %d: the count must drop", len(after), len(before))
		}
		if len(heads) > 0 {
			first, _ := time.Parse(siemTimeLayout, heads[0].CreatedAt)
			if first.Before(cut) {
				t.Errorf("first item created %s, older than now-24h %s", heads[0].CreatedAt, cut.Format(siemTimeLayout))
			}
		}
		siemSameIDs(t, "read after 6h", siemHeadIDs(heads), wantIDs)
		siemSameIDs(t, "read after 6h vs Simulator.Events", siemHeadIDs(heads), siemEventIDs(e.events(t, e.tid)))

		// No query parameters at all: the last 24 h, default page size.
		p := e.page(t, "events", e.tid, nil)
		if !p.HasMore || len(p.Items) != 200 {
			t.Fatalf("no parameters: has_more %v, %d items; want true, 200", p.HasMore, len(p.Items))
		}
		siemSameIDs(t, "no parameters", siemItemIDs(t, p.Items), wantIDs[:200])
	})

	t.Run("stale cursor falls back to the last 24 hours", func(t *testing.T) {
		e := newSiemEnv(t, func(c *Config) { c.EventsPerTenant = 300 }).login(t)
		stale := e.page(t, "events", e.tid, url.Values{"limit": {"10"}}).NextCursor
		e.clock.Advance(25 * time.Hour)
		e.login(t) // the first token has expired
		now := e.clock.Now()
		if age := now.Sub(siemCursorTime(t, stale)); age <= Retention {
			t.Fatalf("bad test setup: cursor is only %v old", age)
		}
		fresh := e.inject(t, e.tid, []Event{
			{CreatedAt: now.Add(-3 * time.Hour)}, {CreatedAt: now.Add(-2 * time.Hour)},
			{CreatedAt: now.Add(-time.Hour)}, {CreatedAt: now.Add(-time.Minute)}, {CreatedAt: now},
		}, time.Time{})
		status, _, body := e.call(t, "events", e.tid, url.Values{"cursor": {stale}})
		if status != 200 {
			t.Fatalf("stale cursor: status %d, want 200 (fall back to the last 24 h): %s", status, body)
		}
		items, _ := e.readAll(t, "events", e.tid, url.Values{"cursor": {stale}, "limit": {"2"}})
		siemSameIDs(t, "stale cursor", siemItemIDs(t, items), fresh)
		siemSameIDs(t, "stale cursor vs Simulator.Events", siemItemIDs(t, items), siemEventIDs(e.events(t, e.tid)))
	})
}

// ---------------------------------------------------------------------------
// 5. exclude_types and from_date_offset_minutes.

func TestSIEMExcludeTypes(t *testing.T) {
	t.Parallel()
	e := newSiemEnv(t, func(c *Config) { c.EventsPerTenant = 500 }).login(t)
	all := e.events(t, e.tid)
	const a, b = "Event::Endpoint::UpdateSuccess", TypeCorePuaDetection
	count := map[string]int{}
	for _, ev := range all {
		count[ev.Type]++
	}
	if count[a] == 0 || count[b] == 0 || len(count) < 5 {
		t.Fatalf("bad test setup: type counts %v", count)
	}
	cases := []struct {
		name    string
		values  []string
		exclude []string
	}{
		{"comma-separated", []string{a + "," + b}, []string{a, b}},
		{"repeated", []string{a, b}, []string{a, b}},
		{"comma-separated with spaces", []string{a + ", " + b}, []string{a, b}},
		{"with an unknown type", []string{a + ",Event::Endpoint::NoSuchType," + b}, []string{a, b}},
		{"one type", []string{b}, []string{b}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := siemFilter(all, func(ev *Event) bool { return !slices.Contains(tc.exclude, ev.Type) })
			items, _ := e.readAll(t, "events", e.tid, url.Values{"exclude_types": tc.values, "limit": {"1000"}})
			heads := siemHeads(t, items)
			for _, h := range heads {
				if slices.Contains(tc.exclude, h.Type) {
					t.Fatalf("excluded type %s returned (id %s)", h.Type, h.ID)
				}
			}
			siemSameIDs(t, "exclude_types "+tc.name, siemHeadIDs(heads), siemEventIDs(want))
		})
	}
}

func TestSIEMFromDateOffsetMinutes(t *testing.T) {
	t.Parallel()
	e := newSiemEnv(t, func(c *Config) { c.EventsPerTenant = 0 }).login(t)
	now := e.clock.Now()
	// Alert types, so that both routes have them.
	ids := e.inject(t, e.tid, []Event{
		{Type: TypeCorePuaCleanFailed, CreatedAt: now.Add(-20 * time.Minute)},
		{Type: TypeCorePuaCleanFailed, CreatedAt: now},
	}, time.Time{})
	old, fresh := ids[0], ids[1]
	for _, route := range []string{"events", "alerts"} {
		t.Run(route, func(t *testing.T) {
			p0 := e.page(t, route, e.tid, nil)
			siemSameIDs(t, "without offset", siemItemIDs(t, p0.Items), ids)

			off := url.Values{"from_date_offset_minutes": {"10"}}
			p := e.page(t, route, e.tid, off)
			siemSameIDs(t, "offset 10", siemItemIDs(t, p.Items), []string{old})
			if p.HasMore {
				t.Errorf("offset 10: has_more true")
			}
			if got, want := siemCursorTime(t, p.NextCursor), now.Add(-20*time.Minute); !got.Equal(want) {
				t.Errorf("offset 10: cursor at %v, want at the last returned item %v", got, want)
			}
			q := siemClone(off)
			q.Set("cursor", p.NextCursor)
			p2 := e.page(t, route, e.tid, q)
			if len(p2.Items) != 0 {
				t.Errorf("held-back event returned too early: %d items", len(p2.Items))
			}
			if got := siemCursorTime(t, p2.NextCursor); got.After(now.Add(-10 * time.Minute)) {
				t.Errorf("cursor moved to %v, past the held-back window (now-10m = %v)", got, now.Add(-10*time.Minute))
			}
			// The live clock is shared by the subtests: move it on and back is
			// impossible, so only the last subtest advances it.
			if route == "alerts" {
				e.clock.Advance(11 * time.Minute)
				q.Set("cursor", p2.NextCursor)
				p3 := e.page(t, route, e.tid, q)
				siemSameIDs(t, "held-back event after 11 minutes", siemItemIDs(t, p3.Items), []string{fresh})
			}
		})
	}
	t.Run("invalid", func(t *testing.T) {
		for _, v := range []string{"abc", "-1", "1.5"} {
			status, _, body := e.call(t, "events", e.tid, url.Values{"from_date_offset_minutes": {v}})
			if status != 400 {
				t.Errorf("from_date_offset_minutes=%s: status %d, want 400", v, status)
				continue
			}
			siemCheckErrorBody(t, "from_date_offset_minutes="+v, body, "")
		}
	})
}

// ---------------------------------------------------------------------------
// 6. Late events.

func TestSIEMLateEvents(t *testing.T) {
	t.Parallel()
	t.Run("created behind the cursor", func(t *testing.T) {
		e := newSiemEnv(t, func(c *Config) { c.EventsPerTenant = 200 }).login(t)
		e.clock.Advance(10 * time.Minute)
		now := e.clock.Now()
		newest := e.inject(t, e.tid, []Event{{CreatedAt: now}}, time.Time{})
		_, pages := e.readAll(t, "events", e.tid, url.Values{"limit": {"1000"}})
		cur := pages[len(pages)-1].NextCursor
		if got := siemCursorTime(t, cur); !got.Equal(now) {
			t.Fatalf("cursor at %v, want at the newest event %v", got, now)
		}
		late := e.inject(t, e.tid, []Event{{CreatedAt: now.Add(-5 * time.Minute)}}, time.Time{})
		p := e.page(t, "events", e.tid, url.Values{"cursor": {cur}})
		if ids := siemItemIDs(t, p.Items); slices.Contains(ids, late[0]) || len(ids) != 0 {
			t.Errorf("cursor read returned %v; the late event %s lies behind the cursor and must not come", ids, late[0])
		}
		// The overlap re-read by from_date finds it.
		fd := now.Add(-6 * time.Minute)
		items, _ := e.readAll(t, "events", e.tid, url.Values{"from_date": {siemUnix(fd)}})
		want := siemFilter(e.events(t, e.tid), func(ev *Event) bool { return !ev.CreatedAt.Before(fd) })
		got := siemItemIDs(t, items)
		siemSameIDs(t, "from_date re-read", got, siemEventIDs(want))
		if !slices.Contains(got, late[0]) || !slices.Contains(got, newest[0]) {
			t.Errorf("from_date re-read %v lacks the late event %s or the newest %s", got, late[0], newest[0])
		}
	})

	t.Run("visible later", func(t *testing.T) {
		e := newSiemEnv(t, func(c *Config) { c.EventsPerTenant = 0 }).login(t)
		now := e.clock.Now()
		cur := e.page(t, "events", e.tid, nil).NextCursor
		ids := e.inject(t, e.tid, []Event{{CreatedAt: now}}, now.Add(2*time.Minute))
		if truth := siemEventIDs(e.events(t, e.tid)); !slices.Equal(truth, ids) {
			t.Fatalf("ground truth %v, want the injected %v", truth, ids)
		}
		for _, step := range []time.Duration{0, time.Minute, 59 * time.Second} {
			e.clock.Advance(step)
			for _, q := range []url.Values{{"cursor": {cur}}, nil} {
				if p := e.page(t, "events", e.tid, q); len(p.Items) != 0 {
					t.Fatalf("at now+%v (%s): %d items before visibleAt", e.clock.Now().Sub(now), q.Encode(), len(p.Items))
				}
			}
		}
		e.clock.Advance(time.Second) // now == visibleAt
		p := e.page(t, "events", e.tid, url.Values{"cursor": {cur}})
		siemSameIDs(t, "at visibleAt", siemItemIDs(t, p.Items), ids)
	})
}

// ---------------------------------------------------------------------------
// 7. Alerts.

type siemAlertItem struct {
	ID                  string                     `json:"id"`
	EventServiceEventID string                     `json:"event_service_event_id"`
	Type                string                     `json:"type"`
	Description         string                     `json:"description"`
	Severity            string                     `json:"severity"`
	Location            string                     `json:"location"`
	Source              string                     `json:"source"`
	When                string                     `json:"when"`
	CreatedAt           string                     `json:"created_at"`
	CustomerID          string                     `json:"customer_id"`
	Threat              *string                    `json:"threat"`
	ThreatCleanable     bool                       `json:"threat_cleanable"`
	Info                map[string]json.RawMessage `json:"info"`
	Data                map[string]json.RawMessage `json:"data"`
}

func TestSIEMAlerts(t *testing.T) {
	t.Parallel()
	e := newSiemEnv(t, func(c *Config) { c.EventsPerTenant = 1500 }).login(t)
	all := e.events(t, e.tid)
	want := siemFilter(all, func(ev *Event) bool { return IsAlertType(ev.Type) })
	if len(want) < 20 || len(want) == len(all) {
		t.Fatalf("bad test setup: %d alert events of %d", len(want), len(all))
	}
	items, _ := e.readAll(t, "alerts", e.tid, url.Values{"limit": {"25"}})
	if !siemSameIDs(t, "alerts vs action-required events", siemItemIDs(t, items), siemEventIDs(want)) {
		return
	}
	byID := map[string]*Event{}
	for i := range want {
		byID[want[i].ID] = &want[i]
	}
	for i, raw := range items {
		var a siemAlertItem
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&a); err != nil {
			t.Fatalf("alert %d: %v: %s", i, err, raw)
		}
		ev := byID[a.ID]
		if a.EventServiceEventID != ev.ID || a.ID != ev.ID {
			t.Errorf("alert %d: id %s, event_service_event_id %s, event id %s: must all be equal", i, a.ID, a.EventServiceEventID, ev.ID)
		}
		if a.Description != ev.Name {
			t.Errorf("alert %s: description %q, want the event name %q", a.ID, a.Description, ev.Name)
		}
		if a.Type != ev.Type || !IsAlertType(a.Type) {
			t.Errorf("alert %s: type %s, event type %s", a.ID, a.Type, ev.Type)
		}
		if a.Severity != ev.Severity || a.Severity != strings.ToLower(a.Severity) {
			t.Errorf("alert %s: severity %q, event %q (lower-case)", a.ID, a.Severity, ev.Severity)
		}
		if a.CustomerID != e.tid {
			t.Errorf("alert %s: customer_id %s, want %s", a.ID, a.CustomerID, e.tid)
		}
		if a.CreatedAt != ev.CreatedAt.UTC().Format(siemTimeLayout) || a.When != ev.When.UTC().Format(siemTimeLayout) {
			t.Errorf("alert %s: created_at %s when %s, event %v %v", a.ID, a.CreatedAt, a.When, ev.CreatedAt, ev.When)
		}
		if a.Location != ev.Location || a.Source != ev.Source {
			t.Errorf("alert %s: location/source %q/%q, event %q/%q", a.ID, a.Location, a.Source, ev.Location, ev.Source)
		}
		if (a.Threat == nil) != (ev.Threat == nil) || (a.Threat != nil && *a.Threat != *ev.Threat) {
			t.Errorf("alert %s: threat %v, event %v", a.ID, a.Threat, ev.Threat)
		}
		var epID string
		if err := json.Unmarshal(a.Data["endpoint_id"], &epID); err != nil || epID != ev.EndpointID {
			t.Errorf("alert %s: data.endpoint_id %s, want %s", a.ID, a.Data["endpoint_id"], ev.EndpointID)
		}
		var createdMS int64
		if err := json.Unmarshal(a.Data["created_at"], &createdMS); err != nil || createdMS != ev.CreatedAt.UnixMilli() {
			t.Errorf("alert %s: data.created_at %s, want epoch ms %d", a.ID, a.Data["created_at"], ev.CreatedAt.UnixMilli())
		}
	}

	t.Run("exclude_types is ignored", func(t *testing.T) {
		var types []string
		for ty := range alertTypes {
			types = append(types, ty)
		}
		got, _ := e.readAll(t, "alerts", e.tid, url.Values{"limit": {"1000"}, "exclude_types": {strings.Join(types, ",")}})
		siemSameIDs(t, "alerts with exclude_types", siemItemIDs(t, got), siemEventIDs(want))
	})
}

// TestSIEMAlertsNewTypeDuringRead builds, deterministically, the
// interleaving of an alerts read with an Inject (or live event) of a type
// the simulator has not seen before: page() takes its snapshot of the type
// table, then waits for the tenant's lock, which Inject holds while it
// interns the new type and stores the event. The read must still answer.
func TestSIEMAlertsNewTypeDuringRead(t *testing.T) {
	e := newSiemEnv(t, func(c *Config) { c.EventsPerTenant = 20 }).login(t)
	tn := e.s.tenant(e.tid)
	tn.mu.Lock()
	locked := true
	defer func() {
		if locked {
			tn.mu.Unlock()
		}
	}()
	type result struct {
		status int
		body   []byte
		err    error
	}
	done := make(chan result, 1)
	u := e.url(t, "alerts", e.tid, nil)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		req.Header.Set("Authorization", "Bearer "+e.tok)
		req.Header.Set("X-Tenant-ID", e.tid)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		done <- result{status: resp.StatusCode, body: b, err: err}
	}()
	// Wait until the handler is inside page(), blocked on the tenant lock.
	deadline := time.Now().Add(10 * time.Second)
	for !siemGoroutineWaiting("(*Simulator).page(", "RLock") {
		if time.Now().After(deadline) {
			t.Fatalf("the alerts request never reached page()")
		}
		time.Sleep(time.Millisecond)
	}
	// What Inject does under the tenant lock, for a brand-new type.
	ev := Event{ID: "5e1d0000-0000-4000-8000-000000000001", Type: "Event::Endpoint::SimTest::BrandNewType",
		Name: "new", Severity: "low", CustomerID: e.tid, CreatedAt: e.clock.Now(), When: e.clock.Now()}
	seq := tn.nextSeq
	tn.nextSeq++
	tn.injected[seq] = &ev
	tn.insert(rec{created: ms(ev.CreatedAt), visible: ms(ev.CreatedAt), seq: seq, typ: e.s.types.id(ev.Type)})
	tn.mu.Unlock()
	locked = false

	r := <-done
	if r.err != nil || r.status != 200 {
		t.Fatalf("alerts read racing an event of a new type: status %d, err %v: the handler panicked "+
			"(events.go page() must take types.snapshot() after t.mu.RLock(); taken before it, alertFlags[r.typ] "+
			"is out of range for a type interned in between)", r.status, r.err)
	}
	siemDecodePage(t, r.body)
}

// siemGoroutineWaiting reports whether some goroutine's stack has both
// fragments.
func siemGoroutineWaiting(frag ...string) bool {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range strings.Split(string(buf), "\n\n") {
		ok := true
		for _, f := range frag {
			ok = ok && strings.Contains(g, f)
		}
		if ok {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------------------
// 8. Payload shape.

type siemRemedy struct {
	Items []struct {
		Type          string `json:"type"`
		Result        string `json:"result"`
		SuspendResult string `json:"suspendResult"`
		Descriptor    string `json:"descriptor"`
		ProcessPath   string `json:"processPath"`
		SophosPid     string `json:"sophosPid"`
	} `json:"items"`
	TotalItems int `json:"totalItems"`
}

type siemTypeProp struct {
	Type     string `json:"type"`
	Property string `json:"property"`
}

// siemEventItem has the fields of §6.4.
type siemEventItem struct {
	ID           string            `json:"id"`
	Type         string            `json:"type"`
	Name         string            `json:"name"`
	Severity     string            `json:"severity"`
	Group        string            `json:"group"`
	Location     string            `json:"location"`
	Source       string            `json:"source"`
	SourceInfo   map[string]string `json:"source_info"`
	CustomerID   string            `json:"customer_id"`
	EndpointID   string            `json:"endpoint_id"`
	EndpointType string            `json:"endpoint_type"`
	UserID       *string           `json:"user_id"`
	When         string            `json:"when"`
	CreatedAt    string            `json:"created_at"`
	Threat       *string           `json:"threat"`
	Origin       *string           `json:"origin"`
	AppSha256    *string           `json:"appSha256"`
	AppCerts     *[]struct {
		Signer     string `json:"signer"`
		Thumbprint string `json:"thumbprint"`
	} `json:"appCerts"`
	CoreRemedyItems     *siemRemedy     `json:"core_remedy_items"`
	IPSThreatData       json.RawMessage `json:"ips_threat_data"`
	AMSIThreatData      json.RawMessage `json:"amsi_threat_data"`
	Details             []siemTypeProp  `json:"details"`
	WhitelistProperties []siemTypeProp  `json:"whitelist_properties"`
}

var siemRequiredKeys = []string{"id", "type", "name", "severity", "group", "location", "source", "source_info",
	"customer_id", "endpoint_id", "endpoint_type", "user_id", "when", "created_at", "threat", "origin",
	"appSha256", "appCerts", "core_remedy_items", "ips_threat_data", "amsi_threat_data"}

var siemSeverities = map[string]bool{"none": true, "low": true, "medium": true, "high": true, "critical": true}

// siemCheckEventItem checks one raw events item against its ground truth.
func siemCheckEventItem(t testing.TB, raw json.RawMessage, ev *Event, tid string) {
	t.Helper()
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(raw, &keys); err != nil {
		t.Fatalf("item: %v", err)
	}
	for _, k := range siemRequiredKeys {
		if _, ok := keys[k]; !ok {
			t.Errorf("item %s lacks %q", ev.ID, k)
		}
	}
	var it siemEventItem
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&it); err != nil {
		t.Fatalf("item %s does not decode into the §6.4 fields: %v: %s", ev.ID, err, raw)
	}
	isNull := func(k string) bool { return string(keys[k]) == "null" }
	for k, nilField := range map[string]bool{
		"user_id": ev.UserID == nil, "threat": ev.Threat == nil, "origin": ev.Origin == nil,
		"appSha256": ev.AppSha256 == nil, "appCerts": ev.AppCerts == nil, "core_remedy_items": ev.CoreRemedyItems == nil,
		"ips_threat_data": true, "amsi_threat_data": true,
	} {
		if isNull(k) != nilField {
			t.Errorf("item %s: %q is %s; want explicit null exactly when the event has none", ev.ID, k, keys[k])
		}
	}
	str := func(p *string) string {
		if p == nil {
			return "<nil>"
		}
		return *p
	}
	checks := []struct {
		name      string
		got, want string
	}{
		{"id", it.ID, ev.ID}, {"type", it.Type, ev.Type}, {"name", it.Name, ev.Name},
		{"severity", it.Severity, ev.Severity}, {"group", it.Group, ev.Group}, {"location", it.Location, ev.Location},
		{"source", it.Source, ev.Source}, {"source_info.ip", it.SourceInfo["ip"], ev.SourceIP},
		{"customer_id", it.CustomerID, tid}, {"endpoint_id", it.EndpointID, ev.EndpointID},
		{"endpoint_type", it.EndpointType, ev.EndpointType}, {"user_id", str(it.UserID), str(ev.UserID)},
		{"when", it.When, ev.When.UTC().Format(siemTimeLayout)},
		{"created_at", it.CreatedAt, ev.CreatedAt.UTC().Format(siemTimeLayout)},
		{"threat", str(it.Threat), str(ev.Threat)}, {"origin", str(it.Origin), str(ev.Origin)},
		{"appSha256", str(it.AppSha256), str(ev.AppSha256)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("item %s: %s = %q, want %q", ev.ID, c.name, c.got, c.want)
		}
	}
	if !siemSeverities[it.Severity] {
		t.Errorf("item %s: severity %q is not a lower-case severity", ev.ID, it.Severity)
	}
	for _, ts := range []string{it.When, it.CreatedAt} {
		if !siemTimeRE.MatchString(ts) {
			t.Errorf("item %s: timestamp %q is not %s", ev.ID, ts, siemTimeLayout)
		}
	}
	if ev.AppCerts != nil {
		if it.AppCerts == nil || len(*it.AppCerts) != len(ev.AppCerts) {
			t.Errorf("item %s: appCerts %s, want %d certs", ev.ID, keys["appCerts"], len(ev.AppCerts))
		} else {
			for i, c := range *it.AppCerts {
				if c.Signer != ev.AppCerts[i].Signer || c.Thumbprint != ev.AppCerts[i].Thumbprint {
					t.Errorf("item %s: appCerts[%d] = %+v, want %+v", ev.ID, i, c, ev.AppCerts[i])
				}
			}
		}
	}
	if ev.CoreRemedyItems != nil {
		r := it.CoreRemedyItems
		if r == nil || r.TotalItems != len(ev.CoreRemedyItems) || len(r.Items) != len(ev.CoreRemedyItems) {
			t.Errorf("item %s: core_remedy_items %s, want %d items", ev.ID, keys["core_remedy_items"], len(ev.CoreRemedyItems))
		} else {
			for i, x := range r.Items {
				w := ev.CoreRemedyItems[i]
				if x.Type != w.Type || x.Result != w.Result || x.SuspendResult != w.SuspendResult || x.Descriptor != w.Descriptor {
					t.Errorf("item %s: core_remedy_items[%d] = %+v, want %+v", ev.ID, i, x, w)
				}
			}
		}
	}
	if len(it.Details) != len(ev.Details) {
		t.Errorf("item %s: %d details, want %d", ev.ID, len(it.Details), len(ev.Details))
	} else {
		for i, d := range it.Details {
			if d.Type != ev.Details[i].Type || d.Property != ev.Details[i].Property {
				t.Errorf("item %s: details[%d] = %+v, want %+v", ev.ID, i, d, ev.Details[i])
			}
		}
	}
}

func TestSIEMEventPayload(t *testing.T) {
	t.Parallel()
	e := newSiemEnv(t, func(c *Config) { c.EventsPerTenant = 600; c.HostileShare = 0 }).login(t)
	truth := e.events(t, e.tid)
	byID := map[string]*Event{}
	for i := range truth {
		byID[truth[i].ID] = &truth[i]
	}
	items, _ := e.readAll(t, "events", e.tid, url.Values{"limit": {"1000"}})
	if len(items) != len(truth) {
		t.Fatalf("%d items, want %d", len(items), len(truth))
	}
	nullThreat := 0
	seenNull := map[string]bool{}
	seenSet := map[string]bool{}
	for i, raw := range items {
		h := siemHeads(t, []json.RawMessage{raw})[0]
		ev := byID[h.ID]
		if ev == nil {
			t.Fatalf("item %d: id %s is not in Simulator.Events", i, h.ID)
		}
		siemCheckEventItem(t, raw, ev, e.tid)
		if ev.Type == "Event::Endpoint::UpdateSuccess" && bytes.Contains(raw, []byte(`"threat":null`)) {
			nullThreat++
		}
		var keys map[string]json.RawMessage
		_ = json.Unmarshal(raw, &keys)
		for _, k := range []string{"user_id", "threat", "origin", "appSha256", "appCerts", "core_remedy_items"} {
			if string(keys[k]) == "null" {
				seenNull[k] = true
			} else {
				seenSet[k] = true
			}
		}
		if t.Failed() {
			t.Fatalf("stopping after item %d: %s", i, raw)
		}
	}
	if nullThreat == 0 {
		t.Errorf("no UpdateSuccess item has the literal `\"threat\":null`")
	}
	for _, k := range []string{"user_id", "threat", "origin", "appSha256", "appCerts", "core_remedy_items"} {
		if !seenNull[k] || !seenSet[k] {
			t.Errorf("field %s: seen null %v, seen set %v; the backlog should have both", k, seenNull[k], seenSet[k])
		}
	}
}

func TestSIEMHostilePayload(t *testing.T) {
	t.Parallel()
	e := newSiemEnv(t, func(c *Config) { c.EventsPerTenant = 300; c.HostileShare = 1 }).login(t)
	truth := e.events(t, e.tid)
	byID := map[string]*Event{}
	for i := range truth {
		byID[truth[i].ID] = &truth[i]
	}
	var lt, crlf int
	for _, route := range []string{"events", "alerts"} {
		q := url.Values{"limit": {"100"}}
		for n := 0; ; n++ {
			status, _, body := e.call(t, route, e.tid, q)
			if status != 200 {
				t.Fatalf("%s: status %d: %.200s", route, status, body)
			}
			if !json.Valid(body) {
				t.Fatalf("%s: page %d is not valid JSON: %.300s", route, n, body)
			}
			p := siemDecodePage(t, body)
			for _, raw := range p.Items {
				var it struct {
					ID          string `json:"id"`
					Name        string `json:"name"`
					Description string `json:"description"`
					Location    string `json:"location"`
					Source      string `json:"source"`
				}
				if err := json.Unmarshal(raw, &it); err != nil {
					t.Fatalf("%s item: %v", route, err)
				}
				ev := byID[it.ID]
				if ev == nil {
					t.Fatalf("%s item %s not in Simulator.Events", route, it.ID)
				}
				name := it.Name
				if route == "alerts" {
					name = it.Description
				} else {
					siemCheckEventItem(t, raw, ev, e.tid)
				}
				if name != ev.Name || it.Location != ev.Location || it.Source != ev.Source {
					t.Errorf("%s item %s: decoded strings differ from the event:\n name %q\n want %q\n location %q want %q\n source %q want %q",
						route, it.ID, name, ev.Name, it.Location, ev.Location, it.Source, ev.Source)
				}
				for _, s := range []string{name, it.Location, it.Source} {
					if strings.Contains(s, "<") {
						lt++
					}
					if strings.Contains(s, "\r\n") {
						crlf++
					}
				}
			}
			if !p.HasMore {
				break
			}
			q.Set("cursor", p.NextCursor)
		}
	}
	if lt == 0 || crlf == 0 {
		t.Errorf("hostile values did not survive: %d decoded strings with '<', %d with CR LF", lt, crlf)
	}
}
