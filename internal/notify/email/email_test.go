package email

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/puawatch/puawatch/internal/fake/sim"
	"github.com/puawatch/puawatch/internal/fake/smtpcapture"
	"github.com/puawatch/puawatch/internal/notify"
	"github.com/puawatch/puawatch/internal/render"
	"github.com/puawatch/puawatch/internal/secret"
	"github.com/puawatch/puawatch/internal/store"
)

const password = "s3cret-Pa55word"

var t0 = time.Date(2025, 3, 4, 10, 20, 30, 0, time.UTC)

func newCerts(t *testing.T) *sim.Certs {
	t.Helper()
	c, err := sim.NewCerts(nil, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func startCapture(t *testing.T, o smtpcapture.Options) *smtpcapture.Server {
	t.Helper()
	s, err := smtpcapture.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func config(s *smtpcapture.Server, mode TLSMode) Config {
	return Config{
		Host: s.Host(), Port: s.Port(), TLS: mode,
		From: "puawatch <puawatch@example.com>", To: []string{"soc@example.com", "Second <second@example.com>"},
		Timeout: 5 * time.Second, HeloName: "puawatch.test",
	}
}

func newNotifier(t *testing.T, c Config) *Notifier {
	t.Helper()
	n, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func det(id string) store.Detection {
	return store.Detection{
		EventID: id, TenantID: "t-1", TenantName: "Acme Corp", Kind: store.KindDetection,
		Type: "Event::Endpoint::CorePuaDetection", Name: "PUA detected: 'PsExec' at 'C:\\tools\\psexec.exe'",
		Severity: "high", Threat: "PsExec", Location: "WS-042", User: `ACME\jdoe`,
		EndpointID: "ep-9", EndpointType: "computer", Path: `C:\tools\psexec.exe`,
		When: t0, CreatedAt: t0.Add(2 * time.Second),
	}
}

func msgOf(key string, ds ...store.Detection) notify.Message {
	return notify.Message{Key: key, Channel: "email", TenantID: "t-1", TenantName: ds[0].TenantName, Digest: len(ds) > 1, Detections: ds}
}

func waitOne(t *testing.T, s *smtpcapture.Server) smtpcapture.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	msgs, err := s.WaitFor(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	return msgs[len(msgs)-1]
}

// checkNoPassword fails if err's text holds the password.
func checkNoPassword(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), password) {
		t.Errorf("error leaks the password: %v", err)
	}
}

func TestSendModes(t *testing.T) {
	certs := newCerts(t)
	for _, tc := range []struct {
		name string
		srv  smtpcapture.Options
		mode TLSMode
		tls  bool
	}{
		{"starttls+auth", smtpcapture.Options{TLS: certs.ServerTLSConfig(), Username: "puawatch", Password: password}, TLSStartTLS, true},
		{"implicit tls+auth", smtpcapture.Options{TLS: certs.ServerTLSConfig(), ImplicitTLS: true, Username: "puawatch", Password: password}, TLSImplicit, true},
		{"none on loopback+auth", smtpcapture.Options{Username: "puawatch", Password: password}, TLSNone, false},
		{"none on loopback", smtpcapture.Options{}, TLSNone, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startCapture(t, tc.srv)
			c := config(s, tc.mode)
			c.RootCAs = certs.ClientPool()
			if tc.srv.Password != "" {
				c.Username, c.Password = "puawatch", secret.Secret(password)
			}
			if err := newNotifier(t, c).Notify(context.Background(), msgOf("ev-1.email", det("ev-1"))); err != nil {
				t.Fatal(err)
			}
			m := waitOne(t, s)
			if m.TLS != tc.tls || m.Auth != tc.srv.Username {
				t.Errorf("TLS %v auth %q, want %v %q", m.TLS, m.Auth, tc.tls, tc.srv.Username)
			}
			if m.From != "puawatch@example.com" || strings.Join(m.To, ",") != "soc@example.com,second@example.com" {
				t.Errorf("envelope %q -> %q", m.From, m.To)
			}
			if got := m.Header.Get("To"); !strings.Contains(got, "soc@example.com") || !strings.Contains(got, "second@example.com") {
				t.Errorf("To header %q", got)
			}
			if m.Header.Get("Date") == "" || m.Header.Get("Auto-Submitted") != "auto-generated" {
				t.Errorf("headers %v", m.Header)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	good := Config{Host: "mail.example.com", From: "a@example.com", To: []string{"b@example.com"}}
	if err := good.Validate(); err != nil {
		t.Fatalf("good config: %v", err)
	}
	for _, tc := range []struct {
		name, want string
		edit       func(*Config)
	}{
		{"no host", "smtp_url: not set", func(c *Config) { c.Host = "" }},
		{"none to remote host", "only allowed to a loopback host", func(c *Config) { c.TLS = TLSNone }},
		{"none to 10.0.0.1", "only allowed to a loopback host", func(c *Config) { c.TLS, c.Host = TLSNone, "10.0.0.1" }},
		{"unknown mode", "not known", func(c *Config) { c.TLS = "maybe" }},
		{"no from", "from: not set", func(c *Config) { c.From = "" }},
		{"bad from", "from: \"not an address\": not a valid address", func(c *Config) { c.From = "not an address" }},
		{"no to", "to: empty", func(c *Config) { c.To = nil }},
		{"bad to", "to: \"x@\": not a valid address", func(c *Config) { c.To = []string{"b@example.com", "x@"} }},
		{"injected to", "control characters", func(c *Config) { c.To = []string{"b@example.com\r\nBcc: e@x"} }},
		{"password without user", "no username", func(c *Config) { c.Password = password }},
		{"bad port", "out of range", func(c *Config) { c.Port = 70000 }},
		{"bad helo", "helo_name: ", func(c *Config) { c.HeloName = "a b" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.edit(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate = %v, want %q", err, tc.want)
			}
			checkNoPassword(t, err)
			if _, err := New(c); err == nil {
				t.Error("New accepted it")
			}
		})
	}
	for _, host := range []string{"localhost", "127.0.0.1", "127.8.9.1", "::1", "[::1]"} {
		c := good
		c.TLS, c.Host = TLSNone, host
		if err := c.Validate(); err != nil {
			t.Errorf("none to %s: %v", host, err)
		}
	}
}

func TestUntrustedCertificateIsPermanent(t *testing.T) {
	certs := newCerts(t)
	for _, mode := range []TLSMode{TLSStartTLS, TLSImplicit} {
		t.Run(string(mode), func(t *testing.T) {
			s := startCapture(t, smtpcapture.Options{TLS: certs.ServerTLSConfig(), ImplicitTLS: mode == TLSImplicit, Username: "u", Password: password})
			c := config(s, mode)
			c.Username, c.Password = "u", password // no RootCAs: the system roots do not know the test CA
			err := newNotifier(t, c).Notify(context.Background(), msgOf("k", det("ev-1")))
			if !notify.IsPermanent(err) {
				t.Fatalf("err = %v, want permanent", err)
			}
			if !strings.Contains(err.Error(), "set ca_file to a PEM file") || strings.Contains(err.Error(), "RootCAs") {
				t.Errorf("err = %v, want advice to set ca_file (not Go's RootCAs)", err)
			}
			checkNoPassword(t, err)
			if len(s.Messages()) != 0 {
				t.Error("message delivered")
			}
		})
	}
}

func TestRejectedRecipientIsPermanent(t *testing.T) {
	s := startCapture(t, smtpcapture.Options{RejectRecipients: []string{"second@example.com"}})
	err := newNotifier(t, config(s, TLSNone)).Notify(context.Background(), msgOf("k", det("ev-1")))
	if !notify.IsPermanent(err) || !strings.Contains(err.Error(), "550") {
		t.Fatalf("err = %v, want permanent 550", err)
	}
	if len(s.Messages()) != 0 {
		t.Error("message delivered")
	}
}

func TestAuthFailureIsPermanentAndRedacted(t *testing.T) {
	certs := newCerts(t)
	s := startCapture(t, smtpcapture.Options{TLS: certs.ServerTLSConfig(), Username: "u", Password: "other-password"})
	c := config(s, TLSStartTLS)
	c.RootCAs, c.Username, c.Password = certs.ClientPool(), "u", password
	err := newNotifier(t, c).Notify(context.Background(), msgOf("k", det("ev-1")))
	if !notify.IsPermanent(err) || !strings.Contains(err.Error(), "535") {
		t.Fatalf("err = %v, want permanent 535", err)
	}
	checkNoPassword(t, err)
}

func TestTemporaryFailureIsRetryable(t *testing.T) {
	var failed atomic.Bool
	s := startCapture(t, smtpcapture.Options{FailNext: func(string) *gosmtp.SMTPError {
		if failed.CompareAndSwap(false, true) {
			return &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
		}
		return nil
	}})
	n := newNotifier(t, config(s, TLSNone))
	err := n.Notify(context.Background(), msgOf("k", det("ev-1")))
	if err == nil || notify.IsPermanent(err) || !strings.Contains(err.Error(), "451") {
		t.Fatalf("err = %v, want retryable 451", err)
	}
	if err := n.Notify(context.Background(), msgOf("k", det("ev-1"))); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if len(s.Messages()) != 1 {
		t.Errorf("%d messages, want 1", len(s.Messages()))
	}
}

// hangingServer accepts connections and never answers.
func hangingServer(t *testing.T) (host string, port int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(done)
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		for _, c := range conns {
			_ = c.Close()
		}
	})
	a := ln.Addr().(*net.TCPAddr)
	return a.IP.String(), a.Port
}

func TestTimeoutsAndCancelAreRetryable(t *testing.T) {
	host, port := hangingServer(t)
	c := Config{Host: host, Port: port, TLS: TLSNone, From: "a@example.com", To: []string{"b@example.com"}, Timeout: 200 * time.Millisecond}
	start := time.Now()
	err := newNotifier(t, c).Notify(context.Background(), msgOf("k", det("ev-1")))
	if err == nil || notify.IsPermanent(err) {
		t.Fatalf("timeout: err = %v, want retryable", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("timeout took %s", d)
	}

	c.Timeout = time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start = time.Now()
	err = newNotifier(t, c).Notify(ctx, msgOf("k", det("ev-1")))
	if err == nil || notify.IsPermanent(err) {
		t.Fatalf("cancel: err = %v, want retryable", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("cancel took %s", d)
	}
}

func TestMessageIDStablePerKey(t *testing.T) {
	s := startCapture(t, smtpcapture.Options{})
	n := newNotifier(t, config(s, TLSNone))
	for _, key := range []string{"ev-1.email", "ev-1.email", "ev-2.email"} {
		if err := n.Notify(context.Background(), msgOf(key, det("ev-1"))); err != nil {
			t.Fatal(err)
		}
	}
	ms := s.Messages()
	if len(ms) != 3 {
		t.Fatalf("%d messages", len(ms))
	}
	if ms[0].MessageID != ms[1].MessageID || ms[0].MessageID == ms[2].MessageID {
		t.Errorf("Message-IDs %q %q %q", ms[0].MessageID, ms[1].MessageID, ms[2].MessageID)
	}
	if want := "<" + MessageID("ev-1.email") + ">"; ms[0].MessageID != want || len(MessageID("x")) != 32+len("@puawatch") {
		t.Errorf("Message-ID %q, want %q", ms[0].MessageID, want)
	}
}

func TestSingleDetectionContent(t *testing.T) {
	s := startCapture(t, smtpcapture.Options{})
	c := config(s, TLSNone)
	c.Location = time.FixedZone("CET", 3600)
	if err := newNotifier(t, c).Notify(context.Background(), msgOf("k", det("ev-1"))); err != nil {
		t.Fatal(err)
	}
	m := waitOne(t, s)
	if want := "[puawatch] PUA PsExec on WS-042 (Acme Corp)"; m.Subject != want {
		t.Errorf("Subject = %q, want %q", m.Subject, want)
	}
	for _, part := range []struct{ name, body string }{{"text", m.Text}, {"html", m.HTML}} {
		for _, want := range []string{
			"Acme Corp", "WS-042", "computer", "PsExec", "Event::Endpoint::CorePuaDetection", "high", "ev-1",
			"2025-03-04 10:20:30 UTC", "2025-03-04 11:20:30 CET", "2025-03-04 10:20:32 UTC", "psexec.exe",
		} {
			if !strings.Contains(part.body, want) {
				t.Errorf("%s part lacks %q:\n%s", part.name, want, part.body)
			}
		}
	}
	if !strings.Contains(m.Text, `ACME\jdoe`) || !strings.Contains(m.Text, `C:\tools\psexec.exe`) {
		t.Errorf("text part lacks user or path:\n%s", m.Text)
	}
	if !strings.Contains(m.Header.Get("Content-Type"), "multipart/alternative") {
		t.Errorf("Content-Type %q", m.Header.Get("Content-Type"))
	}
}

func TestFollowUpSubject(t *testing.T) {
	d := det("ev-9")
	d.Kind, d.Type = store.KindFollowUp, "Event::Endpoint::CorePuaCleanFailed"
	v := render.NewView(msgOf("k", d), render.Options{})
	if got, want := subject(v), "[puawatch] CorePuaCleanFailed: PsExec on WS-042 (Acme Corp)"; got != want || got != "[puawatch] "+v.Title {
		t.Errorf("subject = %q, want %q", got, want)
	}
}

func TestDigestContent(t *testing.T) {
	s := startCapture(t, smtpcapture.Options{})
	a, b, c := det("ev-a"), det("ev-b"), det("ev-c")
	b.Threat, b.Location = "NirSoft", "WS-7"
	c.Threat, c.Location = "AnyDesk", "SRV-1"
	if err := newNotifier(t, config(s, TLSNone)).Notify(context.Background(), msgOf("batch-1", a, b, c)); err != nil {
		t.Fatal(err)
	}
	m := waitOne(t, s)
	if want := "[puawatch] 3 PUA detections in Acme Corp"; m.Subject != want {
		t.Errorf("Subject = %q, want %q", m.Subject, want)
	}
	for _, want := range []string{"ev-a", "ev-b", "ev-c", "NirSoft", "WS-7", "AnyDesk", "SRV-1", "3 of 3"} {
		if !strings.Contains(m.Text, want) || !strings.Contains(m.HTML, want) {
			t.Errorf("a part lacks %q", want)
		}
	}
	if strings.Index(m.Text, "ev-a") > strings.Index(m.Text, "ev-c") {
		t.Error("detections out of order")
	}
}

func TestHostileValues(t *testing.T) {
	s := startCapture(t, smtpcapture.Options{})
	d := det("ev-x")
	d.TenantName = "Évil ünï\r\nBcc: evil@x"
	d.Threat = `<script>alert(1)</script>`
	d.Location = `host"with'quotes` + "\nX-Injected: 1"
	d.User = "Ünïcødé 主机\\用户"
	d.Path = "C:\\" + strings.Repeat("a", 400) + ".exe"
	m := msgOf("k", d)
	if err := newNotifier(t, config(s, TLSNone)).Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	got := waitOne(t, s)

	rawHeader, _, ok := strings.Cut(string(got.Data), "\r\n\r\n")
	if !ok {
		t.Fatal("no header/body separator")
	}
	for _, line := range strings.Split(rawHeader, "\r\n") {
		l := strings.ToLower(line)
		if strings.HasPrefix(l, "bcc:") || strings.HasPrefix(l, "x-injected:") {
			t.Errorf("injected header line %q", line)
		}
	}
	if got.Header.Get("Bcc") != "" || got.Header.Get("X-Injected") != "" {
		t.Errorf("injected header parsed: %v", got.Header)
	}
	if strings.ContainsAny(got.Subject, "\r\n") || len([]rune(got.Subject)) > maxSubject {
		t.Errorf("Subject %q", got.Subject)
	}
	if want := "[puawatch] PUA <script>alert(1)</script> on host\"with'quotes X-Injected: 1 (Évil ünï Bcc: evil@x)"; got.Subject != want {
		t.Errorf("Subject = %q, want %q", got.Subject, want)
	}
	if strings.Contains(got.HTML, "<script>") || !strings.Contains(got.HTML, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("HTML does not escape the threat:\n%s", got.HTML)
	}
	if !strings.Contains(got.HTML, "host&#34;with&#39;quotes") {
		t.Errorf("HTML does not escape the quotes:\n%s", got.HTML)
	}
	// Body values are cleaned by render.Clean: each control character
	// becomes a space, so the text stays on one line.
	for _, want := range []string{`<script>alert(1)</script>`, `host"with'quotes X-Injected: 1`, "Ünïcødé 主机\\用户", d.Path, "Évil ünï  Bcc: evil@x"} {
		if !strings.Contains(got.Text, want) {
			t.Errorf("text part lacks %q:\n%s", want, got.Text)
		}
	}
	if !strings.Contains(got.HTML, "Ünïcødé 主机\\用户") || !strings.Contains(got.HTML, d.Path) {
		t.Errorf("HTML lacks the non-ASCII user or the path")
	}
}

func TestHeaderValue(t *testing.T) {
	for in, want := range map[string]string{
		"a\r\nb":                 "a b",
		"  x\t\ty  ":             "x y",
		"nul\x00byte":            "nul byte",
		"bidi\u202Eevil":         "bidievil",
		"line\u2028sep":          "line sep",
		"bad\xffutf8":            "bad\uFFFDutf8",
		strings.Repeat("é", 100): strings.Repeat("é", 79) + "…",
	} {
		if got := headerValue(in, 80); got != want {
			t.Errorf("headerValue(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want Config
	}{
		{"smtp://mail.example.com", Config{Host: "mail.example.com", Port: 587, TLS: TLSStartTLS}},
		{"smtp://u:" + password + "@mail.example.com:2525", Config{Host: "mail.example.com", Port: 2525, TLS: TLSStartTLS, Username: "u", Password: password}},
		{"smtp://mail.example.com?starttls=required", Config{Host: "mail.example.com", Port: 587, TLS: TLSStartTLS}},
		{"smtp://127.0.0.1:25?starttls=none", Config{Host: "127.0.0.1", Port: 25, TLS: TLSNone}},
		{"smtp://localhost?starttls=none", Config{Host: "localhost", Port: 25, TLS: TLSNone}},
		{"smtp://[::1]:2525?starttls=none", Config{Host: "::1", Port: 2525, TLS: TLSNone}},
		{"smtps://u%40corp:p%3Ass%2Fw@mail.example.com", Config{Host: "mail.example.com", Port: 465, TLS: TLSImplicit, Username: "u@corp", Password: "p:ss/w"}},
		{"SMTPS://mail.example.com:10465/", Config{Host: "mail.example.com", Port: 10465, TLS: TLSImplicit}},
	} {
		got, err := ParseURL(tc.raw)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", tc.raw, err)
			continue
		}
		if got.Host != tc.want.Host || got.Port != tc.want.Port || got.TLS != tc.want.TLS ||
			got.Username != tc.want.Username || got.Password.Reveal() != tc.want.Password.Reveal() {
			t.Errorf("ParseURL(%q) = %+v, want %+v", tc.raw, got, tc.want)
		}
	}

	for _, tc := range []struct{ raw, want string }{
		{"http://u:" + password + "@mail.example.com", `scheme "http" is not supported`},
		{"mail.example.com:587", "scheme"},
		{"smtp://u:" + password + "@mail.example.com?starttls=none", "only allowed to a loopback host"},
		{"smtp://u:" + password + "@mail.example.com?starttls=maybe", "starttls=required"},
		{"smtps://u:" + password + "@mail.example.com?starttls=required", "does not apply to smtps"},
		{"smtp://u:" + password + "@mail.example.com?tls=1", `unknown parameter "tls"`},
		{"smtp://u:" + password + "@mail.example.com:99999", "port"},
		{"smtp://u:" + password + "@mail.example.com/path", "unexpected path"},
		{"smtp://u:" + password + "@", "no host"},
		{"smtp://:" + password + "@mail.example.com", "no user name"},
		{"smtp://u:" + password + "%zz@mail.example.com", "percent-encode"},
		{"smtp://u:" + password + " x@mail.example.com:587", "not a valid URL"},
		{"smtp://mail.example.com:port", "not a valid URL"},
	} {
		_, err := ParseURL(tc.raw)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseURL(%q) = %v, want an error with %q", tc.raw, err, tc.want)
			continue
		}
		checkNoPassword(t, err)
		if strings.Contains(tc.raw, password) && !strings.Contains(err.Error(), "xxxxx") && !strings.Contains(err.Error(), "not a valid URL") && !strings.Contains(err.Error(), "(not shown)") {
			t.Errorf("ParseURL(%q) = %v: the URL is not shown redacted", tc.raw, err)
		}
	}
}

func TestNotifyEmptyMessageIsPermanent(t *testing.T) {
	n := newNotifier(t, Config{Host: "localhost", TLS: TLSNone, From: "a@example.com", To: []string{"b@example.com"}})
	if err := n.Notify(context.Background(), notify.Message{Key: "k"}); !notify.IsPermanent(err) {
		t.Errorf("err = %v", err)
	}
}

func TestSubjectCapped(t *testing.T) {
	d := det("ev-1")
	d.Location = strings.Repeat("h", 300)
	d.Threat = strings.Repeat("t", 300) + "\r\nBcc: evil@x"
	v := render.NewView(msgOf("k", d), render.Options{})
	s := subject(v)
	if n := len([]rune(s)); n != maxSubject {
		t.Errorf("subject has %d runes, want %d", n, maxSubject)
	}
	if want := "[puawatch] PUA " + strings.Repeat("t", maxSubject-len("[puawatch] PUA ")-1) + "…"; s != want {
		t.Errorf("subject = %q, want the title cut at %d runes: %q", s, maxSubject, want)
	}
	if strings.ContainsAny(s, "\r\n") {
		t.Errorf("subject %q holds a line break", s)
	}
}

func TestAuthRequiredIsPermanent(t *testing.T) {
	s := startCapture(t, smtpcapture.Options{Username: "u", Password: password})
	err := newNotifier(t, config(s, TLSNone)).Notify(context.Background(), msgOf("k", det("ev-1")))
	if !notify.IsPermanent(err) || !strings.Contains(err.Error(), "530") || !strings.Contains(err.Error(), "write smtp://user:password@host in smtp_url") {
		t.Fatalf("err = %v, want permanent 530 with advice", err)
	}
}

// TestShortPasswordRedacted: a password of two characters that the
// server echoes is redacted too, and the error's own text (which holds
// the same two letters: "il" in "email") still reads as written.
func TestShortPasswordRedacted(t *testing.T) {
	const pw = "il"
	s := startCapture(t, smtpcapture.Options{Username: "u", Password: pw, FailNext: func(string) *gosmtp.SMTPError {
		return &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 7, 1}, Message: "relay denied for u/" + pw + "/"}
	}})
	c := config(s, TLSNone)
	c.Username, c.Password = "u", pw
	err := newNotifier(t, c).Notify(context.Background(), msgOf("k", det("ev-1")))
	if !notify.IsPermanent(err) {
		t.Fatalf("err = %v, want permanent 550", err)
	}
	if strings.Contains(err.Error(), "u/"+pw+"/") || !strings.Contains(err.Error(), "u/[redacted]/") {
		t.Errorf("the echoed password is not redacted: %v", err)
	}
	if want := "email: send k via " + s.Addr() + ": rejected (550): "; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("err = %q, want it to start %q (its own text unredacted)", err, want)
	}
}
