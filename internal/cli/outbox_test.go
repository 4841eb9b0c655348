package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/puawatch/puawatch/internal/store"
	"github.com/puawatch/puawatch/internal/store/sqlstore"
	"github.com/puawatch/puawatch/internal/store/storetest"
)

// hostileLastError is a dead row's reason as an SMTP server or webhook
// might answer it: CR/LF, ESC sequences (a colour and an OSC title ended by
// BEL), a tab that would shift the table's columns, DEL and the 8-bit CSI.
const hostileLastError = "relay said:\r\n550 \x1b[31mno\x1b[0m\x1b]0;pwned\x07\tsuch\x7f\u009b2J user"

// outboxRow is one prepared outbox row.
type outboxRow struct {
	id       int64
	eventID  string
	receiver string
	state    string
	lastErr  string // the LastError the store holds
	attempts int
}

// outboxFixture is a SQLite store in a temporary directory with one
// pending, one sent and two dead outbox rows, on three receivers.
type outboxFixture struct {
	db   string
	rows map[string]outboxRow // by name: pending, sent, dead, hostile
	env  map[string]string    // a minimal environment: no PUAWATCH_DB, no configuration
}

const outboxTenantName = "Acme Outbox Tenant"

// newOutboxFixture prepares the store. The dead rows were killed an hour
// ago, so a requeue's "due now" is visible.
func newOutboxFixture(t *testing.T) *outboxFixture {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	f := &outboxFixture{db: filepath.Join(dir, "outbox.db"), rows: map[string]outboxRow{},
		env: map[string]string{"PUAWATCH_CLIENT_ID": "outbox-test-id", "PUAWATCH_CLIENT_SECRET": "outbox-test-secret"}}
	st, err := sqlstore.Open(ctx, f.db)
	if err != nil {
		t.Fatalf("sqlstore.Open: %v", err)
	}
	defer st.Close()
	at := time.Now().Add(-2 * time.Hour).UTC()
	det := func(id string) store.Detection {
		return store.Detection{EventID: id, TenantID: "tenant-ob-1", TenantName: outboxTenantName, Kind: store.KindDetection,
			Type: "Event::Endpoint::CorePuaDetection", Name: "PUA detected: 'PsExec'", Severity: "medium", Threat: "PsExec",
			Location: "WS-OB-1", User: `CORP\ob`, EndpointID: "ep-ob-1", EndpointType: "computer", When: at, CreatedAt: at}
	}
	// name -> event id and receiver, one commit per receiver.
	plan := []struct{ name, eventID, receiver string }{
		{"pending", "ev-ob-pending-0001", "email"},
		{"sent", "ev-ob-sent-0002", "email"},
		{"dead", "ev-ob-dead-0003", "soc-hook"},
		{"hostile", "ev-ob-hostile-0004", "siem"},
	}
	for _, p := range plan {
		if _, err := st.CommitPage(ctx, store.PageCommit{TenantID: "tenant-ob-1", Detections: []store.Detection{det(p.eventID)},
			Route: storetest.ToChannels([]string{p.receiver}), At: at}); err != nil {
			t.Fatalf("CommitPage %s: %v", p.name, err)
		}
	}
	items, err := st.Outbox(ctx, store.OutboxFilter{})
	if err != nil {
		t.Fatalf("Outbox: %v", err)
	}
	if len(items) != len(plan) {
		t.Fatalf("the store holds %d outbox rows after the commits, want %d", len(items), len(plan))
	}
	byEvent := map[string]int64{}
	for _, it := range items {
		byEvent[it.EventID] = it.ID
	}
	for _, p := range plan {
		f.rows[p.name] = outboxRow{id: byEvent[p.eventID], eventID: p.eventID, receiver: p.receiver, state: store.StatePending}
	}
	mark := func(name, state, reason string, attempts int) {
		r := f.rows[name]
		r.state, r.lastErr, r.attempts = state, reason, attempts
		f.rows[name] = r
	}
	// Rows are marked by the instance that claimed them.
	const owner = "fixture"
	if _, err := st.ClaimOutbox(ctx, store.Claim{Owner: owner, Now: at, Lease: time.Hour, Limit: len(plan)}); err != nil {
		t.Fatalf("ClaimOutbox: %v", err)
	}
	if err := st.MarkSent(ctx, owner, []int64{f.rows["sent"].id}, at.Add(time.Minute)); err != nil {
		t.Fatalf("MarkSent: %v", err)
	}
	mark("sent", store.StateSent, "", 0)
	// The dead row failed once before it died: attempts 2.
	if err := st.MarkRetry(ctx, owner, []int64{f.rows["dead"].id}, at.Add(time.Minute), "HTTP 503: busy"); err != nil {
		t.Fatalf("MarkRetry: %v", err)
	}
	if again, err := st.ClaimOutbox(ctx, store.Claim{Owner: owner, Now: at.Add(time.Minute), Lease: time.Hour, Limit: 1}); err != nil || len(again) != 1 {
		t.Fatalf("ClaimOutbox of the retried row: %d rows, %v", len(again), err)
	}
	deadAt := time.Now().Add(-time.Hour)
	if err := st.MarkDead(ctx, owner, []int64{f.rows["dead"].id}, "HTTP 410: hook removed", deadAt); err != nil {
		t.Fatalf("MarkDead: %v", err)
	}
	mark("dead", store.StateDead, "HTTP 410: hook removed", 2)
	if err := st.MarkDead(ctx, owner, []int64{f.rows["hostile"].id}, hostileLastError, deadAt); err != nil {
		t.Fatalf("MarkDead (hostile): %v", err)
	}
	if _, err := st.ReleaseClaims(ctx, owner, nil); err != nil { // the pending row is nobody's
		t.Fatalf("ReleaseClaims: %v", err)
	}
	mark("hostile", store.StateDead, hostileLastError, 1)
	return f
}

