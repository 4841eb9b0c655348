package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	gosyslog "github.com/leodido/go-syslog/v4"
	"github.com/leodido/go-syslog/v4/octetcounting"
	"github.com/leodido/go-syslog/v4/rfc5424"

	"github.com/puawatch/puawatch/internal/app"
	"github.com/puawatch/puawatch/internal/config"
	"github.com/puawatch/puawatch/internal/fake/sim"
	"github.com/puawatch/puawatch/internal/glob"
	"github.com/puawatch/puawatch/internal/notify/webhook"
	"github.com/puawatch/puawatch/internal/render/detectionjson"
)

// ---------------------------------------------------------------------------
// In-process receivers.

// hookRequest is one request an HTTP receiver got, with the status it
// answered.
type hookRequest struct {
	Header http.Header
	Body   []byte
	Status int
}

// hookServer is an HTTP receiver (webhook, Slack, Teams) on its own
// loopback server that records every request. answer decides the status
// and headers of the n-th request (1 for the first); nil answers 200.
type hookServer struct {
	srv *httptest.Server
	url string

	mu     sync.Mutex
	reqs   []hookRequest
	answer func(n int) (int, http.Header)
}

func newHook(t *testing.T, name string) *hookServer {
	t.Helper()
	h := &hookServer{}
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.srv.Close)
	if !strings.HasPrefix(h.srv.URL, "http://127.0.0.1:") {
		t.Fatalf("receiver %s listens on %s, want 127.0.0.1", name, h.srv.URL)
	}
	h.url = h.srv.URL + "/hooks/" + name + "/T0KEN-" + name
	return h
}

func (h *hookServer) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	status, hdr := http.StatusOK, http.Header(nil)
	if h.answer != nil {
		status, hdr = h.answer(len(h.reqs) + 1)
	}
	h.reqs = append(h.reqs, hookRequest{Header: r.Header.Clone(), Body: body, Status: status})
	h.mu.Unlock()
	for k, vs := range hdr {
		w.Header()[k] = vs
	}
	w.WriteHeader(status)
	if status == http.StatusOK {
		_, _ = io.WriteString(w, "ok") // Slack's answer
	} else {
		_, _ = io.WriteString(w, http.StatusText(status))
	}
}

// setAnswer replaces how the receiver answers from the next request on.
func (h *hookServer) setAnswer(f func(n int) (int, http.Header)) {
	h.mu.Lock()
	h.answer = f
	h.mu.Unlock()
}

// requests returns every request so far.
func (h *hookServer) requests() []hookRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.reqs)
}

// accepted returns the requests answered 2xx.
func (h *hookServer) accepted() []hookRequest {
	var out []hookRequest
	for _, r := range h.requests() {
		if r.Status >= 200 && r.Status < 300 {
			out = append(out, r)
		}
	}
	return out
}

// webhookBody decodes a webhook request, verifying its signature with
// secret (when not empty) as a receiver must.
func webhookBody(t *testing.T, req hookRequest, secret string) webhook.Body {
	t.Helper()
	if secret != "" {
		if err := webhook.Verify([]byte(secret), req.Header.Get(webhook.HeaderTimestamp), req.Header.Get(webhook.HeaderSignature),
			req.Body, time.Now(), 0); err != nil {
			t.Errorf("webhook signature does not verify: %v", err)
		}
	}
	if !json.Valid(req.Body) {
		t.Fatalf("webhook body is not valid JSON: %.300q", req.Body)
	}
	var b webhook.Body
	if err := json.Unmarshal(req.Body, &b); err != nil {
		t.Fatalf("webhook body does not decode: %v: %.300q", err, req.Body)
	}
	if b.Schema != webhook.Schema || b.Version != webhook.Version {
		t.Errorf("webhook body schema %q version %d, want %q %d", b.Schema, b.Version, webhook.Schema, webhook.Version)
	}
	if b.Count != len(b.Detections) {
		t.Errorf("webhook body count %d, but %d detections", b.Count, len(b.Detections))
	}
	if got := req.Header.Get(webhook.HeaderIdempotencyKey); got != b.Key {
		t.Errorf("Idempotency-Key %q, body key %q", got, b.Key)
	}
	return b
}

// syslogServer is a TCP syslog receiver: octet-counting framing and the
// strict RFC 5424 parser (no best effort). A message that does not parse
// is recorded as an error.
type syslogServer struct {
	addr string
	ln   net.Listener

	mu    sync.Mutex
	msgs  []*rfc5424.SyslogMessage
	errs  []error
	conns []net.Conn
	wg    sync.WaitGroup
}

