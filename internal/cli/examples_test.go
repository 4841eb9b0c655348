package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExamples: every configuration in examples/ passes `puawatch config
// check` (loaded, validated, its receivers and route tree built) with its
// secrets from the environment and from a credentials directory, as its
// comments say, with no warning, and none of the secrets is printed.
func TestExamples(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		file  string
		env   map[string]string
		creds map[string]string
		want  []string // in the printed configuration
	}{
		{"tenant.yaml",
			map[string]string{"PUAWATCH_CLIENT_SECRET": "TENANT-SECRET-1"},
			map[string]string{"puawatch-smtp-password": "SMTP-PW-1"},
			[]string{"tenant_name: Contoso Ltd", `smtp_url: "smtp://puawatch:[redacted]@mail.contoso.example:587"`}},
		{"partner.yaml",
			map[string]string{"PUAWATCH_SMTP_URL": "smtp://puawatch:SMTP-PW-2@smtp.partner.example:587"},
			map[string]string{
				"puawatch-client-secret":                           "PARTNER-SECRET-2",
				"puawatch-receiver-soc-slack-url":                  "https://hooks.slack.com/services/T0/B0/SLACK-TOKEN-2",
				"puawatch-receiver-ticketing-url":                  "https://tickets.partner.example/api/puawatch?key=TICKET-KEY-2",
				"puawatch-receiver-ticketing-secret":               "HMAC-2",
				"puawatch-receiver-ticketing-header-Authorization": "Bearer TICKET-BEARER-2",
			},
			[]string{"- Test *", "name: contoso-it", "name: ticketing", "Authorization: \"[redacted]\"", "X-Source: \"[redacted]\""}},
		{"organization.yaml",
			map[string]string{"PUAWATCH_CLIENT_SECRET": "ORG-SECRET-3"},
			map[string]string{"puawatch-receiver-sec-teams-url": "https://prod-00.westeurope.logic.azure.com/workflows/x/triggers/manual/paths/invoke?sig=TEAMS-SIG-3"},
			[]string{"- ACME *", "name: siem", "address: siem.acme.example:6514"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			cd := filepath.Join(dir, "creds")
			if err := os.Mkdir(cd, 0o700); err != nil {
				t.Fatal(err)
			}
			for name, v := range tc.creds {
				if err := os.WriteFile(filepath.Join(cd, name), []byte(v+"\n"), 0o400); err != nil {
					t.Fatal(err)
				}
			}
			env := map[string]string{"CREDENTIALS_DIRECTORY": cd, "STATE_DIRECTORY": filepath.Join(dir, "state")}
			for k, v := range tc.env {
				env[k] = v
			}
			path := filepath.Join("..", "..", "examples", tc.file)
			r := runCLI(t, env, "", "config", "check", "--config", path, "--credentials", filepath.Join(dir, "none.yaml"))
			if r.code != ExitOK || !strings.Contains(r.stdout, "# configuration OK") {
				t.Fatalf("config check %s: want exit 0\n%s", tc.file, r)
			}
			if r.stderr != "" {
				t.Errorf("config check %s warned:\n%s", tc.file, r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("%s: the configuration lacks %q:\n%s", tc.file, w, r.stdout)
				}
			}
			var secrets []string
			for _, v := range tc.env {
				secrets = append(secrets, v)
			}
			for _, v := range tc.creds {
				secrets = append(secrets, v)
			}
			for _, s := range secrets {
				for _, part := range []string{"SECRET", "PW-", "TOKEN", "KEY-", "HMAC", "BEARER", "SIG-"} {
					if i := strings.Index(s, part); i >= 0 && strings.Contains(r.stdout+r.stderr, s[i:]) {
						t.Errorf("%s: config check printed the secret %q", tc.file, s[i:])
					}
				}
			}
		})
	}
}
