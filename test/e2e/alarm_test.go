package e2e

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/puawatch/puawatch/internal/app"
	"github.com/puawatch/puawatch/internal/fake/sim"
	"github.com/puawatch/puawatch/internal/fake/smtpcapture"
)

// alarmRig is a simulator with a tenant that cannot be read (403) and an
// SMTP capture that refuses every recipient while failing is set; the
// clock is the test's.
type alarmRig struct {
	*rig
	clk     *clock
	capture *smtpcapture.Server
	failing atomic.Bool
}

func newAlarmRig(t *testing.T) (*alarmRig, sim.TenantInfo) {
	t.Helper()
	clk := &clock{t: time.Now().UTC().Truncate(time.Second)}
	cfg := sim.DefaultConfig()
	cfg.Tenants = 2
	cfg.EventsPerTenant = 10
	cfg.Now = clk.Now
	stuck := sim.New(cfg).Tenants()[1]
	cfg.Faults = sim.Faults{ForbiddenTenants: []string{stuck.ID}}
	ar := &alarmRig{rig: newRig(t, cfg), clk: clk}
	capture, err := smtpcapture.Start(smtpcapture.Options{FailNext: func(string) *smtp.SMTPError {
		if ar.failing.Load() {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = capture.Close() })
	ar.capture = capture
	ar.env["PUAWATCH_SMTP_URL"] = fmt.Sprintf("smtp://%s?starttls=none", capture.Addr())
	return ar, stuck
}

// once is one `run --once`: a new app (a new process) on the same store.
func (ar *alarmRig) once(t *testing.T) app.Outcome {
	t.Helper()
	a, err := app.New(context.Background(), ar.config(t), app.Deps{Now: ar.clk.Now, Stdout: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	out, _ := a.Once(context.Background())
	return out
}

func (ar *alarmRig) alarms() int {
	n := 0
	for _, m := range ar.capture.Messages() {
		if strings.HasPrefix(m.Subject, "[puawatch] ALARM:") {
			n++
		}
	}
	return n
}

// TestAlarmThrottleAcrossRuns: the lag alarm's hourly throttle is in the
// store, so three `run --once` in a row (three processes) with a lagging
// tenant mail one alarm, and a run an hour later mails the next.
func TestAlarmThrottleAcrossRuns(t *testing.T) {
	ar, stuck := newAlarmRig(t)
	ar.once(t) // the first read: not lagging yet
	ar.clk.Advance(time.Duration(ar.config(t).Poll.LagAlarm) + time.Minute)
	for i := range 3 {
		if lag := ar.once(t).Report.Lagging(); len(lag) != 1 || lag[0].TenantID != stuck.ID {
			t.Fatalf("run %d: lagging = %+v, want %s", i+1, lag, stuck.ID)
		}
		ar.clk.Advance(5 * time.Minute)
	}
	if n := ar.alarms(); n != 1 {
		t.Fatalf("%d alarm mails after three lagging runs within the hour, want 1", n)
	}
	ar.clk.Advance(time.Hour)
	ar.once(t)
	if n := ar.alarms(); n != 2 {
		t.Fatalf("%d alarm mails after a run an hour later, want 2", n)
	}
}

// TestAlarmThrottleConcurrentRuns: two runs at once with a lagging tenant
// mail one alarm between them.
func TestAlarmThrottleConcurrentRuns(t *testing.T) {
	ar, _ := newAlarmRig(t)
	ar.once(t)
	ar.clk.Advance(time.Duration(ar.config(t).Poll.LagAlarm) + time.Minute)
	apps := make([]*app.App, 2)
	for i := range apps {
		a, err := app.New(context.Background(), ar.config(t), app.Deps{Now: ar.clk.Now, Stdout: io.Discard, Owner: fmt.Sprintf("run-%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		apps[i] = a
	}
	var wg sync.WaitGroup
	lagging := make([]int, len(apps))
	for i, a := range apps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, _ := a.Once(context.Background())
			lagging[i] = len(out.Report.Lagging())
		}()
	}
	wg.Wait()
	if lagging[0] != 1 || lagging[1] != 1 {
		t.Fatalf("lagging tenants per run %v, want 1 in each", lagging)
	}
	if n := ar.alarms(); n != 1 {
		t.Fatalf("%d alarm mails from two concurrent runs, want 1", n)
	}
}

// TestAlarmRetriedAfterFailedMail: when the alarm mail fails, the slot
// is given back and the next run mails the alarm, within the hour.
func TestAlarmRetriedAfterFailedMail(t *testing.T) {
	ar, _ := newAlarmRig(t)
	ar.once(t)
	ar.clk.Advance(time.Duration(ar.config(t).Poll.LagAlarm) + time.Minute)
	ar.failing.Store(true)
	ar.once(t)
	if n := ar.alarms(); n != 0 {
		t.Fatalf("%d alarm mails while the server refuses mail", n)
	}
	ar.failing.Store(false)
	ar.clk.Advance(5 * time.Minute)
	ar.once(t)
	if n := ar.alarms(); n != 1 {
		t.Fatalf("%d alarm mails at the next run after a failed one, want 1", n)
	}
}
