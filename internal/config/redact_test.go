package config

import (
	"fmt"
	"github.com/puawatch/puawatch/internal/notify/slack"
	"github.com/puawatch/puawatch/internal/notify/webhook"
	"github.com/puawatch/puawatch/internal/secret"
	"github.com/puawatch/puawatch/internal/urlpolicy"
	"reflect"
	"strings"
	"testing"
)

func TestRedacted(t *testing.T) {
	const (
		clientSecret = "Zq9-client-SECRET-77"
		smtpPass     = "Px4-smtp-PASSWORD-55"
		dbPass       = "Db7-database-PASSWORD-33"
	)
	c := validConfig()
	c.Sophos.ClientID = "visible-client-id"
	c.Sophos.ClientSecret = clientSecret
	c.Sophos.TenantName = "Visible Tenant"
	c.Email.SMTPURL = "smtps://mailer:" + smtpPass + "@mail.example.com:465"
	c.Email.From = "pw@example.com"
	c.Email.To = []string{"sec@example.com"}
	c.Store.DB = "postgres://pw:" + dbPass + "@db.example.com:5432/puawatch?sslmode=require&password=" + dbPass
	c.Poll.Interval = Duration(90e9)

	outputs := map[string]string{
		"Redacted": c.Redacted(),
		"String":   c.String(),
		"%v":       fmt.Sprintf("%v", c),
		"%s":       fmt.Sprintf("%s", c), //lint:ignore S1025 the %s verb is what is tested
	}
	for name, out := range outputs {
		for _, s := range []string{clientSecret, smtpPass, dbPass, "SECRET", "PASSWORD"} {
			if strings.Contains(out, s) {
				t.Errorf("%s shows %q:\n%s", name, s, out)
			}
		}
	}
	out := c.Redacted()
	for _, want := range []string{
		"client_id: visible-client-id",
		`client_secret: "[redacted]"`,
		"tenant_name: Visible Tenant",
		`smtp_url: "smtps://mailer:[redacted]@mail.example.com:465"`,
		"db: postgres://pw:[redacted]@db.example.com:5432/puawatch?sslmode=require&password=[redacted]",
		"interval: 1m30s",
		"lookback: 23h45m",
		"- sec@example.com",
		"- Event::Endpoint::CorePuaDetection",
		"auth_url: " + DefaultAuthURL,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("Redacted lacks %q:\n%s", want, out)
		}
	}
	// Every key is shown, but the optional receivers and route.
	for _, p := range allPaths(reflect.TypeFor[Config](), "") {
		if _, old := deprecatedKeys()[p]; old || p == "receivers" || strings.HasPrefix(p, "receivers.") || p == "route" || strings.HasPrefix(p, "route.") {
			continue
		}
		if last := p[strings.LastIndex(p, ".")+1:]; !strings.Contains(out, last+":") {
			t.Errorf("Redacted lacks %s", p)
		}
	}
}

func TestRedactedUnsetSecretIsEmpty(t *testing.T) {
	out := Default().Redacted()
	if !strings.Contains(out, `client_secret: ""`) || !strings.Contains(out, `smtp_url: ""`) {
		t.Errorf("unset secrets should show as empty:\n%s", out)
	}
}

// TestRedactedLoadsBack: without secrets, Redacted is a configuration
// file giving the same Config.
func TestRedactedLoadsBack(t *testing.T) {
	dir := t.TempDir()
	ca := writeCA(t, dir)
	want := fullConfig(ca)
	want.Sophos.ClientSecret = ""
	want.Web.Auth.Users = map[string]secret.Secret{} // a hash is redacted like a secret
	want.Web.Listen = "127.0.0.1:9090"               // without users, loopback only
	p := writeFile(t, dir, "config.yaml", want.Redacted(), 0o644)
	got, err := Load(LoadOptions{Path: p, Env: env("PUAWATCH_CLIENT_SECRET", "csecret")})
	if err != nil {
		t.Fatalf("%v\n%s", err, want.Redacted())
	}
	want.Sophos.ClientSecret = "csecret"
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
	}
}

func TestRedactPassword(t *testing.T) {
	tests := map[string]string{
		"./puawatch.db":                            "./puawatch.db",
		"file:pw.db?_pragma=busy_timeout(5000)":    "file:pw.db?_pragma=busy_timeout(5000)",
		"postgres://u@h/db":                        "postgres://u@h/db",
		"postgres://u:p@h/db":                      "postgres://u:[redacted]@h/db",
		"postgres://u:p%40q@h:5/db?sslmode=x":      "postgres://u:[redacted]@h:5/db?sslmode=x",
		"postgres://h/db?user=u&password=p":        "postgres://h/db?user=u&password=[redacted]",
		"postgres://h/db?sslpassword=p&x=1":        "postgres://h/db?sslpassword=[redacted]&x=1",
		"smtp://mail.example.com:25?starttls=none": "smtp://mail.example.com:25?starttls=none",
		"smtp://u:p@mail.example.com:587":          "smtp://u:[redacted]@mail.example.com:587",
		"smtp://u:p@h:bad port":                    "[redacted]",
	}
	for in, want := range tests {
		if got := urlpolicy.RedactPassword(in); got != want {
			t.Errorf("RedactPassword(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRedactedHidesReceiverSecrets(t *testing.T) {
	c := Default()
	c.Receivers = []Receiver{
		{Name: "s", Kind: "slack", Config: &slack.Config{URL: "https://hooks.slack.com/services/T0/B0/SLACKSECRET"}},
		{Name: "w", Kind: "webhook", Config: &webhook.Config{URL: "https://x.example/HOOKSECRET", Secret: "HMACSECRET", Headers: map[string]string{"X-A": "HEADERSECRET"}}},
	}
	out := c.Redacted()
	for _, s := range []string{"SLACKSECRET", "HOOKSECRET", "HMACSECRET", "HEADERSECRET"} {
		if strings.Contains(out, s) {
			t.Errorf("Redacted shows %s:\n%s", s, out)
		}
	}
	if !strings.Contains(out, "name: w") || !strings.Contains(out, `X-A: "[redacted]"`) {
		t.Errorf("Redacted lacks the receivers:\n%s", out)
	}
}
