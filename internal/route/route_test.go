package route

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/duration"
	"github.com/puawatch/puawatch/internal/glob/globtest"
	"github.com/puawatch/puawatch/internal/store"
)

func det(tenantID, tenant, typ, sev, threat, ep string) store.Detection {
	return store.Detection{EventID: "e-" + tenant, TenantID: tenantID, TenantName: tenant, Type: typ, Severity: sev,
		Threat: threat, EndpointType: ep, EndpointID: "ep1"}
}

func receivers(ds []store.Delivery) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Channel)
	}
	return out
}

func ip(i int) *int { return &i }

func dur(d time.Duration) *duration.Duration { x := duration.Duration(d); return &x }

// The partner case: each customer's detections to its own contacts, and
// everything to the provider's SOC.
func TestPartnerRouting(t *testing.T) {
	spec := Spec{
		Receivers: []string{"soc"},
		Routes: []Spec{
			{Match: Match{Tenant: []string{"contoso*"}}, Receivers: []string{"contoso-it", "soc"}},
			{Match: Match{Tenant: []string{"fabrikam*", "1111-*"}}, Receivers: []string{"fabrikam-it", "soc"}},
			{Match: Match{Severity: []string{"high"}}, Receivers: []string{"pager"}, Continue: true},
		},
	}
	tree, err := New(spec, []string{"soc", "contoso-it", "fabrikam-it", "pager"}, DefaultGrouping())
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		d    store.Detection
		want []string
	}{
		{det("a", "Contoso GmbH", "T", "low", "PsExec", "computer"), []string{"contoso-it", "soc"}},
		{det("b", "FABRIKAM Inc", "T", "low", "PsExec", "computer"), []string{"fabrikam-it", "soc"}},
		{det("1111-2222", "Renamed", "T", "low", "PsExec", "computer"), []string{"fabrikam-it", "soc"}},
		{det("c", "Litware", "T", "low", "PsExec", "computer"), []string{"soc"}},
		{det("c", "Litware", "T", "high", "PsExec", "computer"), []string{"pager"}},
		{det("a", "Contoso GmbH", "T", "high", "PsExec", "computer"), []string{"contoso-it", "soc"}}, // first match without continue stops
	} {
		if got := receivers(tree.Deliveries(tt.d)); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s/%s: receivers %v, want %v", tt.d.TenantName, tt.d.Severity, got, tt.want)
		}
	}
}

