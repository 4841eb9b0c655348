package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestLoginStoresCredentialsThatRunUses(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 3)
	want := w.wantDetections(t)
	dir := filepath.Join(w.dir, "config", "puawatch") // login makes it
	creds := filepath.Join(dir, "creds.yaml")
	stdin := w.partner.ClientID + "\n" + w.partner.ClientSecret + "\n"

	r := runCLI(t, map[string]string{"HOME": w.dir}, stdin, "login", "--auth-url", w.sim.TokenURL(), "--api-url", w.srv.GlobalURL, "--credentials", creds)
	if r.code != ExitOK {
		t.Fatalf("login: want exit 0\n%s", r)
	}
	noSecret(t, "login", r, w.partner.ClientSecret)
	m := regexp.MustCompile(`(?m)^credential: partner (\S+), (\d+) tenants$`).FindStringSubmatch(r.stdout)
	if m == nil || m[1] != w.partner.ID || m[2] != "3" {
		t.Errorf("login does not print \"credential: partner %s, 3 tenants\":\n%s", w.partner.ID, r.stdout)
	}
	fi, err := os.Stat(creds)
	if err != nil {
		t.Fatalf("login stored nothing at %s: %v", creds, err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("%s has mode %04o, want 0600", creds, perm)
	}
	if di, err := os.Stat(dir); err != nil {
		t.Errorf("the directory login made, %s: %v", dir, err)
	} else if perm := di.Mode().Perm(); perm != 0o700 {
		t.Errorf("the directory login made, %s, has mode %04o, want 0700", dir, perm)
	}
	if b, _ := os.ReadFile(creds); !strings.Contains(string(b), w.partner.ClientID) {
		t.Errorf("%s does not hold the client id:\n%s", creds, b)
	}

	// run finds everything in the stored credentials: id, secret and the
	// simulator's URLs; the environment names only the store and channels.
	environ := with(w.env(), "PUAWATCH_CLIENT_ID", "", "PUAWATCH_CLIENT_SECRET", "", "PUAWATCH_AUTH_URL", "", "PUAWATCH_API_URL", "")
	r = runCLI(t, environ, "", "run", "--once", "--credentials", creds)
	if r.code != ExitOK {
		t.Fatalf("run --once with the stored credentials: want exit 0\n%s", r)
	}
	noSecret(t, "run --once (stored credentials)", r, w.partner.ClientSecret)
	checkMailed(t, w.smtp.Messages(), want) // every detection, once

	// A refused login leaves the stored credentials as they were.
	before, _ := os.ReadFile(creds)
	const wrong = "Wrong-Secret-badc0de"
	r = runCLI(t, map[string]string{"HOME": w.dir}, w.partner.ClientID+"\n"+wrong+"\n", "login",
		"--auth-url", w.sim.TokenURL(), "--api-url", w.srv.GlobalURL, "--credentials", creds)
	if r.code == ExitOK {
		t.Errorf("login with a wrong secret exited 0\n%s", r)
	}
	if after, _ := os.ReadFile(creds); string(after) != string(before) {
		t.Errorf("a refused login rewrote %s:\n%s", creds, after)
	}
	noSecret(t, "login (wrong secret)", r, wrong)
}

func TestLoginWrongSecretStoresNothing(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 1)
	dir := filepath.Join(w.dir, "config")
	creds := filepath.Join(dir, "creds.yaml")
	const wrong = "Wrong-Secret-feedbeef"
	r := runCLI(t, map[string]string{"HOME": w.dir}, w.partner.ClientID+"\n"+wrong+"\n", "login",
		"--auth-url", w.sim.TokenURL(), "--api-url", w.srv.GlobalURL, "--credentials", creds)
	if r.code == ExitOK {
		t.Fatalf("login with a wrong secret: want a non-zero exit\n%s", r)
	}
	if !strings.Contains(r.stderr, "nothing stored") {
		t.Errorf("stderr does not say that nothing was stored:\n%s", r.stderr)
	}
	noSecret(t, "login (wrong secret)", r, wrong)
	if _, err := os.Stat(creds); !os.IsNotExist(err) {
		t.Errorf("a refused login left %s (stat: %v)", creds, err)
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		t.Errorf("a refused login left files in %s: %v", dir, entries)
	}

	// Neither an id nor a secret: a usage error, nothing asked of Sophos.
	r = runCLI(t, map[string]string{"HOME": w.dir}, "\n\n", "login", "--auth-url", w.sim.TokenURL(), "--api-url", w.srv.GlobalURL, "--credentials", creds)
	if r.code != ExitUsage {
		t.Errorf("login with empty input: want exit 2\n%s", r)
	}
	if _, err := os.Stat(creds); !os.IsNotExist(err) {
		t.Errorf("login with empty input left %s (stat: %v)", creds, err)
	}
}
