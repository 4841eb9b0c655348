package config

import (
	"strings"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/glob"
	"github.com/puawatch/puawatch/internal/glob/globtest"
	"github.com/puawatch/puawatch/internal/notify/slack"
	"github.com/puawatch/puawatch/internal/notify/webhook"
	"github.com/puawatch/puawatch/internal/route"
)

func TestValidateRules(t *testing.T) {
	mins := func(m int) Duration { return Duration(time.Duration(m) * time.Minute) }
	tests := []struct {
		name  string
		edit  func(c *Config)
		wants []string // all in one message; nil: valid
	}{
		{"valid", func(c *Config) {}, nil},
		{"no client id", func(c *Config) { c.Sophos.ClientID = " " }, []string{"sophos.client_id (PUAWATCH_CLIENT_ID): not set", "puawatch login"}},
		{"no client secret", func(c *Config) { c.Sophos.ClientSecret = "" }, []string{"sophos.client_secret (PUAWATCH_CLIENT_SECRET): not set", "PUAWATCH_CLIENT_SECRET_FILE"}},
		{"auth url http", func(c *Config) { c.Sophos.AuthURL = "http://id.example.com/token" },
			[]string{`sophos.auth_url (PUAWATCH_AUTH_URL): "http://id.example.com/…" uses plain http`, "use https"}},
		{"api url http", func(c *Config) { c.Sophos.APIURL = "http://10.0.0.1" }, []string{`sophos.api_url (PUAWATCH_API_URL): "http://10.0.0.1" uses plain http`}},
		{"http loopback v4", func(c *Config) { c.Sophos.AuthURL = "http://127.0.0.2:8080/token" }, nil},
		{"http loopback v6", func(c *Config) { c.Sophos.APIURL = "http://[::1]:8080" }, nil},
		{"http localhost", func(c *Config) { c.Sophos.APIURL = "http://LOCALHOST:8080" }, nil},
		{"http localhost lookalike", func(c *Config) { c.Sophos.APIURL = "http://localhost.evil.example" }, []string{"uses plain http"}},
		{"ftp url", func(c *Config) { c.Sophos.APIURL = "ftp://api.example.com" }, []string{`sophos.api_url (PUAWATCH_API_URL): "ftp://api.example.com" is not an https URL: use https`}},
		{"url without host", func(c *Config) { c.Sophos.APIURL = "api.central.sophos.com" }, []string{`sophos.api_url (PUAWATCH_API_URL): not a URL with a scheme and host: write it as https://host/path`}},
		{"url with user", func(c *Config) { c.Sophos.APIURL = "https://u:pw@api.example.com" }, []string{"must not carry a user name or password"}},
		{"url with query", func(c *Config) { c.Sophos.APIURL = "https://api.example.com?x=1" }, []string{"must not have a query"}},
		{"empty url", func(c *Config) { c.Sophos.AuthURL = "" }, []string{"sophos.auth_url (PUAWATCH_AUTH_URL): empty: remove the key to use " + DefaultAuthURL}},
		{"missing ca file", func(c *Config) { c.Sophos.CAFile = "/nonexistent/ca.pem" }, []string{`sophos.ca_file (PUAWATCH_CA_FILE): "/nonexistent/ca.pem" cannot be read`}},
		{"ca file is a dir", func(c *Config) { c.Sophos.CAFile = "." }, []string{`sophos.ca_file (PUAWATCH_CA_FILE): "." is a directory`}},
		{"email ca file is a dir", func(c *Config) {
			c.Email.SMTPURL, c.Email.From, c.Email.To, c.Email.CAFile = "smtp://mail.example.com:587", "a@example.com", []string{"b@example.com"}, "."
		}, []string{`email.ca_file: read .: is a directory`}},
		{"timeout 0", func(c *Config) { c.Sophos.Timeout = 0 }, []string{"sophos.timeout: 0s is shorter than the minimum 1s"}},
		{"bad include glob", func(c *Config) { c.Tenants.Include = []string{"ok*", "[bad"} }, []string{`tenants.include[1]: "[bad" is not a valid pattern`}},
		{"empty exclude", func(c *Config) { c.Tenants.Exclude = []string{""} }, []string{`tenants.exclude[0]: "" is not a valid pattern: it is empty`}},
		{"refresh 0", func(c *Config) { c.Tenants.Refresh = 0 }, []string{"tenants.refresh: 0s is shorter than the minimum 1m"}},
		{"interval 0", func(c *Config) { c.Poll.Interval = 0 }, []string{"poll.interval (PUAWATCH_INTERVAL): 0s is shorter than the minimum 1s"}},
		{"interval 1ns", func(c *Config) { c.Poll.Interval = 1 }, []string{"poll.interval (PUAWATCH_INTERVAL): 1ns is shorter than the minimum 1s: set e.g. 5m"}},
		{"interval 999ms", func(c *Config) { c.Poll.Interval = Duration(999 * time.Millisecond) }, []string{"poll.interval (PUAWATCH_INTERVAL): 999ms is shorter than the minimum 1s"}},
		{"interval 1s", func(c *Config) { c.Poll.Interval = Duration(time.Second) }, nil},
		{"timeout 1ns", func(c *Config) { c.Sophos.Timeout = 1 }, []string{"sophos.timeout: 1ns is shorter than the minimum 1s: set e.g. 30s"}},
		{"refresh 1ns", func(c *Config) { c.Tenants.Refresh = 1 }, []string{"tenants.refresh: 1ns is shorter than the minimum 1m: set e.g. 1h"}},
		{"refresh 1m", func(c *Config) { c.Tenants.Refresh = mins(1) }, nil},
		{"overlap every 1ns", func(c *Config) { c.Poll.OverlapEvery = 1 }, []string{"poll.overlap_every: 1ns is shorter than the minimum 1m: set e.g. 15m"}},
		{"lease 1ns", func(c *Config) { c.Notify.Lease = 1 }, []string{"notify.lease: 1ns is shorter than the minimum 1s: set e.g. 2m"}},
		{"backoff base 1ns", func(c *Config) { c.Notify.BackoffBase = 1 }, []string{"notify.backoff_base: 1ns is shorter than the minimum 1s: set e.g. 30s"}},
		{"short durations at their minimum", func(c *Config) {
			c.Sophos.Timeout, c.Notify.Lease, c.Notify.BackoffBase, c.Notify.BackoffMax = Duration(time.Second), Duration(time.Second), Duration(time.Second), Duration(time.Second)
			c.Poll.OverlapEvery = mins(1)
		}, nil},
		{"interval beyond lag alarm", func(c *Config) { c.Poll.Interval = mins(7 * 60) }, []string{"poll.interval (PUAWATCH_INTERVAL): 7h is not shorter than poll.lag_alarm 6h"}},
		{"lookback 0", func(c *Config) { c.Poll.Lookback = 0 }, []string{"poll.lookback: 0s must be more than 0"}},
		{"lookback 24h", func(c *Config) { c.Poll.Lookback = mins(24 * 60) },
			[]string{"poll.lookback: 24h is more than 23h55m", "set at most 23h55m"}},
		{"lookback max", func(c *Config) { c.Poll.Lookback = Duration(MaxLookback) }, nil},
		{"lookback just over", func(c *Config) { c.Poll.Lookback = Duration(MaxLookback + time.Second) }, []string{"poll.lookback: 23h55m1s is more than 23h55m"}},
		{"initial", func(c *Config) { c.Poll.Initial = "loud" }, []string{`poll.initial: "loud" is not notify or silent`}},
		{"initial silent", func(c *Config) { c.Poll.Initial = "silent" }, nil},
		{"overlap negative", func(c *Config) { c.Poll.Overlap = -1 }, []string{"poll.overlap: -1ns is negative", "set 0"}},
		{"overlap = lookback", func(c *Config) { c.Poll.Overlap = c.Poll.Lookback }, []string{"poll.overlap: 23h45m is not shorter than poll.lookback 23h45m"}},
		{"overlap off", func(c *Config) { c.Poll.Overlap = 0; c.Poll.OverlapEvery = 0 }, nil},
		{"overlap every 0", func(c *Config) { c.Poll.OverlapEvery = 0 }, []string{"poll.overlap_every: 0s is shorter than the minimum 1m"}},
		{"lag alarm 24h", func(c *Config) { c.Poll.LagAlarm = mins(24 * 60); c.Poll.Interval = mins(5) }, []string{"poll.lag_alarm: 24h is not shorter than 24h"}},
		{"lag alarm 0", func(c *Config) { c.Poll.LagAlarm = 0 }, []string{"poll.lag_alarm: 0s must be more than 0"}},
		{"page limit 0", func(c *Config) { c.Poll.PageLimit = 0 }, []string{"poll.page_limit: 0 is not from 1 to 1000"}},
		{"page limit 1001", func(c *Config) { c.Poll.PageLimit = 1001 }, []string{"poll.page_limit: 1001 is not from 1 to 1000"}},
		{"workers -1", func(c *Config) { c.Poll.Workers = -1 }, []string{"poll.workers: -1 is not from 0 to 64", "set 0 to size the pool from the tenant count"}},
		{"workers 65", func(c *Config) { c.Poll.Workers = 65 }, []string{"poll.workers: 65 is not from 0 to 64"}},
		{"workers 0: automatic", func(c *Config) { c.Poll.Workers = 0 }, nil},
		{"workers 64", func(c *Config) { c.Poll.Workers = 64 }, nil},
		{"offset negative", func(c *Config) { c.Poll.OffsetMinutes = -1 }, []string{"poll.offset_minutes: -1 is negative"}},
		{"offset beyond lag alarm", func(c *Config) { c.Poll.OffsetMinutes = 360 }, []string{"poll.offset_minutes: 360 minutes is not shorter than poll.lag_alarm 6h"}},
		{"per second 0", func(c *Config) { c.Poll.Limits.PerSecond = 0 }, []string{"poll.limits.per_second: 0 must be a number more than 0"}},
		{"per minute negative", func(c *Config) { c.Poll.Limits.PerMinute = -1 }, []string{"poll.limits.per_minute: -1 must be a number more than 0"}},
		{"burst 0", func(c *Config) { c.Poll.Limits.MinuteBurst = 0 }, []string{"poll.limits.minute_burst: 0 must be at least 1"}},
		{"no types", func(c *Config) { c.Match.Types = []string{} }, []string{"match.types: empty: nothing would ever match"}},
		{"bad type glob", func(c *Config) { c.Match.Types = []string{"Event::[Pua"} }, []string{`match.types[0]: "Event::[Pua" is not a valid pattern`}},
		{"type glob ok", func(c *Config) { c.Match.Types = []string{"*Pua*Detect*"} }, nil},
		{"empty group", func(c *Config) { c.Match.Groups = []string{"PUA", " "} }, []string{"match.groups[1]: empty"}},
		{"bad severity", func(c *Config) { c.Match.Severities = []string{"high", "severe"} },
			[]string{`match.severities[1]: "severe" is not one of low, medium, high, critical, none`}},
		{"follow ups without types", func(c *Config) { c.Match.FollowUps = true; c.Match.FollowUpTypes = nil },
			[]string{"match.follow_up_types: empty while match.follow_ups is true"}},
		{"no db", func(c *Config) { c.Store.DB = "" }, []string{"store.db (PUAWATCH_DB): empty"}},
		{"mysql", func(c *Config) { c.Store.DB = "mysql://u:zz@h/db" }, []string{`store.db (PUAWATCH_DB): scheme "mysql" is not supported`}},
		{"postgres", func(c *Config) { c.Store.DB = "postgresql://u:p@db.example:5432/pw?sslmode=verify-full" }, nil},
		{"email ok", func(c *Config) {
			c.Email.SMTPURL = "smtps://u:p@mail.example.com:465"
			c.Email.From = "PUA watch <pw@example.com>"
			c.Email.To = []string{"a@example.com"}
		}, nil},
		{"email without from", func(c *Config) {
			c.Email.SMTPURL = "smtp://mail.example.com:587"
			c.Email.To = []string{"a@example.com"}
		},
			[]string{"email.from (PUAWATCH_MAIL_FROM): not set"}},
		{"email without to", func(c *Config) { c.Email.SMTPURL = "smtp://mail.example.com:587"; c.Email.From = "a@example.com" },
			[]string{"email.to (PUAWATCH_MAIL_TO): empty"}},
		{"to without smtp", func(c *Config) { c.Email.To = []string{"a@example.com"} }, []string{"email.smtp_url (PUAWATCH_SMTP_URL): not set while email.from or email.to is"}},
		{"bad from", func(c *Config) {
			c.Email.SMTPURL = "smtp://mail.example.com:587"
			c.Email.From = "not an address"
			c.Email.To = []string{"a@example.com"}
		}, []string{`email.from (PUAWATCH_MAIL_FROM): "not an address": not a valid address`}},
		{"bad to", func(c *Config) {
			c.Email.SMTPURL = "smtp://mail.example.com:587"
			c.Email.From = "a@example.com"
			c.Email.To = []string{"a@example.com", "b@"}
		}, []string{`email.to (PUAWATCH_MAIL_TO): "b@": not a valid address`}},
		{"bad smtp url", func(c *Config) {
			c.Email.SMTPURL = "ftp://mail.example.com:21"
			c.Email.From = "a@example.com"
			c.Email.To = []string{"b@example.com"}
		}, []string{`email.smtp_url (PUAWATCH_SMTP_URL): smtp URL (not shown): scheme "ftp" is not supported`}},
		{"time zone", func(c *Config) { c.Message.TimeZone = "Mars/Olympus" }, []string{`message.time_zone: "Mars/Olympus" is not a known IANA time zone`}},
		{"time zone ok", func(c *Config) { c.Message.TimeZone = "Asia/Tokyo" }, nil},
		{"lease 0", func(c *Config) { c.Notify.Lease = 0 }, []string{"notify.lease: 0s is shorter than the minimum 1s"}},
		{"backoff base 0", func(c *Config) { c.Notify.BackoffBase = 0 }, []string{"notify.backoff_base: 0s is shorter than the minimum 1s"}},
		{"backoff max < base", func(c *Config) { c.Notify.BackoffMax = Duration(10 * time.Second) }, []string{"notify.backoff_max: 10s is shorter than notify.backoff_base 30s"}},
		{"max attempts negative", func(c *Config) { c.Notify.MaxAttempts = -1 }, []string{"notify.max_attempts: -1 is negative"}},
		{"log level", func(c *Config) { c.Log.Level = "INFO" }, []string{`log.level (PUAWATCH_LOG_LEVEL): "INFO" is not debug, info, warn or error`}},
		{"log format", func(c *Config) { c.Log.Format = "xml" }, []string{`log.format (PUAWATCH_LOG_FORMAT): "xml" is not text or json`}},
		{"listen", func(c *Config) { c.Web.Listen = "9090" }, []string{`web.listen (PUAWATCH_LISTEN): "9090" is not host:port`}},
		{"listen port", func(c *Config) { c.Web.Listen = "127.0.0.1:99999" }, []string{`web.listen (PUAWATCH_LISTEN): "127.0.0.1:99999" is not host:port`}},
		{"listen ok", func(c *Config) { c.Web.Listen = "[::1]:9090" }, nil},
		{"listen off", func(c *Config) { c.Web.Listen = "" }, nil},
		{"jsonl stdout", func(c *Config) { c.JSONL.Path = "-" }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.edit(&c)
			err := c.Validate()
			if tt.wants == nil {
				if err != nil {
					t.Fatalf("invalid: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("valid, want %q", tt.wants)
			}
			// One problem, and one message holding every want.
			for _, line := range strings.Split(err.Error(), "\n") {
				ok := true
				for _, w := range tt.wants {
					ok = ok && strings.Contains(line, w)
				}
				if ok {
					return
				}
			}
			t.Errorf("no message holds all of %q:\n%v", tt.wants, err)
		})
	}
}

func TestValidateReportsAll(t *testing.T) {
	c := Default()
	c.Poll.Workers = -1
	c.Poll.PageLimit = 0
	c.Log.Format = "xml"
	err := c.Validate()
	if n := countErrs(err); n != 6 {
		t.Errorf("%d problems, want 6 (client id, secret, store.db, workers, page limit, log format):\n%v", n, err)
	}
}

func TestValidateNeverShowsSecrets(t *testing.T) {
	const s = "Zq9-distinctive-SECRET-77"
	c := validConfig()
	c.Sophos.ClientSecret = s
	c.Sophos.APIURL = "https://u:" + s + "@api.example.com"
	c.Email.SMTPURL = "smtp://user:" + s + "@mail.example.com:25?starttls=none" // password in the clear: refused
	c.Email.From = "x"
	c.Store.DB = "mysql://u:" + s + "@h/db"
	err := c.Validate()
	if err == nil {
		t.Fatal("valid")
	}
	if strings.Contains(err.Error(), s) {
		t.Errorf("Validate shows the secret:\n%v", err)
	}
	wantErr(t, err, "starttls=none (unencrypted SMTP) is only allowed to a loopback host")
}

// TestValidatePatternsAsGlob: every pattern list of the configuration is
// rejected exactly when package glob rejects the pattern, with glob's
// message under the list's path.
func TestValidatePatternsAsGlob(t *testing.T) {
	lists := []struct {
		path string
		set  func(c *Config, pats []string)
	}{
		{"tenants.include[0]", func(c *Config, p []string) { c.Tenants.Include = p }},
		{"tenants.exclude[0]", func(c *Config, p []string) { c.Tenants.Exclude = p }},
		{"match.types[0]", func(c *Config, p []string) { c.Match.Types = p }},
		{"match.follow_up_types[0]", func(c *Config, p []string) { c.Match.FollowUps = true; c.Match.FollowUpTypes = p }},
		{"route.routes[0].match.tenant[0]", func(c *Config, p []string) {
			c.JSONL.Path = "-"
			c.Route = &route.Spec{Receivers: []string{"jsonl"}, Routes: []route.Spec{{Match: route.Match{Tenant: p}, Receivers: []string{"jsonl"}}}}
		}},
		{"route.routes[0].match.threat[0]", func(c *Config, p []string) {
			c.JSONL.Path = "-"
			c.Route = &route.Spec{Receivers: []string{"jsonl"}, Routes: []route.Spec{{Match: route.Match{Threat: p}, Receivers: []string{"jsonl"}}}}
		}},
	}
	for _, gc := range globtest.Cases() {
		_, globErr := glob.Compile(gc.Pattern)
		for _, l := range lists {
			c := validConfig()
			l.set(&c, []string{gc.Pattern})
			err := c.Validate()
			if globErr == nil {
				if err != nil {
					t.Errorf("%s = %q: glob accepts it, Validate says %v", l.path, gc.Pattern, err)
				}
				continue
			}
			if err == nil || !strings.Contains(err.Error(), l.path) || !strings.Contains(err.Error(), globErr.Error()) {
				t.Errorf("%s = %q: Validate says %v, want %q under %s", l.path, gc.Pattern, err, globErr, l.path)
			}
		}
	}
}

// A receiver URL that breaks the URL policy is named once, by its field.
func TestValidateReceiverURLNamedOnce(t *testing.T) {
	c := validConfig()
	c.Receivers = []Receiver{
		{Name: "s", Kind: "slack", Config: &slack.Config{URL: "http://hooks.slack.com/services/T0/B0/SLACKSECRET"}},
		{Name: "w", Kind: "webhook", Config: &webhook.Config{URL: "ftp://x.example/HOOKSECRET"}},
	}
	err := c.Validate()
	if err == nil {
		t.Fatal("valid")
	}
	for _, want := range []string{
		`receivers[0].slack.url: "http://hooks.slack.com/…" uses plain http`,
		`receivers[1].webhook.url: "ftp://x.example/…" is not an https URL`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("no message %q in:\n%v", want, err)
		}
	}
	for _, bad := range []string{"url: receivers", "SECRET"} {
		if strings.Contains(err.Error(), bad) {
			t.Errorf("messages hold %q:\n%v", bad, err)
		}
	}
}
