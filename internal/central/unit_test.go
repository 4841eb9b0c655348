package central

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/secret"
)

var testCreds = Credentials{ClientID: "6f1c3d2e-8b47-4a1e-9c55-0d2e7a9b4f13", ClientSecret: secret.Secret("s3cr3t-value-never-shown")}

func TestNewValidatesURLs(t *testing.T) {
	const auth, api = "https://id.sophos.com/api/v2/oauth2/token", "https://api.central.sophos.com"
	cases := []struct {
		name          string
		authURL       string
		apiURL        string
		wantErr       string // substring; "" means ok
		wantAPI, wAut string
	}{
		{"sophos", auth, api, "", api, auth},
		{"trailing slashes trimmed", auth + "/", api + "//", "", api, auth},
		{"http loopback ip", "http://127.0.0.1:8080/api/v2/oauth2/token", "http://127.0.0.1:8080", "", "http://127.0.0.1:8080", "http://127.0.0.1:8080/api/v2/oauth2/token"},
		{"http loopback 127/8", auth, "http://127.3.2.1:9", "", "http://127.3.2.1:9", auth},
		{"http ::1", auth, "http://[::1]:8080", "", "http://[::1]:8080", auth},
		{"http localhost", auth, "http://localhost:8080/", "", "http://localhost:8080", auth},
		{"http remote api", auth, "http://api.central.sophos.com", "api_url", "", ""},
		{"http remote auth", "http://id.sophos.com/api/v2/oauth2/token", api, "auth_url", "", ""},
		{"missing api", auth, "", "api_url is not set", "", ""},
		{"missing auth", "", api, "auth_url is not set", "", ""},
		{"ftp", auth, "ftp://api.central.sophos.com", "api_url", "", ""},
		{"no scheme", auth, "api.central.sophos.com", "api_url", "", ""},
		{"user info", auth, "https://user:pw@api.central.sophos.com", `api_url: "https://api.central.sophos.com/…" must not carry`, "", ""},
		{"query", auth + "?x=1", api, "auth_url", "", ""},
		{"http 10.x is not loopback", auth, "http://10.0.0.1", "api_url", "", ""},
		{"http localhost.evil.com", auth, "http://localhost.evil.com", "api_url", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(testCreds, Options{AuthURL: tc.authURL, APIURL: tc.apiURL})
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if c.apiURL != tc.wantAPI || c.authURL != tc.wAut {
					t.Errorf("urls = %q %q, want %q %q", c.apiURL, c.authURL, tc.wantAPI, tc.wAut)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "pw@") {
				t.Errorf("error quotes a password: %v", err)
			}
		})
	}
	t.Run("value and advice", func(t *testing.T) {
		_, err := New(testCreds, Options{AuthURL: auth, APIURL: "http://api.example.com"})
		if err == nil || !strings.Contains(err.Error(), `"http://api.example.com"`) || !strings.Contains(err.Error(), "use https") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("credentials required", func(t *testing.T) {
		if _, err := New(Credentials{ClientSecret: "x"}, Options{AuthURL: auth, APIURL: api}); err == nil || !strings.Contains(err.Error(), "client_id") {
			t.Errorf("no client id: %v", err)
		}
		if _, err := New(Credentials{ClientID: "x"}, Options{AuthURL: auth, APIURL: api}); err == nil || !strings.Contains(err.Error(), "client_secret") {
			t.Errorf("no secret: %v", err)
		}
	})
	t.Run("RootCAs with HTTPClient", func(t *testing.T) {
		if _, err := New(testCreds, Options{AuthURL: auth, APIURL: api, HTTPClient: &http.Client{}}); err != nil {
			t.Errorf("HTTPClient alone: %v", err)
		}
		if _, err := New(testCreds, Options{AuthURL: auth, APIURL: api, HTTPClient: &http.Client{}, RootCAs: x509.NewCertPool()}); err == nil || !strings.Contains(err.Error(), "RootCAs") {
			t.Errorf("HTTPClient with RootCAs: %v", err)
		}
	})
}

func TestNewDefaults(t *testing.T) {
	c, err := New(testCreds, Options{AuthURL: "https://id.sophos.com/api/v2/oauth2/token", APIURL: "https://api.central.sophos.com"})
	if err != nil {
		t.Fatal(err)
	}
	if c.timeout != 30*time.Second || c.maxAttempts != 6 || c.backoffBase != time.Second || c.backoffMax != time.Minute || c.maxRetryAfter != 5*time.Minute || c.ua != "puawatch" {
		t.Errorf("defaults: %+v", c)
	}
	if c.lim == nil || c.lim.l != DefaultLimits() {
		t.Errorf("limits = %+v, want DefaultLimits", c.lim)
	}
	c, _ = New(testCreds, Options{AuthURL: "https://a.example/t", APIURL: "https://api.example.com", NoLimits: true})
	if c.lim != nil {
		t.Errorf("NoLimits: limiters %+v", c.lim)
	}
	c, _ = New(testCreds, Options{AuthURL: "https://a.example/t", APIURL: "https://api.example.com", Limits: Limits{PerSecond: 2}})
	if c.lim == nil || c.lim.l != (Limits{PerSecond: 2}) {
		t.Errorf("custom limits: %+v", c.lim)
	}
}

func TestCheckAPIHost(t *testing.T) {
	sophos, err := New(testCreds, Options{AuthURL: "https://id.sophos.com/api/v2/oauth2/token", APIURL: "https://api.central.sophos.com"})
	if err != nil {
		t.Fatal(err)
	}
	loop, err := New(testCreds, Options{AuthURL: "http://127.0.0.1:1/t", APIURL: "http://127.0.0.1:4000"})
	if err != nil {
		t.Fatal(err)
	}
	// An API host one label under a public suffix: its parent (co.uk, a
	// private suffix of a cloud) is anybody's, so only the host itself
	// and its subdomains are allowed.
	couk, err := New(testCreds, Options{AuthURL: "https://id.example.co.uk/t", APIURL: "https://api.co.uk"})
	if err != nil {
		t.Fatal(err)
	}
	ec2, err := New(testCreds, Options{AuthURL: "https://id.example.com/t", APIURL: "https://ec2-1-2-3-4.eu-west-1.compute.amazonaws.com"})
	if err != nil {
		t.Fatal(err)
	}
	ec2sub, err := New(testCreds, Options{AuthURL: "https://id.example.com/t", APIURL: "https://api.mine.eu-west-1.compute.amazonaws.com"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		c  *Client
		u  string
		ok bool
	}{
		{couk, "https://evil.co.uk", false},
		{couk, "https://co.uk", false},
		{couk, "https://api.co.uk", true},
		{couk, "https://eu01.api.co.uk", true},
		{couk, "https://api.co.uk.evil.com", false},
		{ec2, "https://ec2-5-6-7-8.eu-west-1.compute.amazonaws.com", false},
		{ec2, "https://ec2-1-2-3-4.eu-west-1.compute.amazonaws.com", true},
		{ec2, "https://eu.ec2-1-2-3-4.eu-west-1.compute.amazonaws.com", true},
		{ec2sub, "https://api-eu01.mine.eu-west-1.compute.amazonaws.com", true},
		{ec2sub, "https://other.eu-west-1.compute.amazonaws.com", false},
		{sophos, "https://api-eu01.central.sophos.com", true},
		{sophos, "https://api-eu02.central.sophos.com", true},
		{sophos, "https://api-us03.central.sophos.com/", true},
		{sophos, "https://API-EU01.Central.Sophos.com", true},
		{sophos, "https://central.sophos.com", true},
		{sophos, "https://api.central.sophos.com:443", true},
		{sophos, "https://evil.com", false},
		{sophos, "https://central.sophos.com.evil.com", false},
		{sophos, "https://evilcentral.sophos.com", false},
		{sophos, "https://sophos.com", false},
		{sophos, "http://api-eu01.central.sophos.com", false},
		{sophos, "https://api-eu01.central.sophos.com:8443", false},
		{sophos, "https://user@api-eu01.central.sophos.com", false},
		{sophos, "https://api-eu01.central.sophos.com/x", false},
		{sophos, "https://api-eu01.central.sophos.com?x=1", false},
		{sophos, "https://127.0.0.1:4001", false},
		{sophos, "//api-eu01.central.sophos.com", false},
		{sophos, "", false},
		{sophos, "not a url", false},
		{loop, "http://127.0.0.1:4001", true},
		{loop, "https://127.0.0.1:4002", true},
		{loop, "http://localhost:4003", true},
		{loop, "http://[::1]:4004", true},
		{loop, "http://127.9.9.9:1", true},
		{loop, "https://api-eu01.central.sophos.com", false},
		{loop, "http://10.0.0.1:4001", false},
		{loop, "ftp://127.0.0.1:4001", false},
	}
	for _, tc := range cases {
		err := tc.c.CheckAPIHost(tc.u)
		if (err == nil) != tc.ok {
			t.Errorf("CheckAPIHost(%q) with api_url %s = %v, want ok=%v", tc.u, tc.c.apiURL, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "never elsewhere") {
			t.Errorf("error does not explain: %v", err)
		}
	}
}

func TestParentDomain(t *testing.T) {
	for in, want := range map[string]string{
		"api.central.sophos.com": "central.sophos.com",
		"central.sophos.com":     "sophos.com",
		"sophos.com":             "sophos.com",
		"localhost":              "localhost",
		"10.1.2.3":               "10.1.2.3",
		"API.Co.UK.":             "api.co.uk",
		"api.co.uk":              "api.co.uk",
		"co.uk":                  "co.uk",
		"eu.api.co.uk":           "api.co.uk",
		"api.example.internal":   "example.internal",
		"example.internal":       "example.internal",
		"ec2-1-2-3-4.eu-west-1.compute.amazonaws.com": "ec2-1-2-3-4.eu-west-1.compute.amazonaws.com",
		"api.mine.eu-west-1.compute.amazonaws.com":    "mine.eu-west-1.compute.amazonaws.com",
	} {
		if got := parentDomain(in); got != want {
			t.Errorf("parentDomain(%q) = %q, want %q", in, got, want)
		}
	}
}

// failTransport fails the test if any request is made.
func failTransport(t *testing.T) *http.Client {
	return &http.Client{Transport: rtFunc(func(r *http.Request) (*http.Response, error) {
		t.Errorf("unexpected request to %s", r.URL.Redacted())
		return nil, errors.New("no network in this test")
	})}
}

func TestNoRequestToRefusedAPIHost(t *testing.T) {
	c, err := New(testCreds, Options{AuthURL: "https://id.sophos.com/api/v2/oauth2/token", APIURL: "https://api.central.sophos.com", HTTPClient: failTransport(t)})
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"https://evil.example", "https://api-eu01.central.sophos.com.evil.example", "http://api-eu01.central.sophos.com", "http://127.0.0.1:8080", ""} {
		_, err := c.Events(context.Background(), EventsRequest{Tenant: Tenant{ID: "t-1", APIHost: host}})
		if err == nil || !strings.Contains(err.Error(), "t-1") || !strings.Contains(err.Error(), "refused") {
			t.Errorf("Events on %q: err = %v", host, err)
		}
	}
	// whoami's dataRegion is checked the same way.
	c2, err := New(testCreds, Options{AuthURL: "https://id.sophos.com/api/v2/oauth2/token", APIURL: "https://api.central.sophos.com",
		HTTPClient: &http.Client{Transport: rtFunc(func(r *http.Request) (*http.Response, error) {
			if r.URL.Path == "/api/v2/oauth2/token" {
				return jsonResponse(r, 200, `{"access_token":"tok-abc","token_type":"bearer","expires_in":3600}`), nil
			}
			return jsonResponse(r, 200, `{"id":"t-1","idType":"tenant","apiHosts":{"global":"https://api.central.sophos.com/","dataRegion":"https://evil.example"}}`), nil
		})}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Whoami(context.Background()); err == nil || !strings.Contains(err.Error(), "evil.example") {
		t.Errorf("Whoami with a foreign dataRegion: %v", err)
	}
}

// fakeCentral answers the token request and hands the rest to api.
func fakeCentral(t *testing.T, api func(r *http.Request) *http.Response) *http.Client {
	return &http.Client{Transport: rtFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Host == "id.sophos.com" {
			if err := r.ParseForm(); err != nil {
				t.Errorf("token form: %v", err)
			}
			f := r.PostForm
			if f.Get("grant_type") != "client_credentials" || f.Get("scope") != "token" || f.Get("client_id") != testCreds.ClientID || f.Get("client_secret") != testCreds.ClientSecret.Reveal() {
				t.Errorf("token form = %v", f)
			}
			return jsonResponse(r, 200, `{"access_token":"tok-abc","token_type":"bearer","expires_in":3600,"errorCode":"success"}`), nil
		}
		if got := r.Header.Get("Authorization"); got != "Bearer tok-abc" {
			t.Errorf("Authorization = %q", got)
		}
		return api(r), nil
	})}
}

func TestTenantsWithoutPageTotalAndRefusedHosts(t *testing.T) {
	var calls atomic.Int32
	logs := &syncBuffer{}
	hc := fakeCentral(t, func(r *http.Request) *http.Response {
		calls.Add(1)
		if r.URL.Path != "/organization/v1/tenants" || r.Header.Get("X-Organization-ID") != "org-1" {
			t.Errorf("request %s %v", r.URL, r.Header)
		}
		q := r.URL.Query()
		if q.Get("pageTotal") != "true" || q.Get("pageSize") != "100" {
			t.Errorf("query %v", q)
		}
		switch q.Get("page") {
		case "1": // the server caps the page size at 2 and gives no total
			return jsonResponse(r, 200, `{"items":[{"id":"a","name":"A","apiHost":"https://api-eu01.central.sophos.com/"},{"id":"b","name":"B","showAs":"Bee","apiHost":"https://evil.example"}],"pages":{"current":1,"size":2,"maxSize":2}}`)
		case "2":
			return jsonResponse(r, 200, `{"items":[{"id":"b","name":"B","apiHost":"https://evil.example"},{"id":"c","name":"C","apiHost":"https://api-us03.central.sophos.com"}],"pages":{"current":2,"size":2,"maxSize":2}}`)
		case "3":
			return jsonResponse(r, 200, `{"items":[{"id":"d","name":"D","apiHost":"https://api-us03.central.sophos.com"}],"pages":{"current":3,"size":2,"maxSize":2}}`)
		}
		t.Errorf("page %s requested", q.Get("page"))
		return jsonResponse(r, 200, `{"items":[],"pages":{}}`)
	})
	c, err := New(testCreds, Options{AuthURL: "https://id.sophos.com/api/v2/oauth2/token", APIURL: "https://api.central.sophos.com", HTTPClient: hc, Logger: testLogger(logs)})
	if err != nil {
		t.Fatal(err)
	}
	ts, err := c.Tenants(context.Background(), Whoami{ID: "org-1", IDType: IDTypeOrganization})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, tn := range ts {
		ids = append(ids, tn.ID)
	}
	if strings.Join(ids, ",") != "a,b,c,d" || calls.Load() != 3 {
		t.Errorf("tenants %v after %d calls", ids, calls.Load())
	}
	if ts[0].APIHost != "https://api-eu01.central.sophos.com" {
		t.Errorf("apiHost not trimmed: %q", ts[0].APIHost)
	}
	l := logs.String()
	if !strings.Contains(l, `"tenant_id":"b"`) || !strings.Contains(l, `"tenant":"Bee"`) || strings.Count(l, "apiHost refused") != 1 {
		t.Errorf("refused apiHost not logged once with id and name: %s", l)
	}
}

func TestTenantsStopsOnEmptyPage(t *testing.T) {
	hc := fakeCentral(t, func(r *http.Request) *http.Response {
		if r.URL.Query().Get("page") == "1" {
			return jsonResponse(r, 200, `{"items":[{"id":"a","apiHost":"https://api-eu01.central.sophos.com"}],"pages":{"current":1,"size":1,"total":5}}`)
		}
		return jsonResponse(r, 200, `{"items":[],"pages":{"current":2,"size":1,"total":5}}`)
	})
	c, _ := New(testCreds, Options{AuthURL: "https://id.sophos.com/api/v2/oauth2/token", APIURL: "https://api.central.sophos.com", HTTPClient: hc})
	ts, err := c.Tenants(context.Background(), Whoami{ID: "p", IDType: IDTypePartner})
	if err != nil || len(ts) != 1 {
		t.Errorf("Tenants = %v, %v", ts, err)
	}
	if _, err := c.Tenants(context.Background(), Whoami{ID: "p", IDType: "reseller"}); err == nil {
		t.Error("unknown idType accepted")
	}
}

func TestWhoamiValidation(t *testing.T) {
	for body, want := range map[string]string{
		`{"id":"x","idType":"reseller","apiHosts":{"global":"https://api.central.sophos.com"}}`: "reseller",
		`{"idType":"partner","apiHosts":{"global":"https://api.central.sophos.com"}}`:           "no id",
		`{"id":"x","idType":"tenant","apiHosts":{"global":"https://api.central.sophos.com"}}`:   "dataRegion",
	} {
		hc := fakeCentral(t, func(r *http.Request) *http.Response { return jsonResponse(r, 200, body) })
		c, _ := New(testCreds, Options{AuthURL: "https://id.sophos.com/api/v2/oauth2/token", APIURL: "https://api.central.sophos.com", HTTPClient: hc})
		if _, err := c.Whoami(context.Background()); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", body, err, want)
		}
	}
	hc := fakeCentral(t, func(r *http.Request) *http.Response {
		return jsonResponse(r, 200, `{"id":"x","idType":"tenant","apiHosts":{"global":"https://api.central.sophos.com/","dataRegion":"https://api-eu02.central.sophos.com/"}}`)
	})
	c, _ := New(testCreds, Options{AuthURL: "https://id.sophos.com/api/v2/oauth2/token", APIURL: "https://api.central.sophos.com", HTTPClient: hc})
	w, err := c.Whoami(context.Background())
	if err != nil || w.GlobalURL != "https://api.central.sophos.com" || w.DataRegionURL != "https://api-eu02.central.sophos.com" {
		t.Errorf("Whoami = %+v, %v", w, err)
	}
}

func TestEventsQuery(t *testing.T) {
	var got url.Values
	var hdr http.Header
	hc := fakeCentral(t, func(r *http.Request) *http.Response {
		got, hdr = r.URL.Query(), r.Header
		if r.URL.Host != "api-eu01.central.sophos.com" || r.URL.Path != "/siem/v1/events" {
			t.Errorf("URL %s", r.URL)
		}
		return jsonResponse(r, 200, `{"has_more":false,"next_cursor":"Yw","items":[{"id":"e1","type":"Event::Endpoint::CorePuaDetection","threat":"PsExec","when":"2025-06-03T09:30:12.904Z","created_at":"2025-06-03T09:30:13.001Z","user_id":null,"extra_field":{"a":[1,2]}}]}`)
	})
	c, _ := New(testCreds, Options{AuthURL: "https://id.sophos.com/api/v2/oauth2/token", APIURL: "https://api.central.sophos.com", HTTPClient: hc})
	tn := Tenant{ID: "t-9", APIHost: "https://api-eu01.central.sophos.com"}
	from := time.Unix(1750000000, 0)
	p, err := c.Events(context.Background(), EventsRequest{Tenant: tn, FromDate: from, Limit: 500,
		ExcludeTypes: []string{"Event::Endpoint::UpdateSuccess", "", "Event::Endpoint::WebControlViolation"}, OffsetMins: 3})
	if err != nil {
		t.Fatal(err)
	}
	want := url.Values{"from_date": {"1750000000"}, "limit": {"500"}, "exclude_types": {"Event::Endpoint::UpdateSuccess,Event::Endpoint::WebControlViolation"}, "from_date_offset_minutes": {"3"}}
	if got.Encode() != want.Encode() {
		t.Errorf("query = %v, want %v", got, want)
	}
	if hdr.Get("X-Tenant-ID") != "t-9" || hdr.Get("Accept") != "application/json" || hdr.Get("User-Agent") != "puawatch" {
		t.Errorf("headers = %v", hdr)
	}
	if len(p.Items) != 1 || p.NextCursor != "Yw" || p.HasMore || p.Items[0].ThreatName() != "PsExec" || p.Items[0].UserID != nil ||
		!strings.Contains(string(p.Items[0].Raw), `"extra_field":{"a":[1,2]}`) {
		t.Errorf("page = %+v", p)
	}
	// The cursor wins over from_date; zero values are left out.
	if _, err := c.Events(context.Background(), EventsRequest{Tenant: tn, FromDate: from, Cursor: "abc"}); err != nil {
		t.Fatal(err)
	}
	if got.Encode() != "cursor=abc" {
		t.Errorf("query = %s, want cursor=abc", got.Encode())
	}
	if _, err := c.Events(context.Background(), EventsRequest{Tenant: tn}); err != nil || len(got) != 0 {
		t.Errorf("bare request: %v %v", got, err)
	}
	for _, bad := range []EventsRequest{{Tenant: tn, Limit: 1001}, {Tenant: tn, Limit: -1}, {Tenant: tn, OffsetMins: -1}, {Tenant: Tenant{APIHost: tn.APIHost}}} {
		if _, err := c.Events(context.Background(), bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestDecodePage(t *testing.T) {
	for _, bad := range []string{`null`, `[]`, `{"has_more":true,"items":[]}`, `{"items":[{"type":"x"}]}`, `{"items":[{"id":"a","when":"yesterday"}]}`, `{"items":[`} {
		if _, err := DecodePage([]byte(bad)); err == nil {
			t.Errorf("DecodePage(%s) accepted", bad)
		}
	}
	p, err := DecodePage([]byte(`{"has_more":false,"next_cursor":"c","items":[]}`))
	if err != nil || len(p.Items) != 0 || p.NextCursor != "c" {
		t.Errorf("empty page = %+v, %v", p, err)
	}
}

func TestAPIErrorBodyCutAndScrubbed(t *testing.T) {
	long := strings.Repeat("é", 400) + testCreds.ClientSecret.Reveal()
	hc := fakeCentral(t, func(r *http.Request) *http.Response {
		return jsonResponse(r, 404, `{"error":"notFound","message":"`+long+`"}`)
	})
	c, _ := New(testCreds, Options{AuthURL: "https://id.sophos.com/api/v2/oauth2/token", APIURL: "https://api.central.sophos.com", HTTPClient: hc})
	_, err := c.Whoami(context.Background())
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 404 || ae.Code != "notFound" {
		t.Fatalf("err = %v", err)
	}
	if len(ae.Message) > maxMessage+len("…") || !strings.HasSuffix(ae.Message, "…") || !strings.HasPrefix(ae.Message, "éé") {
		t.Errorf("message not cut on a rune boundary: %d bytes %q", len(ae.Message), ae.Message)
	}
	// A secret the server echoes within the quoted part is redacted.
	hc = fakeCentral(t, func(r *http.Request) *http.Response {
		return jsonResponse(r, 400, "oops "+testCreds.ClientSecret.Reveal()+" tok-abc\x1b[31m")
	})
	c, _ = New(testCreds, Options{AuthURL: "https://id.sophos.com/api/v2/oauth2/token", APIURL: "https://api.central.sophos.com", HTTPClient: hc})
	_, err = c.Whoami(context.Background())
	if err == nil || strings.Contains(err.Error(), testCreds.ClientSecret.Reveal()) || strings.Contains(err.Error(), "tok-abc") || strings.Contains(err.Error(), "\x1b") {
		t.Errorf("err = %q", err)
	}
}

func TestTokenEndpointFailures(t *testing.T) {
	var n atomic.Int32
	hc := &http.Client{Transport: rtFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Host != "id.sophos.com" {
			return jsonResponse(r, 200, `{"id":"p","idType":"partner","apiHosts":{"global":"https://api.central.sophos.com"}}`), nil
		}
		switch n.Add(1) {
		case 1:
			return jsonResponse(r, 503, `{"errorCode":"unavailable","message":"down"}`), nil
		case 2:
			return nil, errors.New("connection reset by peer")
		case 3:
			return jsonResponse(r, 429, `{}`, "Retry-After", "2"), nil
		case 4:
			return jsonResponse(r, 200, `{"access_token":`), nil
		}
		return jsonResponse(r, 200, `{"access_token":"tok-xyz","expires_in":3600}`), nil
	})}
	rec := &sleeper{}
	c, _ := New(testCreds, Options{AuthURL: "https://id.sophos.com/api/v2/oauth2/token", APIURL: "https://api.central.sophos.com", HTTPClient: hc, Sleep: rec.Sleep, NoLimits: true})
	if _, err := c.Whoami(context.Background()); err != nil {
		t.Fatalf("Whoami after token failures: %v", err)
	}
	if w := rec.Waits(); len(w) != 4 || w[2] != 2*time.Second {
		t.Errorf("waits = %v, want 4 with the third 2s", w)
	}
	// A 400 of the token endpoint is not retried and says what to check.
	hc = &http.Client{Transport: rtFunc(func(r *http.Request) (*http.Response, error) {
		return jsonResponse(r, 400, `{"errorCode":"oauth.invalid_scope","message":"scope must be token"}`), nil
	})}
	c, _ = New(testCreds, Options{AuthURL: "https://id.sophos.com/api/v2/oauth2/token", APIURL: "https://api.central.sophos.com", HTTPClient: hc, Sleep: rec.Sleep})
	_, err := c.Whoami(context.Background())
	var ae *APIError
	if !errors.As(err, &ae) || ae.Op != "token" || ae.Status != 400 || ae.Code != "oauth.invalid_scope" || !strings.Contains(ae.Message, "check auth_url") {
		t.Errorf("err = %v", err)
	}
}

func TestClientRateLimiter(t *testing.T) {
	hc := fakeCentral(t, func(r *http.Request) *http.Response {
		if strings.HasSuffix(r.URL.Path, "/tenants") {
			return jsonResponse(r, 200, `{"items":[],"pages":{"current":1,"size":100,"total":0}}`)
		}
		return jsonResponse(r, 200, `{"has_more":false,"next_cursor":"c","items":[]}`)
	})
	rec := &sleeper{}
	c, _ := New(testCreds, Options{AuthURL: "https://id.sophos.com/api/v2/oauth2/token", APIURL: "https://api.central.sophos.com", HTTPClient: hc,
		Sleep: rec.Sleep, Limits: Limits{PerSecond: 2}})
	a := Tenant{ID: "a", APIHost: "https://api-eu01.central.sophos.com"}
	b := Tenant{ID: "b", APIHost: "https://api-eu01.central.sophos.com"}
	for range 2 {
		if _, err := c.Events(context.Background(), EventsRequest{Tenant: a}); err != nil {
			t.Fatal(err)
		}
	}
	if w := rec.Waits(); len(w) != 0 {
		t.Fatalf("burst of 2 waited: %v", w)
	}
	if _, err := c.Events(context.Background(), EventsRequest{Tenant: a}); err != nil {
		t.Fatal(err)
	}
	w := rec.Waits()
	if len(w) != 1 || w[0] < 400*time.Millisecond || w[0] > 500*time.Millisecond {
		t.Fatalf("third call of tenant a waited %v, want about 500ms", w)
	}
	// Tenant b has its own limiters.
	if _, err := c.Events(context.Background(), EventsRequest{Tenant: b}); err != nil {
		t.Fatal(err)
	}
	if w := rec.Waits(); len(w) != 1 {
		t.Errorf("tenant b waited for tenant a: %v", w)
	}
	// Global calls have their own limiters too.
	if _, err := c.Tenants(context.Background(), Whoami{ID: "p", IDType: IDTypePartner}); err != nil {
		t.Fatal(err)
	}
	if w := rec.Waits(); len(w) != 1 {
		t.Errorf("a global call waited for tenant a: %v", w)
	}
	// A wait longer than the deadline is not started.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := c.Events(ctx, EventsRequest{Tenant: a}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want DeadlineExceeded", err)
	}
}

func TestClientMinuteLimiter(t *testing.T) {
	hc := fakeCentral(t, func(r *http.Request) *http.Response {
		return jsonResponse(r, 200, `{"id":"p","idType":"partner","apiHosts":{"global":"https://api.central.sophos.com"}}`)
	})
	rec := &sleeper{}
	c, _ := New(testCreds, Options{AuthURL: "https://id.sophos.com/api/v2/oauth2/token", APIURL: "https://api.central.sophos.com", HTTPClient: hc,
		Sleep: rec.Sleep, Limits: Limits{PerMinute: 2, MinuteBurst: 3}})
	for range 3 {
		if _, err := c.Whoami(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if w := rec.Waits(); len(w) != 0 {
		t.Fatalf("burst of 3 waited: %v", w)
	}
	if _, err := c.Whoami(context.Background()); err != nil {
		t.Fatal(err)
	}
	if w := rec.Waits(); len(w) != 1 || w[0] < 29*time.Second || w[0] > 30*time.Second {
		t.Errorf("fourth call waited %v, want about 30s", w)
	}
}

// A quoted answer is plain text: no invisible formatting (a direction
// override could make the message read differently), no C1 controls.
func TestAPIErrorMessageIsPlainText(t *testing.T) {
	hc := fakeCentral(t, func(r *http.Request) *http.Response {
		return jsonResponse(r, 400, `{"error":"bad","message":"tenant \u202eevil\u200b \u009b31m"}`)
	})
	c, _ := New(testCreds, Options{AuthURL: "https://id.sophos.com/api/v2/oauth2/token", APIURL: "https://api.central.sophos.com", HTTPClient: hc})
	_, err := c.Whoami(context.Background())
	if err == nil {
		t.Fatal("400 accepted")
	}
	if i := strings.IndexAny(err.Error(), "\u202e\u200b\u009b"); i >= 0 {
		t.Errorf("error %q holds %U", err, []rune(err.Error()[i:])[0])
	}
	if !strings.Contains(err.Error(), "tenant evil  31m") {
		t.Errorf("error %q lost the text", err)
	}
}

// TestShortSecretScrubbed: a client secret of three characters that the
// server echoes is redacted too.
func TestShortSecretScrubbed(t *testing.T) {
	creds := Credentials{ClientID: testCreds.ClientID, ClientSecret: secret.Secret("x7q")}
	hc := &http.Client{Transport: rtFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Host == "id.sophos.com" {
			return jsonResponse(r, 200, `{"access_token":"tok-abc","token_type":"bearer","expires_in":3600}`), nil
		}
		return jsonResponse(r, 400, `{"error":"badRequest","message":"client secret x7q is not valid"}`), nil
	})}
	c, _ := New(creds, Options{AuthURL: "https://id.sophos.com/api/v2/oauth2/token", APIURL: "https://api.central.sophos.com", HTTPClient: hc})
	_, err := c.Whoami(context.Background())
	var ae *APIError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "x7q") || ae.Message != "client secret [redacted] is not valid" {
		t.Errorf("the echoed secret is not redacted: %q (message %q)", err, ae.Message)
	}
}
