package cli

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/puawatch/puawatch/internal/config"
	"github.com/puawatch/puawatch/internal/notify/kinds"
)

// invalidReceivers are receiver sections that must be refused, by kind:
// each kind of the table needs at least one (TestEveryKindHasExampleAndValidation).
// want is a piece of the error; both `config check` and `run --once` must
// print the same error text for it.
func invalidReceivers(dir string) []struct{ name, kind, yaml, want string } {
	return []struct{ name, kind, yaml, want string }{
		{"webhook header with a space", "webhook", "webhook:\n      url: https://hooks.example.com/x\n      headers: {\"Bad Name\": v}",
			`receivers[0].webhook.headers: "Bad Name" is not a valid HTTP header name`},
		{"webhook plain http", "webhook", "webhook:\n      url: http://hooks.example.com/x",
			`receivers[0].webhook.url: "http://hooks.example.com/…" uses plain http to a host that is not loopback`},
		{"syslog facility 99", "syslog", "syslog:\n      network: tcp\n      address: siem.example.com:514\n      facility: 99",
			"receivers[0].syslog.facility: 99 is out of range"},
		{"syslog unknown network", "syslog", "syslog:\n      network: udp6\n      address: siem.example.com:514",
			`receivers[0].syslog.network: "udp6" is not known`},
		{"syslog CA that is no PEM", "syslog", "syslog:\n      network: tls\n      address: siem.example.com:6514\n      ca_file: " + filepath.Join(dir, "junk.pem"),
			"receivers[0].syslog.ca_file: " + filepath.Join(dir, "junk.pem") + " holds no PEM certificate"},
		{"slack without url", "slack", "slack:\n      template: \"\"", "receivers[0].slack.url: not set"},
		{"teams template missing", "teams", "teams:\n      url: https://prod-00.westeurope.logic.azure.com/workflows/x\n      template: " + filepath.Join(dir, "nope.tmpl"),
			"receivers[0].teams.template: "},
		{"email bad recipient", "email", "email:\n      smtp_url: smtp://mail.example.com:587\n      from: a@example.com\n      to: [\"x@\"]",
			`receivers[0].email.to: "x@": not a valid address`},
		{"email without server", "email", "email:\n      from: a@example.com\n      to: [b@example.com]", "receivers[0].email.smtp_url: not set"},
		{"jsonl without path", "jsonl", "jsonl:\n      path: \"\"", "receivers[0].jsonl.path: not set"},
		{"two kinds", "", "slack: {url: https://hooks.slack.com/services/x}\n    teams: {url: https://x.example/y}",
			"sets both slack and teams"},
		{"no kind", "", "nothing: 1", `unknown key "nothing" in receivers[0]`},
	}
}

// TestConfigCheckRefusesWhatRunRefuses: config check runs the validation
// and construction run runs, so every invalid receiver gets the same
// error text from both, exit status 2, and config check never says
// "configuration OK" for one.
func TestConfigCheckRefusesWhatRunRefuses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "junk.pem"), "not a certificate\n", 0o600)
	w := newWorld(t, 1)
	// Without the email section, so that an e-mail receiver has nothing to inherit.
	environ := with(w.env(), "PUAWATCH_SMTP_URL", "", "PUAWATCH_MAIL_FROM", "", "PUAWATCH_MAIL_TO", "")
	for _, tc := range invalidReceivers(dir) {
		t.Run(tc.name, func(t *testing.T) {
			cfgPath := filepath.Join(t.TempDir(), "config.yaml")
			writeFile(t, cfgPath, "receivers:\n  - name: r\n    "+tc.yaml+"\n", 0o600)
			check := runCLI(t, environ, "", "config", "check", "--config", cfgPath, "--credentials", w.creds)
			run := runCLI(t, environ, "", "run", "--once", "--config", cfgPath, "--credentials", w.creds)
			for what, r := range map[string]cmdResult{"config check": check, "run --once": run} {
				if r.code != ExitUsage {
					t.Errorf("%s: exit %d, want %d\n%s", what, r.code, ExitUsage, r)
				}
				if !strings.Contains(r.stderr, tc.want) {
					t.Errorf("%s: stderr lacks %q\n%s", what, tc.want, r)
				}
			}
			if strings.Contains(check.stdout, "configuration OK") {
				t.Errorf("config check said OK:\n%s", check)
			}
			if errLine(check.stderr) != errLine(run.stderr) {
				t.Errorf("different errors:\nconfig check: %s\nrun --once:   %s", errLine(check.stderr), errLine(run.stderr))
			}
		})
	}
}

// errLine is the lines of stderr that carry the error, without log lines.
func errLine(stderr string) string {
	var out []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.Contains(l, "receivers[0]") {
			out = append(out, strings.TrimSpace(l))
		}
	}
	return strings.Join(out, "\n")
}

// TestEveryKindHasExampleAndValidation: adding a receiver kind to the
// table means adding its entry to example.yaml and an invalid case above.
func TestEveryKindHasExampleAndValidation(t *testing.T) {
	data, err := os.ReadFile("../config/testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	example := filepath.Join(dir, "example.yaml")
	writeFile(t, example, string(data), 0o600)
	secretFile := filepath.Join(dir, "secret")
	writeFile(t, secretFile, "s3cret\n", 0o600)
	cfg, err := config.Load(config.LoadOptions{Path: example, Env: func(k string) string {
		if k == "PUAWATCH_CLIENT_SECRET_FILE" {
			return secretFile
		}
		return ""
	}})
	if err != nil {
		t.Fatalf("example.yaml: %v", err)
	}
	var inExample, invalid []string
	for _, r := range cfg.Receivers {
		inExample = append(inExample, r.Kind)
	}
	for _, tc := range invalidReceivers(dir) {
		invalid = append(invalid, tc.kind)
	}
	for _, k := range kinds.All() {
		if !slices.Contains(inExample, k.Name) {
			t.Errorf("kind %s has no receiver in internal/config/testdata/example.yaml", k.Name)
		}
		if !slices.Contains(invalid, k.Name) {
			t.Errorf("kind %s has no case in invalidReceivers", k.Name)
		}
	}
}
