package sim

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// tcPartnerTenantIDs lists the tenant ids the partner API returns.
func tcPartnerTenantIDs(t testing.TB, s *Simulator, tok string) []string {
	t.Helper()
	st, _, b := get(t, s.GlobalURL()+"/partner/v1/tenants?pageSize=100&pageTotal=true", tok, "X-Partner-ID: "+tcCred(t, s, "partner").ID)
	if st != http.StatusOK {
		t.Fatalf("partner tenants: %d %s", st, b)
	}
	var p tcTenantPage
	tcDecode(t, b, &p)
	if p.Pages["items"] != len(p.Items) {
		t.Fatalf("partner tenants: pages.items %d but %d items (more than one page?)", p.Pages["items"], len(p.Items))
	}
	var ids []string
	for _, it := range p.Items {
		id, _ := it["id"].(string)
		ids = append(ids, id)
	}
	return ids
}

// tcSIEMEvents reads one SIEM events page of a tenant with the partner
// token and returns the status and the decoded items.
func tcSIEMEvents(t testing.TB, s *Simulator, tok, tenantID string) (int, []map[string]any, []byte) {
	t.Helper()
	st, _, b := get(t, eventsURL(t, s, tenantID, "limit=1000"), tok, "X-Tenant-ID: "+tenantID)
	if st != http.StatusOK {
		return st, nil, b
	}
	var p struct {
		HasMore bool             `json:"has_more"`
		Items   []map[string]any `json:"items"`
	}
	tcDecode(t, b, &p)
	if p.HasMore {
		t.Fatalf("SIEM page of %s has more than 1000 items; the test expects one page", tenantID)
	}
	return st, p.Items, b
}

func TestControlCredentials(t *testing.T) {
	s, srv := startSim(t, tcConfig(newFakeClock()))
	st, b := tcCtl(t, s, http.MethodGet, "/sim/v1/credentials", "")
	if st != http.StatusOK {
		t.Fatalf("credentials: %d %s", st, b)
	}
	var got struct {
		TokenURL    string       `json:"token_url"`
		APIURL      string       `json:"api_url"`
		Credentials []Credential `json:"credentials"`
	}
	tcDecode(t, b, &got)
	if got.TokenURL != srv.GlobalURL+"/api/v2/oauth2/token" {
		t.Errorf("token_url %q, want %q", got.TokenURL, srv.GlobalURL+"/api/v2/oauth2/token")
	}
	if got.APIURL != srv.GlobalURL {
		t.Errorf("api_url %q, want %q", got.APIURL, srv.GlobalURL)
	}
	if !slices.Equal(got.Credentials, s.Credentials()) {
		t.Errorf("credentials = %+v, want %+v", got.Credentials, s.Credentials())
	}
	types := map[string]bool{}
	for _, c := range got.Credentials {
		types[c.IDType] = true
		if c.ClientID == "" || c.ClientSecret == "" || c.ID == "" {
			t.Errorf("incomplete credential %+v", c)
			continue
		}
		// Each listed credential gets a token that whoami knows.
		st, m := tcTokenForm(t, s, tcForm(c))
		if st != http.StatusOK {
			t.Errorf("%s credential: token %d %v", c.IDType, st, m)
			continue
		}
		st, b := tcWhoami(t, s, m["access_token"].(string))
		var who struct{ ID, IDType string }
		tcDecode(t, b, &who)
		if st != http.StatusOK || who.ID != c.ID || who.IDType != c.IDType {
			t.Errorf("%s credential: whoami %d %s, want id %s", c.IDType, st, b, c.ID)
		}
	}
	if len(got.Credentials) != 3 || !types["partner"] || !types["organization"] || !types["tenant"] {
		t.Errorf("credential types %v, want partner, organization and tenant once each", types)
	}
}

