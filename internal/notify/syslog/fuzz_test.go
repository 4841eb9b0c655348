package syslog

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/leodido/go-syslog/v4/rfc5424"

	"github.com/puawatch/puawatch/internal/render"
)

// fuzzDetection puts the fuzzed values in every field, raw (not cleaned
// by render.NewView), so the escapers see CR/LF and invalid UTF-8.
func fuzzDetection(typ, title, a, b, c string) render.Detection {
	return render.Detection{EventID: b, Kind: c, Title: title, Type: typ, Host: a, User: b, Path: a + b, Name: c,
		TenantName: c, Threat: a, EndpointID: b, EndpointType: c, Cleanup: a, Severity: b,
		When: time.Date(2026, 3, 4, 10, 21, 28, 690e6, time.UTC)}
}

// splitUnescaped cuts s at its first n separators sep that no backslash
// escapes.
func splitUnescaped(s string, sep byte, n int) []string {
	var out []string
	start := 0
	for i := 0; i < len(s) && len(out) < n; i++ {
		switch s[i] {
		case '\\':
			i++
		case sep:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// unescapeCEF undoes a CEF escape: a backslash before \, | or = (and,
// in values, r and n for CR and LF). ok is false for any other escape.
func unescapeCEF(s string, value bool) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 == len(s) {
			return "", false
		}
		i++
		switch c := s[i]; {
		case c == '\\', !value && c == '|', value && c == '=':
			b.WriteByte(c)
		case value && c == 'r':
			b.WriteByte('\r')
		case value && c == 'n':
			b.WriteByte('\n')
		default:
			return "", false
		}
	}
	return b.String(), true
}

// shown is s as CEF shows it once unescaped: invalid UTF-8 as U+FFFD,
// control characters as spaces (CR and LF kept in values).
func shown(s string, value bool) string {
	var b strings.Builder
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		if unicode.IsControl(r) && !(value && (r == '\r' || r == '\n')) {
			r = ' '
		}
		b.WriteRune(r)
	}
	return b.String()
}

// extension parses a CEF extension into its keys and raw values: a key
// is the run of letters and digits before an unescaped '=', at the start
// or after a space; its value runs to the space before the next key.
func extension(t *testing.T, ext string) (keys, values []string) {
	var eqs []int
	for i := 0; i < len(ext); i++ {
		switch ext[i] {
		case '\\':
			i++
		case '=':
			eqs = append(eqs, i)
		}
	}
	starts := make([]int, len(eqs))
	for j, p := range eqs {
		k := p
		for k > 0 && (unicode.IsLetter(rune(ext[k-1])) || unicode.IsDigit(rune(ext[k-1]))) && ext[k-1] < 0x80 {
			k--
		}
		if k == p || (k > 0 && ext[k-1] != ' ') || (j > 0 && k <= eqs[j-1]) {
			t.Fatalf("an unescaped '=' at %d is not after a key: %q", p, ext)
		}
		starts[j] = k
		keys = append(keys, ext[k:p])
	}
	for j, p := range eqs {
		end := len(ext)
		if j+1 < len(eqs) {
			end = starts[j+1] - 1
		}
		values = append(values, ext[p+1:end])
	}
	if len(eqs) > 0 && starts[0] != 0 {
		t.Fatalf("the extension does not start with a key: %q", ext)
	}
	return keys, values
}

