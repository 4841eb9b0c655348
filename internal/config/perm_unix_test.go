//go:build !windows

package config

import (
	"os"
	"strings"
	"testing"
)

// Mode checks exist only where files have Unix modes.

func TestSecretInSharedConfigFile(t *testing.T) {
	tests := []struct {
		name, content string
		mode          os.FileMode
		wants         []string // nil: accepted
	}{
		{"client secret 0644", "sophos:\n  client_id: c\n  client_secret: s\n", 0o644,
			[]string{"config.yaml holds a secret (sophos.client_secret) and is readable by others (mode 0644): run chmod 600 ", "config.yaml, or move the client secret to PUAWATCH_CLIENT_SECRET_FILE"}},
		{"client secret 0640", "sophos:\n  client_id: c\n  client_secret: s\n", 0o640, []string{"(mode 0640)"}},
		{"client secret 0620", "sophos:\n  client_id: c\n  client_secret: s\n", 0o620, []string{"is open to other users (mode 0620)"}},
		{"client secret 0600", "sophos:\n  client_id: c\n  client_secret: s\n", 0o600, nil},
		{"client secret 0400", "sophos:\n  client_id: c\n  client_secret: s\n", 0o400, nil},
		{"SMTP password 0644", "sophos:\n  client_id: c\n  client_secret_file: %s\nemail:\n  smtp_url: smtps://u:p@mail.example.com:465\n  from: a@example.com\n  to: [b@example.com]\n", 0o644,
			[]string{"holds a secret (the password in email.smtp_url)", "move the SMTP URL to PUAWATCH_SMTP_URL"}},
		{"SMTP password 0600", "sophos:\n  client_id: c\n  client_secret_file: %s\nemail:\n  smtp_url: smtps://u:p@mail.example.com:465\n  from: a@example.com\n  to: [b@example.com]\n", 0o600, nil},
		{"SMTP without password 0644", "sophos:\n  client_id: c\n  client_secret_file: %s\nemail:\n  smtp_url: smtp://mail.example.com:25\n  from: a@example.com\n  to: [b@example.com]\n", 0o644, nil},
		{"DB password 0644", "sophos:\n  client_id: c\n  client_secret_file: %s\nstore:\n  db: postgres://u:p@db/pw\n", 0o644, []string{"the password in store.db", "PUAWATCH_DB"}},
		{"both secrets 0644", "sophos:\n  client_id: c\n  client_secret: s\nemail:\n  smtp_url: smtps://u:p@mail.example.com:465\n", 0o644,
			[]string{"(sophos.client_secret, the password in email.smtp_url)", "move the client secret to PUAWATCH_CLIENT_SECRET_FILE and the SMTP URL to PUAWATCH_SMTP_URL"}},
		{"webhook header 0644", "sophos:\n  client_id: c\n  client_secret_file: %s\nreceivers:\n  - name: hook\n    webhook:\n      url: https://hooks.example.com/x\n      headers: {Authorization: Bearer abc}\n", 0o644,
			[]string{"holds a secret (receivers[0].webhook.url, receivers[0].webhook.headers)"}},
		{"webhook credential header 0644, url elsewhere", "sophos:\n  client_id: c\n  client_secret_file: %s\nreceivers:\n  - name: hook\n    webhook:\n      headers: {X-Api-Key: k1}\n", 0o644,
			[]string{"holds a secret (receivers[0].webhook.headers)"}},
		{"webhook header 0600", "sophos:\n  client_id: c\n  client_secret_file: %s\nreceivers:\n  - name: hook\n    webhook:\n      url: https://hooks.example.com/x\n      headers: {Authorization: Bearer abc}\n", 0o600, nil},
		{"no secret 0644", "sophos:\n  client_id: c\n  client_secret_file: %s\n", 0o644, nil},
		{"empty secret 0644", "sophos:\n  client_id: c\n  client_secret: \"\"\n  client_secret_file: %s\n", 0o644, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			sf := writeFile(t, dir, "secret", "s\n", 0o600)
			p := writeFile(t, dir, "config.yaml", strings.ReplaceAll(tt.content, "%s", sf), tt.mode)
			_, err := Load(LoadOptions{Path: p, Env: noEnv})
			if tt.wants == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			wantErr(t, err, append(tt.wants, "chmod 600 "+p)...)
		})
	}
	t.Run("accepted after chmod 600", func(t *testing.T) {
		p := writeFile(t, t.TempDir(), "config.yaml", "sophos:\n  client_id: c\n  client_secret: s\n", 0o644)
		if _, err := Load(LoadOptions{Path: p, Env: noEnv}); err == nil {
			t.Fatal("0644 accepted")
		}
		if err := os.Chmod(p, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(LoadOptions{Path: p, Env: noEnv})
		if err != nil {
			t.Fatal(err)
		}
		if c.Sophos.ClientSecret.Reveal() != "s" {
			t.Errorf("secret %q", c.Sophos.ClientSecret.Reveal())
		}
	})
	t.Run("path with a space is quoted", func(t *testing.T) {
		dir := t.TempDir()
		p := writeFile(t, dir, "my config.yaml", "sophos:\n  client_secret: s\n", 0o644)
		_, err := Load(LoadOptions{Path: p, Env: noEnv})
		wantErr(t, err, "chmod 600 '"+p+"'")
	})
}