func TestContinueFallsThrough(t *testing.T) {
	spec := Spec{Receivers: []string{"soc"}, Routes: []Spec{
		{Match: Match{Threat: []string{"*coinminer*"}}, Receivers: []string{"crypto"}, Continue: true},
		{Match: Match{EndpointType: []string{"server"}}, Receivers: []string{"servers"}},
		{Receivers: []string{"soc"}},
	}}
	tree, err := New(spec, []string{"soc", "crypto", "servers"}, DefaultGrouping())
	if err != nil {
		t.Fatal(err)
	}
	got := receivers(tree.Deliveries(det("a", "A", "T", "low", "PUA/CoinMiner.Generic", "server")))
	if want := []string{"crypto", "servers"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	got = receivers(tree.Deliveries(det("a", "A", "T", "low", "PsExec", "computer")))
	if want := []string{"soc"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestGroupingInheritedAndKeys(t *testing.T) {
	spec := Spec{Receivers: []string{"soc"}, GroupWait: dur(30 * time.Second), Routes: []Spec{
		{Match: Match{Type: []string{"*Remote*"}}, Receivers: []string{"net"}, GroupBy: []string{"tenant", "threat"}, MaxPerMessage: ip(10)},
		{Match: Match{Type: []string{"*Hmpa*"}}, Receivers: []string{"hmpa"}, GroupBy: []string{}},
	}}
	tree, err := New(spec, []string{"soc", "net", "hmpa"}, DefaultGrouping())
	if err != nil {
		t.Fatal(err)
	}
	d := det("t1", "T", "Event::Endpoint::CorePuaRemoteDetection", "low", "NetCat", "computer")
	got := tree.Deliveries(d)
	want := []store.Delivery{{Channel: "net", GroupKey: "tenant=t1|threat=NetCat", Wait: 30 * time.Second, DigestAbove: 3, MaxPerMessage: 10}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	got = tree.Deliveries(det("t1", "T", "Event::Endpoint::CorePuaDetection", "low", "X", "computer"))
	if got[0].GroupKey != "tenant=t1" || got[0].Wait != 30*time.Second || got[0].MaxPerMessage != 100 {
		t.Errorf("root delivery %+v", got[0])
	}
	got = tree.Deliveries(det("t1", "T", "Event::Endpoint::HmpaPuaDetected", "low", "X", "computer"))
	if got[0].GroupKey != "" {
		t.Errorf("group_by [] must not group: %+v", got[0])
	}
}

func TestNewRejects(t *testing.T) {
	for _, tt := range []struct {
		spec Spec
		want string
	}{
		{Spec{Receivers: []string{"nope"}}, `route.receivers[0]: no receiver named "nope"`},
		{Spec{Match: Match{Tenant: []string{"x"}}, Receivers: []string{"soc"}}, "route.match: the root route takes every detection"},
		{Spec{Receivers: []string{"soc"}, Routes: []Spec{{GroupBy: []string{"host"}, Receivers: []string{"soc"}}}}, `route.routes[0].group_by[0]: "host" is not one of`},
		{Spec{Receivers: []string{"soc"}, Routes: []Spec{{Match: Match{Threat: []string{"[x"}}, Receivers: []string{"soc"}}}}, `route.routes[0].match.threat[0]: "[x" is not a valid pattern: the [ at character 1 is never closed`},
		{Spec{Receivers: []string{"soc"}, MaxPerMessage: ip(0)}, "route.max_per_message: 0 must be at least 1"},
		{Spec{Receivers: []string{"soc"}, DigestAbove: ip(-1)}, "route.digest_above: -1 is negative"},
		{Spec{}, "route.receivers: empty"},
	} {
		_, err := New(tt.spec, []string{"soc"}, DefaultGrouping())
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) = %v, want %q", tt.spec, err, tt.want)
		}
	}
}

// TestGlobCases: every match list of a route gives every shared pattern the
// answer package glob gives.
func TestGlobCases(t *testing.T) {
	fields := map[string]struct {
		set func(*Match, []string)
		det func(v string) store.Detection
	}{
		"tenant":        {func(m *Match, p []string) { m.Tenant = p }, func(v string) store.Detection { return det("", v, "T", "low", "X", "computer") }},
		"tenant id":     {func(m *Match, p []string) { m.Tenant = p }, func(v string) store.Detection { return det(v, "", "T", "low", "X", "computer") }},
		"type":          {func(m *Match, p []string) { m.Type = p }, func(v string) store.Detection { return det("i", "N", v, "low", "X", "computer") }},
		"severity":      {func(m *Match, p []string) { m.Severity = p }, func(v string) store.Detection { return det("i", "N", "T", v, "X", "computer") }},
		"threat":        {func(m *Match, p []string) { m.Threat = p }, func(v string) store.Detection { return det("i", "N", "T", "low", v, "computer") }},
		"endpoint_type": {func(m *Match, p []string) { m.EndpointType = p }, func(v string) store.Detection { return det("i", "N", "T", "low", "X", v) }},
	}
	for _, c := range globtest.Cases() {
		for name, f := range fields {
			child := Spec{Receivers: []string{"hit"}}
			f.set(&child.Match, []string{c.Pattern})
			tree, err := New(Spec{Receivers: []string{"miss"}, Routes: []Spec{child}}, []string{"hit", "miss"}, DefaultGrouping())
			if c.WantError != "" {
				if err == nil || !strings.Contains(err.Error(), c.WantError) {
					t.Errorf("%s %q: New = %v, want an error containing %q", name, c.Pattern, err, c.WantError)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s %q: %v", name, c.Pattern, err)
				continue
			}
			for _, v := range c.Match {
				if got := receivers(tree.Deliveries(f.det(v))); !reflect.DeepEqual(got, []string{"hit"}) {
					t.Errorf("%s %q, value %q: receivers %v, want [hit]", name, c.Pattern, v, got)
				}
			}
			for _, v := range c.NoMatch {
				if got := receivers(tree.Deliveries(f.det(v))); !reflect.DeepEqual(got, []string{"miss"}) {
					t.Errorf("%s %q, value %q: receivers %v, want [miss]", name, c.Pattern, v, got)
				}
			}
		}
	}
}
