package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/notify"
	"github.com/puawatch/puawatch/internal/render"
	"github.com/puawatch/puawatch/internal/secret"
	"github.com/puawatch/puawatch/internal/store"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var t0 = time.Date(2026, 3, 4, 10, 20, 30, 0, time.UTC)

const signKey = "s3cret-signing-key"

func det(id string) store.Detection {
	return store.Detection{
		EventID: id, TenantID: "t-1", TenantName: "Acme Corp", Kind: store.KindDetection,
		Type: "Event::Endpoint::CorePuaDetection", Name: "PUA detected: 'PsExec' at 'C:\\Tools\\PsExec64.exe'",
		Severity: "High", Threat: "PsExec", Location: "WS-042", User: `ACME\jdoe`, EndpointID: "ep-9",
		EndpointType: "computer", Path: `C:\Tools\PsExec64.exe`, When: t0, CreatedAt: t0.Add(1500 * time.Millisecond),
		Raw: []byte(`{"core_remedy_items":{"items":[{"result":"SUCCESS"}],"totalItems":1}}`),
	}
}

func msg(key string, ds ...store.Detection) notify.Message {
	return notify.Message{Key: key, Channel: "soc-hook", TenantID: "t-1", TenantName: "Acme Corp", Detections: ds}
}

// request is one request the test server received.
type request struct {
	method string
	path   string
	header http.Header
	body   []byte
}

// receiver is a webhook endpoint that records requests and answers with
// the scripted statuses in turn (200 once they run out).
type receiver struct {
	mu       sync.Mutex
	reqs     []request
	statuses []int
	header   http.Header // added to every answer
	answer   string      // the answer body
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, request{method: r.Method, path: r.URL.RequestURI(), header: r.Header.Clone(), body: body})
	status := http.StatusOK
	if len(rc.statuses) > 0 {
		status, rc.statuses = rc.statuses[0], rc.statuses[1:]
	}
	for k, vs := range rc.header {
		w.Header()[k] = vs
	}
	answer := rc.answer
	rc.mu.Unlock()
	w.WriteHeader(status)
	_, _ = io.WriteString(w, answer)
}

func (rc *receiver) requests() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]request(nil), rc.reqs...)
}

