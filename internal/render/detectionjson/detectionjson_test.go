package detectionjson_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/notify"
	"github.com/puawatch/puawatch/internal/notify/jsonl"
	"github.com/puawatch/puawatch/internal/notify/syslog"
	"github.com/puawatch/puawatch/internal/notify/webhook"
	"github.com/puawatch/puawatch/internal/render"
	"github.com/puawatch/puawatch/internal/render/detectionjson"
	"github.com/puawatch/puawatch/internal/store"
)

// message is the sample detection, one with hostile values, and one
// without times or names.
func message() notify.Message {
	m := render.SampleMessage()
	hostile := m.Detections[0]
	hostile.EventID = "33333333-3333-4333-8333-333333333333"
	hostile.Kind = store.KindFollowUp
	hostile.Type = "Event::Endpoint::CorePuaCleanFailed"
	hostile.Location = "HOST\r\nX-Injected: 1 <script>alert(1)</script>"
	hostile.Path = `\\srv\share\"quoted"|a=b] "] {` + "\u2028\u202e"
	hostile.CreatedAt = time.Date(2026, 1, 2, 3, 4, 7, 250e6, time.FixedZone("CET", 3600))
	bare := store.Detection{EventID: "44444444-4444-4444-8444-444444444444", Kind: store.KindDetection,
		Type: "Event::Endpoint::CorePuaDetection", Name: "PUA detected"}
	m.Detections = append(m.Detections, hostile, bare)
	return m
}

func decode(t *testing.T, what string, b []byte) map[string]any {
	t.Helper()
	var o map[string]any
	if err := json.Unmarshal(b, &o); err != nil {
		t.Fatalf("%s: %v: %s", what, err, b)
	}
	return o
}

// TestSameObjectEverywhere: the webhook body's detections, syslog's json
// MSG and the jsonl lines (without key and channel) are the same object.
func TestSameObjectEverywhere(t *testing.T) {
	m := message()
	v := render.NewView(m, render.Options{})
	var want []map[string]any
	for _, d := range detectionjson.All(v) {
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, decode(t, "detectionjson", b))
	}

	body, err := webhook.Render(m, render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var wb struct{ Detections []json.RawMessage }
	if err := json.Unmarshal(body, &wb); err != nil {
		t.Fatal(err)
	}
	var lines bytes.Buffer
	n, err := jsonl.New("-", &lines)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(&lines)
	for i := range want {
		if i >= len(wb.Detections) {
			t.Fatalf("webhook body has %d detections, want %d", len(wb.Detections), len(want))
		}
		if got := decode(t, "webhook", wb.Detections[i]); !reflect.DeepEqual(got, want[i]) {
			t.Errorf("webhook detection %d\n got %v\nwant %v", i, got, want[i])
		}

		msg, err := syslog.Format(v.Detections[i], v, syslog.FormatJSON, time.Now(), "host")
		if err != nil {
			t.Fatal(err)
		}
		start := bytes.Index(msg, []byte(`"] {`))
		if start < 0 {
			t.Fatalf("syslog message without MSG: %s", msg)
		}
		if got := decode(t, "syslog", msg[start+3:]); !reflect.DeepEqual(got, want[i]) {
			t.Errorf("syslog MSG %d\n got %v\nwant %v", i, got, want[i])
		}

		if !sc.Scan() {
			t.Fatalf("jsonl wrote %d lines, want %d", i, len(want))
		}
		line := decode(t, "jsonl", sc.Bytes())
		if line["key"] != m.Key || line["channel"] != m.Channel {
			t.Errorf("jsonl line %d: key %v channel %v, want %s %s", i, line["key"], line["channel"], m.Key, m.Channel)
		}
		delete(line, "key")
		delete(line, "channel")
		if !reflect.DeepEqual(line, want[i]) {
			t.Errorf("jsonl line %d\n got %v\nwant %v", i, line, want[i])
		}
	}
}

