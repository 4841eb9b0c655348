package teams

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
	return notify.Message{Key: "k-single", Channel: "teams", TenantID: tenantID, TenantName: "Contoso", Detections: []store.Detection{det(1)}}
}

func followUp() notify.Message {
	d := det(2)
	d.Kind = store.KindFollowUp
	d.Type = "Event::Endpoint::CorePuaCleanFailed"
	d.Name = "Manual PUA cleanup required: 'PsExec' at 'C:\\Tools\\PsExec2.exe'"
	d.Severity = "high"
	d.Raw = []byte(`{"core_remedy_items":{"items":[{"result":"FAILED_TO_DELETE"}],"totalItems":1}}`)
	return notify.Message{Key: "k-followup", Channel: "teams", TenantID: tenantID, TenantName: "Contoso", Detections: []store.Detection{d}}
}

func digest(n int) notify.Message {
	m := notify.Message{Key: fmt.Sprintf("k-digest-%d", n), Channel: "teams", TenantID: tenantID, TenantName: "Contoso", Digest: true}
	for i := 1; i <= n; i++ {
		m.Detections = append(m.Detections, det(i))
	}
	return m
}

// payload is the decoded webhook payload.
type payload struct {
	Type        string `json:"type"`
	Attachments []struct {
		ContentType string  `json:"contentType"`
		ContentURL  *string `json:"contentUrl"`
		Content     struct {
			Schema  string    `json:"$schema"`
			Type    string    `json:"type"`
			Version string    `json:"version"`
			Body    []element `json:"body"`
			Actions []struct {
				Type  string `json:"type"`
				Title string `json:"title"`
				URL   string `json:"url"`
			} `json:"actions"`
			MSTeams struct {
				Width string `json:"width"`
			} `json:"msteams"`
		} `json:"content"`
	} `json:"attachments"`
}

func decode(t *testing.T, b []byte) payload {
	t.Helper()
	var p payload
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("payload is not the expected JSON: %v\n%s", err, b)
	}
	if p.Type != "message" || len(p.Attachments) != 1 {
		t.Fatalf("envelope: type %q, %d attachments", p.Type, len(p.Attachments))
	}
	a := p.Attachments[0]
	if a.ContentType != "application/vnd.microsoft.card.adaptive" || a.ContentURL != nil || !strings.Contains(string(b), `"contentUrl":null`) {
		t.Errorf("attachment: %q %v", a.ContentType, a.ContentURL)
	}
	c := a.Content
	if c.Schema != "http://adaptivecards.io/schemas/adaptive-card.json" || c.Type != "AdaptiveCard" || c.Version != "1.5" {
		t.Errorf("card: %q %q %q", c.Schema, c.Type, c.Version)
	}
	if len(c.Actions) != 1 || c.Actions[0].Type != "Action.OpenUrl" || c.Actions[0].Title != "Open Sophos Central" {
		t.Errorf("actions: %+v", c.Actions)
	}
	if len(c.Body) == 0 || c.Body[0].Type != "TextBlock" || c.Body[0].Weight != "Bolder" || c.Body[0].Size != "Medium" || !c.Body[0].Wrap {
		t.Errorf("title block: %+v", c.Body)
	}
	return p
}

func (p payload) body() []element { return p.Attachments[0].Content.Body }

// allText lists every text and fact value of p.
func (p payload) allText() []string {
	var out []string
	for _, e := range p.body() {
		out = append(out, e.Text)
		for _, f := range e.Facts {
			out = append(out, f.Title, f.Value)
		}
	}
	return out
}

// factSets returns the facts of every FactSet of p.
func (p payload) factSets() [][]fact {
	var out [][]fact
	for _, e := range p.body() {
		if e.Type == "FactSet" {
			out = append(out, e.Facts)
		}
	}
	return out
}

// factValue returns the value of the fact titled title.
func factValue(t *testing.T, facts []fact, title string) string {
	t.Helper()
	for _, f := range facts {
		if f.Title == title {
			return f.Value
		}
	}
	t.Fatalf("no fact %q in %+v", title, facts)
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
const hookPath = "/workflows/0123456789abcdef0123456789abcdef/triggers/manual/paths/invoke"

// hookQuery is the query of a test webhook URL; sig is the credential.
const hookQuery = "?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=SECRETsig0123456789abcdefghijklmnopqrstuvwxyz"

// hookURL is the test webhook URL on s.
func hookURL(s *httptest.Server) string { return s.URL + hookPath + hookQuery }

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
