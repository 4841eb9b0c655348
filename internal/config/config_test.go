package config

import (
	"github.com/puawatch/puawatch/internal/notify/email"
	"github.com/puawatch/puawatch/internal/notify/syslog"
	"github.com/puawatch/puawatch/internal/notify/webhook"
	"github.com/puawatch/puawatch/internal/route"
	"github.com/puawatch/puawatch/internal/store"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/secret"
)

func TestDefault(t *testing.T) {
	c := Default()
	checks := []struct {
		name      string
		got, want any
	}{
		{"sophos.auth_url", c.Sophos.AuthURL, "https://id.sophos.com/api/v2/oauth2/token"},
		{"sophos.api_url", c.Sophos.APIURL, "https://api.central.sophos.com"},
		{"sophos.timeout", c.Sophos.Timeout.Std(), 30 * time.Second},
		{"tenants.refresh", c.Tenants.Refresh.Std(), time.Hour},
		{"poll.interval", c.Poll.Interval.Std(), 5 * time.Minute},
		{"poll.lookback", c.Poll.Lookback.Std(), 23*time.Hour + 45*time.Minute},
		{"poll.initial", c.Poll.Initial, "notify"},
		{"poll.overlap", c.Poll.Overlap.Std(), time.Hour},
		{"poll.overlap_every", c.Poll.OverlapEvery.Std(), 15 * time.Minute},
		{"poll.lag_alarm", c.Poll.LagAlarm.Std(), 6 * time.Hour},
		{"poll.page_limit", c.Poll.PageLimit, 1000},
		{"poll.workers", c.Poll.Workers, 0},
		{"poll.offset_minutes", c.Poll.OffsetMinutes, 0},
		{"poll.limits.per_second", c.Poll.Limits.PerSecond, 10.0},
		{"poll.limits.per_minute", c.Poll.Limits.PerMinute, 100.0},
		{"poll.limits.minute_burst", c.Poll.Limits.MinuteBurst, 300},
		{"match.types", c.Match.Types, []string{
			"Event::Endpoint::Threat::PuaDetected", "Event::Endpoint::HmpaPuaDetected", "Event::Endpoint::CorePuaDetection",
			"Event::Endpoint::CorePuaRemoteDetection", "Event::Endpoint::HomePuaRemnantsDetected"}},
		{"match.follow_ups", c.Match.FollowUps, false},
		{"match.follow_up_types", c.Match.FollowUpTypes, []string{
			"Event::Endpoint::CorePuaCleanFailed", "Event::Endpoint::Threat::PuaCleanupFailed", "Event::Endpoint::CorePuaRestore",
			"Event::Endpoint::CorePuaRestoreFailed", "Event::Endpoint::CorePuaReboot"}},
		{"store.db", c.Store.DB, ""}, // Load puts it in the state directory
		{"email.smtp_url", c.Email.SMTPURL, secret.Secret("")},
		{"message.time_zone", c.Message.TimeZone, "UTC"},
		{"jsonl.path", c.JSONL.Path, ""},
		{"notify.lease", c.Notify.Lease.Std(), 2 * time.Minute},
		{"notify.backoff_base", c.Notify.BackoffBase.Std(), 30 * time.Second},
		{"notify.backoff_max", c.Notify.BackoffMax.Std(), time.Hour},
		{"notify.max_attempts", c.Notify.MaxAttempts, 0},
		{"log.level", c.Log.Level, "info"},
		{"log.format", c.Log.Format, "text"},
		{"web.listen", c.Web.Listen, "127.0.0.1:9787"},
		{"web.auth", c.Web.Auth.Enabled(), false},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
	// Default lacks only the credentials and the store (whose default
	// depends on the environment).
	err := Default().Validate()
	if n := countErrs(err); n != 3 {
		t.Errorf("Default().Validate() has %d problems, want 3 (client id and secret, store.db):\n%v", n, err)
	}
	wantErr(t, err, "sophos.client_id", "sophos.client_secret", "store.db")
	if err := validConfig().Validate(); err != nil {
		t.Errorf("defaults with credentials: %v", err)
	}
	// Fresh slices each call.
	a := Default()
	a.Match.Types[0] = "changed"
	if Default().Match.Types[0] == "changed" {
		t.Error("Default shares its slices between calls")
	}
}

func TestLoadNoFileIsDefaultsPlusEnv(t *testing.T) {
	dir := t.TempDir()
	sf := writeFile(t, dir, "secret", "csecret\n", 0o600)
	got, err := Load(LoadOptions{Env: env("PUAWATCH_CLIENT_ID", "cid", "PUAWATCH_CLIENT_SECRET_FILE", sf)})
	if err != nil {
		t.Fatal(err)
	}
	want := validConfig()
	want.Sophos.ClientSecretFile = sf
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load = %+v\nwant %+v", got, want)
	}
}

