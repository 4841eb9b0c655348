package e2e

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/app"
	"github.com/puawatch/puawatch/internal/fake/sim"
)

// TestPartnerEveryDetectionOnce runs the watcher against a partner of 30
// tenants with faults on (429, 5xx, 2-second tokens, page-boundary
// replays, one tenant answering 403) and checks that the mails carry
// exactly the simulator's PUA detections, each once; that a second run
// sends nothing; and that new events go out on the next run.
func TestPartnerEveryDetectionOnce(t *testing.T) {
	cfg := sim.DefaultConfig()
	cfg.Seed = 7
	cfg.Tenants = 30
	cfg.EventsPerTenant = 300
	cfg.Regions = []string{"eu01", "eu02", "us03"}
	cfg.HostileShare = 0.1
	cfg.TieShare = 0.3
	cfg.TokenLifetime = 2 * time.Second
	cfg.Limits = sim.RateLimits{PerSecond: 2} // per credential and tenant: a burst of two pages
	s0 := sim.New(cfg)                        // only to learn the forbidden tenant's id
	forbidden := s0.Tenants()[3]
	cfg.Faults = sim.Faults{ErrorRate: 0.1, ReplayRate: 0.3, ForbiddenTenants: []string{forbidden.ID}}
	r := newRig(t, cfg)

	c := r.config(t)
	c.Poll.PageLimit = 100
	c.Poll.Workers = 4
	c.Poll.Limits.PerSecond = 50 // faster than the simulator allows: 429s come back
	c.Poll.Limits.PerMinute = 3000
	c.Poll.Limits.MinuteBurst = 3000
	ctx := context.Background()
	var logs strings.Builder
	a, err := app.New(ctx, c, app.Deps{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Stdout: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()

	start := time.Now()
	out, err := a.Once(ctx)
	if err != nil {
		t.Fatalf("first run: %v\n%s", err, logs.String())
	}
	if code := app.ExitStatus(out, err); code != 1 {
		t.Errorf("exit status %d with a 403 tenant, want 1", code)
	}
	failed := out.Report.Failed()
	if len(failed) != 1 || failed[0].TenantID != forbidden.ID || failed[0].TenantName != forbidden.Name || !strings.Contains(failed[0].Err.Error(), "403") {
		t.Fatalf("failed tenants = %+v, want only %s (%s) with a 403", failed, forbidden.Name, forbidden.ID)
	}
	want := r.expected(t, map[string]bool{forbidden.ID: true})
	if len(want) < 500 {
		t.Fatalf("only %d detections in the simulator: the test proves little", len(want))
	}
	got, msgIDs := r.delivered(t)
	missing, extra := diff(want, got)
	if len(missing) > 0 || len(extra) > 0 {
		t.Fatalf("delivered %d distinct detections, want %d: %d missing (e.g. %v), %d not PUA detections (e.g. %v)",
			len(got), len(want), len(missing), first(missing), len(extra), first(extra))
	}
	for id, n := range got {
		if n != 1 || len(msgIDs[id]) != 1 {
			t.Errorf("detection %s delivered %d times", id, n)
		}
	}
	pages, events, fresh := out.Report.Totals()
	cnt := r.sim.Counters()
	t.Logf("run 1: %d tenants, %d events read in %d pages, %d detections, %d mails in %s; API: %v; faults: 429=%d 5xx=%d tokens=%d",
		len(out.Report.Tenants), events, pages, fresh, len(r.smtp.Messages()), time.Since(start).Round(time.Millisecond),
		cnt.Requests, cnt.Stats["rate_limited"], cnt.Stats["errors_5xx"], cnt.Stats["tokens_issued"])
	for name, min := range map[string]int64{"rate_limited": 1, "errors_5xx": 1, "tokens_issued": 2} {
		if cnt.Stats[name] < min {
			t.Errorf("simulator %s = %d: the fault was not exercised", name, cnt.Stats[name])
		}
	}
	if strings.Contains(logs.String(), r.env["PUAWATCH_CLIENT_SECRET"]) {
		t.Error("the client secret appears in the log")
	}

	// A second run finds nothing new.
	before := len(r.smtp.Messages())
	if _, err := a.Once(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(r.smtp.Messages()); n != before {
		t.Fatalf("second run sent %d mails, want none", n-before)
	}

	// New events go out on the next run, and only the PUA detections.
	tenant := r.sim.Tenants()[0]
	ids, err := r.sim.Inject(tenant.ID, []sim.Event{
		{Type: sim.TypeCorePuaDetection, Name: "PUA detected: 'PsExec' at 'C:\\t\\PsExec.exe'", Severity: "medium", Group: "PUA", Location: "WS-NEW-1", Threat: ptr("PsExec")},
		{Type: sim.TypeHmpaPuaDetected, Name: "Detected PUA: PUA/CoinMiner.Generic", Severity: "medium", Group: "PUA", Location: "WS-NEW-2", Threat: ptr("PUA/CoinMiner.Generic")},
		{Type: "Event::Endpoint::UpdateSuccess", Name: "Update succeeded", Severity: "low", Group: "UPDATING", Location: "WS-NEW-3"},
	}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Once(ctx); err != nil {
		t.Fatal(err)
	}
	got2, _ := r.delivered(t)
	if n := len(r.smtp.Messages()) - before; n != 2 {
		t.Fatalf("third run sent %d mails, want 2", n)
	}
	if got2[ids[0]] != 1 || got2[ids[1]] != 1 || got2[ids[2]] != 0 {
		t.Errorf("new events delivered %d, %d, %d times; want 1, 1, 0", got2[ids[0]], got2[ids[1]], got2[ids[2]])
	}
}

func ptr(s string) *string { return &s }

func first(s []string) []string {
	if len(s) > 3 {
		return s[:3]
	}
	return s
}
