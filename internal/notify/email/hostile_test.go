package email

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/fake/smtpcapture"
	"github.com/puawatch/puawatch/internal/notify"
	"github.com/puawatch/puawatch/internal/store"
)

// Hostile values a Sophos Central event (or a misconfiguration) may carry.
const (
	scriptTag   = `<script>alert(1)</script>`
	imgBreakout = `"><img src=x onerror=alert(1)>`
	crlfBcc     = "\r\nBcc: evil@x"
	jsURL       = "javascript:alert(document.cookie)"
)

// Their forms escaped by html/template in HTML text.
const (
	scriptEscaped = `&lt;script&gt;alert(1)&lt;/script&gt;`
	imgEscaped    = `&#34;&gt;&lt;img src=x onerror=alert(1)&gt;`
)

// hostileDetection puts a hostile value in every field a mail shows.
func hostileDetection() store.Detection {
	d := det("ev-hostile")
	d.TenantName = scriptTag + crlfBcc
	d.Location = imgBreakout + crlfBcc
	d.User = `ACME\` + imgBreakout + crlfBcc
	d.Threat = scriptTag + crlfBcc
	d.Path = `C:\` + imgBreakout + `\` + scriptTag + ".exe"
	d.Name = scriptTag
	return d
}

// checkNoInjectedHeader fails if a header line of the raw mail starts
// with Bcc: or the parsed mail has a Bcc, or the envelope goes to anyone
// but the configured recipients.
func checkNoInjectedHeader(t *testing.T, m smtpcapture.Message) {
	t.Helper()
	rawHeader, _, ok := strings.Cut(string(m.Data), "\r\n\r\n")
	if !ok {
		t.Fatal("no header/body separator")
	}
	for _, line := range strings.Split(rawHeader, "\r\n") {
		if strings.HasPrefix(strings.ToLower(line), "bcc:") {
			t.Errorf("injected header line %q", line)
		}
	}
	if m.Header.Get("Bcc") != "" {
		t.Errorf("injected Bcc header parsed: %q", m.Header.Get("Bcc"))
	}
	if strings.Join(m.To, ",") != "soc@example.com,second@example.com" {
		t.Errorf("envelope recipients %q", m.To)
	}
	if strings.ContainsAny(m.Subject, "\r\n") || len([]rune(m.Subject)) > maxSubject {
		t.Errorf("Subject %q", m.Subject)
	}
}

// TestHostileValuesRenderInert sends a detection whose tenant, host,
// user, threat and path hold script tags, attribute breakouts and CR/LF
// header injections, with a javascript: URL as the Sophos Central
// address, and checks the mail is inert: everything escaped in the HTML
// part, the link neutralised, no injected header.
func TestHostileValuesRenderInert(t *testing.T) {
	s := startCapture(t, smtpcapture.Options{})
	c := config(s, TLSNone)
	c.Location, c.CentralURL = time.FixedZone("CET", 3600), jsURL
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "central_url") {
		t.Errorf("Validate accepted central_url %q: %v", jsURL, err)
	}
	// Validate refuses the javascript: URL; the renderer must be safe on
	// its own, so this Notifier skips it.
	n := &Notifier{c: c, now: time.Now}
	a, b := hostileDetection(), hostileDetection()
	b.EventID = "ev-hostile-2"
	for name, m := range map[string]notify.Message{"single": msgOf("k1", a), "digest": msgOf("k2", a, b)} {
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
			checkNoInjectedHeader(t, got)

			html := got.HTML
			for _, bad := range []string{"<script", "<img", "onerror=alert(1)>", `href="javascript:`, "javascript:alert(document.cookie)\""} {
				if strings.Contains(html, bad) {
					t.Errorf("HTML part holds %q:\n%s", bad, html)
				}
			}
			if !strings.Contains(html, `<a href="#ZgotmplZ">`) {
				t.Errorf("HTML part does not neutralise the javascript: link to #ZgotmplZ:\n%s", html)
			}
			for _, want := range []string{
				"<td>" + scriptEscaped + "  Bcc: evil@x (t-1)</td>",                                       // tenant
				"<td>" + imgEscaped + "  Bcc: evil@x</td>",                                                // host
				`<td>ACME\` + imgEscaped + "  Bcc: evil@x</td>",                                           // user
				"<strong>" + scriptEscaped + "  Bcc: evil@x</strong>",                                     // threat
				`<td style="word-break: break-all;">C:\` + imgEscaped + `\` + scriptEscaped + ".exe</td>", // path
			} {
				if !strings.Contains(html, want) {
					t.Errorf("HTML part lacks the escaped form %q:\n%s", want, html)
				}
			}
			if name == "single" && !strings.Contains(html, "<title>PUA "+scriptEscaped) {
				t.Errorf("HTML title not escaped:\n%s", html)
			}

			// The text part is plain text: values as they are, but each
			// on its own line.
			for _, line := range strings.Split(lf(got.Text), "\n") {
				if strings.HasPrefix(line, "Bcc:") {
					t.Errorf("text part has an injected line %q", line)
				}
			}
			if !strings.Contains(got.Text, "Threat:         "+scriptTag+"  Bcc: evil@x") {
				t.Errorf("text part lacks the threat on one line:\n%s", got.Text)
			}
		})
	}
}

// TestCentralURLAttributeEscaped checks a Sophos Central address that
// Validate accepts but that tries to break out of the href attribute.
func TestCentralURLAttributeEscaped(t *testing.T) {
	s := startCapture(t, smtpcapture.Options{})
	c := config(s, TLSNone)
	c.CentralURL = "https://central.example/" + imgBreakout
	if err := newNotifier(t, c).Notify(context.Background(), msgOf("k", det("ev-1"))); err != nil {
		t.Fatal(err)
	}
	got := waitOne(t, s)
	if strings.Contains(got.HTML, "<img") || !strings.Contains(got.HTML, `<a href="https://central.example/%22%3e%3cimg%20src=x%20onerror=alert%281%29%3e">`) {
		t.Errorf("href not attribute-escaped:\n%s", got.HTML)
	}
	if !strings.Contains(got.Text, "Sophos Central: "+c.CentralURL+"\n") && !strings.Contains(got.Text, "Sophos Central: "+c.CentralURL+"\r\n") {
		t.Errorf("text part lacks the bare URL:\n%s", got.Text)
	}
}

func TestValidateCentralURL(t *testing.T) {
	good := Config{Host: "mail.example.com", From: "a@example.com", To: []string{"b@example.com"}}
	for raw, ok := range map[string]bool{
		"": true, "https://central.sophos.com": true, "http://127.0.0.1:8080/central": true,
		jsURL: false, "central.sophos.com": false, "ftp://central.example": false, "https://": false,
	} {
		c := good
		c.CentralURL = raw
		err := c.Validate()
		if (err == nil) != ok || (err != nil && !strings.Contains(err.Error(), "central_url")) {
			t.Errorf("Validate(central_url %q) = %v, want ok=%v", raw, err, ok)
		}
	}
}

// writeTemplate writes a template file and returns its path.
func writeTemplate(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "mail.tmpl")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTemplateValidate(t *testing.T) {
	good := Config{Host: "mail.example.com", From: "a@example.com", To: []string{"b@example.com"}}
	for name, tc := range map[string]struct{ path, want string }{
		"missing file":   {filepath.Join(t.TempDir(), "nope.tmpl"), "no such file"},
		"parse error":    {writeTemplate(t, "{{.Title"), "unclosed action"},
		"unknown field":  {writeTemplate(t, "{{.Nope}}"), "can't evaluate field Nope"},
		"fails a sample": {writeTemplate(t, "{{index .Detections 3}}"), "sample"},
		"renders blank":  {writeTemplate(t, "{{/* nothing */}}  \n"), "rendered no text"},
	} {
		t.Run(name, func(t *testing.T) {
			c := good
			c.Template = tc.path
			err := c.Validate()
			if err == nil || !strings.HasPrefix(err.Error(), "template: ") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want an error naming the template with %q", err, tc.want)
			}
			if _, err := New(c); err == nil {
				t.Error("New accepted it")
			}
		})
	}
	c := good
	c.Template = writeTemplate(t, "{{.Title}}\n")
	if err := c.Validate(); err != nil {
		t.Errorf("good template: %v", err)
	}
}

// TestTemplateMail checks a user's template makes the text part and the
// same text, HTML-escaped inside <pre>, the HTML part.
func TestTemplateMail(t *testing.T) {
	s := startCapture(t, smtpcapture.Options{})
	c := config(s, TLSNone)
	c.Location = time.FixedZone("CET", 3600)
	c.Template = writeTemplate(t, `ALERT {{.Title}}
{{range .Detections}}- {{.TenantName}} / {{.Host}} / {{.User}} / {{.Threat}} / {{.Path}} / {{.Cleanup}} / {{.WhenUTC}}{{if .WhenLocal}} ({{.WhenLocal}}){{end}} / {{.EventID}}
{{end}}<b>see {{.CentralURL}}</b>
`)
	n := newNotifier(t, c)
	d := hostileDetection()
	if err := n.Notify(context.Background(), msgOf("k", d)); err != nil {
		t.Fatal(err)
	}
	got := waitOne(t, s)
	checkNoInjectedHeader(t, got)
	v := n.view(msgOf("k", d))
	want := "ALERT " + v.Title + "\n" +
		"- " + v.TenantName + " / " + v.Detections[0].Host + " / " + v.Detections[0].User + " / " + v.Detections[0].Threat + " / " +
		v.Detections[0].Path + " / unknown / 2025-03-04 10:20:30 UTC (2025-03-04 11:20:30 CET) / ev-hostile\n" +
		"<b>see https://central.sophos.com</b>\n"
	if lf(got.Text) != want {
		t.Errorf("text part = %q, want %q", got.Text, want)
	}
	if got.Subject != subject(v) {
		t.Errorf("Subject = %q, want %q", got.Subject, subject(v))
	}
	html := lf(got.HTML)
	if !strings.Contains(html, `<pre style="font-family: monospace; font-size: 13px; white-space: pre-wrap;">ALERT PUA `+scriptEscaped) ||
		!strings.Contains(html, "&lt;b&gt;see https://central.sophos.com&lt;/b&gt;\n</pre>") || !strings.Contains(html, imgEscaped) {
		t.Errorf("HTML part is not the escaped text in <pre>:\n%s", html)
	}
	for _, bad := range []string{"<script", "<img", "<b>", "<a "} {
		if strings.Contains(html, bad) {
			t.Errorf("HTML part holds %q:\n%s", bad, html)
		}
	}
}

// TestTemplateFailureIsPermanent checks a template that renders the
// sample but fails on a real message is a permanent error naming it.
func TestTemplateFailureIsPermanent(t *testing.T) {
	s := startCapture(t, smtpcapture.Options{})
	c := config(s, TLSNone)
	c.Template = writeTemplate(t, "{{.Title}}{{if .Digest}}{{index .Detections 5}}{{end}}\n")
	err := newNotifier(t, c).Notify(context.Background(), msgOf("k", det("a"), det("b")))
	if !notify.IsPermanent(err) || !strings.Contains(err.Error(), "template") {
		t.Fatalf("err = %v, want a permanent template error", err)
	}
	if len(s.Messages()) != 0 {
		t.Error("message delivered")
	}
}