// FuzzCEF checks the CEF record of a detection whose every value is
// untrusted: it is one line; it splits at unescaped pipes into exactly
// CEF:0, the six header fields and the extension, each header field
// unescaping back to its value; and the extension parses into the
// expected keys in order, each value unescaping back to its input. The
// seeds in testdata/fuzz/FuzzCEF hold CEF's specials \ = | (and escapes
// such as \n written literally), CR/LF, NUL, invalid UTF-8, HTML, emoji
// and very long values.
func FuzzCEF(f *testing.F) {
	f.Fuzz(func(t *testing.T, typ, title, a, b, c string) {
		d := fuzzDetection(typ, title, a, b, c)
		v := render.View{TenantID: "t-1"}
		rec := cef(d, v)
		if strings.ContainsAny(rec, "\r\n") {
			t.Fatalf("the record is not one line: %q", rec)
		}
		parts := splitUnescaped(rec, '|', 7)
		if len(parts) != 8 || parts[0] != "CEF:0" {
			t.Fatalf("the record splits into %d parts, want 8: %q", len(parts), rec)
		}
		for i, want := range []string{cefVendor, cefProduct, cefVersion, d.Type, d.Title, ""} {
			got, ok := unescapeCEF(parts[i+1], false)
			if i == 5 {
				want = parts[6] // the severity: digits, checked below
			}
			if !ok || got != shown(want, false) {
				t.Fatalf("header field %d = %q, unescaped %q (%v), want %q", i+1, parts[i+1], got, ok, shown(want, false))
			}
		}
		if parts[6] != "1" && parts[6] != "3" && parts[6] != "5" && parts[6] != "8" && parts[6] != "10" {
			t.Fatalf("severity %q", parts[6])
		}
		type kv struct{ k, v string }
		want := []kv{{"rt", "1772619688690"}}
		for _, p := range []kv{{"externalId", d.EventID}, {"cat", d.Kind}, {"dhost", d.Host}, {"duser", d.User}, {"filePath", d.Path}, {"msg", d.Name}} {
			if p.v != "" {
				want = append(want, p)
			}
		}
		for i, p := range []kv{{"tenant", d.TenantName}, {"threat", d.Threat}, {"tenantId", "t-1"}, {"endpointId", d.EndpointID}, {"endpointType", d.EndpointType}, {"cleanup", d.Cleanup}} {
			if p.v != "" {
				n := string(rune('1' + i))
				want = append(want, kv{"cs" + n + "Label", p.k}, kv{"cs" + n, p.v})
			}
		}
		keys, values := extension(t, parts[7])
		if len(keys) != len(want) {
			t.Fatalf("extension keys %q, want %d of them: %q", keys, len(want), parts[7])
		}
		for i, w := range want {
			got, ok := unescapeCEF(values[i], true)
			if keys[i] != w.k || !ok || got != shown(w.v, true) {
				t.Fatalf("extension %d: %s=%q unescapes to %q (%v), want %s=%q", i, keys[i], values[i], got, ok, w.k, shown(w.v, true))
			}
		}
	})
}

// dropped is s as a PARAM-VALUE reads once unescaped: invalid UTF-8 as
// U+FFFD, control characters dropped.
func dropped(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}

// FuzzRFC5424 checks the syslog message of a detection whose structured
// data values and host name are untrusted, in both formats: a strict RFC
// 5424 parser reads it; HOSTNAME is the host name's printable ASCII; each
// SD-PARAM reads back as its value (control characters dropped); and MSG
// is the detection's JSON object or a CEF record. The seeds in
// testdata/fuzz/FuzzRFC5424 hold the PARAM-VALUE specials " \ ], SD
// syntax, CR/LF, NUL, invalid UTF-8, HTML, emoji and very long values.
func FuzzRFC5424(f *testing.F) {
	now := time.Date(2026, 3, 4, 10, 21, 28, 690e6, time.UTC)
	f.Fuzz(func(t *testing.T, eventID, tenantID, typ, hostname string) {
		d := fuzzDetection(typ, "title", hostname, eventID, tenantID)
		d.EventID, d.TenantID, d.Severity = eventID, tenantID, tenantID
		v := render.View{TenantID: "t-view"}
		for _, format := range []string{FormatJSON, FormatCEF} {
			b, start, err := formatMessage(d, v, format, now, hostname, DefaultFacility)
			if err != nil {
				t.Fatalf("%s: %v", format, err)
			}
			m, err := rfc5424.NewParser().Parse(b)
			if err != nil {
				t.Fatalf("%s: the strict parser refuses %q: %v", format, b, err)
			}
			sm := m.(*rfc5424.SyslogMessage)
			if host := headerField(hostname, 255); sm.Hostname == nil && host != "-" || sm.Hostname != nil && *sm.Hostname != host {
				t.Fatalf("%s: HOSTNAME %v, want %q", format, sm.Hostname, host)
			}
			if sm.Timestamp == nil || !sm.Timestamp.Equal(now) {
				t.Fatalf("%s: TIMESTAMP %v", format, sm.Timestamp)
			}
			sd := (*sm.StructuredData)[SDID]
			tid := tenantID
			if tid == "" {
				tid = v.TenantID
			}
			for k, want := range map[string]string{"eventId": eventID, "tenantId": tid, "type": typ, "severity": d.Severity} {
				if sd[k] != dropped(want) {
					t.Fatalf("%s: SD-PARAM %s = %q, want %q", format, k, sd[k], dropped(want))
				}
			}
			if sm.Message == nil || *sm.Message != string(b[start:]) {
				t.Fatalf("%s: MSG %v, want %q", format, sm.Message, b[start:])
			}
			msg := []byte(*sm.Message)
			if format == FormatJSON && !json.Valid(msg) || format == FormatCEF && !strings.HasPrefix(*sm.Message, "CEF:0|") {
				t.Fatalf("%s: MSG %q", format, msg)
			}
		}
	})
}
