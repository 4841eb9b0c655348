package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/puawatch/puawatch/internal/notify"
	"github.com/puawatch/puawatch/internal/render"
	"github.com/puawatch/puawatch/internal/secret"
	"github.com/puawatch/puawatch/internal/store"
)

var update = flag.Bool("update", false, "rewrite golden files")

func view(m notify.Message) render.View {
	return render.NewView(m, render.Options{Location: cet, CentralURL: central})
}

func TestGolden(t *testing.T) {
	for name, m := range map[string]notify.Message{"detection": single(), "followup": followUp(), "digest": digest(3)} {
		t.Run(name, func(t *testing.T) {
			b, err := Render(view(m), nil)
			if err != nil {
				t.Fatal(err)
			}
			decode(t, b)
			var got bytes.Buffer
			if err := json.Indent(&got, b, "", "  "); err != nil {
				t.Fatal(err)
			}
			got.WriteByte('\n')
			path := filepath.Join("testdata", name+".golden.json")
			if *update {
				if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to write it)", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("%s differs from the rendering (go test -update rewrites it)\ngot:\n%s", path, got.Bytes())
			}
		})
	}
}

var labels = []string{"Tenant", "Host", "User", "Threat", "Severity", "Type", "Path", "Clean-up", "When", "Event id"}

func TestSingleDetectionShape(t *testing.T) {
	v := view(single())
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
	if len(link) != 1 || link[0].Type != "mrkdwn" || link[0].Text != "<"+central+"|Open Sophos Central>" {
		t.Errorf("link = %+v", link)
	}
	if !strings.Contains(string(b), `"unfurl_links":false,"unfurl_media":false`) || p.UnfurlLinks || p.UnfurlMedia {
		t.Errorf("links are unfurled: %s", b)
	}
}

func TestWhenWithoutZoneIsUTCOnly(t *testing.T) {
	b, err := Render(render.NewView(single(), render.Options{}), nil)
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
		b, err := Render(view(digest(tt.n)), nil)
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
	d := det(1)
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
	m := notify.Message{Key: "k", TenantID: tenantID, TenantName: "Tenant " + hostile, Detections: []store.Detection{hostileDetection(), hostileDetection()}}
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
	m := notify.Message{Key: "k", TenantID: tenantID}
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

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestTemplateReplacesSections(t *testing.T) {
	path := writeFile(t, "slack.tmpl", `*{{slack .Title}}*{{range .Detections}}
• {{slackcode .Host}} ran {{slackcode .Threat}} as {{slack .User}} <https://example.com/hosts|details>{{end}}`)
	s := newServer(t, answer{status: 200, body: "ok"})
	n, err := New(Config{URL: secret.Secret(s.URL + hookPath), Template: path, Location: cet}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := single()
	m.Detections[0].Location = "<!channel> *WS*"
	m.Detections[0].User = "@here & co"
	if err := n.Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	reqs := s.requests()
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
	path := writeFile(t, "long.tmpl", `{{range .Detections}}{{slack .Path}}{{end}}`)
	tmpl, err := LoadTemplate(path)
	if err != nil {
		t.Fatal(err)
	}
	m := single()
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
	s := newServer(t, answer{status: 200, body: "ok"})
	for name, content := range map[string]string{
		"parse":   "{{if .Digest}}unclosed",
		"field":   "{{.NoSuchField}}",
		"func":    "{{html .Title}}{{nosuchfunc .Title}}",
		"empty":   "{{if .Digest}}only digests{{end}}",
		"missing": "",
	} {
		path := writeFile(t, name+".tmpl", content)
		if name == "missing" {
			path = filepath.Join(t.TempDir(), "nope.tmpl")
		}
		c := Config{URL: secret.Secret(s.URL + hookPath), Template: path}
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), "template") {
			t.Errorf("%s: Validate = %v, want an error naming the template", name, err)
		}
		if _, err := New(c, nil); err == nil || !strings.Contains(err.Error(), "template") {
			t.Errorf("%s: New = %v", name, err)
		}
	}
}

