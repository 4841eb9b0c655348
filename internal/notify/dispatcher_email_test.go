package notify_test

import (
	"context"
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
