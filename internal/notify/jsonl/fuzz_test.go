package jsonl

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/notify"
	"github.com/puawatch/puawatch/internal/render"
	"github.com/puawatch/puawatch/internal/store"
)

// FuzzNotify checks the lines of a message whose every value (its key
// too) is untrusted: exactly one line per detection, each valid JSON of
// the Line fields that round-trips (decoding and encoding again gives the
// same bytes), with the view's values, the cleaned key, and times with
// three fraction digits in UTC. The seeds in testdata/fuzz/FuzzNotify
// hold CR/LF and U+2028, NUL, invalid UTF-8, HTML and JavaScript, CEF
// specials, emoji and very long values.
func FuzzNotify(f *testing.F) {
	layout := regexp.MustCompile(`"(created_at|when)":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"`)
	at := time.Date(2026, 3, 4, 10, 21, 28, 690e6, time.FixedZone("CET", 3600))
	f.Fuzz(func(t *testing.T, key, a, b, c string) {
		d := store.Detection{EventID: a, TenantID: b, TenantName: a, Kind: store.KindDetection, Type: c, Name: c,
			Severity: b, Threat: c, Location: b, User: a, EndpointID: c, EndpointType: b, Path: a + "\n" + b, When: at, CreatedAt: at}
		e := d
		e.EventID, e.Location = c, a+"\u2028"+c
		m := notify.Message{Key: key, Channel: "jsonl", TenantID: b, TenantName: a, Digest: true, Detections: []store.Detection{d, e}}
		var out bytes.Buffer
		n, err := New("-", &out)
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Notify(context.Background(), m); err != nil {
			t.Fatalf("Notify: %v", err)
		}
		lines := bytes.Split(bytes.TrimSuffix(out.Bytes(), []byte("\n")), []byte("\n"))
		if len(lines) != 2 || !bytes.HasSuffix(out.Bytes(), []byte("\n")) {
			t.Fatalf("%d lines for 2 detections:\n%s", len(lines), out.Bytes())
		}
		v := render.NewView(m, render.Options{})
		for i, line := range lines {
			dec := json.NewDecoder(bytes.NewReader(line))
			dec.DisallowUnknownFields()
			var l Line
			if err := dec.Decode(&l); err != nil {
				t.Fatalf("line %d is not a Line: %v\n%s", i, err, line)
			}
			var again bytes.Buffer
			enc := json.NewEncoder(&again)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(l); err != nil || !bytes.Equal(bytes.TrimSuffix(again.Bytes(), []byte("\n")), line) {
				t.Fatalf("line %d does not round-trip (%v):\n%s\n%s", i, err, line, again.Bytes())
			}
			vd := v.Detections[i]
			if l.Key != render.Clean(key) || l.Channel != "jsonl" || l.ID != vd.EventID || l.Host != vd.Host || l.Path != vd.Path || l.User != vd.User || l.Name != vd.Name {
				t.Fatalf("line %d %+v, want the view's values %+v and key %q", i, l, vd, render.Clean(key))
			}
			if got := layout.FindAll(line, -1); len(got) != 2 {
				t.Fatalf("line %d: times not in render.TimeLayout: %s", i, line)
			}
		}
	})
}
