package sim

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestDateHeaderIsTheSimulatorsClock: every answer's Date header is the
// simulator's clock (Config.Now plus the advances of POST /sim/v1/clock),
// not the host's: a client can only learn the API's clock from it. The
// token endpoint, whoami, the SIEM routes and error answers all carry it.
func TestDateHeaderIsTheSimulatorsClock(t *testing.T) {
	t.Parallel()
	e := newSiemEnv(t, nil)
	resp, err := http.Post(e.srv.GlobalURL+"/sim/v1/clock", "application/json", strings.NewReader(`{"advance":"20m"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /sim/v1/clock: %d", resp.StatusCode)
	}
	want := e.clock.Now().Add(20 * time.Minute)
	check := func(what string, h http.Header) {
		t.Helper()
		got, err := http.ParseTime(h.Get("Date"))
		if err != nil {
			t.Errorf("%s: Date header %q: %v", what, h.Get("Date"), err)
			return
		}
		if !got.Equal(want.Truncate(time.Second)) {
			t.Errorf("%s: Date %v, want the simulator's clock %v", what, got, want)
		}
	}
	c, _ := e.s.Credential("partner")
	tr, err := http.PostForm(e.s.TokenURL(), url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ClientID},
		"client_secret": {c.ClientSecret}, "scope": {"token"}})
	if err != nil {
		t.Fatal(err)
	}
	tr.Body.Close()
	check("token", tr.Header)
	e.login(t)
	_, h, _ := get(t, e.srv.GlobalURL+"/whoami/v1", e.tok)
	check("whoami", h)
	_, h, _ = e.call(t, "events", e.tid, url.Values{"limit": {"1"}})
	check("events", h)
	status, h, _ := get(t, e.url(t, "events", e.tid, nil), "not-a-token", "X-Tenant-ID: "+e.tid)
	if status != http.StatusUnauthorized {
		t.Fatalf("a bad token answered %d, want 401", status)
	}
	check("401", h)
}

// TestRefuseOldCursorFault: with faults.refuse_old_cursor, a cursor older
// than the retention is answered 400 instead of the documented fallback
// to the last 24 hours; a cursor within the retention still works, and
// without the fault the old cursor is served from now-24h.
func TestRefuseOldCursorFault(t *testing.T) {
	t.Parallel()
	e := newSiemEnv(t, func(c *Config) { c.EventsPerTenant = 50 }).login(t)
	stale := e.page(t, "events", e.tid, url.Values{"limit": {"5"}}).NextCursor
	if err := e.s.SetFaults(Faults{RefuseOldCursor: true}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(25 * time.Hour)
	e.login(t)
	status, _, body := e.call(t, "events", e.tid, url.Values{"cursor": {stale}})
	if status != http.StatusBadRequest || !bytes.Contains(body, []byte("cursor")) || !bytes.Contains(body, []byte("24 hours")) {
		t.Fatalf("old cursor with refuse_old_cursor: %d %s; want 400 saying the cursor is older than 24 hours", status, body)
	}
	fresh := e.page(t, "events", e.tid, url.Values{"limit": {"1"}}).NextCursor
	if status, _, body := e.call(t, "events", e.tid, url.Values{"cursor": {fresh}}); status != http.StatusOK {
		t.Errorf("a cursor within the retention: %d %s, want 200", status, body)
	}
	if err := e.s.SetFaults(Faults{}); err != nil {
		t.Fatal(err)
	}
	if status, _, body := e.call(t, "events", e.tid, url.Values{"cursor": {stale}}); status != http.StatusOK {
		t.Errorf("old cursor without the fault: %d %s, want 200 (served from now-24h)", status, body)
	}
}