func TestLoadEmptyFileKeepsDefaults(t *testing.T) {
	for name, content := range map[string]string{"empty": "", "comments only": "# nothing here\n", "null document": "~\n", "null sections": "sophos:\npoll:\n  interval:\nmatch:\n  types: ~\n"} {
		t.Run(name, func(t *testing.T) {
			p := writeFile(t, t.TempDir(), "config.yaml", content, 0o644)
			got, err := Load(LoadOptions{Path: p, Env: env("PUAWATCH_CLIENT_ID", "cid", "PUAWATCH_CLIENT_SECRET", "csecret")})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, validConfig()) {
				t.Errorf("Load = %+v\nwant the defaults", got)
			}
		})
	}
}

// TestExample loads testdata/example.yaml, the annotated example in the
// docs, and checks a few of its values.
func TestExample(t *testing.T) {
	dir := t.TempDir()
	sf := writeFile(t, dir, "client_secret", "example-secret\n", 0o600)
	// The example names /run/secrets/...; point the variable at a real file.
	// The example holds webhook secrets, so it must be private to load;
	// git does not keep file modes, so load a private copy.
	data, err := os.ReadFile("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	example := writeFile(t, dir, "example.yaml", string(data), 0o600)
	c, err := Load(LoadOptions{Path: example, Env: env("PUAWATCH_CLIENT_SECRET_FILE", sf)})
	if err != nil {
		t.Fatalf("example.yaml: %v", err)
	}
	if len(c.Receivers) != 6 || c.Receivers[3].Kind != "syslog" || c.Receivers[3].Config.(*syslog.Config).Facility != 4 ||
		c.Receivers[5].Config.(*webhook.Config).Headers["X-Team"] != "soc" {
		t.Errorf("receivers not loaded: %+v", c.Receivers)
	}
	tree, err := c.RouteTree()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range tree.Deliveries(store.Detection{TenantName: "Contoso GmbH", Severity: "low", Type: "Event::Endpoint::CorePuaDetection"}) {
		got = append(got, d.Channel)
	}
	if want := []string{"contoso-it", "email", "soc-slack", "siem"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Contoso detection goes to %v, want %v", got, want)
	}
	if _, err := Load(LoadOptions{Path: "testdata/example.yaml", Env: env("PUAWATCH_CLIENT_SECRET_FILE", sf)}); err == nil ||
		!strings.Contains(err.Error(), "receivers[0].slack.url") {
		t.Errorf("a world-readable file holding webhook URLs must be refused, naming them: %v", err)
	}
	if c.Sophos.ClientID != "5e1a7c3b-8f0d-4b6e-9a2c-1d3f5b7e9a0c" || c.Sophos.ClientSecret.Reveal() != "example-secret" {
		t.Errorf("credentials: %q %q", c.Sophos.ClientID, c.Sophos.ClientSecret.Reveal())
	}
	if !reflect.DeepEqual(c.Tenants.Exclude, []string{"Test *", "*-lab"}) || !c.Match.FollowUps || c.Message.TimeZone != "Europe/Berlin" ||
		c.JSONL.Path != "/var/lib/puawatch/detections.jsonl" || c.Web.Listen != "127.0.0.1:9787" || len(c.Email.To) != 2 {
		t.Errorf("example values not loaded: %s", c.Redacted())
	}
	// The example shows every key: compare with the schema.
	for _, p := range allPaths(reflect.TypeFor[Config](), "") {
		if _, old := deprecatedKeys()[p]; old {
			continue
		}
		last := p[strings.LastIndex(p, ".")+1:]
		if !strings.Contains(string(data), last+":") {
			t.Errorf("example.yaml does not show %s", p)
		}
	}
}

// fullYAML sets every key to a value other than its default.
const fullYAML = `
sophos:
  client_id: my-client
  client_secret_file: ""
  auth_url: http://127.0.0.1:8080/token
  api_url: http://localhost:8080
  ca_file: %[1]s
  timeout: 45s
  tenant_name: Acme
tenants:
  include: [acme*, 11111111-2222-3333-4444-555555555555]
  exclude:
    - "*test*"
  refresh: 30m
poll:
  interval: 90s
  lookback: 12h
  initial: SILENT
  overlap: 0
  overlap_every: 10m
  lag_alarm: 3h
  page_limit: 500
  workers: 8
  offset_minutes: 5
  limits:
    per_second: 2.5
    per_minute: 60
    minute_burst: 20
match:
  types: ["*Pua*Detect*"]
  groups: [PUA]
  severities: [High, critical]
  follow_ups: true
  follow_up_types: [Event::Endpoint::CorePuaCleanFailed]
store:
  db: /var/lib/puawatch/pw.db
email:
  smtp_url: smtp://relay.example.com:25?starttls=required
  from: pw@example.com
  to: [a@example.com, b@example.com]
  ca_file: %[1]s
message:
  time_zone: America/New_York
  central_url: https://central.example.com
route:
  digest_above: 0
jsonl:
  path: "-"
notify:
  lease: 5m
  backoff_base: 10s
  backoff_max: 2h
  max_attempts: 7
log:
  level: DEBUG
  format: json
web:
  listen: ":9090"
  auth:
    users:
      alice: "$2a$04$C5YVWLOfYyTnME8L11q93.G0aO5I5HdBOEwJHYy//xXvE4i8hfGMy"
`

// testHash is the bcrypt hash of "alice-password" (cost 4).
const testHash = "$2a$04$C5YVWLOfYyTnME8L11q93.G0aO5I5HdBOEwJHYy//xXvE4i8hfGMy"

func fullConfig(ca string) Config {
	zero := 0
	return Config{
		Sophos: Sophos{ClientID: "my-client", ClientSecret: "csecret", AuthURL: "http://127.0.0.1:8080/token", APIURL: "http://localhost:8080",
			CAFile: ca, Timeout: Duration(45 * time.Second), TenantName: "Acme"},
		Tenants: Tenants{Include: []string{"acme*", "11111111-2222-3333-4444-555555555555"}, Exclude: []string{"*test*"}, Refresh: Duration(30 * time.Minute)},
		Poll: Poll{Interval: Duration(90 * time.Second), Lookback: Duration(12 * time.Hour), Initial: "silent", Overlap: 0,
			OverlapEvery: Duration(10 * time.Minute), LagAlarm: Duration(3 * time.Hour), PageLimit: 500, Workers: 8, OffsetMinutes: 5,
			Limits: Limits{PerSecond: 2.5, PerMinute: 60, MinuteBurst: 20}},
		Match: Match{Types: []string{"*Pua*Detect*"}, Groups: []string{"PUA"}, Severities: []string{"high", "critical"}, FollowUps: true,
			FollowUpTypes: []string{"Event::Endpoint::CorePuaCleanFailed"}},
		Store: Store{DB: "/var/lib/puawatch/pw.db"},
		Email: Email{Config: email.Config{SMTPURL: "smtp://relay.example.com:25?starttls=required", From: "pw@example.com",
			To: []string{"a@example.com", "b@example.com"}, CAFile: ca}},
		Message: Message{TimeZone: "America/New_York", CentralURL: "https://central.example.com"},
		Route:   &route.Spec{DigestAbove: &zero},
		JSONL:   JSONL{Path: "-"},
		Notify:  Notify{Lease: Duration(5 * time.Minute), BackoffBase: Duration(10 * time.Second), BackoffMax: Duration(2 * time.Hour), MaxAttempts: 7},
		Log:     Log{Level: "debug", Format: "json"},
		Web:     Web{Listen: ":9090", Auth: WebAuth{Users: map[string]secret.Secret{"alice": testHash}}},
	}
}

// TestLoadEveryKey sets every key in a file and compares with the struct
// built in code, so a field the decoder cannot fill is caught.
func TestLoadEveryKey(t *testing.T) {
	dir := t.TempDir()
	ca := writeCA(t, dir)
	p := writeFile(t, dir, "config.yaml", strings.ReplaceAll(fullYAML, "%[1]s", ca), 0o644)
	got, err := Load(LoadOptions{Path: p, Env: env("PUAWATCH_CLIENT_SECRET", "csecret")})
	if err != nil {
		t.Fatal(err)
	}
	if want := fullConfig(ca); !reflect.DeepEqual(got, want) {
		t.Errorf("Load =\n%+v\nwant\n%+v", got, want)
	}
}

func TestStoreDialect(t *testing.T) {
	for db, want := range map[string]string{"./puawatch.db": "sqlite", "file:x.db?_pragma=busy_timeout(5000)": "sqlite",
		"postgres://u@h/db": "postgres", "PostgreSQL://h/db": "postgres"} {
		if got := (Store{DB: db}).Dialect(); got != want {
			t.Errorf("Dialect(%q) = %q, want %q", db, got, want)
		}
	}
}

func TestMessageLocation(t *testing.T) {
	loc, err := Message{}.Location()
	if err != nil || loc != time.UTC {
		t.Errorf("empty time zone: %v %v", loc, err)
	}
	loc, err = Message{TimeZone: "Europe/Berlin"}.Location()
	if err != nil || loc.String() != "Europe/Berlin" {
		t.Errorf("Europe/Berlin: %v %v", loc, err)
	}
}
