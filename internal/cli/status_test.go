package cli

import (
	"context"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/puawatch/puawatch/internal/fake/sim"
	"github.com/puawatch/puawatch/internal/store"
	"github.com/puawatch/puawatch/internal/store/sqlstore"
	"github.com/puawatch/puawatch/internal/store/storetest"
)

// statusEnv is a minimal environment for `status`: credentials (the
// configuration needs them; status does not call Sophos).
func statusEnv() map[string]string {
	return map[string]string{"PUAWATCH_CLIENT_ID": "status-test-id", "PUAWATCH_CLIENT_SECRET": "status-test-secret-77"}
}

const hostileTenantName = "Evil\r\n\x1b[2JCorp\t\u009b"

// statusStore makes a SQLite store through the store API, at now: a
// healthy tenant, a failing one (hostile name and error), a lagging one,
// one with a lost window found an hour ago, a removed one with an old
// error, and outbox rows: email sent and dead, slack pending.
func statusStore(t *testing.T, now time.Time) string {
	t.Helper()
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "status.db")
	st, err := sqlstore.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.UpsertTenants(ctx, []store.Tenant{
		{ID: "t-ok", Name: "Healthy Ltd"}, {ID: "t-fail", Name: hostileTenantName}, {ID: "t-lag", Name: "Lagging GmbH"},
		{ID: "t-lost", Name: "Lost SA"}, {ID: "t-gone", Name: "Gone Inc"},
	}, now.Add(-48*time.Hour)))
	read := func(id string, at time.Time, dets ...store.Detection) {
		t.Helper()
		_, err := st.CommitPage(ctx, store.PageCommit{TenantID: id, Cursor: sim.CursorAt(at), EndOfFeed: true, At: at,
			Detections: dets, Route: storetest.ToChannels([]string{"email", "slack"})})
		must(err)
	}
	read("t-ok", now.Add(-2*time.Minute), store.Detection{EventID: "e1"}, store.Detection{EventID: "e2"})
	read("t-fail", now.Add(-time.Hour))
	must(st.SetTenantError(ctx, "t-fail", "HTTP 403 forbidden:\r\n\x1b[31mgo away\x1b[0m", now.Add(-10*time.Minute)))
	read("t-lag", now.Add(-7*time.Hour))
	read("t-lost", now.Add(-5*time.Minute))
	must(st.AddLostWindow(ctx, store.LostWindow{TenantID: "t-lost", From: now.Add(-30 * time.Hour), To: now.Add(-24 * time.Hour),
		Reason: "the watcher was down", DetectedAt: now.Add(-time.Hour)}))
	read("t-gone", now.Add(-3*24*time.Hour))
	must(st.SetTenantError(ctx, "t-gone", "HTTP 404", now.Add(-3*24*time.Hour)))
	must(st.UpsertTenants(ctx, []store.Tenant{{ID: "t-ok", Name: "Healthy Ltd"}, {ID: "t-fail", Name: hostileTenantName},
		{ID: "t-lag", Name: "Lagging GmbH"}, {ID: "t-lost", Name: "Lost SA"}}, now)) // t-gone is removed

	items, err := st.ClaimOutbox(ctx, store.Claim{Owner: "w", Now: now, Lease: time.Minute, Limit: 10})
	must(err)
	for _, it := range items {
		switch {
		case it.Channel == "email" && it.EventID == "e1":
			must(st.MarkSent(ctx, "w", []int64{it.ID}, now))
		case it.Channel == "email":
			must(st.MarkDead(ctx, "w", []int64{it.ID}, "535 auth\x1b[31m failed", now))
		default:
			must(st.MarkRetry(ctx, "w", []int64{it.ID}, now.Add(time.Hour), "HTTP 503"))
		}
	}
	return db
}

