package webhook

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/puawatch/puawatch/internal/notify"
	"github.com/puawatch/puawatch/internal/render"
	"github.com/puawatch/puawatch/internal/render/detectionjson"
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
	Schema     string                    `json:"schema"`      // always Schema
	Version    int                       `json:"version"`     // always Version
	Key        string                    `json:"key"`         // the message key, also sent as Idempotency-Key
	Channel    string                    `json:"channel"`     // the channel name in puawatch's configuration
	Tenant     Tenant                    `json:"tenant"`      // the tenant of every detection of the message
	Digest     bool                      `json:"digest"`      // more than one detection
	Count      int                       `json:"count"`       // len(Detections)
	Title      string                    `json:"title"`       // one line for humans
	CentralURL string                    `json:"central_url"` // Sophos Central's web address
	Detections []detectionjson.Detection `json:"detections"`  // the objects of package detectionjson
	SentAt     detectionjson.Time        `json:"sent_at"`     // RFC 3339 UTC, whole seconds (.000), equal to X-Puawatch-Timestamp
}

// Tenant names a Sophos Central tenant.
type Tenant struct {
	ID   string `json:"id"`
	Name string `json:"name"`
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
		CentralURL: render.Clean(v.CentralURL), Detections: detectionjson.All(v),
		SentAt: detectionjson.Time{Time: at.UTC().Truncate(time.Second)},
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
