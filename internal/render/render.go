// Package render turns a notification into the view every channel's
// templates render: each value cleaned (no control characters, bounded
// length) and formatted (times in UTC and in a configured zone), plus the
// summary a SOC analyst reads first. Escaping for the channel's own syntax
// (HTML, Slack mrkdwn, Adaptive Card text, CEF, RFC 5424) stays with the
// channel; this package only guarantees the values are plain text.
//
// Users may override a channel's default template with a Go text/template
// file; Load reads one and checks it against a sample view, so a broken
// template is a configuration error, not a failed delivery.
package render

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/template"
	"time"
	"unicode/utf8"

	"github.com/puawatch/puawatch/internal/notify"
	"github.com/puawatch/puawatch/internal/plaintext"
	"github.com/puawatch/puawatch/internal/store"
)

// MaxValue caps one untrusted value in a view.
const MaxValue = 2000

// DefaultCentralURL is Sophos Central's web address, which messages link
// to unless Options.CentralURL says otherwise.
const DefaultCentralURL = "https://central.sophos.com"

// Options shape views.
type Options struct {
	Location   *time.Location // a second zone for times; nil: UTC only
	CentralURL string         // Sophos Central's web address; "" is DefaultCentralURL
}

// View is a message as templates see it.
type View struct {
	Key        string // stable message key (idempotency)
	Channel    string
	TenantID   string
	TenantName string
	Digest     bool
	Count      int
	Title      string // one line: "PUA PsExec on WS-1 (Contoso)" or "12 PUA detections in Contoso"
	Intro      string // one sentence
	CentralURL string // link to Sophos Central
	Detections []Detection
}

// Detection is one detection of a view, every value plain text.
type Detection struct {
	N            int // 1-based position in the message
	EventID      string
	Kind         string // detection or followup
	Title        string // one line: "PUA PsExec on WS-1 (Contoso)", or "CorePuaCleanFailed: PsExec on WS-1 (Contoso)"
	Type         string
	TypeShort    string // the type without "Event::Endpoint::"
	TenantID     string
	TenantName   string
	Host         string
	EndpointID   string
	EndpointType string
	User         string
	Threat       string
	Path         string
	Name         string
	Severity     string
	Cleanup      string // clean-up state from the event's remedy items, or "unknown"
	WhenUTC      string // for people: "2006-01-02 15:04:05 UTC", "unknown" for none
	CreatedUTC   string
	WhenLocal    string // in Options.Location, "" without one
	CreatedLocal string
	When         time.Time
	CreatedAt    time.Time
}

// NewView makes the view of m.
func NewView(m notify.Message, o Options) View {
	v := View{Key: m.Key, Channel: m.Channel, TenantID: Clean(m.TenantID), TenantName: Clean(tenantName(m)),
		Digest: len(m.Detections) > 1, Count: len(m.Detections), CentralURL: o.CentralURL}
	if v.CentralURL == "" {
		v.CentralURL = DefaultCentralURL
	}
	for i, d := range m.Detections {
		dv := Detection{
			N: i + 1, EventID: Clean(d.EventID), Kind: Clean(d.Kind), Type: Clean(d.Type), TypeShort: Clean(ShortType(d.Type)),
			TenantID: Clean(d.TenantID), TenantName: Clean(cmp.Or(strings.TrimSpace(d.TenantName), v.TenantName)),
			Host: Clean(cmp.Or(strings.TrimSpace(d.Location), "unknown")), EndpointID: Clean(d.EndpointID),
			EndpointType: Clean(cmp.Or(strings.TrimSpace(d.EndpointType), "unknown")), User: Clean(cmp.Or(strings.TrimSpace(d.User), "unknown")),
			Threat: Clean(cmp.Or(strings.TrimSpace(d.Threat), "unknown")), Path: Clean(d.Path), Name: Clean(d.Name),
			Severity: Clean(cmp.Or(strings.TrimSpace(strings.ToLower(d.Severity)), "unknown")), Cleanup: cleanupState(d),
			WhenUTC: utc(d.When), CreatedUTC: utc(d.CreatedAt), When: d.When, CreatedAt: d.CreatedAt,
		}
		if dv.Kind == store.KindFollowUp {
			dv.Title = fmt.Sprintf("%s: %s on %s (%s)", dv.TypeShort, dv.Threat, dv.Host, dv.TenantName)
		} else {
			dv.Title = fmt.Sprintf("PUA %s on %s (%s)", dv.Threat, dv.Host, dv.TenantName)
		}
		if o.Location != nil && o.Location != time.UTC {
			dv.WhenLocal, dv.CreatedLocal = local(d.When, o.Location), local(d.CreatedAt, o.Location)
		}
		v.Detections = append(v.Detections, dv)
	}
	switch {
	case v.Count == 0:
		v.Title = "no detections"
	case v.Digest:
		v.Title = fmt.Sprintf("%d PUA detections in %s", v.Count, v.TenantName)
		v.Intro = fmt.Sprintf("Sophos Central reported %d PUA detections in tenant %s.", v.Count, v.TenantName)
	case v.Detections[0].Kind == store.KindFollowUp:
		d := v.Detections[0]
		v.Title = d.Title
		v.Intro = fmt.Sprintf("Sophos Central reported a follow-up (%s) to a PUA detection in tenant %s.", d.TypeShort, d.TenantName)
	default:
		d := v.Detections[0]
		v.Title = d.Title
		v.Intro = fmt.Sprintf("Sophos Central reported a PUA detection in tenant %s.", d.TenantName)
	}
	return v
}

