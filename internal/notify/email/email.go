package email

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"time"

	mail "github.com/wneessen/go-mail"
	mailsmtp "github.com/wneessen/go-mail/smtp"

	"github.com/puawatch/puawatch/internal/notify"
	"github.com/puawatch/puawatch/internal/render"
	"github.com/puawatch/puawatch/internal/secret"
	"github.com/puawatch/puawatch/internal/urlpolicy"
)

// Notifier sends notify.Messages by e-mail. It is safe for concurrent use;
// every Notify opens its own SMTP connection.
type Notifier struct {
	c    Config
	tmpl *render.Template // the user's template, nil for the default layout
	now  func() time.Time
}

var _ notify.Notifier = (*Notifier)(nil)

// New validates c, loads its template (if any) and returns a Notifier.
func New(c Config) (*Notifier, error) {
	c, tmpl, err := c.validate()
	if err != nil {
		return nil, err
	}
	c.To = append([]string(nil), c.To...)
	return &Notifier{c: c, tmpl: tmpl, now: time.Now}, nil
}

// MessageID returns the Message-ID (without angle brackets) of the message
// with key: the same key always gives the same id.
func MessageID(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])[:32] + "@puawatch"
}

// Notify renders m and sends it to all recipients in one message. A nil
// error means the server accepted the message (250 after DATA). Errors
// are notify.Permanent for 5xx replies, untrusted certificates and
// configuration the server refuses (no STARTTLS, no usable AUTH); other
// errors (4xx, timeouts, network) are retryable. Errors never hold the
// password.
func (n *Notifier) Notify(ctx context.Context, m notify.Message) error {
	if len(m.Detections) == 0 {
		return notify.Permanent(fmt.Errorf("email: message %s has no detections", m.Key))
	}
	msg, err := n.build(m)
	if err != nil {
		return notify.Permanent(fmt.Errorf("email: message %s: %w", m.Key, err))
	}
	if err := n.send(ctx, msg); err != nil {
		return n.classify(ctx, m, err)
	}
	return nil
}

// view returns the view of m with the channel's options.
func (n *Notifier) view(m notify.Message) render.View {
	loc := n.c.Location
	if loc != nil && loc.String() == "UTC" {
		loc = nil // times are shown in UTC anyway
	}
	return render.NewView(m, render.Options{Location: loc, CentralURL: n.c.CentralURL})
}

// build makes the mail of m.
func (n *Notifier) build(m notify.Message) (*mail.Msg, error) {
	v := n.view(m)
	text, html, err := bodies(v, n.tmpl)
	if err != nil {
		return nil, err
	}
	msg := mail.NewMsg(mail.WithNoDefaultUserAgent())
	if err := msg.From(n.c.From); err != nil {
		return nil, fmt.Errorf("from %q: %w", n.c.From, err)
	}
	if err := msg.To(n.c.To...); err != nil {
		return nil, fmt.Errorf("to %q: %w", n.c.To, err)
	}
	msg.SetDateWithValue(n.now())
	msg.SetMessageIDWithValue(MessageID(m.Key))
	msg.Subject(subject(v))
	msg.SetUserAgent("puawatch")
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetGenHeader(mail.HeaderXAutoResponseSuppress, "All")
	msg.SetBodyString(mail.TypeTextPlain, text)
	msg.AddAlternativeString(mail.TypeTextHTML, html)
	return msg, nil
}

