package poll_test

import (
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/poll"
	"github.com/puawatch/puawatch/internal/store"
)

func TestJudge(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	read := func(ago time.Duration) store.Tenant {
		return store.Tenant{ID: "t", LastRead: now.Add(-ago), FirstSeen: now.Add(-48 * time.Hour)}
	}
	lost := func(foundAgo time.Duration) []store.LostWindow {
		return []store.LostWindow{{TenantID: "t", From: now.Add(-50 * time.Hour), To: now.Add(-24 * time.Hour), DetectedAt: now.Add(-foundAgo)},
			{TenantID: "other", From: now.Add(-50 * time.Hour), To: now.Add(-24 * time.Hour), DetectedAt: now}}
	}
	failing := read(time.Minute)
	failing.LastError = "HTTP 403"
	removed := failing
	removed.Removed = true
	never := store.Tenant{ID: "t", FirstSeen: now.Add(-7 * time.Hour)}
	for _, c := range []struct {
		name    string
		st      store.Tenant
		lost    []store.LostWindow
		state   string
		lag     time.Duration
		lagging bool
		recent  int
	}{
		{"ok", read(time.Minute), nil, poll.StateOK, time.Minute, false, 0},
		{"lagging", read(7 * time.Hour), nil, poll.StateLagging, 7 * time.Hour, true, 0},
		{"at the alarm is not lagging", read(6 * time.Hour), nil, poll.StateOK, 6 * time.Hour, false, 0},
		{"never read: lag from first seen", never, nil, poll.StateLagging, 7 * time.Hour, true, 0},
		{"lost within 24h", read(time.Minute), lost(time.Hour), poll.StateLost, time.Minute, false, 1},
		{"lost found over 24h ago no longer judged", read(time.Minute), lost(25 * time.Hour), poll.StateOK, time.Minute, false, 0},
		{"failing before lost", failing, lost(time.Hour), poll.StateFailing, time.Minute, false, 1},
		{"removed before all", removed, lost(time.Hour), poll.StateRemoved, time.Minute, false, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := poll.Judge(c.st, c.lost, now, 6*time.Hour)
			if h.State != c.state || h.Lag != c.lag || !h.HasLag || h.Lagging != c.lagging || h.RecentLost != c.recent {
				t.Errorf("Judge = %+v, want state %s, lag %s, lagging %v, recent lost %d", h, c.state, c.lag, c.lagging, c.recent)
			}
		})
	}
	if h := poll.Judge(store.Tenant{ID: "t"}, nil, now, time.Hour); h.HasLag || h.State != poll.StateOK {
		t.Errorf("a tenant with no times: %+v, want no lag and ok", h)
	}
}