func TestControlTenants(t *testing.T) {
	s, srv := startSim(t, tcConfig(newFakeClock()))
	tok := fetchToken(t, s, "partner")

	st, b := tcCtl(t, s, http.MethodGet, "/sim/v1/tenants", "")
	if st != http.StatusOK {
		t.Fatalf("GET tenants: %d %s", st, b)
	}
	var list struct{ Items []TenantInfo }
	tcDecode(t, b, &list)
	if !slices.Equal(list.Items, s.Tenants()) || len(list.Items) != 5 {
		t.Errorf("GET /sim/v1/tenants = %+v, want the 5 tenants %+v", list.Items, s.Tenants())
	}

	// Add a tenant with a name and region.
	st, b = tcCtl(t, s, http.MethodPost, "/sim/v1/tenants", `{"name":"Added Test GmbH","region":"us03"}`)
	if st != http.StatusCreated {
		t.Fatalf("POST tenants: %d %s, want 201", st, b)
	}
	var added TenantInfo
	tcDecode(t, b, &added)
	if added.ID == "" || added.Name != "Added Test GmbH" || added.Region != "us03" || added.APIHost != srv.RegionURLs["us03"] {
		t.Errorf("added tenant %+v: want a new id, the given name, region us03 and apiHost %s", added, srv.RegionURLs["us03"])
	}
	for _, ti := range list.Items {
		if ti.ID == added.ID {
			t.Errorf("added tenant reuses the id of %s", ti.Name)
		}
	}
	// And one with generated values.
	st, b = tcCtl(t, s, http.MethodPost, "/sim/v1/tenants", `{}`)
	var generated TenantInfo
	tcDecode(t, b, &generated)
	if st != http.StatusCreated || generated.ID == "" || generated.Name == "" || srv.RegionURLs[generated.Region] != generated.APIHost {
		t.Errorf("POST tenants {}: %d %s, want 201 with a generated tenant in a known region", st, b)
	}

	ids := tcPartnerTenantIDs(t, s, tok)
	if len(ids) != 7 || !slices.Contains(ids, added.ID) || !slices.Contains(ids, generated.ID) {
		t.Errorf("partner list after adding two tenants = %v, want 7 ids including %s and %s", ids, added.ID, generated.ID)
	}
	pid := "X-Partner-ID: " + tcCred(t, s, "partner").ID
	if st, _, b := get(t, s.GlobalURL()+"/partner/v1/tenants/"+added.ID, tok, pid); st != http.StatusOK {
		t.Errorf("GET the added tenant: %d %s", st, b)
	}
	// Its SIEM works on its region's host, with an empty backlog.
	st, items, b := tcSIEMEvents(t, s, tok, added.ID)
	if st != http.StatusOK || len(items) != 0 {
		t.Errorf("SIEM of the added tenant: %d %s, want 200 with no items", st, b)
	}

	// Unknown region, bad bodies.
	for _, body := range []string{`{"region":"xx99"}`, `{"name":"x","region":"eu02"}`, `{"nme":"typo"}`, `not json`, ``} {
		if st, b := tcCtl(t, s, http.MethodPost, "/sim/v1/tenants", body); st != http.StatusBadRequest {
			t.Errorf("POST tenants %q: %d %s, want 400", body, st, b)
		}
	}
	if n := len(s.Tenants()); n != 7 {
		t.Errorf("%d tenants after rejected additions, want 7", n)
	}

	// Remove the added tenant and one from the start.
	victim := list.Items[1]
	for _, id := range []string{added.ID, victim.ID} {
		if st, b := tcCtl(t, s, http.MethodDelete, "/sim/v1/tenants/"+id, ""); st != http.StatusNoContent {
			t.Errorf("DELETE %s: %d %s, want 204", id, st, b)
		}
		if st, b := tcCtl(t, s, http.MethodDelete, "/sim/v1/tenants/"+id, ""); st != http.StatusNotFound {
			t.Errorf("second DELETE %s: %d %s, want 404", id, st, b)
		}
	}
	ids = tcPartnerTenantIDs(t, s, tok)
	if len(ids) != 5 || slices.Contains(ids, added.ID) || slices.Contains(ids, victim.ID) {
		t.Errorf("partner list after removals = %v, want 5 ids without %s and %s", ids, added.ID, victim.ID)
	}
	for _, gone := range []TenantInfo{added, victim} {
		if st, _, b := get(t, s.GlobalURL()+"/partner/v1/tenants/"+gone.ID, tok, pid); st != http.StatusNotFound {
			t.Errorf("GET removed tenant %s: %d %s, want 404", gone.ID, st, b)
		}
		st, _, b := get(t, gone.APIHost+"/siem/v1/events?limit=5", tok, "X-Tenant-ID: "+gone.ID)
		if st != http.StatusForbidden {
			t.Errorf("SIEM of removed tenant %s: %d %s, want 403", gone.ID, st, b)
		}
		if st, b := tcCtl(t, s, http.MethodGet, "/sim/v1/tenants/"+gone.ID+"/events", ""); st != http.StatusNotFound {
			t.Errorf("control events of removed tenant %s: %d %s, want 404", gone.ID, st, b)
		}
	}
	if st, b := tcCtl(t, s, http.MethodDelete, "/sim/v1/tenants/00000000-0000-4000-8000-000000000000", ""); st != http.StatusNotFound {
		t.Errorf("DELETE unknown tenant: %d %s, want 404", st, b)
	}
}