// start serves rc over TLS and returns a notifier posting to path on it.
func start(t *testing.T, rc *receiver, c Config, path string) *Notifier {
	t.Helper()
	srv := httptest.NewTLSServer(rc)
	t.Cleanup(srv.Close)
	c.URL = secret.Secret(srv.URL + path)
	n, err := New(c, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func decodeBody(t *testing.T, b []byte) Body {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var body Body
	if err := dec.Decode(&body); err != nil {
		t.Fatalf("body does not decode to the schema: %v\n%s", err, b)
	}
	return body
}

// documented are the body's fields, as doc.go lists them.
var (
	topFields       = []string{"schema", "version", "key", "channel", "tenant", "digest", "count", "title", "central_url", "detections", "sent_at"}
	detectionFields = []string{"id", "kind", "type", "tenant_id", "tenant_name", "created_at", "when", "host", "endpoint_id",
		"endpoint_type", "user", "threat", "path", "severity", "name", "cleanup"}
)

func checkFields(t *testing.T, b []byte) {
	t.Helper()
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		t.Fatal(err)
	}
	if len(top) != len(topFields) {
		t.Errorf("body has %d fields, want %d: %s", len(top), len(topFields), b)
	}
	for _, f := range topFields {
		if _, ok := top[f]; !ok {
			t.Errorf("body lacks %q", f)
		}
	}
	var tenant map[string]string
	if err := json.Unmarshal(top["tenant"], &tenant); err != nil || len(tenant) != 2 || tenant["id"] == "" {
		t.Errorf("tenant = %s (%v)", top["tenant"], err)
	}
	var dets []map[string]any
	if err := json.Unmarshal(top["detections"], &dets); err != nil {
		t.Fatal(err)
	}
	for i, d := range dets {
		if len(d) != len(detectionFields) {
			t.Errorf("detection %d has %d fields, want %d", i, len(d), len(detectionFields))
		}
		for _, f := range detectionFields {
			if _, ok := d[f]; !ok {
				t.Errorf("detection %d lacks %q", i, f)
			}
		}
	}
}

func TestNotifySignedBody(t *testing.T) {
	rc := &receiver{}
	n := start(t, rc, Config{Secret: signKey, CentralURL: "https://central.example"}, "/hooks/puawatch")
	before := time.Now().Truncate(time.Second)
	if err := n.Notify(context.Background(), msg("ev-1.soc-hook", det("ev-1"))); err != nil {
		t.Fatal(err)
	}
	reqs := rc.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.method != http.MethodPost || r.path != "/hooks/puawatch" {
		t.Errorf("request %s %s", r.method, r.path)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if ua := r.header.Get("User-Agent"); ua != userAgent {
		t.Errorf("User-Agent %q", ua)
	}
	if k := r.header.Get(HeaderIdempotencyKey); k != "ev-1.soc-hook" {
		t.Errorf("Idempotency-Key %q", k)
	}
	checkFields(t, r.body)
	body := decodeBody(t, r.body)
	if body.Schema != Schema || body.Version != 1 || body.Key != "ev-1.soc-hook" || body.Channel != "soc-hook" ||
		body.Tenant != (Tenant{ID: "t-1", Name: "Acme Corp"}) || body.Digest || body.Count != 1 ||
		body.Title != "PUA PsExec on WS-042 (Acme Corp)" || body.CentralURL != "https://central.example" || len(body.Detections) != 1 {
		t.Errorf("body = %+v", body)
	}
	d := body.Detections[0]
	wantCreated := t0.Add(1500 * time.Millisecond)
	if d.ID != "ev-1" || d.Kind != "detection" || d.Type != "Event::Endpoint::CorePuaDetection" || d.TenantID != "t-1" ||
		d.TenantName != "Acme Corp" || d.When == nil || !d.When.Equal(t0) || d.CreatedAt == nil || !d.CreatedAt.Equal(wantCreated) ||
		d.Host != "WS-042" || d.EndpointID != "ep-9" || d.EndpointType != "computer" || d.User != `ACME\jdoe` ||
		d.Threat != "PsExec" || d.Path != `C:\Tools\PsExec64.exe` || d.Severity != "high" || d.Cleanup != "success" {
		t.Errorf("detection = %+v", d)
	}
	if !strings.Contains(string(r.body), `"when":"2026-03-04T10:20:30.000Z"`) || !strings.Contains(string(r.body), `"created_at":"2026-03-04T10:20:31.500Z"`) {
		t.Errorf("times are not RFC 3339 UTC with three fraction digits: %s", r.body)
	}

	ts := r.header.Get(HeaderTimestamp)
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		t.Fatalf("timestamp %q: %v", ts, err)
	}
	if at := time.Unix(sec, 0); at.Before(before) || at.After(time.Now()) || !body.SentAt.Equal(at) {
		t.Errorf("timestamp %s, sent_at %s, want both now", at, body.SentAt)
	}
	sig := r.header.Get(HeaderSignature)
	if !strings.HasPrefix(sig, "v1=") || len(sig) != 3+64 {
		t.Errorf("signature %q", sig)
	}
	now := time.Now()
	if err := Verify([]byte(signKey), ts, sig, r.body, now, 0); err != nil {
		t.Errorf("Verify with the key: %v", err)
	}
	if err := Verify([]byte("another key"), ts, sig, r.body, now, 0); !errors.Is(err, ErrSignature) {
		t.Errorf("Verify with a wrong key = %v, want ErrSignature", err)
	}
	tampered := bytes.Replace(r.body, []byte("PsExec"), []byte("PsExeC"), 1)
	if err := Verify([]byte(signKey), ts, sig, tampered, now, 0); !errors.Is(err, ErrSignature) {
		t.Errorf("Verify of a tampered body = %v, want ErrSignature", err)
	}
	if err := Verify([]byte(signKey), strconv.FormatInt(sec+1, 10), sig, r.body, now, 0); !errors.Is(err, ErrSignature) {
		t.Errorf("Verify with another timestamp = %v, want ErrSignature", err)
	}
	if err := Verify([]byte(signKey), ts, sig, r.body, now.Add(10*time.Minute), 0); !errors.Is(err, ErrTimestamp) {
		t.Errorf("Verify of a stale request = %v, want ErrTimestamp", err)
	}
	if err := Verify([]byte(signKey), ts, sig, r.body, now.Add(10*time.Minute), time.Hour); err != nil {
		t.Errorf("Verify within a tolerance of 1h: %v", err)
	}
}

func TestUnsignedWithoutSecret(t *testing.T) {
	rc := &receiver{}
	n := start(t, rc, Config{}, "/")
	if err := n.Notify(context.Background(), msg("k", det("ev-1"))); err != nil {
		t.Fatal(err)
	}
	r := rc.requests()[0]
	if _, ok := r.header[HeaderSignature]; ok {
		t.Errorf("unsigned request has %s", HeaderSignature)
	}
	if r.header.Get(HeaderTimestamp) == "" {
		t.Errorf("no %s", HeaderTimestamp)
	}
}

func TestIdempotencyKeyStable(t *testing.T) {
	rc := &receiver{statuses: []int{503}}
	n := start(t, rc, Config{Secret: signKey}, "/h")
	m := msg("batch-7f3a", det("ev-1"), det("ev-2"))
	if err := n.Notify(context.Background(), m); err == nil {
		t.Fatal("503 accepted")
	}
	if err := n.Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	reqs := rc.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	k1, k2 := reqs[0].header.Get(HeaderIdempotencyKey), reqs[1].header.Get(HeaderIdempotencyKey)
	if k1 != "batch-7f3a" || k1 != k2 {
		t.Errorf("Idempotency-Key %q then %q, want batch-7f3a twice", k1, k2)
	}
	b1, b2 := decodeBody(t, reqs[0].body), decodeBody(t, reqs[1].body)
	if b1.Key != b2.Key || !b1.Digest || b1.Count != 2 || b1.Title != "2 PUA detections in Acme Corp" {
		t.Errorf("bodies %+v / %+v", b1, b2)
	}
}

func TestCustomHeaders(t *testing.T) {
	rc := &receiver{}
	n := start(t, rc, Config{Headers: map[string]string{
		"Authorization": "Bearer tok-123", "x-api-key": "k-456", "User-Agent": "soc-ingest/2", "X-Empty": "",
	}}, "/")
	if err := n.Notify(context.Background(), msg("k", det("ev-1"))); err != nil {
		t.Fatal(err)
	}
	h := rc.requests()[0].header
	for k, want := range map[string]string{"Authorization": "Bearer tok-123", "X-Api-Key": "k-456", "User-Agent": "soc-ingest/2",
		"Content-Type": "application/json"} {
		if got := h.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	if vs, ok := h["X-Empty"]; !ok || len(vs) != 1 || vs[0] != "" {
		t.Errorf("X-Empty = %q, %v", vs, ok)
	}
}

func TestStatuses(t *testing.T) {
	rc := &receiver{statuses: []int{500, 200}, answer: "oops"}
	n := start(t, rc, Config{}, "/")
	m := msg("k", det("ev-1"))
	err := n.Notify(context.Background(), m)
	if err == nil || notify.IsPermanent(err) || !strings.Contains(err.Error(), "HTTP 500") || !strings.Contains(err.Error(), "oops") {
		t.Errorf("500: %v, want a retryable error", err)
	}
	if err := n.Notify(context.Background(), m); err != nil {
		t.Errorf("then 200: %v", err)
	}

	rc = &receiver{statuses: []int{429}, header: http.Header{"Retry-After": {"7"}}}
	n = start(t, rc, Config{}, "/")
	err = n.Notify(context.Background(), m)
	ra, ok := errors.AsType[*notify.RetryAfterError](err)
	if !ok || ra.After != 7*time.Second || notify.IsPermanent(err) {
		t.Errorf("429: %v, want RetryAfterError of 7s", err)
	}

	for _, st := range []int{401, 403, 404, 410, 301} {
		rc = &receiver{statuses: []int{st}, header: http.Header{"Location": {"https://elsewhere.example/"}}}
		n = start(t, rc, Config{}, "/")
		if err := n.Notify(context.Background(), m); !notify.IsPermanent(err) || !strings.Contains(err.Error(), fmt.Sprint(st)) {
			t.Errorf("%d: %v, want a permanent error naming the status", st, err)
		}
		if len(rc.requests()) != 1 {
			t.Errorf("%d: %d requests (a redirect followed?)", st, len(rc.requests()))
		}
	}
	for _, st := range []int{408, 502, 503} {
		rc = &receiver{statuses: []int{st}}
		n = start(t, rc, Config{}, "/")
		if err := n.Notify(context.Background(), m); err == nil || notify.IsPermanent(err) {
			t.Errorf("%d: %v, want retryable", st, err)
		}
	}
}

func TestTimeoutAndNetworkErrorsAreRetryable(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	n, err := New(Config{URL: secret.Secret(srv.URL + "/slow"), Timeout: 50 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = n.Notify(context.Background(), msg("k", det("ev-1")))
	if err == nil || notify.IsPermanent(err) {
		t.Errorf("timeout: %v, want retryable", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("timeout took %s", d)
	}

	closed := httptest.NewServer(http.NotFoundHandler())
	url := closed.URL
	closed.Close()
	n, err = New(Config{URL: secret.Secret(url + "/gone")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Notify(context.Background(), msg("k", det("ev-1"))); err == nil || notify.IsPermanent(err) {
		t.Errorf("connection refused: %v, want retryable", err)
	}
}

func TestNoDetectionsIsPermanent(t *testing.T) {
	rc := &receiver{}
	n := start(t, rc, Config{}, "/")
	if err := n.Notify(context.Background(), msg("k")); !notify.IsPermanent(err) {
		t.Errorf("empty message: %v", err)
	}
	if len(rc.requests()) != 0 {
		t.Error("empty message posted")
	}
}

func TestSecretsNeverShown(t *testing.T) {
	const (
		pathTok  = "T0KEN-IN-PATH-9f8e7d"
		queryTok = "QUERY-SIG-1a2b3c"
		hdrTok   = "HEADER-SECRET-5d6e7f"
	)
	// A hostile receiver echoes everything it got.
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, "%s %s %s", r.URL.Path, r.URL.RawQuery, r.Header.Get("Authorization"))
	}))
	defer srv.Close()
	c := Config{URL: secret.Secret(srv.URL + "/services/" + pathTok + "?sig=" + queryTok), Secret: signKey,
		Headers: map[string]string{"Authorization": "Bearer " + hdrTok}}
	n, err := New(c, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	err = n.Notify(context.Background(), msg("k", det("ev-1")))
	if !notify.IsPermanent(err) {
		t.Fatalf("401: %v", err)
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "webhook", c)
	shown := []string{err.Error(), fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), logs.String()}
	for _, s := range shown {
		for _, tok := range []string{pathTok, queryTok, hdrTok, signKey} {
			if strings.Contains(s, tok) {
				t.Errorf("%q shows the secret %s", s, tok)
			}
		}
	}
	if !strings.Contains(err.Error(), "HTTP 401") || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Errorf("error %q does not say what failed where", err)
	}

	// Closed server: the network error does not show the URL either.
	srv.Close()
	err = n.Notify(context.Background(), msg("k", det("ev-1")))
	if err == nil || notify.IsPermanent(err) || strings.Contains(err.Error(), pathTok) || strings.Contains(err.Error(), queryTok) {
		t.Errorf("closed server: %v", err)
	}

	// Validation errors name the header, never the value.
	bad := Config{URL: c.URL, Headers: map[string]string{"X-Token": hdrTok + "\r\nX-Evil: 1"}}
	err = bad.Validate()
	if err == nil || strings.Contains(err.Error(), hdrTok) || !strings.Contains(err.Error(), "X-Token") {
		t.Errorf("Validate: %v", err)
	}
}

func TestHostileValuesStayInert(t *testing.T) {
	rc := &receiver{}
	n := start(t, rc, Config{Secret: signKey}, "/")
	d := det("ev-1\r\nX-Injected: evil")
	d.TenantName = "Acme \"</script><script>alert(1)</script>"
	d.Threat = "Ps\\Exec\u202e\"},{\"id\":\"forged"
	d.Path = "C:\\a\r\nb\x00c\tüñí\U0001F600"
	d.User = "dom\\u\"ser\u2028x"
	d.Name = strings.Repeat("ä", 3000)
	m := msg("key\r\nX-Injected: evil", d)
	m.TenantName = d.TenantName
	if err := n.Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	r := rc.requests()[0]
	if r.header.Get("X-Injected") != "" {
		t.Error("a header was injected")
	}
	if got, want := r.header.Get(HeaderIdempotencyKey), render.Clean(m.Key); got != want || strings.ContainsAny(got, "\r\n") {
		t.Errorf("Idempotency-Key %q, want %q", got, want)
	}
	if !json.Valid(r.body) {
		t.Fatalf("invalid JSON: %s", r.body)
	}
	if bytes.Contains(r.body, []byte("<script>")) || bytes.ContainsAny(r.body, "\r\n\x00") {
		t.Errorf("body holds raw markup or control characters: %s", r.body)
	}
	body := decodeBody(t, r.body)
	if len(body.Detections) != 1 {
		t.Fatalf("%d detections: a value broke out of its string", len(body.Detections))
	}
	got := body.Detections[0]
	for name, pair := range map[string][2]string{
		"id": {got.ID, d.EventID}, "tenant_name": {got.TenantName, d.TenantName}, "threat": {got.Threat, d.Threat},
		"path": {got.Path, d.Path}, "user": {got.User, d.User}, "name": {got.Name, d.Name}, "key": {body.Key, m.Key},
		"tenant.name": {body.Tenant.Name, m.TenantName},
	} {
		if want := render.Clean(pair[1]); pair[0] != want {
			t.Errorf("%s = %q, want the cleaned %q", name, pair[0], want)
		}
	}
	if n := len([]rune(got.Name)); n != render.MaxValue {
		t.Errorf("name is %d characters, want %d", n, render.MaxValue)
	}
	if err := Verify([]byte(signKey), r.header.Get(HeaderTimestamp), r.header.Get(HeaderSignature), r.body, time.Now(), 0); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

func TestGolden(t *testing.T) {
	at := time.Date(2026, 3, 4, 10, 21, 0, 0, time.UTC)
	follow := det("ev-3")
	follow.Kind, follow.Type, follow.Threat = store.KindFollowUp, "Event::Endpoint::CoreCleanFailed", "Bundler"
	follow.Raw, follow.When, follow.Path = nil, time.Time{}, ""
	second := det("ev-2")
	second.Location, second.User, second.Severity = "SRV-<01>", "", "medium"
	for name, m := range map[string]notify.Message{
		"single": msg("ev-1.soc-hook", det("ev-1")),
		"digest": msg("batch-0001", det("ev-1"), second, follow),
	} {
		t.Run(name, func(t *testing.T) {
			b, err := renderAt(m, render.Options{CentralURL: "https://central.sophos.com"}, at)
			if err != nil {
				t.Fatal(err)
			}
			checkFields(t, b)
			decodeBody(t, b)
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, b, "", "  "); err != nil {
				t.Fatal(err)
			}
			pretty.WriteByte('\n')
			path := filepath.Join("testdata", name+".golden.json")
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, pretty.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(pretty.Bytes(), want) {
				t.Errorf("body differs from %s (go test -update rewrites it):\n%s", path, pretty.Bytes())
			}
		})
	}
}

func TestRender(t *testing.T) {
	b, err := Render(msg("k", det("ev-1")), render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	body := decodeBody(t, b)
	if body.CentralURL != "https://central.sophos.com" || time.Since(body.SentAt.Time) > time.Minute {
		t.Errorf("Render: %+v", body)
	}
}

func TestValidate(t *testing.T) {
	good := []Config{
		{URL: "https://hooks.example.com/x"},
		{URL: "http://127.0.0.1:8080/hook"},
		{URL: "http://localhost/hook", Headers: map[string]string{"Authorization": "Bearer x\tY", "X-Api-Key": ""}, Timeout: time.Second},
	}
	for _, c := range good {
		if err := c.Validate(); err != nil {
			t.Errorf("Validate(%v) = %v", c, err)
		}
		if _, err := New(c, nil); err != nil {
			t.Errorf("New(%v) = %v", c, err)
		}
	}
	for name, c := range map[string]Config{
		"no URL":            {},
		"plain http":        {URL: "http://hooks.example.com/x"},
		"ftp":               {URL: "ftp://hooks.example.com/x"},
		"not a URL":         {URL: "hooks.example.com"},
		"CRLF in name":      {URL: "https://h/", Headers: map[string]string{"X-A\r\nX-B": "v"}},
		"colon in name":     {URL: "https://h/", Headers: map[string]string{"X-A:": "v"}},
		"empty name":        {URL: "https://h/", Headers: map[string]string{"": "v"}},
		"LF in value":       {URL: "https://h/", Headers: map[string]string{"X-A": "v\nX-B: w"}},
		"CR in value":       {URL: "https://h/", Headers: map[string]string{"X-A": "v\r"}},
		"NUL in value":      {URL: "https://h/", Headers: map[string]string{"X-A": "v\x00"}},
		"Content-Type":      {URL: "https://h/", Headers: map[string]string{"content-type": "text/plain"}},
		"Content-Length":    {URL: "https://h/", Headers: map[string]string{"Content-Length": "1"}},
		"Host":              {URL: "https://h/", Headers: map[string]string{"HOST": "evil"}},
		"X-Puawatch-*":      {URL: "https://h/", Headers: map[string]string{"X-Puawatch-Signature": "v1=00"}},
		"Idempotency-Key":   {URL: "https://h/", Headers: map[string]string{"Idempotency-Key": "k"}},
		"Transfer-Encoding": {URL: "https://h/", Headers: map[string]string{"Transfer-Encoding": "chunked"}},
		"twice":             {URL: "https://h/", Headers: map[string]string{"X-A": "1", "x-a": "2"}},
		"negative timeout":  {URL: "https://h/", Timeout: -time.Second},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %v", name, c)
		}
		if _, err := New(c, nil); err == nil {
			t.Errorf("%s: New accepted %v", name, c)
		}
	}
}

// A secret inside a longer one is hidden with it: a header value that is
// part of the URL's path must not be replaced first, leaving the rest of
// the path to show.
func TestNestedSecretsHiddenWhole(t *testing.T) {
	const (
		hdrTok  = "tok-4711"
		pathTok = hdrTok + "-PATHREST-0c0ffee"
	)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, r.URL.Path)
	}))
	defer srv.Close()
	c := Config{URL: secret.Secret(srv.URL + "/hooks/" + pathTok), Headers: map[string]string{"X-Key": hdrTok}}
	n, err := New(c, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	err = n.Notify(context.Background(), msg("k", det("ev-1")))
	if err == nil {
		t.Fatal("400 accepted")
	}
	for _, tok := range []string{hdrTok, "PATHREST"} {
		if strings.Contains(err.Error(), tok) {
			t.Errorf("%q shows %s", err, tok)
		}
	}
}

// TestShortSecretsNeverShown: a header value, a path and a query of
// fewer than four characters, echoed by the receiver, are redacted like
// long ones; the error's own text (its key) is left as written.
func TestShortSecretsNeverShown(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, "denied path=%s query=%s key=%s", r.URL.Path, r.URL.RawQuery, r.Header.Get("X-Key"))
	}))
	defer srv.Close()
	c := Config{URL: secret.Secret(srv.URL + "/a9?q=z"), Headers: map[string]string{"X-Key": "k7"}}
	n, err := New(c, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	err = n.Notify(context.Background(), msg("key-with-k7", det("ev-1")))
	if !notify.IsPermanent(err) {
		t.Fatalf("403: %v", err)
	}
	for _, shown := range []string{"path=/a9", "query=q=z", "key=k7"} {
		if strings.Contains(err.Error(), shown) {
			t.Errorf("error %q shows %s", err, shown)
		}
	}
	if !strings.Contains(err.Error(), "key=[redacted]") || !strings.HasPrefix(err.Error(), "webhook: send key-with-k7: ") {
		t.Errorf("error %q: want the echo redacted and its own text kept", err)
	}
}