func TestSharedSecretFileRefused(t *testing.T) {
	dir := t.TempDir()
	sf := writeFile(t, dir, "secret", "s3cret\n", 0o644)
	o := LoadOptions{Env: env("PUAWATCH_CLIENT_ID", "c", "PUAWATCH_CLIENT_SECRET_FILE", sf)}
	_, err := Load(o)
	wantErr(t, err, sf+" holds the client secret (sophos.client_secret_file) and is readable by others (mode 0644): run chmod 600 "+sf, "defaultMode: 0400")
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error shows the secret: %v", err)
	}
	if err := os.Chmod(sf, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(o)
	if err != nil {
		t.Fatal(err)
	}
	if c.Sophos.ClientSecret.Reveal() != "s3cret" {
		t.Errorf("secret %q", c.Sophos.ClientSecret.Reveal())
	}
}

func TestCredentialsModes(t *testing.T) {
	dir := t.TempDir()
	p := dir + "/new/puawatch/credentials.yaml"
	if err := SaveCredentials(p, StoredCredentials{ClientID: "id", ClientSecret: "sec"}); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{dir + "/new/puawatch": 0o700, dir + "/new": 0o700, p: 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s mode %04o, want %04o", path, got, want)
		}
	}
	// An existing directory keeps its mode: it may be shared, like /tmp.
	shared := t.TempDir()
	if err := os.Chmod(shared, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := SaveCredentials(shared+"/c.yaml", StoredCredentials{ClientID: "id", ClientSecret: "sec"}); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(shared); fi.Mode().Perm() != 0o755 {
		t.Errorf("existing directory changed to %04o", fi.Mode().Perm())
	}
	if fi, _ := os.Stat(shared + "/c.yaml"); fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %04o", fi.Mode().Perm())
	}

	// Refused when others may read it, with the chmod to run.
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadCredentials(p)
	wantErr(t, err, p+" holds the Sophos client secret and is readable by others (mode 0644): run chmod 600 "+p)
	// Load passes the refusal on rather than running without credentials.
	_, err = Load(LoadOptions{Env: noEnv, CredentialsPath: p})
	wantErr(t, err, "mode 0644")
	// Rewriting fixes the mode.
	if err := SaveCredentials(p, StoredCredentials{ClientID: "id2", ClientSecret: "sec2"}); err != nil {
		t.Fatal(err)
	}
	c, err := LoadCredentials(p)
	if err != nil || c.ClientID != "id2" {
		t.Errorf("after rewrite: %+v %v", c, err)
	}
}