func TestControlInjectEvents(t *testing.T) {
	clock := newFakeClock()
	s, _ := startSim(t, tcConfig(clock))
	tok := fetchToken(t, s, "partner")
	ti := s.Tenants()[2]
	other := s.Tenants()[3]
	_, before, _ := tcSIEMEvents(t, s, tok, ti.ID)

	body := `{"events":[
		{"type":"Event::Endpoint::CorePuaDetection","name":"PUA detected: 'SimTest' at 'C:\\x.exe'","severity":"high","customer_id":"` + other.ID + `"},
		{"id":"11111111-2222-4333-8444-555555555555","type":"Event::Endpoint::SimTestInjected","name":"second"}]}`
	st, b := tcCtl(t, s, http.MethodPost, "/sim/v1/tenants/"+ti.ID+"/events", body)
	if st != http.StatusCreated {
		t.Fatalf("inject: %d %s, want 201", st, b)
	}
	var res struct{ IDs []string }
	tcDecode(t, b, &res)
	if len(res.IDs) != 2 || res.IDs[0] == "" || res.IDs[1] != "11111111-2222-4333-8444-555555555555" {
		t.Fatalf("inject ids %v, want a generated id and the given one", res.IDs)
	}

	st, items, b := tcSIEMEvents(t, s, tok, ti.ID)
	if st != http.StatusOK {
		t.Fatalf("SIEM: %d %s", st, b)
	}
	if len(items) != len(before)+2 {
		t.Errorf("SIEM has %d items after injecting 2 into %d", len(items), len(before))
	}
	found := map[string]map[string]any{}
	for _, it := range items {
		if id, _ := it["id"].(string); slices.Contains(res.IDs, id) {
			found[id] = it
		}
	}
	for i, id := range res.IDs {
		it, ok := found[id]
		if !ok {
			t.Errorf("injected event %s not in GET /siem/v1/events", id)
			continue
		}
		if it["customer_id"] != ti.ID {
			t.Errorf("injected event %s: customer_id %v, want the tenant %s", id, it["customer_id"], ti.ID)
		}
		wantType := []string{"Event::Endpoint::CorePuaDetection", "Event::Endpoint::SimTestInjected"}[i]
		if it["type"] != wantType {
			t.Errorf("injected event %s: type %v, want %s", id, it["type"], wantType)
		}
		if want := clock.Now().Format(tsLayout); it["created_at"] != want {
			t.Errorf("injected event %s: created_at %v, want now (%s)", id, it["created_at"], want)
		}
	}
	if it := found[res.IDs[0]]; it != nil && it["name"] != `PUA detected: 'SimTest' at 'C:\x.exe'` {
		t.Errorf("injected name came back as %v", it["name"])
	}
	// The other tenant does not get them.
	_, otherItems, _ := tcSIEMEvents(t, s, tok, other.ID)
	for _, it := range otherItems {
		if slices.Contains(res.IDs, it["id"].(string)) {
			t.Errorf("injected event %v shows up in tenant %s", it["id"], other.ID)
		}
	}

	// GET /sim/v1/tenants/{id}/events is the ground truth and has them too.
	st, b = tcCtl(t, s, http.MethodGet, "/sim/v1/tenants/"+ti.ID+"/events", "")
	if st != http.StatusOK {
		t.Fatalf("control events: %d %s", st, b)
	}
	var truth struct{ Items []map[string]any }
	tcDecode(t, b, &truth)
	if len(truth.Items) != len(items) {
		t.Errorf("control events has %d items, SIEM %d", len(truth.Items), len(items))
	}
	for i := range min(len(truth.Items), len(items)) {
		if truth.Items[i]["id"] != items[i]["id"] {
			t.Errorf("item %d: control events id %v, SIEM id %v (same order expected)", i, truth.Items[i]["id"], items[i]["id"])
			break
		}
	}
	if st, b := tcCtl(t, s, http.MethodGet, "/sim/v1/tenants/no-such-tenant/events", ""); st != http.StatusNotFound {
		t.Errorf("control events of an unknown tenant: %d %s, want 404", st, b)
	}

	// visible_at holds an event back until the clock gets there.
	visible := clock.Now().Add(10 * time.Minute).Format(time.RFC3339)
	st, b = tcCtl(t, s, http.MethodPost, "/sim/v1/tenants/"+ti.ID+"/events",
		`{"visible_at":"`+visible+`","events":[{"id":"late-1","type":"Event::Endpoint::CorePuaDetection"}]}`)
	if st != http.StatusCreated {
		t.Fatalf("inject with visible_at: %d %s", st, b)
	}
	has := func() bool {
		_, items, _ := tcSIEMEvents(t, s, tok, ti.ID)
		return slices.ContainsFunc(items, func(it map[string]any) bool { return it["id"] == "late-1" })
	}
	if has() {
		t.Errorf("event with visible_at in 10 minutes is visible now")
	}
	clock.Advance(11 * time.Minute)
	if !has() {
		t.Errorf("event with visible_at 10 minutes ahead is not visible 11 minutes later")
	}

	// Rejected injections change nothing.
	n := len(s.Tenants())
	for _, tc := range []struct{ name, body string }{
		{"missing type", `{"events":[{"name":"no type"}]}`},
		{"missing type in the second event", `{"events":[{"type":"Event::Endpoint::CorePuaDetection","id":"never-1"},{"name":"no type"}]}`},
		{"unknown top-level field", `{"events":[{"type":"Event::Endpoint::CorePuaDetection","id":"never-2"}],"visible":"x"}`},
		{"unknown event field", `{"events":[{"type":"Event::Endpoint::CorePuaDetection","id":"never-3","severty":"high"}]}`},
		{"not JSON", `events`},
	} {
		st, b := tcCtl(t, s, http.MethodPost, "/sim/v1/tenants/"+ti.ID+"/events", tc.body)
		if st != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", tc.name, st, b)
			continue
		}
		var e map[string]any
		tcDecode(t, b, &e)
		if msg, _ := e["message"].(string); msg == "" {
			t.Errorf("%s: 400 without a message: %s", tc.name, b)
		}
	}
	if st, b := tcCtl(t, s, http.MethodPost, "/sim/v1/tenants/no-such-tenant/events", `{"events":[{"type":"x"}]}`); st/100 != 4 {
		t.Errorf("inject into an unknown tenant: %d %s, want a 4xx", st, b)
	}
	evs, err := s.Events(ti.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if strings.HasPrefix(e.ID, "never-") {
			t.Errorf("rejected injection stored event %s", e.ID)
		}
	}
	if len(s.Tenants()) != n {
		t.Errorf("tenant count changed")
	}
}

