package web

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/poll"
	"github.com/puawatch/puawatch/internal/store"
	"github.com/puawatch/puawatch/internal/store/sqlstore"
	"github.com/puawatch/puawatch/internal/store/storetest"
)

func get(t *testing.T, srv *httptest.Server, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestEndpoints(t *testing.T) {
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := st.CommitPage(ctx, store.PageCommit{TenantID: "t1", At: at, Route: storetest.ToChannels([]string{"email"}),
		Detections: []store.Detection{{EventID: "e1", TenantID: "t1"}, {EventID: "e2", TenantID: "t1"}}}); err != nil {
		t.Fatal(err)
	}
	rows, _ := st.Outbox(ctx, store.OutboxFilter{})
	if _, err := st.ClaimOutbox(ctx, store.Claim{Owner: "test", Now: at, Lease: time.Minute, Limit: 2}); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkDead(ctx, "test", []int64{rows[0].ID}, "401", at); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ReleaseClaims(ctx, "test", nil); err != nil {
		t.Fatal(err)
	}
	status := NewStatus(at)
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "the metrics handler\n") })
	srv := httptest.NewServer(Handler(st, status, metrics))
	defer srv.Close()

	if code, body := get(t, srv, "/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	if code, body := get(t, srv, "/readyz"); code != 503 || !strings.Contains(body, "no sweep yet") {
		t.Errorf("/readyz before a sweep = %d %q", code, body)
	}
	status.Sweep(poll.Report{Tenants: []poll.TenantResult{
		{TenantID: "t1", New: 2, Lag: time.Minute},
		{TenantID: `t"2`, Err: errors.New("HTTP 403"), Lag: 7 * time.Hour, Lagging: true},
	}}, nil)
	if code, body := get(t, srv, "/readyz"); code != 503 || !strings.Contains(body, "1 tenant(s) failed in their last read") {
		t.Errorf("/readyz with a failed tenant = %d %q", code, body)
	}
	// /metrics is the handler given (package metrics tests what it serves).
	if code, body := get(t, srv, "/metrics"); code != 200 || body != "the metrics handler\n" {
		t.Errorf("/metrics = %d %q, want the metrics handler's answer", code, body)
	}
	status.Sweep(poll.Report{Tenants: []poll.TenantResult{{TenantID: "t1"}}}, nil)
	// The store holds a dead row (TestReadyzNamesUndelivered has more).
	if code, body := get(t, srv, "/readyz"); code != 503 || !strings.Contains(body, "receiver email: 1 notification(s) dead: 401") {
		t.Errorf("/readyz after a good sweep, a row dead = %d %q", code, body)
	}
	status.Sweep(poll.Report{}, errors.New("list tenants:\nHTTP 401"))
	if code, body := get(t, srv, "/readyz"); code != 503 || !strings.Contains(body, "tenant list failed: list tenants: HTTP 401") {
		t.Errorf("/readyz after a failed sweep = %d %q", code, body)
	}
}

// The daemon's status keeps the latest result of each tenant, read on its
// own schedule: a tenant's new read replaces its last, the others stay;
// /readyz waits for a first round and the tenant list; tenants the list
// no longer has are dropped.
func TestStatusPerTenant(t *testing.T) {
	st, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	status := NewStatus(time.Now())
	srv := httptest.NewServer(Handler(st, status, nil))
	defer srv.Close()

	status.List([]string{"a", "b"}, nil)
	status.Tenant(poll.TenantResult{TenantID: "a", New: 3})
	if code, body := get(t, srv, "/readyz"); code != 503 || !strings.Contains(body, "no sweep yet") {
		t.Errorf("/readyz before every tenant was read = %d %q", code, body)
	}
	status.Tenant(poll.TenantResult{TenantID: "b", Err: errors.New("HTTP 403"), Lag: 7 * time.Hour, Lagging: true})
	status.Round()
	if code, body := get(t, srv, "/readyz"); code != 503 || !strings.Contains(body, "1 tenant(s) failed") {
		t.Errorf("/readyz with b failing = %d %q", code, body)
	}
	// a is read again (b's read hangs meanwhile): b's result stays.
	status.Tenant(poll.TenantResult{TenantID: "a", New: 1, Lag: time.Second})
	if code, body := get(t, srv, "/readyz"); code != 503 || !strings.Contains(body, "1 tenant(s) failed") {
		t.Errorf("/readyz with b failing, a read again = %d %q", code, body)
	}
	// Without a metrics handler there is no /metrics.
	if code, _ := get(t, srv, "/metrics"); code != http.StatusNotFound {
		t.Errorf("/metrics without a metrics handler = %d, want 404", code)
	}
	status.Tenant(poll.TenantResult{TenantID: "b"})
	if code, body := get(t, srv, "/readyz"); code != 200 {
		t.Errorf("/readyz after b was read = %d %q", code, body)
	}
	// The list fails: not ready; then it drops b.
	status.List(nil, errors.New("HTTP 503"))
	if code, body := get(t, srv, "/readyz"); code != 503 || !strings.Contains(body, "tenant list failed: HTTP 503") {
		t.Errorf("/readyz with the list failing = %d %q", code, body)
	}
	status.Tenant(poll.TenantResult{TenantID: "b", Err: errors.New("HTTP 403")})
	status.List([]string{"a"}, nil)
	if code, _ := get(t, srv, "/readyz"); code != 200 {
		t.Errorf("/readyz after the failing tenant left the list = %d", code)
	}
}
