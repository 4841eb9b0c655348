package slack

import (
	"strings"
	"testing"

	"github.com/puawatch/puawatch/internal/notify/hook/hooktest"
)

// payload is the decoded webhook payload.
type payload struct {
	Text        string `json:"text"`
	UnfurlLinks bool   `json:"unfurl_links"`
	UnfurlMedia bool   `json:"unfurl_media"`
	Blocks      []struct {
		Type     string    `json:"type"`
		Text     *textObj  `json:"text"`
		Fields   []textObj `json:"fields"`
		Elements []textObj `json:"elements"`
	} `json:"blocks"`
}

type textObj struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	Emoji    *bool  `json:"emoji"`
	Verbatim bool   `json:"verbatim"`
}

// decode decodes b, failing t on a field the payload should not have.
func decode(t *testing.T, b []byte) payload {
	t.Helper()
	return hooktest.Decode[payload](t, b)
}

// allText lists every text of p.
func (p payload) allText() []string {
	out := []string{p.Text}
	for _, b := range p.Blocks {
		if b.Text != nil {
			out = append(out, b.Text.Text)
		}
		for _, f := range b.Fields {
			out = append(out, f.Text)
		}
		for _, e := range b.Elements {
			out = append(out, e.Text)
		}
	}
	return out
}

// sections returns the detection sections of p (those with fields).
func (p payload) sections() [][]textObj {
	var out [][]textObj
	for _, b := range p.Blocks {
		if b.Type == "section" && len(b.Fields) > 0 {
			out = append(out, b.Fields)
		}
	}
	return out
}

// field returns the value of the field labelled label in fields.
func field(t *testing.T, fields []textObj, label string) string {
	t.Helper()
	for _, f := range fields {
		if v, ok := strings.CutPrefix(f.Text, "*"+label+"*\n"); ok {
			return v
		}
	}
	t.Fatalf("no field %q in %+v", label, fields)
	return ""
}
