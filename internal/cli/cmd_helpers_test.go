package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/config"
	"github.com/puawatch/puawatch/internal/fake/sim"
	"github.com/puawatch/puawatch/internal/fake/smtpcapture"
)

// cmdResult is what one command line did.
type cmdResult struct {
	code           int
	stdout, stderr string
}

func (r cmdResult) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// runCLI runs args with exactly the environment environ (nothing from the
// process environment) and stdin. The timeout is a safety net for a hung
// command, not a timing assertion.
func runCLI(t *testing.T, environ map[string]string, stdin string, args ...string) cmdResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stdout, stderr lockedBuffer // from sim_test.go
	code := MainWithEnv(ctx, args, environ, strings.NewReader(stdin), &stdout, &stderr)
	if ctx.Err() != nil {
		t.Fatalf("%v did not finish within the safety timeout\nstdout:\n%s\nstderr:\n%s", args, stdout.String(), stderr.String())
	}
	return cmdResult{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// Hostile values injected into the simulator: an endpoint-supplied host
// name with control characters (C0: CR, LF, ESC, TAB; DEL; C1: U+009B, the
// 8-bit CSI that xterm obeys like ESC [), short enough for the table's
// 24-rune HOST column, and a threat a spreadsheet would run.
const (
	hostileHost   = "EVIL\r\nX-INJ\x1b[31m\t\x7f\u009b2J"
	formulaThreat = "=HYPERLINK(\"http://evil.invalid\",\"click\")"
)

// world is a simulated Sophos Central (partner credential), an SMTP
// capture and a temporary directory with the paths puawatch writes.
type world struct {
	sim     *sim.Simulator
	srv     *sim.Server
	smtp    *smtpcapture.Server
	partner sim.Credential
	dir     string
	db      string // SQLite file
	jsonl   string // JSONL output file
	creds   string // a credentials path that does not exist
	// injected are the ids of the events injectHostile added, by kind:
	// "host" (hostile location) and "formula" (threat starting with =).
	injected map[string]string
}

// newWorld starts a small fault-free simulator with tenants tenants and
// a short backlog, plus two injected detections with hostile values in
// the first tenant.
func newWorld(t *testing.T, tenants int) *world {
	t.Helper()
	cfg := sim.DefaultConfig()
	cfg.Tenants = tenants
	cfg.EventsPerTenant = 25
	cfg.Backlog = 6 * time.Hour
	cfg.HostileShare = 0
	cfg.Rate = 0
	s := sim.New(cfg)
	srv, err := sim.Start(s, sim.ListenOptions{})
	if err != nil {
		t.Fatalf("sim.Start: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	capture, err := smtpcapture.Start(smtpcapture.Options{})
	if err != nil {
		t.Fatalf("smtpcapture.Start: %v", err)
	}
	t.Cleanup(func() { capture.Close() })
	awaitSMTPGreeting(t, capture.Addr())
	partner, ok := s.Credential("partner")
	if !ok {
		t.Fatal("the simulator has no partner credential")
	}
	dir := t.TempDir()
	w := &world{sim: s, srv: srv, smtp: capture, partner: partner, dir: dir,
		db: filepath.Join(dir, "puawatch.db"), jsonl: filepath.Join(dir, "detections.jsonl"),
		creds: filepath.Join(dir, "no-such-dir", "credentials.yaml"), injected: map[string]string{}}
	w.injectHostile(t)
	return w
}

func (w *world) injectHostile(t *testing.T) {
	t.Helper()
	tid := w.sim.Tenants()[0].ID
	threat1, threat2 := "Generic PUA Evil", formulaThreat
	at := time.Now().Add(-10 * time.Minute).UTC()
	ids, err := w.sim.Inject(tid, []sim.Event{
		{Type: sim.TypeCorePuaDetection, Name: "PUA detected: 'Generic PUA Evil' at 'C:\\evil.exe'", Severity: "medium",
			Group: "PUA", Location: hostileHost, Source: "CORP\\mallory", EndpointType: "computer", EndpointID: "ep-hostile",
			Threat: &threat1, CreatedAt: at, When: at},
		{Type: sim.TypeCorePuaDetection, Name: "PUA detected: 'formula' at 'C:\\formula.exe'", Severity: "high",
			Group: "PUA", Location: "WS-FORMULA", Source: "CORP\\eve", EndpointType: "computer", EndpointID: "ep-formula",
			Threat: &threat2, CreatedAt: at.Add(time.Second), When: at.Add(time.Second)},
	}, time.Time{})
	if err != nil {
		t.Fatalf("Inject: %v", err)
	}
	w.injected["host"], w.injected["formula"] = ids[0], ids[1]
}

// awaitSMTPGreeting reads the greeting of the SMTP server at addr, which
// proves that its accept loop runs. smtpcapture's Close hangs when it is
// called before then (see TestSMTPCaptureCloseRightAfterStart); tests that
// never send mail would otherwise hang in their cleanup now and then.
func awaitSMTPGreeting(t *testing.T, addr string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial the SMTP capture: %v", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second)) // a safety net
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "220") {
		t.Fatalf("SMTP capture greeting %q: %v", line, err)
	}
	_, _ = conn.Write([]byte("QUIT\r\n"))
}

// env is the environment of a `run` against the world: the partner
// credential, the store, the SMTP capture and the JSONL file.
func (w *world) env() map[string]string {
	return map[string]string{
		"PUAWATCH_CLIENT_ID":     w.partner.ClientID,
		"PUAWATCH_CLIENT_SECRET": w.partner.ClientSecret,
		"PUAWATCH_AUTH_URL":      w.sim.TokenURL(),
		"PUAWATCH_API_URL":       w.srv.GlobalURL,
		"PUAWATCH_DB":            w.db,
		"PUAWATCH_SMTP_URL":      "smtp://" + w.smtp.Addr() + "?starttls=none",
		"PUAWATCH_MAIL_FROM":     "puawatch <puawatch@test.invalid>",
		"PUAWATCH_MAIL_TO":       "soc@test.invalid",
		"PUAWATCH_JSONL":         w.jsonl,
	}
}

// with returns a copy of m with the given key/value pairs set; an empty
// value deletes the key.
func with(m map[string]string, kv ...string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(out, kv[i])
		} else {
			out[kv[i]] = kv[i+1]
		}
	}
	return out
}

