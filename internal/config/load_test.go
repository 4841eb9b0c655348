package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/store"
)

// TestEnvOverrides sets each variable over a file that sets the same key
// to something else: the variable wins.
func TestEnvOverrides(t *testing.T) {
	dir := t.TempDir()
	fileSecret := writeFile(t, dir, "file-secret", "from-file\n", 0o600)
	envSecret := writeFile(t, dir, "env-secret", "from-env-file\n", 0o600)
	ca := writeCA(t, dir)
	cfgFile := writeFile(t, dir, "config.yaml", fmt.Sprintf(`
sophos:
  client_id: file-id
  client_secret_file: %s
  auth_url: https://auth.file.example/token
  api_url: https://api.file.example
  tenant_name: File Tenant
poll:
  interval: 10m
store:
  db: file.db
email:
  smtp_url: smtp://file.example:25
  from: file@example.com
  to: [file@example.com]
jsonl:
  path: file.jsonl
log:
  level: error
  format: text
listen: "127.0.0.1:1"
`, fileSecret), 0o644)

	tests := []struct {
		name, value string
		check       func(c Config) any
		want        any
	}{
		{"PUAWATCH_CLIENT_ID", "env-id", func(c Config) any { return c.Sophos.ClientID }, "env-id"},
		{"PUAWATCH_CLIENT_SECRET", "from-env", func(c Config) any { return c.Sophos.ClientSecret.Reveal() + "|" + c.Sophos.ClientSecretFile }, "from-env|"},
		{"PUAWATCH_CLIENT_SECRET_FILE", envSecret, func(c Config) any { return c.Sophos.ClientSecret.Reveal() }, "from-env-file"},
		{"PUAWATCH_AUTH_URL", "http://127.0.0.1:9/token", func(c Config) any { return c.Sophos.AuthURL }, "http://127.0.0.1:9/token"},
		{"PUAWATCH_API_URL", "https://api.env.example", func(c Config) any { return c.Sophos.APIURL }, "https://api.env.example"},
		{"PUAWATCH_CA_FILE", ca, func(c Config) any { return c.Sophos.CAFile }, ca},
		{"PUAWATCH_TENANT_NAME", "Env Tenant", func(c Config) any { return c.Sophos.TenantName }, "Env Tenant"},
		{"PUAWATCH_INTERVAL", "45s", func(c Config) any { return c.Poll.Interval.Std() }, 45 * time.Second},
		{"PUAWATCH_DB", "postgres://pw@db.example/puawatch", func(c Config) any { return c.Store.DB }, "postgres://pw@db.example/puawatch"},
		{"PUAWATCH_SMTP_URL", "smtps://u:p@mail.env.example:465", func(c Config) any { return c.Email.SMTPURL.Reveal() }, "smtps://u:p@mail.env.example:465"},
		{"PUAWATCH_MAIL_FROM", "env@example.com", func(c Config) any { return c.Email.From }, "env@example.com"},
		{"PUAWATCH_MAIL_TO", " a@example.com, b@example.com,,", func(c Config) any { return c.Email.To }, []string{"a@example.com", "b@example.com"}},
		{"PUAWATCH_JSONL", "-", func(c Config) any { return c.JSONL.Path }, "-"},
		{"PUAWATCH_LOG_LEVEL", "DEBUG", func(c Config) any { return c.Log.Level }, "debug"},
		{"PUAWATCH_LOG_FORMAT", "json", func(c Config) any { return c.Log.Format }, "json"},
		{"PUAWATCH_LISTEN", "127.0.0.1:9100", func(c Config) any { return c.Web.Listen + "|" + c.Listen }, "127.0.0.1:9100|"},
		{"PUAWATCH_WEB_TOKEN", "env-token-0123456789", func(c Config) any { return c.Web.Auth.Token.Reveal() }, "env-token-0123456789"},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		seen[tt.name] = true
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(LoadOptions{Path: cfgFile, Env: env(tt.name, tt.value)})
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.check(c); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range envVars() {
		if !seen[e.name] {
			t.Errorf("%s has no test case", e.name)
		}
		if !strings.Contains(string(doc), e.name) {
			t.Errorf("%s is not in doc.go's table", e.name)
		}
	}
	// Without variables the file's values stand.
	c, err := Load(LoadOptions{Path: cfgFile, Env: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	if c.Sophos.ClientID != "file-id" || c.Sophos.ClientSecret.Reveal() != "from-file" || c.Poll.Interval.Std() != 10*time.Minute || c.Log.Level != "error" {
		t.Errorf("file values lost: %s", c.Redacted())
	}
}

func TestEnvErrors(t *testing.T) {
	dir := t.TempDir()
	sf := writeFile(t, dir, "s", "x", 0o600)
	tests := []struct {
		name  string
		env   func(string) string
		wants []string
	}{
		{"bad interval", env("PUAWATCH_CLIENT_ID", "c", "PUAWATCH_CLIENT_SECRET", "s", "PUAWATCH_INTERVAL", "five"),
			[]string{"PUAWATCH_INTERVAL (poll.interval)", `"five" is not a duration`}},
		{"interval 1ns", env("PUAWATCH_CLIENT_ID", "c", "PUAWATCH_CLIENT_SECRET", "s", "PUAWATCH_INTERVAL", "1ns"),
			[]string{"poll.interval (PUAWATCH_INTERVAL): 1ns is shorter than the minimum 1s"}},
		{"interval without unit", env("PUAWATCH_CLIENT_ID", "c", "PUAWATCH_CLIENT_SECRET", "s", "PUAWATCH_INTERVAL", "300"),
			[]string{"PUAWATCH_INTERVAL", "300 has no unit", "300s"}},
		{"both secrets", env("PUAWATCH_CLIENT_ID", "c", "PUAWATCH_CLIENT_SECRET", "s", "PUAWATCH_CLIENT_SECRET_FILE", sf),
			[]string{"PUAWATCH_CLIENT_SECRET and PUAWATCH_CLIENT_SECRET_FILE are both set"}},
		{"bad level", env("PUAWATCH_CLIENT_ID", "c", "PUAWATCH_CLIENT_SECRET", "s", "PUAWATCH_LOG_LEVEL", "loud"),
			[]string{`log.level (PUAWATCH_LOG_LEVEL): "loud" is not debug, info, warn or error`}},
		{"missing secret file", env("PUAWATCH_CLIENT_ID", "c", "PUAWATCH_CLIENT_SECRET_FILE", dir+"/nope"),
			[]string{"sophos.client_secret_file", dir + "/nope", "no such file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(LoadOptions{Env: tt.env})
			wantErr(t, err, tt.wants...)
		})
	}
}

func TestBothSecretsInFile(t *testing.T) {
	dir := t.TempDir()
	sf := writeFile(t, dir, "s", "x", 0o600)
	p := writeFile(t, dir, "config.yaml", "sophos:\n  client_id: c\n  client_secret: inline\n  client_secret_file: "+sf+"\n", 0o600)
	_, err := Load(LoadOptions{Path: p, Env: noEnv})
	wantErr(t, err, "sophos.client_secret and sophos.client_secret_file are both set")
}

func TestUnknownKeys(t *testing.T) {
	tests := []struct {
		name, yaml string
		wants      []string
	}{
		{"top-level typo", "sophos:\n  client_id: x\n\n\npol:\n  interval: 5m\n", []string{`config.yaml:5: unknown key "pol" (did you mean "poll"?)`}},
		{"nested typo", "poll:\n  intervall: 5m\n", []string{`config.yaml:2: unknown key "intervall" in poll (did you mean "interval"?)`}},
		{"camel case", "sophos:\n  clientId: x\n", []string{`config.yaml:2: unknown key "clientId" in sophos (did you mean "client_id"?)`}},
		{"dashes", "poll:\n  lag-alarm: 1h\n", []string{`unknown key "lag-alarm" in poll (did you mean "lag_alarm"?)`}},
		{"key in the wrong section", "interval: 5m\n", []string{`config.yaml:1: unknown key "interval" (did you mean "poll.interval"?)`}},
		{"ambiguous section", "ca_file: x\n", []string{`unknown key "ca_file" (did you mean "sophos.ca_file" or "email.ca_file" or "receivers.email.ca_file" or "receivers.syslog.ca_file"?)`}},
		{"nothing close", "log:\n  colour: red\n", []string{`config.yaml:2: unknown key "colour" in log (known keys: format, level)`}},
		{"deep", "poll:\n  limits:\n    per_hour: 1\n", []string{`config.yaml:3: unknown key "per_hour" in poll.limits`}},
		{"every one reported", "pol: 1\nemail:\n  too: [x]\n", []string{`:1: unknown key "pol"`, `:3: unknown key "too" in email (did you mean "to"?)`}},
		{"flow mapping", "poll: {interval: 5m, workerz: 3}\n", []string{`config.yaml:1: unknown key "workerz" in poll (did you mean "workers"?)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			p := writeFile(t, dir, "config.yaml", tt.yaml, 0o644)
			_, err := Load(LoadOptions{Path: p, Env: noEnv})
			// Errors start with the path as given; shorten it for the wants.
			if err != nil {
				err = errors.New(strings.ReplaceAll(err.Error(), dir+"/", ""))
			}
			wantErr(t, err, tt.wants...)
		})
	}
}

func TestTypeErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		wants      []string
	}{
		{"int from string", "poll:\n  workers: four\n", []string{`config.yaml:2: poll.workers: expected a whole number, got a string ("four")`}},
		{"int from float", "poll:\n  page_limit: 1.5\n", []string{`config.yaml:2: poll.page_limit: expected a whole number, got a number ("1.5")`}},
		{"float from string", "poll:\n  limits:\n    per_second: fast\n", []string{`config.yaml:3: poll.limits.per_second: expected a number`}},
		{"bool from yes", "match:\n  follow_ups: yes\n", []string{`config.yaml:2: match.follow_ups: expected true or false, got a string ("yes")`}},
		{"bool from number", "email:\n  digest: 1\n", []string{`email.digest: expected true or false`}},
		{"duration", "poll:\n  interval: 5 minutes\n", []string{`config.yaml:2: poll.interval: "5 minutes" is not a duration`}},
		{"duration bare number", "poll:\n  interval: 300\n", []string{`config.yaml:2: poll.interval: 300 has no unit: write 300s for seconds or 300m for minutes`}},
		{"duration list", "poll:\n  interval: [5m]\n", []string{`poll.interval: expected a duration such as 5m, got a list`}},
		{"string from list", "log:\n  level: [info]\n", []string{`config.yaml:2: log.level: expected a string, got a list`}},
		{"list from string", "email:\n  to: a@example.com\n", []string{`config.yaml:2: email.to: expected a list, got a string`}},
		{"list item mapping", "tenants:\n  include:\n    - a\n    - {b: c}\n", []string{`config.yaml:4: tenants.include[1]: expected a string, got a mapping`}},
		{"section from scalar", "poll: fast\n", []string{`config.yaml:1: poll: expected a mapping`}},
		{"top level list", "- a\n- b\n", []string{`config.yaml:1: the top level: expected a mapping`}},
		{"overflow", "poll:\n  workers: 99999999999999999999\n", []string{`config.yaml:2: poll.workers: 99999999999999999999 is too large`}},
		{"secret from mapping", "sophos:\n  client_secret: {a: b}\n", []string{`config.yaml:2: sophos.client_secret: expected a string, got a mapping`}},
		{"duplicate key", "poll:\n  workers: 1\n  workers: 2\n", []string{`config.yaml:3: invalid YAML: mapping key "workers" already defined`}},
		{"syntax", "poll:\n  interval: \"5m\n", []string{`config.yaml:2: invalid YAML`}},
		{"two documents", "poll:\n  workers: 1\n---\npoll:\n  workers: 2\n", []string{`config.yaml:4: holds 2 YAML documents`}},
		{"merge key", "base: &b {workers: 2}\n", []string{`unknown key "base"`}},
		{"merge key used", "poll:\n  <<: {workers: 2}\n", []string{`config.yaml:2: merge keys (<<) are not supported`}},
		{"all at once", "poll:\n  workers: x\n  page_limit: y\nlog:\n  level: [a]\n", []string{`:2: poll.workers`, `:3: poll.page_limit`, `:5: log.level`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			p := writeFile(t, dir, "config.yaml", tt.yaml, 0o644)
			_, err := Load(LoadOptions{Path: p, Env: noEnv})
			if err != nil {
				err = errors.New(strings.ReplaceAll(err.Error(), dir+"/", ""))
			}
			wantErr(t, err, tt.wants...)
		})
	}
}

func TestScalarsKeptAsWritten(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "config.yaml", `
sophos:
  client_id: 0123
  client_secret: 00042
  tenant_name: yes
tenants:
  include: &pats [a*, b*]
  exclude: *pats
`, 0o600)
	c, err := Load(LoadOptions{Path: p, Env: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	if c.Sophos.ClientID != "0123" || c.Sophos.ClientSecret.Reveal() != "00042" || c.Sophos.TenantName != "yes" {
		t.Errorf("scalars changed: id %q secret %q name %q", c.Sophos.ClientID, c.Sophos.ClientSecret.Reveal(), c.Sophos.TenantName)
	}
	if !reflect.DeepEqual(c.Tenants.Exclude, []string{"a*", "b*"}) {
		t.Errorf("alias: exclude = %v", c.Tenants.Exclude)
	}
}

func TestErrorsNeverQuoteSecrets(t *testing.T) {
	const s = "Zq9-distinctive-SECRET-77"
	for name, content := range map[string]string{
		"syntax error on the secret's line": "sophos:\n  client_secret: \"" + s + "\n",
		"type error beside the secret":      "sophos:\n  client_secret: " + s + "\npoll:\n  workers: x\n",
		"unknown key beside the secret":     "sophos:\n  client_secret: " + s + "\n  clientid: x\n",
		"bad SMTP URL":                      "email:\n  smtp_url: smtp://user:" + s + "@host\n  from: a@example.com\n  to: [b@example.com]\n",
		"SMTP URL without host":             "email:\n  smtp_url: smtp://user:" + s + "\n",
		"password in the clear":             "email:\n  smtp_url: smtp://user:" + s + "@mail.example.com:25?starttls=none\n",
		"bad DB URL":                        "store:\n  db: mysql://u:" + s + "@h/db\n",
	} {
		t.Run(name, func(t *testing.T) {
			p := writeFile(t, t.TempDir(), "config.yaml", content, 0o600)
			_, err := Load(LoadOptions{Path: p, Env: noEnv})
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), s) || strings.Contains(err.Error(), "distinctive") {
				t.Errorf("error shows the secret:\n%v", err)
			}
		})
	}
}

func TestSecretFile(t *testing.T) {
	tests := []struct {
		name, content string
		want          string
		wantErr       []string
	}{
		{"newline trimmed", "s3cret\n", "s3cret", nil},
		{"CRLF trimmed", "s3cret\r\n", "s3cret", nil},
		{"no newline", "s3cret", "s3cret", nil},
		{"several newlines", "s3cret\n\n", "s3cret", nil},
		{"inner spaces kept", "a b\n", "a b", nil},
		{"empty", "", "", []string{"sophos.client_secret_file", "is empty", "write the client secret into it"}},
		{"only a newline", "\n", "", []string{"is empty"}},
		{"two lines", "a\nb\n", "", []string{"holds more than one line"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sf := writeFile(t, t.TempDir(), "secret", tt.content, 0o600)
			c, err := Load(LoadOptions{Env: env("PUAWATCH_CLIENT_ID", "c", "PUAWATCH_CLIENT_SECRET_FILE", sf)})
			if tt.wantErr != nil {
				wantErr(t, err, append(tt.wantErr, sf)...)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Sophos.ClientSecret.Reveal() != tt.want {
				t.Errorf("secret = %q, want %q", c.Sophos.ClientSecret.Reveal(), tt.want)
			}
		})
	}
	t.Run("directory", func(t *testing.T) {
		dir := t.TempDir()
		_, err := Load(LoadOptions{Env: env("PUAWATCH_CLIENT_ID", "c", "PUAWATCH_CLIENT_SECRET_FILE", dir)})
		wantErr(t, err, "is a directory")
	})
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(LoadOptions{Path: t.TempDir() + "/none.yaml", Env: noEnv})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v, want fs.ErrNotExist", err)
	}
}

func TestStoredCredentialsFallback(t *testing.T) {
	dir := t.TempDir()
	creds := dir + "/creds/credentials.yaml"
	if err := SaveCredentials(creds, StoredCredentials{ClientID: "stored-id", ClientSecret: "stored-secret", APIURL: "http://127.0.0.1:7000"}); err != nil {
		t.Fatal(err)
	}
	sf := writeFile(t, dir, "secret", "file-secret\n", 0o600)
	tests := []struct {
		name       string
		file       string // config file content; "" = no file
		env        func(string) string
		wantID     string
		wantSecret string
		wantAPI    string
	}{
		{"nothing else: stored", "", noEnv, "stored-id", "stored-secret", "http://127.0.0.1:7000"},
		{"file without credentials: stored", "poll:\n  workers: 2\n", noEnv, "stored-id", "stored-secret", "http://127.0.0.1:7000"},
		{"file sets api_url: kept", "sophos:\n  api_url: https://api.example\n", noEnv, "stored-id", "stored-secret", "https://api.example"},
		{"env api url wins", "", env("PUAWATCH_API_URL", "https://api.env.example"), "stored-id", "stored-secret", "https://api.env.example"},
		{"env id: not stored", "", env("PUAWATCH_CLIENT_ID", "env-id", "PUAWATCH_CLIENT_SECRET", "env-secret"), "env-id", "env-secret", DefaultAPIURL},
		{"file id: not stored", "sophos:\n  client_id: file-id\n  client_secret_file: " + sf + "\n", noEnv, "file-id", "file-secret", DefaultAPIURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := LoadOptions{Env: tt.env, CredentialsPath: creds}
			if tt.file != "" {
				o.Path = writeFile(t, t.TempDir(), "config.yaml", tt.file, 0o644)
			}
			c, err := Load(o)
			if err != nil {
				t.Fatal(err)
			}
			if c.Sophos.ClientID != tt.wantID || c.Sophos.ClientSecret.Reveal() != tt.wantSecret || c.Sophos.APIURL != tt.wantAPI {
				t.Errorf("got %q %q %q, want %q %q %q", c.Sophos.ClientID, c.Sophos.ClientSecret.Reveal(), c.Sophos.APIURL, tt.wantID, tt.wantSecret, tt.wantAPI)
			}
			if c.Sophos.AuthURL != DefaultAuthURL {
				t.Errorf("auth url = %q, want the default (not stored)", c.Sophos.AuthURL)
			}
		})
	}
	t.Run("id without secret: not stored, Validate says so", func(t *testing.T) {
		_, err := Load(LoadOptions{Env: env("PUAWATCH_CLIENT_ID", "env-id"), CredentialsPath: creds})
		wantErr(t, err, "sophos.client_secret (PUAWATCH_CLIENT_SECRET): not set")
	})
	t.Run("secret without id: not stored", func(t *testing.T) {
		_, err := Load(LoadOptions{Env: env("PUAWATCH_CLIENT_SECRET", "s"), CredentialsPath: creds})
		wantErr(t, err, "sophos.client_id (PUAWATCH_CLIENT_ID): not set")
	})
	t.Run("no stored file: Validate says so", func(t *testing.T) {
		_, err := Load(LoadOptions{Env: noEnv, CredentialsPath: dir + "/none.yaml"})
		wantErr(t, err, "sophos.client_id", "puawatch login")
	})
	t.Run("no credentials path: not used", func(t *testing.T) {
		_, err := Load(LoadOptions{Env: noEnv})
		wantErr(t, err, "sophos.client_id")
	})
}

// TestRouteDurations: the route section's durations are read by the same
// rules, with the same messages, as every other duration of the file.
func TestRouteDurations(t *testing.T) {
	dir := t.TempDir()
	sf := writeFile(t, dir, "s", "x", 0o600)
	load := func(groupWait string) (Config, error) {
		p := writeFile(t, dir, "config.yaml", fmt.Sprintf(credsYAML, sf)+
			"jsonl:\n  path: "+filepath.Join(dir, "out.jsonl")+"\nroute:\n  receivers: [jsonl]\n  group_wait: "+groupWait+"\n", 0o600)
		c, err := Load(LoadOptions{Path: p, Env: noEnv})
		if err != nil {
			err = errors.New(strings.ReplaceAll(err.Error(), dir+"/", ""))
		}
		return c, err
	}
	_, err := load("30")
	wantErr(t, err, `config.yaml:8: route.group_wait: 30 has no unit: write 30s for seconds or 30m for minutes`)
	_, err = load("30 seconds")
	wantErr(t, err, `route.group_wait: "30 seconds" is not a duration: write e.g. 90s, 5m or 1h30m`)

	c, err := load("30s")
	if err != nil {
		t.Fatalf("group_wait: 30s: %v", err)
	}
	if c.Route == nil || c.Route.GroupWait == nil || c.Route.GroupWait.Std() != 30*time.Second {
		t.Fatalf("group_wait: 30s loaded as %+v", c.Route)
	}
	tree, err := c.RouteTree()
	if err != nil {
		t.Fatal(err)
	}
	if ds := tree.Deliveries(store.Detection{TenantID: "t"}); len(ds) != 1 || ds[0].Wait != 30*time.Second {
		t.Errorf("deliveries %+v, want one to jsonl waiting 30s", ds)
	}
	if r := c.Redacted(); !strings.Contains(r, "group_wait: 30s") {
		t.Errorf("Redacted does not show group_wait: 30s:\n%s", r)
	}
}