// TestObject pins the object's fields and values: times in UTC or null,
// cleaned text, "unknown" for what Sophos Central did not give.
func TestObject(t *testing.T) {
	m := message()
	v := render.NewView(m, render.Options{})
	all := detectionjson.All(v)
	if len(all) != 3 {
		t.Fatalf("%d objects, want 3", len(all))
	}
	b, err := json.Marshal(all[1])
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"33333333-3333-4333-8333-333333333333","kind":"followup","type":"Event::Endpoint::CorePuaCleanFailed",` +
		`"tenant_id":"00000000-0000-4000-8000-000000000000","tenant_name":"Sample Tenant","created_at":"2026-01-02T02:04:07.250Z",` +
		`"when":"2026-01-02T03:04:05.000Z","host":"HOST  X-Injected: 1 \u003cscript\u003ealert(1)\u003c/script\u003e",` +
		`"endpoint_id":"22222222-2222-4222-8222-222222222222","endpoint_type":"computer","user":"SAMPLE\\j.doe","threat":"PsExec",` +
		`"path":"\\\\srv\\share\\\"quoted\"|a=b] \"] { ","severity":"medium",` +
		`"name":"PUA detected: 'PsExec' at 'C:\\Tools\\PsExec64.exe'","cleanup":"success"}`
	if string(b) != want {
		t.Errorf("hostile object\n got %s\nwant %s", b, want)
	}
	bare := all[2]
	if bare.When != nil || bare.CreatedAt != nil {
		t.Errorf("times without a value: when %v created_at %v, want null", bare.When, bare.CreatedAt)
	}
	if bare.TenantID != m.TenantID || bare.Host != "unknown" || bare.User != "unknown" || bare.Threat != "unknown" ||
		bare.EndpointType != "unknown" || bare.Severity != "unknown" || bare.Cleanup != "unknown" || bare.Path != "" {
		t.Errorf("bare object %+v: want the message's tenant id, unknown host, user, threat, endpoint type, severity, cleanup", bare)
	}
	if b, _ := json.Marshal(bare); !strings.Contains(string(b), `"created_at":null,"when":null`) {
		t.Errorf("bare object %s: want created_at and when null", b)
	}
}

// TestTimesSortAsText: every time the JSON channels write (webhook body,
// syslog's json MSG, jsonl lines) has exactly three fraction digits in
// UTC, as Sophos Central sends them, so that the text sorts as the times
// do (RFC3339Nano wrote 28.69Z and 28Z, which sort after 28.690Z and
// 28.5Z).
func TestTimesSortAsText(t *testing.T) {
	base := time.Date(2026, 3, 4, 10, 21, 28, 0, time.UTC)
	m := render.SampleMessage()
	m.Detections = nil
	for i, off := range []time.Duration{0, 500 * time.Millisecond, 690 * time.Millisecond, 999 * time.Millisecond, time.Second} {
		d := render.SampleMessage().Detections[0]
		d.EventID = strconv.Itoa(i)
		d.CreatedAt, d.When = base.Add(off).In(time.FixedZone("CET", 3600)), base.Add(off)
		m.Detections = append(m.Detections, d)
	}
	body, err := webhook.Render(m, render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var wb struct {
		SentAt     string `json:"sent_at"`
		Detections []struct {
			CreatedAt string `json:"created_at"`
			When      string `json:"when"`
		} `json:"detections"`
	}
	if err := json.Unmarshal(body, &wb); err != nil {
		t.Fatal(err)
	}
	layout := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
	if !layout.MatchString(wb.SentAt) {
		t.Errorf("webhook sent_at %q: want three fraction digits in UTC", wb.SentAt)
	}
	var lines bytes.Buffer
	n, err := jsonl.New("-", &lines)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	var jl []string
	sc := bufio.NewScanner(&lines)
	for sc.Scan() {
		var o struct {
			CreatedAt string `json:"created_at"`
			When      string `json:"when"`
		}
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
			t.Fatal(err)
		}
		jl = append(jl, o.CreatedAt, o.When)
	}
	var hook []string
	for _, d := range wb.Detections {
		hook = append(hook, d.CreatedAt, d.When)
	}
	var sl []string
	v := render.NewView(m, render.Options{})
	for _, d := range v.Detections {
		b, err := syslog.Format(d, v, syslog.FormatJSON, base, "h")
		if err != nil {
			t.Fatal(err)
		}
		var o struct {
			CreatedAt string `json:"created_at"`
			When      string `json:"when"`
		}
		if err := json.Unmarshal(b[bytes.IndexByte(b, '{'):], &o); err != nil {
			t.Fatal(err)
		}
		sl = append(sl, o.CreatedAt, o.When)
		if ts := strings.Fields(string(b))[1]; !layout.MatchString(ts) {
			t.Errorf("syslog TIMESTAMP %q: want three fraction digits in UTC", ts)
		}
	}
	for name, got := range map[string][]string{"webhook": hook, "jsonl": jl, "syslog json": sl} {
		want := []string{"2026-03-04T10:21:28.000Z", "2026-03-04T10:21:28.500Z", "2026-03-04T10:21:28.690Z", "2026-03-04T10:21:28.999Z", "2026-03-04T10:21:29.000Z"}
		for i, s := range got {
			if !layout.MatchString(s) || s != want[i/2] {
				t.Errorf("%s time %d = %q, want %q", name, i, s, want[i/2])
			}
		}
		if !slices.IsSorted(got) {
			t.Errorf("%s times do not sort as text: %q", name, got)
		}
	}
}
