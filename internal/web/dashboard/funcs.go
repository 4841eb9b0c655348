package dashboard

import (
	"fmt"
	"html/template"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/puawatch/puawatch/internal/plaintext"
	"github.com/puawatch/puawatch/internal/render"
)

// maxCell is how many characters of a value a table cell shows; the
// detection's page shows all of it.
const maxCell = 120

// funcs are the templates' functions. None returns template.HTML: every
// value is escaped by html/template.
func funcs() template.FuncMap {
	return template.FuncMap{
		"ts":        showTime,
		"iso":       isoTime,
		"dur":       showDur,
		"text":      plaintext.Clean,
		"cell":      cell,
		"shortType": render.ShortType,
		"detURL":    detectionURL,
		"num":       func(n int) string { return groupDigits(n) },
	}
}

// showTime is a time for people, in UTC; "—" when not known.
func showTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05") + " UTC"
}

// isoTime is a time for a <time datetime> attribute (render.Timestamp),
// "" when not known.
func isoTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return render.Timestamp(t)
}

// showDur is a duration for people: "3d 4h", "5h 12m", "4m 10s", "12s".
func showDur(d time.Duration) string {
	neg := d < 0
	if neg {
		d = -d
	}
	d = d.Round(time.Second)
	days, h, m, s := int(d/(24*time.Hour)), int(d/time.Hour)%24, int(d/time.Minute)%60, int(d/time.Second)%60
	var out string
	switch {
	case days > 0:
		out = fmt.Sprintf("%dd %dh", days, h)
	case h > 0:
		out = fmt.Sprintf("%dh %dm", h, m)
	case m > 0:
		out = fmt.Sprintf("%dm %ds", m, s)
	default:
		out = fmt.Sprintf("%ds", s)
	}
	if neg {
		return "-" + out
	}
	return out
}

// cell is an untrusted value on one line, cut at maxCell characters.
func cell(s string) string {
	s = plaintext.Clean(s)
	if utf8.RuneCountInString(s) <= maxCell {
		return s
	}
	r := []rune(s)
	return string(r[:maxCell-1]) + "…"
}

// groupDigits writes n with thin groups of three digits: 10,000.
func groupDigits(n int) string {
	s := strconv.Itoa(n)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}
