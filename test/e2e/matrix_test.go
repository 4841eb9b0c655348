package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/cli"
	"github.com/puawatch/puawatch/internal/fake/sim"

	_ "modernc.org/sqlite" // to lock the rig's database from outside
)

// The fault matrix: one test per fault, each ending in the same check
// (matrixCheck): after the fault is gone, every PUA detection of the
// simulator was mailed, none twice under different Message-IDs, and the
// runs under the fault exited as the fault deserves, naming the tenant or
// the store. Faults of a single point of Step 5 have their own tests
// beside the code they fix; this file holds the rows that cut across.

// matrixRig is a rig with a partner of a few tenants and a configuration
// file for `puawatch run --once`.
type matrixRig struct {
	*rig
	cfgPath string
}

func newMatrixRig(t *testing.T, mod func(*sim.Config)) *matrixRig {
	t.Helper()
	cfg := sim.DefaultConfig()
	cfg.Seed = 99
	cfg.Tenants = 4
	cfg.EventsPerTenant = 120
	cfg.HostileShare = 0.1
	if mod != nil {
		mod(&cfg)
	}
	r := newRig(t, cfg)
	m := &matrixRig{rig: r, cfgPath: filepath.Join(t.TempDir(), "puawatch.yaml")}
	m.setDB(t, r.db)
	return m
}

