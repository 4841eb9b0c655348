package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/app"
	"github.com/puawatch/puawatch/internal/fake/sim"
	"github.com/puawatch/puawatch/internal/fake/smtpcapture"
	"github.com/puawatch/puawatch/internal/store"
	"github.com/puawatch/puawatch/internal/store/sqlstore"
	"github.com/puawatch/puawatch/internal/store/storetest"
)

// hangRig is a rig whose SMTP server takes the first mail and then hangs
// before answering it, until released: the watcher is caught with rows
// claimed and a message in the crash window.
type hangRig struct {
	*rig
	accepted chan struct{} // closed when the first mail is in
	release  func()        // lets the server answer
	conf     string
	env      []string
	first    smtpcapture.Message
}

func newHangRig(t *testing.T) *hangRig {
	t.Helper()
	cfg := sim.DefaultConfig()
	cfg.Seed = 5
	cfg.Tenants = 3
	cfg.EventsPerTenant = 120
	r := newRig(t, cfg)
	h := &hangRig{rig: r, accepted: make(chan struct{})}
	released := make(chan struct{})
	var once atomic.Bool
	h.release = func() {
		if once.CompareAndSwap(false, true) {
			close(released)
		}
	}
	t.Cleanup(h.release)
	var hung atomic.Bool
	capture, err := smtpcapture.Start(smtpcapture.Options{OnMessage: func(m smtpcapture.Message) {
		if hung.CompareAndSwap(false, true) {
			h.first = m
			close(h.accepted)
			<-released
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.release(); _ = capture.Close() })
	r.smtp = capture
	r.env["PUAWATCH_SMTP_URL"] = fmt.Sprintf("smtp://%s?starttls=none", capture.Addr())
	h.conf = filepath.Join(r.dir, "puawatch.yaml")
	// The default lease (2m): a claim that outlived its process would
	// hold the rows far longer than these tests wait.
	if err := os.WriteFile(h.conf, []byte("poll:\n  interval: 1h\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.env = os.Environ()
	for k, v := range r.env {
		h.env = append(h.env, k+"="+v)
	}
	return h
}

// startDaemon runs `puawatch run` until the SMTP server holds its first
// mail unanswered.
func (h *hangRig) startDaemon(t *testing.T) (*exec.Cmd, *strings.Builder) {
	t.Helper()
	cmd := exec.Command(binary(t), "run", "--config", h.conf)
	cmd.Env = h.env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	select {
	case <-h.accepted:
	case <-time.After(60 * time.Second):
		t.Fatalf("no mail reached the SMTP server within a minute:\n%s", stderr.String())
	}
	return cmd, &stderr
}

// holders lists the live claims in the rig's store.
func (h *hangRig) holders(t *testing.T) []store.Holder {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), h.db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	hs, err := st.Holders(context.Background(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return hs
}

// TestSIGTERMGivesClaimsBack stops the daemon with SIGTERM while its mail
// hangs: the rows it had claimed are given back at once, so another
// instance claims every due row right away instead of after the lease.
func TestSIGTERMGivesClaimsBack(t *testing.T) {
	h := newHangRig(t)
	cmd, stderr := h.startDaemon(t)
	if hs := h.holders(t); len(hs) == 0 {
		t.Fatal("the daemon holds no claim while its mail hangs: the test proves nothing")
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the daemon stopped with %v:\n%s", err, stderr)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("the daemon did not stop within a minute of SIGTERM:\n%s", stderr)
	}
	if hs := h.holders(t); len(hs) != 0 {
		t.Errorf("after SIGTERM the stopped daemon still holds claims: %+v", hs)
	}
	st, err := sqlstore.Open(context.Background(), h.db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	pending, err := st.Outbox(context.Background(), store.OutboxFilter{States: []string{store.StatePending}})
	if err != nil {
		t.Fatal(err)
	}
	due := 0
	for _, it := range pending {
		if !it.NextAt.After(now) {
			due++
		}
	}
	got, err := st.ClaimOutbox(context.Background(), store.Claim{Owner: "next", Now: now, Lease: time.Minute, Limit: len(pending) + 1})
	if err != nil {
		t.Fatal(err)
	}
	if due == 0 || len(got) != due {
		t.Errorf("another instance claims %d of the %d due rows at once after SIGTERM, want all", len(got), due)
	}
}

// TestKilledHolderTakenOverByOnce kills the daemon (SIGKILL) while its
// mail hangs, with the default 2m lease. A `run --once` started at once
// takes the dead process's rows over: it exits 0 with every detection
// mailed, and the mail in the crash window is sent again under the same
// Message-ID.
func TestKilledHolderTakenOverByOnce(t *testing.T) {
	h := newHangRig(t)
	cmd, _ := h.startDaemon(t)
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	if hs := h.holders(t); len(hs) == 0 {
		t.Fatal("the killed daemon holds no claim: the test proves nothing")
	}
	h.release() // the server answers again (to nobody: the daemon is gone)

	// A bound well below the lease: waiting the lease out would fail.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	once := exec.CommandContext(ctx, binary(t), "run", "--once", "--config", h.conf)
	once.Env = h.env
	out, err := once.CombinedOutput()
	if err != nil {
		t.Fatalf("run --once after the kill: %v\n%s", err, out)
	}
	if left := h.pending(t); len(left) > 0 {
		t.Fatalf("run --once exited 0 with %d rows unsent (e.g. %+v)", len(left), left[0])
	}
	want := h.expected(t, nil)
	got, _ := h.delivered(t)
	if missing, extra := diff(want, got); len(missing) > 0 || len(extra) > 0 {
		t.Errorf("%d of %d detections missing (e.g. %v), %d extra", len(missing), len(want), first(missing), len(extra))
	}
	sent := 0
	for _, m := range h.smtp.Messages() {
		if m.MessageID == h.first.MessageID {
			sent++
			if m.Subject != h.first.Subject || m.Text != h.first.Text {
				t.Errorf("the mail sent again under %s is another message: %q, want %q", m.MessageID, m.Subject, h.first.Subject)
			}
		}
	}
	if sent != 2 {
		t.Errorf("the mail of the crash window (%s) went out %d times, want twice under the same Message-ID", h.first.MessageID, sent)
	}
}

// TestDeadPIDClaimTakenOver: rows claimed under the id of a process of
// this host that does not exist (the pid is above any pid_max) are sent
// by the next run --once at once, though their lease has an hour to run.
func TestDeadPIDClaimTakenOver(t *testing.T) {
	cfg := sim.DefaultConfig()
	cfg.Tenants = 1
	cfg.EventsPerTenant = 20
	r := newRig(t, cfg)
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, r.db)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now()
	if _, err := st.CommitPage(ctx, store.PageCommit{TenantID: "tenant-gone", Route: storetest.ToChannels([]string{"email"}), At: at,
		Detections: []store.Detection{{EventID: "ev-held-by-the-dead", TenantID: "tenant-gone", TenantName: "Gone Tenant",
			Kind: store.KindDetection, Type: sim.TypeCorePuaDetection, Threat: "PsExec", CreatedAt: at}}}); err != nil {
		t.Fatal(err)
	}
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	dead := fmt.Sprintf("%s/%d/12345/1", host, 1<<30)
	if got, err := st.ClaimOutbox(ctx, store.Claim{Owner: dead, Now: at, Lease: time.Hour, Limit: 10}); err != nil || len(got) != 1 {
		t.Fatalf("claim as %s: %d rows, %v", dead, len(got), err)
	}
	st.Close()

	a, err := app.New(ctx, r.config(t), app.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	out, err := a.Once(ctx)
	if status := app.ExitStatus(out, err); status != 0 {
		t.Fatalf("Once = %+v, %v (exit %d)", out.Sent, err, status)
	}
	if left := r.pending(t); len(left) > 0 {
		t.Fatalf("%d rows unsent, e.g. %s (claimed by %s for an hour)", len(left), left[0].EventID, dead)
	}
	if got, _ := r.delivered(t); got["ev-held-by-the-dead"] != 1 {
		t.Errorf("the dead holder's detection was mailed %d times, want once", got["ev-held-by-the-dead"])
	}
}