func TestControlCounters(t *testing.T) {
	clock := newFakeClock()
	cfg := tcConfig(clock)
	cfg.Tenants = 3
	cfg.EventsPerTenant = 40
	s, _ := startSim(t, cfg)
	tenants := s.Tenants()
	injected := tenants[1].ID
	st, b := tcCtl(t, s, http.MethodPost, "/sim/v1/tenants/"+injected+"/events", `{"events":[
		{"type":"Event::Endpoint::SimTestCounted"},{"type":"Event::Endpoint::SimTestCounted"},
		{"type":"Event::Endpoint::CorePuaDetection"}]}`)
	if st != http.StatusCreated {
		t.Fatalf("inject: %d %s", st, b)
	}

	// API calls: 2 token, 3 whoami, 2 partner tenants, 1 SIEM events, 1 SIEM alerts, 1 unknown route.
	tok := fetchToken(t, s, "partner")
	fetchToken(t, s, "tenant")
	for range 3 {
		if st, b := tcWhoami(t, s, tok); st != http.StatusOK {
			t.Fatalf("whoami: %d %s", st, b)
		}
	}
	pid := "X-Partner-ID: " + tcCred(t, s, "partner").ID
	get(t, s.GlobalURL()+"/partner/v1/tenants", tok, pid)
	get(t, s.GlobalURL()+"/partner/v1/tenants/"+tenants[0].ID, tok, pid)
	get(t, eventsURL(t, s, tenants[0].ID, ""), tok, "X-Tenant-ID: "+tenants[0].ID)
	get(t, strings.Replace(eventsURL(t, s, tenants[0].ID, ""), "/events", "/alerts", 1), tok, "X-Tenant-ID: "+tenants[0].ID)
	get(t, s.GlobalURL()+"/no/such/route", tok)

	var c Counters
	read := func() {
		t.Helper()
		st, b := tcCtl(t, s, http.MethodGet, "/sim/v1/counters", "")
		if st != http.StatusOK {
			t.Fatalf("counters: %d %s", st, b)
		}
		c = Counters{}
		tcDecode(t, b, &c)
	}
	read()

	// events_generated matches the stored events, type by type.
	if len(c.Events) != len(tenants) {
		t.Errorf("events_generated has %d tenants, want %d", len(c.Events), len(tenants))
	}
	for _, ti := range tenants {
		evs, err := s.Events(ti.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int{}
		for _, e := range evs {
			want[e.Type]++
		}
		got := c.Events[ti.ID]
		if !maps.Equal(got, want) {
			t.Errorf("tenant %s: events_generated %v, want (from its events) %v", ti.ID, got, want)
		}
		sum := 0
		for _, n := range got {
			sum += n
		}
		wantSum := cfg.EventsPerTenant
		if ti.ID == injected {
			wantSum += 3
			if got["Event::Endpoint::SimTestCounted"] != 2 {
				t.Errorf("tenant %s: %d SimTestCounted events counted, want 2", ti.ID, got["Event::Endpoint::SimTestCounted"])
			}
		}
		if sum != wantSum {
			t.Errorf("tenant %s: events_generated sums to %d, want %d", ti.ID, sum, wantSum)
		}
	}

	// Requests per route; the control API is not counted.
	wantReq := map[string]int64{"token": 2, "whoami": 3, "partner_tenants": 2, "siem_events": 1, "siem_alerts": 1, "other": 1}
	if !maps.Equal(c.Requests, wantReq) {
		t.Errorf("requests = %v, want %v", c.Requests, wantReq)
	}
	if c.Stats["tokens_issued"] != 2 {
		t.Errorf("stats.tokens_issued = %d, want 2", c.Stats["tokens_issued"])
	}
	if c.Stats["rate_limited"] != 0 {
		t.Errorf("stats.rate_limited = %d before any limit", c.Stats["rate_limited"])
	}

	// A 429 is counted as rate_limited.
	st, b = tcCtl(t, s, http.MethodPut, "/sim/v1/settings", `{"limits":{"per_second":1}}`)
	if st != http.StatusOK {
		t.Fatalf("set limits: %d %s", st, b)
	}
	if st, _, b := get(t, s.GlobalURL()+"/whoami/v1", tok); st != http.StatusOK {
		t.Fatalf("first whoami under a 1/s limit: %d %s", st, b)
	}
	st, hdr, b := get(t, s.GlobalURL()+"/whoami/v1", tok)
	if st != http.StatusTooManyRequests {
		t.Fatalf("second whoami in the same (fake) second: %d %s, want 429", st, b)
	}
	if ra, err := strconv.Atoi(hdr.Get("Retry-After")); err != nil || ra < 1 {
		t.Errorf("429 Retry-After %q, want a whole number of seconds from 1", hdr.Get("Retry-After"))
	}
	read()
	if c.Stats["rate_limited"] != 1 {
		t.Errorf("stats.rate_limited = %d after one 429, want 1", c.Stats["rate_limited"])
	}
	if c.Requests["whoami"] != 5 {
		t.Errorf("requests.whoami = %d, want 5 (rate-limited calls count too)", c.Requests["whoami"])
	}
}

func TestControlSettings(t *testing.T) {
	s, _ := startSim(t, tcConfig(newFakeClock()))
	readSettings := func() (Settings, map[string]any) {
		t.Helper()
		st, b := tcCtl(t, s, http.MethodGet, "/sim/v1/settings", "")
		if st != http.StatusOK {
			t.Fatalf("GET settings: %d %s", st, b)
		}
		var set Settings
		tcDecode(t, b, &set)
		var raw map[string]any
		tcDecode(t, b, &raw)
		return set, raw
	}
	initial, raw := readSettings()
	if initial.TokenLifetime != Duration(time.Hour) || initial.Faults.ReplayRate != 0 || initial.Limits != (RateLimits{}) {
		t.Errorf("initial settings %+v, want the config's (1h tokens, no faults, no limits)", initial)
	}
	if raw["token_lifetime"] != "1h0m0s" {
		t.Errorf("token_lifetime is written as %v, want duration text \"1h0m0s\"", raw["token_lifetime"])
	}

	steps := []struct {
		body   string
		change func(*Settings)
	}{
		{`{"faults":{"replay_rate":0.25,"latency":"0s"}}`, func(st *Settings) { st.Faults.ReplayRate = 0.25 }},
		{`{"limits":{"per_minute":70,"per_day":5000}}`, func(st *Settings) { st.Limits.PerMinute, st.Limits.PerDay = 70, 5000 }},
		{`{"faults":{"forbidden_tenants":["x"]}}`, func(st *Settings) { st.Faults.ForbiddenTenants = []string{"x"} }},
		{`{"token_lifetime":"45s"}`, func(st *Settings) { st.TokenLifetime = Duration(45 * time.Second) }},
	}
	want := initial
	for _, step := range steps {
		step.change(&want)
		st, b := tcCtl(t, s, http.MethodPut, "/sim/v1/settings", step.body)
		if st != http.StatusOK {
			t.Fatalf("PUT %s: %d %s", step.body, st, b)
		}
		var echoed Settings
		tcDecode(t, b, &echoed)
		got, _ := readSettings()
		for what, v := range map[string]Settings{"PUT answer": echoed, "GET": got, "Simulator.Settings": s.Settings()} {
			if !tcSameSettings(v, want) {
				t.Errorf("after PUT %s: %s = %+v, want %+v (other values kept)", step.body, what, v, want)
			}
		}
	}
	// The new token lifetime applies to tokens issued from now on.
	if st, m := tcTokenForm(t, s, tcForm(tcCred(t, s, "partner"))); st != 200 || m["expires_in"] != float64(45) {
		t.Errorf("token after token_lifetime 45s: %d expires_in %v, want 45", st, m["expires_in"])
	}

	for _, tc := range []struct{ body, field string }{
		{`{"faults":{"error_rate":1.5}}`, "error_rate"},
		{`{"faults":{"replay_rate":-0.1}}`, "replay_rate"},
		{`{"faults":{"revoke_rate":2}}`, "revoke_rate"},
		{`{"limits":{"per_second":-1}}`, "per_second"},
		{`{"faults":{"latency":"-1s"}}`, "negative"},
		{`{"faults":{"latency":"soon"}}`, "soon"},
		{`{"faults":{"error_rat":0.1}}`, "error_rat"},
	} {
		st, b := tcCtl(t, s, http.MethodPut, "/sim/v1/settings", tc.body)
		if st != http.StatusBadRequest {
			t.Errorf("PUT %s: %d %s, want 400", tc.body, st, b)
			continue
		}
		var e map[string]any
		tcDecode(t, b, &e)
		if msg, _ := e["message"].(string); !strings.Contains(msg, tc.field) {
			t.Errorf("PUT %s: message %q does not name %q", tc.body, msg, tc.field)
		}
		if got, _ := readSettings(); !tcSameSettings(got, want) {
			t.Errorf("rejected PUT %s changed the settings to %+v", tc.body, got)
		}
	}
}

// tcSameSettings compares settings, treating nil and empty lists alike.
func tcSameSettings(a, b Settings) bool {
	fa, fb := a.Faults, b.Faults
	return slices.Equal(fa.ForbiddenTenants, fb.ForbiddenTenants) &&
		fa.ErrorRate == fb.ErrorRate && fa.Latency == fb.Latency && fa.HangRate == fb.HangRate &&
		fa.HangFor == fb.HangFor && fa.MalformedRate == fb.MalformedRate && fa.ReplayRate == fb.ReplayRate &&
		fa.RevokeRate == fb.RevokeRate && fa.TokenHang == fb.TokenHang && a.Limits == b.Limits && a.TokenLifetime == b.TokenLifetime
}

func TestControlClock(t *testing.T) {
	clock := newFakeClock()
	s, _ := startSim(t, tcConfig(clock))
	tok := fetchToken(t, s, "partner") // 1h lifetime
	st, b := tcCtl(t, s, http.MethodPost, "/sim/v1/clock", `{"advance":"30m"}`)
	if st != http.StatusOK {
		t.Fatalf("advance 30m: %d %s", st, b)
	}
	var res struct{ Now string }
	tcDecode(t, b, &res)
	if want := clock.Now().Add(30 * time.Minute).Format(tsLayout); res.Now != want {
		t.Errorf("now after advancing 30m = %q, want %q", res.Now, want)
	}
	if st, b := tcWhoami(t, s, tok); st != http.StatusOK {
		t.Errorf("1h token 30m later: %d %s", st, b)
	}
	st, b = tcCtl(t, s, http.MethodPost, "/sim/v1/clock", `{"advance":"31m"}`)
	tcDecode(t, b, &res)
	if want := clock.Now().Add(61 * time.Minute).Format(tsLayout); st != http.StatusOK || res.Now != want {
		t.Errorf("advance 31m more: %d now %q, want 200 and %q", st, res.Now, want)
	}
	st, b = tcWhoami(t, s, tok)
	tcCheckUnauthorized(t, "1h token after the clock moved 61m", st, b)

	// The fake clock and the control clock add up.
	clock.Advance(time.Hour)
	st, b = tcCtl(t, s, http.MethodPost, "/sim/v1/clock", `{"advance":"0s"}`)
	tcDecode(t, b, &res)
	if want := clock.Now().Add(61 * time.Minute).Format(tsLayout); st != http.StatusOK || res.Now != want {
		t.Errorf("advance 0s: %d now %q, want %q", st, res.Now, want)
	}
	for _, body := range []string{`{"advance":"-1h"}`, `{"advance":"soon"}`, `{"advance":3600}`, `{"forward":"1h"}`} {
		if st, b := tcCtl(t, s, http.MethodPost, "/sim/v1/clock", body); st != http.StatusBadRequest {
			t.Errorf("POST clock %s: %d %s, want 400", body, st, b)
		}
	}
	st, b = tcCtl(t, s, http.MethodPost, "/sim/v1/clock", `{"advance":"0s"}`)
	tcDecode(t, b, &res)
	if want := clock.Now().Add(61 * time.Minute).Format(tsLayout); st != http.StatusOK || res.Now != want {
		t.Errorf("rejected advances moved the clock: now %q, want %q", res.Now, want)
	}
}

func TestControlOnlyOnGlobalHost(t *testing.T) {
	s, srv := startSim(t, tcConfig(newFakeClock()))
	tid := s.Tenants()[0].ID
	routes := []struct{ method, path, body string }{
		{http.MethodGet, "/sim/v1/credentials", ""},
		{http.MethodGet, "/sim/v1/tenants", ""},
		{http.MethodPost, "/sim/v1/tenants", `{}`},
		{http.MethodDelete, "/sim/v1/tenants/" + tid, ""},
		{http.MethodPost, "/sim/v1/tenants/" + tid + "/events", `{"events":[{"type":"Event::Endpoint::CorePuaDetection"}]}`},
		{http.MethodGet, "/sim/v1/tenants/" + tid + "/events", ""},
		{http.MethodGet, "/sim/v1/counters", ""},
		{http.MethodGet, "/sim/v1/settings", ""},
		{http.MethodPut, "/sim/v1/settings", `{"faults":{"error_rate":1}}`},
		{http.MethodPost, "/sim/v1/tokens/revoke", ""},
		{http.MethodPost, "/sim/v1/clock", `{"advance":"1h"}`},
	}
	tok := fetchToken(t, s, "partner")
	for region, base := range srv.RegionURLs {
		for _, r := range routes {
			st, _, b := tcDo(t, r.method, base+r.path, r.body, "Content-Type: application/json")
			if st != http.StatusNotFound {
				t.Errorf("%s %s on region %s host: %d %s, want 404", r.method, r.path, region, st, b)
			}
		}
	}
	// None of them took effect.
	if n := len(s.Tenants()); n != 5 {
		t.Errorf("%d tenants after control calls on region hosts, want 5", n)
	}
	if evs, _ := s.Events(tid); len(evs) != 20 {
		t.Errorf("tenant has %d events after control calls on region hosts, want 20", len(evs))
	}
	if st, b := tcWhoami(t, s, tok); st != http.StatusOK {
		t.Errorf("whoami after control calls on region hosts: %d %s (tokens revoked, clock moved or faults set?)", st, b)
	}
	// And the global host serves them.
	if st, b := tcCtl(t, s, http.MethodGet, "/sim/v1/settings", ""); st != http.StatusOK || !json.Valid(b) {
		t.Errorf("GET settings on the global host: %d %s", st, b)
	}
}
