package match

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/central"
	"github.com/puawatch/puawatch/internal/glob/globtest"
	"github.com/puawatch/puawatch/internal/store"
)

func ev(typ, group, sev string) central.Event {
	return central.Event{ID: "e1", Type: typ, Group: group, Severity: sev}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ev   central.Event
		kind string
	}{
		{"default CorePuaDetection", Config{}, ev("Event::Endpoint::CorePuaDetection", "PUA", "medium"), store.KindDetection},
		{"default remote", Config{}, ev("Event::Endpoint::CorePuaRemoteDetection", "PUA", "medium"), store.KindDetection},
		{"default legacy", Config{}, ev("Event::Endpoint::Threat::PuaDetected", "PUA", "medium"), store.KindDetection},
		{"default hmpa", Config{}, ev("Event::Endpoint::HmpaPuaDetected", "PUA", "medium"), store.KindDetection},
		{"default home remnants", Config{}, ev("Event::Endpoint::HomePuaRemnantsDetected", "PUA", "low"), store.KindDetection},
		{"clean-up is not a detection", Config{}, ev("Event::Endpoint::CorePuaClean", "PUA", "low"), ""},
		{"malware is not PUA", Config{}, ev("Event::Endpoint::CoreDetection", "MALWARE", "high"), ""},
		{"a type not listed", Config{}, ev("Event::Endpoint::PUADetected", "PUA", "high"), ""},
		{"case is ignored in types (package glob)", Config{}, ev("event::endpoint::COREPUADETECTION", "PUA", "high"), store.KindDetection},
		{"follow-up off by default", Config{}, ev("Event::Endpoint::CorePuaCleanFailed", "PUA", "medium"), ""},
		{"follow-up on", Config{FollowUps: true}, ev("Event::Endpoint::CorePuaCleanFailed", "PUA", "medium"), store.KindFollowUp},
		{"follow-up restore failed", Config{FollowUps: true}, ev("Event::Endpoint::CorePuaRestoreFailed", "PUA", "medium"), store.KindFollowUp},
		{"follow-up custom list", Config{FollowUps: true, FollowUpTypes: []string{"*Reboot"}}, ev("Event::Endpoint::CorePuaCleanFailed", "PUA", "m"), ""},
		{"glob", Config{Types: []string{"*Pua*Detect*"}}, ev("Event::Endpoint::CorePuaRemoteDetection", "PUA", "low"), store.KindDetection},
		{"glob misses", Config{Types: []string{"*Pua*Detect*"}}, ev("Event::Endpoint::CorePuaClean", "PUA", "low"), ""},
		{"exact list replaces default", Config{Types: []string{"Event::Endpoint::HmpaPuaDetected"}}, ev("Event::Endpoint::CorePuaDetection", "PUA", "low"), ""},
		{"group filter passes", Config{Groups: []string{"pua"}}, ev("Event::Endpoint::CorePuaDetection", "PUA", "low"), store.KindDetection},
		{"group filter blocks", Config{Groups: []string{"MALWARE"}}, ev("Event::Endpoint::CorePuaDetection", "PUA", "low"), ""},
		{"severity filter passes any case", Config{Severities: []string{"HIGH", "medium"}}, ev("Event::Endpoint::CorePuaDetection", "PUA", "Medium"), store.KindDetection},
		{"severity filter blocks", Config{Severities: []string{"high"}}, ev("Event::Endpoint::CorePuaDetection", "PUA", "low"), ""},
		{"severity filter applies to follow-ups", Config{FollowUps: true, Severities: []string{"high"}}, ev("Event::Endpoint::CorePuaCleanFailed", "PUA", "low"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := New(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			kind, ok := m.Match(tt.ev)
			if ok != (tt.kind != "") || kind != tt.kind {
				t.Errorf("Match(%s) = %q, %v; want %q", tt.ev.Type, kind, ok, tt.kind)
			}
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, tt := range []struct {
		cfg  Config
		want string
	}{
		{Config{Types: []string{"[abc"}}, `match.types[0]: "[abc" is not a valid pattern: the [ at character 1 is never closed`},
		{Config{Types: []string{"a", " "}}, `match.types[1]: " " is not a valid pattern: it is empty`},
		{Config{FollowUps: true, FollowUpTypes: []string{"x["}}, "match.follow_up_types[0]"},
		{Config{Severities: []string{"urgent"}}, `match.severities: "urgent" is not a severity`},
	} {
		_, err := New(tt.cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) = %v; want an error containing %q", tt.cfg, err, tt.want)
		}
	}
}

// TestGlobCases: match.types and match.follow_up_types give every shared
// pattern the answer package glob gives.
func TestGlobCases(t *testing.T) {
	for _, c := range globtest.Cases() {
		for _, followUp := range []bool{false, true} {
			cfg := Config{Types: []string{c.Pattern}}
			want := store.KindDetection
			if followUp {
				cfg = Config{Types: []string{"none"}, FollowUps: true, FollowUpTypes: []string{c.Pattern}}
				want = store.KindFollowUp
			}
			m, err := New(cfg)
			if c.WantError != "" {
				if err == nil || !strings.Contains(err.Error(), c.WantError) {
					t.Errorf("New(%+v) = %v, want an error containing %q", cfg, err, c.WantError)
				}
				continue
			}
			if err != nil {
				t.Errorf("New(%+v): %v", cfg, err)
				continue
			}
			for _, v := range c.Match {
				if kind, ok := m.Match(ev(v, "PUA", "low")); !ok || kind != want {
					t.Errorf("%+v: type %q not matched as %s", cfg, v, want)
				}
			}
			for _, v := range c.NoMatch {
				if kind, ok := m.Match(ev(v, "PUA", "low")); ok {
					t.Errorf("%+v: type %q matched as %s", cfg, v, kind)
				}
			}
		}
	}
}

func TestPathOf(t *testing.T) {
	threat := "PsExec"
	for _, tt := range []struct {
		name string
		ev   central.Event
		want string
	}{
		{"core", central.Event{Name: `PUA detected: 'Generic Reputation PUA' at 'C:\Users\j\x.exe'`}, `C:\Users\j\x.exe`},
		{"remote", central.Event{Name: `PUA 'Generic ML PUA' detected in network location '\\FS01\Tools\n.exe' requires attention`}, `\\FS01\Tools\n.exe`},
		{"remedy", central.Event{Name: "No items were cleaned.", Threat: &threat, CoreRemedyItems: &central.RemedyItems{Items: []central.RemedyItem{{Descriptor: `C:\a.dll`}}}}, `C:\a.dll`},
		{"home details", central.Event{Name: "Remnants found of Potentially Unwanted App: OpenCandy", Details: []central.Detail{{Type: "HOME_REMNANT_PATHS", Property: `C:\ProgramData\OpenCandy`}}}, `C:\ProgramData\OpenCandy`},
		{"none", central.Event{Name: "Detected PUA: PUA/CoinMiner.Generic"}, ""},
		{"quotes in path", central.Event{Name: `PUA detected: 'X' at 'C:\it's here\a.exe'`}, `C:\it's here\a.exe`},
	} {
		if got := PathOf(tt.ev); got != tt.want {
			t.Errorf("%s: PathOf = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestToDetection(t *testing.T) {
	raw := `{"id":"e9","type":"Event::Endpoint::CorePuaDetection","name":"PUA detected: 'PsExec' at 'C:\\t\\PsExec.exe'","severity":"MEDIUM","location":"WS-1","source":"CORP\\u","endpoint_id":"ep","endpoint_type":"computer","when":"2026-11-27T10:00:00.000Z","created_at":"2026-11-27T10:00:01.500Z","threat":"PsExec"}`
	var e central.Event
	if err := json.Unmarshal([]byte(raw), &e); err != nil {
		t.Fatal(err)
	}
	e.Raw = json.RawMessage(raw)
	seen := time.Date(2026, 11, 27, 10, 5, 0, 0, time.UTC)
	d := ToDetection(e, store.KindDetection, central.Tenant{ID: "t1", Name: "Contoso", ShowAs: "Contoso GmbH"}, seen)
	want := store.Detection{EventID: "e9", TenantID: "t1", TenantName: "Contoso GmbH", Kind: "detection",
		Type: "Event::Endpoint::CorePuaDetection", Name: e.Name, Severity: "medium", Threat: "PsExec", Location: "WS-1",
		User: `CORP\u`, EndpointID: "ep", EndpointType: "computer", Path: `C:\t\PsExec.exe`,
		When: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC), CreatedAt: time.Date(2026, 11, 27, 10, 0, 1, 500e6, time.UTC), SeenAt: seen}
	got := d
	got.Raw = nil
	if got.When != want.When || got.CreatedAt != want.CreatedAt {
		t.Errorf("times: %v %v", got.When, got.CreatedAt)
	}
	got.When, got.CreatedAt, want.When, want.CreatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ToDetection =\n %+v\nwant\n %+v", got, want)
	}
	if string(d.Raw) != raw {
		t.Errorf("raw not kept")
	}
}
