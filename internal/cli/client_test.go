package cli

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/fake/sim"
)

// tlsSim is a simulator served over HTTPS by a throw-away CA, whose
// certificate is in caFile, as `puawatch sim --tls` serves it.
type tlsSim struct {
	sim     *sim.Simulator
	srv     *sim.Server
	partner sim.Credential
	caFile  string
	dir     string
}

func newTLSSim(t *testing.T) *tlsSim {
	t.Helper()
	certs, err := sim.NewCerts(nil, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cfg := sim.DefaultConfig()
	cfg.Tenants = 2
	cfg.EventsPerTenant = 5
	cfg.Rate = 0
	s := sim.New(cfg)
	srv, err := sim.Start(s, sim.ListenOptions{TLS: certs.ServerTLSConfig()})
	if err != nil {
		t.Fatalf("sim.Start: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	dir := t.TempDir()
	ts := &tlsSim{sim: s, srv: srv, caFile: filepath.Join(dir, "sim-ca.pem"), dir: dir}
	if err := certs.WriteCAFile(ts.caFile); err != nil {
		t.Fatal(err)
	}
	ts.partner, _ = s.Credential("partner")
	if !strings.HasPrefix(s.TokenURL(), "https://") || !strings.HasPrefix(srv.GlobalURL, "https://") {
		t.Fatalf("the simulator does not serve https: %s %s", s.TokenURL(), srv.GlobalURL)
	}
	return ts
}

// env is what `puawatch sim --tls` prints, with PUAWATCH_CA_FILE for the
// CA (SSL_CERT_FILE is read once per process, so tests cannot use it).
func (ts *tlsSim) env() map[string]string {
	return map[string]string{
		"PUAWATCH_AUTH_URL":      ts.sim.TokenURL(),
		"PUAWATCH_API_URL":       ts.srv.GlobalURL,
		"PUAWATCH_CLIENT_ID":     ts.partner.ClientID,
		"PUAWATCH_CLIENT_SECRET": ts.partner.ClientSecret,
		"PUAWATCH_CA_FILE":       ts.caFile,
		"PUAWATCH_DB":            filepath.Join(ts.dir, "puawatch.db"),
	}
}

var partnerLine = regexp.MustCompile(`(?m)^credential: partner (\S+), (\d+) tenants$`)

func TestLoginAgainstTLSSimulator(t *testing.T) {
	t.Parallel()
	ts := newTLSSim(t)
	stdin := ts.partner.ClientID + "\n" + ts.partner.ClientSecret + "\n"
	// login asks for the credential; the environment names the rest.
	environ := with(ts.env(), "PUAWATCH_CLIENT_ID", "", "PUAWATCH_CLIENT_SECRET", "")

	t.Run("PUAWATCH_CA_FILE", func(t *testing.T) {
		creds := filepath.Join(t.TempDir(), "creds.yaml")
		r := runCLI(t, environ, stdin, "login", "--credentials", creds)
		if r.code != ExitOK {
			t.Fatalf("login against the TLS simulator with PUAWATCH_AUTH_URL, PUAWATCH_API_URL, PUAWATCH_CA_FILE: want exit 0\n%s", r)
		}
		noSecret(t, "login", r, ts.partner.ClientSecret)
		if m := partnerLine.FindStringSubmatch(r.stdout); m == nil || m[1] != ts.partner.ID || m[2] != "2" {
			t.Errorf("login does not print \"credential: partner %s, 2 tenants\":\n%s", ts.partner.ID, r.stdout)
		}
		b, err := os.ReadFile(creds)
		if err != nil {
			t.Fatalf("login stored nothing: %v", err)
		}
		for _, want := range []string{ts.partner.ClientID, ts.sim.TokenURL(), ts.srv.GlobalURL} {
			if !strings.Contains(string(b), want) {
				t.Errorf("the stored credentials lack %q:\n%s", want, b)
			}
		}

		// run uses them: only the CA and the store come from the environment.
		r = runCLI(t, with(environ, "PUAWATCH_AUTH_URL", "", "PUAWATCH_API_URL", ""), "", "config", "check", "--connect", "--credentials", creds)
		if r.code != ExitOK || !partnerLine.MatchString(r.stdout) {
			t.Errorf("config check --connect with the stored credentials: want exit 0 and the partner line\n%s", r)
		}
	})

	t.Run("sophos.ca_file", func(t *testing.T) {
		cfgFile := filepath.Join(t.TempDir(), "puawatch.yaml")
		writeFile(t, cfgFile, "sophos:\n  ca_file: "+ts.caFile+"\n  timeout: 10s\n", 0o600)
		creds := filepath.Join(t.TempDir(), "creds.yaml")
		r := runCLI(t, with(environ, "PUAWATCH_CA_FILE", ""), stdin, "login", "--config", cfgFile, "--credentials", creds)
		if r.code != ExitOK {
			t.Fatalf("login with sophos.ca_file in --config: want exit 0\n%s", r)
		}
		if _, err := os.Stat(creds); err != nil {
			t.Errorf("login stored nothing: %v", err)
		}
	})

	t.Run("no CA", func(t *testing.T) {
		creds := filepath.Join(t.TempDir(), "creds.yaml")
		start := time.Now()
		r := runCLI(t, with(environ, "PUAWATCH_CA_FILE", ""), stdin, "login", "--credentials", creds)
		if r.code != ExitFailure {
			t.Errorf("login against the TLS simulator without its CA: want exit 1\n%s", r)
		}
		if !strings.Contains(r.stderr, "certificate") || strings.Contains(r.stderr, "not accepted") {
			t.Errorf("login without the CA: want a certificate error, not \"not accepted\":\n%s", r.stderr)
		}
		if d := time.Since(start); d > 15*time.Second {
			t.Errorf("login without the CA took %s", d)
		}
		if _, err := os.Stat(creds); err == nil {
			t.Errorf("a failed login stored %s", creds)
		}
	})
}

// refusedAddr is a loopback address nothing listens on.
func refusedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestLoginUnreachableSaysSo(t *testing.T) {
	t.Parallel()
	addr := refusedAddr(t)
	creds := filepath.Join(t.TempDir(), "creds.yaml")
	environ := map[string]string{
		"PUAWATCH_AUTH_URL": "http://" + addr + "/api/v2/oauth2/token",
		"PUAWATCH_API_URL":  "http://" + addr,
		"HOME":              t.TempDir(), // login validates the configuration as run reads it, the store's place too
	}
	start := time.Now()
	r := runCLI(t, environ, "some-id\nsome-secret\n", "login", "--credentials", creds)
	took := time.Since(start)
	if r.code != ExitFailure {
		t.Errorf("login against %s (nothing listens): want exit 1\n%s", addr, r)
	}
	if !strings.Contains(r.stderr, "connection refused") {
		t.Errorf("login against %s: stderr does not say the connection was refused:\n%s", addr, r.stderr)
	}
	if strings.Contains(r.stderr, "not accepted") {
		t.Errorf("login against %s: a network failure reported as refused credentials:\n%s", addr, r.stderr)
	}
	if took > 15*time.Second {
		t.Errorf("login against %s took %s; want it to give up quickly", addr, took)
	}
	if _, err := os.Stat(creds); err == nil {
		t.Errorf("a failed login stored %s", creds)
	}
}

func TestConfigCheckConnectTLS(t *testing.T) {
	t.Parallel()
	ts := newTLSSim(t)
	cfgFile := filepath.Join(ts.dir, "puawatch.yaml")
	writeFile(t, cfgFile, "sophos:\n  ca_file: "+ts.caFile+"\n", 0o600)
	noCreds := filepath.Join(ts.dir, "none", "creds.yaml")

	r := runCLI(t, with(ts.env(), "PUAWATCH_CA_FILE", ""), "", "config", "check", "--connect", "--config", cfgFile, "--credentials", noCreds)
	if r.code != ExitOK {
		t.Fatalf("config check --connect against the TLS simulator with sophos.ca_file: want exit 0\n%s", r)
	}
	if m := partnerLine.FindStringSubmatch(r.stdout); m == nil || m[1] != ts.partner.ID || m[2] != "2" {
		t.Errorf("config check --connect does not print \"credential: partner %s, 2 tenants\":\n%s", ts.partner.ID, r.stdout)
	}
	noSecret(t, "config check --connect (TLS)", r, ts.partner.ClientSecret)

	r = runCLI(t, ts.env(), "", "config", "check", "--connect", "--credentials", noCreds)
	if r.code != ExitOK || !partnerLine.MatchString(r.stdout) {
		t.Errorf("config check --connect against the TLS simulator with PUAWATCH_CA_FILE: want exit 0 and the partner line\n%s", r)
	}

	// Without the CA it fails on the certificate (a run-time failure).
	r = runCLI(t, with(ts.env(), "PUAWATCH_CA_FILE", ""), "", "config", "check", "--connect", "--credentials", noCreds)
	if r.code != ExitFailure || !strings.Contains(r.stderr, "certificate") {
		t.Errorf("config check --connect without the CA: want exit 1 and a certificate error\n%s", r)
	}
}

func TestRunExitStatusOfFailures(t *testing.T) {
	t.Parallel()
	ts := newTLSSim(t)
	noCreds := filepath.Join(ts.dir, "none", "creds.yaml")

	t.Run("database down", func(t *testing.T) {
		const dsn = "postgres://127.0.0.1:1/none"
		r := runCLI(t, with(ts.env(), "PUAWATCH_DB", dsn), "", "run", "--once", "--credentials", noCreds)
		if r.code != ExitFailure {
			t.Errorf("run --once with PUAWATCH_DB=%s (nothing listens): want exit 1, a run-time failure\n%s", dsn, r)
		}
		if !strings.Contains(r.stderr, "store") || !strings.Contains(r.stderr, dsn) {
			t.Errorf("stderr does not name the store %s:\n%s", dsn, r.stderr)
		}
	})

	t.Run("store directory missing", func(t *testing.T) {
		db := filepath.Join(ts.dir, "no-such-dir", "puawatch.db")
		r := runCLI(t, with(ts.env(), "PUAWATCH_DB", db), "", "run", "--once", "--credentials", noCreds)
		if r.code != ExitFailure || !strings.Contains(r.stderr, db) {
			t.Errorf("run --once with a store in a missing directory: want exit 1 naming %s\n%s", db, r)
		}
	})

	t.Run("invalid CA file", func(t *testing.T) {
		bad := filepath.Join(ts.dir, "not-a-ca.pem")
		writeFile(t, bad, "not a certificate\n", 0o644)
		r := runCLI(t, with(ts.env(), "PUAWATCH_CA_FILE", bad), "", "run", "--once", "--credentials", noCreds)
		if r.code != ExitUsage {
			t.Errorf("run --once with a CA file holding no certificate: want exit 2, a configuration error\n%s", r)
		}
		if !strings.Contains(r.stderr, "sophos.ca_file") {
			t.Errorf("stderr does not name sophos.ca_file:\n%s", r.stderr)
		}
	})

	t.Run("whoami refused", func(t *testing.T) {
		if err := ts.sim.SetFaults(sim.Faults{RevokeRate: 1}); err != nil {
			t.Fatal(err)
		}
		defer ts.sim.SetFaults(sim.Faults{})
		r := runCLI(t, ts.env(), "", "run", "--once", "--credentials", noCreds)
		if r.code != ExitFailure {
			t.Errorf("run --once with every token refused: want exit 1\n%s", r)
		}
		const want = "puawatch: central: whoami: HTTP 401 Unauthorized: the API refused a freshly issued token: " +
			"check that the API credential still exists and its role allows this call"
		if !strings.Contains(r.stderr, want+"\n") {
			t.Errorf("stderr lacks the line %q:\n%s", want, r.stderr)
		}
	})
}
