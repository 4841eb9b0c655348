package slack

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/template"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/puawatch/puawatch/internal/render"
	"github.com/puawatch/puawatch/internal/urlpolicy"
)

// Slack's Block Kit limits, and the budgets this channel keeps within
// them.
const (
	maxBlocks     = 50    // blocks in one message
	maxHeader     = 150   // characters of a header's plain_text
	maxField      = 2000  // characters of one section field
	maxSection    = 3000  // characters of a section's text
	maxFallback   = 1000  // characters of the fallback text (notifications)
	maxShortValue = 256   // runes of a value other than the path
	detailsBudget = 36000 // characters of all detection sections (Slack truncates a message's text at 40,000)
)

// message is an incoming webhook payload.
type message struct {
	Text        string  `json:"text"`
	Blocks      []block `json:"blocks"`
	UnfurlLinks bool    `json:"unfurl_links"`
	UnfurlMedia bool    `json:"unfurl_media"`
}

// block is a header, section or context block.
type block struct {
	Type     string `json:"type"`
	Text     *text  `json:"text,omitempty"`
	Fields   []text `json:"fields,omitempty"`
	Elements []text `json:"elements,omitempty"`
}

// text is a Block Kit text object.
type text struct {
	Type     string `json:"type"` // plain_text or mrkdwn
	Text     string `json:"text"`
	Emoji    *bool  `json:"emoji,omitempty"`    // plain_text only
	Verbatim bool   `json:"verbatim,omitempty"` // mrkdwn only
}

// plain is a plain_text object of s, escaped and cut to max characters.
func plain(s string, max int) text {
	return text{Type: "plain_text", Text: fit(s, max, escapeRune), Emoji: ptr(false)}
}

// mrkdwn is a verbatim mrkdwn object of s, which is already mrkdwn.
func mrkdwn(s string) text { return text{Type: "mrkdwn", Text: s, Verbatim: true} }

// Render returns the webhook payload (JSON) of v. A nil tmpl renders the
// default detection sections; otherwise the text tmpl renders is the one
// section between the header and the link to Sophos Central.
func Render(v render.View, tmpl *render.Template) ([]byte, error) {
	central := v.CentralURL
	if !urlpolicy.WebURL(central) {
		central = render.DefaultCentralURL
	}
	m := message{
		Text:   defuseMentions(fit(capRunes(v.Title, maxFallback), maxFallback, escapeRune)),
		Blocks: []block{{Type: "header", Text: ptr(plain(v.Title, maxHeader))}},
	}
	link := block{Type: "context", Elements: []text{mrkdwn("<" + linkURL(central) + "|Open Sophos Central>")}}
	if tmpl != nil {
		out, err := tmpl.Execute(v)
		if err != nil {
			return nil, fmt.Errorf("slack: template: %w", err)
		}
		if strings.TrimSpace(out) == "" {
			return nil, errors.New("slack: template: the template rendered no text; Slack rejects an empty section")
		}
		m.Blocks = append(m.Blocks, block{Type: "section", Text: ptr(mrkdwn(cutMrkdwn(out, maxSection)))}, link)
		return encode(m)
	}
	if v.Intro != "" {
		m.Blocks = append(m.Blocks, block{Type: "section", Text: ptr(plain(v.Intro, maxSection))})
	}
	n := len(v.Detections)
	limit := maxBlocks - len(m.Blocks) - 1 // the link block
	if n > limit {
		limit-- // the "… and N more" block
	}
	shown, used := 0, 0
	for _, d := range v.Detections {
		if shown == limit {
			break
		}
		b, size := detectionBlock(d, v.Digest, n)
		if shown > 0 && used+size > detailsBudget {
			break
		}
		m.Blocks = append(m.Blocks, b)
		shown++
		used += size
	}
	if shown < n {
		m.Blocks = append(m.Blocks, block{Type: "context", Elements: []text{mrkdwn(fmt.Sprintf("… and %d more", n-shown))}})
	}
	m.Blocks = append(m.Blocks, link)
	return encode(m)
}

// detectionBlock is the section of one detection and its size in
// characters.
func detectionBlock(d render.Detection, digest bool, count int) (block, int) {
	when := escape(d.WhenUTC)
	if d.WhenLocal != "" {
		when += "\n" + escape(d.WhenLocal)
	}
	b := block{Type: "section", Fields: []text{
		codeField("Tenant", capRunes(d.TenantName, maxShortValue)),
		codeField("Host", capRunes(d.Host, maxShortValue)),
		codeField("User", capRunes(d.User, maxShortValue)),
		codeField("Threat", capRunes(d.Threat, maxShortValue)),
		codeField("Severity", capRunes(d.Severity, maxShortValue)),
		codeField("Type", capRunes(d.TypeShort, maxShortValue)),
		codeField("Path", d.Path),
		codeField("Clean-up", capRunes(d.Cleanup, maxShortValue)),
		mrkdwn(fit("*When*\n"+when, maxField, keepRune)),
		codeField("Event id", capRunes(d.EventID, maxShortValue)),
	}}
	if digest {
		b.Text = ptr(mrkdwn(fmt.Sprintf("*Detection %d of %d*", d.N, count)))
	}
	size := 0
	if b.Text != nil {
		size += units(b.Text.Text)
	}
	for _, f := range b.Fields {
		size += units(f.Text)
	}
	return b, size
}