// outbox reads the store's rows by id, opening it after the command closed
// it.
func (f *outboxFixture) outbox(t *testing.T) map[int64]store.OutboxItem {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := sqlstore.Open(ctx, f.db)
	if err != nil {
		t.Fatalf("sqlstore.Open: %v", err)
	}
	defer st.Close()
	items, err := st.Outbox(ctx, store.OutboxFilter{})
	if err != nil {
		t.Fatalf("Outbox: %v", err)
	}
	out := map[int64]store.OutboxItem{}
	for _, it := range items {
		out[it.ID] = it
	}
	return out
}

// states returns the state of every row, by fixture name.
func (f *outboxFixture) states(t *testing.T) map[string]string {
	t.Helper()
	got := f.outbox(t)
	out := map[string]string{}
	for name, r := range f.rows {
		out[name] = got[r.id].State
	}
	return out
}

// checkStates fails the test unless the rows are in the states want (by
// fixture name; names not in want keep their prepared state).
func (f *outboxFixture) checkStates(t *testing.T, what string, want map[string]string) {
	t.Helper()
	got := f.states(t)
	for name, r := range f.rows {
		w, ok := want[name]
		if !ok {
			w = r.state
		}
		if got[name] != w {
			t.Errorf("%s: row %d (%s) is %q, want %q", what, r.id, name, got[name], w)
		}
	}
}

