package email

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/puawatch/puawatch/internal/fake/smtpcapture"
	"github.com/puawatch/puawatch/internal/notify"
	"github.com/puawatch/puawatch/internal/urlpolicy"
)

// relayConfig is the Config of url with a sender and a recipient, as
// the e-mail section at section gives it.
func relayConfig(t *testing.T, url, section string) Config {
	t.Helper()
	c, err := ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c.From, c.To, c.Section = "puawatch@example.com", []string{"soc@example.com"}, section
	return c
}

// TestLoopbackRelay: smtp:// to a loopback host (a local relay) uses
// STARTTLS when the server offers it and plain SMTP when it does not;
// ?starttls=required insists on it. Errors name the key and the value
// that fix them.
func TestLoopbackRelay(t *testing.T) {
	certs := newCerts(t)
	t.Run("no STARTTLS offered", func(t *testing.T) {
		s := startCapture(t, smtpcapture.Options{})
		c := relayConfig(t, fmt.Sprintf("smtp://127.0.0.1:%d", s.Port()), "email")
		if err := newNotifier(t, c).Notify(context.Background(), msgOf("k", det("ev-1"))); err != nil {
			t.Fatalf("a loopback relay without STARTTLS: %v", err)
		}
		if m := waitOne(t, s); m.TLS {
			t.Errorf("TLS on a server that offers none?")
		}
	})
	t.Run("no STARTTLS offered, with AUTH", func(t *testing.T) {
		s := startCapture(t, smtpcapture.Options{Username: "relay", Password: password})
		c := relayConfig(t, fmt.Sprintf("smtp://relay:%s@localhost:%d", password, s.Port()), "email")
		if err := newNotifier(t, c).Notify(context.Background(), msgOf("k", det("ev-1"))); err != nil {
			t.Fatalf("a loopback relay without STARTTLS, with AUTH: %v", err)
		}
		if m := waitOne(t, s); m.TLS || m.Auth != "relay" {
			t.Errorf("TLS %v, auth %q; want plain, relay", m.TLS, m.Auth)
		}
	})
	t.Run("STARTTLS offered", func(t *testing.T) {
		s := startCapture(t, smtpcapture.Options{TLS: certs.ServerTLSConfig(), Username: "relay", Password: password})
		c := relayConfig(t, fmt.Sprintf("smtp://relay:%s@127.0.0.1:%d", password, s.Port()), "email")
		c.RootCAs = certs.ClientPool()
		if err := newNotifier(t, c).Notify(context.Background(), msgOf("k", det("ev-1"))); err != nil {
			t.Fatal(err)
		}
		if m := waitOne(t, s); !m.TLS || m.Auth != "relay" {
			t.Errorf("TLS %v, auth %q; want STARTTLS when the server offers it", m.TLS, m.Auth)
		}
	})
	t.Run("STARTTLS offered, certificate not trusted", func(t *testing.T) {
		s := startCapture(t, smtpcapture.Options{TLS: certs.ServerTLSConfig()})
		c := relayConfig(t, fmt.Sprintf("smtp://127.0.0.1:%d", s.Port()), "receivers[2].email")
		err := newNotifier(t, c).Notify(context.Background(), msgOf("k", det("ev-1")))
		if !notify.IsPermanent(err) || !strings.Contains(err.Error(), "receivers[2].email.ca_file") || strings.Contains(err.Error(), "RootCAs") {
			t.Errorf("err = %v\nwant permanent, naming receivers[2].email.ca_file (never plain SMTP after a failed STARTTLS)", err)
		}
		if len(s.Messages()) != 0 {
			t.Error("message delivered")
		}
	})
	t.Run("starttls=required, none offered", func(t *testing.T) {
		s := startCapture(t, smtpcapture.Options{})
		c := relayConfig(t, fmt.Sprintf("smtp://127.0.0.1:%d?starttls=required", s.Port()), "email")
		err := newNotifier(t, c).Notify(context.Background(), msgOf("k", det("ev-1")))
		if !notify.IsPermanent(err) || !strings.Contains(err.Error(), "?starttls=none") || !strings.Contains(err.Error(), "email.smtp_url") {
			t.Errorf("err = %v\nwant permanent, naming ?starttls=none and email.smtp_url", err)
		}
		if len(s.Messages()) != 0 {
			t.Error("message delivered")
		}
	})
}

// TestTLSRequiredToOtherHosts: smtp:// to a host that is not loopback
// never sends without TLS; the error says what to write instead (and not
// starttls=none, which is refused for such a host).
func TestTLSRequiredToOtherHosts(t *testing.T) {
	if c, err := ParseURL("smtp://mail.example.com"); err != nil || c.mode() != TLSStartTLS {
		t.Fatalf("smtp://mail.example.com: mode %q, %v; want STARTTLS required", c.mode(), err)
	}
	ip := nonLoopbackIP(t)
	s := startCapture(t, smtpcapture.Options{Addr: net.JoinHostPort(ip, "0")})
	c := relayConfig(t, fmt.Sprintf("smtp://%s", net.JoinHostPort(ip, fmt.Sprint(s.Port()))), "email")
	err := newNotifier(t, c).Notify(context.Background(), msgOf("k", det("ev-1")))
	if !notify.IsPermanent(err) || !strings.Contains(err.Error(), "smtps://") || !strings.Contains(err.Error(), "email.smtp_url") ||
		strings.Contains(err.Error(), "starttls=none") {
		t.Errorf("err = %v\nwant permanent, naming smtps:// and email.smtp_url, not starttls=none", err)
	}
	if len(s.Messages()) != 0 {
		t.Error("message delivered without TLS to a host that is not loopback")
	}
}

// nonLoopbackIP is an address of this machine that is not loopback, for a
// server that must not count as a local relay; the test is skipped
// without one.
func nonLoopbackIP(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Skipf("no interface addresses: %v", err)
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && !urlpolicy.Loopback(ipn.IP.String()) && !ipn.IP.IsLinkLocalUnicast() {
			ln, err := net.Listen("tcp", net.JoinHostPort(ipn.IP.String(), "0"))
			if err != nil {
				continue
			}
			ln.Close()
			return ipn.IP.String()
		}
	}
	t.Skip("this machine has no address that is not loopback")
	return ""
}
