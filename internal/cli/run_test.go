package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/fake/sim"
	"github.com/puawatch/puawatch/internal/render"
)

// jsonlFields are the keys every line of the JSONL channel carries.
var jsonlFields = []string{"id", "type", "tenant_id", "tenant_name", "created_at", "when", "host", "name", "threat", "severity"}

func TestRunOnceMailsAndWritesEveryDetectionOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 3)
	want := w.wantDetections(t)
	args := []string{"run", "--once", "--credentials", w.creds}

	r := runCLI(t, w.env(), "", args...)
	if r.code != ExitOK {
		t.Fatalf("first run --once: want exit 0\n%s", r)
	}
	noSecret(t, "run --once", r, w.partner.ClientSecret)

	// Every detection mailed once: a mail each, or a digest for a tenant
	// with more than 3 at once (the default route).
	msgs := w.smtp.Messages()
	perMail := checkMailed(t, msgs, want)
	for i, n := range perMail {
		if n > 1 && n <= 3 {
			t.Errorf("mail %d carries %d detections: groups of 3 or fewer go a mail each (detections per mail: %v)", i, n, perMail)
		}
	}
	for _, m := range msgs {
		if len(m.To) != 1 || m.To[0] != "soc@test.invalid" {
			t.Errorf("mail %q went to %v, want [soc@test.invalid]", m.Subject, m.To)
		}
	}

	// One JSONL line per detection with the documented fields.
	b, err := os.ReadFile(w.jsonl)
	if err != nil {
		t.Fatalf("PUAWATCH_JSONL file: %v", err)
	}
	lines := jsonLines(t, "JSONL", string(b))
	if len(lines) != len(want) {
		t.Errorf("%d JSONL lines, want one per detection: %d", len(lines), len(want))
	}
	if got, exp := ids(lines), sortedKeys(want); strings.Join(got, ",") != strings.Join(exp, ",") {
		t.Errorf("JSONL ids\n got %v\nwant %v", got, exp)
	}
	tenantNames := map[string]string{}
	for _, ti := range w.sim.Tenants() {
		tenantNames[ti.ID] = ti.Name
	}
	for _, l := range lines {
		for _, f := range jsonlFields {
			v, ok := l[f].(string)
			if !ok || v == "" {
				t.Errorf("JSONL line %v: field %q is %#v, want a non-empty string", l["id"], f, l[f])
			}
		}
		id, _ := l["id"].(string)
		if tid := want[id]; tid != "" && (l["tenant_id"] != tid || l["tenant_name"] != tenantNames[tid]) {
			t.Errorf("JSONL line %s: tenant %v %v, want %s %s", id, l["tenant_id"], l["tenant_name"], tid, tenantNames[tid])
		}
		for _, f := range []string{"created_at", "when"} {
			if s, _ := l[f].(string); s != "" {
				if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
					t.Errorf("JSONL line %s: %s %q is not RFC 3339: %v", id, f, s, err)
				}
			}
		}
		if want := render.Clean(hostileHost); id == w.injected["host"] && l["host"] != want {
			t.Errorf("JSONL line %s: host %q, want the host name as sent, cleaned to one line of plain text %q", id, l["host"], want)
		}
	}

	// A second run finds nothing new and sends nothing.
	r = runCLI(t, w.env(), "", args...)
	if r.code != ExitOK {
		t.Fatalf("second run --once: want exit 0\n%s", r)
	}
	if n := len(w.smtp.Messages()); n != len(msgs) {
		t.Errorf("second run --once sent %d more mail(s), want none", n-len(msgs))
	}
	if b2, err := os.ReadFile(w.jsonl); err != nil || string(b2) != string(b) {
		t.Errorf("second run --once changed the JSONL file (err %v):\n%s", err, b2)
	}
}

