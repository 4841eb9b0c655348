package central

import (
	"encoding/base64"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Retention is how long the SIEM API keeps events: the last 24 hours, on
// the API's clock. A from_date older than that is refused (400); a cursor
// older than that is served from now-24h (or refused), and what lay
// between is gone.
const Retention = 24 * time.Hour

// clockNoticeAt is how far the local clock may drift from the API's (or
// the estimate move) before it is logged.
const clockNoticeAt = time.Minute

// apiClock estimates Sophos Central's clock from the Date headers of its
// answers (the token endpoint's included): the offset is the API's time
// less the local clock at the moment the answer arrived. Date has whole
// seconds, so the estimate trails the API's clock by up to a second plus
// the answer's transit time; callers keep a margin (poll's lookback of at
// most 23h55m).
type apiClock struct {
	mu     sync.Mutex
	offset time.Duration
	known  bool
	logged time.Duration // the offset last logged (0 at first: a small offset is not worth a line)
}

// observe takes the Date header of an answer that arrived at the local
// time at. A missing or unreadable Date changes nothing.
func (k *apiClock) observe(log *slog.Logger, date string, at time.Time) {
	if date == "" {
		return
	}
	api, err := http.ParseTime(date)
	if err != nil {
		return
	}
	off := api.Sub(at)
	k.mu.Lock()
	k.offset, k.known = off, true
	notice := (off - k.logged).Abs() >= clockNoticeAt
	if notice {
		k.logged = off
	}
	k.mu.Unlock()
	if !notice {
		return
	}
	if off.Abs() >= clockNoticeAt {
		log.Warn("the local clock differs from Sophos Central's: from_date and the 24-hour retention follow the API's clock",
			"offset", off.Round(time.Second), "api_time", api.UTC(), "local_time", at.UTC())
	} else {
		log.Info("the local clock agrees with Sophos Central's again", "offset", off.Round(time.Second))
	}
}

func (k *apiClock) get() (time.Duration, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.offset, k.known
}

// APINow is Sophos Central's clock as its answers tell it: the local clock
// (Options.Now) plus the offset the Date header of the latest answer
// showed. Before any answer it is the local clock. Compute from_date and
// judge the 24-hour retention with it, never with the local clock.
func (c *Client) APINow() time.Time {
	off, _ := c.clock.get()
	return c.now().Add(off)
}

// ClockOffset is the API's clock less the local clock (Options.Now), as
// the latest answer's Date header showed; ok is false before any answer
// carried one.
func (c *Client) ClockOffset() (offset time.Duration, ok bool) { return c.clock.get() }

// isoTime is an ISO-8601 UTC timestamp as SIEM cursors carry them.
var isoTime = regexp.MustCompile(`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z`)

// CursorTime reads the position a SIEM cursor stands for, on the API's
// clock. Cursors are opaque, but every one seen is base64 of
// "V2_CURSOR|<ISO-8601 created_at>" (some may carry a second timestamp;
// the latest is taken): the created_at high-water mark of what was read.
// ok is false for a cursor that does not read that way.
func CursorTime(cursor string) (t time.Time, ok bool) {
	s := strings.TrimRight(strings.TrimSpace(cursor), "=")
	if s == "" {
		return time.Time{}, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		if raw, err = base64.RawStdEncoding.DecodeString(s); err != nil {
			return time.Time{}, false
		}
	}
	for _, m := range isoTime.FindAll(raw, 4) {
		if v, err := time.Parse(time.RFC3339Nano, string(m)); err == nil && v.After(t) {
			t, ok = v.UTC(), true
		}
	}
	return t, ok
}
