package email

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/fake/smtpcapture"
	"github.com/puawatch/puawatch/internal/notify"
	"github.com/puawatch/puawatch/internal/store"
)

var update = flag.Bool("update", false, "rewrite golden files")

// Fixed values of the golden files.
var (
	goldenAt  = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	goldenCET = time.FixedZone("CET", 3600)
)

const (
	goldenTenant  = "00000000-0000-4000-8000-000000000000"
	goldenCentral = "https://central.sophos.com/manage/?tenant=00000000&view=events"
)

// goldenDet is detection i of the golden tenant, shaped like
// render.SampleMessage's.
func goldenDet(i int) store.Detection {
	return store.Detection{
		EventID:      fmt.Sprintf("11111111-1111-4111-8111-%012d", i),
		TenantID:     goldenTenant,
		TenantName:   "Sample Tenant",
		Kind:         store.KindDetection,
		Type:         "Event::Endpoint::CorePuaDetection",
		Name:         fmt.Sprintf(`PUA detected: 'PsExec' at 'C:\Tools\PsExec%d.exe'`, i),
		Severity:     "medium",
		Threat:       "PsExec",
		Location:     fmt.Sprintf("WS-SAMPLE-%02d", i),
		User:         `SAMPLE\j.doe`,
		EndpointID:   fmt.Sprintf("22222222-2222-4222-8222-%012d", i),
		EndpointType: "computer",
		Path:         fmt.Sprintf(`C:\Tools\PsExec%d.exe`, i),
		When:         goldenAt.Add(time.Duration(i-1) * time.Minute),
		CreatedAt:    goldenAt.Add(time.Duration(i-1)*time.Minute + 1500*time.Millisecond),
		Raw:          []byte(`{"core_remedy_items":{"items":[{"result":"SUCCESS"}],"totalItems":1}}`),
	}
}

func goldenMessage(key string, ds ...store.Detection) notify.Message {
	return notify.Message{Key: key, Channel: "email", TenantID: goldenTenant, TenantName: "Sample Tenant", Digest: len(ds) > 1, Detections: ds}
}

// goldenCases are the messages of the golden files, by file name.
func goldenCases() map[string]notify.Message {
	f := goldenDet(2)
	f.Kind, f.Type, f.Severity = store.KindFollowUp, "Event::Endpoint::CorePuaCleanFailed", "high"
	f.Name = `Manual PUA cleanup required: 'PsExec' at 'C:\Tools\PsExec2.exe'`
	f.Raw = []byte(`{"core_remedy_items":{"items":[{"result":"FAILED_TO_DELETE"}],"totalItems":1}}`)
	d2, d3 := goldenDet(2), goldenDet(3)
	d2.Threat, d2.Location, d2.User, d2.EndpointType = "NirSoft NetPass", "SRV-FILE-01", "", "server"
	d2.Name, d2.Path = `PUA detected: 'NirSoft NetPass' at 'D:\Admin\netpass.exe'`, `D:\Admin\netpass.exe`
	d3.Threat, d3.Path = "AnyDesk", `C:\Users\j.doe\Downloads\AnyDesk.exe`
	d3.Name = `PUA detected: 'AnyDesk' at 'C:\Users\j.doe\Downloads\AnyDesk.exe'`
	d3.Raw = nil // clean-up state unknown
	return map[string]notify.Message{
		"detection": goldenMessage("golden.detection", goldenDet(1)),
		"followup":  goldenMessage("golden.followup", f),
		"digest":    goldenMessage("golden.digest", goldenDet(1), d2, d3),
	}
}

// goldenConfig is the configuration of the golden files.
func goldenConfig(c Config) Config {
	c.Location, c.CentralURL = goldenCET, goldenCentral
	return c
}

// checkGolden compares got with testdata/name, rewriting it with -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the rendering (go test -update rewrites it)\ngot:\n%s", path, got)
	}
}

// TestGolden renders the default text and HTML bodies of a detection, a
// follow-up and a 3-detection digest, with a second time zone and a
// Sophos Central address.
func TestGolden(t *testing.T) {
	n := newNotifier(t, goldenConfig(Config{Host: "localhost", TLS: TLSNone, From: "a@example.com", To: []string{"b@example.com"}}))
	for name, m := range goldenCases() {
		t.Run(name, func(t *testing.T) {
			text, html, err := bodies(n.view(m), nil)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, name+".txt.golden", text)
			checkGolden(t, name+".html.golden", html)
		})
	}
}

// goldenFile reads testdata/name.
func goldenFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	return string(b)
}

// lf turns the CRLF line ends of a mail part into LF.
func lf(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }

// TestGoldenMail sends the golden messages through SMTP and checks the
// mail carries the golden bodies and the view's title as its subject.
func TestGoldenMail(t *testing.T) {
	s := startCapture(t, smtpcapture.Options{})
	n := newNotifier(t, goldenConfig(config(s, TLSNone)))
	for name, m := range goldenCases() {
		t.Run(name, func(t *testing.T) {
			before := len(s.Messages())
			if err := n.Notify(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			ms := s.Messages()
			if len(ms) != before+1 {
				t.Fatalf("%d messages, want %d", len(ms), before+1)
			}
			got := ms[len(ms)-1]
			if want := "[puawatch] " + n.view(m).Title; got.Subject != want {
				t.Errorf("Subject = %q, want %q", got.Subject, want)
			}
			if want := goldenFile(t, name+".txt.golden"); lf(got.Text) != want {
				t.Errorf("text part differs from %s.txt.golden:\n%s", name, got.Text)
			}
			if want := goldenFile(t, name+".html.golden"); lf(got.HTML) != want {
				t.Errorf("HTML part differs from %s.html.golden:\n%s", name, got.HTML)
			}
			if ct := got.Header.Get("Content-Type"); !strings.Contains(ct, "multipart/alternative") {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}