func newSyslog(t *testing.T) *syslogServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &syslogServer{addr: ln.Addr().String(), ln: ln}
	s.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			s.wg.Go(func() {
				p := octetcounting.NewParser(gosyslog.WithMaxMessageLength(1<<20), gosyslog.WithListener(func(res *gosyslog.Result) {
					s.mu.Lock()
					defer s.mu.Unlock()
					sm, ok := res.Message.(*rfc5424.SyslogMessage)
					switch {
					case res.Error != nil:
						s.errs = append(s.errs, res.Error)
					case !ok || sm == nil:
						s.errs = append(s.errs, fmt.Errorf("not an RFC 5424 message: %T", res.Message))
					default:
						s.msgs = append(s.msgs, sm)
					}
				}))
				p.Parse(c)
				_ = c.Close()
			})
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			_ = c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

// received returns the messages parsed so far and the parse errors.
func (s *syslogServer) received() ([]*rfc5424.SyslogMessage, []error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.msgs), slices.Clone(s.errs)
}

// waitFor waits until n messages (or parse errors) arrived: syslog has no
// acknowledgement, so a message may still be on its way when Once returns.
func (s *syslogServer) waitFor(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		msgs, errs := s.received()
		if len(msgs)+len(errs) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("syslog receiver: %d messages and %d parse errors after 10s, want %d", len(msgs), len(errs), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// syslogEventID is the Sophos event id of a syslog message, from its
// structured data.
func syslogEventID(m *rfc5424.SyslogMessage) string {
	if m.StructuredData == nil {
		return ""
	}
	return (*m.StructuredData)["puawatch@32473"]["eventId"]
}

// ---------------------------------------------------------------------------
// Configuration.

// writeConfig writes a YAML configuration (mode 0600: it holds the client
// secret and webhook URLs) with the rig's simulator credentials, URLs and
// database, followed by body, and loads it without the process
// environment.
func (r *rig) writeConfig(t *testing.T, body string) config.Config {
	t.Helper()
	head := fmt.Sprintf("sophos:\n  client_id: %q\n  client_secret: %q\n  auth_url: %q\n  api_url: %q\nstore:\n  db: %q\n",
		r.env["PUAWATCH_CLIENT_ID"], r.env["PUAWATCH_CLIENT_SECRET"], r.env["PUAWATCH_AUTH_URL"], r.env["PUAWATCH_API_URL"], r.db)
	path := filepath.Join(t.TempDir(), "puawatch.yaml")
	if err := os.WriteFile(path, []byte(head+body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(config.LoadOptions{Path: path, Env: func(string) string { return "" }})
	if err != nil {
		t.Fatalf("config: %v\n%s", err, head+body)
	}
	return cfg
}

// smtpURL is the capture server's URL for an email receiver.
func (r *rig) smtpURL() string { return fmt.Sprintf("smtp://%s?starttls=none", r.smtp.Addr()) }

// once runs one sweep and drain.
func once(t *testing.T, a *app.App) app.Outcome {
	t.Helper()
	out, err := a.Once(context.Background())
	if err != nil {
		t.Fatalf("once: %v", err)
	}
	if failed := out.Report.Failed(); len(failed) > 0 {
		t.Fatalf("tenants not read: %+v", failed)
	}
	return out
}

// forTenant filters rig.expected to one tenant.
func forTenant(want map[string]string, tenantID string) map[string]bool {
	out := map[string]bool{}
	for id, tid := range want {
		if tid == tenantID {
			out[id] = true
		}
	}
	return out
}

// compareIDs reports, for one receiver, the detections missing, those
// that are not its own, and those carried more than once.
func compareIDs(t *testing.T, receiver string, want map[string]bool, got map[string]int) {
	t.Helper()
	var missing, extra, twice []string
	for id := range want {
		if got[id] == 0 {
			missing = append(missing, id)
		}
	}
	for id, n := range got {
		if !want[id] {
			extra = append(extra, id)
		}
		if n > 1 {
			twice = append(twice, id)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	sort.Strings(twice)
	if len(missing)+len(extra)+len(twice) > 0 {
		t.Errorf("%s carried %d distinct detections, want %d: %d missing (e.g. %v), %d not its own (e.g. %v), %d more than once (e.g. %v)",
			receiver, len(got), len(want), len(missing), first(missing), len(extra), first(extra), len(twice), first(twice))
	}
}

// ---------------------------------------------------------------------------
// Payload shapes of Slack and Teams, as far as the tests read them.

type slackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type slackPayload struct {
	Text   string `json:"text"`
	Blocks []struct {
		Type     string      `json:"type"`
		Text     *slackText  `json:"text"`
		Fields   []slackText `json:"fields"`
		Elements []slackText `json:"elements"`
	} `json:"blocks"`
}

// texts are every text of the payload, the fallback first.
func (p slackPayload) texts() []string {
	out := []string{p.Text}
	for _, b := range p.Blocks {
		if b.Text != nil {
			out = append(out, b.Text.Text)
		}
		for _, f := range b.Fields {
			out = append(out, f.Text)
		}
		for _, e := range b.Elements {
			out = append(out, e.Text)
		}
	}
	return out
}

var slackEventID = regexp.MustCompile("\\*Event id\\*\\n`([^`]+)`")

func decodeSlack(t *testing.T, req hookRequest) slackPayload {
	t.Helper()
	var p slackPayload
	if err := json.Unmarshal(req.Body, &p); err != nil {
		t.Fatalf("Slack payload does not decode: %v: %.300q", err, req.Body)
	}
	return p
}

// slackIDs are the event ids a Slack message shows; it fails when the
// message leaves detections out ("… and N more").
func slackIDs(t *testing.T, p slackPayload) []string {
	t.Helper()
	var ids []string
	for _, s := range p.texts() {
		if strings.Contains(s, "… and ") && strings.HasSuffix(s, " more") {
			t.Errorf("Slack message %q leaves detections out: %q", p.Text, s)
		}
		for _, m := range slackEventID.FindAllStringSubmatch(s, -1) {
			ids = append(ids, m[1])
		}
	}
	return ids
}

type teamsFact struct {
	Title string `json:"title"`
	Value string `json:"value"`
}

type teamsElement struct {
	Type  string      `json:"type"`
	Text  string      `json:"text"`
	Facts []teamsFact `json:"facts"`
}

type teamsPayload struct {
	Type        string `json:"type"`
	Attachments []struct {
		ContentType string `json:"contentType"`
		Content     struct {
			Type string         `json:"type"`
			Body []teamsElement `json:"body"`
		} `json:"content"`
	} `json:"attachments"`
}

// ---------------------------------------------------------------------------
// 1. A partner's estate: customers' own receivers, the SOC gets everything.

// TestRoutingPartnerEstate routes a partner's eight tenants: two
// customers, matched by tenant name globs, each get their own webhook and
// their own mailbox (and the SOC's receivers, as the route package
// documents); the SOC's Slack and syslog get everything. Each customer
// receiver must carry exactly that customer's detections, the SOC's
// receivers every detection of every tenant, each once.
func TestRoutingPartnerEstate(t *testing.T) {
	cfg := sim.DefaultConfig()
	cfg.Seed = 1
	cfg.Tenants = 8
	cfg.EventsPerTenant = 150
	r := newRig(t, cfg)

	// Customer A is "Müller & Söhne GmbH & Co. KG" (a glob in another case
	// than the name, with non-ASCII letters), customer B "Wingtip Toys Ltd".
	customers := []struct{ key, glob, secret, to string }{
		{"a", "MÜLLER & SÖHNE*", "secret-of-a", "it@mueller.example"},
		{"b", "wingtip*", "secret-of-b", "it@wingtip.example"},
	}
	tenantOf := map[string]sim.TenantInfo{}
	for _, c := range customers {
		var hits []sim.TenantInfo
		for _, ti := range r.sim.Tenants() {
			if glob.Match(c.glob, ti.Name) {
				hits = append(hits, ti)
			}
		}
		if len(hits) != 1 {
			t.Fatalf("glob %q matches %d simulator tenants (%+v), want 1: the simulator's names changed", c.glob, len(hits), hits)
		}
		tenantOf[c.key] = hits[0]
	}

	hooks := map[string]*hookServer{"a": newHook(t, "a-hook"), "b": newHook(t, "b-hook")}
	slack := newHook(t, "soc-slack")
	sl := newSyslog(t)
	var y strings.Builder
	y.WriteString("receivers:\n")
	for _, c := range customers {
		fmt.Fprintf(&y, "  - name: %s-hook\n    webhook:\n      url: %q\n      secret: %q\n", c.key, hooks[c.key].url, c.secret)
		fmt.Fprintf(&y, "  - name: %s-mail\n    email:\n      smtp_url: %q\n      from: puawatch@test.invalid\n      to: [%q]\n", c.key, r.smtpURL(), c.to)
	}
	fmt.Fprintf(&y, "  - name: soc-slack\n    slack:\n      url: %q\n", slack.url)
	fmt.Fprintf(&y, "  - name: soc-syslog\n    syslog:\n      network: tcp\n      address: %q\n      format: json\n", sl.addr)
	// max_per_message stays within what one Slack message shows (about 46
	// detections), so that every event id is in a Slack message.
	y.WriteString("route:\n  receivers: [soc-slack, soc-syslog]\n  group_by: [tenant]\n  digest_above: 3\n  max_per_message: 25\n  routes:\n")
	for _, c := range customers {
		fmt.Fprintf(&y, "    - match:\n        tenant: [%q]\n      receivers: [%s-hook, %s-mail, soc-slack, soc-syslog]\n", c.glob, c.key, c.key)
	}
	c := r.writeConfig(t, y.String())

	a, err := app.New(context.Background(), c, app.Deps{Stdout: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	out := once(t, a)

	want := r.expected(t, nil)
	if len(want) < 100 {
		t.Fatalf("only %d detections in the simulator: the test proves little", len(want))
	}
	if pending := r.pending(t); len(pending) > 0 {
		t.Fatalf("%d outbox rows not sent after the run (e.g. %+v)", len(pending), pending[0])
	}

	// Each customer's webhook: exactly its detections, signed, one tenant
	// per message.
	for _, cu := range customers {
		ti := tenantOf[cu.key]
		mine := forTenant(want, ti.ID)
		if len(mine) == 0 {
			t.Fatalf("customer %s (%s) has no detections: the test proves little", cu.key, ti.Name)
		}
		got := map[string]int{}
		reqs := hooks[cu.key].requests()
		for _, req := range reqs {
			b := webhookBody(t, req, cu.secret)
			if b.Tenant.ID != ti.ID || b.Channel != cu.key+"-hook" {
				t.Errorf("%s-hook got a message of tenant %s (%s) on channel %q, want only %s", cu.key, b.Tenant.Name, b.Tenant.ID, b.Channel, ti.Name)
			}
			for _, d := range b.Detections {
				got[d.ID]++
				if d.TenantID != ti.ID {
					t.Errorf("%s-hook got detection %s of tenant %s (%s)", cu.key, d.ID, d.TenantName, d.TenantID)
				}
			}
		}
		compareIDs(t, cu.key+"-hook ("+ti.Name+")", mine, got)
		t.Logf("customer %s (%s): %d detections in %d webhook requests", cu.key, ti.Name, len(mine), len(reqs))
	}

	// Mails go only to the customer whose detections they carry.
	mailIDs := map[string]map[string]int{}
	for _, cu := range customers {
		mailIDs[cu.to] = map[string]int{}
	}
	for _, m := range r.smtp.Messages() {
		if len(m.To) != 1 || mailIDs[m.To[0]] == nil {
			t.Errorf("mail %q went to %v, want exactly one customer address", m.Subject, m.To)
			continue
		}
		to := m.To[0]
		if hdr := m.Header.Get("To"); !strings.Contains(hdr, to) || strings.Count(hdr, "@") != 1 {
			t.Errorf("mail %q to %s has To header %q", m.Subject, to, hdr)
		}
		ids := eventIDLine.FindAllStringSubmatch(m.Text, -1)
		if len(ids) == 0 {
			t.Errorf("mail %q carries no event id", m.Subject)
		}
		for _, id := range ids {
			mailIDs[to][id[1]]++
		}
	}
	for _, cu := range customers {
		compareIDs(t, "mail to "+cu.to, forTenant(want, tenantOf[cu.key].ID), mailIDs[cu.to])
	}

	// The SOC: Slack and syslog carry every detection of every tenant.
	all := map[string]bool{}
	for id := range want {
		all[id] = true
	}
	slackGot := map[string]int{}
	for _, req := range slack.requests() {
		for _, id := range slackIDs(t, decodeSlack(t, req)) {
			slackGot[id]++
		}
	}
	compareIDs(t, "soc-slack", all, slackGot)
	sl.waitFor(t, len(want))
	msgs, errs := sl.received()
	for _, err := range errs {
		t.Errorf("syslog message does not parse: %v", err)
	}
	syslogGot := map[string]int{}
	for _, m := range msgs {
		syslogGot[syslogEventID(m)]++
	}
	compareIDs(t, "soc-syslog", all, syslogGot)
	t.Logf("%d detections of %d tenants: %d sent rows, %d Slack messages, %d syslog messages, %d mails",
		len(want), len(r.sim.Tenants()), out.Sent.Sent, len(slack.requests()), len(msgs), len(r.smtp.Messages()))

	// A second run sends nothing.
	before := []int{len(hooks["a"].requests()), len(hooks["b"].requests()), len(slack.requests()), len(r.smtp.Messages())}
	once(t, a)
	after := []int{len(hooks["a"].requests()), len(hooks["b"].requests()), len(slack.requests()), len(r.smtp.Messages())}
	if !slices.Equal(before, after) {
		t.Errorf("a second run sent more: requests/mails %v, then %v", before, after)
	}
}

// ---------------------------------------------------------------------------
// 2. A burst becomes a few digests.

// TestRoutingBurstDigests injects 500 detections into one tenant and 2
// into another, with group_by [tenant], digest_above 3 and
// max_per_message 100: the burst tenant's receiver must get 5 digests of
// 100 detections, the other's 2 messages of one detection. It runs twice:
// with the burst tenant read (and its rows stored) first, and with the
// small tenant read first, so that the small tenant's rows come before the
// burst's in the outbox.
func TestRoutingBurstDigests(t *testing.T) {
	for _, burstFirst := range []bool{true, false} {
		name := "burst tenant read first"
		if !burstFirst {
			name = "small tenant read first"
		}
		t.Run(name, func(t *testing.T) { testBurst(t, burstFirst) })
	}
}

func testBurst(t *testing.T, burstFirst bool) {
	cfg := sim.DefaultConfig()
	cfg.Seed = 5
	cfg.Tenants = 3
	cfg.EventsPerTenant = 30
	r := newRig(t, cfg)
	// Tenants are read in the order of their names; one worker makes the
	// order of the stored rows that order.
	ts := r.sim.Tenants()
	sort.Slice(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })
	burst, small := ts[0], ts[1]
	if !burstFirst {
		burst, small = small, burst
	}
	hBurst, hSmall, hRest := newHook(t, "burst"), newHook(t, "small"), newHook(t, "rest")
	c := r.writeConfig(t, fmt.Sprintf(`poll:
  workers: 1
receivers:
  - name: burst-hook
    webhook: {url: %q}
  - name: small-hook
    webhook: {url: %q}
  - name: rest-hook
    webhook: {url: %q}
route:
  receivers: [rest-hook]
  group_by: [tenant]
  digest_above: 3
  max_per_message: 100
  routes:
    - match: {tenant: [%q]}
      receivers: [burst-hook]
    - match: {tenant: [%q]}
      receivers: [small-hook]
`, hBurst.url, hSmall.url, hRest.url, burst.ID, small.ID))
	a, err := app.New(context.Background(), c, app.Deps{Stdout: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	once(t, a) // the backlog
	n0 := map[*hookServer]int{hBurst: len(hBurst.requests()), hSmall: len(hSmall.requests()), hRest: len(hRest.requests())}

	inject := func(tenant sim.TenantInfo, n int) map[string]bool {
		evs := make([]sim.Event, n)
		for i := range evs {
			evs[i] = sim.Event{Type: sim.TypeCorePuaDetection, Name: fmt.Sprintf("PUA detected: 'PsExec' at 'C:\\t\\%d\\PsExec.exe'", i),
				Severity: "medium", Group: "PUA", Location: fmt.Sprintf("WS-BURST-%03d", i), Threat: ptr("PsExec")}
		}
		ids, err := r.sim.Inject(tenant.ID, evs, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		set := map[string]bool{}
		for _, id := range ids {
			set[id] = true
		}
		return set
	}
	burstIDs := inject(burst, 500)
	smallIDs := inject(small, 2)
	out := once(t, a)
	if out.Sent.Sent != 502 {
		t.Errorf("the run sent %d rows, want 502", out.Sent.Sent)
	}

	// The burst: 5 digests of 100.
	var sizes []int
	got := map[string]int{}
	for _, req := range hBurst.requests()[n0[hBurst]:] {
		b := webhookBody(t, req, "")
		sizes = append(sizes, b.Count)
		if !b.Digest && b.Count > 1 {
			t.Errorf("a message of %d detections is not marked digest", b.Count)
		}
		for _, d := range b.Detections {
			got[d.ID]++
		}
	}
	compareIDs(t, "burst-hook", burstIDs, got)
	if !slices.Equal(sizes, []int{100, 100, 100, 100, 100}) {
		t.Errorf("500 detections of tenant %s went out as %d messages of %v detections, want 5 digests of 100 "+
			"(route: group_by [tenant], digest_above 3, max_per_message 100; %s). "+
			"BUG: the dispatcher groups only the rows of one claimed batch (notify.DefaultBatchSize = 200 rows, claimed "+
			"oldest id first across every group by sqlstore ClaimOutbox), so a group whose due rows straddle a batch "+
			"boundary is cut into extra, smaller digests (and a batch holding digest_above rows or fewer of the group sends them one "+
			"by one); see notify.groupRows", burst.Name, len(sizes), sizes, readOrder(burstFirst))
	}

	// The small tenant: one message each.
	sizes = nil
	got = map[string]int{}
	for _, req := range hSmall.requests()[n0[hSmall]:] {
		b := webhookBody(t, req, "")
		sizes = append(sizes, b.Count)
		if b.Digest {
			t.Errorf("a message of tenant %s with %d detections is a digest; 2 due are below digest_above 3", small.Name, b.Count)
		}
		for _, d := range b.Detections {
			got[d.ID]++
		}
	}
	compareIDs(t, "small-hook", smallIDs, got)
	if !slices.Equal(sizes, []int{1, 1}) {
		t.Errorf("2 detections of tenant %s went out as messages of %v detections, want 2 messages of 1", small.Name, sizes)
	}
	if n := len(hRest.requests()) - n0[hRest]; n != 0 {
		t.Errorf("the other tenants' receiver got %d messages, want none", n)
	}
}

func readOrder(burstFirst bool) string {
	if burstFirst {
		return "the burst tenant's rows were stored first"
	}
	return "the small tenant's 2 rows were stored before the burst's 500"
}

// ---------------------------------------------------------------------------
// 3. Hostile values through every channel.

// TestRoutingHostileEveryChannel sends events whose every endpoint-supplied
// value is hostile (markup, quotes, CR/LF header injections, | = ] \,
// long UNC paths, non-ASCII), plus a few written for Slack, Teams and
// mail, through every channel, as single messages (one tenant) and as
// digests (the other), and checks what each receiver gets.
func TestRoutingHostileEveryChannel(t *testing.T) {
	cfg := sim.DefaultConfig()
	cfg.Seed = 9
	cfg.Tenants = 2
	cfg.EventsPerTenant = 150
	cfg.HostileShare = 1
	r := newRig(t, cfg)
	ts := r.sim.Tenants()
	digests := ts[1] // ts[0] gets single messages
	crafted := []sim.Event{
		{Type: sim.TypeCorePuaDetection, Severity: "high", Group: "PUA",
			Name:     "PUA detected: '<!channel> *bold* [x](http://evil.example)' at 'C:\\a\r\nBcc: victim@evil.example'",
			Location: "<!channel> WS-1\r\nBcc: victim@evil.example", Source: "CORP\\<!everyone> @here",
			Threat: ptr("<!here> *bold* _it_ ~s~ `code` [x](http://evil.example) {{DATE(2020-01-01T00:00:00Z)}} 1. list # head")},
		{Type: sim.TypeCorePuaRemoteDetection, Severity: "critical", Group: "PUA",
			Name:     "PUA detected: 'x' in network location '\\\\srv\\share\\<script>alert(1)</script>\\a]b\"c|d=e.exe'",
			Location: "LAPTOP-02\nX-Injected: 1\nBcc: victim@evil.example", Source: "<@U0123> <http://evil.example|click>",
			Threat: ptr("PUA/<script>alert(1)</script>")},
	}
	for _, ti := range ts {
		if _, err := r.sim.Inject(ti.ID, crafted, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}

	hook, slack, teams := newHook(t, "hook"), newHook(t, "slack"), newHook(t, "teams")
	slJSON, slCEF := newSyslog(t), newSyslog(t)
	const soc = "soc@test.invalid"
	c := r.writeConfig(t, fmt.Sprintf(`receivers:
  - name: hook
    webhook: {url: %q, secret: hostile-secret}
  - name: slack
    slack: {url: %q}
  - name: teams
    teams: {url: %q}
  - name: syslog-json
    syslog: {network: tcp, address: %q, format: json}
  - name: syslog-cef
    syslog: {network: tcp, address: %q, format: cef}
  - name: mail
    email: {smtp_url: %q, from: puawatch@test.invalid, to: [%q]}
route:
  receivers: [hook, slack, teams, syslog-json, syslog-cef, mail]
  group_by: [tenant]
  digest_above: 1000
  routes:
    - match: {tenant: [%q]}
      receivers: [hook, slack, teams, syslog-json, syslog-cef, mail]
      digest_above: 0
      max_per_message: 10
`, hook.url, slack.url, teams.url, slJSON.addr, slCEF.addr, r.smtpURL(), soc, digests.ID))
	a, err := app.New(context.Background(), c, app.Deps{Stdout: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	once(t, a)
	want := r.expected(t, nil)
	if len(want) < 40 {
		t.Fatalf("only %d detections: the test proves little", len(want))
	}
	if pending := r.pending(t); len(pending) > 0 {
		t.Fatalf("%d outbox rows not sent (e.g. %s: %s)", len(pending), pending[0].Channel, pending[0].LastError)
	}

	t.Run("webhook", func(t *testing.T) {
		got := map[string]int{}
		hostile := 0
		for _, req := range hook.requests() {
			for _, bad := range []string{"<", ">"} {
				if strings.Contains(string(req.Body), bad) {
					t.Errorf("webhook body holds a raw %q (the JSON must escape it): %.300q", bad, req.Body)
				}
			}
			b := webhookBody(t, req, "hostile-secret")
			for _, d := range b.Detections {
				got[d.ID]++
				for _, v := range []string{d.Host, d.User, d.Path, d.Threat, d.Name, d.TenantName} {
					if strings.ContainsAny(v, "\r\n") {
						t.Errorf("webhook detection %s holds a line break: %q", d.ID, v)
					}
					if strings.Contains(v, "<script>") {
						hostile++ // decoded values are unchanged, only the JSON escapes them
					}
				}
			}
		}
		compareIDs(t, "hook", boolSet(want), got)
		if hostile == 0 {
			t.Error("no decoded webhook value holds <script>: the hostile values did not get through unchanged")
		}
	})

	t.Run("slack", func(t *testing.T) {
		got := map[string]int{}
		escaped := false
		for _, req := range slack.requests() {
			p := decodeSlack(t, req)
			for _, s := range p.texts() {
				for _, bad := range []string{"<script", "<!channel>", "<!here>", "<!everyone>", "<@U0123>", "<http://evil", "<img", "<svg"} {
					if strings.Contains(s, bad) {
						t.Errorf("Slack text holds a raw %q: %q", bad, s)
					}
				}
				// The only raw < is the link to Sophos Central.
				for rest := s; strings.Contains(rest, "<"); {
					i := strings.Index(rest, "<")
					if !strings.HasPrefix(rest[i:], "<https://central.sophos.com|") {
						t.Errorf("Slack text holds a raw < that is not the Sophos Central link: %q", s)
						break
					}
					rest = rest[i+1:]
				}
				escaped = escaped || strings.Contains(s, "&lt;script&gt;")
			}
			for _, w := range []string{"@here", "@channel", "@everyone"} {
				if strings.Contains(strings.ToLower(p.Text), w) {
					t.Errorf("Slack fallback text holds %q without the word joiner: %q", w, p.Text)
				}
			}
			for _, id := range slackIDs(t, p) {
				got[id]++
			}
		}
		compareIDs(t, "slack", boolSet(want), got)
		if !escaped {
			t.Error("no Slack text shows &lt;script&gt;: the hostile values did not arrive escaped")
		}
	})

	t.Run("teams", func(t *testing.T) {
		got := map[string]int{}
		for _, req := range teams.requests() {
			var p teamsPayload
			if err := json.Unmarshal(req.Body, &p); err != nil {
				t.Fatalf("Teams payload does not decode: %v: %.300q", err, req.Body)
			}
			if len(p.Attachments) != 1 {
				t.Fatalf("Teams payload has %d attachments", len(p.Attachments))
			}
			for _, el := range p.Attachments[0].Content.Body {
				var texts []string
				if el.Text != "" && !plainTeamsText.MatchString(el.Text) {
					texts = append(texts, el.Text)
				}
				for _, f := range el.Facts {
					switch f.Title {
					case "When": // made from times, left unescaped by design
					case "Event id":
						got[unescapeTeams(f.Value)]++
						texts = append(texts, f.Value)
					default:
						texts = append(texts, f.Value)
					}
				}
				for _, s := range texts {
					if strings.Contains(s, "<script>") || strings.Contains(s, "</script>") {
						t.Errorf("Teams text holds a raw <script>: %q", s)
					}
					if i := unescapedSpecial(s); i >= 0 {
						t.Errorf("Teams text holds an unescaped Markdown special %q at %d: %q", s[i], i, s)
					}
					if strings.Contains(s, "{{") {
						t.Errorf("Teams text holds {{ (a Teams function): %q", s)
					}
					if strings.ContainsAny(s, "\r\n") {
						t.Errorf("Teams text holds a line break: %q", s)
					}
				}
			}
		}
		compareIDs(t, "teams", boolSet(want), got)
	})

	t.Run("syslog", func(t *testing.T) {
		for _, rc := range []struct {
			name string
			s    *syslogServer
		}{{"syslog-json", slJSON}, {"syslog-cef", slCEF}} {
			rc.s.waitFor(t, len(want))
			msgs, errs := rc.s.received()
			for _, err := range errs {
				t.Errorf("%s: a message does not parse as strict RFC 5424: %v", rc.name, err)
			}
			got := map[string]int{}
			for _, m := range msgs {
				got[syslogEventID(m)]++
				if m.Message == nil {
					t.Errorf("%s: message without MSG", rc.name)
					continue
				}
				msg := *m.Message
				if strings.ContainsAny(msg, "\r\n") {
					t.Errorf("%s: MSG holds a line break: %q", rc.name, msg)
				}
				switch rc.name {
				case "syslog-json":
					var d detectionjson.Detection
					if err := json.Unmarshal([]byte(msg), &d); err != nil {
						t.Errorf("syslog-json: MSG is not JSON: %v: %q", err, msg)
					} else if d.ID != syslogEventID(m) {
						t.Errorf("syslog-json: MSG id %q, structured data eventId %q", d.ID, syslogEventID(m))
					}
				case "syslog-cef":
					if !strings.HasPrefix(msg, "CEF:0|Sophos|Central|1.0|") {
						t.Errorf("syslog-cef: MSG is not CEF: %q", msg)
					}
				}
			}
			compareIDs(t, rc.name, boolSet(want), got)
		}
	})

	t.Run("email", func(t *testing.T) {
		got := map[string]int{}
		for _, m := range r.smtp.Messages() {
			if !slices.Equal(m.To, []string{soc}) {
				t.Errorf("mail %q went to %v, want only %s", m.Subject, m.To, soc)
			}
			if m.HTML == "" {
				t.Errorf("mail %q has no HTML part", m.Subject)
			}
			lower := strings.ToLower(m.HTML)
			for _, bad := range []string{"<script", "<img", "<svg", "<b>corp"} {
				if strings.Contains(lower, bad) {
					t.Errorf("the HTML part of mail %q holds raw %q", m.Subject, bad)
				}
			}
			for _, line := range headerLines(m.Data) {
				if line == "" || line[0] == ' ' || line[0] == '\t' {
					continue // a folded continuation of the header before
				}
				name, _, ok := strings.Cut(line, ":")
				if !ok || strings.ContainsAny(name, " \t") || name == "" {
					t.Errorf("mail %q: header line %q is not a header", m.Subject, line)
					continue
				}
				if n := strings.ToLower(name); n == "x-injected" || n == "bcc" || n == "cc" {
					t.Errorf("mail %q: a value injected the header line %q", m.Subject, line)
				}
			}
			for k, vs := range m.Header {
				for _, v := range vs {
					if strings.ContainsAny(v, "\r\n") {
						t.Errorf("mail %q: header %s holds a line break: %q", m.Subject, k, v)
					}
				}
			}
			for _, id := range eventIDLine.FindAllStringSubmatch(m.Text, -1) {
				got[id[1]]++
			}
		}
		compareIDs(t, "mail", boolSet(want), got)
		for _, m := range r.smtp.Messages() {
			if strings.Contains(m.Subject, "Injected") || strings.Contains(m.Subject, "Bcc") {
				t.Logf("a hostile subject, kept on one line: %q", m.Subject)
				break
			}
		}
	})
}

func boolSet(m map[string]string) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}

// plainTeamsText are card texts made by puawatch from numbers alone.
var plainTeamsText = regexp.MustCompile(`^(Detection \d+ of \d+|… and \d+ more)$`)

// teamsSpecials are the Markdown specials the Teams channel escapes.
const teamsSpecials = "\\*_[]()#><-+!~|`"

// unescapedSpecial returns the index of the first Markdown special of s
// that is not escaped with a backslash, or -1.
func unescapedSpecial(s string) int {
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\':
			if i+1 < len(s) && (strings.IndexByte(teamsSpecials, s[i+1]) >= 0 || s[i+1] == '.') {
				i++ // an escape pair
				continue
			}
			return i
		case strings.IndexByte(teamsSpecials, s[i]) >= 0:
			return i
		}
	}
	return -1
}

// unescapeTeams undoes the Teams channel's backslash escapes.
func unescapeTeams(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// headerLines are the raw header lines of a mail, up to the empty line.
func headerLines(data []byte) []string {
	head, _, _ := strings.Cut(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n\n")
	return strings.Split(head, "\n")
}