func TestRunOnceForbiddenTenant(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 3)
	want := w.wantDetections(t)
	bad := w.sim.Tenants()[1]
	if err := w.sim.SetFaults(sim.Faults{ForbiddenTenants: []string{bad.ID}}); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, w.env(), "", "run", "--once", "--credentials", w.creds)
	if r.code != ExitFailure {
		t.Fatalf("run --once with a forbidden tenant: want exit 1\n%s", r)
	}
	var line string
	for _, l := range strings.Split(r.stderr, "\n") {
		if strings.HasPrefix(l, "puawatch: tenant ") && strings.Contains(l, bad.Name) && strings.Contains(l, bad.ID) {
			line = l
		}
	}
	if line == "" {
		t.Errorf("stderr has no line naming the forbidden tenant %q (%s):\n%s", bad.Name, bad.ID, r.stderr)
	} else if !strings.Contains(line, "failed") {
		t.Errorf("the line naming the forbidden tenant does not say it failed: %q", line)
	}
	noSecret(t, "run --once (forbidden tenant)", r, w.partner.ClientSecret)

	// The other tenants were read and notified all the same.
	readable := map[string]string{}
	for id, tid := range want {
		if tid != bad.ID {
			readable[id] = tid
		}
	}
	checkMailed(t, w.smtp.Messages(), readable)
}

func TestRunOnceWrongSecret(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 2)
	const wrong = "Wrong-Secret-7c1f9e"
	r := runCLI(t, with(w.env(), "PUAWATCH_CLIENT_SECRET", wrong), "", "run", "--once", "--credentials", w.creds)
	// A refused credential is found only by asking Sophos; the command
	// reports it as a run-time failure (1). A configuration error (2)
	// would be defensible too; success is not.
	if r.code != ExitUsage {
		t.Fatalf("run --once with a wrong secret: want exit 2 (a configuration error: retrying will not mend it)\n%s", r)
	}
	if !strings.Contains(r.stderr, "client secret") {
		t.Errorf("stderr does not say that the client secret was refused:\n%s", r.stderr)
	}
	noSecret(t, "run --once (wrong secret)", r, wrong, w.partner.ClientSecret)
	if n := len(w.smtp.Messages()); n != 0 {
		t.Errorf("%d mails sent with a refused credential", n)
	}
}

func TestRunUsageErrors(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 1)
	cfgFile := filepath.Join(w.dir, "puawatch.yaml")
	writeFile(t, cfgFile, "# settings\nsophos:\n  timeout: 10s\npoll:\n  intervall: 5m\n", 0o600)

	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		mention []string // in stderr
	}{
		{"no client id", map[string]string{}, []string{"run", "--once", "--credentials", w.creds},
			[]string{"PUAWATCH_CLIENT_ID", "puawatch login"}},
		{"unknown YAML key", w.env(), []string{"run", "--once", "--config", cfgFile, "--credentials", w.creds},
			[]string{"puawatch.yaml:5", `"intervall"`}},
		{"unknown YAML key via PUAWATCH_CONFIG", with(w.env(), "PUAWATCH_CONFIG", cfgFile), []string{"run", "--once", "--credentials", w.creds},
			[]string{"puawatch.yaml:5", `"intervall"`}},
		{"bogus --initial", w.env(), []string{"run", "--once", "--initial", "bogus", "--credentials", w.creds},
			[]string{"--initial", "bogus"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, tt.env, "", tt.args...)
			if r.code != ExitUsage {
				t.Fatalf("want exit 2\n%s", r)
			}
			for _, m := range tt.mention {
				if !strings.Contains(r.stderr, m) {
					t.Errorf("stderr does not mention %q:\n%s", m, r.stderr)
				}
			}
			noSecret(t, tt.name, r, w.partner.ClientSecret)
		})
	}
	if n := len(w.smtp.Messages()); n != 0 {
		t.Errorf("%d mails sent by runs that should not have started", n)
	}
	if _, err := os.Stat(w.db); err == nil {
		t.Errorf("a store was created at %s by runs that should not have started", w.db)
	}
}

