package syslog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/puawatch/puawatch/internal/render"
	"github.com/puawatch/puawatch/internal/render/detectionjson"
	"github.com/puawatch/puawatch/internal/store"
)

// Message formats.
const (
	FormatJSON = "json" // MSG is the detection's JSON object, package detectionjson (the default)
	FormatCEF  = "cef"  // MSG is an ArcSight Common Event Format record
)

// Fixed parts of every message.
const (
	// EnterpriseNumber is the private enterprise number of the
	// structured-data id. 32473 is the number IANA reserves for examples
	// and documentation (RFC 5612): puawatch has no number of its own, and
	// a receiver matches the SD-ID as a whole string.
	EnterpriseNumber = 32473
	// SDID is the structured-data id: "puawatch@32473".
	SDID = "puawatch@32473"
	// AppName is the APP-NAME field.
	AppName = "puawatch"
	// MsgIDDetection and MsgIDFollowUp are the MSGID of a detection and of
	// a follow-up event (clean-up failed, restored, ...).
	MsgIDDetection = "PUA"
	MsgIDFollowUp  = "PUAFOLLOWUP"
)

// CEF header fields.
const (
	cefVendor  = "Sophos"
	cefProduct = "Central"
	cefVersion = "1.0"
)

// Format returns one RFC 5424 message for d, a detection of the view v
// (no transport framing), in format "json" (or "") or "cef", stamped
// now, from hostname, with DefaultFacility. v supplies the tenant id when
// d has none.
func Format(d render.Detection, v render.View, format string, now time.Time, hostname string) ([]byte, error) {
	b, _, err := formatMessage(d, v, format, now, hostname, DefaultFacility)
	return b, err
}

// formatMessage is Format with a facility; it also returns where MSG
// starts.
func formatMessage(d render.Detection, v render.View, format string, now time.Time, hostname string, facility int) ([]byte, int, error) {
	var msg []byte
	switch format {
	case "", FormatJSON:
		var err error
		if msg, err = json.Marshal(detectionjson.New(v, d)); err != nil {
			return nil, 0, fmt.Errorf("syslog: encode event %s: %w", d.EventID, err)
		}
	case FormatCEF:
		msg = []byte(cef(d, v))
	default:
		return nil, 0, fmt.Errorf("syslog: format %q is not known; use %q or %q", format, FormatJSON, FormatCEF)
	}
	tenantID := d.TenantID
	if tenantID == "" {
		tenantID = v.TenantID
	}
	var b bytes.Buffer
	b.Grow(256 + len(msg))
	fmt.Fprintf(&b, "<%d>1 %s %s %s - %s [%s", facility*8+Severity(d.Severity), timestamp(now),
		headerField(hostname, 255), AppName, msgID(d.Kind), SDID)
	for _, p := range [][2]string{{"eventId", d.EventID}, {"tenantId", tenantID}, {"type", d.Type}, {"severity", d.Severity}} {
		b.WriteString(" " + p[0] + `="` + escapeParam(p[1]) + `"`)
	}
	b.WriteString("] ")
	start := b.Len()
	b.Write(msg)
	return b.Bytes(), start, nil
}

// Severity maps a Sophos Central severity to a syslog severity:
// critical 2 (crit), high 3 (err), medium 4 (warning), low 5 (notice),
// anything else 6 (info).
func Severity(s string) int {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "critical":
		return 2
	case "high":
		return 3
	case "medium":
		return 4
	case "low":
		return 5
	}
	return 6
}

// CEFSeverity maps a Sophos Central severity to a CEF severity (0-10):
// critical 10, high 8, medium 5, low 3, anything else 1.
func CEFSeverity(s string) int {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "critical":
		return 10
	case "high":
		return 8
	case "medium":
		return 5
	case "low":
		return 3
	}
	return 1
}

func msgID(kind string) string {
	if kind == store.KindFollowUp {
		return MsgIDFollowUp
	}
	return MsgIDDetection
}

// timestamp is the RFC 5424 TIMESTAMP: render.Timestamp (UTC, three
// fraction digits, like every time puawatch writes for machines), or the
// NIL value for a zero time.
func timestamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return render.Timestamp(t)
}

// headerField makes s a header field: printable US-ASCII without space
// (anything else dropped), at most maxLen octets, "-" when empty.
func headerField(s string, maxLen int) string {
	s = strings.Map(func(r rune) rune {
		if r < 33 || r > 126 {
			return -1
		}
		return r
	}, s)
	if len(s) > maxLen {
		s = s[:maxLen]
	}
	if s == "" {
		return "-"
	}
	return s
}

// escapeParam makes s a PARAM-VALUE (RFC 5424 §6.3.3): '"', '\' and ']'
// are escaped with a backslash, control characters are dropped and
// invalid UTF-8 is replaced.
func escapeParam(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		switch {
		case r == '"' || r == '\\' || r == ']':
			b.WriteByte('\\')
			b.WriteRune(r)
		case unicode.IsControl(r):
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// cef returns the CEF record of d.
func cef(d render.Detection, v render.View) string {
	var b strings.Builder
	b.WriteString("CEF:0")
	for _, f := range []string{cefVendor, cefProduct, cefVersion, d.Type, d.Title, strconv.Itoa(CEFSeverity(d.Severity))} {
		b.WriteByte('|')
		b.WriteString(escapeCEFHeader(f))
	}
	b.WriteByte('|')
	tenantID := d.TenantID
	if tenantID == "" {
		tenantID = v.TenantID
	}
	at := d.When
	if at.IsZero() {
		at = d.CreatedAt
	}
	var ext []string
	add := func(k, v string) {
		if v != "" {
			ext = append(ext, k+"="+escapeCEFValue(v))
		}
	}
	if !at.IsZero() {
		add("rt", strconv.FormatInt(at.UnixMilli(), 10))
	}
	add("externalId", d.EventID)
	add("cat", d.Kind)
	add("dhost", d.Host)
	add("duser", d.User)
	add("filePath", d.Path)
	add("msg", d.Name)
	for i, p := range [][2]string{{"tenant", d.TenantName}, {"threat", d.Threat}, {"tenantId", tenantID},
		{"endpointId", d.EndpointID}, {"endpointType", d.EndpointType}, {"cleanup", d.Cleanup}} {
		if p[1] != "" {
			n := strconv.Itoa(i + 1)
			add("cs"+n+"Label", p[0])
			add("cs"+n, p[1])
		}
	}
	b.WriteString(strings.Join(ext, " "))
	return b.String()
}

// escapeCEFHeader escapes a CEF header field: '\' and '|' get a
// backslash; line breaks and other control characters become spaces (a
// header is one line).
func escapeCEFHeader(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		switch {
		case r == '\\' || r == '|':
			b.WriteByte('\\')
			b.WriteRune(r)
		case unicode.IsControl(r):
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// escapeCEFValue escapes a CEF extension value: '\' and '=' get a
// backslash, CR and LF become the two-character sequences \r and \n,
// other control characters become spaces. '|' needs no escape there.
func escapeCEFValue(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		switch {
		case r == '\\' || r == '=':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\n':
			b.WriteString(`\n`)
		case unicode.IsControl(r):
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
