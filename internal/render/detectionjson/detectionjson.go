// Package detectionjson is the one JSON object of a detection. Three
// channels write it:
//
//   - webhook: each element of the body's "detections" array (schema
//     "puawatch.notification" version 1; the field table is in the webhook
//     package documentation, go doc ./internal/notify/webhook);
//   - syslog: the MSG of the "json" format;
//   - jsonl: each line, with the message's "key" and "channel" added.
//
// The object is made from the message view (package render), so every text
// value is plain text on one line: control characters replaced by spaces,
// invisible formatting characters removed, at most render.MaxValue
// characters. Host, endpoint type, user, threat and severity are "unknown"
// when Sophos Central gave none; created_at and when are RFC 3339 in UTC
// with exactly three fraction digits (render.TimeLayout, as Sophos
// Central sends them: 2026-01-02T03:04:05.690Z, so the text sorts as the
// times do), or null when Sophos Central gave no time.
//
// Fields may be added; none is removed or changes meaning without a new
// webhook schema version.
package detectionjson

import (
	"fmt"
	"time"

	"github.com/puawatch/puawatch/internal/render"
)

// Detection is the JSON object of one detection.
type Detection struct {
	ID           string `json:"id"`   // the Sophos Central event id: the key to dedupe on
	Kind         string `json:"kind"` // "detection" or "followup"
	Type         string `json:"type"` // the event type, such as Event::Endpoint::CorePuaDetection
	TenantID     string `json:"tenant_id"`
	TenantName   string `json:"tenant_name"`
	CreatedAt    *Time  `json:"created_at"` // when Sophos Central recorded the event
	When         *Time  `json:"when"`       // when the event happened on the endpoint
	Host         string `json:"host"`       // the endpoint's name, or "unknown"
	EndpointID   string `json:"endpoint_id"`
	EndpointType string `json:"endpoint_type"` // computer, server, ... or "unknown"
	User         string `json:"user"`          // DOMAIN\user, or "unknown"
	Threat       string `json:"threat"`        // the PUA's name, or "unknown"
	Path         string `json:"path"`          // the file path, "" when the event names none
	Severity     string `json:"severity"`      // lower case: low, medium, high, ... or "unknown"
	Name         string `json:"name"`          // the event's message
	Cleanup      string `json:"cleanup"`       // clean-up results, or "unknown"
}

// New makes the object of d, one detection of v; a detection without a
// tenant id takes the view's.
func New(v render.View, d render.Detection) Detection {
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

// All makes the objects of every detection of v, in order.
func All(v render.View) []Detection {
	out := make([]Detection, 0, len(v.Detections))
	for _, d := range v.Detections {
		out = append(out, New(v, d))
	}
	return out
}

func utcPtr(t time.Time) *Time {
	if t.IsZero() {
		return nil
	}
	return &Time{t.UTC()}
}

// Time is a point in time in JSON: a string in render.TimeLayout (UTC,
// three fraction digits), null for the zero time. It reads any RFC 3339
// time.
type Time struct{ time.Time }

// MarshalJSON writes t in render.TimeLayout, or null when t is zero. A
// year outside 0-9999 has no RFC 3339 form and is an error, as for
// time.Time.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	if y := t.UTC().Year(); y < 0 || y > 9999 {
		return nil, fmt.Errorf("detectionjson: time %s: the year is outside 0-9999", t.Time)
	}
	return []byte(`"` + render.Timestamp(t.Time) + `"`), nil
}

// UnmarshalJSON reads an RFC 3339 time, or null as the zero time.
func (t *Time) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*t = Time{}
		return nil
	}
	return t.Time.UnmarshalJSON(b)
}