func TestRunInitialSilentStoresWithoutSending(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 3)
	want := w.wantDetections(t)
	r := runCLI(t, w.env(), "", "run", "--initial", "silent", "--once", "--credentials", w.creds)
	if r.code != ExitOK {
		t.Fatalf("run --initial silent --once: want exit 0\n%s", r)
	}
	if n := len(w.smtp.Messages()); n != 0 {
		t.Errorf("--initial silent sent %d mail(s), want none", n)
	}
	if b, err := os.ReadFile(w.jsonl); err == nil && len(b) > 0 {
		t.Errorf("--initial silent wrote to the JSONL file:\n%s", b)
	}
	d := runCLI(t, w.env(), "", "detections", "--format", "json", "--credentials", w.creds)
	if d.code != ExitOK {
		t.Fatalf("detections --format json: want exit 0\n%s", d)
	}
	if got, exp := ids(jsonLines(t, "detections --format json", d.stdout)), sortedKeys(want); strings.Join(got, ",") != strings.Join(exp, ",") {
		t.Errorf("stored detections after --initial silent\n got %v\nwant %v", got, exp)
	}

	// Silent is for the first read only: a later detection is sent.
	threat := "Later PUA"
	tid := w.sim.Tenants()[2].ID
	newIDs, err := w.sim.Inject(tid, []sim.Event{{Type: sim.TypeCorePuaDetection, Name: "PUA detected: 'Later PUA' at 'C:\\later.exe'",
		Severity: "medium", Group: "PUA", Location: "WS-LATER", Source: "CORP\\later", EndpointType: "computer", Threat: &threat}}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, w.env(), "", "run", "--once", "--credentials", w.creds)
	if r.code != ExitOK {
		t.Fatalf("run --once after the silent run: want exit 0\n%s", r)
	}
	msgs := w.smtp.Messages()
	if len(msgs) != 1 || !strings.Contains(msgs[0].Text, newIDs[0]) {
		t.Errorf("after the silent first read, %d mail(s); want exactly one, for the new detection %s", len(msgs), newIDs[0])
	}
}

// TestLogLinesShape: every log line of a run names its component with
// one attribute, errors go under one key, and no message repeats its
// component as a prefix.
func TestLogLinesShape(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 3)
	// One forbidden tenant, so that error lines are logged too.
	if err := w.sim.SetFaults(sim.Faults{ForbiddenTenants: []string{w.sim.Tenants()[1].ID}}); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, with(w.env(), "PUAWATCH_LOG_FORMAT", "json", "PUAWATCH_LOG_LEVEL", "debug"), "", "run", "--once", "--credentials", w.creds)
	if r.code != ExitFailure {
		t.Fatalf("run --once with a forbidden tenant: want exit 1\n%s", r)
	}
	components := map[string]bool{}
	sawError := false
	for _, line := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
		if !strings.HasPrefix(line, "{") {
			continue // the exit status lines
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		c, _ := m["component"].(string)
		if c == "" {
			t.Errorf("log line without component: %s", line)
		}
		components[c] = true
		if _, ok := m["err"]; ok {
			t.Errorf("log line with key err (the key is error): %s", line)
		}
		if _, ok := m["error"]; ok {
			sawError = true
		}
		if msg, _ := m["msg"].(string); c != "" && strings.HasPrefix(msg, c+": ") {
			t.Errorf("message repeats its component: %s", line)
		}
		if len(line) > 2000 {
			t.Errorf("log line of %d bytes: %.200s...", len(line), line)
		}
	}
	if !sawError {
		t.Errorf("no log line carried an error (the forbidden tenant):\n%s", r.stderr)
	}
	for _, c := range []string{"poll", "notify"} {
		if !components[c] {
			t.Errorf("no log line of component %s (have %v)", c, components)
		}
	}
}
