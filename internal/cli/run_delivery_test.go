package cli

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/fake/smtpcapture"
	"github.com/puawatch/puawatch/internal/store/sqlstore"
)

// switchHook is a webhook answering every request with its current
// status and a body quoting the request path (the token in it).
type switchHook struct {
	*httptest.Server
	status atomic.Int32
	hits   atomic.Int32
}

func newSwitchHook(t *testing.T, status int) *switchHook {
	t.Helper()
	h := &switchHook{}
	h.status.Store(int32(status))
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		h.hits.Add(1)
		st := int(h.status.Load())
		w.WriteHeader(st)
		if st >= 300 {
			_, _ = io.WriteString(w, "no hook at "+r.URL.Path)
		}
	}))
	t.Cleanup(h.Close)
	return h
}

// deliveryFixture: the world's simulator, an SMTP server refusing every
// login (535), a webhook answering 400 ("bad-hook") and one answering
// 503 ("busy-hook"), in a configuration file.
type deliveryFixture struct {
	w        *world
	smtp     *smtpcapture.Server
	bad      *switchHook
	busy     *switchHook
	config   string
	env      map[string]string
	password string
}

func newDeliveryFixture(t *testing.T) *deliveryFixture {
	t.Helper()
	w := newWorld(t, 2)
	refusing, err := smtpcapture.Start(smtpcapture.Options{Username: "puawatch", Password: "the-right-one"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { refusing.Close() })
	awaitSMTPGreeting(t, refusing.Addr())
	f := &deliveryFixture{w: w, smtp: refusing, bad: newSwitchHook(t, http.StatusBadRequest), busy: newSwitchHook(t, http.StatusServiceUnavailable),
		config: filepath.Join(w.dir, "puawatch yaml.yaml"), password: "Wr0ng-Passw0rd-9c1e"}
	writeFile(t, f.config, "receivers:\n"+
		"  - name: bad-hook\n    webhook:\n      url: "+f.bad.URL+"/hooks/"+hookToken+"\n"+
		"  - name: busy-hook\n    webhook:\n      url: "+f.busy.URL+"/hooks/"+hookToken+"\n", 0o600)
	f.env = with(w.env(), "PUAWATCH_JSONL", "",
		"PUAWATCH_SMTP_URL", "smtp://puawatch:"+f.password+"@"+refusing.Addr()+"?starttls=none")
	return f
}

func (f *deliveryFixture) run(t *testing.T, args ...string) cmdResult {
	t.Helper()
	return runCLI(t, f.env, "", append(args, "--config", f.config, "--credentials", f.w.creds)...)
}

// receiverLine returns the stderr line about receiver in state ("dead in
// this run", "unsent", "dead from earlier runs"), or "".
func receiverLine(stderr, receiver, state string) string {
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "puawatch: receiver "+receiver+": ") && strings.Contains(l, " "+state) {
			return l
		}
	}
	return ""
}

var countRE = regexp.MustCompile(`: (\d+) notification\(s\) `)

func lineCount(l string) string {
	if m := countRE.FindStringSubmatch(l); m != nil {
		return m[1]
	}
	return ""
}

