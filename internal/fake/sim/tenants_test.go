package sim

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
)

// tcKinds are the two tenant-listing routes and what they need.
var tcKinds = []struct {
	kind   string // credential type: partner or organization
	path   string
	header string
}{
	{"partner", "/partner/v1/tenants", "X-Partner-ID"},
	{"organization", "/organization/v1/tenants", "X-Organization-ID"},
}

// tcTenantPage is a decoded tenant list answer; Pages stays a map so that
// absent keys can be told from zeros.
type tcTenantPage struct {
	Items []map[string]any `json:"items"`
	Pages map[string]int   `json:"pages"`
}

func TestTenantListPaging(t *testing.T) {
	cfg := tcConfig(newFakeClock())
	cfg.Tenants = 23
	cfg.EventsPerTenant = 0
	cfg.TenantPageMax = 10
	s, _ := startSim(t, cfg)
	want := s.Tenants()
	if len(want) != 23 {
		t.Fatalf("simulator has %d tenants, want 23", len(want))
	}
	for _, k := range tcKinds {
		t.Run(k.kind, func(t *testing.T) {
			tok := fetchToken(t, s, k.kind)
			hdr := k.header + ": " + tcCred(t, s, k.kind).ID
			list := func(t *testing.T, query string) (tcTenantPage, []byte) {
				t.Helper()
				st, _, b := get(t, s.GlobalURL()+k.path+"?"+query, tok, hdr)
				if st != http.StatusOK {
					t.Fatalf("%s?%s: status %d, want 200; body %s", k.path, query, st, b)
				}
				var p tcTenantPage
				tcDecode(t, b, &p)
				return p, b
			}

			t.Run("pageSize 5 without pageTotal", func(t *testing.T) {
				seen := map[string]int{}
				var order []string
				wantLens := []int{5, 5, 5, 5, 3, 0}
				for page := 1; page <= len(wantLens); page++ {
					p, b := list(t, fmt.Sprintf("page=%d&pageSize=5", page))
					if len(p.Items) != wantLens[page-1] {
						t.Errorf("page %d has %d items, want %d", page, len(p.Items), wantLens[page-1])
					}
					if p.Pages["current"] != page || p.Pages["size"] != 5 || p.Pages["maxSize"] != 10 {
						t.Errorf("page %d: pages = %v, want current %d, size 5, maxSize 10", page, p.Pages, page)
					}
					for _, key := range []string{"total", "items"} {
						if _, ok := p.Pages[key]; ok {
							t.Errorf("page %d: pages.%s present without pageTotal=true: %s", page, key, b)
						}
					}
					for _, it := range p.Items {
						id, _ := it["id"].(string)
						seen[id]++
						order = append(order, id)
					}
				}
				for _, ti := range want {
					if seen[ti.ID] != 1 {
						t.Errorf("tenant %s listed %d times across pages, want once", ti.ID, seen[ti.ID])
					}
				}
				if len(order) != len(want) {
					t.Errorf("%d items across pages, want %d", len(order), len(want))
				}
				for i := range min(len(order), len(want)) {
					if order[i] != want[i].ID {
						t.Errorf("item %d across pages is %s, want %s (listing order)", i, order[i], want[i].ID)
						break
					}
				}
			})

			t.Run("pageTotal", func(t *testing.T) {
				for _, tc := range []struct {
					query            string
					size, total, len int
				}{
					{"page=1&pageSize=5&pageTotal=true", 5, 5, 5},
					{"page=5&pageSize=5&pageTotal=true", 5, 5, 3},
					{"pageSize=7&pageTotal=true", 7, 4, 7},
					{"pageSize=23&pageTotal=true", 10, 3, 10}, // capped at maxSize
					{"page=3&pageSize=1000&pageTotal=true", 10, 3, 3},
					{"pageTotal=true", 10, 3, 10}, // the default of 50 is capped too
				} {
					p, b := list(t, tc.query)
					if len(p.Items) != tc.len {
						t.Errorf("%s: %d items, want %d", tc.query, len(p.Items), tc.len)
					}
					want := map[string]int{"size": tc.size, "maxSize": 10, "total": tc.total, "items": 23}
					for key, v := range want {
						if got, ok := p.Pages[key]; !ok || got != v {
							t.Errorf("%s: pages.%s = %v (present %v), want %d; body %s", tc.query, key, got, ok, v, b)
						}
					}
				}
				p, b := list(t, "pageSize=5&pageTotal=false")
				if _, ok := p.Pages["total"]; ok {
					t.Errorf("pageTotal=false: pages.total present: %s", b)
				}
				if _, ok := p.Pages["items"]; ok {
					t.Errorf("pageTotal=false: pages.items present: %s", b)
				}
			})

			t.Run("page past the end", func(t *testing.T) {
				for _, q := range []string{"page=6&pageSize=5", "page=4&pageSize=100", "page=1000000&pageSize=5"} {
					p, b := list(t, q)
					if p.Items == nil || len(p.Items) != 0 {
						t.Errorf("%s: items = %s, want an empty array", q, b)
					}
				}
			})

			t.Run("page number overflow", func(t *testing.T) {
				// (page-1)*pageSize overflows int for this page: a page
				// past the end all the same, so an empty page is the answer.
				q := fmt.Sprintf("page=%d&pageSize=10", math.MaxInt/10+2)
				req, _ := http.NewRequest(http.MethodGet, s.GlobalURL()+k.path+"?"+q, nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				req.Header.Set(k.header, tcCred(t, s, k.kind).ID)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatalf("%s?%s: request failed (%v): the handler panics; tenants.go handleTenantList computes (page-1)*size, which overflows to a negative index", k.path, q, err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusBadRequest {
					t.Fatalf("%s?%s: status %d, want 200 (empty page) or 400; body %s", k.path, q, resp.StatusCode, b)
				}
				if resp.StatusCode == http.StatusOK {
					var p tcTenantPage
					tcDecode(t, b, &p)
					if len(p.Items) != 0 {
						t.Errorf("%s?%s: %d items, want none", k.path, q, len(p.Items))
					}
				}
			})

			t.Run("bad parameters", func(t *testing.T) {
				for _, q := range []string{"page=0", "page=-1", "page=abc", "page=1.5",
					"pageSize=0", "pageSize=-5", "pageSize=x", "pageSize=2.5", "pageTotal=maybe"} {
					st, _, b := get(t, s.GlobalURL()+k.path+"?"+q, tok, hdr)
					if st != http.StatusBadRequest {
						t.Errorf("%s?%s: status %d, want 400; body %s", k.path, q, st, b)
						continue
					}
					var e map[string]any
					tcDecode(t, b, &e)
					if e["error"] == nil || e["message"] == nil {
						t.Errorf("%s?%s: 400 body is not the common error object: %s", k.path, q, b)
					}
				}
			})
		})
	}
}

func TestTenantListDefaults(t *testing.T) {
	cfg := tcConfig(newFakeClock())
	cfg.TenantPageMax = 0 // the default: 100
	s, _ := startSim(t, cfg)
	for _, k := range tcKinds {
		st, _, b := get(t, s.GlobalURL()+k.path, fetchToken(t, s, k.kind), k.header+": "+tcCred(t, s, k.kind).ID)
		if st != http.StatusOK {
			t.Fatalf("%s: %d %s", k.path, st, b)
		}
		var p tcTenantPage
		tcDecode(t, b, &p)
		if p.Pages["current"] != 1 || p.Pages["size"] != 50 || p.Pages["maxSize"] != 100 {
			t.Errorf("%s without parameters: pages = %v, want current 1, size 50, maxSize 100", k.path, p.Pages)
		}
		if len(p.Items) != cfg.Tenants {
			t.Errorf("%s: %d items, want %d", k.path, len(p.Items), cfg.Tenants)
		}
	}
}

func TestTenantListScope(t *testing.T) {
	s, _ := startSim(t, tcConfig(newFakeClock()))
	tok := map[string]string{}
	for _, kind := range []string{"partner", "organization", "tenant"} {
		tok[kind] = fetchToken(t, s, kind)
	}
	pid, oid := tcCred(t, s, "partner").ID, tcCred(t, s, "organization").ID
	tid := s.Tenants()[0].ID
	tests := []struct {
		name, path, cred string
		headers          []string
	}{
		{"partner: wrong X-Partner-ID", "/partner/v1/tenants", "partner", []string{"X-Partner-ID: " + oid}},
		{"partner: missing X-Partner-ID", "/partner/v1/tenants", "partner", nil},
		{"partner: X-Organization-ID instead", "/partner/v1/tenants", "partner", []string{"X-Organization-ID: " + pid}},
		{"partner: X-Partner-ID with a suffix", "/partner/v1/tenants", "partner", []string{"X-Partner-ID: " + pid + "x"}},
		{"organization: wrong X-Organization-ID", "/organization/v1/tenants", "organization", []string{"X-Organization-ID: " + pid}},
		{"organization: missing X-Organization-ID", "/organization/v1/tenants", "organization", nil},
		{"tenant credential on the partner route", "/partner/v1/tenants", "tenant", []string{"X-Partner-ID: " + pid}},
		{"tenant credential naming itself on the partner route", "/partner/v1/tenants", "tenant", []string{"X-Partner-ID: " + tid}},
		{"tenant credential on the organization route", "/organization/v1/tenants", "tenant", []string{"X-Organization-ID: " + oid}},
		{"partner credential on the organization route", "/organization/v1/tenants", "partner", []string{"X-Organization-ID: " + oid}},
		{"partner credential naming itself on the organization route", "/organization/v1/tenants", "partner", []string{"X-Organization-ID: " + pid}},
		{"organization credential on the partner route", "/partner/v1/tenants", "organization", []string{"X-Partner-ID: " + oid}},
		{"partner: wrong X-Partner-ID on a single tenant", "/partner/v1/tenants/" + tid, "partner", []string{"X-Partner-ID: " + oid}},
		{"tenant credential on a single tenant", "/partner/v1/tenants/" + tid, "tenant", []string{"X-Partner-ID: " + pid}},
		{"partner credential on an organization single tenant", "/organization/v1/tenants/" + tid, "partner", []string{"X-Organization-ID: " + oid}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, _, b := get(t, s.GlobalURL()+tt.path, tok[tt.cred], tt.headers...)
			if st != http.StatusForbidden {
				t.Fatalf("status %d, want 403; body %s", st, b)
			}
			var e map[string]any
			tcDecode(t, b, &e)
			if e["error"] != "Forbidden" {
				t.Errorf("error = %v, want \"Forbidden\"", e["error"])
			}
		})
	}
	// The right header makes the same calls work.
	for _, k := range tcKinds {
		if st, _, b := get(t, s.GlobalURL()+k.path, tok[k.kind], k.header+": "+tcCred(t, s, k.kind).ID); st != http.StatusOK {
			t.Errorf("%s with the right header: %d %s", k.path, st, b)
		}
	}
}

func TestTenantGet(t *testing.T) {
	s, srv := startSim(t, tcConfig(newFakeClock()))
	pid, oid := tcCred(t, s, "partner").ID, tcCred(t, s, "organization").ID
	for _, k := range tcKinds {
		t.Run(k.kind, func(t *testing.T) {
			tok := fetchToken(t, s, k.kind)
			hdr := k.header + ": " + tcCred(t, s, k.kind).ID
			for _, ti := range s.Tenants() {
				st, _, b := get(t, s.GlobalURL()+k.path+"/"+ti.ID, tok, hdr)
				if st != http.StatusOK {
					t.Fatalf("GET %s/%s: %d %s", k.path, ti.ID, st, b)
				}
				var got struct {
					ID, Name, ShowAs, DataGeography, DataRegion, BillingType, APIHost, Status string
					Partner, Organization                                                     struct{ ID string }
				}
				tcDecode(t, b, &got)
				want := ti
				if got.ID != want.ID || got.Name != want.Name || got.ShowAs != want.Name || got.DataRegion != want.Region ||
					got.DataGeography != want.Geography || got.BillingType != want.BillingType {
					t.Errorf("tenant %s = %s, want %+v", ti.ID, b, want)
				}
				if got.APIHost != srv.RegionURLs[want.Region] {
					t.Errorf("tenant %s apiHost %q, want %q", ti.ID, got.APIHost, srv.RegionURLs[want.Region])
				}
				if got.Status != "active" {
					t.Errorf("tenant %s status %q, want active", ti.ID, got.Status)
				}
				if got.Partner.ID != pid || got.Organization.ID != oid {
					t.Errorf("tenant %s partner.id %q organization.id %q, want %q and %q", ti.ID, got.Partner.ID, got.Organization.ID, pid, oid)
				}
			}
			st, _, b := get(t, s.GlobalURL()+k.path+"/00000000-0000-4000-8000-000000000000", tok, hdr)
			if st != http.StatusNotFound {
				t.Errorf("unknown tenant id: status %d, want 404; body %s", st, b)
			}
		})
	}
}

func TestTenantAPIHosts(t *testing.T) {
	s, srv := startSim(t, tcConfig(newFakeClock()))
	tok := fetchToken(t, s, "partner")
	st, _, b := get(t, s.GlobalURL()+"/partner/v1/tenants?pageTotal=true", tok, "X-Partner-ID: "+tcCred(t, s, "partner").ID)
	if st != http.StatusOK {
		t.Fatalf("tenant list: %d %s", st, b)
	}
	var p tcTenantPage
	tcDecode(t, b, &p)
	if len(p.Items) != 5 {
		t.Fatalf("%d tenants, want 5", len(p.Items))
	}
	byRegion := map[string][]string{}
	for _, it := range p.Items {
		id, _ := it["id"].(string)
		region, _ := it["dataRegion"].(string)
		host, _ := it["apiHost"].(string)
		if host == "" || host == srv.GlobalURL {
			t.Errorf("tenant %s apiHost %q: want a regional base distinct from the global URL %q", id, host, srv.GlobalURL)
		}
		if want := srv.RegionURLs[region]; want == "" || host != want {
			t.Errorf("tenant %s in %s: apiHost %q, want the region's URL %q", id, region, host, want)
		}
		byRegion[region] = append(byRegion[region], id)
	}
	if len(byRegion) < 2 {
		t.Fatalf("tenants are all in one region (%v): the cross-region checks need two", byRegion)
	}
	otherRegion := func(r string) string {
		for _, x := range s.Regions() {
			if x != r {
				return x
			}
		}
		return ""
	}
	first := s.Tenants()[0]
	var second TenantInfo // a tenant other than the one of the tenant credential
	for _, ti := range s.Tenants()[1:] {
		if ti.Region != first.Region {
			second = ti
			break
		}
	}
	if second.ID == "" {
		second = s.Tenants()[1]
	}
	tenantTok := fetchToken(t, s, "tenant")
	siem := func(base, route string) string { return base + route + "?limit=5" }
	tests := []struct {
		name   string
		u      string
		tok    string
		tenant string // X-Tenant-ID, "" for none
		status int
	}{
		{"partner on the tenant's host", siem(first.APIHost, "/siem/v1/events"), tok, first.ID, 200},
		{"partner on the tenant's host, alerts", siem(first.APIHost, "/siem/v1/alerts"), tok, first.ID, 200},
		{"partner on another tenant's host", siem(second.APIHost, "/siem/v1/events"), tok, second.ID, 200},
		{"tenant credential for its own tenant", siem(first.APIHost, "/siem/v1/events"), tenantTok, first.ID, 200},
		{"SIEM events on the global host", siem(srv.GlobalURL, "/siem/v1/events"), tok, first.ID, 404},
		{"SIEM alerts on the global host", siem(srv.GlobalURL, "/siem/v1/alerts"), tok, first.ID, 404},
		{"SIEM on the wrong region's host", siem(srv.RegionURLs[otherRegion(first.Region)], "/siem/v1/events"), tok, first.ID, 403},
		{"SIEM alerts on the wrong region's host", siem(srv.RegionURLs[otherRegion(second.Region)], "/siem/v1/alerts"), tok, second.ID, 403},
		{"tenant credential for another tenant", siem(second.APIHost, "/siem/v1/events"), tenantTok, second.ID, 403},
		{"missing X-Tenant-ID", siem(first.APIHost, "/siem/v1/events"), tok, "", 403},
		{"unknown X-Tenant-ID", siem(first.APIHost, "/siem/v1/events"), tok, "00000000-0000-4000-8000-000000000000", 403},
		{"whoami on a region host", first.APIHost + "/whoami/v1", tok, "", 404},
		{"tenant list on a region host", first.APIHost + "/partner/v1/tenants", tok, "", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdr []string
			if tt.tenant != "" {
				hdr = append(hdr, "X-Tenant-ID: "+tt.tenant)
			}
			if tt.name == "tenant list on a region host" {
				hdr = append(hdr, "X-Partner-ID: "+tcCred(t, s, "partner").ID)
			}
			st, _, b := get(t, tt.u, tt.tok, hdr...)
			if st != tt.status {
				t.Fatalf("GET %s: status %d, want %d; body %s", tt.u, st, tt.status, b)
			}
			var m map[string]json.RawMessage
			tcDecode(t, b, &m)
			if st == 200 {
				if _, ok := m["items"]; !ok {
					t.Errorf("200 without items: %s", b)
				}
				return
			}
			want := map[int]string{403: `"Forbidden"`, 404: `"notFound"`}[st]
			if string(m["error"]) != want {
				t.Errorf("error = %s, want %s", m["error"], want)
			}
		})
	}
}

