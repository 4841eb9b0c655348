package smtpcapture

import (
	"context"
	"crypto/tls"
	"errors"
	"net/smtp"
	"net/textproto"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/puawatch/puawatch/internal/fake/sim"
)

const multipartMsg = "From: a@example.com\r\n" +
	"To: b@example.com\r\n" +
	"Subject: =?UTF-8?q?Gr=C3=BC=C3=9Fe?=\r\n" +
	"Message-ID: <abc@puawatch>\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/alternative; boundary=XYZ\r\n" +
	"\r\n" +
	"--XYZ\r\n" +
	"Content-Type: text/plain; charset=UTF-8\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"\r\n" +
	"caf=C3=A9 and a long line=\r\n continued\r\n" +
	"--XYZ\r\n" +
	"Content-Type: text/html; charset=UTF-8\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"PHA+aGVsbG88L3A+\r\n" +
	"--XYZ--\r\n"

func send(t *testing.T, s *Server, auth smtp.Auth, to ...string) error {
	t.Helper()
	return smtp.SendMail(s.Addr(), auth, "a@example.com", to, []byte(multipartMsg))
}

func TestCaptureParsesMultipart(t *testing.T) {
	var seen atomic.Int32
	s, err := Start(Options{OnMessage: func(Message) { seen.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Host() != "127.0.0.1" || s.Port() == 0 {
		t.Fatalf("Host/Port = %q/%d", s.Host(), s.Port())
	}
	if err := send(t, s, nil, "b@example.com", "c@example.com"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	msgs, err := s.WaitFor(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	m := msgs[0]
	if m.From != "a@example.com" || strings.Join(m.To, ",") != "b@example.com,c@example.com" {
		t.Errorf("envelope = %q %q", m.From, m.To)
	}
	if m.Subject != "Grüße" || m.MessageID != "<abc@puawatch>" {
		t.Errorf("Subject %q MessageID %q", m.Subject, m.MessageID)
	}
	if m.Text != "café and a long line continued\r\n" && m.Text != "café and a long line continued" {
		t.Errorf("Text = %q", m.Text)
	}
	if m.HTML != "<p>hello</p>" {
		t.Errorf("HTML = %q", m.HTML)
	}
	if m.Header.Get("To") != "b@example.com" || m.ReceivedAt.IsZero() || m.TLS || m.Auth != "" {
		t.Errorf("message = %+v", m)
	}
	if seen.Load() != 1 || len(s.Messages()) != 1 {
		t.Errorf("OnMessage %d, Messages %d", seen.Load(), len(s.Messages()))
	}
}

func TestCaptureRejectsAndFails(t *testing.T) {
	var failed atomic.Bool
	s, err := Start(Options{
		RejectRecipients: []string{"Bad@Example.com"},
		FailNext: func(rcpt string) *gosmtp.SMTPError {
			if rcpt == "later@example.com" && failed.CompareAndSwap(false, true) {
				return &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 3, 0}, Message: "try later"}
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var te *textproto.Error
	if err := send(t, s, nil, "bad@example.com"); !errors.As(err, &te) || te.Code != 550 {
		t.Errorf("rejected recipient: %v", err)
	}
	if err := send(t, s, nil, "later@example.com"); !errors.As(err, &te) || te.Code != 451 {
		t.Errorf("first try: %v", err)
	}
	if err := send(t, s, nil, "later@example.com"); err != nil {
		t.Errorf("second try: %v", err)
	}
	if n := len(s.Messages()); n != 1 {
		t.Errorf("%d messages, want 1", n)
	}
}

func TestCaptureSTARTTLSAndAuth(t *testing.T) {
	certs, err := sim.NewCerts(nil, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Start(Options{TLS: certs.ServerTLSConfig(), Username: "u", Password: "p4ss"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	c, err := smtp.Dial(s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if ok, _ := c.Extension("AUTH"); ok {
		t.Error("AUTH offered before STARTTLS")
	}
	if err := c.Mail("a@example.com"); err == nil {
		t.Error("MAIL accepted without AUTH")
	}
	if err := c.StartTLS(&tls.Config{ServerName: "127.0.0.1", RootCAs: certs.ClientPool()}); err != nil {
		t.Fatal(err)
	}
	// net/smtp quits after a failed AUTH: try the wrong password on a
	// connection of its own.
	if c2, err := smtp.Dial(s.Addr()); err != nil {
		t.Fatal(err)
	} else {
		if err := c2.StartTLS(&tls.Config{ServerName: "127.0.0.1", RootCAs: certs.ClientPool()}); err != nil {
			t.Fatal(err)
		}
		if err := c2.Auth(smtp.PlainAuth("", "u", "wrong", "127.0.0.1")); !errors.As(err, new(*textproto.Error)) || !strings.HasPrefix(err.Error(), "535") {
			t.Errorf("wrong password: %v", err)
		}
		_ = c2.Close()
	}
	if err := c.Auth(smtp.PlainAuth("", "u", "p4ss", "127.0.0.1")); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("a@example.com"); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("b@example.com"); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write([]byte(multipartMsg))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	_ = c.Quit()
	m := s.Messages()
	if len(m) != 1 || !m[0].TLS || m[0].Auth != "u" {
		t.Fatalf("messages = %+v", m)
	}
}

func TestCaptureImplicitTLS(t *testing.T) {
	if _, err := Start(Options{ImplicitTLS: true}); err == nil {
		t.Error("ImplicitTLS without TLS accepted")
	}
	certs, err := sim.NewCerts(nil, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Start(Options{TLS: certs.ServerTLSConfig(), ImplicitTLS: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	conn, err := tls.Dial("tcp", s.Addr(), &tls.Config{ServerName: "127.0.0.1", RootCAs: certs.ClientPool()})
	if err != nil {
		t.Fatal(err)
	}
	c, err := smtp.NewClient(conn, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Mail("a@example.com"); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("b@example.com"); err != nil {
		t.Fatal(err)
	}
	w, _ := c.Data()
	_, _ = w.Write([]byte(multipartMsg))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if m := s.Messages(); len(m) != 1 || !m[0].TLS {
		t.Fatalf("messages = %+v", m)
	}
}

func TestWaitForTimesOut(t *testing.T) {
	s, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.WaitFor(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitFor = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestParseSinglePart(t *testing.T) {
	m := Parse([]byte("Subject: hi\r\nContent-Type: text/html\r\n\r\n<b>x</b>"))
	if m.Subject != "hi" || m.HTML != "<b>x</b>" || m.Text != "" {
		t.Errorf("%+v", m)
	}
	m = Parse([]byte("Subject: plain\r\n\r\nbody"))
	if m.Text != "body" {
		t.Errorf("%+v", m)
	}
	if m := Parse([]byte("garbage")); string(m.Data) != "garbage" {
		t.Errorf("%+v", m)
	}
}