// wantDetections is the ground truth: the id of every event of every
// tenant whose type is a default detection type, with its tenant id.
func (w *world) wantDetections(t *testing.T) map[string]string {
	t.Helper()
	want := map[string]string{}
	for _, ti := range w.sim.Tenants() {
		evs, err := w.sim.Events(ti.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if slices.Contains(config.Default().Match.Types, e.Type) {
				want[e.ID] = ti.ID
			}
		}
	}
	if len(want) < 3 {
		t.Fatalf("the simulator holds only %d detections; the test needs a few", len(want))
	}
	return want
}

// jsonLines decodes every line of s as a JSON object.
func jsonLines(t *testing.T, what, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			t.Errorf("%s line %d is empty", what, n)
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("%s line %d is not a JSON object: %v\n%s", what, n, err, line)
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// ids returns the "id" fields of objs, sorted.
func ids(objs []map[string]any) []string {
	var out []string
	for _, o := range objs {
		s, _ := o["id"].(string)
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// writeFile writes a file with the given mode (exactly, past the umask).
func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// noSecret fails the test when any of secrets appears in r's output.
func noSecret(t *testing.T, what string, r cmdResult, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s == "" {
			t.Fatalf("noSecret: empty secret")
		}
		if strings.Contains(r.stdout, s) {
			t.Errorf("%s: stdout holds the secret %q:\n%s", what, s, r.stdout)
		}
		if strings.Contains(r.stderr, s) {
			t.Errorf("%s: stderr holds the secret %q:\n%s", what, s, r.stderr)
		}
	}
}

// checkMailed fails the test unless every detection of want is named by
// exactly one of msgs and every mail names at least one of them. It
// returns how many detections each mail names (one, unless mails are
// digests).
func checkMailed(t *testing.T, msgs []smtpcapture.Message, want map[string]string) []int {
	t.Helper()
	perMail := make([]int, len(msgs))
	mailsOf := map[string]int{}
	for i, m := range msgs {
		for id := range want {
			if strings.Contains(m.Text, id) {
				perMail[i]++
				mailsOf[id]++
			}
		}
		if perMail[i] == 0 {
			t.Errorf("mail %q names no detection the simulator holds", m.Subject)
		}
	}
	for _, id := range sortedKeys(want) {
		if n := mailsOf[id]; n != 1 {
			t.Errorf("detection %s is named by %d mails, want 1", id, n)
		}
	}
	return perMail
}
