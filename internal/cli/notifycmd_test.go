package cli

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/puawatch/puawatch/internal/render"
)

// sampleDetectionID is the event id of render.SampleMessage, which
// `notify test` sends.
const sampleDetectionID = "11111111-1111-4111-8111-111111111111"

// hookRequest is one request a test webhook received.
type hookRequest struct {
	method, path string
	header       http.Header
	body         []byte
}

// hookServer is an httptest server answering every request with status
// and a body that quotes the request path (as some services do), keeping
// the requests.
type hookServer struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []hookRequest
}

func newHookServer(t *testing.T, status int) *hookServer {
	t.Helper()
	h := &hookServer{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.reqs = append(h.reqs, hookRequest{method: r.Method, path: r.URL.Path, header: r.Header.Clone(), body: body})
		h.mu.Unlock()
		w.WriteHeader(status)
		if status >= 300 {
			_, _ = io.WriteString(w, "no hook at "+r.URL.Path)
		}
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookServer) requests() []hookRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookRequest(nil), h.reqs...)
}

// The token in every webhook URL path: a secret that must not be shown.
const hookToken = "T0kenInPath-7f3c9a"

// notifyEnv is the environment of `notify test`: Sophos credentials (never
// used: the command does not call Sophos) and nothing else.
func notifyEnv() map[string]string {
	return map[string]string{"PUAWATCH_CLIENT_ID": "notify-test-client", "PUAWATCH_CLIENT_SECRET": "notify-test-secret-5a5a"}
}

// notifyFixture writes a configuration (mode 0600) with webhook receivers
// "ok-hook" (answers 204), "denied-hook" (401) and "broken-hook" (500).
type notifyFixture struct {
	ok, denied, broken *hookServer
	config, creds      string
}

func newNotifyFixture(t *testing.T) *notifyFixture {
	t.Helper()
	f := &notifyFixture{ok: newHookServer(t, http.StatusNoContent), denied: newHookServer(t, http.StatusUnauthorized),
		broken: newHookServer(t, http.StatusInternalServerError)}
	dir := t.TempDir()
	f.config = filepath.Join(dir, "puawatch.yaml")
	f.creds = filepath.Join(dir, "no-such-dir", "credentials.yaml")
	yaml := "store:\n  db: " + filepath.Join(dir, "puawatch.db") + "\nreceivers:\n"
	for _, r := range []struct {
		name string
		srv  *hookServer
	}{{"ok-hook", f.ok}, {"denied-hook", f.denied}, {"broken-hook", f.broken}} {
		yaml += "  - name: " + r.name + "\n    webhook:\n      url: " + r.srv.URL + "/hooks/" + r.name + "/" + hookToken + "\n"
	}
	writeFile(t, f.config, yaml, 0o600)
	return f
}

func (f *notifyFixture) run(t *testing.T, receiver string) cmdResult {
	t.Helper()
	return runCLI(t, notifyEnv(), "", "notify", "test", receiver, "--config", f.config, "--credentials", f.creds)
}

func TestNotifyTestWebhookAccepts(t *testing.T) {
	t.Parallel()
	f := newNotifyFixture(t)
	r := f.run(t, "ok-hook")
	if r.code != ExitOK {
		t.Fatalf("notify test ok-hook: want exit 0\n%s", r)
	}
	if !strings.Contains(r.stdout, "ok-hook") || !strings.Contains(r.stdout, "accepted") {
		t.Errorf("stdout does not say that ok-hook accepted:\n%s", r.stdout)
	}
	noSecret(t, "notify test ok-hook", r, hookToken)
	reqs := f.ok.requests()
	if len(reqs) != 1 {
		t.Fatalf("the webhook got %d requests, want 1", len(reqs))
	}
	req := reqs[0]
	if req.method != http.MethodPost {
		t.Errorf("the webhook got %s, want POST", req.method)
	}
	if want := "/hooks/ok-hook/" + hookToken; req.path != want {
		t.Errorf("the webhook got path %q, want %q", req.path, want)
	}
	if ct := req.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var body struct {
		Schema     string `json:"schema"`
		Version    int    `json:"version"`
		Key        string `json:"key"`
		Channel    string `json:"channel"`
		Count      int    `json:"count"`
		Detections []struct {
			ID string `json:"id"`
		} `json:"detections"`
	}
	if err := json.Unmarshal(req.body, &body); err != nil {
		t.Fatalf("the webhook body is not JSON: %v\n%s", err, req.body)
	}
	if body.Schema != "puawatch.notification" || body.Version != 1 {
		t.Errorf("body schema %q version %d, want puawatch.notification version 1\n%s", body.Schema, body.Version, req.body)
	}
	if len(body.Detections) != 1 || body.Detections[0].ID != sampleDetectionID || body.Count != 1 {
		t.Errorf("body detections %+v (count %d), want exactly the sample detection %s\n%s", body.Detections, body.Count, sampleDetectionID, req.body)
	}
	if body.Channel != "ok-hook" {
		t.Errorf("body channel %q, want ok-hook", body.Channel)
	}
	if body.Key == "" || req.header.Get("Idempotency-Key") != body.Key {
		t.Errorf("Idempotency-Key %q, body key %q: want them equal and set", req.header.Get("Idempotency-Key"), body.Key)
	}
	// The documented sample is what was sent.
	if id := render.SampleMessage().Detections[0].EventID; id != sampleDetectionID {
		t.Errorf("render.SampleMessage's detection is %s, the documented sample id is %s", id, sampleDetectionID)
	}
	// The other receivers were not touched.
	if n := len(f.denied.requests()) + len(f.broken.requests()); n != 0 {
		t.Errorf("the other webhooks got %d requests, want 0", n)
	}
}

