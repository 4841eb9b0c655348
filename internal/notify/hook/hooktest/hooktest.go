package hooktest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/notify"
	"github.com/puawatch/puawatch/internal/store"
)

var (
	// At is when detection 0 of the test tenant happened; detection i
	// happened i minutes later.
	At = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	// CET is the second time zone the tests show times in.
	CET = time.FixedZone("CET", 3600)
)

const (
	// TenantID is the Sophos Central id of the test tenant, "Contoso".
	TenantID = "0f3c2a1e-7b7d-4c55-9a0e-2d1f3e4a5b6c"
	// Central is the Sophos Central address the tests' messages link to.
	Central = "https://central.sophos.com/manage"
)

// Det is detection i of the test tenant: a cleaned-up PsExec on host
// WS-0i.
func Det(i int) store.Detection {
	return store.Detection{
		EventID:      fmt.Sprintf("aaaaaaaa-0000-4000-8000-%012d", i),
		TenantID:     TenantID,
		TenantName:   "Contoso",
		Kind:         store.KindDetection,
		Type:         "Event::Endpoint::CorePuaDetection",
		Name:         fmt.Sprintf("PUA detected: 'PsExec' at 'C:\\Tools\\PsExec%d.exe'", i),
		Severity:     "Medium",
		Threat:       "PsExec",
		Location:     fmt.Sprintf("WS-%02d", i),
		User:         `CONTOSO\j.doe`,
		EndpointID:   fmt.Sprintf("bbbbbbbb-0000-4000-8000-%012d", i),
		EndpointType: "computer",
		Path:         fmt.Sprintf(`C:\Tools\PsExec%d.exe`, i),
		When:         At.Add(time.Duration(i) * time.Minute),
		CreatedAt:    At.Add(time.Duration(i)*time.Minute + 1500*time.Millisecond),
		Raw:          []byte(`{"core_remedy_items":{"items":[{"result":"SUCCESS"}],"totalItems":1}}`),
	}
}

// Single is the message "k-single" for channel: detection 1 alone.
func Single(channel string) notify.Message {
	return notify.Message{Key: "k-single", Channel: channel, TenantID: TenantID, TenantName: "Contoso", Detections: []store.Detection{Det(1)}}
}

// FollowUp is the message "k-followup" for channel: a follow-up event on
// detection 2, whose clean-up failed.
func FollowUp(channel string) notify.Message {
	d := Det(2)
	d.Kind = store.KindFollowUp
	d.Type = "Event::Endpoint::CorePuaCleanFailed"
	d.Name = "Manual PUA cleanup required: 'PsExec' at 'C:\\Tools\\PsExec2.exe'"
	d.Severity = "high"
	d.Raw = []byte(`{"core_remedy_items":{"items":[{"result":"FAILED_TO_DELETE"}],"totalItems":1}}`)
	return notify.Message{Key: "k-followup", Channel: channel, TenantID: TenantID, TenantName: "Contoso", Detections: []store.Detection{d}}
}

// Digest is the message "k-digest-n" for channel: a digest of detections
// 1 to n.
func Digest(channel string, n int) notify.Message {
	m := notify.Message{Key: fmt.Sprintf("k-digest-%d", n), Channel: channel, TenantID: TenantID, TenantName: "Contoso", Digest: true}
	for i := 1; i <= n; i++ {
		m.Detections = append(m.Detections, Det(i))
	}
	return m
}

const (
	// SlackPath is the path of a Slack incoming webhook URL; the path is
	// the credential, its last segment the token.
	SlackPath = "/services/T0000AAAA/B0000BBBB/SECRETtoken0123456789abc"
	// TeamsPath is the path of a Teams Workflows (Power Automate) webhook
	// URL.
	TeamsPath = "/workflows/0123456789abcdef0123456789abcdef/triggers/manual/paths/invoke"
	// TeamsQuery is the query of a Teams Workflows webhook URL; sig is the
	// credential.
	TeamsQuery = "?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=SECRETsig0123456789abcdefghijklmnopqrstuvwxyz"
)

