package notify_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/puawatch/puawatch/internal/fake/sim"
	"github.com/puawatch/puawatch/internal/fake/smtpcapture"
	"github.com/puawatch/puawatch/internal/notify"
	"github.com/puawatch/puawatch/internal/notify/email"
	"github.com/puawatch/puawatch/internal/secret"
	"github.com/puawatch/puawatch/internal/store"
	"github.com/puawatch/puawatch/internal/store/sqlstore"
)

// TestDispatcherWithEmail runs the dispatcher against the real e-mail
// channel and an SMTP server over loopback (STARTTLS and AUTH): a
// temporary failure is retried, a digest per tenant is delivered, and the
// Message-ID comes from the batch id.
func TestDispatcherWithEmail(t *testing.T) {
	certs, err := sim.NewCerts(nil, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var failed atomic.Bool
	srv, err := smtpcapture.Start(smtpcapture.Options{
		TLS: certs.ServerTLSConfig(), Username: "pw", Password: "smtp-pass",
		FailNext: func(string) *gosmtp.SMTPError {
			if failed.CompareAndSwap(false, true) {
				return &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 3, 0}, Message: "greylisted"}
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	en, err := email.New(email.Config{
		Host: srv.Host(), Port: srv.Port(), TLS: email.TLSStartTLS, Username: "pw", Password: secret.Secret("smtp-pass"),
		From: "puawatch@example.com", To: []string{"soc@example.com"}, RootCAs: certs.ClientPool(), Timeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}

	st := notify.NewMemStore()
	clock := notify.NewClock(time.Date(2025, 3, 4, 10, 5, 0, 0, time.UTC))
	st.AddDigest(notify.SampleDetection("ev-a1", "A", 2*time.Second), "email")
	st.AddDigest(notify.SampleDetection("ev-a2", "A", 1*time.Second), "email")
	st.AddDigest(notify.SampleDetection("ev-b1", "B", 3*time.Second), "email")
	d, err := notify.NewDispatcher(notify.Options{
		Store: st, Channels: map[string]notify.Notifier{"email": en}, Now: clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	res, err := d.Drain(ctx)
	if err != nil || res != (notify.Result{Sent: 1, Retried: 2}) {
		t.Fatalf("first drain = %+v, %v; want tenant A retried (451), B sent", res, err)
	}
	for _, r := range st.Rows() {
		if r.TenantID == "A" && (r.State != store.StatePending || !strings.Contains(r.LastError, "451")) {
			t.Errorf("row %s: %s %q", r.EventID, r.State, r.LastError)
		}
	}
	clock.Add(2 * time.Hour)
	if res, err := d.Drain(ctx); err != nil || res != (notify.Result{Sent: 2}) {
		t.Fatalf("second drain = %+v, %v", res, err)
	}

	msgs := srv.Messages()
	if len(msgs) != 2 {
		t.Fatalf("%d messages, want 2", len(msgs))
	}
	batch := map[string]string{}
	for _, r := range st.Rows() {
		if r.State != store.StateSent {
			t.Errorf("row %s is %s", r.EventID, r.State)
		}
		batch[r.TenantID] = r.BatchID
	}
	for _, m := range msgs {
		if !m.TLS || m.Auth != "pw" {
			t.Errorf("message not over TLS with AUTH: %+v", m)
		}
	}
	// Tenant B (one detection) went first; tenant A's digest after the retry.
	if want := "<" + email.MessageID(batch["B"]) + ">"; msgs[0].MessageID != want || !strings.Contains(msgs[0].Subject, "(Tenant B)") {
		t.Errorf("first message %q %q, want Message-ID %s", msgs[0].MessageID, msgs[0].Subject, want)
	}
	a := msgs[1]
	if want := "<" + email.MessageID(batch["A"]) + ">"; a.MessageID != want {
		t.Errorf("digest Message-ID %q, want %q", a.MessageID, want)
	}
	if a.Subject != "[puawatch] 2 PUA detections in Tenant A" {
		t.Errorf("digest subject %q", a.Subject)
	}
	if i, j := strings.Index(a.Text, "ev-a2"), strings.Index(a.Text, "ev-a1"); i < 0 || j < 0 || i > j {
		t.Errorf("digest text lacks the detections in created order:\n%s", a.Text)
	}
}

// TestDispatcherEmailRejectedRecipientGoesDead checks a 550 ends in the
// dead-letter state with the SMTP reply as the reason.
func TestDispatcherEmailRejectedRecipientGoesDead(t *testing.T) {
	srv, err := smtpcapture.Start(smtpcapture.Options{RejectRecipients: []string{"gone@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	en, err := email.New(email.Config{Host: srv.Host(), Port: srv.Port(), TLS: email.TLSNone,
		From: "puawatch@example.com", To: []string{"gone@example.com"}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	st := notify.NewMemStore()
	ids := st.Add(notify.SampleDetection("ev-1", "A", 0), "mail")
	d, err := notify.NewDispatcher(notify.Options{Store: st, Channels: map[string]notify.Notifier{"mail": en},
		Now: notify.NewClock(time.Date(2025, 3, 4, 11, 0, 0, 0, time.UTC)).Now})
	if err != nil {
		t.Fatal(err)
	}
	res, err := d.Drain(context.Background())
	if err != nil || res != (notify.Result{Dead: 1}) {
		t.Fatalf("Drain = %+v, %v", res, err)
	}
	r := st.Row(ids[0])
	if r.State != store.StateDead || !strings.HasPrefix(r.LastError, "email: send ev-1.mail via ") || !strings.Contains(r.LastError, "550") {
		t.Errorf("row %s %q", r.State, r.LastError)
	}
}

// TestEmailRedeliveryKeepsMessageID is the crash window over real SMTP:
// the server takes a detection's mail and hangs before its 250; the
// instance dies (its context is cancelled) before marking the row sent;
// four more detections of the tenant arrive (a digest now). The next
// instance sends the first mail again with the same Message-ID and the
// same one detection, and the four in a digest of their own.
func TestEmailRedeliveryKeepsMessageID(t *testing.T) {
	accepted, release := make(chan struct{}), make(chan struct{})
	var hung atomic.Bool
	srv, err := smtpcapture.Start(smtpcapture.Options{OnMessage: func(smtpcapture.Message) {
		if hung.CompareAndSwap(false, true) {
			close(accepted)
			<-release // the server has the mail, and hangs before answering
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	en, err := email.New(email.Config{Host: srv.Host(), Port: srv.Port(), TLS: email.TLSNone,
		From: "puawatch@example.com", To: []string{"soc@example.com"}, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlstore.Open(t.Context(), filepath.Join(t.TempDir(), "puawatch.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	clock := notify.NewClock(time.Date(2025, 3, 4, 10, 5, 0, 0, time.UTC))
	route := func(d store.Detection) []store.Delivery {
		return []store.Delivery{{Channel: "email", GroupKey: "tenant=" + d.TenantID, DigestAbove: 3}}
	}
	add := func(ids ...string) {
		t.Helper()
		p := store.PageCommit{TenantID: "A", Route: route, At: clock.Now()}
		for i, id := range ids {
			p.Detections = append(p.Detections, notify.SampleDetection(id, "A", time.Duration(i)*time.Second))
		}
		if _, err := st.CommitPage(t.Context(), p); err != nil {
			t.Fatal(err)
		}
	}
	newDispatcher := func(owner string) *notify.Dispatcher {
		d, err := notify.NewDispatcher(notify.Options{Store: st, Channels: map[string]notify.Notifier{"email": en},
			Owner: owner, Lease: time.Minute, Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}

	add("ev-1")
	ctx, crash := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { _, err := newDispatcher("first").Drain(ctx); done <- err }()
	select {
	case <-accepted:
	case <-time.After(30 * time.Second):
		t.Fatal("the server got no mail")
	}
	crash()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("the first instance's Drain = %v, want cancelled", err)
	}
	close(release)

	add("ev-2", "ev-3", "ev-4", "ev-5")
	clock.Add(time.Minute) // the first instance's claims lapse, if it left any
	res, err := newDispatcher("second").Drain(t.Context())
	if err != nil || res.Sent != 5 {
		t.Fatalf("the second instance's Drain = %+v, %v; want 5 rows sent", res, err)
	}
	msgs := srv.Messages()
	if len(msgs) != 3 {
		var got []string
		for _, m := range msgs {
			got = append(got, m.MessageID+" "+m.Subject)
		}
		t.Fatalf("%d mails %q, want 3 (the first, its redelivery, the digest of four)", len(msgs), got)
	}
	first, again, digest := msgs[0], msgs[1], msgs[2]
	if digest.MessageID == first.MessageID {
		again, digest = digest, again // the two go out in created order, whichever first
	}
	if again.MessageID != first.MessageID || again.Subject != first.Subject {
		t.Errorf("redelivery Message-ID %s subject %q, want the first mail's %s %q", again.MessageID, again.Subject, first.MessageID, first.Subject)
	}
	if !strings.Contains(again.Text, "ev-1") || strings.Contains(again.Text, "ev-2") {
		t.Errorf("redelivery does not hold exactly ev-1:\n%s", again.Text)
	}
	if digest.MessageID == first.MessageID || digest.Subject != "[puawatch] 4 PUA detections in Tenant A" {
		t.Errorf("the later detections went out as %s %q, want a digest of 4 under a Message-ID of its own", digest.MessageID, digest.Subject)
	}
}
