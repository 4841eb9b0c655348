package email

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
	"unicode/utf8"

	"github.com/puawatch/puawatch/internal/render"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

var (
	textTmpl = mustText("body.txt.tmpl")
	htmlTmpl = mustHTML("body.html.tmpl")
	// preTmpl is the HTML part of a mail whose text part a user's
	// template rendered: that text, escaped, inside <pre>.
	preTmpl = mustHTML("pre.html.tmpl")
)

// maxSubject caps the Subject (and any other header built from untrusted
// values), in runes.
const maxSubject = 200

// subject returns the Subject of v: its title, already cleaned by
// render.NewView, prefixed "[puawatch] ", on one line and capped.
func subject(v render.View) string { return headerValue("[puawatch] "+v.Title, maxSubject) }

// bodies returns the text and HTML parts of v: the default layout, or
// with tmpl the text tmpl renders and that text HTML-escaped in <pre>.
func bodies(v render.View, tmpl *render.Template) (text, html string, err error) {
	if tmpl != nil {
		text, err = tmpl.Execute(v)
		if err != nil {
			return "", "", fmt.Errorf("template: %w", err)
		}
		if strings.TrimSpace(text) == "" {
			return "", "", errors.New("template: the template rendered no text")
		}
		html, err = execHTML(preTmpl, struct{ Title, Text string }{v.Title, text})
		return text, html, err
	}
	var b bytes.Buffer
	if err := textTmpl.Execute(&b, v); err != nil {
		return "", "", fmt.Errorf("render text body: %w", err)
	}
	html, err = execHTML(htmlTmpl, v)
	return b.String(), html, err
}

func execHTML(t *htmltemplate.Template, data any) (string, error) {
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return "", fmt.Errorf("render html body: %w", err)
	}
	return b.String(), nil
}

// headerValue makes an untrusted value one header line: render.Clean
// (control characters become spaces, format characters such as
// direction overrides are dropped, invalid UTF-8 is replaced), then runs
// of white space, line and paragraph separators included, become one
// space, the ends are trimmed, and the result is cut to at most n runes,
// marking a cut with "…".
func headerValue(s string, n int) string {
	s = strings.Join(strings.Fields(render.Clean(s)), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:n-1])) + "…"
}

func mustText(name string) *texttemplate.Template {
	return texttemplate.Must(texttemplate.New(name).Option("missingkey=error").ParseFS(templateFS, "templates/"+name))
}

func mustHTML(name string) *htmltemplate.Template {
	return htmltemplate.Must(htmltemplate.New(name).Option("missingkey=error").ParseFS(templateFS, "templates/"+name))
}