func TestNotifyTestWebhookFailures(t *testing.T) {
	t.Parallel()
	f := newNotifyFixture(t)
	for _, tc := range []struct {
		receiver string
		srv      *hookServer
		kind     string // in the message
		not      string // never in the message
	}{
		{"denied-hook", f.denied, "permanent", "temporary"},
		{"broken-hook", f.broken, "temporary", "permanent"},
	} {
		t.Run(tc.receiver, func(t *testing.T) {
			r := f.run(t, tc.receiver)
			if r.code != ExitFailure {
				t.Errorf("notify test %s: want exit %d\n%s", tc.receiver, ExitFailure, r)
			}
			if !strings.Contains(r.stderr, tc.kind) || strings.Contains(r.stderr, tc.not) {
				t.Errorf("notify test %s: want a message saying %s (not %s):\n%s", tc.receiver, tc.kind, tc.not, r.stderr)
			}
			if !strings.Contains(r.stderr, tc.receiver) {
				t.Errorf("notify test %s: the message does not name the receiver:\n%s", tc.receiver, r.stderr)
			}
			if strings.Contains(r.stdout, "accepted") {
				t.Errorf("notify test %s: stdout claims success:\n%s", tc.receiver, r.stdout)
			}
			// The URL path (with its token) stays secret, even though the
			// server's answer quotes it.
			noSecret(t, "notify test "+tc.receiver, r, hookToken, "/hooks/"+tc.receiver)
			if n := len(tc.srv.requests()); n != 1 {
				t.Errorf("notify test %s: the webhook got %d requests, want 1 (the command does not retry)", tc.receiver, n)
			}
		})
	}
}

func TestNotifyTestUnknownReceiver(t *testing.T) {
	t.Parallel()
	f := newNotifyFixture(t)
	r := f.run(t, "no-such-hook")
	if r.code != ExitUsage {
		t.Errorf("notify test no-such-hook: want exit %d\n%s", ExitUsage, r)
	}
	for _, want := range []string{"no-such-hook", "ok-hook", "denied-hook", "broken-hook"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("the error does not name %s:\n%s", want, r.stderr)
		}
	}
	noSecret(t, "notify test no-such-hook", r, hookToken)
	if n := len(f.ok.requests()) + len(f.denied.requests()) + len(f.broken.requests()); n != 0 {
		t.Errorf("the webhooks got %d requests, want 0", n)
	}

	// No receiver named at all, or two: usage errors too.
	for _, args := range [][]string{{"notify", "test"}, {"notify", "test", "ok-hook", "denied-hook"}} {
		r := runCLI(t, notifyEnv(), "", append(args, "--config", f.config, "--credentials", f.creds)...)
		if r.code != ExitUsage {
			t.Errorf("%v: want exit %d\n%s", args, ExitUsage, r)
		}
	}
}

func TestNotifyTestEmail(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 1)
	// The implicit "email" receiver of PUAWATCH_SMTP_URL, PUAWATCH_MAIL_FROM
	// and PUAWATCH_MAIL_TO; Sophos credentials are set but not used.
	environ := with(w.env(), "PUAWATCH_CLIENT_ID", "notify-test-client", "PUAWATCH_CLIENT_SECRET", "notify-test-secret-5a5a",
		"PUAWATCH_JSONL", "")
	r := runCLI(t, environ, "", "notify", "test", "email", "--credentials", w.creds)
	if r.code != ExitOK {
		t.Fatalf("notify test email: want exit 0\n%s", r)
	}
	if !strings.Contains(r.stdout, "email") || !strings.Contains(r.stdout, "accepted") {
		t.Errorf("stdout does not say that email accepted:\n%s", r.stdout)
	}
	// The server keeps a message before it answers the end of DATA, so it
	// is here once the command returned.
	msgs := w.smtp.Messages()
	if len(msgs) != 1 {
		t.Fatalf("the SMTP capture got %d mails, want 1", len(msgs))
	}
	m := msgs[0]
	if len(m.To) != 1 || m.To[0] != "soc@test.invalid" {
		t.Errorf("the mail went to %v, want [soc@test.invalid]", m.To)
	}
	if !strings.Contains(m.Text, sampleDetectionID) {
		t.Errorf("the mail does not name the sample detection %s:\n%s", sampleDetectionID, m.Text)
	}
	if strings.TrimSpace(m.Subject) == "" {
		t.Errorf("the mail has no subject")
	}

	// Without the email variables there is no "email" receiver.
	r = runCLI(t, with(environ, "PUAWATCH_SMTP_URL", "", "PUAWATCH_MAIL_FROM", "", "PUAWATCH_MAIL_TO", ""),
		"", "notify", "test", "email", "--credentials", w.creds)
	if r.code != ExitUsage || !strings.Contains(r.stderr, `"email"`) {
		t.Errorf("notify test email without an SMTP URL: want exit %d naming \"email\"\n%s", ExitUsage, r)
	}
	if n := len(w.smtp.Messages()); n != 1 {
		t.Errorf("the SMTP capture holds %d mails, want still 1", n)
	}
}
