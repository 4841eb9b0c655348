package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// The hand-written encoders must give what encoding/json gives for the
// same data. The expected documents are built by hand as maps (the §6.4 and
// §6.5 shapes differ from Event's struct tags), marshalled with
// encoding/json and decoded again, so both sides compare as map[string]any.

func encPtr(s string) *string { return &s }

// encViaStdlib is what encoding/json makes of v, decoded into map[string]any.
func encViaStdlib(t *testing.T, v map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal expected: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("json.Unmarshal expected: %v", err)
	}
	return m
}

// encDecode checks b is one valid JSON object and decodes it.
func encDecode(t *testing.T, what string, b []byte) map[string]any {
	t.Helper()
	if !json.Valid(b) {
		t.Fatalf("%s: not valid JSON: %s", what, b)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v: %s", what, err, b)
	}
	return m
}

// encCompare reports every top-level key whose value differs.
func encCompare(t *testing.T, what string, got, want map[string]any) {
	t.Helper()
	if reflect.DeepEqual(got, want) {
		return
	}
	keys := map[string]bool{}
	for k := range got {
		keys[k] = true
	}
	for k := range want {
		keys[k] = true
	}
	var ks []string
	for k := range keys {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	for _, k := range ks {
		g, gok := got[k]
		w, wok := want[k]
		switch {
		case !gok:
			t.Errorf("%s: key %q missing, want %#v", what, k, w)
		case !wok:
			t.Errorf("%s: unexpected key %q = %#v", what, k, g)
		case !reflect.DeepEqual(g, w):
			t.Errorf("%s: %q = %#v, want %#v", what, k, g, w)
		}
	}
}

var (
	encCET     = time.FixedZone("CET", 3600)
	encWhen    = time.Date(2025, 6, 3, 10, 41, 25, 902_345_678, encCET) // 09:41:25.902 UTC
	encCreated = time.Date(2025, 6, 3, 9, 41, 27, 318_000_000, time.UTC)
)

const (
	encWhenText    = "2025-06-03T09:41:25.902Z"
	encCreatedText = "2025-06-03T09:41:27.318Z"
	encCreatedMS   = int64(1748943687318)
)

// encFull has every field set, with values that need escaping.
func encFull() Event {
	return Event{
		ID:           "f1a2b3c4-d5e6-4f70-8a9b-0c1d2e3f4a5b",
		Type:         TypeThreatPuaCleanupFailed,
		Name:         "Manual PUA cleanup required: 'PsExec' at 'C:\\Tools\\<b>\"x\"</b>\\PsExec64.exe'\r\nX-Injected: 1",
		Severity:     "medium",
		Group:        "PUA",
		Location:     "WS-<script>alert(1)</script>\u2028",
		Source:       "MÜNCHEN\\jürgen\t\x01",
		SourceIP:     "10.20.9.7",
		CustomerID:   "57ca9a6b-885f-4e36-95ec-290548c26059",
		EndpointID:   "0c9d8e7f-6a5b-4c3d-9e2f-1a0b9c8d7e6f",
		EndpointType: "computer",
		UserID:       encPtr("65a1f0c2e4b0d91a2c3e4f61"),
		When:         encWhen,
		CreatedAt:    encCreated,
		Threat:       encPtr("PsExec \"v2\""),
		Origin:       encPtr("ML"),
		AppSha256:    encPtr("9c1e0d3b7a5f2e84c6d1b0a9f8e7d6c5b4a39281706f5e4d3c2b1a0f9e8d7c6b"),
		AppCerts: []AppCert{
			{Signer: "Sysinternals - www.sysinternals.com", Thumbprint: "aa11"},
			{Signer: "ノート \"signer\"", Thumbprint: "bb22"},
		},
		CoreRemedyItems: []RemedyItem{
			{Type: "file", Result: "FAILED_TO_DELETE", SuspendResult: "NOT_APPLICABLE", Descriptor: `C:\Tools\PsExec64.exe`},
			{Type: "process", Result: "SUCCESS", SuspendResult: "SUCCESS", Descriptor: "C:\\a\"b"},
		},
		Details: []Detail{
			{Type: "HOME_REMNANT_PATHS", Property: `C:\ProgramData\OpenCandy`},
			{Type: "HOME_REMNANT_FAMILY", Property: "OpenCandy\n"},
		},
	}
}

// encNullable has every nullable field nil and no source IP.
func encNullable() Event {
	return Event{
		ID:           "2b3c4d5e-6f70-4a8b-9c0d-1e2f3a4b5c6d",
		Type:         "Event::Endpoint::UpdateRebootRequired",
		Name:         "Reboot required to complete update",
		Severity:     "low",
		Group:        "UPDATING",
		Location:     "WS-HR-0031",
		Source:       "n/a",
		CustomerID:   "57ca9a6b-885f-4e36-95ec-290548c26059",
		EndpointID:   "5e4d3c2b-1a0f-4e9d-8c7b-6a5f4e3d2c1b",
		EndpointType: "server",
		When:         encWhen,
		CreatedAt:    encCreated,
	}
}

func encRemedyMap(items []RemedyItem) any {
	if items == nil {
		return nil
	}
	list := []any{}
	for _, it := range items {
		list = append(list, map[string]any{"type": it.Type, "result": it.Result, "suspendResult": it.SuspendResult,
			"descriptor": it.Descriptor, "processPath": "", "sophosPid": ""})
	}
	return map[string]any{"items": list, "totalItems": len(items)}
}

func TestAppendEventMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	full := encFull()
	wantFull := map[string]any{
		"id":                full.ID,
		"type":              full.Type,
		"name":              full.Name,
		"severity":          "medium",
		"group":             "PUA",
		"location":          full.Location,
		"source":            full.Source,
		"source_info":       map[string]any{"ip": "10.20.9.7"},
		"customer_id":       full.CustomerID,
		"endpoint_id":       full.EndpointID,
		"endpoint_type":     "computer",
		"user_id":           "65a1f0c2e4b0d91a2c3e4f61",
		"when":              encWhenText,
		"created_at":        encCreatedText,
		"threat":            "PsExec \"v2\"",
		"origin":            "ML",
		"appSha256":         *full.AppSha256,
		"appCerts":          []any{map[string]any{"signer": "Sysinternals - www.sysinternals.com", "thumbprint": "aa11"}, map[string]any{"signer": "ノート \"signer\"", "thumbprint": "bb22"}},
		"core_remedy_items": encRemedyMap(full.CoreRemedyItems),
		"ips_threat_data":   nil,
		"amsi_threat_data":  nil,
		"details": []any{
			map[string]any{"type": "HOME_REMNANT_PATHS", "property": `C:\ProgramData\OpenCandy`},
			map[string]any{"type": "HOME_REMNANT_FAMILY", "property": "OpenCandy\n"},
		},
	}
	nul := encNullable()
	wantNull := map[string]any{
		"id":                nul.ID,
		"type":              nul.Type,
		"name":              nul.Name,
		"severity":          "low",
		"group":             "UPDATING",
		"location":          "WS-HR-0031",
		"source":            "n/a",
		"source_info":       map[string]any{},
		"customer_id":       nul.CustomerID,
		"endpoint_id":       nul.EndpointID,
		"endpoint_type":     "server",
		"user_id":           nil,
		"when":              encWhenText,
		"created_at":        encCreatedText,
		"threat":            nil,
		"origin":            nil,
		"appSha256":         nil,
		"appCerts":          nil,
		"core_remedy_items": nil,
		"ips_threat_data":   nil,
		"amsi_threat_data":  nil,
	}
	empty := encNullable()
	empty.AppCerts, empty.CoreRemedyItems, empty.Details = []AppCert{}, []RemedyItem{}, []Detail{}
	wantEmpty := encViaStdlib(t, wantNull)
	wantEmpty["appCerts"] = []any{}
	wantEmpty["core_remedy_items"] = map[string]any{"items": []any{}, "totalItems": float64(0)}
	wantEmpty["details"] = []any{}

	for _, tc := range []struct {
		name string
		ev   Event
		want map[string]any
	}{
		{"every field set", full, wantFull},
		{"nullables nil", nul, wantNull},
		{"empty slices", empty, wantEmpty},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := appendEvent(nil, &tc.ev)
			encCompare(t, "appendEvent", encDecode(t, "appendEvent", got), encViaStdlib(t, tc.want))
			prefixed := appendEvent([]byte(`[1,`), &tc.ev)
			if !bytes.Equal(prefixed, append([]byte(`[1,`), got...)) {
				t.Errorf("appendEvent does not append to its buffer: %q", prefixed)
			}
		})
	}
	t.Run("explicit nulls", func(t *testing.T) {
		got := string(appendEvent(nil, &nul))
		for _, k := range []string{"user_id", "threat", "origin", "appSha256", "appCerts", "core_remedy_items"} {
			if !strings.Contains(got, `"`+k+`":null`) {
				t.Errorf("appendEvent lacks the literal %q:null: %s", k, got)
			}
		}
		if strings.Contains(got, `"details"`) {
			t.Errorf("nil details written: %s", got)
		}
	})
}

