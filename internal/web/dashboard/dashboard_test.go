package dashboard

import (
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/store"
	"github.com/puawatch/puawatch/internal/store/sqlstore"
	"golang.org/x/net/html"
)

// Hostile values as an endpoint or a server could send them.
const (
	hostileScript = `<script>alert(1)</script>`
	hostileImg    = `"><img src=x onerror=alert(1)>`
	hostileCRLF   = "evil\r\nSet-Cookie: pwned=1"
	hostileRLO    = "invoice\u202egpj.exe"
	hostileCSV    = `=HYPERLINK("http://evil.example/","x")`
)

var testNow = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

const (
	contoso = "11111111-1111-4111-8111-111111111111"
	hostile = "22222222-2222-4222-8222-222222222222"
)

// fixture is a real SQLite store with two tenants: Contoso with 60
// detections (40 PsExec, 20 NetCat, on three hosts, one a minute back
// from testNow), and a tenant whose every value is hostile with three
// detections (one a follow-up of another) whose notifications were sent,
// retried and killed.
type fixture struct {
	st       *sqlstore.Store
	h        http.Handler
	user     string // what Options.User answers
	hostDet  string // the hostile tenant's first detection
	follow   string // its follow-up
	deadRow  int64
	retryRow int64
}

func cursorAt(t time.Time) string {
	return base64.StdEncoding.EncodeToString([]byte("V2_CURSOR|" + t.UTC().Format("2006-01-02T15:04:05.000Z")))
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "puawatch.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{st: st}
	if err := st.UpsertTenants(ctx, []store.Tenant{{ID: contoso, Name: "Contoso", Region: "eu01"}, {ID: hostile, Name: hostileScript, Region: "us01"}}, testNow.Add(-48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	var ds []store.Detection
	for i := range 60 {
		threat := "PsExec"
		if i%3 == 2 {
			threat = "NetCat"
		}
		at := testNow.Add(-time.Duration(i+1) * time.Minute)
		ds = append(ds, store.Detection{EventID: fmt.Sprintf("c-%02d", i), TenantName: "Contoso", Kind: store.KindDetection,
			Type: "Event::Endpoint::CorePuaDetection", Name: "PUA detected: '" + threat + "'", Severity: "medium", Threat: threat,
			Location: fmt.Sprintf("WS-%d", i%3+1), User: `CONTOSO\u` + strconv.Itoa(i%4), EndpointID: "ep-" + strconv.Itoa(i%3), EndpointType: "computer",
			When: at, CreatedAt: at, Raw: []byte(`{"id":"c-` + strconv.Itoa(i) + `"}`)})
	}
	// Contoso: read to the end an hour ago, its cursor 30 hours old.
	if _, err := st.CommitPage(ctx, store.PageCommit{TenantID: contoso, Cursor: cursorAt(testNow.Add(-30 * time.Hour)), Detections: ds,
		Route: toChannels("mail"), EndOfFeed: true, At: testNow.Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	raw := `{"id":"h-1","location":"WS-` + hostileScript + `","source":"` + strings.ReplaceAll(hostileImg, `"`, `\"`) + `","note":"</pre><script>alert(2)</script>","rlo":"` + hostileRLO + `"}`
	hd := store.Detection{EventID: "h-1" + hostileImg, TenantName: hostileScript, Kind: store.KindDetection, Type: "Event::Endpoint::CorePuaDetection",
		Name: hostileRLO, Severity: "high", Threat: hostileImg, Location: "WS-" + hostileScript, User: hostileCRLF, EndpointID: "ep-h",
		EndpointType: "server", Path: hostileCSV, When: testNow.Add(-2 * time.Hour), CreatedAt: testNow.Add(-2 * time.Hour), Raw: []byte(raw)}
	fu := hd
	fu.EventID, fu.Kind, fu.Type, fu.Name = "h-2", store.KindFollowUp, "Event::Endpoint::CorePuaCleanFailed", "clean-up failed "+hostileScript
	fu.CreatedAt, fu.When, fu.Raw = hd.CreatedAt.Add(time.Minute), hd.When.Add(time.Minute), []byte(`{"id":"h-2"}`)
	other := hd
	other.EventID, other.Threat, other.CreatedAt, other.Raw = "h-3", "Other", hd.CreatedAt.Add(2*time.Minute), []byte(`not json `+hostileScript)
	if _, err := st.CommitPage(ctx, store.PageCommit{TenantID: hostile, Cursor: cursorAt(testNow.Add(-3 * time.Hour)), Detections: []store.Detection{hd, fu, other},
		Route: toChannels("mail", "hook"), EndOfFeed: true, At: testNow.Add(-10 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	f.hostDet, f.follow = hd.EventID, fu.EventID
	if err := st.SetTenantError(ctx, hostile, "401 from the API: "+hostileScript, testNow.Add(-5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := st.AddLostWindow(ctx, store.LostWindow{TenantID: hostile, From: testNow.Add(-40 * time.Hour), To: testNow.Add(-30 * time.Hour),
		Reason: "down " + hostileImg, DetectedAt: testNow.Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	// The hostile tenant's rows: mail of h-1 sent after a failure, hook
	// of h-1 dead, mail of h-3 waiting for a retry; Contoso's mail sent.
	items, err := st.ClaimOutbox(ctx, store.Claim{Owner: "test", Now: testNow, Lease: time.Hour, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var sent []int64
	for _, it := range items {
		switch {
		case it.EventID == hd.EventID && it.Channel == "mail":
			mark(t, st.MarkRetry(ctx, "test", []int64{it.ID}, testNow.Add(-time.Minute), "421 try later "+hostileCRLF))
		case it.EventID == hd.EventID && it.Channel == "hook":
			mark(t, st.MarkDead(ctx, "test", []int64{it.ID}, "410 gone "+hostileScript, testNow.Add(-30*time.Minute)))
			f.deadRow = it.ID
		case it.EventID == "h-3" && it.Channel == "mail":
			mark(t, st.MarkRetry(ctx, "test", []int64{it.ID}, testNow.Add(time.Hour), "timeout "+hostileImg))
			f.retryRow = it.ID
		case it.TenantID == hostile:
			release(t, st, it.ID)
		default:
			sent = append(sent, it.ID)
		}
	}
	mark(t, st.MarkSent(ctx, "test", sent, testNow.Add(-50*time.Minute)))
	// h-1's mail: claimed again and sent.
	again, err := st.ClaimOutbox(ctx, store.Claim{Owner: "test", Now: testNow, Lease: time.Hour, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range again {
		if it.EventID == hd.EventID && it.Channel == "mail" {
			mark(t, st.MarkSent(ctx, "test", []int64{it.ID}, testNow.Add(-20*time.Second)))
		} else {
			release(t, st, it.ID)
		}
	}
	f.h = New(Options{Store: st, Dash: st, Now: func() time.Time { return testNow }, LagAlarm: 6 * time.Hour,
		CSRFToken: func(*http.Request) string { return "tok-" + hostileImg }, User: func(*http.Request) string { return f.user }, ExportCap: 1000})
	return f
}

// mark fails the test for an error of a store call.
func mark(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// release gives back the test's claim on row id.
func release(t *testing.T, st store.Store, id int64) {
	t.Helper()
	if _, err := st.ReleaseClaims(context.Background(), "test", []int64{id}); err != nil {
		t.Fatal(err)
	}
}

func toChannels(chs ...string) func(store.Detection) []store.Delivery {
	return func(store.Detection) []store.Delivery {
		var out []store.Delivery
		for _, c := range chs {
			out = append(out, store.Delivery{Channel: c})
		}
		return out
	}
}

func (f *fixture) query(t *testing.T, q store.DetectionQuery) store.DetectionPage {
	t.Helper()
	p, err := f.st.QueryDetections(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func rowIDs(rs []store.DetectionRow) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.EventID)
	}
	return out
}

// noActiveContent fails for any script element, inline style, event
// handler attribute or javascript: URL in the page: the CSP forbids
// them and endpoint values must never make one.
func noActiveContent(t *testing.T, name string, p page) {
	t.Helper()
	for _, n := range all(p.doc, func(*html.Node) bool { return true }) {
		if n.Data == "script" || n.Data == "style" || n.Data == "iframe" || n.Data == "object" || n.Data == "embed" ||
			(n.Data == "img" && !strings.Contains(n.Namespace, "svg")) {
			t.Errorf("%s: a <%s> element in the page", name, n.Data)
		}
		for _, a := range n.Attr {
			if a.Key == "style" || strings.HasPrefix(a.Key, "on") {
				t.Errorf("%s: <%s %s=%q>: inline style or handler", name, n.Data, a.Key, a.Val)
			}
			if (a.Key == "href" || a.Key == "src" || a.Key == "action") && strings.HasPrefix(strings.ToLower(strings.TrimSpace(a.Val)), "javascript:") {
				t.Errorf("%s: <%s %s=%q>", name, n.Data, a.Key, a.Val)
			}
		}
	}
}

func TestPagesAnswerWithContractIDs(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		path string
		ids  []string
	}{
		{"/", []string{"overview", "tenant-counts", "unacked", "dead", "hourly", "top-threats", "top-endpoints", "problems"}},
		{"/detections", []string{"filters", "total", "detections", "ack", "export-csv", "export-json"}},
		{"/detections/" + url.PathEscape(f.hostDet), []string{"detection", "raw", "attempts", "followups", "ack"}},
		{"/tenants", []string{"tenants"}},
		{"/outbox", []string{"outbox"}},
	} {
		p := get(t, f.h, c.path)
		if p.status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", c.path, p.status, p.body)
		}
		for _, id := range c.ids {
			p.byID(id)
		}
		noActiveContent(t, c.path, p)
		if links := all(p.doc, withAttr("rel", "stylesheet")); len(links) != 1 {
			t.Errorf("GET %s: %d style sheets, want the one of /assets", c.path, len(links))
		} else if href, _ := attr(links[0], "href"); href != "/assets/style.css" {
			t.Errorf("GET %s: style sheet %q", c.path, href)
		}
		// Every form that changes state carries the csrf token.
		for _, form := range all(p.doc, tag("form")) {
			if m, _ := attr(form, "method"); !strings.EqualFold(m, "post") {
				continue
			}
			in := all(form, withAttr("name", "csrf"))
			if len(in) != 1 {
				t.Errorf("GET %s: a POST form without one csrf input", c.path)
				continue
			}
			if v, _ := attr(in[0], "value"); v != "tok-"+hostileImg {
				t.Errorf("GET %s: csrf %q", c.path, v)
			}
		}
	}
	css := get(t, f.h, "/assets/style.css")
	if css.status != http.StatusOK || !strings.HasPrefix(css.header.Get("Content-Type"), "text/css") || !strings.Contains(css.body, "#raw") {
		t.Errorf("GET /assets/style.css: %d %q", css.status, css.header.Get("Content-Type"))
	}
	if p := get(t, f.h, "/nothing-here"); p.status != http.StatusNotFound {
		t.Errorf("GET /nothing-here: %d", p.status)
	}
}

func TestOverviewCountsAreTheStores(t *testing.T) {
	f := newFixture(t)
	ov, err := f.st.Overview(context.Background(), testNow)
	if err != nil {
		t.Fatal(err)
	}
	p := get(t, f.h, "/")
	for _, tc := range ov.Tenants {
		trs := all(p.byID("tenant-counts"), withAttr("data-tenant-id", tc.TenantID))
		if len(trs) != 1 {
			t.Fatalf("tenant %s: %d rows", tc.TenantID, len(trs))
		}
		day, week := all(trs[0], withClass("day")), all(trs[0], withClass("week"))
		if len(day) != 1 || len(week) != 1 || text(day[0]) != strconv.Itoa(tc.Day) || text(week[0]) != strconv.Itoa(tc.Week) {
			t.Errorf("tenant %s: day/week cells %v %v, want %d %d", tc.TenantID, day, week, tc.Day, tc.Week)
		}
	}
	if len(ov.Tenants) != 2 || ov.Unacked != 63 || ov.Dead != 1 {
		t.Errorf("store overview: %d tenants, %d unacked, %d dead; want 2, 63, 1", len(ov.Tenants), ov.Unacked, ov.Dead)
	}
	if got := text(p.byID("unacked")); got != strconv.Itoa(ov.Unacked) {
		t.Errorf("#unacked %q, want %d", got, ov.Unacked)
	}
	if got := text(p.byID("dead")); got != strconv.Itoa(ov.Dead) {
		t.Errorf("#dead %q, want %d", got, ov.Dead)
	}
	if got := len(all(p.byID("top-threats"), tag("li"))); got != len(ov.TopThreats) {
		t.Errorf("#top-threats: %d entries, want %d", got, len(ov.TopThreats))
	}
	if bars := all(p.byID("hourly"), tag("rect")); len(bars) == 0 {
		t.Error("svg#hourly has no bar")
	}
	problems := text(p.byID("problems"))
	for _, want := range []string{"failing", "401 from the API: " + hostileScript, "may be lost", "hook: 1 dead", "410 gone " + hostileScript} {
		if !strings.Contains(problems, want) {
			t.Errorf("#problems lacks %q: %s", want, problems)
		}
	}
}

func TestFiltersNarrow(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		query string
		want  int
	}{
		{"", 63},
		{"threat=netcat", 20},
		{"tenant=Contoso", 60},
		{"tenant=" + hostile, 3},
		{"host=WS-2&threat=PsExec", 20},
		{"q=" + url.QueryEscape("c-1"), 10},
		{"delivery=dead", 1},
		{"since=2026-03-10T11:30&until=" + url.QueryEscape("2026-03-10T11:50:00Z"), 20},
		{"acked=yes", 0},
	} {
		p := get(t, f.h, "/detections?"+c.query)
		if p.status != http.StatusOK {
			t.Fatalf("?%s: %d %s", c.query, p.status, p.body)
		}
		if got := text(p.byID("total")); got != strconv.Itoa(c.want) {
			t.Errorf("?%s: #total %s, want %d", c.query, got, c.want)
		}
		if rows := p.eventRows(); len(rows) != min(c.want, PageSize) {
			t.Errorf("?%s: %d rows, want %d", c.query, len(rows), min(c.want, PageSize))
		}
	}
	p := get(t, f.h, "/detections?threat=NetCat")
	for _, tr := range all(p.byID("detections"), func(n *html.Node) bool { _, ok := attr(n, "data-event-id"); return ok }) {
		if th := all(tr, withClass("threat")); len(th) != 1 || text(th[0]) != "NetCat" {
			t.Errorf("threat=NetCat lists a row of threat %q", text(th[0]))
		}
	}
	// The form shows the filter it was given.
	in := all(p.byID("filters"), withAttr("name", "threat"))
	if v, _ := attr(in[0], "value"); v != "NetCat" {
		t.Errorf("filter form threat %q", v)
	}
}

func TestSortAndPages(t *testing.T) {
	f := newFixture(t)
	// Default: newest first, 50 a page; page 2 holds the rest.
	all63 := f.query(t, store.DetectionQuery{Sort: "created_at", Desc: true})
	p1, p2 := get(t, f.h, "/detections"), get(t, f.h, "/detections?page=2")
	if got := append(p1.eventRows(), p2.eventRows()...); !slices.Equal(got, rowIDs(all63.Rows)) {
		t.Errorf("pages 1 and 2: %v\nwant %v", got, rowIDs(all63.Rows))
	}
	if p3 := get(t, f.h, "/detections?page=3"); len(p3.eventRows()) != 0 || p3.status != http.StatusOK {
		t.Errorf("page 3: %d, %d rows", p3.status, len(p3.eventRows()))
	}
	// Pagination links keep the filter.
	pf := get(t, f.h, "/detections?tenant=Contoso&sort=host")
	var next string
	for _, a := range all(pf.doc, withAttr("rel", "next")) {
		next, _ = attr(a, "href")
	}
	u, err := url.Parse(next)
	if err != nil || u.Path != "/detections" || u.Query().Get("page") != "2" || u.Query().Get("tenant") != "Contoso" || u.Query().Get("sort") != "host" {
		t.Errorf("next page link %q", next)
	}
	// Sorting by a column header: ascending, then descending.
	hdr := func(p page, col string) string {
		for _, a := range all(p.byID("detections"), tag("a")) {
			href, _ := attr(a, "href")
			if u, err := url.Parse(href); err == nil && u.Query().Get("sort") == col {
				return href
			}
		}
		t.Fatalf("no header link sorting by %s", col)
		return ""
	}
	asc := hdr(p1, "threat")
	pa := get(t, f.h, asc)
	want := f.query(t, store.DetectionQuery{Sort: "threat", Limit: PageSize})
	if !slices.Equal(pa.eventRows(), rowIDs(want.Rows)) {
		t.Errorf("%s: %v\nwant %v", asc, pa.eventRows(), rowIDs(want.Rows))
	}
	desc := hdr(pa, "threat")
	if u, _ := url.Parse(desc); u.Query().Get("desc") != "1" {
		t.Errorf("the header of the column sorted ascending links %q, want desc=1", desc)
	}
	pd := get(t, f.h, desc)
	want = f.query(t, store.DetectionQuery{Sort: "threat", Desc: true, Limit: PageSize})
	if !slices.Equal(pd.eventRows(), rowIDs(want.Rows)) {
		t.Errorf("%s: %v\nwant %v", desc, pd.eventRows(), rowIDs(want.Rows))
	}
	if pd.eventRows()[0] == pa.eventRows()[0] {
		t.Errorf("ascending and descending start with the same row %s", pa.eventRows()[0])
	}
}

func TestExportHoldsTheSelection(t *testing.T) {
	f := newFixture(t)
	sel := "threat=PsExec&sort=host&desc=1"
	want := f.query(t, store.DetectionQuery{Threat: "PsExec", Sort: "host", Desc: true})
	if want.Total != 40 {
		t.Fatalf("store selection: %d rows, want Contoso's 40 PsExec", want.Total)
	}
	p := get(t, f.h, "/detections?"+sel+"&page=2")
	csvHref, _ := attr(p.byID("export-csv"), "href")
	jsonHref, _ := attr(p.byID("export-json"), "href")
	for _, h := range []string{csvHref, jsonHref} {
		u, err := url.Parse(h)
		if err != nil || u.Query().Get("threat") != "PsExec" || u.Query().Get("sort") != "host" || u.Query().Get("desc") != "1" || u.Query().Has("page") {
			t.Errorf("export link %q does not carry the selection (without the page)", h)
		}
	}
	if !strings.HasPrefix(csvHref, "/detections.csv?") || !strings.HasPrefix(jsonHref, "/detections.json?") {
		t.Errorf("export links %q %q", csvHref, jsonHref)
	}
	if !strings.Contains(text(p.doc), "at most 1,000 rows") {
		t.Error("the page does not state the export cap")
	}

	c := get(t, f.h, csvHref)
	if c.status != http.StatusOK || !strings.HasPrefix(c.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("CSV: %d %s", c.status, c.header.Get("Content-Type"))
	}
	recs, err := csv.NewReader(strings.NewReader(c.body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range recs[1:] {
		ids = append(ids, r[0])
	}
	if !slices.Equal(ids, rowIDs(want.Rows)) || len(ids) != want.Total {
		t.Errorf("CSV rows %v\nwant %v", ids, rowIDs(want.Rows))
	}
	j := get(t, f.h, jsonHref)
	var objs []struct {
		ID       string `json:"id"`
		Threat   string `json:"threat"`
		Delivery string `json:"delivery"`
		Created  string `json:"created_at"`
	}
	if err := json.Unmarshal([]byte(j.body), &objs); err != nil {
		t.Fatalf("JSON: %v\n%s", err, j.body)
	}
	ids = nil
	for _, o := range objs {
		ids = append(ids, o.ID)
		if o.Threat != "PsExec" || o.Delivery == "" || !strings.HasSuffix(o.Created, "Z") || len(o.Created) != len("2026-03-10T11:59:00.000Z") {
			t.Errorf("JSON object %+v", o)
		}
	}
	if !slices.Equal(ids, rowIDs(want.Rows)) {
		t.Errorf("JSON rows %v\nwant %v", ids, rowIDs(want.Rows))
	}

	// The hostile tenant's CSV: formula cells neutralised, CR/LF quoted.
	c = get(t, f.h, "/detections.csv?tenant="+hostile+"&sort=created_at&desc=0")
	recs, err = csv.NewReader(strings.NewReader(c.body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 4 {
		t.Fatalf("hostile CSV: %d records", len(recs))
	}
	col := slices.Index(recs[0], "path")
	if got := recs[1][col]; got != "'"+hostileCSV {
		t.Errorf("CSV path %q, want the formula kept as text", got)
	}
	// A line break stays inside its quoted cell (encoding/csv reads
	// CR LF in a quoted field as LF).
	if got := recs[1][slices.Index(recs[0], "user")]; got != strings.ReplaceAll(hostileCRLF, "\r\n", "\n") || !strings.Contains(c.body, `,"`+hostileCRLF+`",`) {
		t.Errorf("CSV user %q", got)
	}
	// A cap smaller than the selection cuts the export and says so.
	small := New(Options{Store: f.st, Dash: f.st, Now: func() time.Time { return testNow }, ExportCap: 7})
	c = get(t, small, "/detections.csv")
	if recs, _ := csv.NewReader(strings.NewReader(c.body)).ReadAll(); len(recs) != 8 || c.header.Get("X-Total-Count") != "63" {
		t.Errorf("capped export: %d records, total %q", len(recs), c.header.Get("X-Total-Count"))
	}
	if !strings.Contains(text(get(t, small, "/detections").doc), "more than 7 rows") {
		t.Error("the page does not warn that the export is cut")
	}
}

func TestHostileValuesAreEscaped(t *testing.T) {
	f := newFixture(t)
	for _, path := range []string{"/", "/detections", "/detections?tenant=" + hostile, "/detections/" + url.PathEscape(f.hostDet),
		"/detections/h-3", "/tenants", "/outbox", "/detections?host=" + url.QueryEscape(hostileImg)} {
		p := get(t, f.h, path)
		if p.status != http.StatusOK {
			t.Fatalf("GET %s: %d", path, p.status)
		}
		for _, raw := range []string{hostileScript, "<img src=x", "alert(2)</script>"} {
			if strings.Contains(p.body, raw) {
				t.Errorf("GET %s: the page holds %q unescaped", path, raw)
			}
		}
		if strings.Contains(p.body, "\u202e") {
			t.Errorf("GET %s: a direction override reaches the page", path)
		}
		noActiveContent(t, path, p)
	}
	d := get(t, f.h, "/detections/"+url.PathEscape(f.hostDet))
	fields := text(d.byID("detection"))
	for _, want := range []string{"WS-" + hostileScript, hostileImg, "evil  Set-Cookie: pwned=1", hostileCSV, "invoicegpj.exe"} {
		if !strings.Contains(fields, want) {
			t.Errorf("#detection lacks %q as text: %s", want, fields)
		}
	}
	raw := text(d.byID("raw"))
	var ev map[string]string
	if err := json.Unmarshal([]byte(raw), &ev); err != nil {
		t.Fatalf("pre#raw is not the event's JSON: %v\n%s", err, raw)
	}
	if ev["note"] != "</pre><script>alert(2)</script>" || ev["rlo"] != hostileRLO || !strings.Contains(raw, `\u202e`) || !strings.Contains(raw, "\n  \"id\"") {
		t.Errorf("pre#raw: %s", raw)
	}
	if r := text(get(t, f.h, "/detections/h-3").byID("raw")); r != "not json "+hostileScript {
		t.Errorf("pre#raw of bytes that are not JSON: %q", r)
	}
	// Attempts per receiver with their results; the follow-up.
	var results []string
	for _, tr := range all(d.byID("attempts"), tag("tr")) {
		if rc, ok := attr(tr, "data-receiver"); ok {
			res := all(tr, withClass("result"))
			results = append(results, rc+":"+text(res[0]))
		}
	}
	if want := []string{"hook:dead", "mail:retry", "mail:sent"}; !slices.Equal(results, want) {
		t.Errorf("#attempts %v, want %v", results, want)
	}
	if !strings.Contains(text(d.byID("attempts")), "410 gone "+hostileScript) {
		t.Errorf("#attempts lacks the dead reason: %s", text(d.byID("attempts")))
	}
	if fu := all(d.byID("followups"), withAttr("data-event-id", f.follow)); len(fu) != 1 {
		t.Errorf("#followups lacks %s: %s", f.follow, text(d.byID("followups")))
	}
	// The row of a hostile event id links to its page, which answers.
	list := get(t, f.h, "/detections?tenant="+hostile)
	found := false
	for _, a := range all(list.byID("detections"), tag("a")) {
		if href, _ := attr(a, "href"); strings.HasPrefix(href, "/detections/h-1") {
			found = true
			if p := get(t, f.h, href); p.status != http.StatusOK || !strings.Contains(text(p.byID("detection")), f.hostDet) {
				t.Errorf("GET %s: %d", href, p.status)
			}
		}
	}
	if !found {
		t.Error("no link to the hostile detection's page")
	}
	if cb := all(list.byID("ack"), withAttr("value", f.hostDet)); len(cb) != 1 {
		t.Error("no checkbox with the hostile event id as its value")
	}
	// A hostile value in a bad filter is escaped on the error page.
	bad := get(t, f.h, "/detections?since="+url.QueryEscape(hostileScript))
	if bad.status != http.StatusBadRequest || strings.Contains(bad.body, hostileScript) || !strings.Contains(text(bad.doc), hostileScript) {
		t.Errorf("bad since with a script: %d %s", bad.status, bad.body)
	}
}

func TestTenantsPage(t *testing.T) {
	f := newFixture(t)
	p := get(t, f.h, "/tenants")
	row := func(id string) *html.Node {
		trs := all(p.byID("tenants"), withAttr("data-tenant-id", id))
		if len(trs) != 1 {
			t.Fatalf("tenant %s: %d rows", id, len(trs))
		}
		return trs[0]
	}
	cell := func(tr *html.Node, class string) string {
		c := all(tr, withClass(class))
		if len(c) == 0 {
			t.Fatalf("no .%s cell", class)
		}
		return strings.TrimSpace(text(c[0]))
	}
	c := row(contoso)
	if cell(c, "state") != "ok" || cell(c, "lag") != "1h 0m" || cell(c, "day") != "60" || !strings.Contains(cell(c, "cursor"), "past 24 hours") {
		t.Errorf("Contoso: state %q lag %q day %q cursor %q", cell(c, "state"), cell(c, "lag"), cell(c, "day"), cell(c, "cursor"))
	}
	if g := all(c, withClass("gauge")); len(g) != 1 || !hasClass(g[0], "over") {
		t.Error("Contoso's cursor (30 h) is not drawn over the 24-hour line")
	}
	h := row(hostile)
	if cell(h, "state") != "failing" || !strings.Contains(cell(h, "error"), "401 from the API: "+hostileScript) ||
		!strings.Contains(cell(h, "lost"), "down "+hostileImg) || cell(h, "lag") != "10h 0m" || !strings.Contains(cell(h, "cursor"), "21h 0m left") {
		t.Errorf("hostile tenant: state %q error %q lost %q lag %q cursor %q", cell(h, "state"), cell(h, "error"), cell(h, "lost"), cell(h, "lag"), cell(h, "cursor"))
	}
}

func TestAckAcknowledgesAndRedirects(t *testing.T) {
	f := newFixture(t)
	p := get(t, f.h, "/detections?acked=no&threat=NetCat")
	if len(all(p.byID("ack"), withAttr("name", "by"))) != 1 {
		t.Fatal("without an authenticated user the ack form has no by input")
	}
	back, _ := attr(all(p.byID("ack"), withAttr("name", "back"))[0], "value")
	ids := p.eventRows()[:3]
	res := post(t, f.h, "/ack", url.Values{"id": ids, "comment": {"known tool " + hostileScript}, "by": {"alice"}, "csrf": {"x"}, "back": {back}})
	if res.status != http.StatusSeeOther || res.header.Get("Location") != "/detections?acked=no&threat=NetCat" {
		t.Fatalf("POST /ack: %d Location %q %s", res.status, res.header.Get("Location"), res.body)
	}
	if got := text(get(t, f.h, "/detections?acked=no&threat=NetCat").byID("total")); got != "17" {
		t.Errorf("after acknowledging 3 of 20: #total %s, want 17", got)
	}
	acked := f.query(t, store.DetectionQuery{Acked: new(true)})
	if acked.Total != 3 {
		t.Fatalf("store: %d acknowledged", acked.Total)
	}
	for _, r := range acked.Rows {
		if r.Ack == nil || r.Ack.By != "alice" || r.Ack.Comment != "known tool "+hostileScript || !r.Ack.At.Equal(testNow) {
			t.Errorf("ack of %s: %+v", r.EventID, r.Ack)
		}
	}
	// An authenticated user is the acknowledger; the form asks no name.
	f.user = "bob"
	d := get(t, f.h, "/detections/"+url.PathEscape(f.hostDet))
	if len(all(d.byID("ack"), withAttr("name", "by"))) != 0 {
		t.Error("with an authenticated user the ack form still asks for by")
	}
	hid := all(d.byID("ack"), withAttr("name", "id"))
	if v, _ := attr(hid[0], "value"); len(hid) != 1 || v != f.hostDet {
		t.Fatalf("detail ack form id %q", v)
	}
	res = post(t, f.h, "/ack", url.Values{"id": {f.hostDet}, "by": {"mallory"}, "back": {"//evil.example/x"}})
	if res.status != http.StatusSeeOther || res.header.Get("Location") != "/detections" {
		t.Errorf("POST /ack with a foreign back: %d %q", res.status, res.header.Get("Location"))
	}
	dd, err := f.st.DetectionDetail(context.Background(), f.hostDet)
	if err != nil || dd.Ack == nil || dd.Ack.By != "bob" {
		t.Errorf("detail ack %+v %v, want by bob", dd.Ack, err)
	}
	if s := text(get(t, f.h, "/detections/"+url.PathEscape(f.hostDet)).byID("ack-state")); !strings.Contains(s, "bob") {
		t.Errorf("#ack-state %q", s)
	}
	f.user = ""
	for _, c := range []struct {
		form   url.Values
		status int
		field  string
	}{
		{url.Values{"by": {"alice"}}, http.StatusBadRequest, "id"},
		{url.Values{"id": {"c-00"}}, http.StatusBadRequest, "by"},
		{url.Values{"id": {"c-00"}, "by": {"a"}, "comment": {strings.Repeat("x", 2001)}}, http.StatusBadRequest, "comment"},
		{url.Values{"id": {"c-01", "no-such-id"}, "by": {"a"}}, http.StatusNotFound, "no-such-id"},
	} {
		res := post(t, f.h, "/ack", c.form)
		if res.status != c.status || !strings.Contains(text(res.byID("message")), c.field) {
			t.Errorf("POST /ack %v: %d %q, want %d naming %s", c.form, res.status, text(res.byID("message")), c.status, c.field)
		}
	}
	if dd, _ := f.st.DetectionDetail(context.Background(), "c-01"); dd.Ack != nil {
		t.Error("an acknowledgement with an unknown id wrote the known one")
	}
}

func TestRetryRequeues(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	p := get(t, f.h, "/outbox")
	states := map[string]string{}
	for _, tr := range all(p.byID("outbox"), tag("tr")) {
		if id, ok := attr(tr, "data-outbox-id"); ok {
			states[id], _ = attr(tr, "data-state")
			if len(all(tr, withClass("retry"))) != 1 {
				t.Errorf("row %s has no form.retry", id)
			}
		}
	}
	if states[strconv.FormatInt(f.deadRow, 10)] != "dead" || states[strconv.FormatInt(f.retryRow, 10)] != "retrying" {
		t.Errorf("outbox states %v", states)
	}
	if !strings.Contains(text(p.byID("outbox")), "410 gone "+hostileScript) {
		t.Error("#outbox lacks the dead row's reason")
	}
	res := post(t, f.h, "/outbox/retry", url.Values{"id": {strconv.FormatInt(f.deadRow, 10)}, "csrf": {"x"}, "back": {"/outbox?state=dead"}})
	if res.status != http.StatusSeeOther || res.header.Get("Location") != "/outbox?state=dead" {
		t.Fatalf("POST /outbox/retry: %d %q %s", res.status, res.header.Get("Location"), res.body)
	}
	dead, err := f.st.Outbox(ctx, store.OutboxFilter{States: []string{store.StateDead}})
	if err != nil || len(dead) != 0 {
		t.Errorf("dead rows after the retry: %d %v", len(dead), err)
	}
	// By receiver: the mail rows waiting for a retry become due now.
	res = post(t, f.h, "/outbox/retry", url.Values{"receiver": {"mail"}})
	if res.status != http.StatusSeeOther || res.header.Get("Location") != "/outbox" {
		t.Fatalf("POST /outbox/retry receiver: %d %q", res.status, res.header.Get("Location"))
	}
	rows, err := f.st.Outbox(ctx, store.OutboxFilter{States: []string{store.StatePending}, Channel: "mail"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.ID == f.retryRow && (r.Attempts != 0 || !r.NextAt.Equal(testNow)) {
			t.Errorf("retried row: attempts %d next %s", r.Attempts, r.NextAt)
		}
	}
	for _, form := range []url.Values{{}, {"id": {"1"}, "receiver": {"mail"}}, {"id": {"x1"}}} {
		if res := post(t, f.h, "/outbox/retry", form); res.status != http.StatusBadRequest {
			t.Errorf("POST /outbox/retry %v: %d", form, res.status)
		}
	}
	if res := post(t, f.h, "/outbox/retry", url.Values{"id": {"999999"}}); res.status != http.StatusNotFound || !strings.Contains(res.body, "999999") {
		t.Errorf("retry of an unknown row: %d", res.status)
	}
	if res := get(t, f.h, "/outbox?state=bogus"); res.status != http.StatusBadRequest || !strings.Contains(text(res.byID("message")), "state") {
		t.Errorf("/outbox?state=bogus: %d", res.status)
	}
}

func TestUnknownDetection404(t *testing.T) {
	f := newFixture(t)
	p := get(t, f.h, "/detections/"+url.PathEscape("no-such-"+hostileScript))
	if p.status != http.StatusNotFound || !strings.Contains(text(p.byID("message")), "no-such-"+hostileScript) || strings.Contains(p.body, hostileScript) {
		t.Errorf("unknown detection: %d %s", p.status, p.body)
	}
}

func TestBadFilterNamesTheField(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct{ query, field, value string }{
		{"since=yesterday", "since", "yesterday"},
		{"until=2026-13-01", "until", "2026-13-01"},
		{"page=0", "page", "0"},
		{"page=two", "page", "two"},
		{"sort=colour", "sort", "colour"},
		{"desc=maybe", "desc", "maybe"},
		{"delivery=lost", "delivery", "lost"},
		{"acked=perhaps", "acked", "perhaps"},
		{"since=2026-03-10T12:00&until=2026-03-10T11:00", "until", "2026-03-10T11:00"},
	} {
		for _, path := range []string{"/detections?", "/detections.csv?", "/detections.json?"} {
			p := get(t, f.h, path+c.query)
			msg := text(p.byID("message"))
			if p.status != http.StatusBadRequest || !strings.HasPrefix(msg, c.field) || !strings.Contains(msg, c.value) {
				t.Errorf("%s%s: %d %q, want 400 naming %s and %s", path, c.query, p.status, msg, c.field, c.value)
			}
		}
	}
}

func TestPrettyRaw(t *testing.T) {
	got, ok := prettyRaw([]byte(`{"a":"x` + "\u202e" + `\u001by","b":[1,2]}`))
	if !ok || got != "{\n  \"a\": \"x\\u202e\\u001by\",\n  \"b\": [\n    1,\n    2\n  ]\n}" {
		t.Errorf("prettyRaw JSON: %v %q", ok, got)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(got), &v); err != nil || v["a"] != "x\u202e\x1by" {
		t.Errorf("the escaped text is not the same JSON: %v %q", err, v["a"])
	}
	if got, ok := prettyRaw([]byte("a\r\nb\U000E0041")); ok || got != `a\u000d`+"\n"+`b\udb40\udc41` {
		t.Errorf("prettyRaw bytes: %v %q", ok, got)
	}
}

func TestLocalBack(t *testing.T) {
	for in, want := range map[string]string{
		"":                       "/d",
		"/detections?acked=no":   "/detections?acked=no",
		"//evil.example/":        "/d",
		"/\\evil.example":        "/d",
		"https://evil.example/":  "/d",
		"detections":             "/d",
		"/x\r\nSet-Cookie: a=1":  "/d",
		"/outbox?state=dead#top": "/outbox?state=dead",
	} {
		if got := localBack(in, "/d"); got != want {
			t.Errorf("localBack(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPageNumbers(t *testing.T) {
	for _, c := range []struct {
		cur, count int
		want       []int
	}{
		{1, 1, []int{1}},
		{1, 3, []int{1, 2, 3}},
		{10, 20, []int{1, 0, 7, 8, 9, 10, 11, 12, 13, 0, 20}},
		{1, 20, []int{1, 2, 3, 4, 0, 20}},
	} {
		if got := pageNumbers(c.cur, c.count); !slices.Equal(got, c.want) {
			t.Errorf("pageNumbers(%d, %d) = %v, want %v", c.cur, c.count, got, c.want)
		}
	}
}