func tenantName(m notify.Message) string {
	if m.TenantName != "" {
		return m.TenantName
	}
	for _, d := range m.Detections {
		if d.TenantName != "" {
			return d.TenantName
		}
	}
	return cmp.Or(strings.TrimSpace(m.TenantID), "unknown tenant")
}

// ShortType is an event type without its "Event::Endpoint::" prefix.
func ShortType(t string) string { return strings.TrimPrefix(t, "Event::Endpoint::") }

// TimeLayout is how puawatch writes a point in time for machines (JSON,
// JSON Lines, the syslog TIMESTAMP): RFC 3339 in UTC with exactly three
// fraction digits, as Sophos Central sends its times, so the text sorts
// as the times do (Go's RFC3339Nano drops trailing zeros: 28.69Z would
// sort after 28.690Z, 28Z after 28.5Z).
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// Timestamp writes t in TimeLayout (t is cut, not rounded, to the
// millisecond).
func Timestamp(t time.Time) string { return t.UTC().Format(TimeLayout) }

func utc(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func local(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	return t.In(loc).Format("2006-01-02 15:04:05 MST")
}

// cleanupState reads the clean-up result of the event's remedy items.
func cleanupState(d store.Detection) string {
	var ev struct {
		CoreRemedyItems *struct {
			Items []struct {
				Result string `json:"result"`
			} `json:"items"`
		} `json:"core_remedy_items"`
	}
	if len(d.Raw) == 0 || json.Unmarshal(d.Raw, &ev) != nil || ev.CoreRemedyItems == nil || len(ev.CoreRemedyItems.Items) == 0 {
		return "unknown"
	}
	seen := map[string]bool{}
	var out []string
	for _, it := range ev.CoreRemedyItems.Items {
		r := Clean(strings.ToLower(strings.ReplaceAll(it.Result, "_", " ")))
		if r != "" && !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return "unknown"
	}
	return strings.Join(out, ", ")
}

// Clean makes an untrusted value plain text on one line (plaintext.Clean:
// control characters and line separators become spaces, invisible
// formatting characters such as direction overrides are dropped, invalid
// UTF-8 is replaced) and cuts it at MaxValue characters.
func Clean(s string) string {
	s = plaintext.Clean(s)
	if utf8.RuneCountInString(s) <= MaxValue {
		return s
	}
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == MaxValue-1 {
			b.WriteRune('…')
			break
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// Template is a user's template for a channel: Go text/template over a
// View.
type Template struct{ t *template.Template }

// Load reads a template file and checks it renders a sample view.
func Load(path string) (*Template, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", path, err)
	}
	t, err := template.New(path).Option("missingkey=error").Parse(string(b))
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", path, err)
	}
	tp := &Template{t: t}
	if _, err := tp.Execute(Sample()); err != nil {
		return nil, fmt.Errorf("template %s does not render a sample detection: %w", path, err)
	}
	return tp, nil
}

// Execute renders v.
func (t *Template) Execute(v View) (string, error) {
	var b bytes.Buffer
	if err := t.t.Execute(&b, v); err != nil {
		return "", err
	}
	return b.String(), nil
}

// Sample is the view of SampleMessage, for checking templates.
func Sample() View { return NewView(SampleMessage(), Options{}) }

// SampleMessage is a message with one made-up detection, for checking
// templates and for `puawatch notify test`.
func SampleMessage() notify.Message {
	raw := `{"core_remedy_items":{"items":[{"result":"SUCCESS"}],"totalItems":1}}`
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return notify.Message{Key: "puawatch-test.sample", Channel: "test", TenantID: "00000000-0000-4000-8000-000000000000", TenantName: "Sample Tenant",
		Detections: []store.Detection{{EventID: "11111111-1111-4111-8111-111111111111", TenantID: "00000000-0000-4000-8000-000000000000",
			TenantName: "Sample Tenant", Kind: store.KindDetection, Type: "Event::Endpoint::CorePuaDetection",
			Name: `PUA detected: 'PsExec' at 'C:\Tools\PsExec64.exe'`, Severity: "medium", Threat: "PsExec", Location: "WS-SAMPLE-01",
			User: `SAMPLE\j.doe`, EndpointID: "22222222-2222-4222-8222-222222222222", EndpointType: "computer",
			Path: `C:\Tools\PsExec64.exe`, When: at, CreatedAt: at.Add(1500 * time.Millisecond), Raw: []byte(raw)}}}
}
