package render

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/notify"
	"github.com/puawatch/puawatch/internal/store"
)

func TestClean(t *testing.T) {
	for in, want := range map[string]string{
		"plain":                   "plain",
		"a\r\nBcc: x@y":           "a  Bcc: x@y",
		"tab\there\x00":           "tab here ",
		"rtl\u202egnp.exe":        "rtlgnp.exe",
		"bad \xff utf8":           "bad \uFFFD utf8",
		"Müller & Söhne <b>":      "Müller & Söhne <b>",
		strings.Repeat("x", 2500): strings.Repeat("x", MaxValue-1) + "…",
	} {
		if got := Clean(in); got != want {
			t.Errorf("Clean(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNewView(t *testing.T) {
	loc := time.FixedZone("CET", 3600)
	m := SampleMessage()
	m.Detections[0].Location = "HOST\r\nX-Injected: 1"
	v := NewView(m, Options{Location: loc})
	d := v.Detections[0]
	if v.Title != "PUA PsExec on HOST  X-Injected: 1 (Sample Tenant)" || v.Digest || v.Count != 1 {
		t.Errorf("title %q digest %v count %d", v.Title, v.Digest, v.Count)
	}
	if d.WhenUTC != "2026-01-02 03:04:05 UTC" || d.WhenLocal != "2026-01-02 04:04:05 CET" || d.Cleanup != "success" {
		t.Errorf("times %q %q cleanup %q", d.WhenUTC, d.WhenLocal, d.Cleanup)
	}
	if v.CentralURL != "https://central.sophos.com" || d.TypeShort != "CorePuaDetection" {
		t.Errorf("central %q type %q", v.CentralURL, d.TypeShort)
	}
	m.Detections = append(m.Detections, store.Detection{EventID: "2", Kind: store.KindFollowUp})
	if v := NewView(m, Options{}); !v.Digest || v.Title != "2 PUA detections in Sample Tenant" || v.Detections[1].Threat != "unknown" || v.Detections[1].Cleanup != "unknown" {
		t.Errorf("digest view %+v", v)
	}
	f := notify.Message{TenantName: "T", Detections: []store.Detection{{Kind: store.KindFollowUp, Type: "Event::Endpoint::CorePuaCleanFailed", Threat: "X", Location: "H"}}}
	if v := NewView(f, Options{}); v.Title != "CorePuaCleanFailed: X on H (T)" {
		t.Errorf("follow-up title %q", v.Title)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.tmpl")
	bad := filepath.Join(dir, "bad.tmpl")
	missing := filepath.Join(dir, "missing.tmpl")
	_ = os.WriteFile(good, []byte(`{{.Title}}{{range .Detections}} / {{.Host}} {{.EventID}}{{end}}`), 0o600)
	_ = os.WriteFile(bad, []byte(`{{.NoSuchField}}`), 0o600)
	tp, err := Load(good)
	if err != nil {
		t.Fatal(err)
	}
	out, err := tp.Execute(Sample())
	if err != nil || out != "PUA PsExec on WS-SAMPLE-01 (Sample Tenant) / WS-SAMPLE-01 11111111-1111-4111-8111-111111111111" {
		t.Errorf("Execute = %q, %v", out, err)
	}
	for _, p := range []string{bad, missing} {
		if _, err := Load(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("Load(%s) = %v, want an error naming the file", p, err)
		}
	}
}

// A blank value reads "unknown"; surrounding blanks are trimmed.
func TestNewViewBlankValues(t *testing.T) {
	m := notify.Message{TenantID: "t", Detections: []store.Detection{{Location: "  ", User: " alice ", Threat: "\t", Severity: " HIGH"}}}
	d := NewView(m, Options{}).Detections[0]
	if d.Host != "unknown" || d.User != "alice" || d.Threat != "unknown" || d.Severity != "high" || d.TenantName != "t" {
		t.Errorf("host %q user %q threat %q severity %q tenant %q", d.Host, d.User, d.Threat, d.Severity, d.TenantName)
	}
}
