package teams

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/puawatch/puawatch/internal/notify/hook/hooktest"
)

// payload is the decoded webhook payload.
type payload struct {
	Type        string `json:"type"`
	Attachments []struct {
		ContentType string  `json:"contentType"`
		ContentURL  *string `json:"contentUrl"`
		Content     struct {
			Schema  string    `json:"$schema"`
			Type    string    `json:"type"`
			Version string    `json:"version"`
			Body    []element `json:"body"`
			Actions []struct {
				Type  string `json:"type"`
				Title string `json:"title"`
				URL   string `json:"url"`
			} `json:"actions"`
			MSTeams struct {
				Width string `json:"width"`
			} `json:"msteams"`
		} `json:"content"`
	} `json:"attachments"`
}

// decode decodes b and checks its envelope, card and title block,
// failing t on a field the payload should not have.
func decode(t *testing.T, b []byte) payload {
	t.Helper()
	p := hooktest.Decode[payload](t, b)
	if p.Type != "message" || len(p.Attachments) != 1 {
		t.Fatalf("envelope: type %q, %d attachments", p.Type, len(p.Attachments))
	}
	a := p.Attachments[0]
	if a.ContentType != "application/vnd.microsoft.card.adaptive" || a.ContentURL != nil || !strings.Contains(string(b), `"contentUrl":null`) {
		t.Errorf("attachment: %q %v", a.ContentType, a.ContentURL)
	}
	c := a.Content
	if c.Schema != "http://adaptivecards.io/schemas/adaptive-card.json" || c.Type != "AdaptiveCard" || c.Version != "1.5" {
		t.Errorf("card: %q %q %q", c.Schema, c.Type, c.Version)
	}
	if len(c.Actions) != 1 || c.Actions[0].Type != "Action.OpenUrl" || c.Actions[0].Title != "Open Sophos Central" {
		t.Errorf("actions: %+v", c.Actions)
	}
	if len(c.Body) == 0 || c.Body[0].Type != "TextBlock" || c.Body[0].Weight != "Bolder" || c.Body[0].Size != "Medium" || !c.Body[0].Wrap {
		t.Errorf("title block: %+v", c.Body)
	}
	return p
}

func (p payload) body() []element { return p.Attachments[0].Content.Body }

// allText lists every text and fact value of p.
func (p payload) allText() []string {
	var out []string
	for _, e := range p.body() {
		out = append(out, e.Text)
		for _, f := range e.Facts {
			out = append(out, f.Title, f.Value)
		}
	}
	return out
}

// factSets returns the facts of every FactSet of p.
func (p payload) factSets() [][]fact {
	var out [][]fact
	for _, e := range p.body() {
		if e.Type == "FactSet" {
			out = append(out, e.Facts)
		}
	}
	return out
}

// factValue returns the value of the fact titled title.
func factValue(t *testing.T, facts []fact, title string) string {
	t.Helper()
	for _, f := range facts {
		if f.Title == title {
			return f.Value
		}
	}
	t.Fatalf("no fact %q in %+v", title, facts)
	return ""
}

// hookURL is the test webhook URL on s.
func hookURL(s *httptest.Server) string { return s.URL + hooktest.TeamsPath + hooktest.TeamsQuery }
