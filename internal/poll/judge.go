package poll

import (
	"time"

	"github.com/puawatch/puawatch/internal/central"
	"github.com/puawatch/puawatch/internal/store"
)

// Tenant states (Health.State), worst first: how `puawatch status`, the
// dashboard and the daemon judge a stored tenant.
const (
	StateRemoved = "removed" // no longer listed, or excluded
	StateFailing = "failing" // its last read failed
	StateLost    = "lost"    // a window of possibly lost events was found within the last 24 hours
	StateLagging = "lagging" // not read to the end for longer than the lag alarm
	StateOK      = "ok"
)

// LostRecent is how long after it was found a lost window makes its
// tenant StateLost: there is no acknowledging a window, so an older one is
// still listed but no longer judged.
const LostRecent = central.Retention

// Health is a stored tenant judged at a point in time.
type Health struct {
	Lag       time.Duration // Lag (when HasLag)
	HasLag    bool
	Lagging   bool          // Lag is over the lag alarm
	CursorAt  time.Time     // the position of the stored cursor (when HasCursor)
	CursorAge time.Duration // CursorAge
	HasCursor bool
	// RecentLost counts the lost windows found within LostRecent.
	RecentLost int
	State      string // a State* constant
}

// Judge judges tenant st, whose lost windows are lost, at now with the
// lag alarm lagAlarm: the one rule behind every tenant state shown.
func Judge(st store.Tenant, lost []store.LostWindow, now time.Time, lagAlarm time.Duration) Health {
	var h Health
	h.Lag, h.HasLag = Lag(st, now)
	h.Lagging = h.HasLag && h.Lag > lagAlarm
	if at, ok := central.CursorTime(st.Cursor); ok {
		h.CursorAt, h.CursorAge, h.HasCursor = at, now.Sub(at), true
	}
	for _, w := range lost {
		if w.TenantID == st.ID && now.Sub(w.DetectedAt) < LostRecent {
			h.RecentLost++
		}
	}
	switch {
	case st.Removed:
		h.State = StateRemoved
	case st.LastError != "":
		h.State = StateFailing
	case h.RecentLost > 0:
		h.State = StateLost
	case h.Lagging:
		h.State = StateLagging
	default:
		h.State = StateOK
	}
	return h
}
