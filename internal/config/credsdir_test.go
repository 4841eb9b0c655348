//go:build !windows

package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/puawatch/puawatch/internal/notify/slack"
	"github.com/puawatch/puawatch/internal/notify/webhook"
)

// credDir makes a credentials directory holding files (name → content),
// each mode 0400 as systemd writes them.
func credDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		writeFile(t, dir, name, content, 0o400)
	}
	return dir
}

// credConfig is a file naming the SMTP user and two receivers whose
// secrets all come from credentials.
const credConfig = `email:
  smtp_url: smtp://alerts@mail.example.com:587
  from: puawatch@example.com
  to: [soc@example.com]
receivers:
  - name: hook
    webhook:
      headers:
        X-Team: soc
  - name: chat
    slack: {}
`

// TestCredentialsDirectory: every secret can come from
// $CREDENTIALS_DIRECTORY, a trailing newline trimmed; the web token
// stands in for PUAWATCH_WEB_TOKEN.
func TestCredentialsDirectory(t *testing.T) {
	cd := credDir(t, map[string]string{
		CredClientID:                    "cid-from-cred\n",
		CredClientSecret:                "secret-from-cred\n",
		CredSMTPPassword:                "smtp-pw-from-cred\r\n",
		CredDB:                          "postgres://pua:db-pw@db.example:5432/pua",
		CredWebToken:                    "web-token-from-cred\n",
		"puawatch-receiver-hook-url":    "https://automation.example.com/hook?token=url-token\n",
		"puawatch-receiver-hook-secret": "hmac-from-cred\n",
		"puawatch-receiver-hook-header-Authorization": "Bearer header-from-cred\n",
		"puawatch-receiver-chat-url":                  "https://hooks.slack.com/services/T0/B0/slack-from-cred\n",
		"other-program":                               "not ours", // left alone: no warning
	})
	p := writeFile(t, t.TempDir(), "c.yaml", credConfig, 0o644)
	cfg, err := Load(LoadOptions{Path: p, Env: env(CredentialsDirectoryEnv, cd)})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Sophos.ClientID != "cid-from-cred" || cfg.Sophos.ClientSecret.Reveal() != "secret-from-cred" {
		t.Errorf("client id %q, secret %q", cfg.Sophos.ClientID, cfg.Sophos.ClientSecret.Reveal())
	}
	if got := cfg.Email.SMTPURL.Reveal(); got != "smtp://alerts:smtp-pw-from-cred@mail.example.com:587" {
		t.Errorf("email.smtp_url = %q, want the credential's password for the file's user", got)
	}
	if cfg.Store.DB != "postgres://pua:db-pw@db.example:5432/pua" {
		t.Errorf("store.db = %q", cfg.Store.DB)
	}
	hook := cfg.Receivers[0].Config.(*webhook.Config)
	if hook.URL.Reveal() != "https://automation.example.com/hook?token=url-token" || hook.Secret.Reveal() != "hmac-from-cred" {
		t.Errorf("webhook url %q, secret %q", hook.URL.Reveal(), hook.Secret.Reveal())
	}
	if hook.Headers["Authorization"] != "Bearer header-from-cred" || hook.Headers["X-Team"] != "soc" {
		t.Errorf("webhook headers %v: want the credential's Authorization beside the file's X-Team", hook.Headers)
	}
	if u := cfg.Receivers[1].Config.(*slack.Config).URL.Reveal(); u != "https://hooks.slack.com/services/T0/B0/slack-from-cred" {
		t.Errorf("slack url %q", u)
	}
	if got := cfg.Web.Auth.Token.Reveal(); got != "web-token-from-cred" {
		t.Errorf("web.auth.token = %q, want the credential's", got)
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("warnings: %q", cfg.Warnings)
	}

	creds, err := readCredentials(env(CredentialsDirectoryEnv, cd))
	if err != nil {
		t.Fatal(err)
	}
	getenv := creds.env(env("PUAWATCH_LOG_LEVEL", "debug"))
	if got := getenv("PUAWATCH_WEB_TOKEN"); got != "web-token-from-cred" {
		t.Errorf("PUAWATCH_WEB_TOKEN = %q, want the credential's", got)
	}
	if got := getenv("PUAWATCH_LOG_LEVEL"); got != "debug" {
		t.Errorf("the environment's other variables: PUAWATCH_LOG_LEVEL = %q", got)
	}
	if got := creds.env(env("PUAWATCH_WEB_TOKEN", "from-env"))("PUAWATCH_WEB_TOKEN"); got != "from-env" {
		t.Errorf("PUAWATCH_WEB_TOKEN set: %q, want the environment's", got)
	}

	// The secrets are redacted in what config check prints.
	out := cfg.Redacted()
	for _, s := range []string{"secret-from-cred", "web-token-from-cred", "smtp-pw-from-cred", "db-pw", "url-token", "hmac-from-cred", "header-from-cred", "slack-from-cred"} {
		if strings.Contains(out, s) {
			t.Errorf("Redacted shows %q:\n%s", s, out)
		}
	}
}

