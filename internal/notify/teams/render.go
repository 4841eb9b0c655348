package teams

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/template"
	"unicode"
	"unicode/utf8"

	"github.com/puawatch/puawatch/internal/render"
	"github.com/puawatch/puawatch/internal/urlpolicy"
)

// Card limits.
const (
	maxFactSets   = 20    // detections shown in a digest
	cardBudget    = 24000 // bytes of the whole payload; Teams refuses messages over about 28 KB
	maxShortValue = 256   // runes of a value other than the path
	maxTitle      = 300   // runes of the title
	maxIntro      = 600   // runes of the intro
	maxTemplate   = 12000 // runes of a template's text
)

// Adaptive Card identifiers.
const (
	cardContentType = "application/vnd.microsoft.card.adaptive"
	cardSchema      = "http://adaptivecards.io/schemas/adaptive-card.json"
	cardVersion     = "1.5"
)

// message is the Workflows webhook payload.
type message struct {
	Type        string       `json:"type"`
	Attachments []attachment `json:"attachments"`
}

type attachment struct {
	ContentType string  `json:"contentType"`
	ContentURL  *string `json:"contentUrl"` // always null
	Content     card    `json:"content"`
}

type card struct {
	Schema  string    `json:"$schema"`
	Type    string    `json:"type"`
	Version string    `json:"version"`
	Body    []element `json:"body"`
	Actions []action  `json:"actions"`
	MSTeams msteams   `json:"msteams"`
}

// msteams holds Teams' own card settings: full width gives long paths room.
type msteams struct {
	Width string `json:"width"`
}

// element is a TextBlock or a FactSet.
type element struct {
	Type      string `json:"type"`
	Text      string `json:"text,omitempty"`
	Weight    string `json:"weight,omitempty"`
	Size      string `json:"size,omitempty"`
	Wrap      bool   `json:"wrap,omitempty"`
	IsSubtle  bool   `json:"isSubtle,omitempty"`
	Separator bool   `json:"separator,omitempty"`
	Spacing   string `json:"spacing,omitempty"`
	Facts     []fact `json:"facts,omitempty"`
}

type fact struct {
	Title string `json:"title"`
	Value string `json:"value"`
}

type action struct {
	Type  string `json:"type"`
	Title string `json:"title"`
	URL   string `json:"url"`
}

// Render returns the webhook payload (JSON) of v. A nil tmpl renders the
// default intro and FactSets; otherwise the text tmpl renders is one
// TextBlock after the title.
func Render(v render.View, tmpl *render.Template) ([]byte, error) {
	central := v.CentralURL
	if !urlpolicy.WebURL(central) {
		central = render.DefaultCentralURL
	}
	c := card{
		Schema: cardSchema, Type: "AdaptiveCard", Version: cardVersion,
		Body:    []element{{Type: "TextBlock", Text: Escape(capRunes(v.Title, maxTitle)), Weight: "Bolder", Size: "Medium", Wrap: true}},
		Actions: []action{{Type: "Action.OpenUrl", Title: "Open Sophos Central", URL: central}},
		MSTeams: msteams{Width: "Full"},
	}
	if tmpl != nil {
		out, err := tmpl.Execute(v)
		if err != nil {
			return nil, fmt.Errorf("teams: template: %w", err)
		}
		if strings.TrimSpace(out) == "" {
			return nil, errors.New("teams: template: the template rendered no text")
		}
		c.Body = append(c.Body, element{Type: "TextBlock", Text: capRunes(out, maxTemplate), Wrap: true})
		return encode(c)
	}
	if v.Intro != "" {
		c.Body = append(c.Body, element{Type: "TextBlock", Text: Escape(capRunes(v.Intro, maxIntro)), Wrap: true})
	}
	n := len(v.Detections)
	more := func(k int) element {
		return element{Type: "TextBlock", Text: fmt.Sprintf("… and %d more", k), Wrap: true, IsSubtle: true, Separator: true}
	}
	// The budget keeps room for the "… and N more" block.
	used := size(c) + size(more(n))
	shown := 0
	for _, d := range v.Detections {
		if shown == maxFactSets {
			break
		}
		els := detectionElements(d, v.Digest, n)
		s := 0
		for _, e := range els {
			s += size(e) + 1
		}
		if shown > 0 && used+s > cardBudget {
			break
		}
		c.Body = append(c.Body, els...)
		used += s
		shown++
	}
	if shown < n {
		c.Body = append(c.Body, more(n-shown))
	}
	return encode(c)
}

