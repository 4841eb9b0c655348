package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigCheckCredentialsDirectory: `puawatch config check` takes the
// secrets from $CREDENTIALS_DIRECTORY (systemd's LoadCredential=) and
// prints none of them.
func TestConfigCheckCredentialsDirectory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cd := filepath.Join(dir, "creds")
	if err := os.Mkdir(cd, 0o700); err != nil {
		t.Fatal(err)
	}
	secrets := map[string]string{
		"puawatch-client-id":                  "cid-7f3a\n",
		"puawatch-client-secret":              "CLIENTSECRET-9c1\n",
		"puawatch-smtp-password":              "SMTPPASSWORD-4e2\n",
		"puawatch-receiver-hook-url":          "https://automation.example.com/hook/URLTOKEN-77\n",
		"puawatch-receiver-hook-secret":       "HMACKEY-5d0\n",
		"puawatch-receiver-hook-header-X-Key": "HEADERKEY-1b8\n",
	}
	for name, v := range secrets {
		if err := os.WriteFile(filepath.Join(cd, name), []byte(v), 0o400); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(dir, "puawatch.yaml")
	if err := os.WriteFile(cfg, []byte(`email:
  smtp_url: smtp://alerts@mail.example.com:587
  from: puawatch@example.com
  to: [soc@example.com]
receivers:
  - name: hook
    webhook: {}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, map[string]string{"CREDENTIALS_DIRECTORY": cd, "STATE_DIRECTORY": filepath.Join(dir, "state")}, "",
		"config", "check", "--config", cfg, "--credentials", filepath.Join(dir, "none.yaml"))
	if r.code != ExitOK || !strings.Contains(r.stdout, "# configuration OK") {
		t.Fatalf("want exit 0\n%s", r)
	}
	if !strings.Contains(r.stdout, "client_id: cid-7f3a") || !strings.Contains(r.stdout, "smtp://alerts:[redacted]@mail.example.com:587") {
		t.Errorf("the credentials were not used:\n%s", r.stdout)
	}
	for _, s := range []string{"CLIENTSECRET-9c1", "SMTPPASSWORD-4e2", "URLTOKEN-77", "HMACKEY-5d0", "HEADERKEY-1b8"} {
		if strings.Contains(r.stdout+r.stderr, s) {
			t.Errorf("config check printed the secret %s:\n%s", s, r)
		}
	}
}
