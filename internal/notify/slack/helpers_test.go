package slack

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/notify"
	"github.com/puawatch/puawatch/internal/store"
)

var (
	at  = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	cet = time.FixedZone("CET", 3600)
)

const (
	tenantID = "0f3c2a1e-7b7d-4c55-9a0e-2d1f3e4a5b6c"
	central  = "https://central.sophos.com/manage"
)

// det is detection i of the test tenant.
func det(i int) store.Detection {
	return store.Detection{
		EventID:      fmt.Sprintf("aaaaaaaa-0000-4000-8000-%012d", i),
		TenantID:     tenantID,
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
		When:         at.Add(time.Duration(i) * time.Minute),
		CreatedAt:    at.Add(time.Duration(i)*time.Minute + 1500*time.Millisecond),
		Raw:          []byte(`{"core_remedy_items":{"items":[{"result":"SUCCESS"}],"totalItems":1}}`),
	}
}

func single() notify.Message {
	return notify.Message{Key: "k-single", Channel: "slack", TenantID: tenantID, TenantName: "Contoso", Detections: []store.Detection{det(1)}}
}

func followUp() notify.Message {
	d := det(2)
	d.Kind = store.KindFollowUp
	d.Type = "Event::Endpoint::CorePuaCleanFailed"
	d.Name = "Manual PUA cleanup required: 'PsExec' at 'C:\\Tools\\PsExec2.exe'"
	d.Severity = "high"
	d.Raw = []byte(`{"core_remedy_items":{"items":[{"result":"FAILED_TO_DELETE"}],"totalItems":1}}`)
	return notify.Message{Key: "k-followup", Channel: "slack", TenantID: tenantID, TenantName: "Contoso", Detections: []store.Detection{d}}
}

func digest(n int) notify.Message {
	m := notify.Message{Key: fmt.Sprintf("k-digest-%d", n), Channel: "slack", TenantID: tenantID, TenantName: "Contoso", Digest: true}
	for i := 1; i <= n; i++ {
		m.Detections = append(m.Detections, det(i))
	}
	return m
}

// payload is the decoded webhook payload.
type payload struct {
	Text        string `json:"text"`
	UnfurlLinks bool   `json:"unfurl_links"`
	UnfurlMedia bool   `json:"unfurl_media"`
	Blocks      []struct {
		Type     string    `json:"type"`
		Text     *textObj  `json:"text"`
		Fields   []textObj `json:"fields"`
		Elements []textObj `json:"elements"`
	} `json:"blocks"`
}

type textObj struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	Emoji    *bool  `json:"emoji"`
	Verbatim bool   `json:"verbatim"`
}

func decode(t *testing.T, b []byte) payload {
	t.Helper()
	var p payload
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("payload is not the expected JSON: %v\n%s", err, b)
	}
	return p
}

// allText lists every text of p.
func (p payload) allText() []string {
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

// sections returns the detection sections of p (those with fields).
func (p payload) sections() [][]textObj {
	var out [][]textObj
	for _, b := range p.Blocks {
		if b.Type == "section" && len(b.Fields) > 0 {
			out = append(out, b.Fields)
		}
	}
	return out
}

// field returns the value of the field labelled label in fields.
func field(t *testing.T, fields []textObj, label string) string {
	t.Helper()
	for _, f := range fields {
		if v, ok := strings.CutPrefix(f.Text, "*"+label+"*\n"); ok {
			return v
		}
	}
	t.Fatalf("no field %q in %+v", label, fields)
	return ""
}

// request is one request a test server received.
type request struct {
	Method, Path, ContentType, UserAgent string
	Body                                 []byte
}

// server is a webhook that answers with the next of answers (the last
// one repeats) and records requests.
type server struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []request
}

type answer struct {
	status     int
	retryAfter string
	body       string
}

func newServer(t *testing.T, answers ...answer) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		n := len(s.reqs)
		s.reqs = append(s.reqs, request{r.Method, r.URL.Path, r.Header.Get("Content-Type"), r.Header.Get("User-Agent"), b})
		s.mu.Unlock()
		a := answers[min(n, len(answers)-1)]
		if a.retryAfter != "" {
			w.Header().Set("Retry-After", a.retryAfter)
		}
		w.WriteHeader(a.status)
		_, _ = io.WriteString(w, strings.ReplaceAll(a.body, "$PATH", r.URL.Path))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) requests() []request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]request(nil), s.reqs...)
}

// hookPath is the secret part of a test webhook URL.
const hookPath = "/services/T0000AAAA/B0000BBBB/SECRETtoken0123456789abc"

func newTLSServer(t *testing.T) *httptest.Server {
	t.Helper()
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}
