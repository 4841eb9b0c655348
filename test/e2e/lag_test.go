package e2e

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/app"
	"github.com/puawatch/puawatch/internal/fake/sim"
)

// clock is a fake clock shared by the simulator and the watcher.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestLagAlarm shows a tenant that cannot be read for longer than the
// lag alarm raising the alarm: in the report (exit status 1) and by mail,
// once an hour, not every sweep.
func TestLagAlarm(t *testing.T) {
	clk := &clock{t: time.Now().UTC().Truncate(time.Second)}
	cfg := sim.DefaultConfig()
	cfg.Tenants = 3
	cfg.EventsPerTenant = 50
	cfg.Now = clk.Now
	s0 := sim.New(cfg)
	stuck := s0.Tenants()[1]
	cfg.Faults = sim.Faults{ForbiddenTenants: []string{stuck.ID}}
	r := newRig(t, cfg)

	c := r.config(t)
	ctx := context.Background()
	a, err := app.New(ctx, c, app.Deps{Now: clk.Now, Stdout: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	alarms := func() (n int, last string) {
		for _, m := range r.smtp.Messages() {
			if strings.HasPrefix(m.Subject, "[puawatch] ALARM:") {
				n, last = n+1, m.Text
			}
		}
		return n, last
	}

	out, err := a.Once(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Report.Lagging()) != 0 {
		t.Fatalf("lagging at the first sweep: %+v", out.Report.Lagging())
	}
	clk.Advance(time.Duration(c.Poll.LagAlarm) + time.Minute)
	out, err = a.Once(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lag := out.Report.Lagging()
	if len(lag) != 1 || lag[0].TenantID != stuck.ID {
		t.Fatalf("lagging = %+v, want only %s", lag, stuck.Name)
	}
	if app.ExitStatus(out, nil) != 1 {
		t.Error("a lagging tenant must make the exit status 1")
	}
	n, text := alarms()
	if n != 1 || !strings.Contains(text, stuck.Name) || !strings.Contains(text, stuck.ID) || !strings.Contains(text, "403") {
		t.Fatalf("%d alarm mails, want 1 naming %s (%s) and its error; last:\n%s", n, stuck.Name, stuck.ID, text)
	}
	// The next sweep a few minutes later does not mail again...
	clk.Advance(5 * time.Minute)
	if _, err := a.Once(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := alarms(); n != 1 {
		t.Errorf("%d alarm mails after a second lagging sweep within the hour, want 1", n)
	}
	// ...but an hour later it does.
	clk.Advance(time.Hour)
	if _, err := a.Once(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := alarms(); n != 2 {
		t.Errorf("%d alarm mails an hour later, want 2", n)
	}
}