// send dials, authenticates and sends msg. Cancelling ctx closes the
// connection at once.
func (n *Notifier) send(ctx context.Context, msg *mail.Msg) error {
	c := n.c
	tlsConf := &tls.Config{ServerName: c.Host, RootCAs: c.RootCAs, MinVersion: tls.VersionTLS12}

	// Our own dialer keeps hold of the connection so that a cancelled
	// context can close it: go-mail honours ctx only while dialling.
	var (
		mu     sync.Mutex
		conns  []net.Conn
		closed bool
	)
	dial := func(dctx context.Context, network, addr string) (net.Conn, error) {
		d := net.Dialer{Timeout: c.timeout()}
		conn, err := d.DialContext(dctx, network, addr)
		if err != nil {
			return nil, err
		}
		if c.mode() == TLSImplicit {
			tc := tls.Client(conn, tlsConf)
			if err := tc.HandshakeContext(dctx); err != nil {
				_ = conn.Close()
				return nil, err
			}
			conn = tc
		}
		mu.Lock()
		defer mu.Unlock()
		if closed {
			_ = conn.Close()
			return nil, context.Cause(ctx)
		}
		conns = append(conns, conn)
		return conn, nil
	}
	closeAll := func() {
		mu.Lock()
		defer mu.Unlock()
		closed = true
		for _, conn := range conns {
			_ = conn.Close()
		}
	}
	stop := context.AfterFunc(ctx, closeAll)
	defer stop()
	// go-mail leaves the connection open when EHLO, STARTTLS or AUTH
	// fail; closing it again after QUIT is harmless.
	defer closeAll()

	opts := []mail.Option{
		mail.WithPort(c.port()),
		mail.WithTimeout(c.timeout()),
		mail.WithTLSConfig(tlsConf),
		mail.WithDialContextFunc(dial),
	}
	switch c.mode() {
	case TLSStartTLS:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	case TLSOpportunistic:
		// STARTTLS when offered; a STARTTLS that fails is an error
		// (go-mail does not go on in the clear after it).
		opts = append(opts, mail.WithTLSPolicy(mail.TLSOpportunistic))
	case TLSImplicit:
		// The dialer has done the handshake already; go-mail sees a
		// *tls.Conn and treats the session as encrypted.
		opts = append(opts, mail.WithSSL(), mail.WithTLSPolicy(mail.NoTLS))
	case TLSNone:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	}
	if c.Username != "" {
		// Opportunistic: the first of these mechanisms the server
		// offers. go-mail refuses PLAIN and LOGIN on a connection that
		// is not TLS unless they are the -NOENC variants, which TLS modes
		// none and opportunistic (loopback only) need.
		mechs := []mail.SMTPAuthType{mail.SMTPAuthSCRAMSHA256, mail.SMTPAuthSCRAMSHA1, mail.SMTPAuthPlain, mail.SMTPAuthLogin}
		if c.mode() == TLSNone || c.mode() == TLSOpportunistic {
			mechs = []mail.SMTPAuthType{mail.SMTPAuthSCRAMSHA256, mail.SMTPAuthSCRAMSHA1, mail.SMTPAuthPlainNoEnc, mail.SMTPAuthLoginNoEnc}
		}
		opts = append(opts,
			mail.WithOpportunisticSMTPAuth(mechs...),
			mail.WithUsername(c.Username),
			mail.WithPassword(c.Password.Reveal()))
	}
	if c.HeloName != "" {
		opts = append(opts, mail.WithHELO(c.HeloName))
	}
	client, err := mail.NewClient(c.Host, opts...)
	if err != nil {
		return fmt.Errorf("set up SMTP client: %w", err)
	}
	sc, err := client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return err
	}
	if err := client.SendWithSMTPClient(sc, msg); err != nil && !msg.IsDelivered() {
		return err
	}
	// The server accepted the message: a failing RSET or QUIT must not
	// make it be sent again.
	_ = client.CloseWithSMTPClient(sc)
	return nil
}

