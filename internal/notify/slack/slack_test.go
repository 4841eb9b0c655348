package slack

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
	hooktest.Golden(t, "slack", *update, func(m notify.Message) ([]byte, error) { return Render(view(m), nil) },
		func(t *testing.T, b []byte) { decode(t, b) })
}

var labels = []string{"Tenant", "Host", "User", "Threat", "Severity", "Type", "Path", "Clean-up", "When", "Event id"}

func TestSingleDetectionShape(t *testing.T) {
	v := view(hooktest.Single("slack"))
	b, err := Render(v, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := decode(t, b)
	if p.Text != "PUA PsExec on WS-01 (Contoso)" || p.Text != v.Title {
		t.Errorf("fallback text = %q, want the title %q", p.Text, v.Title)
	}
	var types []string
	for _, bl := range p.Blocks {
		types = append(types, bl.Type)
	}
	if got := strings.Join(types, ","); got != "header,section,section,context" {
		t.Fatalf("blocks = %s", got)
	}
	h := p.Blocks[0].Text
	if h == nil || h.Type != "plain_text" || h.Text != v.Title || h.Emoji == nil || *h.Emoji {
		t.Errorf("header = %+v", h)
	}
	if intro := p.Blocks[1].Text; intro == nil || intro.Type != "plain_text" || intro.Text != v.Intro {
		t.Errorf("intro = %+v", intro)
	}
	fields := p.Blocks[2].Fields
	if len(fields) != len(labels) {
		t.Fatalf("%d fields, want %d: %+v", len(fields), len(labels), fields)
	}
	for i, f := range fields {
		if f.Type != "mrkdwn" || !f.Verbatim || !strings.HasPrefix(f.Text, "*"+labels[i]+"*\n") {
			t.Errorf("field %d = %+v, want verbatim mrkdwn labelled %s", i, f, labels[i])
		}
	}
	for label, want := range map[string]string{
		"Tenant": "`Contoso`", "Host": "`WS-01`", "User": "`CONTOSO\\j.doe`", "Threat": "`PsExec`", "Severity": "`medium`",
		"Type": "`CorePuaDetection`", "Path": "`C:\\Tools\\PsExec1.exe`", "Clean-up": "`success`",
		"When": "2026-03-04 05:07:07 UTC\n2026-03-04 06:07:07 CET", "Event id": "`aaaaaaaa-0000-4000-8000-000000000001`",
	} {
		if got := field(t, fields, label); got != want {
			t.Errorf("%s = %q, want %q", label, got, want)
		}
	}
	link := p.Blocks[3].Elements
	if len(link) != 1 || link[0].Type != "mrkdwn" || link[0].Text != "<"+hooktest.Central+"|Open Sophos Central>" {
		t.Errorf("link = %+v", link)
	}
	if !strings.Contains(string(b), `"unfurl_links":false,"unfurl_media":false`) || p.UnfurlLinks || p.UnfurlMedia {
		t.Errorf("links are unfurled: %s", b)
	}
}

func TestWhenWithoutZoneIsUTCOnly(t *testing.T) {
	b, err := Render(render.NewView(hooktest.Single("slack"), render.Options{}), nil)
	if err != nil {
		t.Fatal(err)
	}
	p := decode(t, b)
	if got := field(t, p.sections()[0], "When"); got != "2026-03-04 05:07:07 UTC" {
		t.Errorf("When = %q", got)
	}
	if link := p.Blocks[len(p.Blocks)-1].Elements[0].Text; link != "<https://central.sophos.com|Open Sophos Central>" {
		t.Errorf("default link = %q", link)
	}
}

func TestDigestBlockLimit(t *testing.T) {
	for _, tt := range []struct{ n, shown int }{{3, 3}, {47, 47}, {48, 46}, {60, 46}, {500, 46}} {
		b, err := Render(view(hooktest.Digest("slack", tt.n)), nil)
		if err != nil {
			t.Fatal(err)
		}
		p := decode(t, b)
		if len(p.Blocks) > 50 {
			t.Errorf("%d detections: %d blocks, Slack's limit is 50", tt.n, len(p.Blocks))
		}
		secs := p.sections()
		if len(secs) != tt.shown {
			t.Errorf("%d detections: %d sections, want %d", tt.n, len(secs), tt.shown)
		}
		for i, bl := range p.Blocks {
			if bl.Type == "section" && len(bl.Fields) > 0 && (bl.Text == nil || bl.Text.Text != fmt.Sprintf("*Detection %d of %d*", i-1, tt.n)) {
				t.Errorf("%d detections: section %d heading = %+v", tt.n, i, bl.Text)
			}
		}
		last, more := p.Blocks[len(p.Blocks)-1], p.Blocks[len(p.Blocks)-2]
		if last.Type != "context" || !strings.Contains(last.Elements[0].Text, "Open Sophos Central") {
			t.Errorf("%d detections: last block = %+v", tt.n, last)
		}
		wantMore := fmt.Sprintf("… and %d more", tt.n-tt.shown)
		hasMore := more.Type == "context" && len(more.Elements) == 1 && more.Elements[0].Text == wantMore
		if hasMore != (tt.shown < tt.n) {
			t.Errorf("%d detections: block before the link = %+v, want %q: %v", tt.n, more, wantMore, tt.shown < tt.n)
		}
		if p.Text != fmt.Sprintf("%d PUA detections in Contoso", tt.n) {
			t.Errorf("fallback = %q", p.Text)
		}
	}
}

const hostile = "<script>alert(1)</script> <!channel> <!here|here> @here @Channel & *bold* _it_ ~s~ `code` " +
	"[x](http://evil) <http://evil|click> {{DATE(2020-01-01T00:00:00Z)}}\r\nX-Injected: 1\u2028ünïcødé 日本 🙂 :smile:"

func hostileDetection() store.Detection {
	d := hooktest.Det(1)
	d.TenantName = "Tenant " + hostile
	d.Location = "Host " + hostile
	d.User = "User " + hostile
	d.Threat = "Threat " + hostile
	d.Severity = "<b>high</b>"
	d.EventID = "<!everyone>"
	d.Path = `\\fileserver\share\` + strings.Repeat(`a&<b>*c*\`, 230) + hostile // > 2,000 characters
	return d
}

func TestHostileValuesRenderInert(t *testing.T) {
	m := notify.Message{Key: "k", TenantID: hooktest.TenantID, TenantName: "Tenant " + hostile, Detections: []store.Detection{hostileDetection(), hostileDetection()}}
	b, err := Render(view(m), nil)
	if err != nil {
		t.Fatal(err)
	}
	p := decode(t, b)
	for _, s := range p.allText() {
		for _, bad := range []string{"<script>", "</script>", "<!channel>", "<!here", "<!everyone>", "<http://evil", "<b>", "\r", "\u2028"} {
			if strings.Contains(s, bad) {
				t.Errorf("payload text carries %q: %q", bad, s)
			}
		}
		if !utf8.ValidString(s) {
			t.Errorf("invalid UTF-8: %q", s)
		}
	}
	if !strings.Contains(p.Text, "&lt;script&gt;alert(1)&lt;/script&gt;") || !strings.Contains(p.Text, "&amp;") {
		t.Errorf("fallback text not escaped: %q", p.Text)
	}
	if !strings.Contains(p.Text, "@\u2060here") || !strings.Contains(p.Text, "@\u2060Channel") {
		t.Errorf("fallback text mentions not defused: %q", p.Text)
	}
	if h := p.Blocks[0].Text.Text; units(h) > maxHeader || !strings.Contains(h, "&lt;script&gt;") || !strings.HasSuffix(h, "…") {
		t.Errorf("header (%d characters) = %q", units(h), h)
	}
	secs := p.sections()
	if len(secs) != 2 {
		t.Fatalf("%d sections", len(secs))
	}
	for _, label := range []string{"Tenant", "Host", "User", "Threat"} {
		v := field(t, secs[0], label)
		want := "`" + label + " &lt;script&gt;alert(1)&lt;/script&gt; &lt;!channel&gt; &lt;!here|here&gt; @here @Channel &amp; *bold* _it_ ~s~ ˋcodeˋ " +
			"[x](http://evil) &lt;http://evil|click&gt; {{DATE(2020-01-01T00:00:00Z)}}  X-Injected: 1 ünïcødé 日本 🙂 :smile:`"
		if v != want {
			t.Errorf("%s =\n%q, want\n%q", label, v, want)
		}
	}
	if v := field(t, secs[0], "Severity"); v != "`&lt;b&gt;high&lt;/b&gt;`" {
		t.Errorf("Severity = %q", v)
	}
	if v := field(t, secs[0], "Event id"); v != "`&lt;!everyone&gt;`" {
		t.Errorf("Event id = %q", v)
	}
	path := field(t, secs[0], "Path")
	if !strings.HasPrefix(path, "`\\\\fileserver\\share\\a&amp;&lt;b&gt;*c*\\") || !strings.HasSuffix(path, "…`") {
		t.Errorf("path = %q", path)
	}
	for _, f := range secs[0] {
		if units(f.Text) > maxField {
			t.Errorf("field of %d characters, Slack's limit is %d: %.60q", units(f.Text), maxField, f.Text)
		}
		if strings.Count(f.Text, "\n") != 1 && !strings.HasPrefix(f.Text, "*When*") {
			t.Errorf("field spans lines: %.80q", f.Text)
		}
		if strings.Count(f.Text, "`") != 0 && strings.Count(f.Text, "`") != 2 {
			t.Errorf("field has a stray backtick: %.80q", f.Text)
		}
		if strings.Contains(f.Text, "&am…") || strings.Contains(f.Text, "&l…") {
			t.Errorf("cut inside an entity: %q", f.Text[len(f.Text)-20:])
		}
	}
}