// TestStatusNamesProblems: status shows every tenant and the outbox by
// receiver, and exits 1 naming the failing, lagging and lost tenants and
// the dead notifications on stderr; the removed tenant is shown, not
// judged; no control character of the endpoint data reaches the table.
func TestStatusNamesProblems(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC()
	db := statusStore(t, now)
	r := runCLI(t, statusEnv(), "", "status", "--db", db)
	if r.code != ExitFailure {
		t.Fatalf("status with failing, lagging and lost tenants and dead rows: want exit 1\n%s", r)
	}
	for _, want := range []string{
		"puawatch: tenant Evil   [2JCorp   (t-fail) failing since ",
		"HTTP 403 forbidden:   [31mgo away [0m",
		"puawatch: tenant Lagging GmbH (t-lag) lagging: not read to the end for 7h0m0s (poll.lag_alarm 6h0m0s)",
		"puawatch: tenant Lost SA (t-lost): 1 window(s) of events may be lost",
		"puawatch: receiver email: 1 notification(s) dead: 535 auth [31m failed; send them again with: puawatch outbox retry --receiver email",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	for _, not := range []string{"Healthy Ltd", "Gone Inc", "slack"} {
		if strings.Contains(r.stderr, not) {
			t.Errorf("stderr names %s, which needs no attention:\n%s", not, r.stderr)
		}
	}
	state := map[string]string{}
	for _, l := range strings.Split(r.stdout, "\n") {
		f := strings.Fields(l)
		for i, w := range f {
			if strings.HasPrefix(w, "t-") && i+1 < len(f) {
				state[w] = f[i+1]
			}
		}
	}
	for id, want := range map[string]string{"t-ok": "ok", "t-fail": "failing", "t-lag": "lagging", "t-lost": "lost", "t-gone": "removed"} {
		if state[id] != want {
			t.Errorf("table: tenant %s is %q, want %q:\n%s", id, state[id], want, r.stdout)
		}
	}
	if !strings.Contains(r.stdout, "(23h58m0s left)") {
		t.Errorf("table lacks Healthy Ltd's cursor age against the 24 hours:\n%s", r.stdout)
	}
	if !regexpMatch(`(?m)^email\s+0\s+0\s+1\s+1\s+535 auth`, r.stdout) || !regexpMatch(`(?m)^slack\s+2\s+2\s+0\s+0\s+HTTP 503`, r.stdout) {
		t.Errorf("table lacks the outbox by receiver (email: 1 sent, 1 dead; slack: 2 pending, retrying):\n%s", r.stdout)
	}
	for _, c := range r.stdout + r.stderr {
		if c != '\n' && (unicode.IsControl(c) || c == '\u009b') {
			t.Fatalf("output holds control character %U:\n%q", c, r.stdout+r.stderr)
		}
	}
}

// TestStatusJSON: --format json is one object of the documented shape.
func TestStatusJSON(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC()
	db := statusStore(t, now)
	r := runCLI(t, statusEnv(), "", "status", "--db", db, "--format", "json")
	if r.code != ExitFailure {
		t.Fatalf("status --format json: want exit 1\n%s", r)
	}
	var got struct {
		CheckedAt string   `json:"checked_at"`
		OK        bool     `json:"ok"`
		Problems  []string `json:"problems"`
		Tenants   []struct {
			ID         string   `json:"id"`
			Name       string   `json:"name"`
			Region     string   `json:"region"`
			Removed    bool     `json:"removed"`
			State      string   `json:"state"`
			LastRead   *string  `json:"last_read"`
			Lag        *float64 `json:"lag_seconds"`
			Lagging    bool     `json:"lagging"`
			CursorAt   *string  `json:"cursor_at"`
			CursorAge  *float64 `json:"cursor_age_seconds"`
			CursorLeft *float64 `json:"cursor_left_seconds"`
			Lost       []struct {
				From, To, Reason string
				DetectedAt       string `json:"detected_at"`
			} `json:"lost_windows"`
			LastError string  `json:"last_error"`
			ErrorAt   *string `json:"error_at"`
		} `json:"tenants"`
		Outbox []struct {
			Receiver                      string
			Pending, Retrying, Sent, Dead int
			FirstDue                      *string `json:"first_due"`
			LastError                     string  `json:"last_error"`
		} `json:"outbox"`
	}
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("status --format json is not the documented object: %v\n%s", err, r.stdout)
	}
	if got.OK || len(got.Problems) != 4 || !strings.HasSuffix(got.CheckedAt, "Z") || len(got.CheckedAt) != len("2006-01-02T15:04:05.000Z") {
		t.Errorf("ok %v, %d problems, checked_at %q; want false, 4, RFC 3339 with milliseconds", got.OK, len(got.Problems), got.CheckedAt)
	}
	byID := map[string]int{}
	for i, tn := range got.Tenants {
		byID[tn.ID] = i
	}
	ok := got.Tenants[byID["t-ok"]]
	if ok.State != "ok" || ok.LastRead == nil || ok.Lag == nil || *ok.Lag < 119 || ok.CursorAt == nil || ok.CursorLeft == nil || *ok.CursorLeft > 24*3600-119 {
		t.Errorf("t-ok = %+v", ok)
	}
	if f := got.Tenants[byID["t-fail"]]; f.State != "failing" || f.Name != hostileTenantName || !strings.Contains(f.LastError, "go away") {
		t.Errorf("t-fail = %+v; want failing, its name and error as stored", f)
	}
	if l := got.Tenants[byID["t-lost"]]; l.State != "lost" || len(l.Lost) != 1 || l.Lost[0].Reason != "the watcher was down" {
		t.Errorf("t-lost = %+v", l)
	}
	if g := got.Tenants[byID["t-gone"]]; !g.Removed || g.State != "removed" {
		t.Errorf("t-gone = %+v", g)
	}
	if len(got.Outbox) != 2 || got.Outbox[0].Receiver != "email" || got.Outbox[0].Dead != 1 || got.Outbox[0].Sent != 1 ||
		got.Outbox[1].Receiver != "slack" || got.Outbox[1].Pending != 2 || got.Outbox[1].Retrying != 2 {
		t.Errorf("outbox = %+v", got.Outbox)
	}
}

