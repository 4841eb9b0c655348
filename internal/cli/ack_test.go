package cli

import (
	"os/user"
	"slices"
	"strings"
	"testing"

	"github.com/puawatch/puawatch/internal/store/sqlstore"
)

// TestAckAndUnacked: `puawatch ack` acknowledges detections of a real
// store filled by a run against the simulator, `detections --unacked`
// lists what is left, an id acknowledged before keeps its first
// acknowledgement, and unknown ids are bad input that writes nothing.
func TestAckAndUnacked(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 2)
	want := w.wantDetections(t)
	if r := runCLI(t, w.env(), "", "run", "--once", "--credentials", w.creds); r.code != ExitOK {
		t.Fatalf("run --once: want exit 0\n%s", r)
	}
	env := w.env()
	unacked := func(t *testing.T, extra ...string) []string {
		t.Helper()
		r := runCLI(t, env, "", append([]string{"detections", "--unacked", "--format", "json", "--credentials", w.creds}, extra...)...)
		if r.code != ExitOK {
			t.Fatalf("detections --unacked: want exit 0\n%s", r)
		}
		return ids(jsonLines(t, "detections --unacked", r.stdout))
	}
	all := sortedKeys(want)
	if got := unacked(t); !slices.Equal(got, all) {
		t.Fatalf("before any ack, --unacked lists %v, want every detection %v", got, all)
	}
	// Nothing acknowledged yet: --unacked prints what detections prints,
	// in every format, in the same order.
	for _, format := range []string{"table", "csv", "json"} {
		plain := runCLI(t, env, "", "detections", "--format", format, "--credentials", w.creds)
		un := runCLI(t, env, "", "detections", "--unacked", "--format", format, "--credentials", w.creds)
		if plain.code != ExitOK || un.code != ExitOK || un.stdout != plain.stdout {
			t.Errorf("--format %s: detections --unacked differs from detections before any ack\n%s\n%s", format, un, plain)
		}
	}
	a, b, c, d := all[0], all[1], all[2], all[3]

	r := runCLI(t, env, "", "ack", a, b, "--comment", "known admin tool", "--by", "alice", "--credentials", w.creds)
	if r.code != ExitOK || !strings.Contains(r.stdout, "acknowledged 2 ") {
		t.Fatalf("ack %s %s: want exit 0 and 2 acknowledged\n%s", a, b, r)
	}
	left := slices.DeleteFunc(slices.Clone(all), func(id string) bool { return id == a || id == b })
	if got := unacked(t); !slices.Equal(got, left) {
		t.Errorf("after ack, --unacked lists %v, want %v", got, left)
	}

	// a again, with c: a keeps alice's acknowledgement, reported on stderr.
	r = runCLI(t, env, "", "ack", a, c, "--by", "bob", "--credentials", w.creds)
	if r.code != ExitOK || !strings.Contains(r.stdout, "acknowledged 1 ") {
		t.Fatalf("ack %s %s: want exit 0 and 1 acknowledged\n%s", a, c, r)
	}
	if !strings.Contains(r.stderr, a) || !strings.Contains(r.stderr, "already acknowledged by alice") {
		t.Errorf("stderr does not say %s was already acknowledged by alice:\n%s", a, r.stderr)
	}

	// An unknown id: exit 2 naming it, and d (known) is not acknowledged.
	r = runCLI(t, env, "", "ack", d, "no-such-event", "--by", "bob", "--credentials", w.creds)
	if r.code != ExitUsage || !strings.Contains(r.stderr, `"no-such-event"`) {
		t.Fatalf("ack with an unknown id: want exit 2 naming it\n%s", r)
	}
	if got := unacked(t); !slices.Contains(got, d) || slices.Contains(got, c) {
		t.Errorf("after the failed ack, --unacked lists %v: want %s still there (nothing written) and %s gone", got, d, c)
	}
	if r := runCLI(t, env, "", "ack", "--by", "bob", "--credentials", w.creds); r.code != ExitUsage || !strings.Contains(r.stderr, "event ids") {
		t.Errorf("ack without ids: want exit 2 asking for event ids\n%s", r)
	}

	// --by defaults to $USER, else the OS user.
	if r := runCLI(t, with(env, "USER", "carol"), "", "ack", d, "--credentials", w.creds); r.code != ExitOK {
		t.Fatalf("ack with USER=carol: want exit 0\n%s", r)
	}
	e := all[4]
	if r := runCLI(t, env, "", "ack", e, "--credentials", w.creds); r.code != ExitOK {
		t.Fatalf("ack without USER: want exit 0\n%s", r)
	}
	osUser, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlstore.Open(t.Context(), w.db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for id, wantBy := range map[string]string{a: "alice", b: "alice", c: "bob", d: "carol", e: osUser.Username} {
		dd, err := st.DetectionDetail(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if dd.Ack == nil || dd.Ack.By != wantBy {
			t.Errorf("%s: acknowledgement %+v, want by %s", id, dd.Ack, wantBy)
		}
	}
	if dd, _ := st.DetectionDetail(t.Context(), a); dd.Ack == nil || dd.Ack.Comment != "known admin tool" {
		t.Errorf("%s keeps the comment of its first acknowledgement: %+v", a, dd.Ack)
	}

	// --unacked with --tenant: exactly that tenant's unacknowledged ones,
	// --limit of them.
	tid := w.sim.Tenants()[0].ID
	var of []string
	for _, id := range all {
		if want[id] == tid && !slices.Contains([]string{a, b, c, d, e}, id) {
			of = append(of, id)
		}
	}
	if got := unacked(t, "--tenant", tid); !slices.Equal(got, of) {
		t.Errorf("--unacked --tenant %s lists %v, want %v", tid, got, of)
	}
	if got := unacked(t, "--tenant", tid, "--limit", "1"); len(got) != 1 || !slices.Contains(of, got[0]) {
		t.Errorf("--unacked --tenant %s --limit 1 lists %v, want one of %v", tid, got, of)
	}
}
