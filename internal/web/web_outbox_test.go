package web

import (
	"context"
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

// TestReadyzNamesUndelivered: after a good sweep, /readyz answers 503
// while a receiver has dead rows, rows unsent after a failed attempt or
// rows overdue, naming each receiver, its count and reason. With every
// row sent it is ready.
func TestReadyzNamesUndelivered(t *testing.T) {
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now().UTC()
	// One detection to four receivers, committed 30 minutes ago.
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
	// hook's row stays unclaimed: overdue. email dies, slack waits for a
	// retry, jsonl is sent.
	if _, err := st.ClaimOutbox(ctx, store.Claim{Owner: "w", Now: at, Lease: time.Minute, Limit: 10}); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkDead(ctx, "w", []int64{id["email"]}, "535 5.7.8 Authentication\nfailed", at); err != nil {
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
	status := NewStatus(at)
	status.Sweep(poll.Report{Tenants: []poll.TenantResult{{TenantID: "t1"}}}, nil)
	srv := httptest.NewServer(Handler(st, status, nil))
	defer srv.Close()

	code, body := get(t, srv, "/readyz")
	if code != 503 {
		t.Fatalf("/readyz with undelivered rows = %d %q, want 503", code, body)
	}
	for _, want := range []string{
		"receiver email: 1 notification(s) dead: 535 5.7.8 Authentication failed",
		"receiver slack: 1 notification(s) unsent after a failed attempt: HTTP 503",
		"receiver hook: 1 notification(s) overdue (due since " + at.Truncate(time.Millisecond).Format(time.RFC3339) + ")",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/readyz lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "jsonl") {
		t.Errorf("/readyz names jsonl, whose row was sent:\n%s", body)
	}

	// Everything sent: ready.
	if _, err := st.Requeue(ctx, []int64{id["email"], id["slack"]}, at); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ClaimOutbox(ctx, store.Claim{Owner: "w", Now: now, Lease: time.Minute, Limit: 10}); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkSent(ctx, "w", []int64{id["email"], id["slack"], id["hook"]}, now); err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, srv, "/readyz"); code != 200 || body != "ready\n" {
		t.Errorf("/readyz with every row sent = %d %q, want 200 ready", code, body)
	}
}