// TestStatusUsage: a bad --format is a usage error.
func TestStatusUsage(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "x.db")
	if r := runCLI(t, statusEnv(), "", "status", "--db", db, "--format", "xml"); r.code != ExitUsage || !strings.Contains(r.stderr, "--format") {
		t.Errorf("status --format xml: want exit 2 naming --format\n%s", r)
	}
	if r := runCLI(t, statusEnv(), "", "status", "--db", db, "extra"); r.code != ExitUsage {
		t.Errorf("status with an argument: want exit 2\n%s", r)
	}
}

// TestStatusAfterRun: after a good run --once against the simulator,
// status shows every tenant read and every notification sent, and exits
// 0.
func TestStatusAfterRun(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 2)
	want := w.wantDetections(t)
	if r := runCLI(t, w.env(), "", "run", "--once", "--credentials", w.creds); r.code != ExitOK {
		t.Fatalf("run --once: want exit 0\n%s", r)
	}
	r := runCLI(t, w.env(), "", "status", "--credentials", w.creds)
	if r.code != ExitOK || r.stderr != "" {
		t.Fatalf("status after a good run: want exit 0 and nothing on stderr\n%s", r)
	}
	for _, ti := range w.sim.Tenants() {
		if !regexpMatch(`(?m)^`+ti.Name+`\s+`+ti.ID+`\s+ok\s`, r.stdout) {
			t.Errorf("table lacks tenant %s (%s) as ok:\n%s", ti.Name, ti.ID, r.stdout)
		}
	}
	for _, rc := range []string{"email", "jsonl"} {
		if !regexpMatch(`(?m)^`+rc+`\s+0\s+0\s+`+itoa(len(want))+`\s+0\s*$`, r.stdout) {
			t.Errorf("table lacks receiver %s with %d sent:\n%s", rc, len(want), r.stdout)
		}
	}
}

func regexpMatch(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }

func itoa(n int) string { return strconv.Itoa(n) }