func TestUnknownHostPort(t *testing.T) {
	s, _ := startSim(t, tcConfig(newFakeClock()))
	tok := fetchToken(t, s, "partner")
	extra := httptest.NewServer(s) // serves the simulator on a port it was not told about
	t.Cleanup(extra.Close)
	p := tcCred(t, s, "partner")
	tests := []struct {
		name, method, path, body string
		headers                  []string
	}{
		{"whoami", http.MethodGet, "/whoami/v1", "", []string{"Authorization: Bearer " + tok}},
		{"token", http.MethodPost, "/api/v2/oauth2/token", tcForm(p).Encode(), []string{"Content-Type: application/x-www-form-urlencoded"}},
		{"tenants", http.MethodGet, "/partner/v1/tenants", "", []string{"Authorization: Bearer " + tok, "X-Partner-ID: " + p.ID}},
		{"SIEM", http.MethodGet, "/siem/v1/events", "", []string{"Authorization: Bearer " + tok, "X-Tenant-ID: " + s.Tenants()[0].ID}},
		{"control API", http.MethodGet, "/sim/v1/credentials", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, _, b := tcDo(t, tt.method, extra.URL+tt.path, tt.body, tt.headers...)
			if st != http.StatusMisdirectedRequest {
				t.Fatalf("status %d, want 421; body %s", st, b)
			}
			var e map[string]any
			tcDecode(t, b, &e)
			if e["error"] == nil || e["message"] == nil {
				t.Errorf("421 body is not the common error object: %s", b)
			}
		})
	}
	// The registered global port still answers.
	if st, b := tcWhoami(t, s, tok); st != http.StatusOK {
		t.Errorf("whoami on the global host: %d %s", st, b)
	}
}