// Secrets are pieces of SlackPath, TeamsPath and TeamsQuery, and the
// prefix of every token the tests make up ("SECRET…"), that an error must
// never show: it may show a webhook URL as its scheme and host only.
var Secrets = []string{"SECRET", "T0000AAAA", "B0000BBBB", "/services", "0123456789abc", "sig=", "0123456789abcdef", "/workflows", "triggers"}

// Request is one request a Server received.
type Request struct {
	Method, Path, RawQuery, ContentType, UserAgent string
	Body                                           []byte
}

// Answer is how a Server answers one request: the status, a Retry-After
// header unless "", and the body, in which "$PATH" stands for the path
// of the request (a server echoing the secret part of its URL).
type Answer struct {
	Status     int
	RetryAfter string
	Body       string
}

// Server is a webhook that records the requests it receives and answers
// the nth with the nth of its answers, the last one repeating.
type Server struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []Request
}

// NewServer starts a Server with answers (none: 200 with no body) that
// t's cleanup closes.
func NewServer(t testing.TB, answers ...Answer) *Server {
	t.Helper()
	if len(answers) == 0 {
		answers = []Answer{{Status: http.StatusOK}}
	}
	s := &Server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		n := len(s.reqs)
		s.reqs = append(s.reqs, Request{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Content-Type"), r.Header.Get("User-Agent"), b})
		s.mu.Unlock()
		a := answers[min(n, len(answers)-1)]
		if a.RetryAfter != "" {
			w.Header().Set("Retry-After", a.RetryAfter)
		}
		w.WriteHeader(a.Status)
		_, _ = io.WriteString(w, strings.ReplaceAll(a.Body, "$PATH", r.URL.Path))
	}))
	t.Cleanup(s.Close)
	return s
}

// Requests returns the requests s has received, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// NewTLSServer starts an https webhook that answers 200 "ok", with a
// self-signed certificate only its own Client trusts; t's cleanup closes
// it. The handshakes it refuses are not logged.
func NewTLSServer(t testing.TB) *httptest.Server {
	t.Helper()
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

// GoldenMessages are the messages a channel's golden files are rendered
// from, by name: the golden file of name is testdata/name.golden.json.
func GoldenMessages(channel string) map[string]notify.Message {
	return map[string]notify.Message{"detection": Single(channel), "followup": FollowUp(channel), "digest": Digest(channel, 3)}
}

// Golden runs a subtest for each of GoldenMessages(channel): it renders
// the message with render, checks the payload with check (decoding it,
// say), and compares the payload, a JSON document, indented by two
// spaces and ending in a newline, with the message's golden file, which
// it first rewrites when update is set.
func Golden(t *testing.T, channel string, update bool, render func(notify.Message) ([]byte, error), check func(t *testing.T, payload []byte)) {
	t.Helper()
	for name, m := range GoldenMessages(channel) {
		t.Run(name, func(t *testing.T) {
			b, err := render(m)
			if err != nil {
				t.Fatal(err)
			}
			check(t, b)
			var got bytes.Buffer
			if err := json.Indent(&got, b, "", "  "); err != nil {
				t.Fatal(err)
			}
			got.WriteByte('\n')
			path := filepath.Join("testdata", name+".golden.json")
			if update {
				if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to write it)", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("%s differs from the rendering (go test -update rewrites it)\ngot:\n%s", path, got.Bytes())
			}
		})
	}
}

// Decode decodes payload, a webhook payload, into a T, failing t if it is
// not JSON or has a field T does not know.
func Decode[T any](t testing.TB, payload []byte) T {
	t.Helper()
	var v T
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("payload is not the expected JSON: %v\n%s", err, payload)
	}
	return v
}

// WriteFile writes content to a file name in a temporary directory of t
// and returns its path.
func WriteFile(t testing.TB, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