func encAlertWant(ev Event) map[string]any {
	var srcInfo map[string]any = map[string]any{}
	if ev.SourceIP != "" {
		srcInfo["ip"] = ev.SourceIP
	}
	var threat any
	if ev.Threat != nil {
		threat = *ev.Threat
	}
	return map[string]any{
		"id":                     ev.ID,
		"event_service_event_id": ev.ID,
		"type":                   ev.Type,
		"description":            ev.Name,
		"severity":               ev.Severity,
		"location":               ev.Location,
		"source":                 ev.Source,
		"when":                   encWhenText,
		"created_at":             encCreatedText,
		"customer_id":            ev.CustomerID,
		"threat":                 threat,
		"threat_cleanable":       false,
		"info":                   map[string]any{},
		"data": map[string]any{
			"endpoint_id":       ev.EndpointID,
			"endpoint_java_id":  ev.EndpointID,
			"endpoint_type":     ev.EndpointType,
			"endpoint_platform": "windows",
			"source_info":       srcInfo,
			"created_at":        encCreatedMS,
			"inserted_at":       encCreatedMS,
			"threat_status":     "NONE",
			"source_app_id":     "CORE",
			"policy_type":       30,
			"certificates":      []any{},
			"core_remedy_items": encRemedyMap(ev.CoreRemedyItems),
			"event_service_id":  ev.ID,
		},
	}
}

func TestAppendAlertMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	if encCreated.UnixMilli() != encCreatedMS {
		t.Fatalf("test constant: %d != %d", encCreated.UnixMilli(), encCreatedMS)
	}
	for _, tc := range []struct {
		name string
		ev   Event
	}{
		{"every field set", encFull()},
		{"nullables nil", encNullable()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := appendAlert(nil, &tc.ev)
			encCompare(t, "appendAlert", encDecode(t, "appendAlert", got), encViaStdlib(t, encAlertWant(tc.ev)))
		})
	}
	// The hand-built expectation must not merely mirror the encoder: spot
	// check a few literal values of the §10.5 shape.
	got := string(appendAlert(nil, func() *Event { e := encFull(); return &e }()))
	for _, frag := range []string{`"threat_cleanable":false`, `"info":{}`, `"created_at":1748943687318`, `"policy_type":30`, `"when":"` + encWhenText + `"`} {
		if !strings.Contains(got, frag) {
			t.Errorf("appendAlert lacks %s: %s", frag, got)
		}
	}
}

// encTricky are strings that need care in JSON.
var encTricky = []struct{ name, s string }{
	{"empty", ""},
	{"plain", "PUA detected: 'Generic Reputation PUA'"},
	{"quotes", `say "hi" and ""`},
	{"backslashes", `C:\Users\\j.meyer\` + `\`},
	{"control chars", func() string {
		var b strings.Builder
		for c := 0; c < 0x20; c++ {
			b.WriteByte(byte(c))
			b.WriteByte('.')
		}
		return b.String()
	}()},
	{"DEL", "a\x7fb"},
	{"CRLF injection", "WS-FIN-0001\r\nX-Injected: 1"},
	{"html", `<script>alert(1)</script>&amp;<img src=x onerror=alert(1)>`},
	{"line separators", "a\u2028b\u2029c\u2028"},
	{"invalid UTF-8", "a\xffb\xc3(c\xe2\x82d\xf0\x9f"},
	{"lone continuation bytes", "\x80\xbf\x80"},
	{"surrogate half", "\xed\xa0\x80x"},
	{"overlong", "\xc0\xaf"},
	{"valid U+FFFD", "x\uFFFDy"},
	{"emoji", "😀 👍🏽 👨‍👩‍👧 🏳️‍🌈"},
	{"CJK", "ノートPC-ユーザー 中文路径 한국어"},
	{"mixed", "C:\\Users\\ユーザー\\\"q\"\t\x00😀\xff\u2029<>&"},
	{"NUL only", "\x00"},
}

// encCheckString checks appendString(s) against encoding/json.
func encCheckString(t *testing.T, s string) {
	t.Helper()
	out := appendString(nil, s)
	if !json.Valid(out) {
		t.Fatalf("appendString(%q) = %q: not valid JSON", s, out)
	}
	if len(out) < 2 || out[0] != '"' || out[len(out)-1] != '"' {
		t.Fatalf("appendString(%q) = %q: not one JSON string", s, out)
	}
	for i, c := range out {
		if c < 0x20 {
			t.Fatalf("appendString(%q) has a raw control byte 0x%02x at %d", s, c, i)
		}
	}
	if bytes.Contains(out, []byte("\u2028")) || bytes.Contains(out, []byte("\u2029")) {
		t.Errorf("appendString(%q) = %q leaves U+2028/U+2029 unescaped", s, out)
	}
	if !utf8.Valid(out) {
		t.Errorf("appendString(%q) = %q is not valid UTF-8", s, out)
	}
	var got string
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("appendString(%q) = %q: %v", s, out, err)
	}
	std, _ := json.Marshal(s)
	var want string
	if err := json.Unmarshal(std, &want); err != nil {
		t.Fatalf("encoding/json round trip of %q: %v", s, err)
	}
	if got != want {
		t.Errorf("appendString(%q) decodes to %q, encoding/json gives %q", s, got, want)
	}
	// Independently: each invalid byte becomes one U+FFFD, the rest is kept.
	if byRune := string([]rune(s)); got != byRune {
		t.Errorf("appendString(%q) decodes to %q, want %q", s, got, byRune)
	}
}

func TestAppendStringRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tc := range encTricky {
		t.Run(tc.name, func(t *testing.T) {
			encCheckString(t, tc.s)
			prefixed := appendString([]byte("x:"), tc.s)
			if !bytes.Equal(prefixed, append([]byte("x:"), appendString(nil, tc.s)...)) {
				t.Errorf("appendString does not append to its buffer: %q", prefixed)
			}
		})
	}
	// Every single byte value, alone and between letters.
	for c := 0; c < 256; c++ {
		encCheckString(t, string([]byte{byte(c)}))
		encCheckString(t, fmt.Sprintf("a%cb", byte(c)))
	}
	// Specific escapes.
	for in, want := range map[string]string{
		"\n": `"\n"`, "\r": `"\r"`, "\t": `"\t"`, `"`: `"\""`, `\`: `"\\"`,
		"\x00": `"\u0000"`, "\x1f": `"\u001f"`, "\u2028": `"\u2028"`, "\u2029": `"\u2029"`, "\xff": `"\ufffd"`,
	} {
		if got := string(appendString(nil, in)); got != want {
			t.Errorf("appendString(%q) = %s, want %s", in, got, want)
		}
	}
}

// FuzzAppendString checks that any string encodes as valid JSON that
// decodes to what encoding/json gives. Plain `go test` runs the seeds.
func FuzzAppendString(f *testing.F) {
	for _, tc := range encTricky {
		f.Add(tc.s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		encCheckString(t, s)
	})
}