// tableRows splits the outbox list's table into its header and the rows,
// by id (the first column). Every line must be free of control characters.
func tableRows(t *testing.T, out string) (string, map[int64]string) {
	t.Helper()
	if !strings.HasSuffix(out, "\n") {
		t.Errorf("the listing does not end with a newline: %q", out)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	for i, l := range lines {
		if j := strings.IndexFunc(l, unicode.IsControl); j >= 0 {
			t.Errorf("line %d of the listing holds the control character %U: %q", i+1, []rune(l[j:])[0], l)
		}
	}
	rows := map[int64]string{}
	for _, l := range lines[1:] {
		id, err := strconv.ParseInt(strings.Fields(l + " x")[0], 10, 64)
		if err != nil {
			t.Errorf("listing line %q does not start with a row id", l)
			continue
		}
		if _, dup := rows[id]; dup {
			t.Errorf("row %d is listed twice", id)
		}
		rows[id] = l
	}
	return lines[0], rows
}

// rowPattern matches a row's whole line, column by column; lastErr is the
// expected LAST ERROR text, already made one line.
func rowPattern(r outboxRow, lastErr string) *regexp.Regexp {
	return regexp.MustCompile(fmt.Sprintf(`^%d\s+%s\s+%s\s+%s\s+%s\s+%d\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s*%s\s*$`,
		r.id, r.state, regexp.QuoteMeta(r.receiver), regexp.QuoteMeta(outboxTenantName), regexp.QuoteMeta(r.eventID),
		r.attempts, regexp.QuoteMeta(lastErr)))
}

func TestOutboxList(t *testing.T) {
	t.Parallel()
	f := newOutboxFixture(t)

	t.Run("default lists pending and dead", func(t *testing.T) {
		r := runCLI(t, f.env, "", "outbox", "list", "--db", f.db)
		if r.code != ExitOK {
			t.Fatalf("outbox list: want exit 0\n%s", r)
		}
		header, rows := tableRows(t, r.stdout)
		for _, col := range []string{"ID", "STATE", "RECEIVER", "EVENT ID", "ATTEMPTS", "LAST ERROR"} {
			if !strings.Contains(header, col) {
				t.Errorf("the header %q lacks the column %s", header, col)
			}
		}
		if len(rows) != 3 {
			t.Errorf("listed %d rows, want 3 (pending and the two dead):\n%s", len(rows), r.stdout)
		}
		if l, ok := rows[f.rows["sent"].id]; ok {
			t.Errorf("the default listing shows the sent row: %q", l)
		}
		for _, name := range []string{"pending", "dead"} {
			row := f.rows[name]
			l, ok := rows[row.id]
			if !ok {
				t.Errorf("the %s row %d is not listed:\n%s", name, row.id, r.stdout)
				continue
			}
			if re := rowPattern(row, row.lastErr); !re.MatchString(l) {
				t.Errorf("the %s row is listed as\n%q\nwant it to match %s", name, l, re)
			}
		}
		// Newest first.
		if i, j := strings.Index(r.stdout, f.rows["hostile"].eventID), strings.Index(r.stdout, f.rows["pending"].eventID); i < 0 || j < 0 || i > j {
			t.Errorf("want the newest row (%d) listed before the oldest (%d):\n%s", f.rows["hostile"].id, f.rows["pending"].id, r.stdout)
		}
	})

	t.Run("a hostile last error stays on one line", func(t *testing.T) {
		r := runCLI(t, f.env, "", "outbox", "list", "--db", f.db)
		if r.code != ExitOK {
			t.Fatalf("outbox list: want exit 0\n%s", r)
		}
		_, rows := tableRows(t, r.stdout) // fails on any control character
		if strings.ContainsAny(r.stdout, "\r\x1b\x07\x7f\t\u009b") {
			t.Errorf("the listing holds CR, ESC, BEL, DEL, a tab or CSI:\n%q", r.stdout)
		}
		row := f.rows["hostile"]
		l, ok := rows[row.id]
		if !ok {
			t.Fatalf("the dead row %d with the hostile error is not listed:\n%s", row.id, r.stdout)
		}
		// Both ends of the error are on the row's line, the columns before
		// it intact.
		if !strings.Contains(l, "relay said:") || !strings.Contains(l, "user") {
			t.Errorf("the row's line does not hold the whole error: %q", l)
		}
		if re := regexp.MustCompile(fmt.Sprintf(`^%d\s+dead\s+siem\s+%s\s+%s\s+1\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+relay said:\s+550\s+\[31mno`,
			row.id, regexp.QuoteMeta(outboxTenantName), row.eventID)); !re.MatchString(l) {
			t.Errorf("the hostile row is listed as\n%q\nwant it to match %s", l, re)
		}
		if n := strings.Count(r.stdout, "\n"); n != 4 {
			t.Errorf("the listing has %d lines, want 4 (header and 3 rows):\n%s", n, r.stdout)
		}
	})

	t.Run("--state sent", func(t *testing.T) {
		r := runCLI(t, f.env, "", "outbox", "list", "--state", "sent", "--db", f.db)
		if r.code != ExitOK {
			t.Fatalf("outbox list --state sent: want exit 0\n%s", r)
		}
		_, rows := tableRows(t, r.stdout)
		row := f.rows["sent"]
		if len(rows) != 1 {
			t.Errorf("listed %d rows, want only the sent one (%d):\n%s", len(rows), row.id, r.stdout)
		}
		if l, ok := rows[row.id]; !ok {
			t.Errorf("the sent row %d is not listed:\n%s", row.id, r.stdout)
		} else if re := rowPattern(row, ""); !re.MatchString(l) {
			t.Errorf("the sent row is listed as\n%q\nwant it to match %s", l, re)
		}
	})

	t.Run("--state bogus", func(t *testing.T) {
		r := runCLI(t, f.env, "", "outbox", "list", "--state", "bogus", "--db", f.db)
		if r.code != ExitUsage {
			t.Errorf("outbox list --state bogus: want exit %d\n%s", ExitUsage, r)
		}
		if !strings.Contains(r.stderr, "bogus") {
			t.Errorf("the error does not name the value bogus:\n%s", r.stderr)
		}
		if strings.Contains(r.stdout, "ATTEMPTS") {
			t.Errorf("a table was printed despite the bad --state:\n%s", r.stdout)
		}
	})

	t.Run("PUAWATCH_DB", func(t *testing.T) {
		r := runCLI(t, with(f.env, "PUAWATCH_DB", f.db), "", "outbox", "list", "--state", "dead")
		if r.code != ExitOK {
			t.Fatalf("outbox list with PUAWATCH_DB: want exit 0\n%s", r)
		}
		_, rows := tableRows(t, r.stdout)
		if len(rows) != 2 || rows[f.rows["dead"].id] == "" || rows[f.rows["hostile"].id] == "" {
			t.Errorf("outbox list --state dead: want the two dead rows\n%s", r.stdout)
		}
	})
}

func TestOutboxRetryOne(t *testing.T) {
	t.Parallel()
	f := newOutboxFixture(t)
	row := f.rows["dead"]
	before := time.Now().Truncate(time.Millisecond) // the store keeps milliseconds
	r := runCLI(t, f.env, "", "outbox", "retry", strconv.FormatInt(row.id, 10), "--db", f.db)
	after := time.Now()
	if r.code != ExitOK {
		t.Fatalf("outbox retry %d: want exit 0\n%s", row.id, r)
	}
	if !strings.Contains(r.stdout, "1 row") {
		t.Errorf("outbox retry %d: stdout does not report 1 row:\n%s", row.id, r.stdout)
	}
	got := f.outbox(t)[row.id]
	if got.State != store.StatePending {
		t.Errorf("row %d is %q after retry, want pending", row.id, got.State)
	}
	if got.NextAt.Before(before) || got.NextAt.After(after) {
		t.Errorf("row %d is due at %v, want now (between %v and %v)", row.id, got.NextAt, before.UTC(), after.UTC())
	}
	if got.Attempts != 0 {
		t.Errorf("row %d has %d attempts after retry, want 0 (a fresh retry budget)", row.id, got.Attempts)
	}
	if got.LastError != row.lastErr {
		t.Errorf("row %d lost its last error: %q, want %q", row.id, got.LastError, row.lastErr)
	}
	// Only that row changed.
	f.checkStates(t, "after retry of one row", map[string]string{"dead": store.StatePending})

	// The listing shows it pending.
	r = runCLI(t, f.env, "", "outbox", "list", "--state", "pending", "--db", f.db)
	_, rows := tableRows(t, r.stdout)
	if r.code != ExitOK || rows[row.id] == "" {
		t.Errorf("outbox list --state pending does not show row %d\n%s", row.id, r)
	}
}

func TestOutboxRetryAll(t *testing.T) {
	t.Parallel()
	f := newOutboxFixture(t)
	before := time.Now().Truncate(time.Millisecond)
	r := runCLI(t, f.env, "", "outbox", "retry", "--all", "--db", f.db)
	after := time.Now()
	if r.code != ExitOK {
		t.Fatalf("outbox retry --all: want exit 0\n%s", r)
	}
	if !regexp.MustCompile(`(^|\D)2 row`).MatchString(r.stdout) {
		t.Errorf("outbox retry --all: stdout does not report 2 rows:\n%s", r.stdout)
	}
	f.checkStates(t, "after retry --all", map[string]string{"dead": store.StatePending, "hostile": store.StatePending})
	got := f.outbox(t)
	for _, name := range []string{"dead", "hostile"} {
		it := got[f.rows[name].id]
		if it.NextAt.Before(before) || it.NextAt.After(after) || it.Attempts != 0 {
			t.Errorf("%s row %d: due %v with %d attempts, want due now (%v..%v) with 0", name, it.ID, it.NextAt, it.Attempts, before.UTC(), after.UTC())
		}
	}
	// The sent row keeps its sent time; nothing is dead any more.
	if it := got[f.rows["sent"].id]; it.SentAt.IsZero() {
		t.Errorf("the sent row lost its sent time: %+v", it)
	}
	r = runCLI(t, f.env, "", "outbox", "list", "--state", "dead", "--db", f.db)
	if _, rows := tableRows(t, r.stdout); r.code != ExitOK || len(rows) != 0 {
		t.Errorf("outbox list --state dead after retry --all: want no rows\n%s", r)
	}

	// Nothing left to requeue: 0.
	r = runCLI(t, f.env, "", "outbox", "retry", "--all", "--db", f.db)
	if r.code != ExitOK || !regexp.MustCompile(`(^|\D)0 row`).MatchString(r.stdout) {
		t.Errorf("a second retry --all: want exit 0 and 0 rows\n%s", r)
	}
}

func TestOutboxRetryUsageErrors(t *testing.T) {
	t.Parallel()
	f := newOutboxFixture(t)
	dead := strconv.FormatInt(f.rows["dead"].id, 10)
	for _, tc := range []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"neither ids nor --all", []string{"outbox", "retry", "--db", f.db}, "--all"},
		{"not a number", []string{"outbox", "retry", "abc", "--db", f.db}, "abc"},
		{"zero", []string{"outbox", "retry", "0", "--db", f.db}, `"0"`},
		{"ids and --all", []string{"outbox", "retry", dead, "--all", "--db", f.db}, "--all"},
		{"an id after a bad one", []string{"outbox", "retry", "abc", dead, "--db", f.db}, "abc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, f.env, "", tc.args...)
			if r.code != ExitUsage {
				t.Errorf("%v: want exit %d\n%s", tc.args, ExitUsage, r)
			}
			if !strings.Contains(r.stderr, tc.want) {
				t.Errorf("%v: stderr does not mention %s:\n%s", tc.args, tc.want, r.stderr)
			}
			if strings.Contains(r.stdout, "due again") {
				t.Errorf("%v: reported a requeue:\n%s", tc.args, r.stdout)
			}
		})
	}
	// None of them changed a row.
	f.checkStates(t, "after the refused retries", nil)
}

