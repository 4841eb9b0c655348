package teams

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/puawatch/puawatch/internal/notify"
	"github.com/puawatch/puawatch/internal/notify/hook/hooktest"
	"github.com/puawatch/puawatch/internal/render"
	"github.com/puawatch/puawatch/internal/secret"
	"github.com/puawatch/puawatch/internal/store"
)

var update = flag.Bool("update", false, "rewrite golden files")

func view(m notify.Message) render.View {
	return render.NewView(m, render.Options{Location: hooktest.CET, CentralURL: hooktest.Central})
}

func TestGolden(t *testing.T) {
	hooktest.Golden(t, "teams", *update, func(m notify.Message) ([]byte, error) { return Render(view(m), nil) },
		func(t *testing.T, b []byte) { decode(t, b) })
}

var titles = []string{"Tenant", "Host", "User", "Threat", "Severity", "Type", "Path", "Clean-up", "When", "Event id"}

func TestSingleDetectionShape(t *testing.T) {
	v := view(hooktest.Single("teams"))
	b, err := Render(v, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := decode(t, b)
	body := p.body()
	if len(body) != 3 || body[1].Type != "TextBlock" || body[2].Type != "FactSet" {
		t.Fatalf("body = %+v", body)
	}
	if body[0].Text != "PUA PsExec on WS\\-01 \\(Contoso\\)" {
		t.Errorf("title = %q", body[0].Text)
	}
	if body[1].Text != "Sophos Central reported a PUA detection in tenant Contoso." || !body[1].Wrap {
		t.Errorf("intro = %+v", body[1])
	}
	facts := body[2].Facts
	if len(facts) != len(titles) {
		t.Fatalf("%d facts", len(facts))
	}
	for i, f := range facts {
		if f.Title != titles[i] {
			t.Errorf("fact %d = %q, want %q", i, f.Title, titles[i])
		}
	}
	for title, want := range map[string]string{
		"Tenant": "Contoso", "Host": "WS\\-01", "User": "CONTOSO\\\\j.doe", "Threat": "PsExec", "Severity": "medium",
		"Type": "CorePuaDetection", "Path": "C:\\\\Tools\\\\PsExec1.exe", "Clean-up": "success",
		"When": "2026-03-04 05:07:07 UTC (2026-03-04 06:07:07 CET)", "Event id": "aaaaaaaa\\-0000\\-4000\\-8000\\-000000000001",
	} {
		if got := factValue(t, facts, title); got != want {
			t.Errorf("%s = %q, want %q", title, got, want)
		}
	}
	c := p.Attachments[0].Content
	if c.Actions[0].URL != hooktest.Central || c.MSTeams.Width != "Full" {
		t.Errorf("action URL %q, width %q", c.Actions[0].URL, c.MSTeams.Width)
	}
}

func TestWhenWithoutZoneIsUTCOnly(t *testing.T) {
	b, err := Render(render.NewView(hooktest.Single("teams"), render.Options{}), nil)
	if err != nil {
		t.Fatal(err)
	}
	p := decode(t, b)
	if got := factValue(t, p.factSets()[0], "When"); got != "2026-03-04 05:07:07 UTC" {
		t.Errorf("When = %q", got)
	}
	if got := p.Attachments[0].Content.Actions[0].URL; got != "https://central.sophos.com" {
		t.Errorf("default action URL = %q", got)
	}
}

func TestDigestCap(t *testing.T) {
	for _, tt := range []struct{ n, shown int }{{3, 3}, {20, 20}, {21, 20}, {25, 20}, {300, 20}} {
		b, err := Render(view(hooktest.Digest("teams", tt.n)), nil)
		if err != nil {
			t.Fatal(err)
		}
		p := decode(t, b)
		sets := p.factSets()
		if len(sets) != tt.shown {
			t.Errorf("%d detections: %d FactSets, want %d", tt.n, len(sets), tt.shown)
		}
		body := p.body()
		for i := range sets {
			head := body[2+2*i]
			if head.Type != "TextBlock" || head.Text != fmt.Sprintf("Detection %d of %d", i+1, tt.n) || body[3+2*i].Type != "FactSet" {
				t.Errorf("%d detections: heading %d = %+v", tt.n, i+1, head)
			}
		}
		last := body[len(body)-1]
		wantMore := fmt.Sprintf("… and %d more", tt.n-tt.shown)
		if hasMore := last.Type == "TextBlock" && last.Text == wantMore; hasMore != (tt.shown < tt.n) {
			t.Errorf("%d detections: last element %+v, want %q: %v", tt.n, last, wantMore, tt.shown < tt.n)
		}
		if body[0].Text != fmt.Sprintf("%d PUA detections in Contoso", tt.n) {
			t.Errorf("title = %q", body[0].Text)
		}
	}
}

const hostile = "<script>alert(1)</script> <!channel> & *bold* _it_ ~s~ `code` [x](http://evil) ![img](http://evil/i.png) " +
	"{{DATE(2020-01-01T00:00:00Z)}} {{{TIME(x)}}} # h > q - l + m | t \\ " + "\r\nX-Injected: 1\u2028ünïcødé 日本 🙂"

func hostileDetection() store.Detection {
	d := hooktest.Det(1)
	d.TenantName = "Tenant " + hostile
	d.Location = "Host " + hostile
	d.User = "User " + hostile
	d.Threat = "Threat " + hostile
	d.Severity = "1. high"
	d.EventID = "<at>everyone</at>"
	d.Path = `\\fileserver\share\` + strings.Repeat(`a[b](c)*d*\`, 180) + hostile // > 2,000 characters
	return d
}

const escapedHostile = "\\<script\\>alert\\(1\\)\\</script\\> \\<\\!channel\\> & \\*bold\\* \\_it\\_ \\~s\\~ \\`code\\` " +
	"\\[x\\]\\(http://evil\\) \\!\\[img\\]\\(http://evil/i.png\\) {\u200b{DATE\\(2020\\-01\\-01T00:00:00Z\\)}} {\u200b{\u200b{TIME\\(x\\)}}} " +
	"\\# h \\> q \\- l \\+ m \\| t \\\\   X\\-Injected: 1 ünïcødé 日本 🙂"

func TestHostileValuesRenderInert(t *testing.T) {
	m := notify.Message{Key: "k", TenantID: hooktest.TenantID, TenantName: "Tenant " + hostile, Detections: []store.Detection{hostileDetection(), hostileDetection()}}
	b, err := Render(view(m), nil)
	if err != nil {
		t.Fatal(err)
	}
	p := decode(t, b)
	for _, s := range p.allText() {
		for _, bad := range []string{"{{", "[x](", "](http", "\r", "\n", "\u2028", "<script>"} {
			if strings.Contains(s, bad) {
				t.Errorf("text carries %q: %q", bad, s)
			}
		}
		if !utf8.ValidString(s) {
			t.Errorf("invalid UTF-8: %q", s)
		}
	}
	sets := p.factSets()
	if len(sets) != 2 {
		t.Fatalf("%d FactSets", len(sets))
	}
	for _, title := range []string{"Tenant", "Host", "User", "Threat"} {
		if got, want := factValue(t, sets[0], title), title+" "+escapedHostile; got != want {
			t.Errorf("%s =\n%q, want\n%q", title, got, want)
		}
	}
	if got := factValue(t, sets[0], "Severity"); got != `1\. high` {
		t.Errorf("Severity = %q", got)
	}
	if got := factValue(t, sets[0], "Event id"); got != `\<at\>everyone\</at\>` {
		t.Errorf("Event id = %q", got)
	}
	path := factValue(t, sets[0], "Path")
	if !strings.HasPrefix(path, `\\\\fileserver\\share\\a\[b\]\(c\)\*d\*\\`) || !strings.HasSuffix(path, "…") {
		t.Errorf("path = %.80q … %q", path, path[len(path)-20:])
	}
	body := p.body()
	if !strings.Contains(body[0].Text, `\[x\]\(http://evil\)`) || !strings.Contains(body[1].Text, `\<script\>`) {
		t.Errorf("title %q / intro %q not escaped", body[0].Text, body[1].Text)
	}
	if len(b) > 28*1024 {
		t.Errorf("payload of %d bytes is over Teams' limit", len(b))
	}
}

func TestHostileDigestStaysWithinBudget(t *testing.T) {
	m := notify.Message{Key: "k", TenantID: hooktest.TenantID}
	for range 20 {
		m.Detections = append(m.Detections, hostileDetection())
	}
	b, err := Render(view(m), nil)
	if err != nil {
		t.Fatal(err)
	}
	p := decode(t, b)
	n := len(p.factSets())
	if n == 0 || n >= 20 || len(b) > cardBudget {
		t.Errorf("%d FactSets in %d bytes; budget %d", n, len(b), cardBudget)
	}
	if last := p.body()[len(p.body())-1]; last.Text != fmt.Sprintf("… and %d more", 20-n) {
		t.Errorf("last element = %+v", last)
	}
	// One detection alone always shows, however long its values.
	b, err = Render(view(notify.Message{Key: "k", Detections: []store.Detection{hostileDetection()}}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if p := decode(t, b); len(p.factSets()) != 1 || len(b) > cardBudget {
		t.Errorf("single hostile detection: %d FactSets, %d bytes", len(p.factSets()), len(b))
	}
}

func TestTemplateReplacesFactSets(t *testing.T) {
	path := hooktest.WriteFile(t, "teams.tmpl", `**{{teams .Title}}**{{range .Detections}}

- {{teams .Host}} ran {{teams .Threat}} ([details](https://example.com/hosts)){{end}}`)
	s := hooktest.NewServer(t, hooktest.Answer{Status: 202})
	n, err := New(Config{URL: secret.Secret(hookURL(s.Server)), Template: path, Location: hooktest.CET}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := hooktest.Single("teams")
	m.Detections[0].Location = "[WS](http://evil) {{DATE(x)}}"
	if err := n.Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	reqs := s.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	p := decode(t, reqs[0].Body)
	body := p.body()
	want := "**PUA PsExec on \\[WS\\]\\(http://evil\\) {\u200b{DATE\\(x\\)}} \\(Contoso\\)**\n\n" +
		"- \\[WS\\]\\(http://evil\\) {\u200b{DATE\\(x\\)}} ran PsExec ([details](https://example.com/hosts))"
	if len(body) != 2 || body[1].Type != "TextBlock" || !body[1].Wrap || body[1].Text != want {
		t.Errorf("body = %+v\nwant text %q", body, want)
	}
	if len(p.factSets()) != 0 {
		t.Errorf("the template did not replace the FactSets")
	}
}

func TestBrokenTemplateIsRejected(t *testing.T) {
	s := hooktest.NewServer(t, hooktest.Answer{Status: 202})
	for name, content := range map[string]string{
		"parse":   "{{range .Detections}}unclosed",
		"field":   "{{.NoSuchField}}",
		"func":    "{{slack .Title}}",
		"empty":   "{{if .Digest}}only digests{{end}}",
		"missing": "",
	} {
		path := hooktest.WriteFile(t, name+".tmpl", content)
		if name == "missing" {
			path = filepath.Join(t.TempDir(), "nope.tmpl")
		}
		c := Config{URL: secret.Secret(hookURL(s.Server)), Template: path}
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), "template") {
			t.Errorf("%s: Validate = %v, want an error naming the template", name, err)
		}
		if _, err := New(c, nil); err == nil || !strings.Contains(err.Error(), "template") {
			t.Errorf("%s: New = %v", name, err)
		}
	}
}

func TestNotifyPosts(t *testing.T) {
	s := hooktest.NewServer(t, hooktest.Answer{Status: 202})
	n, err := New(Config{URL: secret.Secret(hookURL(s.Server)), Location: hooktest.CET, CentralURL: hooktest.Central}, s.Client())
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Notify(context.Background(), hooktest.Digest("teams", 3)); err != nil {
		t.Fatal(err)
	}
	reqs := s.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodPost || r.Path != hooktest.TeamsPath || "?"+r.RawQuery != hooktest.TeamsQuery || !strings.HasPrefix(r.ContentType, "application/json") || r.UserAgent != "puawatch" {
		t.Errorf("request = %s %s?%s %q %q", r.Method, r.Path, r.RawQuery, r.ContentType, r.UserAgent)
	}
	want, _ := Render(view(hooktest.Digest("teams", 3)), nil)
	if !bytes.Equal(r.Body, want) {
		t.Errorf("posted body differs from Render:\n%s", r.Body)
	}
	if p := decode(t, r.Body); len(p.factSets()) != 3 || p.Attachments[0].Content.Actions[0].URL != hooktest.Central {
		t.Errorf("posted card: %s", r.Body)
	}
}

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"plain text 42":            "plain text 42",
		"[x](http://evil)":         `\[x\]\(http://evil\)`,
		`a\b*c_d`:                  `a\\b\*c\_d`,
		"# h":                      `\# h`,
		"1. one":                   `1\. one`,
		"12.5 and 1. not leading":  `12\.5 and 1. not leading`,
		".5":                       ".5",
		"{{DATE(x)}}":              "{\u200b{DATE\\(x\\)}}",
		"{ {":                      "{ {",
		"a\r\nb\tc\u2028d\u0085e":  "a  b c d e",
		"ünïcødé 日本 🙂 & ; = : \"'": "ünïcødé 日本 🙂 & ; = : \"'",
	} {
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRenderSample(t *testing.T) {
	b, err := Render(render.Sample(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if p := decode(t, b); len(p.factSets()) != 1 {
		t.Errorf("sample: %s", b)
	}
}