// detectionElements are the elements of one detection: a FactSet, headed
// by a TextBlock in a digest.
func detectionElements(d render.Detection, digest bool, count int) []element {
	when := d.WhenUTC
	if d.WhenLocal != "" {
		when += " (" + d.WhenLocal + ")"
	}
	fs := element{Type: "FactSet", Facts: []fact{
		{"Tenant", value(capRunes(d.TenantName, maxShortValue))},
		{"Host", value(capRunes(d.Host, maxShortValue))},
		{"User", value(capRunes(d.User, maxShortValue))},
		{"Threat", value(capRunes(d.Threat, maxShortValue))},
		{"Severity", value(capRunes(d.Severity, maxShortValue))},
		{"Type", value(capRunes(d.TypeShort, maxShortValue))},
		{"Path", value(d.Path)},
		{"Clean-up", value(capRunes(d.Cleanup, maxShortValue))},
		{"When", when}, // made here from times, not untrusted: left unescaped, so it reads well where escapes show
		{"Event id", value(capRunes(d.EventID, maxShortValue))},
	}}
	if !digest {
		return []element{fs}
	}
	head := element{Type: "TextBlock", Text: fmt.Sprintf("Detection %d of %d", d.N, count), Weight: "Bolder", Wrap: true,
		Separator: d.N > 1, Spacing: "Medium"}
	return []element{head, fs}
}

// value is an escaped FactSet value; an empty one shows as "none".
func value(s string) string {
	if strings.TrimSpace(s) == "" {
		return "none"
	}
	return Escape(s)
}

func encode(c card) ([]byte, error) {
	b, err := marshal(message{Type: "message", Attachments: []attachment{{ContentType: cardContentType, Content: c}}})
	if err != nil {
		return nil, fmt.Errorf("teams: encode: %w", err)
	}
	return b, nil
}

// marshal is json.Marshal without HTML escaping (< > & stay as they are:
// the payload is JSON, not HTML).
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// size is the length of v in JSON.
func size(v any) int {
	b, _ := marshal(v)
	return len(b)
}

// Funcs returns the template functions a Teams template may use:
//
//	teams  Escape: a value escaped for Adaptive Card Markdown
func Funcs() template.FuncMap { return template.FuncMap{"teams": Escape} }

// loadChecked reads a template (with Funcs) and checks that it renders
// the sample detection into a message the service accepts.
func loadChecked(path string) (*render.Template, error) {
	t, err := render.LoadWithFuncs(path, Funcs())
	if err != nil {
		return nil, err
	}
	if _, err := Render(render.Sample(), t); err != nil {
		return nil, fmt.Errorf("%w (rendering the sample detection of %s)", err, path)
	}
	return t, nil
}

// markdownSpecials are the characters Escape puts a backslash before.
const markdownSpecials = "\\*_[]()#><-+!~|`"

// Escape makes s inert text for an Adaptive Card TextBlock or FactSet
// value in Teams: the Markdown specials \ * _ [ ] ( ) # > < - + ! ~ | and
// ` get a backslash, so does the dot of a leading number ("1. x" would
// be a list), a zero-width space goes between two opening braces (no
// {{DATE(…)}} or {{TIME(…)}} function), and control characters and line
// or paragraph separators become spaces, so s stays on one line.
func Escape(s string) string {
	var b strings.Builder
	b.Grow(len(s) + len(s)/4)
	var prev rune
	leadingDigits := true
	for i, r := range s {
		switch {
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || r == '\u0085':
			r = ' '
			b.WriteByte(' ')
		case strings.ContainsRune(markdownSpecials, r):
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '{' && prev == '{':
			b.WriteString("\u200b{")
		case r == '.' && leadingDigits && i > 0:
			b.WriteString(`\.`)
		default:
			b.WriteRune(r)
		}
		leadingDigits = leadingDigits && r >= '0' && r <= '9'
		prev = r
	}
	return b.String()
}

// capRunes cuts s to at most n runes, marking a cut with "…".
func capRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
