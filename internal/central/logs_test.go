package central

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/puawatch/puawatch/internal/fake/sim"
)

// TestLogLinesNameTheTenant: every log line that names a tenant by its
// id (a retry, a refused token of a tenant's events call) names it by
// its name too, under "tenant", and an error under "error".
func TestLogLinesNameTheTenant(t *testing.T) {
	s, srv := startSim(t, smallConfig())
	e := newEnv(t, s, srv, IDTypePartner, func(o *Options) { o.MaxAttempts = 2 })
	ctx := context.Background()
	tn := e.tenant(t, 0)
	if _, err := e.c.Events(ctx, EventsRequest{Tenant: tn}); err != nil {
		t.Fatal(err)
	}
	s.RevokeTokens()
	if _, err := e.c.Events(ctx, EventsRequest{Tenant: tn}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetFaults(sim.Faults{ErrorRate: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.Events(ctx, EventsRequest{Tenant: tn}); err == nil {
		t.Fatal("events under ErrorRate 1 succeeded")
	}
	seen := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(e.logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if _, ok := rec["tenant_id"]; !ok {
			continue
		}
		msg, _ := rec["msg"].(string)
		seen[msg] = true
		if rec["tenant_id"] != tn.ID || rec["tenant"] != tn.DisplayName() {
			t.Errorf("line %q: tenant_id %v tenant %v, want %s %q", msg, rec["tenant_id"], rec["tenant"], tn.ID, tn.DisplayName())
		}
		if msg == "retrying" && rec["error"] == nil {
			t.Errorf("retry line without an error key: %s", l)
		}
	}
	if !seen["retrying"] || !seen["token refused, renewing it"] {
		t.Errorf("lines naming the tenant: %v, want retrying and token refused:\n%s", seen, e.logs.String())
	}
}
