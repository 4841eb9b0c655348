package gen

import (
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

var (
	testCreated = time.Date(2025, 6, 3, 9, 41, 27, 318e6, time.UTC)
	testOpts    = Options{OtherShare: 0.6, HostileShare: 0.05}
	uuidV4RE    = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	hex24RE     = regexp.MustCompile(`^[0-9a-f]{24}$`)
	hex64RE     = regexp.MustCompile(`^[0-9a-f]{64}$`)
	ipRE        = regexp.MustCompile(`^10\.\d{1,3}\.\d{1,3}\.\d{1,3}$`)
)

// The PUA family split into detections and follow-ups, written out here
// independently of gen.go.
var (
	testDetections = []string{
		TypeCorePuaDetection, TypeCorePuaRemoteDetection, TypeThreatPuaDetected,
		TypeHmpaPuaDetected, TypeHomePuaRemnantsDetected,
	}
	testFollowUps = []string{
		TypeCorePuaClean, TypeCorePuaCleanFailed, TypeCorePuaCleanNothing, TypeCorePuaReboot,
		TypeCorePuaRestore, TypeCorePuaRestoreFailed, TypeThreatPuaCleanedUp, TypeThreatPuaDismissed,
		TypeThreatPuaCleanupFailed, TypeHmpaPuaCleanup, TypeHomePuaRemnantsDeleted,
	}
	// Types that carry a threat name; every other type must have a nil threat.
	testThreatTypes = map[string]bool{
		TypeCorePuaDetection: true, TypeCorePuaRemoteDetection: true, TypeThreatPuaDetected: true,
		TypeHmpaPuaDetected: true, TypeHomePuaRemnantsDetected: true, TypeCorePuaClean: true,
		TypeCorePuaCleanFailed: true, TypeCorePuaReboot: true, TypeCorePuaRestore: true,
		TypeCorePuaRestoreFailed: true, TypeThreatPuaCleanedUp: true, TypeThreatPuaDismissed: true,
		TypeThreatPuaCleanupFailed: true, TypeHmpaPuaCleanup: true, TypeHomePuaRemnantsDeleted: true,
		"Event::Endpoint::CoreDetection": true, "Event::Endpoint::CoreRemoteDetection": true,
		"Event::Endpoint::CoreClean": true, "Event::Endpoint::CoreCleanFailed": true,
		"Event::Endpoint::Threat::Detected": true, "Event::Endpoint::Threat::CleanupFailed": true,
	}
	// Expected name prefixes for the PUA family (§9 templates).
	testNamePrefix = map[string][]string{
		TypeCorePuaDetection:        {"PUA detected: '"},
		TypeCorePuaRemoteDetection:  {"PUA '"},
		TypeCorePuaClean:            {"PUA cleaned up: '"},
		TypeCorePuaCleanFailed:      {"Manual PUA cleanup required: '"},
		TypeCorePuaCleanNothing:     {"No items were cleaned."},
		TypeCorePuaReboot:           {"Reboot required for complete PUA cleanup: '"},
		TypeCorePuaRestore:          {"Restored: '"},
		TypeCorePuaRestoreFailed:    {"Restore failed: '"},
		TypeThreatPuaDetected:       {"PUA detected: '"},
		TypeThreatPuaCleanedUp:      {"PUA cleaned up: '"},
		TypeThreatPuaDismissed:      {"PUA locally cleared: "},
		TypeThreatPuaCleanupFailed:  {"Manual PUA cleanup required: '", "Computer scan required to complete PUA cleanup: '", "PUA not cleaned up: '", "Reboot required to complete PUA cleanup: '"},
		TypeHmpaPuaDetected:         {"Detected PUA: "},
		TypeHmpaPuaCleanup:          {""},
		TypeHomePuaRemnantsDetected: {"Remnants found of Potentially Unwanted App: "},
		TypeHomePuaRemnantsDeleted:  {"Remnants deleted of Potentially Unwanted App: "},
	}
)

func isPUA(typ string) bool {
	_, ok := testNamePrefix[typ]
	return ok
}

func testTenants(g *Generator, n int) []TenantSpec {
	ts := make([]TenantSpec, n)
	for i := range ts {
		ts[i] = g.Tenant(i, []string{"eu01", "eu02", "us03"})
	}
	return ts
}

func TestDeterminism(t *testing.T) {
	a := New(42, testOpts)
	b := New(42, testOpts)
	c := New(43, testOpts)
	regions := []string{"eu01", "us03", "jp01"}
	for i := range 50 {
		ta, tb, tc := a.Tenant(i, regions), b.Tenant(i, regions), c.Tenant(i, regions)
		if ta != tb {
			t.Fatalf("tenant %d differs for the same seed: %+v vs %+v", i, ta, tb)
		}
		if ta.ID == tc.ID {
			t.Errorf("tenant %d has the same ID %s for seeds 42 and 43", i, ta.ID)
		}
	}
	same := 0
	for ti := range 3 {
		tn := a.Tenant(ti, regions)
		for seq := range uint64(2000) {
			ea := a.Event(tn, ti, seq, testCreated)
			eb := b.Event(tn, ti, seq, testCreated)
			if !reflect.DeepEqual(ea, eb) {
				t.Fatalf("tenant %d seq %d: events differ for the same seed:\n%+v\n%+v", ti, seq, ea, eb)
			}
			ec := c.Event(tn, ti, seq, testCreated)
			if ea.ID == ec.ID {
				t.Fatalf("tenant %d seq %d: same event ID for seeds 42 and 43", ti, seq)
			}
			if ea.Type == ec.Type && ea.Location == ec.Location && ea.Name == ec.Name {
				same++
			}
		}
	}
	if same > 600 { // 6000 events; identical content would be a seeding bug
		t.Errorf("%d of 6000 events have the same type, location and name for different seeds", same)
	}
	// Repeated calls on one generator are stable too (no hidden state).
	tn := a.Tenant(1, regions)
	if e1, e2 := a.Event(tn, 1, 7, testCreated), a.Event(tn, 1, 7, testCreated); !reflect.DeepEqual(e1, e2) {
		t.Errorf("repeated Event call differs:\n%+v\n%+v", e1, e2)
	}
}

func TestEventTypeAndIDConsistent(t *testing.T) {
	for _, opts := range []Options{testOpts, {OtherShare: 0}, {OtherShare: 1, HostileShare: 1}} {
		g := New(7, opts)
		for ti := range 3 {
			tn := g.Tenant(ti, nil)
			for seq := range uint64(3000) {
				ev := g.Event(tn, ti, seq, testCreated)
				if got := g.EventType(ti, seq); got != ev.Type {
					t.Fatalf("opts %+v tenant %d seq %d: EventType %q, Event().Type %q", opts, ti, seq, got, ev.Type)
				}
				if got := g.eventID(ti, seq); got != ev.ID {
					t.Fatalf("opts %+v tenant %d seq %d: eventID %q, Event().ID %q", opts, ti, seq, got, ev.ID)
				}
			}
		}
	}
}

func TestEventTypeIndependentOfHostileShare(t *testing.T) {
	a := New(9, Options{OtherShare: 0.5})
	b := New(9, Options{OtherShare: 0.5, HostileShare: 1})
	for seq := range uint64(1000) {
		if a.EventType(0, seq) != b.EventType(0, seq) || a.eventID(0, seq) != b.eventID(0, seq) {
			t.Fatalf("seq %d: type/ID depend on HostileShare", seq)
		}
	}
}

func TestConcurrent(t *testing.T) {
	g := New(4, testOpts)
	ts := testTenants(g, 4)
	want := make([]Event, 2000)
	for seq := range want {
		ti := seq2ti(uint64(seq))
		want[seq] = g.Event(ts[ti], ti, uint64(seq), testCreated)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for w := range 8 {
		wg.Go(func() {
			for i := range want {
				seq := (i + w*250) % len(want)
				ti := seq2ti(uint64(seq))
				if got := g.Event(ts[ti], ti, uint64(seq), testCreated); !reflect.DeepEqual(got, want[seq]) {
					errs <- fmt.Sprintf("worker %d seq %d: concurrent event differs", w, seq)
					return
				}
				_ = g.Tenant(seq, nil)
				_ = g.EventType(ti, uint64(seq))
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestIDsUnique(t *testing.T) {
	g := New(1, testOpts)
	seen := make(map[string][2]uint64, 60000)
	tenantIDs := map[string]bool{}
	for ti := range 3 {
		tn := g.Tenant(ti, nil)
		if !uuidV4RE.MatchString(tn.ID) || tenantIDs[tn.ID] {
			t.Fatalf("tenant %d: bad or duplicate ID %q", ti, tn.ID)
		}
		tenantIDs[tn.ID] = true
		for seq := range uint64(20000) {
			id := g.eventID(ti, seq)
			if !uuidV4RE.MatchString(id) {
				t.Fatalf("tenant %d seq %d: ID %q is not a lower-case v4 UUID", ti, seq, id)
			}
			if prev, dup := seen[id]; dup {
				t.Fatalf("tenant %d seq %d: ID %s already used by tenant/seq %v", ti, seq, id, prev)
			}
			seen[id] = [2]uint64{uint64(ti), seq}
		}
	}
}

func TestTypeMix(t *testing.T) {
	const n = 20000
	for _, tc := range []struct {
		name  string
		other float64
	}{
		{"no-other", 0},
		{"default", 0.6},
		{"mostly-other", 0.9},
		{"all-other", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := New(3, Options{OtherShare: tc.other, HostileShare: 0.05})
			counts := map[string]int{}
			pua, det := 0, 0
			for seq := range uint64(n) {
				typ := g.EventType(seq2ti(seq), seq)
				counts[typ]++
				if isPUA(typ) {
					pua++
				}
			}
			for _, d := range testDetections {
				det += counts[d]
			}
			share := float64(pua) / n
			if want := 1 - tc.other; math.Abs(share-want) > 0.015 {
				t.Errorf("PUA share %.4f, want %.2f ± 0.015", share, want)
			}
			if tc.other == 1 {
				return
			}
			if r := float64(det) / float64(pua); r < 0.4 || r > 0.6 {
				t.Errorf("detections are %.2f of the PUA family, want about half", r)
			}
			if counts[TypeCorePuaDetection] < counts[TypeCorePuaClean] {
				t.Errorf("CorePuaDetection (%d) is not the most common PUA type", counts[TypeCorePuaDetection])
			}
			if tc.other <= 0.6 {
				for _, typ := range append(append([]string{}, testDetections...), testFollowUps...) {
					if counts[typ] == 0 {
						t.Errorf("type %s never occurs in %d events", typ, n)
					}
				}
			}
			if tc.other > 0 {
				others := 0
				for typ := range counts {
					if !isPUA(typ) {
						others++
						if !strings.HasPrefix(typ, "Event::Endpoint::") {
							t.Errorf("other type %q lacks the Event::Endpoint:: prefix", typ)
						}
					}
				}
				if others < 8 {
					t.Errorf("only %d distinct non-PUA types", others)
				}
			}
		})
	}
}

// seq2ti spreads a sequence over a few tenants.
func seq2ti(seq uint64) int { return int(seq % 4) }

// strongMarker reports whether s carries an unmistakably hostile value.
func strongMarker(s string) bool {
	return strings.ContainsAny(s, "<>\"`\r\n|=") || len(s) > 300
}

func hasNonASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return true
		}
	}
	return false
}

func TestHostile(t *testing.T) {
	const n = 20000
	check := func(t *testing.T, share float64, f func(ev Event)) {
		g := New(11, Options{OtherShare: 0.6, HostileShare: share})
		ts := testTenants(g, 4)
		for seq := range uint64(n) {
			ti := seq2ti(seq)
			f(g.Event(ts[ti], ti, seq, testCreated))
		}
	}
	t.Run("all", func(t *testing.T) {
		kinds := map[string]int{}
		check(t, 1, func(ev Event) {
			loc := strongMarker(ev.Location) || strings.ContainsAny(ev.Location, `'\`) || hasNonASCII(ev.Location)
			src := strongMarker(ev.Source) || strings.Contains(ev.Source, "'") || hasNonASCII(ev.Source)
			name := strongMarker(ev.Name) || hasNonASCII(ev.Name)
			if !loc && !src && !name {
				t.Fatalf("no hostile marker: %q | %q | %q", ev.Location, ev.Source, ev.Name)
			}
			all := ev.Location + ev.Source + ev.Name
			for _, m := range []string{"<script>", "onerror=", "\r\n", "X-Injected: 1", "|", "`", `"`, `\\`} {
				if strings.Contains(all, m) {
					kinds[m]++
				}
			}
			if len(ev.Name) > 300 {
				kinds["long"]++
			}
			if strings.Contains(ev.Name, `'\\`) && len(ev.Name) > 300 {
				kinds["long-unc"]++
			}
			if hasNonASCII(all) {
				kinds["non-ascii"]++
			}
			for _, r := range ev.CoreRemedyItems {
				if strongMarker(r.Descriptor) {
					kinds["descriptor"]++
				}
			}
		})
		for _, k := range []string{"<script>", "onerror=", "\r\n", "X-Injected: 1", "|", "`", `"`, `\\`, "long", "long-unc", "non-ascii", "descriptor"} {
			if kinds[k] == 0 {
				t.Errorf("hostile kind %q never occurs", k)
			}
		}
	})
	t.Run("none", func(t *testing.T) {
		nonASCII := 0
		check(t, 0, func(ev Event) {
			for _, s := range []string{ev.Location, ev.Source, ev.Name} {
				if strings.ContainsAny(s, "<\r\n") {
					t.Fatalf("hostile content with HostileShare 0: %q", s)
				}
			}
			if hasNonASCII(ev.Location + ev.Source) {
				nonASCII++
			}
		})
		if nonASCII == 0 || nonASCII > n/5 {
			t.Errorf("%d of %d ordinary events use non-ASCII host/user names, want a small share", nonASCII, n)
		}
	})
	t.Run("some", func(t *testing.T) {
		strong := 0
		check(t, 0.05, func(ev Event) {
			if strongMarker(ev.Location) || strongMarker(ev.Source) || strongMarker(ev.Name) {
				strong++
			}
		})
		if r := float64(strong) / n; r < 0.02 || r > 0.06 {
			t.Errorf("strongly hostile share %.4f with HostileShare 0.05", r)
		}
	})
}

func TestEventFields(t *testing.T) {
	const n = 20000
	g := New(5, testOpts)
	ts := testTenants(g, 4)
	sevs := map[string]bool{"none": true, "low": true, "medium": true, "high": true, "critical": true}
	epTypes := map[string]int{}
	nulls := map[string]int{}
	withCert := 0
	for seq := range uint64(n) {
		ti := seq2ti(seq)
		ev := g.Event(ts[ti], ti, seq, testCreated)
		where := ev.Type + " " + ev.ID
		if !sevs[ev.Severity] {
			t.Fatalf("%s: severity %q", where, ev.Severity)
		}
		if (ev.Threat != nil) != testThreatTypes[ev.Type] {
			t.Fatalf("%s: threat %v, want nil=%v", where, ev.Threat, !testThreatTypes[ev.Type])
		}
		if ev.Threat != nil && *ev.Threat == "" {
			t.Fatalf("%s: empty threat", where)
		}
		if isPUA(ev.Type) {
			if ev.Group != "PUA" {
				t.Fatalf("%s: group %q", where, ev.Group)
			}
			ok := false
			for _, p := range testNamePrefix[ev.Type] {
				ok = ok || strings.HasPrefix(ev.Name, p)
			}
			if !ok {
				t.Fatalf("%s: name %q does not follow the template", where, ev.Name)
			}
			if ev.Threat != nil && !strings.Contains(ev.Name, *ev.Threat) {
				t.Fatalf("%s: name %q does not mention threat %q", where, ev.Name, *ev.Threat)
			}
		} else if ev.Group == "" || ev.Group == "PUA" {
			t.Fatalf("%s: group %q for a non-PUA type", where, ev.Group)
		}
		if ev.CustomerID != ts[ti].ID {
			t.Fatalf("%s: customer_id %q, want %q", where, ev.CustomerID, ts[ti].ID)
		}
		if !uuidV4RE.MatchString(ev.EndpointID) {
			t.Fatalf("%s: endpoint_id %q", where, ev.EndpointID)
		}
		if ev.Location == "" || ev.Source == "" {
			t.Fatalf("%s: empty location or source", where)
		}
		if ev.Source != "n/a" && !strings.Contains(ev.Source, `\`) {
			t.Fatalf("%s: source %q is neither n/a nor DOMAIN\\user", where, ev.Source)
		}
		if !ipRE.MatchString(ev.SourceIP) {
			t.Fatalf("%s: source ip %q", where, ev.SourceIP)
		}
		epTypes[ev.EndpointType]++
		if ev.UserID == nil {
			nulls["user_id"]++
		} else if !hex24RE.MatchString(*ev.UserID) {
			t.Fatalf("%s: user_id %q", where, *ev.UserID)
		}
		if ev.Source == "n/a" && ev.UserID != nil {
			t.Fatalf("%s: user_id without a user", where)
		}
		if ev.Origin == nil {
			nulls["origin"]++
		} else if o := *ev.Origin; o != "ML" && o != "SAV" && o != "BLOCKLISTED" {
			t.Fatalf("%s: origin %q", where, o)
		}
		if ev.AppSha256 == nil {
			nulls["appSha256"]++
			if ev.AppCerts != nil {
				t.Fatalf("%s: appCerts without appSha256", where)
			}
		} else if !hex64RE.MatchString(*ev.AppSha256) {
			t.Fatalf("%s: appSha256 %q", where, *ev.AppSha256)
		}
		if ev.AppCerts == nil {
			nulls["appCerts"]++
		}
		if len(ev.AppCerts) > 1 {
			t.Fatalf("%s: %d certs", where, len(ev.AppCerts))
		}
		for _, c := range ev.AppCerts {
			withCert++
			if c.Signer == "" || !hex64RE.MatchString(c.Thumbprint) {
				t.Fatalf("%s: cert %+v", where, c)
			}
		}
		wantRemedy := strings.HasPrefix(ev.Type, "Event::Endpoint::Core") && strings.Contains(ev.Type, "Clean") ||
			strings.HasSuffix(ev.Type, "CleanupFailed")
		if (ev.CoreRemedyItems != nil) != wantRemedy {
			t.Fatalf("%s: core_remedy_items %v, want present=%v", where, ev.CoreRemedyItems, wantRemedy)
		}
		for i, it := range ev.CoreRemedyItems {
			if it.Descriptor == "" || it.Type == "" || it.SuspendResult == "" {
				t.Fatalf("%s: remedy item %+v", where, it)
			}
			want := map[bool]string{true: "FAILED_TO_DELETE", false: "SUCCESS"}[strings.Contains(ev.Type, "Fail")]
			if strings.HasSuffix(ev.Type, "NothingFound") {
				want = "NOT_FOUND"
			}
			if it.Result != want {
				t.Fatalf("%s: remedy result %q, want %q", where, it.Result, want)
			}
			if i == 0 && strings.Contains(ev.Name, " at '") && !strings.Contains(ev.Name, "'"+it.Descriptor+"'") {
				t.Fatalf("%s: descriptor %q not the path in %q", where, it.Descriptor, ev.Name)
			}
		}
		switch {
		case strings.Contains(ev.Type, "HomePuaRemnants"):
			if len(ev.Details) == 0 || ev.Details[0].Type != "HOME_REMNANT_PATHS" || ev.Details[0].Property == "" {
				t.Fatalf("%s: details %+v", where, ev.Details)
			}
		case strings.Contains(ev.Type, "Hmpa"):
			if len(ev.Details) != 1 || ev.Details[0].Type != "HMPA_PROCESS_PATH" || ev.Details[0].Property == "" {
				t.Fatalf("%s: details %+v", where, ev.Details)
			}
		default:
			if ev.Details != nil {
				t.Fatalf("%s: unexpected details %+v", where, ev.Details)
			}
		}
		if !ev.CreatedAt.Equal(testCreated) || ev.CreatedAt.Location() != time.UTC {
			t.Fatalf("%s: created_at %v", where, ev.CreatedAt)
		}
		if d := ev.CreatedAt.Sub(ev.When); d < 0 || d > 3*time.Second || d%time.Millisecond != 0 {
			t.Fatalf("%s: when %v is %v before created_at", where, ev.When, d)
		}
	}
	if epTypes["computer"] < n/2 || epTypes["server"] == 0 || epTypes["mobile"] == 0 || epTypes["mobile"] > n/20 {
		t.Errorf("endpoint types %v", epTypes)
	}
	for _, f := range []string{"user_id", "origin", "appSha256", "appCerts"} {
		if nulls[f] == 0 {
			t.Errorf("%s is never null", f)
		}
	}
	if withCert == 0 {
		t.Errorf("no event carries an appCerts entry")
	}
	for k, v := range nulls {
		if v == n && k != "appCerts" {
			t.Errorf("%s is always null", k)
		}
	}
}

func TestCreatedNormalised(t *testing.T) {
	g := New(5, testOpts)
	tn := g.Tenant(0, nil)
	local := testCreated.Add(123456 * time.Nanosecond).In(time.FixedZone("X", 3600))
	ev := g.Event(tn, 0, 1, local)
	if !reflect.DeepEqual(ev.CreatedAt, testCreated) {
		t.Errorf("created_at %v, want %v", ev.CreatedAt, testCreated)
	}
}

func TestEndpointStability(t *testing.T) {
	g := New(21, testOpts)
	for ti := range 3 {
		tn := g.Tenant(ti, nil)
		type ep struct{ host, typ string }
		byID := map[string]ep{}
		byHost := map[string]string{}
		for seq := range uint64(20000) {
			ev := g.Event(tn, ti, seq, testCreated)
			cur := ep{ev.Location, ev.EndpointType}
			if prev, ok := byID[ev.EndpointID]; ok && prev != cur {
				t.Fatalf("tenant %d: endpoint %s was %+v, now %+v", ti, ev.EndpointID, prev, cur)
			}
			byID[ev.EndpointID] = cur
			if prev, ok := byHost[ev.Location]; ok && prev != ev.EndpointID {
				t.Fatalf("tenant %d: host %q has endpoint ids %s and %s", ti, ev.Location, prev, ev.EndpointID)
			}
			byHost[ev.Location] = ev.EndpointID
		}
		// 5..200 ordinary endpoints plus at most one per hostile host name.
		if n := len(byID); n < 5 || n > 200+len(hostileHosts) {
			t.Errorf("tenant %d: %d distinct endpoints", ti, n)
		}
	}
	// Endpoints of the same tenant are the same in another generator with
	// the same seed but different shares.
	other := New(21, Options{OtherShare: 0.1})
	a := map[string]string{}
	for seq := range uint64(5000) {
		ev := g.Event(g.Tenant(0, nil), 0, seq, testCreated)
		a[ev.EndpointID] = ev.Location
	}
	for seq := range uint64(5000) {
		ev := other.Event(other.Tenant(0, nil), 0, seq, testCreated)
		if h, ok := a[ev.EndpointID]; ok && h != ev.Location {
			t.Fatalf("endpoint %s: host %q vs %q across generators", ev.EndpointID, h, ev.Location)
		}
	}
}

func TestEndpointCounts(t *testing.T) {
	g := New(99, testOpts)
	lo, hi := 1000, 0
	for ti := range 500 {
		n := endpointCount(g.tenantKey(ti))
		lo, hi = min(lo, n), max(hi, n)
	}
	if lo < 5 || hi > 200 || hi-lo < 100 {
		t.Errorf("endpoint counts range %d..%d, want a spread within 5..200", lo, hi)
	}
}

func TestTenants(t *testing.T) {
	g := New(8, testOpts)
	regions := []string{"eu01", "eu02", "us01", "us02", "us03", "ca01", "au01", "jp01", "br01", "in01"}
	geo := map[string]string{"eu01": "IE", "eu02": "DE", "us01": "US", "us02": "US", "us03": "US",
		"ca01": "CA", "au01": "AU", "jp01": "JP", "br01": "BR", "in01": "IN"}
	names, ids := map[string]int{}, map[string]bool{}
	usedRegions, billing := map[string]bool{}, map[string]int{}
	nonASCII := 0
	const n = 1000 // more than the name pool: forces numbered names
	for i := range n {
		tn := g.Tenant(i, regions)
		if prev, dup := names[tn.Name]; dup {
			t.Fatalf("tenants %d and %d share the name %q", prev, i, tn.Name)
		}
		names[tn.Name] = i
		if !uuidV4RE.MatchString(tn.ID) || ids[tn.ID] {
			t.Fatalf("tenant %d: bad or duplicate id %q", i, tn.ID)
		}
		ids[tn.ID] = true
		if geo[tn.Region] == "" || tn.Geography != geo[tn.Region] {
			t.Fatalf("tenant %d: region %q geography %q", i, tn.Region, tn.Geography)
		}
		usedRegions[tn.Region] = true
		billing[tn.BillingType]++
		if i < 200 && hasNonASCII(tn.Name) {
			nonASCII++
		}
	}
	if len(usedRegions) != len(regions) {
		t.Errorf("only regions %v used", usedRegions)
	}
	if len(billing) != 3 || billing["term"]+billing["trial"]+billing["usage"] != n || billing["term"] < n/2 {
		t.Errorf("billing types %v", billing)
	}
	if nonASCII < 10 || nonASCII > 120 {
		t.Errorf("%d of 200 names are non-ASCII", nonASCII)
	}
	for i := range 20 {
		if tn := g.Tenant(i, []string{"us02"}); tn.Region != "us02" || tn.Geography != "US" {
			t.Fatalf("single region: %+v", tn)
		}
		if a, b := g.Tenant(i, []string{"us02"}), g.Tenant(i, regions); a.ID != b.ID || a.Name != b.Name {
			t.Fatalf("tenant %d identity depends on the region list", i)
		}
	}
}

func TestEventTypeNoAlloc(t *testing.T) {
	g := New(1, testOpts)
	var seq uint64
	if a := testing.AllocsPerRun(1000, func() { _ = g.EventType(2, seq); seq++ }); a != 0 {
		t.Errorf("EventType allocates %.1f times per call", a)
	}
}

func BenchmarkEvent(b *testing.B) {
	g := New(1, testOpts)
	ts := testTenants(g, 4)
	b.ReportAllocs()
	var seq uint64
	for b.Loop() {
		ti := seq2ti(seq)
		_ = g.Event(ts[ti], ti, seq, testCreated)
		seq++
	}
}

func BenchmarkEventType(b *testing.B) {
	g := New(1, testOpts)
	b.ReportAllocs()
	var seq uint64
	var sink int
	for b.Loop() {
		sink += len(g.EventType(int(seq&3), seq))
		seq++
	}
	_ = sink
}

func BenchmarkEventID(b *testing.B) {
	g := New(1, testOpts)
	b.ReportAllocs()
	var seq uint64
	for b.Loop() {
		_ = g.eventID(int(seq&3), seq)
		seq++
	}
}
