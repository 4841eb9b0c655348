package slack

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/notify"
	"github.com/puawatch/puawatch/internal/render"
	"github.com/puawatch/puawatch/internal/store"
)

// entitiesWhole reports whether every & of s starts &amp;, &lt; or &gt;.
func entitiesWhole(s string) bool {
	for i := strings.IndexByte(s, '&'); i >= 0; i = strings.IndexByte(s, '&') {
		rest := s[i:]
		if !strings.HasPrefix(rest, "&amp;") && !strings.HasPrefix(rest, "&lt;") && !strings.HasPrefix(rest, "&gt;") {
			return false
		}
		s = rest[1:]
	}
	return true
}

// lineOf is s as Escape shows it apart from the entities and mention
// defusing: invalid UTF-8 as U+FFFD, line breaks and tabs as spaces.
func lineOf(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '\r', '\n', '\t', '\u2028', '\u2029':
			r = ' '
		}
		b.WriteRune(r)
	}
	return b.String()
}

var unentity = strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">")

// FuzzEscape checks Slack's escapers on any text. Escape: no < or >,
// every & an entity, one line, no live @here, @channel or @everyone, and
// undoing the entities (and the word joiners) gives the text back. Code:
// one inline code span without a backtick inside. fit and cutMrkdwn:
// within their limit, no entity or <…> sequence cut in two. The seeds in
// testdata/fuzz/FuzzEscape hold CR/LF, NUL, invalid UTF-8, HTML and
// JavaScript, Slack's control sequences and mentions, Markdown, CEF
// specials, emoji and very long values.
func FuzzEscape(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		e := Escape(s)
		if strings.ContainsAny(e, "<>\r\n\t\u2028\u2029") || !entitiesWhole(e) {
			t.Fatalf("Escape(%q) = %q: a raw <, >, & or line break", s, e)
		}
		low := strings.ToLower(e)
		for _, m := range []string{"@here", "@channel", "@everyone"} {
			if strings.Contains(low, m) {
				t.Fatalf("Escape(%q) = %q: a live %s", s, e, m)
			}
		}
		if got, want := strings.ReplaceAll(unentity.Replace(e), "\u2060", ""), strings.ReplaceAll(lineOf(s), "\u2060", ""); got != want {
			t.Fatalf("Escape(%q) = %q, which reads back as %q, want %q", s, e, got, want)
		}
		c := Code(s)
		switch {
		case strings.TrimSpace(s) == "":
			if c != "" {
				t.Fatalf("Code(%q) = %q, want empty", s, c)
			}
		case len(c) < 2 || c[0] != '`' || c[len(c)-1] != '`' || strings.Contains(c[1:len(c)-1], "`") ||
			strings.ContainsAny(c, "<>\r\n") || !entitiesWhole(c):
			t.Fatalf("Code(%q) = %q: want one inline code span of escaped text", s, c)
		}
		for _, max := range []int{1, 10, 150} {
			if got := fit(s, max, escapeRune); units(got) > max || !entitiesWhole(got) {
				t.Fatalf("fit(%q, %d) = %q: over the limit or an entity cut", s, max, got)
			}
			got := cutMrkdwn(e+" <https://central.sophos.com|Open> "+e, max)
			if units(got) > max || !entitiesWhole(got) || strings.Count(got, "<") != strings.Count(got, ">") {
				t.Fatalf("cutMrkdwn to %d = %q: over the limit or a sequence cut", max, got)
			}
		}
	})
}

// FuzzRender checks the payload of a digest whose every value is
// untrusted: valid JSON within Slack's limits (blocks, header, fields,
// sections, fallback text), and no <, > or broken entity in any text but
// the link to Sophos Central that Render writes itself. The seeds in
// testdata/fuzz/FuzzRender are those of FuzzEscape, three a message.
func FuzzRender(f *testing.F) {
	at := time.Date(2026, 3, 4, 10, 21, 28, 690e6, time.UTC)
	f.Fuzz(func(t *testing.T, a, b, c string) {
		d := store.Detection{EventID: a, TenantID: b, TenantName: a, Kind: store.KindDetection, Type: c, Name: c,
			Severity: b, Threat: c, Location: b, User: a, EndpointID: c, EndpointType: b, Path: a + `\` + b + `\` + c, When: at, CreatedAt: at}
		e := d
		e.Kind, e.Location, e.Threat = store.KindFollowUp, c, a
		m := notify.Message{Key: "k", Channel: "slack", TenantID: b, TenantName: a, Digest: true, Detections: []store.Detection{d, e}}
		out, err := Render(render.NewView(m, render.Options{}), nil)
		if err != nil {
			t.Fatalf("Render: %v", err)
		}
		var msg message
		if err := json.Unmarshal(out, &msg); err != nil {
			t.Fatalf("the payload is not JSON: %v\n%s", err, out)
		}
		if len(msg.Blocks) > maxBlocks || units(msg.Text) > maxFallback || !entitiesWhole(msg.Text) || strings.ContainsAny(msg.Text, "<>") {
			t.Fatalf("%d blocks, fallback %q", len(msg.Blocks), msg.Text)
		}
		link := "<" + linkURL(render.DefaultCentralURL) + "|Open Sophos Central>"
		for i, bl := range msg.Blocks {
			texts := append([]text(nil), bl.Fields...)
			texts = append(texts, bl.Elements...)
			if bl.Text != nil {
				texts = append(texts, *bl.Text)
			}
			for _, tx := range texts {
				limit := maxSection
				switch {
				case bl.Type == "header":
					limit = maxHeader
				case len(bl.Fields) > 0 && (bl.Text == nil || tx != *bl.Text):
					limit = maxField
				}
				body := tx.Text
				if i == len(msg.Blocks)-1 {
					body = strings.Replace(body, link, "", 1)
				}
				if units(tx.Text) > limit || strings.ContainsAny(body, "<>") || !entitiesWhole(body) {
					t.Fatalf("block %d (%s): text %q over %d units, or a raw <, > or &", i, bl.Type, tx.Text, limit)
				}
			}
		}
	})
}