// classify turns a send error into a permanent or retryable error that
// names the server and never holds the password.
func (n *Notifier) classify(ctx context.Context, m notify.Message, err error) error {
	where := fmt.Sprintf("email: send %s via %s", m.Key, n.c.addr())
	// shown is err with the password redacted, however short: only the
	// library's and the server's text is scrubbed, so the words around
	// it read as written. The class is read from err itself (shown
	// unwraps to it).
	shown := secret.RedactError(err, n.c.Password.Reveal())

	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w (%w)", where, context.Cause(ctx), shown)
	}
	if tlsErr := certError(err); tlsErr != nil {
		hint := fmt.Sprintf("set %s to a PEM file holding the CA certificate that signed it", n.c.key("ca_file"))
		var hostErr x509.HostnameError
		if errors.As(err, &hostErr) {
			hint = fmt.Sprintf("write the name the certificate is issued to as the host in %s, or %s", n.c.key("smtp_url"), hint)
		}
		return notify.Permanent(fmt.Errorf("%s: the server's TLS certificate is not trusted: %w; %s", where, shown, hint))
	}
	if code := smtpCode(err); code >= 400 {
		if code >= 500 {
			hint := ""
			switch code {
			case 535:
				hint = fmt.Sprintf("; check the user name and password in %s", n.c.key("smtp_url"))
			case 530:
				hint = fmt.Sprintf("; the server requires authentication: write smtp://user:password@host in %s", n.c.key("smtp_url"))
			}
			return notify.Permanent(fmt.Errorf("%s: rejected (%d): %w%s", where, code, shown, hint))
		}
		return fmt.Errorf("%s: temporarily refused (%d): %w", where, code, shown)
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "does not support STARTTLS"):
		return notify.Permanent(fmt.Errorf("%s: the server offers no STARTTLS (%w): %s", where, shown, n.noStartTLSHint()))
	case errors.Is(err, mail.ErrNoSupportedAuthDiscovered), strings.Contains(msg, "does not support SMTP AUTH"),
		strings.Contains(msg, "AUTH not supported"):
		return notify.Permanent(fmt.Errorf("%s: %w; the server offers no AUTH mechanism puawatch can use (PLAIN, LOGIN, SCRAM) on this connection: "+
			"remove the user name and password from %s if it needs none", where, shown, n.c.key("smtp_url")))
	case errors.Is(err, mailsmtp.ErrUnencrypted), errors.Is(err, mailsmtp.ErrWrongHostname):
		return notify.Permanent(fmt.Errorf("%s: %w", where, shown))
	}
	var recErr tls.RecordHeaderError
	if errors.As(err, &recErr) {
		return notify.Permanent(fmt.Errorf("%s: %w; the server did not answer with TLS: check the port and the scheme in %s (smtps:// is implicit TLS, usually port 465; smtp:// is STARTTLS, usually port 587)", where, shown, n.c.key("smtp_url")))
	}
	return fmt.Errorf("%s: %w", where, shown)
}

func (n *Notifier) noStartTLSHint() string {
	k := n.c.key("smtp_url")
	if urlpolicy.Loopback(n.c.Host) {
		return fmt.Sprintf("remove ?starttls=required from %s (STARTTLS is then used when offered), or add ?starttls=none (plain SMTP, loopback hosts only)", k)
	}
	return fmt.Sprintf("write smtps://%s in %s if the server speaks implicit TLS, or relay through a mail server on this machine (smtp://127.0.0.1:25 in %s)",
		net.JoinHostPort(n.c.Host, "465"), k, k)
}

// certError returns the certificate verification error in err, if any.
func certError(err error) error {
	var (
		unknown  x509.UnknownAuthorityError
		invalid  x509.CertificateInvalidError
		hostname x509.HostnameError
		verify   *tls.CertificateVerificationError
	)
	switch {
	case errors.As(err, &verify):
		return verify
	case errors.As(err, &unknown):
		return unknown
	case errors.As(err, &invalid):
		return invalid
	case errors.As(err, &hostname):
		return hostname
	}
	// An alert the server sent about our handshake, or a certificate
	// error that lost its type on the way.
	if s := err.Error(); strings.Contains(s, "x509: ") || strings.Contains(s, "tls: failed to verify certificate") {
		return err
	}
	return nil
}

// smtpCode returns the SMTP reply code of err (0 if it is not a reply).
func smtpCode(err error) int {
	var se *mail.SendError
	if errors.As(err, &se) {
		if c := se.ErrorCode(); c != 0 {
			return c
		}
	}
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code
	}
	return 0
}
