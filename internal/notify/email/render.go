package email

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/puawatch/puawatch/internal/notify"
	"github.com/puawatch/puawatch/internal/store"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

var (
	textTmpl = texttemplate.Must(texttemplate.New("body.txt.tmpl").ParseFS(templateFS, "templates/body.txt.tmpl"))
	htmlTmpl = htmltemplate.Must(htmltemplate.New("body.html.tmpl").ParseFS(templateFS, "templates/body.html.tmpl"))
)

// Length caps of untrusted values.
const (
	maxHeaderValue = 80   // one value (tenant name, threat, host) in the subject
	maxSubject     = 200  // the whole subject
	maxBodyValue   = 2000 // one value in the body
)

// body is what the templates render.
type body struct {
	Intro      string
	TenantName string
	Count      int
	Digest     bool
	Detections []detView
}

// detView is one detection with every value cleaned and formatted.
type detView struct {
	N            int
	TenantName   string
	TenantID     string
	Host         string
	EndpointType string
	EndpointID   string
	User         string
	Threat       string
	Path         string
	Type         string
	Kind         string
	Severity     string
	Name         string
	When         string
	Created      string
	EventID      string
}

// subject returns the Subject of m, made of cleaned values.
func subject(m notify.Message) string {
	tenant := headerValue(tenantName(m), maxHeaderValue)
	var s string
	if len(m.Detections) == 1 {
		d := m.Detections[0]
		what := "PUA"
		if d.Kind == store.KindFollowUp {
			what = headerValue(typeShortName(d.Type), 40) + ":"
		}
		s = fmt.Sprintf("[puawatch] %s %s on %s (%s)", what,
			headerValue(orUnknown(d.Threat), maxHeaderValue), headerValue(orUnknown(d.Location), maxHeaderValue), tenant)
	} else {
		s = fmt.Sprintf("[puawatch] %d PUA detections in %s", len(m.Detections), tenant)
	}
	return capRunes(s, maxSubject)
}

// render returns the text and HTML bodies of m.
func render(m notify.Message, loc *time.Location) (text, html string, err error) {
	b := body{
		TenantName: bodyValue(tenantName(m)),
		Count:      len(m.Detections),
		Digest:     len(m.Detections) > 1,
	}
	switch {
	case len(m.Detections) > 1:
		b.Intro = fmt.Sprintf("Sophos Central reported %d PUA detections in tenant %s.", b.Count, b.TenantName)
	case m.Detections[0].Kind == store.KindFollowUp:
		b.Intro = fmt.Sprintf("Sophos Central reported a follow-up (%s) to a PUA detection in tenant %s.",
			bodyValue(typeShortName(m.Detections[0].Type)), b.TenantName)
	default:
		b.Intro = fmt.Sprintf("Sophos Central reported a PUA detection in tenant %s.", b.TenantName)
	}
	for i, d := range m.Detections {
		b.Detections = append(b.Detections, detView{
			N:            i + 1,
			TenantName:   bodyValue(orElse(d.TenantName, tenantName(m))),
			TenantID:     bodyValue(d.TenantID),
			Host:         bodyValue(orUnknown(d.Location)),
			EndpointType: bodyValue(orUnknown(d.EndpointType)),
			EndpointID:   bodyValue(d.EndpointID),
			User:         bodyValue(orUnknown(d.User)),
			Threat:       bodyValue(orUnknown(d.Threat)),
			Path:         bodyValue(d.Path),
			Type:         bodyValue(d.Type),
			Kind:         bodyValue(d.Kind),
			Severity:     bodyValue(orUnknown(d.Severity)),
			Name:         bodyValue(d.Name),
			When:         formatTime(d.When, loc),
			Created:      formatTime(d.CreatedAt, loc),
			EventID:      bodyValue(d.EventID),
		})
	}
	var tb, hb bytes.Buffer
	if err := textTmpl.Execute(&tb, b); err != nil {
		return "", "", fmt.Errorf("render text body: %w", err)
	}
	if err := htmlTmpl.Execute(&hb, b); err != nil {
		return "", "", fmt.Errorf("render html body: %w", err)
	}
	return tb.String(), hb.String(), nil
}

func tenantName(m notify.Message) string {
	if m.TenantName != "" {
		return m.TenantName
	}
	if len(m.Detections) > 0 && m.Detections[0].TenantName != "" {
		return m.Detections[0].TenantName
	}
	return orUnknown(m.TenantID)
}

// typeShortName is the last part of an event type:
// "Event::Endpoint::CorePuaCleanFailed" → "CorePuaCleanFailed".
func typeShortName(t string) string {
	if i := strings.LastIndex(t, "::"); i >= 0 {
		t = t[i+2:]
	}
	return orElse(t, "Follow-up")
}

// formatTime shows t in UTC and, when loc is set and not UTC, in loc too.
func formatTime(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return "unknown"
	}
	s := t.UTC().Format("2006-01-02 15:04:05 UTC")
	if loc == nil || loc == time.UTC || loc.String() == "UTC" {
		return s
	}
	local := t.In(loc).Format("2006-01-02 15:04:05 MST")
	if name := loc.String(); !strings.HasSuffix(local, " "+name) {
		local += ", " + name
	}
	return s + " (" + local + ")"
}

func orUnknown(s string) string { return orElse(s, "unknown") }

func orElse(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}

// clean makes an untrusted value safe for a header or a line: invalid
// UTF-8 becomes U+FFFD; control characters (CR, LF, NUL, ...), line and
// paragraph separators and other white space become single spaces; format
// characters (bidirectional overrides, zero-width joiners, ...) are
// dropped; the result is trimmed.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	space := false
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Cf, r):
			continue
		case unicode.IsControl(r) || unicode.IsSpace(r) || unicode.In(r, unicode.Zl, unicode.Zp):
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}

// headerValue cleans an untrusted value for a header and caps its length.
func headerValue(s string, n int) string { return capRunes(clean(s), n) }

// bodyValue cleans an untrusted value for the body and caps its length.
func bodyValue(s string) string { return capRunes(clean(s), maxBodyValue) }

// capRunes cuts s to at most n runes, marking the cut with "…".
func capRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:n-1])) + "…"
}
