package browser

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/puawatch/puawatch/internal/app"
	"github.com/puawatch/puawatch/internal/config"
	"github.com/puawatch/puawatch/internal/fake/sim"
	"github.com/puawatch/puawatch/internal/store"
	"github.com/puawatch/puawatch/internal/store/sqlstore"
)

// chromiumPath is Debian's chromium; .ci/run installs it.
const chromiumPath = "/usr/bin/chromium"

// Payloads that run script if the dashboard put them into a page as
// markup: each would set window.__pwned or the title.
const (
	pwnHost   = `<img src=x onerror="window.__pwned='host';document.title='PWNED'">`
	pwnThreat = `<script>window.__pwned='threat';document.title='PWNED'</script>`
	pwnUser   = `CORP\"><svg onload="window.__pwned='user'">`
)

// newBrowser starts a headless Chromium for the test; it fails the test
// when chromium is missing.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := exec.LookPath(chromiumPath); err != nil {
		t.Fatalf("%s: %v: install Debian's chromium (apt-get install chromium); .ci/run does", chromiumPath, err)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true),
		chromedp.WindowSize(1400, 1000), chromedp.UserDataDir(t.TempDir()))
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first Run starts the browser; it must not carry a timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// within runs actions with a safety deadline (a hang fails the test
// instead of stalling the suite; nothing asserts on time).
func within(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, 60*time.Second)
}

// dashboard is an app serving the dashboard over a store filled from the
// simulator.
type dashboard struct {
	url     string // http://127.0.0.1:port
	st      *sqlstore.Store
	sim     *sim.Simulator
	tenants []sim.TenantInfo
	pwnID   string // the detection carrying the payloads
}