func TestValidate(t *testing.T) {
	for name, tt := range map[string]struct {
		c    Config
		want string // "" for valid
	}{
		"https":        {Config{URL: "https://hooks.slack.com" + hookPath}, ""},
		"loopback":     {Config{URL: "http://127.0.0.1:8080" + hookPath, Timeout: time.Second, CentralURL: central}, ""},
		"localhost":    {Config{URL: "http://localhost" + hookPath}, ""},
		"empty":        {Config{}, "url: no webhook URL"},
		"plain http":   {Config{URL: "http://hooks.slack.com" + hookPath}, "url: http://hooks.slack.com/… is plain http"},
		"not a URL":    {Config{URL: "hooks.slack.com" + hookPath}, "url: not a URL"},
		"scheme":       {Config{URL: "ftp://hooks.slack.com" + hookPath}, "url: scheme \"ftp\""},
		"garbage":      {Config{URL: "https://hooks.slack.com/%zz/SECRETtoken0123456789abc"}, "url: not a URL"},
		"central":      {Config{URL: "https://hooks.slack.com" + hookPath, CentralURL: "javascript:alert(1)"}, "central_url"},
		"timeout":      {Config{URL: "https://hooks.slack.com" + hookPath, Timeout: -time.Second}, "timeout"},
		"two problems": {Config{URL: "http://example.com" + hookPath, Timeout: -1}, "timeout"},
	} {
		err := tt.c.Validate()
		if tt.want == "" {
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Validate = %v, want %q", name, err, tt.want)
			continue
		}
		if strings.Contains(err.Error(), "SECRET") || strings.Contains(err.Error(), "T0000AAAA") || strings.Contains(err.Error(), "B0000BBBB") {
			t.Errorf("%s: the error shows the secret: %v", name, err)
		}
		if _, nerr := New(tt.c, nil); nerr == nil {
			t.Errorf("%s: New accepted an invalid config", name)
		}
	}
}

func TestNotifyPosts(t *testing.T) {
	s := newServer(t, answer{status: 200, body: "ok"})
	n, err := New(Config{URL: secret.Secret(s.URL + hookPath), Location: cet, CentralURL: central}, s.Client())
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Notify(context.Background(), digest(3)); err != nil {
		t.Fatal(err)
	}
	reqs := s.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodPost || r.Path != hookPath || !strings.HasPrefix(r.ContentType, "application/json") || r.UserAgent != "puawatch" {
		t.Errorf("request = %s %s %q %q", r.Method, r.Path, r.ContentType, r.UserAgent)
	}
	want, _ := Render(view(digest(3)), nil)
	if !bytes.Equal(r.Body, want) {
		t.Errorf("posted body differs from Render:\n%s", r.Body)
	}
	p := decode(t, r.Body)
	if len(p.sections()) != 3 {
		t.Errorf("%d sections", len(p.sections()))
	}
	if err := n.Notify(context.Background(), notify.Message{Key: "empty"}); !notify.IsPermanent(err) {
		t.Errorf("empty message: %v, want a permanent error", err)
	}
}

// checkRedacted fails when err shows more of the webhook URL than its
// scheme and host.
func checkRedacted(t *testing.T, err error) {
	t.Helper()
	for _, bad := range []string{"SECRET", "T0000AAAA", "/services", "0123456789abc"} {
		if strings.Contains(err.Error(), bad) {
			t.Errorf("error shows the webhook URL (%s): %v", bad, err)
		}
	}
}