func TestHostileDigestStaysWithinBudget(t *testing.T) {
	m := notify.Message{Key: "k", TenantID: hooktest.TenantID}
	for range 47 {
		m.Detections = append(m.Detections, hostileDetection())
	}
	b, err := Render(view(m), nil)
	if err != nil {
		t.Fatal(err)
	}
	p := decode(t, b)
	total := 0
	for _, fields := range p.sections() {
		for _, f := range fields {
			total += units(f.Text)
		}
	}
	n := len(p.sections())
	if n == 0 || n >= 47 || total > detailsBudget {
		t.Errorf("%d sections of %d characters in all; budget %d", n, total, detailsBudget)
	}
	if more := p.Blocks[len(p.Blocks)-2]; more.Elements[0].Text != fmt.Sprintf("… and %d more", 47-n) {
		t.Errorf("more block = %+v", more)
	}
}

func TestTemplateReplacesSections(t *testing.T) {
	path := hooktest.WriteFile(t, "slack.tmpl", `*{{slack .Title}}*{{range .Detections}}
• {{slackcode .Host}} ran {{slackcode .Threat}} as {{slack .User}} <https://example.com/hosts|details>{{end}}`)
	s := hooktest.NewServer(t, hooktest.Answer{Status: 200, Body: "ok"})
	n, err := New(Config{URL: secret.Secret(s.URL + hooktest.SlackPath), Template: path, Location: hooktest.CET}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := hooktest.Single("slack")
	m.Detections[0].Location = "<!channel> *WS*"
	m.Detections[0].User = "@here & co"
	if err := n.Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	reqs := s.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	p := decode(t, reqs[0].Body)
	if len(p.Blocks) != 3 || p.Blocks[0].Type != "header" || p.Blocks[1].Type != "section" || p.Blocks[2].Type != "context" {
		t.Fatalf("blocks = %+v", p.Blocks)
	}
	sec := p.Blocks[1]
	want := "*PUA PsExec on &lt;!channel&gt; *WS* (Contoso)*\n• `&lt;!channel&gt; *WS*` ran `PsExec` as @\u2060here &amp; co <https://example.com/hosts|details>"
	if len(sec.Fields) != 0 || sec.Text == nil || sec.Text.Type != "mrkdwn" || !sec.Text.Verbatim || sec.Text.Text != want {
		t.Errorf("template section = %+v, want text %q", sec, want)
	}
}

func TestTemplateOutputIsCut(t *testing.T) {
	path := hooktest.WriteFile(t, "long.tmpl", `{{range .Detections}}{{slack .Path}}{{end}}`)
	tmpl, err := loadChecked(path)
	if err != nil {
		t.Fatal(err)
	}
	m := hooktest.Single("slack")
	m.Detections[0].Path = strings.Repeat("&", 1990)
	b, err := Render(view(m), tmpl)
	if err != nil {
		t.Fatal(err)
	}
	got := decode(t, b).Blocks[1].Text.Text
	if units(got) > maxSection || !strings.HasSuffix(got, "&amp;…") {
		t.Errorf("cut text of %d characters ends %q", units(got), got[len(got)-12:])
	}
}

func TestBrokenTemplateIsRejected(t *testing.T) {
	s := hooktest.NewServer(t, hooktest.Answer{Status: 200, Body: "ok"})
	for name, content := range map[string]string{
		"parse":   "{{if .Digest}}unclosed",
		"field":   "{{.NoSuchField}}",
		"func":    "{{html .Title}}{{nosuchfunc .Title}}",
		"empty":   "{{if .Digest}}only digests{{end}}",
		"missing": "",
	} {
		path := hooktest.WriteFile(t, name+".tmpl", content)
		if name == "missing" {
			path = filepath.Join(t.TempDir(), "nope.tmpl")
		}
		c := Config{URL: secret.Secret(s.URL + hooktest.SlackPath), Template: path}
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
	s := hooktest.NewServer(t, hooktest.Answer{Status: 200, Body: "ok"})
	n, err := New(Config{URL: secret.Secret(s.URL + hooktest.SlackPath), Location: hooktest.CET, CentralURL: hooktest.Central}, s.Client())
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Notify(context.Background(), hooktest.Digest("slack", 3)); err != nil {
		t.Fatal(err)
	}
	reqs := s.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodPost || r.Path != hooktest.SlackPath || !strings.HasPrefix(r.ContentType, "application/json") || r.UserAgent != "puawatch" {
		t.Errorf("request = %s %s %q %q", r.Method, r.Path, r.ContentType, r.UserAgent)
	}
	want, _ := Render(view(hooktest.Digest("slack", 3)), nil)
	if !bytes.Equal(r.Body, want) {
		t.Errorf("posted body differs from Render:\n%s", r.Body)
	}
	p := decode(t, r.Body)
	if len(p.sections()) != 3 {
		t.Errorf("%d sections", len(p.sections()))
	}
}

func TestEscapers(t *testing.T) {
	for in, want := range map[string]string{
		"a & b <c> d":              "a &amp; b &lt;c&gt; d",
		"<!channel> @here @HERE":   "&lt;!channel&gt; @\u2060here @\u2060HERE",
		"@channels @everyone x@ @": "@\u2060channels @\u2060everyone x@ @",
		"&amp;":                    "&amp;amp;",
		"line\u2028break\npara":    "line break para",
		"*b* _i_ ~s~ `c`":          "*b* _i_ ~s~ `c`",
	} {
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"":            "",
		"  ":          "",
		"*b* `c` <x>": "`*b* ˋcˋ &lt;x&gt;`",
	} {
		if got := Code(in); got != want {
			t.Errorf("Code(%q) = %q, want %q", in, got, want)
		}
	}
	if got := linkURL("https://x.example/a?b=1&c=<2>|3"); got != "https://x.example/a?b=1&amp;c=&lt;2&gt;%7C3" {
		t.Errorf("linkURL = %q", got)
	}
	if got := fit("ab&cd", 7, escapeRune); got != "ab…" {
		t.Errorf("fit = %q", got)
	}
	if got := fit("日本🙂", 3, keepRune); got != "日本…" {
		t.Errorf("fit counts UTF-16 units: %q", got)
	}
}

func TestRenderSample(t *testing.T) {
	b, err := Render(render.Sample(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if p := decode(t, b); len(p.sections()) != 1 {
		t.Errorf("sample: %s", b)
	}
}