// TestCredentialsPrecedence: the environment wins over a credential, a
// credential over the configuration file.
func TestCredentialsPrecedence(t *testing.T) {
	cd := credDir(t, map[string]string{CredClientID: "cred-id", CredClientSecret: "cred-secret", CredSMTPPassword: "cred-pw",
		"puawatch-receiver-hook-secret": "cred-hmac"})
	dir := t.TempDir()
	sf := writeFile(t, dir, "secret", "file-secret\n", 0o600)
	envSF := writeFile(t, dir, "env-secret", "env-file-secret\n", 0o600)
	file := writeFile(t, dir, "c.yaml", `sophos:
  client_id: file-id
  client_secret_file: `+sf+`
email:
  smtp_url: smtp://alerts:file-pw@mail.example.com:587
  from: puawatch@example.com
  to: [soc@example.com]
receivers:
  - name: hook
    webhook:
      url: https://automation.example.com/hook
      secret: file-hmac
`, 0o600)
	load := func(kv ...string) Config {
		t.Helper()
		cfg, err := Load(LoadOptions{Path: file, Env: env(append([]string{CredentialsDirectoryEnv, cd}, kv...)...)})
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}

	c := load()
	if c.Sophos.ClientID != "cred-id" || c.Sophos.ClientSecret.Reveal() != "cred-secret" || c.Sophos.ClientSecretFile != "" {
		t.Errorf("credential over file: id %q secret %q file %q", c.Sophos.ClientID, c.Sophos.ClientSecret.Reveal(), c.Sophos.ClientSecretFile)
	}
	if got := c.Email.SMTPURL.Reveal(); got != "smtp://alerts:cred-pw@mail.example.com:587" {
		t.Errorf("credential over the file's SMTP password: %q", got)
	}
	if got := c.Receivers[0].Config.(*webhook.Config).Secret.Reveal(); got != "cred-hmac" {
		t.Errorf("credential over the file's webhook secret: %q", got)
	}

	c = load("PUAWATCH_CLIENT_ID", "env-id", "PUAWATCH_CLIENT_SECRET", "env-secret", "PUAWATCH_SMTP_URL", "smtp://bob:env-pw@mail.example.com:587")
	if c.Sophos.ClientID != "env-id" || c.Sophos.ClientSecret.Reveal() != "env-secret" {
		t.Errorf("environment over credential: id %q secret %q", c.Sophos.ClientID, c.Sophos.ClientSecret.Reveal())
	}
	if got := c.Email.SMTPURL.Reveal(); got != "smtp://bob:env-pw@mail.example.com:587" {
		t.Errorf("PUAWATCH_SMTP_URL with a password over the credential: %q", got)
	}

	c = load("PUAWATCH_CLIENT_SECRET_FILE", envSF)
	if c.Sophos.ClientSecret.Reveal() != "env-file-secret" {
		t.Errorf("PUAWATCH_CLIENT_SECRET_FILE over the credential: %q", c.Sophos.ClientSecret.Reveal())
	}

	c = load("PUAWATCH_SMTP_URL", "smtp://carol@relay.example.com:587")
	if got := c.Email.SMTPURL.Reveal(); got != "smtp://carol:cred-pw@relay.example.com:587" {
		t.Errorf("PUAWATCH_SMTP_URL without a password takes the credential's: %q", got)
	}
}