func TestFailures(t *testing.T) {
	ctx := context.Background()
	t.Run("500 then 200", func(t *testing.T) {
		s := newServer(t, answer{status: 500, body: "internal error"}, answer{status: 200, body: "ok"})
		n, err := New(Config{URL: secret.Secret(s.URL + hookPath)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = n.Notify(ctx, single())
		if err == nil || notify.IsPermanent(err) {
			t.Fatalf("first Notify = %v, want a retryable error", err)
		}
		var ra *notify.RetryAfterError
		if errors.As(err, &ra) {
			t.Errorf("500 without Retry-After gave %v", err)
		}
		checkRedacted(t, err)
		if !strings.Contains(err.Error(), "HTTP 500") || !strings.Contains(err.Error(), "k-single") {
			t.Errorf("error = %v", err)
		}
		if err := n.Notify(ctx, single()); err != nil {
			t.Errorf("second Notify = %v", err)
		}
		if len(s.requests()) != 2 {
			t.Errorf("%d requests", len(s.requests()))
		}
	})
	t.Run("429 Retry-After", func(t *testing.T) {
		s := newServer(t, answer{status: 429, retryAfter: "3", body: "rate_limited"})
		n, _ := New(Config{URL: secret.Secret(s.URL + hookPath)}, nil)
		err := n.Notify(ctx, single())
		var ra *notify.RetryAfterError
		if !errors.As(err, &ra) || ra.After != 3*time.Second || notify.IsPermanent(err) {
			t.Fatalf("Notify = %v, want a RetryAfterError of 3s", err)
		}
		checkRedacted(t, err)
	})
	for _, tt := range []struct {
		status int
		body   string
	}{{400, "invalid_payload"}, {401, "invalid_token"}, {403, "invalid_token"}, {404, "no_service"}, {410, "channel_is_archived"}} {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			s := newServer(t, answer{status: tt.status, body: tt.body + " for $PATH"})
			n, _ := New(Config{URL: secret.Secret(s.URL + hookPath + "?token=SECRETquery0123456789")}, nil)
			err := n.Notify(ctx, single())
			if !notify.IsPermanent(err) {
				t.Fatalf("Notify = %v, want permanent", err)
			}
			if !strings.Contains(err.Error(), tt.body) || !strings.Contains(err.Error(), "http://127.0.0.1") {
				t.Errorf("error = %v, want the answer and the host", err)
			}
			checkRedacted(t, err)
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		s := newServer(t, answer{status: 200})
		url := s.URL + hookPath
		s.Close()
		n, _ := New(Config{URL: secret.Secret(url)}, nil)
		err := n.Notify(ctx, single())
		if err == nil || notify.IsPermanent(err) {
			t.Fatalf("Notify = %v, want a retryable error", err)
		}
		checkRedacted(t, err)
	})
	t.Run("timeout", func(t *testing.T) {
		block := make(chan struct{})
		s := newServer(t, answer{status: 200})
		s.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-block:
			}
		})
		defer close(block)
		n, _ := New(Config{URL: secret.Secret(s.URL + hookPath), Timeout: 50 * time.Millisecond}, nil)
		start := time.Now()
		err := n.Notify(ctx, single())
		if err == nil || notify.IsPermanent(err) || time.Since(start) > 5*time.Second {
			t.Fatalf("Notify = %v after %s, want a retryable timeout", err, time.Since(start))
		}
		checkRedacted(t, err)
	})
	t.Run("redirect", func(t *testing.T) {
		target := newServer(t, answer{status: 200, body: "ok"})
		s := newServer(t, answer{status: 200})
		s.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.URL+"/elsewhere", http.StatusTemporaryRedirect)
		})
		n, _ := New(Config{URL: secret.Secret(s.URL + hookPath)}, nil)
		err := n.Notify(ctx, single())
		if !notify.IsPermanent(err) || len(target.requests()) != 0 {
			t.Fatalf("Notify = %v, %d requests to the redirect target; want permanent and none", err, len(target.requests()))
		}
		checkRedacted(t, err)
	})
}

func TestDefaultClientVerifiesCertificates(t *testing.T) {
	s := newServer(t, answer{status: 200, body: "ok"})
	s.Close()
	tlsSrv := newTLSServer(t)
	n, err := New(Config{URL: secret.Secret(tlsSrv.URL + hookPath)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = n.Notify(context.Background(), single())
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("Notify to a self-signed server = %v, want a certificate error", err)
	}
	checkRedacted(t, err)
	// The test server's own client trusts it: the payload goes through.
	n, _ = New(Config{URL: secret.Secret(tlsSrv.URL + hookPath)}, tlsSrv.Client())
	if err := n.Notify(context.Background(), single()); err != nil {
		t.Fatal(err)
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