func TestOutboxRetryUnknownID(t *testing.T) {
	t.Parallel()
	f := newOutboxFixture(t)
	const missing = "987654"
	r := runCLI(t, f.env, "", "outbox", "retry", missing, "--db", f.db)
	if r.code == ExitOK {
		t.Errorf("outbox retry of an id the store does not hold exited 0\n%s", r)
	}
	if !strings.Contains(r.stderr, missing) {
		t.Errorf("the error does not name the id %s:\n%s", missing, r.stderr)
	}
	f.checkStates(t, "after the retry of an unknown id", nil)
}

// TestOutboxListStrayArgument: `outbox list dead` must not silently list
// pending and dead rows as if "dead" had not been typed (the user meant
// --state dead). newRoot's guard against stray arguments covers only the
// top-level commands, not nested ones such as outbox list.
func TestOutboxListStrayArgument(t *testing.T) {
	t.Parallel()
	f := newOutboxFixture(t)
	r := runCLI(t, f.env, "", "outbox", "list", "dead", "--db", f.db)
	if r.code != ExitUsage {
		t.Errorf("outbox list dead: want exit %d (a stray argument)\n%s", ExitUsage, r)
	}
	if !strings.Contains(r.stderr, "dead") {
		t.Errorf("the error does not name the stray argument dead:\n%s", r.stderr)
	}
	if strings.Contains(r.stdout, "ATTEMPTS") {
		t.Errorf("a table was printed despite the stray argument:\n%s", r.stdout)
	}
}