// TestCredentialsNotStoredLogin: a client id, secret and web token from
// credentials keep `puawatch login`'s stored ones out, as the
// environment's do.
func TestCredentialsNotStoredLogin(t *testing.T) {
	cd := credDir(t, map[string]string{CredClientID: "cred-id", CredClientSecret: "cred-secret", CredWebToken: "cred-web-token-0123456789"})
	stored := filepath.Join(t.TempDir(), "credentials.yaml")
	if err := SaveCredentials(stored, StoredCredentials{ClientID: "stored-id", ClientSecret: "stored-secret", WebToken: "stored-web-token-0123456789"}); err != nil {
		t.Fatal(err)
	}
	c, err := Load(LoadOptions{Env: env(CredentialsDirectoryEnv, cd), CredentialsPath: stored})
	if err != nil {
		t.Fatal(err)
	}
	if c.Sophos.ClientID != "cred-id" || c.Sophos.ClientSecret.Reveal() != "cred-secret" {
		t.Errorf("id %q secret %q, want the credentials directory's", c.Sophos.ClientID, c.Sophos.ClientSecret.Reveal())
	}
	if got := c.Web.Auth.Token.Reveal(); got != "cred-web-token-0123456789" {
		t.Errorf("web.auth.token = %q, want the credentials directory's", got)
	}
}

// TestCredentialsErrors: what cannot be used is an error naming the path.
func TestCredentialsErrors(t *testing.T) {
	base := []string{"PUAWATCH_CLIENT_ID", "cid", "PUAWATCH_CLIENT_SECRET", "csecret"}
	load := func(cd string, config string) error {
		t.Helper()
		o := LoadOptions{Env: env(append([]string{CredentialsDirectoryEnv, cd}, base...)...)}
		if config != "" {
			o.Path = writeFile(t, t.TempDir(), "c.yaml", config, 0o600)
		}
		_, err := Load(o)
		return err
	}

	missing := filepath.Join(t.TempDir(), "gone")
	wantErr(t, load(missing, ""), CredentialsDirectoryEnv, missing, "cannot be read")

	cd := t.TempDir()
	link := filepath.Join(cd, CredClientSecret)
	if err := os.Symlink(filepath.Join(cd, "nowhere"), link); err != nil {
		t.Fatal(err)
	}
	wantErr(t, load(cd, ""), "credential "+CredClientSecret, link, "no such file")

	cd = t.TempDir()
	if err := os.Mkdir(filepath.Join(cd, CredSMTPPassword), 0o700); err != nil {
		t.Fatal(err)
	}
	wantErr(t, load(cd, ""), filepath.Join(cd, CredSMTPPassword)+" is a directory")

	cd = t.TempDir()
	shared := writeFile(t, cd, CredClientSecret, "s\n", 0o644)
	wantErr(t, load(cd, ""), shared+" holds the credential "+CredClientSecret, "(mode 0644)", "chmod 600")

	cd = credDir(t, map[string]string{CredClientSecret: "\n"})
	wantErr(t, load(cd, ""), filepath.Join(cd, CredClientSecret)+" is empty")

	cd = credDir(t, map[string]string{CredClientSecret: "one\ntwo\n"})
	wantErr(t, load(cd, ""), filepath.Join(cd, CredClientSecret)+" holds more than one line")

	cd = credDir(t, map[string]string{CredSMTPPassword: "pw"})
	wantErr(t, load(cd, "email:\n  smtp_url: smtp://mail.example.com:587\n  from: a@example.com\n  to: [b@example.com]\n"),
		filepath.Join(cd, CredSMTPPassword), "names no user", "smtp://USER@host:587")
	wantErr(t, load(cd, ""), filepath.Join(cd, CredSMTPPassword), "email.smtp_url is not set")
}

// TestCredentialsUnknownWarns: a puawatch-* file that names nothing (a
// misspelt receiver) is a warning naming it and what would be read.
func TestCredentialsUnknownWarns(t *testing.T) {
	cd := credDir(t, map[string]string{CredClientID: "cid", CredClientSecret: "s", "puawatch-receiver-hok-secret": "x"})
	p := writeFile(t, t.TempDir(), "c.yaml", "receivers:\n  - name: hook\n    webhook:\n      url: https://automation.example.com/hook\n", 0o600)
	c, err := Load(LoadOptions{Path: p, Env: env(CredentialsDirectoryEnv, cd)})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "credential puawatch-receiver-hok-secret (in "+cd+") is not used") ||
		!strings.Contains(c.Warnings[0], "puawatch-receiver-hook-secret") || strings.Contains(c.Warnings[0], "x\"") {
		t.Errorf("warnings %q", c.Warnings)
	}
}