// codeField is a field "*label*" over value shown as inline code, within
// Slack's limit for a field.
func codeField(label, value string) text {
	head := "*" + label + "*\n"
	if strings.TrimSpace(value) == "" {
		return mrkdwn(head + "_none_")
	}
	return mrkdwn(head + "`" + fit(value, maxField-units(head)-2, codeRune) + "`")
}

func encode(m message) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, fmt.Errorf("slack: encode: %w", err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func ptr[T any](v T) *T { return &v }

// Funcs returns the template functions a Slack template may use:
//
//	slack      Escape: a value escaped for mrkdwn text
//	slackcode  Code: a value as inert inline code
func Funcs() template.FuncMap {
	return template.FuncMap{"slack": Escape, "slackcode": Code}
}

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

// Escape escapes s for Slack mrkdwn text: & < > become &amp; &lt; &gt;
// (Slack's rule, which also defuses <!channel>, <@U…> and
// <url|text> links), line and paragraph separators become spaces, and a
// word joiner (U+2060) follows the @ of @here, @channel and @everyone.
// Formatting characters (* _ ~ `) are left alone: use Code for a value
// that must show exactly as it is.
func Escape(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteString(escapeRune(r))
	}
	return defuseMentions(b.String())
}

// Code shows s as Slack inline code, where no formatting applies: escaped
// like Escape, a backtick replaced by ˋ (U+02CB), and wrapped in
// backticks. An empty or blank s gives "".
func Code(s string) string {
	if strings.TrimSpace(s) == "" {
		return ""
	}
	var b strings.Builder
	b.WriteByte('`')
	for _, r := range s {
		b.WriteString(codeRune(r))
	}
	b.WriteByte('`')
	return b.String()
}

// escape escapes s for mrkdwn text, without the mention defusing.
func escape(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteString(escapeRune(r))
	}
	return b.String()
}

// escapeRune is the escape of one rune for Slack text.
func escapeRune(r rune) string {
	switch r {
	case '&':
		return "&amp;"
	case '<':
		return "&lt;"
	case '>':
		return "&gt;"
	case '\u2028', '\u2029', '\r', '\n', '\t':
		return " "
	}
	return string(r)
}

// codeRune is the escape of one rune inside inline code.
func codeRune(r rune) string {
	if r == '`' {
		return "ˋ"
	}
	return escapeRune(r)
}

// keepRune leaves a rune of text already escaped as it is.
func keepRune(r rune) string { return string(r) }

// defuseMentions puts a word joiner after the @ of @here, @channel and
// @everyone, in any case.
func defuseMentions(s string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteByte(s[i])
		if s[i] != '@' {
			continue
		}
		rest := strings.ToLower(s[i+1 : min(len(s), i+9)])
		for _, w := range []string{"here", "channel", "everyone"} {
			if strings.HasPrefix(rest, w) {
				b.WriteString("\u2060")
				break
			}
		}
	}
	return b.String()
}

// units is the length of s in UTF-16 code units, which is how Slack's
// clients count characters (an emoji counts two): a conservative measure
// for Slack's limits.
func units(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// fit escapes s rune by rune with esc and cuts the result to at most max
// UTF-16 code units, marking a cut with "…". A cut never splits an entity.
func fit(s string, max int, esc func(rune) string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteString(esc(r))
	}
	if units(b.String()) <= max {
		return b.String()
	}
	b.Reset()
	n := 0
	for _, r := range s {
		e := esc(r)
		if n+units(e) > max-1 {
			break
		}
		b.WriteString(e)
		n += units(e)
	}
	return b.String() + "…"
}

// capRunes cuts s to at most n runes, marking a cut with "…".
func capRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// cutMrkdwn cuts mrkdwn text s to at most max UTF-16 code units, marking
// a cut with "…"; a cut inside an entity (&amp;) or a control sequence
// (<url|text>) drops its start, so no broken sequence is left.
func cutMrkdwn(s string, max int) string {
	if units(s) <= max {
		return s
	}
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n+utf16.RuneLen(r) > max-1 {
			break
		}
		b.WriteRune(r)
		n += utf16.RuneLen(r)
	}
	out := b.String()
	if i := strings.LastIndexByte(out, '&'); i >= 0 && !strings.Contains(out[i:], ";") {
		out = out[:i]
	}
	if i := strings.LastIndexByte(out, '<'); i >= 0 && !strings.Contains(out[i:], ">") {
		out = out[:i]
	}
	return out + "…"
}

// linkURL makes a URL safe inside <url|text>: & < > escaped and | (the
// separator) percent-encoded.
func linkURL(u string) string {
	return strings.ReplaceAll(escape(u), "|", "%7C")
}
