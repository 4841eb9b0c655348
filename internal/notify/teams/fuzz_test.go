package teams

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/puawatch/puawatch/internal/notify"
	"github.com/puawatch/puawatch/internal/render"
	"github.com/puawatch/puawatch/internal/store"
)

// inert reports whether s is text Teams shows as it is: every Markdown
// special has a backslash before it, no {{ opens a function, and it is
// one line.
func inert(s string) bool {
	if strings.Contains(s, "{{") {
		return false
	}
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == '\\':
			if i+1 == len(rs) || (!strings.ContainsRune(markdownSpecials, rs[i+1]) && rs[i+1] != '.') {
				return false
			}
			i++
		case strings.ContainsRune(markdownSpecials, r), unicode.IsControl(r), r == '\u2028', r == '\u2029':
			return false
		}
	}
	return true
}

// unescape undoes Escape's backslashes.
func unescape(s string) string {
	var b strings.Builder
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		if rs[i] == '\\' && i+1 < len(rs) {
			i++
		}
		b.WriteRune(rs[i])
	}
	return b.String()
}

// oneLine is s as Escape shows it apart from the escapes: invalid UTF-8
// as U+FFFD, control characters and line separators as spaces.
func oneLine(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			r = ' '
		}
		b.WriteRune(r)
	}
	return b.String()
}

// FuzzEscape checks Escape on any text: the result is inert (every
// Markdown special escaped, no {{, one line) and undoing the backslashes
// gives the text back (zero-width spaces aside, which Escape puts
// between braces). The seeds in testdata/fuzz/FuzzEscape hold CR/LF,
// NUL, invalid UTF-8, HTML and JavaScript, Markdown and {{DATE()}}, CEF
// specials, emoji and very long values.
func FuzzEscape(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		e := Escape(s)
		if !inert(e) {
			t.Fatalf("Escape(%q) = %q: not inert", s, e)
		}
		if got, want := strings.ReplaceAll(unescape(e), "\u200b", ""), strings.ReplaceAll(oneLine(s), "\u200b", ""); got != want {
			t.Fatalf("Escape(%q) = %q, which reads back as %q, want %q", s, e, got, want)
		}
	})
}

// FuzzRender checks the card of a digest whose every value is
// untrusted: valid JSON, and every text and fact value inert but the
// times, which Render makes itself. The seeds in
// testdata/fuzz/FuzzRender are those of FuzzEscape, three a message.
func FuzzRender(f *testing.F) {
	at := time.Date(2026, 3, 4, 10, 21, 28, 690e6, time.UTC)
	f.Fuzz(func(t *testing.T, a, b, c string) {
		d := store.Detection{EventID: a, TenantID: b, TenantName: a, Kind: store.KindDetection, Type: c, Name: c,
			Severity: b, Threat: c, Location: b, User: a, EndpointID: c, EndpointType: b, Path: a + `\` + b + `\` + c, When: at, CreatedAt: at}
		e := d
		e.Kind, e.Location, e.Threat = store.KindFollowUp, c, a
		m := notify.Message{Key: "k", Channel: "teams", TenantID: b, TenantName: a, Digest: true, Detections: []store.Detection{d, e}}
		out, err := Render(render.NewView(m, render.Options{}), nil)
		if err != nil {
			t.Fatalf("Render: %v", err)
		}
		var msg message
		if err := json.Unmarshal(out, &msg); err != nil || len(msg.Attachments) != 1 {
			t.Fatalf("the payload is not one card in JSON: %v\n%s", err, out)
		}
		for i, el := range msg.Attachments[0].Content.Body {
			if el.Text != "" && !inert(el.Text) {
				t.Fatalf("element %d: text %q is not inert", i, el.Text)
			}
			for _, ft := range el.Facts {
				if ft.Title != "When" && !inert(ft.Value) {
					t.Fatalf("element %d: fact %s = %q is not inert", i, ft.Title, ft.Value)
				}
			}
		}
	})
}
