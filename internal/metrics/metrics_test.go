package metrics

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"

	"github.com/puawatch/puawatch/internal/central"
	"github.com/puawatch/puawatch/internal/fake/sim"
	"github.com/puawatch/puawatch/internal/poll"
	"github.com/puawatch/puawatch/internal/store"
	"github.com/puawatch/puawatch/internal/store/sqlstore"
	"github.com/puawatch/puawatch/internal/store/storetest"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func openStore(t *testing.T) *sqlstore.Store {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// samples gathers g into name{label="value",...} -> value, labels in
// name order; a histogram gives its _count and _sum.
func samples(t *testing.T, g prometheus.Gatherer) map[string]float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	return flatten(mfs)
}

func flatten(mfs []*dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+"="+`"`+l.GetValue()+`"`)
			}
			sort.Strings(ls)
			key := mf.GetName()
			if len(ls) > 0 {
				key += "{" + strings.Join(ls, ",") + "}"
			}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				out[key] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[key] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				name, labels, _ := strings.Cut(key, "{")
				if labels != "" {
					labels = "{" + labels
				}
				out[name+"_count"+labels] = float64(m.GetHistogram().GetSampleCount())
				out[name+"_sum"+labels] = m.GetHistogram().GetSampleSum()
			default:
				out[key] = m.GetUntyped().GetValue()
			}
		}
	}
	return out
}

// outboxStore holds, committed 30 minutes before now, one detection for
// email (dead), hook (pending, never tried), jsonl (sent) and slack
// (pending after a failed attempt, due in an hour).
func outboxStore(t *testing.T) *sqlstore.Store {
	t.Helper()
	ctx := context.Background()
	st := openStore(t)
	at := now.Add(-30 * time.Minute)
	if _, err := st.CommitPage(ctx, store.PageCommit{TenantID: "t1", At: at, Route: storetest.ToChannels([]string{"email", "hook", "jsonl", "slack"}),
		Detections: []store.Detection{{EventID: "e1", TenantID: "t1"}}}); err != nil {
		t.Fatal(err)
	}
	rows, err := st.Outbox(ctx, store.OutboxFilter{})
	if err != nil {
		t.Fatal(err)
	}
	id := map[string]int64{}
	for _, r := range rows {
		id[r.Channel] = r.ID
	}
	if _, err := st.ClaimOutbox(ctx, store.Claim{Owner: "w", Now: at, Lease: time.Minute, Limit: 10}); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkDead(ctx, "w", []int64{id["email"]}, "535 authentication failed", at); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkRetry(ctx, "w", []int64{id["slack"]}, now.Add(time.Hour), "HTTP 503"); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkSent(ctx, "w", []int64{id["jsonl"]}, at); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ReleaseClaims(ctx, "w", nil); err != nil {
		t.Fatal(err)
	}
	return st
}

