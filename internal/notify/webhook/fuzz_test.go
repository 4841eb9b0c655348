package webhook

import (
	"bytes"
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/notify"
	"github.com/puawatch/puawatch/internal/render"
	"github.com/puawatch/puawatch/internal/store"
)

// FuzzRender checks the body of a digest whose every value (the key and
// channel too) is untrusted: valid JSON of the documented schema without
// a raw <, > or &, that round-trips (decoding and encoding again gives
// the same bytes), whose values are the view's, and whose times have
// three fraction digits in UTC. The time is fuzzed as milliseconds. The
// seeds in testdata/fuzz/FuzzRender hold CR/LF, NUL, invalid UTF-8, HTML
// and JavaScript, CEF specials, emoji and very long values, with times
// on a whole second, with trailing zeros and at the ends of the range.
func FuzzRender(f *testing.F) {
	layout := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
	const maxMilli = 253402300799999 // 9999-12-31T23:59:59.999Z
	sent := time.Date(2026, 3, 4, 10, 21, 28, 0, time.UTC)
	f.Fuzz(func(t *testing.T, a, b, c string, ms int64) {
		at := time.UnixMilli(min(max(ms, 1), maxMilli)).In(time.FixedZone("X", -7*3600))
		d := store.Detection{EventID: a, TenantID: b, TenantName: a, Kind: store.KindDetection, Type: c, Name: c,
			Severity: b, Threat: c, Location: b, User: a, EndpointID: c, EndpointType: b, Path: a + `\` + b, When: at, CreatedAt: at}
		e := d
		e.Kind, e.Location, e.When = store.KindFollowUp, c, time.Time{}
		m := notify.Message{Key: a, Channel: b, TenantID: b, TenantName: a, Digest: true, Detections: []store.Detection{d, e}}
		body, err := renderAt(m, render.Options{}, sent)
		if err != nil {
			t.Fatalf("render: %v", err)
		}
		if bytes.ContainsAny(body, "<>&") {
			t.Fatalf("a raw <, > or & in %s", body)
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		var got Body
		if err := dec.Decode(&got); err != nil {
			t.Fatalf("the body does not decode to the schema: %v\n%s", err, body)
		}
		again, err := json.Marshal(got)
		if err != nil || !bytes.Equal(again, body) {
			t.Fatalf("the body does not round-trip (%v):\n%s\n%s", err, body, again)
		}
		v := render.NewView(m, render.Options{})
		if got.Key != render.Clean(v.Key) || got.Channel != render.Clean(v.Channel) || got.Tenant.Name != v.TenantName ||
			got.Title != v.Title || got.Count != 2 || len(got.Detections) != 2 {
			t.Fatalf("body %+v, want the view's values", got)
		}
		for i, gd := range got.Detections {
			vd := v.Detections[i]
			if gd.ID != vd.EventID || gd.Host != vd.Host || gd.User != vd.User || gd.Path != vd.Path || gd.Name != vd.Name || gd.TenantName != vd.TenantName {
				t.Fatalf("detection %d %+v, want the view's values %+v", i, gd, vd)
			}
		}
		var times struct {
			SentAt     string `json:"sent_at"`
			Detections []struct {
				CreatedAt string  `json:"created_at"`
				When      *string `json:"when"`
			} `json:"detections"`
		}
		if err := json.Unmarshal(body, &times); err != nil {
			t.Fatal(err)
		}
		want := at.UTC().Truncate(time.Millisecond)
		for i, td := range times.Detections {
			ca, err := time.Parse(time.RFC3339, td.CreatedAt)
			if !layout.MatchString(td.CreatedAt) || err != nil || !ca.Equal(want) {
				t.Fatalf("detection %d: created_at %q, want %s in render.TimeLayout", i, td.CreatedAt, want)
			}
			if (i == 1) != (td.When == nil) {
				t.Fatalf("detection %d: when %v", i, td.When)
			}
		}
		if times.SentAt != "2026-03-04T10:21:28.000Z" {
			t.Fatalf("sent_at %q", times.SentAt)
		}
	})
}