// serve runs the daemon (app.New, Once to fill the store, then Run,
// which serves web.listen) against a simulator with hostile strings,
// a JSON-lines receiver and a webhook receiver that always fails (dead
// letters for the outbox page).
func serve(t *testing.T, tenants, perTenant int, listen string, auth config.WebAuth) *dashboard {
	t.Helper()
	ctx := context.Background()
	scfg := sim.DefaultConfig()
	scfg.Tenants, scfg.EventsPerTenant, scfg.Backlog, scfg.HostileShare = tenants, perTenant, 6*time.Hour, 0.3
	s := sim.New(scfg)
	srv, err := sim.Start(s, sim.ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	d := &dashboard{sim: s, tenants: s.Tenants()}
	threat := pwnThreat
	at := time.Now().Add(-30 * time.Minute).UTC()
	ids, err := s.Inject(d.tenants[0].ID, []sim.Event{{Type: sim.TypeCorePuaDetection, Name: "PUA detected: " + pwnThreat, Severity: "high",
		Group: "PUA", Location: pwnHost, Source: pwnUser, EndpointType: "computer", EndpointID: "ep-pwn", Threat: &threat, CreatedAt: at, When: at}}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	d.pwnID = ids[0]

	dir := t.TempDir()
	db := filepath.Join(dir, "puawatch.db")
	yml := "notify:\n  max_attempts: 1\nreceivers:\n  - name: broken-hook\n    webhook:\n      url: http://127.0.0.1:1/hook\n"
	if !auth.Token.Empty() {
		yml += fmt.Sprintf("web:\n  auth:\n    token: %q\n", auth.Token.Reveal())
	}
	cfgPath := filepath.Join(dir, "puawatch.yaml")
	if err := os.WriteFile(cfgPath, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	partner, _ := s.Credential("partner")
	env := map[string]string{
		"PUAWATCH_CLIENT_ID": partner.ClientID, "PUAWATCH_CLIENT_SECRET": partner.ClientSecret,
		"PUAWATCH_AUTH_URL": s.TokenURL(), "PUAWATCH_API_URL": srv.GlobalURL, "PUAWATCH_DB": db,
		"PUAWATCH_JSONL": filepath.Join(dir, "detections.jsonl"), "PUAWATCH_LISTEN": listen, "HOME": dir,
	}
	cfg, err := config.Load(config.LoadOptions{Path: cfgPath, Env: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Poll.Interval = config.Duration(time.Hour)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	a, err := app.New(ctx, cfg, app.Deps{Logger: slog.New(slog.DiscardHandler), Stdout: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Once(ctx); err != nil {
		t.Fatalf("Once: %v", err)
	}
	addr, err := a.Listen()
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := a.Run(rctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(func() { stop(); wg.Wait(); _ = a.Close() })
	d.url = "http://" + addr.String()
	d.st, err = sqlstore.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.st.Close() })
	return d
}

// dialogs fails the test for every JavaScript dialog a page opens (the
// simulator's own payloads call alert) and dismisses it.
func dialogs(t *testing.T, ctx context.Context) *[]string {
	var mu sync.Mutex
	var seen []string
	err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			mu.Lock()
			seen = append(seen, e.Message)
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return &seen
}

// screenshot saves the page to screenshots/name.png.
func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// open navigates to u and fails unless the answer has status want.
func open(t *testing.T, ctx context.Context, u string, want int) {
	t.Helper()
	c, cancel := within(ctx)
	defer cancel()
	resp, err := chromedp.Run(c, chromedp.NavigateResponse(u))
	if err != nil {
		t.Fatalf("open %s: %v", u, err)
	}
	if resp.Status != int64(want) {
		t.Fatalf("open %s: status %d, want %d", u, resp.Status, want)
	}
}

func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	c, cancel := within(ctx)
	defer cancel()
	v, err := chromedp.Run(c, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

func number(t *testing.T, ctx context.Context, sel string) int {
	t.Helper()
	s := eval[string](t, ctx, fmt.Sprintf(`document.querySelector(%q).textContent`, sel))
	n, err := strconv.Atoi(strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s))
	if err != nil {
		t.Fatalf("%s holds %q, not a number", sel, s)
	}
	return n
}

// rows are the event ids of the detections table.
func rows(t *testing.T, ctx context.Context) []string {
	return eval[[]string](t, ctx, `Array.from(document.querySelectorAll('#detections tr[data-event-id]')).map(r => r.dataset.eventId)`)
}

func ids(p store.DetectionPage) []string {
	out := make([]string, len(p.Rows))
	for i, r := range p.Rows {
		out[i] = r.EventID
	}
	return out
}

func TestDashboard(t *testing.T) {
	d := serve(t, 3, 60, "127.0.0.1:0", config.WebAuth{})
	ctx := newBrowser(t)
	seen := dialogs(t, ctx)
	bg := context.Background()
	shots := "screenshots"

	t.Run("overview counts equal the store's", func(t *testing.T) {
		open(t, ctx, d.url+"/", 200)
		want, err := d.st.Overview(bg, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if got := number(t, ctx, "#unacked"); got != want.Unacked || got == 0 {
			t.Errorf("#unacked %d, store %d", got, want.Unacked)
		}
		if got := number(t, ctx, "#dead"); got != want.Dead || got == 0 {
			t.Errorf("#dead %d, store %d (the broken webhook's dead letters)", got, want.Dead)
		}
		got := eval[[][]string](t, ctx, `Array.from(document.querySelectorAll('#tenant-counts tr[data-tenant-id]')).map(r =>
			[r.dataset.tenantId, r.querySelector('td.day').textContent.trim(), r.querySelector('td.week').textContent.trim()])`)
		if len(got) != len(want.Tenants) || len(got) != len(d.tenants) {
			t.Fatalf("%d tenant rows, store %d, simulator %d", len(got), len(want.Tenants), len(d.tenants))
		}
		for i, w := range want.Tenants {
			if g := got[i]; g[0] != w.TenantID || g[1] != strconv.Itoa(w.Day) || g[2] != strconv.Itoa(w.Week) {
				t.Errorf("tenant row %d: %v, store %+v", i, g, w)
			}
		}
		if n := eval[int](t, ctx, `document.querySelectorAll('svg#hourly rect.bar').length`); n == 0 {
			t.Errorf("the chart has no bars")
		}
		screenshot(t, ctx, shots, "overview")
	})

	t.Run("a filter narrows the table and the export holds the filtered rows", func(t *testing.T) {
		open(t, ctx, d.url+"/detections", 200)
		all := number(t, ctx, "#total")
		tenant := d.tenants[1]
		c, cancel := within(ctx)
		defer cancel()
		if _, err := chromedp.RunResponse(c, chromedp.SetValue(chromedp.CSS(`#filters input[name=tenant]`), tenant.Name),
			chromedp.Submit(chromedp.CSS(`#filters input[name=tenant]`))); err != nil {
			t.Fatal(err)
		}
		q := store.DetectionQuery{Tenant: tenant.Name, Sort: "created_at", Desc: true}
		want, err := d.st.QueryDetections(bg, q)
		if err != nil {
			t.Fatal(err)
		}
		got := number(t, ctx, "#total")
		if got != want.Total || got == 0 || got >= all {
			t.Errorf("#total %d after the filter, store %d, unfiltered %d", got, want.Total, all)
		}
		shown := rows(t, ctx)
		if len(shown) != min(want.Total, 50) {
			t.Errorf("%d rows shown, want %d", len(shown), min(want.Total, 50))
		}
		for _, id := range shown {
			if !slices.Contains(ids(want), id) {
				t.Errorf("row %s is not of tenant %s", id, tenant.Name)
			}
		}
		for _, link := range []string{"a#export-json", "a#export-csv"} {
			href := eval[string](t, ctx, fmt.Sprintf(`document.querySelector(%q).href`, link))
			u, err := url.Parse(href)
			if err != nil || u.Query().Get("tenant") != tenant.Name {
				t.Fatalf("%s href %q lacks the filter", link, href)
			}
			sortQ := store.DetectionQuery{Tenant: tenant.Name, Sort: u.Query().Get("sort"), Desc: u.Query().Get("desc") == "1"}
			if sortQ.Sort == "" {
				sortQ.Sort, sortQ.Desc = q.Sort, q.Desc
			}
			wantRows, err := d.st.QueryDetections(bg, sortQ)
			if err != nil {
				t.Fatal(err)
			}
			exported := export(t, href)
			if !slices.Equal(exported, ids(wantRows)) {
				t.Errorf("%s holds %d rows %v…, want the %d filtered rows in order", link, len(exported), head(exported), len(wantRows.Rows))
			}
		}
		screenshot(t, ctx, shots, "detections")
	})

	t.Run("hostile strings are text and run no script", func(t *testing.T) {
		for _, u := range []string{
			d.url + "/detections?q=" + url.QueryEscape("PWNED"),
			d.url + "/detections?host=" + url.QueryEscape("<img"),
			d.url + "/detections/" + url.PathEscape(d.pwnID),
			d.url + "/",
			d.url + "/tenants",
			d.url + "/outbox",
		} {
			open(t, ctx, u, 200)
			if pwned := eval[string](t, ctx, `String(window.__pwned)`); pwned != "undefined" {
				t.Errorf("%s: a payload ran (window.__pwned = %s)", u, pwned)
			}
			if title := eval[string](t, ctx, `document.title`); strings.Contains(title, "PWNED") {
				t.Errorf("%s: title %q", u, title)
			}
			if n := eval[int](t, ctx, `document.querySelectorAll('script, img[src=x], svg[onload], [onerror], [onload]').length`); n != 0 {
				t.Errorf("%s: %d elements from payloads", u, n)
			}
		}
		open(t, ctx, d.url+"/detections/"+url.PathEscape(d.pwnID), 200)
		text := eval[string](t, ctx, `document.querySelector('#detection').textContent`)
		for _, s := range []string{pwnHost, pwnThreat} {
			if !strings.Contains(text, s) {
				t.Errorf("#detection lacks the text %q:\n%s", s, text)
			}
		}
		if raw := eval[string](t, ctx, `document.querySelector('pre#raw').textContent`); !strings.Contains(raw, "onerror") {
			t.Errorf("pre#raw lacks the raw payload: %s", raw)
		}
		screenshot(t, ctx, shots, "detection")
		// The simulator's own hostile hosts, from its generator, are text
		// in the table too.
		open(t, ctx, d.url+"/detections?host="+url.QueryEscape("<script>"), 200)
		hosts := eval[[]string](t, ctx, `Array.from(document.querySelectorAll('#detections td.host')).map(c => c.textContent)`)
		if len(hosts) == 0 || !strings.Contains(hosts[0], "<script>alert(1)</script>") {
			t.Errorf("the simulator's <script> host is not shown as text: %q", hosts)
		}
	})

	t.Run("tenants and outbox", func(t *testing.T) {
		open(t, ctx, d.url+"/tenants", 200)
		if n := eval[int](t, ctx, `document.querySelectorAll('#tenants tr[data-tenant-id]').length`); n != len(d.tenants) {
			t.Errorf("%d tenant rows, want %d", n, len(d.tenants))
		}
		screenshot(t, ctx, shots, "tenants")
		open(t, ctx, d.url+"/outbox", 200)
		if text := eval[string](t, ctx, `document.querySelector('#outbox').textContent`); !strings.Contains(text, "broken-hook") {
			t.Errorf("#outbox lacks the dead rows of broken-hook")
		}
		screenshot(t, ctx, shots, "outbox")
	})

	t.Run("acknowledging through the form", func(t *testing.T) {
		open(t, ctx, d.url+"/detections?acked=no", 200)
		before := number(t, ctx, "#total")
		id := rows(t, ctx)[0]
		c, cancel := within(ctx)
		defer cancel()
		resp, err := chromedp.RunResponse(c,
			chromedp.Click(chromedp.CSS(fmt.Sprintf(`#detections input[name=id][value=%q]`, id))),
			chromedp.SetValue(chromedp.CSS(`form#ack input[name=comment]`), "checked, harmless"),
			chromedp.SetValue(chromedp.CSS(`form#ack input[name=by]`), "alice"),
			chromedp.Click(chromedp.CSS(`form#ack button[type=submit]`)))
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != 200 {
			t.Fatalf("after the ack: status %d: %s", resp.Status, eval[string](t, ctx, `document.body.textContent`))
		}
		det, err := d.st.DetectionDetail(bg, id)
		if err != nil {
			t.Fatal(err)
		}
		if det.Ack == nil || det.Ack.By != "alice" || det.Ack.Comment != "checked, harmless" {
			t.Fatalf("ack of %s in the store: %+v", id, det.Ack)
		}
		if after := number(t, ctx, "#total"); after != before-1 {
			t.Errorf("unacknowledged %d after, %d before", after, before)
		}
	})

	t.Run("a forged cross-site request is refused", func(t *testing.T) {
		open(t, ctx, d.url+"/detections?acked=no", 200) // the browser holds the CSRF cookie
		victim := rows(t, ctx)[0]
		// A page of another origin (another port: the same site, so even
		// a SameSite cookie goes along) posts a form to /ack.
		evil := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(w, `<!doctype html><title>evil</title><form method="POST" action="%s/ack">
<input name="id" value="%s"><input name="comment" value="forged"><input name="by" value="mallory">
<input name="csrf" value="guessed"><button id="go" type="submit">win a prize</button></form>`, d.url, victim)
		})}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() { _ = evil.Serve(ln) }()
		defer evil.Close()
		open(t, ctx, "http://"+ln.Addr().String()+"/", 200)
		c, cancel := within(ctx)
		defer cancel()
		resp, err := chromedp.RunResponse(c, chromedp.Click(chromedp.CSS("#go")))
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != 403 {
			t.Errorf("forged POST: status %d, want 403", resp.Status)
		}
		det, err := d.st.DetectionDetail(bg, victim)
		if err != nil {
			t.Fatal(err)
		}
		if det.Ack != nil {
			t.Errorf("the forged request acknowledged %s: %+v", victim, det.Ack)
		}
	})

	if len(*seen) > 0 {
		t.Errorf("pages opened JavaScript dialogs: %q", *seen)
	}
}

// export fetches an export link with plain HTTP and returns the event
// ids it holds, in order.
func export(t *testing.T, href string) []string {
	t.Helper()
	resp, err := http.Get(href)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("%s: status %d", href, resp.StatusCode)
	}
	var out []string
	if strings.Contains(href, ".json") {
		var rows []struct {
			ID string `json:"id"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&rows); err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			out = append(out, r.ID)
		}
		return out
	}
	recs, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil || len(recs) == 0 {
		t.Fatalf("CSV: %v", err)
	}
	col := slices.Index(recs[0], "id")
	if col < 0 {
		t.Fatalf("CSV header %v has no id column", recs[0])
	}
	for _, r := range recs[1:] {
		out = append(out, r[col])
	}
	return out
}

func head(s []string) []string { return s[:min(3, len(s))] }

// TestNonLoopbackNeedsCredentials: bound to an address other machines
// reach (this machine's own non-loopback address when it has one, else
// every interface), with auth configured, the dashboard answers 401 to a
// browser without credentials and serves a user with them.
func TestNonLoopbackNeedsCredentials(t *testing.T) {
	host := "0.0.0.0"
	dialHost := "127.0.0.1"
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
				host, dialHost = n.IP.String(), n.IP.String()
				break
			}
		}
	}
	// A bearer token: a browser shows the 401 page to it (a basic
	// challenge would make headless Chromium cancel the prompt instead);
	// basic auth is access's unit tests'.
	const token = "browser-test-token-0123456789"
	d := serve(t, 1, 10, net.JoinHostPort(host, "0"), config.WebAuth{Token: token})
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(d.url, "http://"))
	base := "http://" + net.JoinHostPort(dialHost, port)
	ctx := newBrowser(t)
	for _, p := range []string{"/", "/detections", "/metrics", "/readyz"} {
		open(t, ctx, base+p, 401)
	}
	if text := eval[string](t, ctx, `document.body.textContent`); !strings.Contains(text, "authentication required") {
		t.Errorf("401 page: %q", text)
	}
	open(t, ctx, base+"/healthz", 200)
	req, _ := http.NewRequest("GET", base+"/", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("with the token: %d", resp.StatusCode)
	}
}