// The outbox collector reports, from the store's counts, the rows of each
// receiver in each state (0 where it has none, configured receivers
// without rows included), the rows waiting for a retry, and when the
// first pending row is due.
func TestOutboxCollector(t *testing.T) {
	st := outboxStore(t)
	reg := prometheus.NewRegistry()
	reg.MustRegister(newOutboxCollector(st, time.Second, []string{"email", "hook", "jsonl", "slack", "teams"}))
	got := samples(t, reg)
	want := map[string]float64{
		`puawatch_outbox_rows{receiver="email",state="pending"}`: 0, `puawatch_outbox_rows{receiver="email",state="sent"}`: 0,
		`puawatch_outbox_rows{receiver="email",state="dead"}`:   1,
		`puawatch_outbox_rows{receiver="hook",state="pending"}`: 1, `puawatch_outbox_rows{receiver="hook",state="dead"}`: 0,
		`puawatch_outbox_rows{receiver="jsonl",state="sent"}`: 1, `puawatch_outbox_rows{receiver="jsonl",state="pending"}`: 0,
		`puawatch_outbox_rows{receiver="slack",state="pending"}`: 1, `puawatch_outbox_rows{receiver="slack",state="sent"}`: 0,
		`puawatch_outbox_rows{receiver="teams",state="pending"}`: 0, `puawatch_outbox_rows{receiver="teams",state="sent"}`: 0,
		`puawatch_outbox_rows{receiver="teams",state="dead"}`: 0,
		`puawatch_outbox_retrying_rows{receiver="slack"}`:     1, `puawatch_outbox_retrying_rows{receiver="hook"}`: 0,
		`puawatch_outbox_retrying_rows{receiver="email"}`:              0,
		`puawatch_outbox_next_due_timestamp_seconds{receiver="hook"}`:  float64(now.Add(-30 * time.Minute).Unix()),
		`puawatch_outbox_next_due_timestamp_seconds{receiver="slack"}`: float64(now.Add(time.Hour).Unix()),
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	for _, absent := range []string{`puawatch_outbox_next_due_timestamp_seconds{receiver="email"}`, `puawatch_outbox_next_due_timestamp_seconds{receiver="teams"}`} {
		if _, ok := got[absent]; ok {
			t.Errorf("%s present: the receiver has no pending row", absent)
		}
	}

	// Every figure is the store's own count.
	counts, err := st.OutboxCounts(context.Background(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range counts {
		if k := `puawatch_outbox_rows{receiver="` + c.Channel + `",state="` + c.State + `"}`; got[k] != float64(c.Rows) {
			t.Errorf("%s = %v, the store counts %d", k, got[k], c.Rows)
		}
	}
}

// A store that fails fails the outbox metrics alone: the handler serves
// the rest, and the error is logged.
func TestOutboxCollectorStoreDown(t *testing.T) {
	st := outboxStore(t)
	reg := NewRegistry()
	m, err := New(reg, Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.CollectStore(st); err != nil {
		t.Fatal(err)
	}
	m.Notify().Send("email", nil, time.Millisecond)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	srv := httptest.NewServer(Handler(reg, slogTo(&logs)))
	defer srv.Close()
	body := get(t, srv.URL)
	if strings.Contains(body, "puawatch_outbox_rows") || strings.Contains(body, "puawatch_tenant_lag_seconds") {
		t.Errorf("outbox or tenant metrics served with the store closed:\n%s", body)
	}
	for _, want := range []string{`puawatch_notifications_sent_total{receiver="email"} 1`, "go_goroutines", "process_"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q with the store down:\n%s", want, body)
		}
	}
	if !strings.Contains(logs.String(), "metrics") || !strings.Contains(logs.String(), "closed") {
		t.Errorf("the store's error is not logged: %q", logs.String())
	}
}

// The tenant collector reports each listed tenant's lag and cursor age
// (from the store's state, at the clock's now) and how many lost windows
// it has; removed tenants are left out.
func TestTenantCollector(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	seen := now.Add(-2 * time.Hour)
	if err := st.UpsertTenants(ctx, []store.Tenant{{ID: "t1", Name: "Acme \"Ltd\""}, {ID: "t2", Name: "Beta"}, {ID: "t3", Name: "Gone"}}, seen); err != nil {
		t.Fatal(err)
	}
	// t1 read to the end 10 minutes ago, its cursor at 25 minutes ago.
	if _, err := st.CommitPage(ctx, store.PageCommit{TenantID: "t1", At: now.Add(-10 * time.Minute), Cursor: sim.CursorAt(now.Add(-25 * time.Minute)), EndOfFeed: true}); err != nil {
		t.Fatal(err)
	}
	for _, from := range []time.Time{now.Add(-30 * time.Hour), now.Add(-27 * time.Hour)} {
		if err := st.AddLostWindow(ctx, store.LostWindow{TenantID: "t1", From: from, To: from.Add(time.Hour), Reason: "down", DetectedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	// t3 leaves the list.
	if err := st.UpsertTenants(ctx, []store.Tenant{{ID: "t1", Name: "Acme \"Ltd\""}, {ID: "t2", Name: "Beta"}}, seen); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(newTenantCollector(st, time.Second, func() time.Time { return now }))
	got := samples(t, reg)
	want := map[string]float64{
		`puawatch_tenant_lag_seconds{tenant_id="t1",tenant_name="Acme "Ltd""}`:        600,
		`puawatch_tenant_cursor_age_seconds{tenant_id="t1",tenant_name="Acme "Ltd""}`: 1500,
		`puawatch_tenant_lost_windows{tenant_id="t1",tenant_name="Acme "Ltd""}`:       2,
		`puawatch_tenant_lag_seconds{tenant_id="t2",tenant_name="Beta"}`:              7200, // never read: since first seen
		`puawatch_tenant_lost_windows{tenant_id="t2",tenant_name="Beta"}`:             0,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v\nall: %v", k, g, ok, v, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d series, want %d (no cursor age for t2, nothing of removed t3): %v", len(got), len(want), got)
	}
}

// instrumented is a full registry, its store holding outbox rows, a
// tenant with a cursor and a lost window, and every instrument driven
// once.
func instrumented(t *testing.T) *prometheus.Registry {
	t.Helper()
	ctx := context.Background()
	st := outboxStore(t)
	if err := st.UpsertTenants(ctx, []store.Tenant{{ID: "t1", Name: "Acme"}}, now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CommitPage(ctx, store.PageCommit{TenantID: "t1", At: now, Cursor: sim.CursorAt(now.Add(-time.Minute)), EndOfFeed: true}); err != nil {
		t.Fatal(err)
	}
	if err := st.AddLostWindow(ctx, store.LostWindow{TenantID: "t1", From: now.Add(-30 * time.Hour), To: now.Add(-24 * time.Hour), DetectedAt: now}); err != nil {
		t.Fatal(err)
	}
	reg := NewRegistry()
	m, err := New(reg, Options{Now: func() time.Time { return now }, Receivers: []string{"email"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.CollectStore(st); err != nil {
		t.Fatal(err)
	}
	c := m.Central()
	c.Request("events", http.StatusTooManyRequests, time.Second)
	c.Request("token", 0, time.Second)
	c.Retry("events")
	c.Token(true)
	p := m.Poll()
	tenant := central.Tenant{ID: "t1", Name: "Acme"}
	p.Page(tenant, 10, 2, nil)
	p.Page(tenant, 0, 0, errors.New("HTTP 503"))
	p.Read(poll.TenantResult{TenantID: "t1", TenantName: "Acme", Err: errors.New("HTTP 503")})
	n := m.Notify()
	n.Send("email", nil, 100*time.Millisecond)
	n.Send("email", errors.New("421"), time.Second)
	n.Dead("email", 1)
	return reg
}

// Every metric family is present once each instrument has been driven,
// and promlint finds nothing to say about their names, types and help.
func TestPromlint(t *testing.T) {
	reg := instrumented(t)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	for _, want := range []string{
		"puawatch_tenant_polls_total", "puawatch_tenant_pages_total", "puawatch_tenant_events_read_total", "puawatch_detections_stored_total",
		"puawatch_tenant_lag_seconds", "puawatch_tenant_cursor_age_seconds", "puawatch_tenant_lost_windows",
		"puawatch_central_requests_total", "puawatch_central_request_duration_seconds", "puawatch_central_rate_limited_total",
		"puawatch_central_retries_total", "puawatch_central_token_renewals_total",
		"puawatch_notifications_sent_total", "puawatch_notifications_failed_total", "puawatch_notification_send_duration_seconds",
		"puawatch_outbox_dead_letters_total", "puawatch_outbox_rows", "puawatch_outbox_retrying_rows", "puawatch_outbox_next_due_timestamp_seconds",
		"go_goroutines", "process_cpu_seconds_total",
	} {
		if !slices.Contains(names, want) {
			t.Errorf("family %s missing from %v", want, names)
		}
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	// The same over HTTP, in the text format a scraper reads.
	srv := httptest.NewServer(Handler(reg, nil))
	defer srv.Close()
	problems, err = promlint.New(strings.NewReader(get(t, srv.URL))).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint over HTTP: %s: %s", p.Metric, p.Text)
	}
}

// What the parts tell lands in the series of their labels.
func TestObserversCount(t *testing.T) {
	got := samples(t, instrumented(t))
	for k, v := range map[string]float64{
		`puawatch_central_requests_total{code="429",endpoint="events"}`:                   1,
		`puawatch_central_requests_total{code="none",endpoint="token"}`:                   1,
		`puawatch_central_rate_limited_total{endpoint="events"}`:                          1,
		`puawatch_central_rate_limited_total{endpoint="whoami"}`:                          0,
		`puawatch_central_retries_total{endpoint="events"}`:                               1,
		`puawatch_central_token_renewals_total{outcome="ok"}`:                             1,
		`puawatch_central_token_renewals_total{outcome="failed"}`:                         0,
		`puawatch_central_request_duration_seconds_count{endpoint="events"}`:              1,
		`puawatch_tenant_pages_total{outcome="ok",tenant_id="t1",tenant_name="Acme"}`:     1,
		`puawatch_tenant_pages_total{outcome="failed",tenant_id="t1",tenant_name="Acme"}`: 1,
		`puawatch_tenant_events_read_total{tenant_id="t1",tenant_name="Acme"}`:            10,
		`puawatch_detections_stored_total{tenant_id="t1",tenant_name="Acme"}`:             2,
		`puawatch_tenant_polls_total{outcome="failed",tenant_id="t1",tenant_name="Acme"}`: 1,
		`puawatch_notifications_sent_total{receiver="email"}`:                             1,
		`puawatch_notifications_failed_total{receiver="email"}`:                           1,
		`puawatch_outbox_dead_letters_total{receiver="email"}`:                            1,
		`puawatch_notification_send_duration_seconds_count{receiver="email"}`:             2,
		`puawatch_notification_send_duration_seconds_sum{receiver="email"}`:               1.1,
	} {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
}

// Label values from the API are plain text: a tenant name with a newline
// and invalid UTF-8 is served, cleaned, and the exposition still parses.
func TestHostileLabelValues(t *testing.T) {
	reg := NewRegistry()
	m, err := New(reg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	m.Poll().Read(poll.TenantResult{TenantID: "t\xff1", TenantName: "Evil\n# HELP x\x1b[31m\"}"})
	srv := httptest.NewServer(Handler(reg, nil))
	defer srv.Close()
	body := get(t, srv.URL)
	if !strings.Contains(body, `puawatch_tenant_polls_total{outcome="ok",tenant_id="t`+"\uFFFD"+`1",tenant_name="Evil # HELP x [31m\"}"} 1`) {
		t.Errorf("the hostile tenant's series is not served cleaned:\n%s", body)
	}
	if _, err := promlint.New(strings.NewReader(body)).Lint(); err != nil {
		t.Errorf("the exposition does not parse: %v", err)
	}
}

func TestNewAndCollectStoreCheck(t *testing.T) {
	if _, err := New(nil, Options{}); err == nil {
		t.Error("New(nil): no error")
	}
	reg := prometheus.NewRegistry()
	if _, err := New(reg, Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(reg, Options{}); err == nil || !strings.Contains(err.Error(), "register") {
		t.Errorf("New twice on one registry: %v, want a registration error", err)
	}
	m, err := New(prometheus.NewRegistry(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.CollectStore(nil); err == nil {
		t.Error("CollectStore(nil): no error")
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v\n%s", url, resp.StatusCode, err, b)
	}
	return string(b)
}

func slogTo(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }
