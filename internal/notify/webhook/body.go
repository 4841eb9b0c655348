package webhook

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/puawatch/puawatch/internal/notify"
	"github.com/puawatch/puawatch/internal/render"
)

// Schema and Version name the body format; receivers should check both.
// Version changes only when a field is removed or changes meaning; new
// fields may be added to version 1, so receivers must ignore fields they
// do not know.
const (
	Schema  = "puawatch.notification"
	Version = 1
)

// Body is the JSON body of a webhook notification (see the package
// documentation for the field table).
type Body struct {
	Schema     string      `json:"schema"`      // always Schema
	Version    int         `json:"version"`     // always Version
	Key        string      `json:"key"`         // the message key, also sent as Idempotency-Key
	Channel    string      `json:"channel"`     // the channel name in puawatch's configuration
	Tenant     Tenant      `json:"tenant"`      // the tenant of every detection of the message
	Digest     bool        `json:"digest"`      // more than one detection
	Count      int         `json:"count"`       // len(Detections)
	Title      string      `json:"title"`       // one line for humans
	CentralURL string      `json:"central_url"` // Sophos Central's web address
	Detections []Detection `json:"detections"`
	SentAt     time.Time   `json:"sent_at"` // RFC 3339 UTC, whole seconds, equal to X-Puawatch-Timestamp
}

// Tenant names a Sophos Central tenant.
type Tenant struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Detection is one detection in a Body, and the JSON message of the
// syslog channel. Times are RFC 3339 in UTC, or null when Sophos Central
// did not give one; text values are plain text on one line (control
// characters replaced by spaces, at most render.MaxValue characters).
type Detection struct {
	ID           string     `json:"id"`   // the Sophos Central event id: the key to dedupe on
	Kind         string     `json:"kind"` // "detection" or "followup"
	Type         string     `json:"type"` // the event type, such as Event::Endpoint::CorePuaDetection
	TenantID     string     `json:"tenant_id"`
	TenantName   string     `json:"tenant_name"`
	CreatedAt    *time.Time `json:"created_at"` // when Sophos Central recorded the event
	When         *time.Time `json:"when"`       // when the event happened on the endpoint
	Host         string     `json:"host"`       // the endpoint's name, or "unknown"
	EndpointID   string     `json:"endpoint_id"`
	EndpointType string     `json:"endpoint_type"` // computer, server, ... or "unknown"
	User         string     `json:"user"`          // DOMAIN\user, or "unknown"
	Threat       string     `json:"threat"`        // the PUA's name, or "unknown"
	Path         string     `json:"path"`          // the file path, "" when the event names none
	Severity     string     `json:"severity"`      // lower case: low, medium, high, ... or "unknown"
	Name         string     `json:"name"`          // the event's message
	Cleanup      string     `json:"cleanup"`       // clean-up results, or "unknown"
}

// NewDetection makes the Detection of d, one detection of v; a detection
// without a tenant id takes the view's.
func NewDetection(v render.View, d render.Detection) Detection {
	out := Detection{
		ID: d.EventID, Kind: d.Kind, Type: d.Type, TenantID: d.TenantID, TenantName: d.TenantName,
		CreatedAt: utcPtr(d.CreatedAt), When: utcPtr(d.When), Host: d.Host, EndpointID: d.EndpointID,
		EndpointType: d.EndpointType, User: d.User, Threat: d.Threat, Path: d.Path, Severity: d.Severity,
		Name: d.Name, Cleanup: d.Cleanup,
	}
	if out.TenantID == "" {
		out.TenantID = v.TenantID
	}
	return out
}

func utcPtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// Render returns the JSON body of m as Notify sends it, with sent_at the
// current time.
func Render(m notify.Message, o render.Options) ([]byte, error) {
	return renderAt(m, o, time.Now())
}

// renderAt renders m with sent_at at (cut to whole seconds).
func renderAt(m notify.Message, o render.Options, at time.Time) ([]byte, error) {
	v := render.NewView(m, o)
	b := Body{
		Schema: Schema, Version: Version, Key: render.Clean(v.Key), Channel: render.Clean(v.Channel),
		Tenant: Tenant{ID: v.TenantID, Name: v.TenantName}, Digest: v.Digest, Count: v.Count, Title: v.Title,
		CentralURL: render.Clean(v.CentralURL), Detections: make([]Detection, 0, len(v.Detections)),
		SentAt: at.UTC().Truncate(time.Second),
	}
	for _, d := range v.Detections {
		b.Detections = append(b.Detections, NewDetection(v, d))
	}
	// json.Marshal escapes <, > and & too, so a receiver that pastes a
	// value into a web page cannot be handed markup; the decoded values
	// are unchanged.
	out, err := json.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("webhook: encode message %s: %w", b.Key, err)
	}
	return out, nil
}
