package email

import (
	"bytes"
	"mime"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"

	"github.com/puawatch/puawatch/internal/notify"
	"github.com/puawatch/puawatch/internal/render"
	"github.com/puawatch/puawatch/internal/store"
)

// fuzzMessage is a digest of two detections whose every text field holds
// one of a, b and c.
func fuzzMessage(key, a, b, c string) notify.Message {
	d := store.Detection{EventID: a, TenantID: b, TenantName: a, Kind: store.KindDetection, Type: c, Name: c,
		Severity: b, Threat: c, Location: b, User: a, EndpointID: c, EndpointType: b, Path: a + `\` + b,
		When: t0, CreatedAt: t0.Add(690 * time.Millisecond)}
	e := d
	e.EventID, e.Kind, e.Location, e.Threat = c, store.KindFollowUp, a, b
	return notify.Message{Key: key, Channel: "email", TenantID: b, TenantName: a, Digest: true, Detections: []store.Detection{d, e}}
}

// neutral is s as a value of the same truth for a template (empty once
// cleaned, or not) that holds no markup.
func neutral(s string) string {
	if render.Clean(s) == "" {
		return ""
	}
	return "x"
}

// FuzzHeader checks the header values made from untrusted text: the
// Subject (headerValue) is one line without control characters, valid
// UTF-8 and at most maxSubject runes; the Message-ID is hex at
// @puawatch whatever the key; and the whole mail, parsed back, has the
// same header fields as a plain one (no Bcc or other field injected) and
// the Subject it was given. The seeds in testdata/fuzz/FuzzHeader hold
// CR/LF and header injections, NUL, invalid UTF-8, HTML and JavaScript,
// CEF specials, emoji and direction overrides, and very long values.
func FuzzHeader(f *testing.F) {
	msgID := regexp.MustCompile(`^[0-9a-f]{32}@puawatch$`)
	n := &Notifier{c: Config{From: "puawatch <puawatch@example.com>", To: []string{"soc@example.com"}}, now: func() time.Time { return t0 }}
	fields := func(t testing.TB, m notify.Message) (*mail.Message, []string) {
		msg, err := n.build(m)
		if err != nil {
			t.Fatalf("build: %v", err)
		}
		var raw bytes.Buffer
		if _, err := msg.WriteTo(&raw); err != nil {
			t.Fatalf("write: %v", err)
		}
		pm, err := mail.ReadMessage(&raw)
		if err != nil {
			t.Fatalf("the mail does not parse: %v\n%s", err, raw.Bytes())
		}
		var keys []string
		for k := range pm.Header {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return pm, keys
	}
	_, plainKeys := fields(f, fuzzMessage("k", "a", "b", "c"))
	f.Fuzz(func(t *testing.T, a, b, c string) {
		for _, s := range []string{a, b, c} {
			h := headerValue(s, maxSubject)
			if strings.ContainsAny(h, "\r\n") || !utf8.ValidString(h) || utf8.RuneCountInString(h) > maxSubject ||
				strings.IndexFunc(h, unicode.IsControl) >= 0 || h != strings.TrimSpace(h) {
				t.Fatalf("headerValue(%q) = %q: want one trimmed line of valid UTF-8, no control character, at most %d runes", s, h, maxSubject)
			}
			if id := MessageID(s); !msgID.MatchString(id) {
				t.Fatalf("MessageID(%q) = %q", s, id)
			}
		}
		m := fuzzMessage(a, a, b, c)
		m.Digest, m.Detections = false, m.Detections[:1]
		pm, keys := fields(t, m)
		if !slices.Equal(keys, plainKeys) {
			t.Fatalf("header fields %q, want %q", keys, plainKeys)
		}
		got, err := new(mime.WordDecoder).DecodeHeader(pm.Header.Get("Subject"))
		if want := subject(n.view(m)); err != nil || got != want {
			t.Fatalf("Subject decodes to %q (%v), want %q", got, err, want)
		}
	})
}

// tags is the markup of an HTML document: every tag with its attributes,
// in order, and the text between them.
func tags(t *testing.T, doc string) (markup []string, text string) {
	t.Helper()
	z := html.NewTokenizer(strings.NewReader(doc))
	var b strings.Builder
	for {
		switch tt := z.Next(); tt {
		case html.ErrorToken:
			return markup, b.String()
		case html.TextToken:
			b.Write(z.Text())
		case html.StartTagToken, html.EndTagToken, html.SelfClosingTagToken:
			tok := z.Token()
			s := tt.String() + " " + tok.Data
			for _, a := range tok.Attr {
				s += " " + a.Key + "=" + a.Val
			}
			markup = append(markup, s)
		default:
			markup = append(markup, tt.String())
		}
	}
}

// FuzzHTMLBody checks the HTML part of a mail whose every value is
// untrusted: the default layout and a user's template (shown escaped in
// <pre>) have exactly the tags and attributes of the same mail with
// plain values, so no element or attribute comes from the input, and the
// text parsed back holds each value as the view cleaned it. The seeds in
// testdata/fuzz/FuzzHTMLBody are those of FuzzHeader.
func FuzzHTMLBody(f *testing.F) {
	path := filepath.Join(f.TempDir(), "user.tmpl")
	if err := os.WriteFile(path, []byte("{{.Title}}\n{{range .Detections}}{{.Host}} {{.User}} {{.Path}} {{.Threat}}\n{{end}}"), 0o600); err != nil {
		f.Fatal(err)
	}
	user, err := render.Load(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, a, b, c string) {
		m, plain := fuzzMessage("k", a, b, c), fuzzMessage("k", neutral(a), neutral(b), neutral(c))
		v, pv := render.NewView(m, render.Options{}), render.NewView(plain, render.Options{})
		for _, tmpl := range []*render.Template{nil, user} {
			_, got, err := bodies(v, tmpl)
			if err != nil {
				t.Fatalf("bodies: %v", err)
			}
			_, want, err := bodies(pv, tmpl)
			if err != nil {
				t.Fatalf("bodies of plain values: %v", err)
			}
			gm, text := tags(t, got)
			wm, _ := tags(t, want)
			if !slices.Equal(gm, wm) {
				t.Fatalf("template %v: the markup differs from that of plain values:\n got %q\nwant %q\n%s", tmpl != nil, gm, wm, got)
			}
			for _, d := range v.Detections {
				for _, val := range []string{d.Host, d.User, d.Threat} {
					if !strings.Contains(text, val) {
						t.Fatalf("template %v: the text lacks the value %q:\n%s", tmpl != nil, val, text)
					}
				}
			}
		}
	})
}
