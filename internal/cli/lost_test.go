package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/fake/sim"
	"github.com/puawatch/puawatch/internal/fake/smtpcapture"
	"github.com/puawatch/puawatch/internal/store"
	"github.com/puawatch/puawatch/internal/store/sqlstore"
)

// TestRunOnceReportsLostEvents: two tenants last read to the end 30 and
// 27 hours ago, their cursors as old (the watcher was down). run --once
// finds, before reading them, that the API's 24 hours have run out on 6
// and 3 of those hours: it names each tenant and its window on stderr,
// exits 1, mails one alarm listing both windows and records them in the
// store, and still reads and notifies everything the API holds.
func TestRunOnceReportsLostEvents(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 3)
	want := w.wantDetections(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	down := map[string]time.Time{ // tenant id -> last read
		w.sim.Tenants()[0].ID: now.Add(-30 * time.Hour),
		w.sim.Tenants()[1].ID: now.Add(-27 * time.Hour),
	}
	st, err := sqlstore.Open(ctx, w.db)
	if err != nil {
		t.Fatal(err)
	}
	for id, at := range down {
		if _, err := st.CommitPage(ctx, store.PageCommit{TenantID: id, Cursor: sim.CursorAt(at), EndOfFeed: true, At: at}); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	before := time.Now()
	r := runCLI(t, w.env(), "", "run", "--once", "--credentials", w.creds)
	after := time.Now()
	if r.code != ExitFailure {
		t.Fatalf("run --once with tenants last read 30h and 27h ago: want exit 1\n%s", r)
	}

	st, err = sqlstore.Open(ctx, w.db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ws, err := st.LostWindows(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != len(down) {
		t.Fatalf("stored lost windows %+v, want one for each of %d tenants", ws, len(down))
	}
	var alarms, notices []smtpcapture.Message
	for _, m := range w.smtp.Messages() {
		if strings.HasPrefix(m.Subject, "[puawatch] ALARM:") {
			alarms = append(alarms, m)
		} else {
			notices = append(notices, m)
		}
	}
	if len(alarms) != 1 {
		t.Fatalf("%d alarm mails, want 1 listing every window", len(alarms))
	}
	for _, lw := range ws {
		var ti sim.TenantInfo
		for _, x := range w.sim.Tenants() {
			if x.ID == lw.TenantID {
				ti = x
			}
		}
		if !lw.From.Equal(down[lw.TenantID]) || lw.To.Before(before.Add(-24*time.Hour-2*time.Second)) || lw.To.After(after.Add(-24*time.Hour)) {
			t.Errorf("stored lost window %+v; want tenant %s's from %v to about 24 hours before the run", lw, ti.Name, down[lw.TenantID])
		}
		from, to := lw.From.Format(time.RFC3339), lw.To.Format(time.RFC3339)
		var line string
		for _, l := range strings.Split(r.stderr, "\n") {
			if strings.HasPrefix(l, "puawatch: tenant ") && strings.Contains(l, ti.Name) && strings.Contains(l, ti.ID) && strings.Contains(l, "lost") {
				line = l
			}
		}
		if line == "" || !strings.Contains(line, from) || !strings.Contains(line, to) {
			t.Errorf("stderr has no line naming tenant %s (%s) and the lost window %s to %s (line %q):\n%s", ti.Name, ti.ID, from, to, line, r.stderr)
		}
		if a := alarms[0]; !strings.Contains(a.Text, ti.Name) || !strings.Contains(a.Text, ti.ID) || !strings.Contains(a.Text, from) || !strings.Contains(a.Text, to) {
			t.Errorf("the alarm mail does not name tenant %s (%s) and the window %s to %s:\n%s\n%s", ti.Name, ti.ID, from, to, a.Subject, a.Text)
		}
	}
	if s := alarms[0].Subject; !strings.Contains(s, "events lost in 2 tenant(s)") {
		t.Errorf("alarm subject %q, want it to say events were lost in 2 tenants", s)
	}
	checkMailed(t, notices, want)
	noSecret(t, "run --once (lost events)", r, w.partner.ClientSecret)
}
