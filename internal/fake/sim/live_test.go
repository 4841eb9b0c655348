package sim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// TestLiveStream: events appear as the simulator's clock advances, Rate a
// second over all tenants, on top of the backlog; the SIEM API serves them
// and Counters counts them. (A negative float converted to uint64, which
// is about 1.8e19 on amd64, once stopped the stream for its first day.)
func TestLiveStream(t *testing.T) {
	t.Parallel()
	e := newSiemEnv(t, func(c *Config) {
		c.Tenants = 2
		c.EventsPerTenant = 10
		c.Rate = 4
		c.TieShare, c.LateShare = 0, 0
	}).login(t)
	total := func() int {
		n := 0
		for _, types := range e.s.Counters().Events {
			for _, c := range types {
				n += c
			}
		}
		return n
	}
	if got := total(); got != 20 {
		t.Fatalf("at start: %d events generated, want the backlog of 20", got)
	}
	served := func() int {
		n := 0
		for _, tid := range e.tenantIDs() {
			items, _ := e.readAll(t, "events", tid, url.Values{"limit": {"1000"}})
			n += len(items)
		}
		return n
	}
	for i, step := range []time.Duration{30 * time.Second, time.Minute, time.Hour} {
		e.clock.Advance(step)
		e.login(t) // tokens expire after an hour
		elapsed := e.clock.Now().Sub(newFakeClock().Now())
		want := 20 + int(elapsed.Seconds()*4)
		if got := total(); got != want {
			t.Errorf("step %d, %s after start: %d events generated, want %d (backlog 20 + %s at 4/s)", i, elapsed, got, want, elapsed)
		}
		if got := served(); got != want {
			t.Errorf("step %d, %s after start: the SIEM API serves %d events, want %d", i, elapsed, got, want)
		}
	}
	// Past a day the oldest live events leave retention, the stream goes on.
	e.clock.Advance(Retention)
	e.login(t)
	if got, want := served(), int(Retention.Seconds()*4); got < want-1 || got > want+1 {
		t.Errorf("a day later: the SIEM API serves %d events, want about %d (the last 24 hours at 4/s)", got, want)
	}
}

// TestStopLive: after StopLive the stream makes no more events, however
// far the clock goes; the events it made stay, and the SIEM API serves
// them. Tests stop it to compare a client's output with a fixed ground
// truth.
func TestStopLive(t *testing.T) {
	t.Parallel()
	e := newSiemEnv(t, func(c *Config) {
		c.Tenants = 2
		c.EventsPerTenant = 10
		c.Rate = 4
		c.TieShare, c.LateShare = 0, 0
	}).login(t)
	count := func() int {
		n := 0
		for _, tid := range e.tenantIDs() {
			evs, err := e.s.Events(tid)
			if err != nil {
				t.Fatal(err)
			}
			n += len(evs)
		}
		return n
	}
	e.clock.Advance(10 * time.Second)
	e.s.StopLive()
	if got := count(); got != 20+40 {
		t.Fatalf("stopped 10s after start: %d events, want 60 (backlog 20 + 10s at 4/s)", got)
	}
	e.clock.Advance(time.Minute)
	e.login(t)
	if got := count(); got != 60 {
		t.Errorf("a minute after StopLive: %d events, want still 60", got)
	}
	served := 0
	for _, tid := range e.tenantIDs() {
		items, _ := e.readAll(t, "events", tid, url.Values{"limit": {"1000"}})
		served += len(items)
	}
	if served != 60 {
		t.Errorf("after StopLive the SIEM API serves %d events, want the 60 made", served)
	}
}

// TestControlStopLive: POST /sim/v1/live/stop stops the live stream as
// StopLive does and answers with the counters of that moment, which no
// longer grow however far the clock goes.
func TestControlStopLive(t *testing.T) {
	clock := newFakeClock()
	cfg := tcConfig(clock)
	cfg.Tenants, cfg.EventsPerTenant, cfg.Rate = 2, 5, 4
	s, _ := startSim(t, cfg)
	clock.Advance(10 * time.Second)
	st, b := tcCtl(t, s, http.MethodPost, "/sim/v1/live/stop", "")
	if st != http.StatusOK {
		t.Fatalf("live/stop: %d %s", st, b)
	}
	var got Counters
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("live/stop answer is not the counters: %v\n%s", err, b)
	}
	total := func(c Counters) int {
		n := 0
		for _, byType := range c.Events {
			for _, k := range byType {
				n += k
			}
		}
		return n
	}
	if n := total(got); n != 10+40 {
		t.Fatalf("live/stop 10s after start counts %d events, want 50 (backlog 10 + 10s at 4/s)", n)
	}
	clock.Advance(time.Minute)
	if n := total(s.Counters()); n != 50 {
		t.Errorf("a minute after live/stop: %d events, want still 50", n)
	}
}