// setDB writes the configuration with db as the store (a path or a
// file: URI with pragmas).
func (m *matrixRig) setDB(t *testing.T, db string) {
	t.Helper()
	body := fmt.Sprintf(`sophos:
  client_id: %q
  client_secret: %q
  auth_url: %q
  api_url: %q
  timeout: 5s
store:
  db: %q
email:
  smtp_url: %q
  from: puawatch@test.invalid
  to: [soc@test.invalid]
poll:
  page_limit: 10
notify:
  backoff_base: 1s
  backoff_max: 2s
`, m.env["PUAWATCH_CLIENT_ID"], m.env["PUAWATCH_CLIENT_SECRET"], m.env["PUAWATCH_AUTH_URL"], m.env["PUAWATCH_API_URL"], db, m.smtpURL())
	if err := os.WriteFile(m.cfgPath, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// runOnce runs `puawatch run --once` and returns its exit status and
// stderr.
func (m *matrixRig) runOnce(t *testing.T) (int, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	code := cli.Main(ctx, []string{"run", "--once", "--config", m.cfgPath, "--credentials", filepath.Join(m.dir, "none.yaml")},
		strings.NewReader(""), &stdout, &stderr)
	return code, stderr.String()
}

// matrixCheck is every row's last word: with the fault gone, runs until
// one exits 0 (at most a few), then every detection of the simulator was
// mailed, and a detection mailed twice was mailed under one Message-ID
// (the documented redelivery window), never under two.
func (m *matrixRig) matrixCheck(t *testing.T) {
	t.Helper()
	var code int
	var stderr string
	for range 4 {
		if code, stderr = m.runOnce(t); code == cli.ExitOK {
			break
		}
		time.Sleep(2 * time.Second) // past backoff_max: retried rows are due again
	}
	if code != cli.ExitOK {
		t.Fatalf("with the fault gone, run --once still exits %d:\n%s", code, stderr)
	}
	want := m.expected(t, nil)
	got, msgIDs := m.delivered(t)
	missing, extra := diff(want, got)
	if len(missing) > 0 || len(extra) > 0 {
		t.Fatalf("delivered %d detections, want %d: %d lost (e.g. %v), %d not in the simulator (e.g. %v)",
			len(got), len(want), len(missing), first(missing), len(extra), first(extra))
	}
	for id, n := range got {
		if n > 1 && len(msgIDs[id]) > 1 {
			t.Errorf("detection %s mailed %d times under %d Message-IDs: an unexplained duplicate", id, n, len(msgIDs[id]))
		}
	}
	t.Logf("%d detections delivered; API %v", len(want), m.sim.Counters().Stats)
}

// underFault runs --once while the fault holds and checks its exit status
// and that stderr names what failed.
func (m *matrixRig) underFault(t *testing.T, wantCode int, names ...string) string {
	t.Helper()
	code, stderr := m.runOnce(t)
	if code != wantCode {
		t.Errorf("under the fault run --once exits %d, want %d:\n%s", code, wantCode, stderr)
	}
	for _, n := range names {
		if !strings.Contains(stderr, n) {
			t.Errorf("stderr does not name %q:\n%s", n, stderr)
		}
	}
	return stderr
}

func TestMatrix429StormWithRetryAfter(t *testing.T) {
	m := newMatrixRig(t, func(c *sim.Config) { c.Limits = sim.RateLimits{PerSecond: 1} })
	m.underFault(t, cli.ExitOK) // waits out every Retry-After: nothing to report
	if m.sim.Counters().Stats["rate_limited"] == 0 {
		t.Fatal("no 429 was answered: the row proves nothing")
	}
	m.matrixCheck(t)
}

func TestMatrix429StormWithoutRetryAfter(t *testing.T) {
	m := newMatrixRig(t, func(c *sim.Config) {
		c.Limits = sim.RateLimits{PerSecond: 1}
		c.Faults.OmitRetryAfter = true
	})
	code, stderr := m.runOnce(t) // backs off on its own; may give up on a tenant, naming it
	if code != cli.ExitOK && code != cli.ExitFailure {
		t.Errorf("under a 429 storm without Retry-After run --once exits %d:\n%s", code, stderr)
	}
	if m.sim.Counters().Stats["rate_limited"] == 0 {
		t.Fatal("no 429 was answered: the row proves nothing")
	}
	if err := m.sim.SetLimits(sim.RateLimits{}); err != nil {
		t.Fatal(err)
	}
	m.matrixCheck(t)
}

func TestMatrix5xxBurst(t *testing.T) {
	m := newMatrixRig(t, func(c *sim.Config) { c.Faults.ErrorRate = 1 })
	// Every call fails, the token's first: the run gives up naming it.
	m.underFault(t, cli.ExitFailure, "central: token: HTTP 50", "gave up after")
	if err := m.sim.SetFaults(sim.Faults{ErrorRate: 0.3}); err != nil {
		t.Fatal(err)
	}
	m.matrixCheck(t)
}

func TestMatrixMalformedJSON(t *testing.T) {
	m := newMatrixRig(t, func(c *sim.Config) { c.Faults.MalformedRate = 1 })
	m.underFault(t, cli.ExitFailure, "central: token: oauth2: cannot parse json", "gave up after")
	if err := m.sim.SetFaults(sim.Faults{MalformedRate: 0.2}); err != nil {
		t.Fatal(err)
	}
	m.matrixCheck(t)
}

func TestMatrixTokenRevokedMidFeed(t *testing.T) {
	// Pages take 100 ms each, so the feed is being read when every token
	// is revoked (as an admin deleting and re-creating the credential's
	// sessions would): a 401 renews the token once and the read goes on.
	m := newMatrixRig(t, func(c *sim.Config) { c.Faults.Latency = sim.Duration(100 * time.Millisecond) })
	// Revoke once the first page has been served: a token is live then,
	// and the feed (120 events a tenant in pages of 10) is far from read.
	revoked := make(chan int, 1)
	go func() {
		for deadline := time.Now().Add(time.Minute); m.sim.Counters().Stats["pages_served"] == 0 && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
		revoked <- m.sim.RevokeTokens()
	}()
	m.underFault(t, cli.ExitOK)
	if n := <-revoked; n == 0 {
		t.Fatal("no token was live to revoke: the row proves nothing")
	}
	if m.sim.Counters().Stats["tokens_issued"] < 2 {
		t.Fatalf("tokens issued %d: the revocation was not noticed", m.sim.Counters().Stats["tokens_issued"])
	}
	m.matrixCheck(t)
}

func TestMatrixTenantRemovedAndReadded(t *testing.T) {
	m := newMatrixRig(t, nil)
	m.underFault(t, cli.ExitOK)
	gone := m.sim.Tenants()[2]
	if !m.sim.RemoveTenant(gone.ID) {
		t.Fatal("RemoveTenant failed")
	}
	// Removed from the partner: no longer listed, so not read, not a failure.
	m.underFault(t, cli.ExitOK)
	// Back, with events that came while it was away: they are delivered.
	if !m.sim.RestoreTenant(gone.ID) {
		t.Fatal("RestoreTenant failed")
	}
	if _, err := m.sim.Inject(gone.ID, []sim.Event{{Type: sim.TypeCorePuaDetection, Name: "PUA detected: 'PsExec' at 'C:\\t\\PsExec.exe'",
		Severity: "medium", Group: "PUA", Location: "WS-BACK-1", Threat: ptr("PsExec")}}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	m.matrixCheck(t)
}

// TestMatrixDatabaseReadOnly: a store that refuses writes fails the run
// naming the store; nothing is marked read, so the next run delivers all.
func TestMatrixDatabaseReadOnly(t *testing.T) {
	m := newMatrixRig(t, nil)
	m.underFault(t, cli.ExitOK) // creates the store
	m.setDB(t, "file:"+m.db+"?mode=ro")
	for _, ti := range m.sim.Tenants() {
		injectPUA(t, m.sim, ti.ID, "WS-RO")
	}
	m.underFault(t, cli.ExitFailure, "readonly")
	m.setDB(t, m.db)
	m.matrixCheck(t)
}

// TestMatrixDatabaseFull: SQLite's max_page_count stands for a full disk.
func TestMatrixDatabaseFull(t *testing.T) {
	m := newMatrixRig(t, func(c *sim.Config) { c.EventsPerTenant = 400 })
	m.setDB(t, "file:"+m.db+"?_pragma=max_page_count(60)")
	m.underFault(t, cli.ExitFailure, "full")
	m.setDB(t, m.db)
	m.matrixCheck(t)
}

// TestMatrixDatabaseLocked: another process holds the write lock past the
// busy timeout; the run fails naming the lock, and delivers after.
func TestMatrixDatabaseLocked(t *testing.T) {
	m := newMatrixRig(t, nil)
	m.underFault(t, cli.ExitOK) // creates the store
	for _, ti := range m.sim.Tenants() {
		injectPUA(t, m.sim, ti.ID, "WS-LOCK")
	}
	db, err := sql.Open("sqlite", "file:"+m.db)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	m.underFault(t, cli.ExitFailure, "locked")
	if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	_ = conn.Close()
	m.matrixCheck(t)
}

// injectPUA adds one PUA detection to a tenant.
func injectPUA(t *testing.T, s *sim.Simulator, tenantID, host string) {
	t.Helper()
	if _, err := s.Inject(tenantID, []sim.Event{{Type: sim.TypeCorePuaDetection, Name: "PUA detected: 'PsExec' at 'C:\\t\\PsExec.exe'",
		Severity: "medium", Group: "PUA", Location: host, Threat: ptr("PsExec")}}, time.Time{}); err != nil {
		t.Fatal(err)
	}
}