// TestRunOnceFailsWhenNotificationsDie: an SMTP server answering 535 to
// every login and a webhook answering 400 send every notification of
// the run to the dead letters, and a webhook answering 503 leaves them
// unsent: run --once exits 1 with a line per receiver naming the count,
// the state, the reason and the command that sends them again, no
// secret shown. The next run (nothing new) names the dead rows from
// earlier and exits 0; the command it names sends them again.
func TestRunOnceFailsWhenNotificationsDie(t *testing.T) {
	t.Parallel()
	f := newDeliveryFixture(t)
	want := f.w.wantDetections(t)
	n := fmt.Sprint(len(want))

	r := f.run(t, "run", "--once")
	if r.code != ExitFailure {
		t.Fatalf("run --once with every notification dead or unsent: want exit 1\n%s", r)
	}
	retry := "puawatch outbox retry --receiver %s --config '" + f.config + "'"
	for _, c := range []struct{ receiver, state, reason string }{
		{"email", "dead in this run", "535"},
		{"bad-hook", "dead in this run", "400"},
		{"busy-hook", "unsent", "503"},
	} {
		l := receiverLine(r.stderr, c.receiver, c.state)
		if l == "" {
			t.Errorf("stderr has no line for receiver %s %s:\n%s", c.receiver, c.state, r.stderr)
			continue
		}
		if got := lineCount(l); got != n {
			t.Errorf("receiver %s: line counts %s notifications, want %s: %q", c.receiver, got, n, l)
		}
		if !strings.Contains(l, c.reason) || !strings.HasSuffix(l, fmt.Sprintf(retry, c.receiver)) {
			t.Errorf("receiver %s: line %q, want the reason %s and the command %q", c.receiver, l, c.reason, fmt.Sprintf(retry, c.receiver))
		}
	}
	noSecret(t, "run --once (dead notifications)", r, f.password, hookToken, f.w.partner.ClientSecret)

	// Nothing new: the dead rows are from an earlier run; they are named,
	// and the exit status is the run's own. busy-hook's rows are not due
	// yet, still unsent after a failure: exit 1.
	r = f.run(t, "run", "--once")
	for _, rc := range []string{"email", "bad-hook"} {
		if l := receiverLine(r.stderr, rc, "dead from earlier runs"); l == "" || lineCount(l) != n || !strings.HasSuffix(l, fmt.Sprintf(retry, rc)) {
			t.Errorf("second run: no line naming %s notification(s) of %s dead from earlier runs and the command (line %q):\n%s", n, rc, l, r.stderr)
		}
		if l := receiverLine(r.stderr, rc, "dead in this run"); l != "" {
			t.Errorf("second run: %q, but nothing died in it", l)
		}
	}
	if r.code != ExitFailure || receiverLine(r.stderr, "busy-hook", "unsent") == "" {
		t.Errorf("second run with busy-hook's rows waiting for a retry: want exit 1 and its unsent line\n%s", r)
	}

	// busy-hook recovers and is retried at once; bad-hook is fixed and its
	// dead rows are sent again: the run exits 0, naming email's dead rows.
	f.busy.status.Store(http.StatusNoContent)
	f.bad.status.Store(http.StatusNoContent)
	for _, rc := range []string{"busy-hook", "bad-hook"} {
		rr := f.run(t, "outbox", "retry", "--receiver", rc)
		if rr.code != ExitOK || !strings.Contains(rr.stdout, n+" row(s) due again") {
			t.Fatalf("outbox retry --receiver %s: want %s rows due again\n%s", rc, n, rr)
		}
	}
	hits := f.bad.hits.Load()
	r = f.run(t, "run", "--once")
	if r.code != ExitOK {
		t.Fatalf("run --once with only email's old dead rows left: want exit 0\n%s", r)
	}
	if l := receiverLine(r.stderr, "email", "dead from earlier runs"); l == "" {
		t.Errorf("third run: no line naming email's dead rows:\n%s", r.stderr)
	}
	if l := receiverLine(r.stderr, "bad-hook", ""); l != "" {
		t.Errorf("third run: %q, but bad-hook's rows were sent", l)
	}
	if f.bad.hits.Load() == hits {
		t.Error("bad-hook got no request after the retry")
	}
	st, err := sqlstore.Open(context.Background(), f.w.db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	counts, err := st.OutboxCounts(context.Background(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, c := range counts {
		got[c.Channel+" "+c.State] = c.Rows
	}
	wantCounts := map[string]int{"bad-hook sent": len(want), "busy-hook sent": len(want), "email dead": len(want)}
	if !maps.Equal(got, wantCounts) {
		t.Errorf("outbox after the retries: %v, want %v", got, wantCounts)
	}
}

// TestSecretsOf: every secret of the configuration is listed for
// scrubbing: the client secret, the SMTP URL and its password, and the
// webhook URLs.
func TestSecretsOf(t *testing.T) {
	t.Parallel()
	f := newDeliveryFixture(t)
	cf := configFlags{path: f.config}
	cfg, err := cf.loadEnv(func(k string) string { return f.env[k] }, "")
	if err != nil {
		t.Fatal(err)
	}
	got := secretsOf(cfg)
	for _, want := range []string{f.w.partner.ClientSecret, f.password, f.env["PUAWATCH_SMTP_URL"], f.bad.URL + "/hooks/" + hookToken, f.busy.URL + "/hooks/" + hookToken} {
		if !slices.Contains(got, want) {
			t.Errorf("secretsOf lacks %q (has %d secrets)", want, len(got))
		}
	}
}

// TestOutboxRetryReceiverUsage: --receiver is one way of choosing rows,
// not to be combined with ids or --all; a receiver with nothing to send
// again says so.
func TestOutboxRetryReceiverUsage(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "retry.db")
	for _, args := range [][]string{{"--receiver", "email", "--all"}, {"--receiver", "email", "7"}} {
		if r := runCLI(t, statusEnv(), "", append([]string{"outbox", "retry", "--db", db}, args...)...); r.code != ExitUsage {
			t.Errorf("outbox retry %v: want exit 2\n%s", args, r)
		}
	}
	r := runCLI(t, statusEnv(), "", "outbox", "retry", "--db", db, "--receiver", "email")
	if r.code != ExitOK || !strings.Contains(r.stdout, "receiver email has no dead or failed notification") {
		t.Errorf("outbox retry --receiver email on an empty store: want exit 0 saying there is nothing\n%s", r)
	}
}
