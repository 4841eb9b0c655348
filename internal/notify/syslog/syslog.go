package syslog

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/puawatch/puawatch/internal/certpool"
	"github.com/puawatch/puawatch/internal/notify"
	"github.com/puawatch/puawatch/internal/render"
)

// Transports.
const (
	NetworkUDP = "udp" // one datagram per message, no framing
	NetworkTCP = "tcp" // octet counting (RFC 6587 §3.4.1), in the clear
	NetworkTLS = "tls" // octet counting over TLS 1.2+ (RFC 5425)
)

// Defaults.
const (
	// DefaultFacility is 4, security/authorization messages ("auth"):
	// detections are security events, and receivers commonly route auth
	// to their security pipeline. Set 13 (log audit), 10 (authpriv) or a
	// local facility (16-23) to route them elsewhere.
	DefaultFacility = 4
	// DefaultTimeout bounds connecting and sending one notification.
	DefaultTimeout = 15 * time.Second
	// MaxUDPMessage is the most octets sent in one UDP datagram; a longer
	// message has its MSG cut (at a character boundary) to fit.
	MaxUDPMessage = 65000
)

// probeWait is how long Notify waits on a reused stream connection for a
// sign that the server closed it.
const probeWait = time.Millisecond

// Config configures the syslog channel.
type Config struct {
	// Network is "udp", "tcp" or "tls".
	Network string `yaml:"network"`
	// Address is the receiver's host:port (514 is usual for udp and tcp,
	// 6514 for tls).
	Address string `yaml:"address"`
	// Format of MSG: "json" (the default) or "cef".
	Format string `yaml:"format"`
	// Facility is the syslog facility, 1-23; 0 means DefaultFacility (4,
	// auth). Facility 0 (kernel) cannot be chosen.
	Facility int `yaml:"facility"`
	// CAFile is a PEM bundle trusted besides the system roots for tls
	// (certpool.Load); Build loads it into RootCAs.
	CAFile string `yaml:"ca_file"`
	// RootCAs verifies the server certificate for tls (nil: the system
	// roots).
	RootCAs *x509.CertPool `yaml:"-"`
	// ServerName is the name the server certificate must be issued to,
	// for tls (default: the host of Address).
	ServerName string `yaml:"-"`
	// Timeout bounds connecting and sending one notification (default
	// 15s); a shorter context deadline wins.
	Timeout time.Duration `yaml:"-"`
	// Hostname is the HOSTNAME field (default: this machine's host name).
	// It is cut to printable US-ASCII without spaces, at most 255 octets.
	Hostname string `yaml:"-"`
	// Location is passed to render.Options; messages carry UTC times only,
	// so it does not change what is sent.
	Location *time.Location `yaml:"-"`
	// CentralURL is passed to render.Options ("" is
	// https://central.sophos.com); messages do not carry it.
	CentralURL string `yaml:"-"`
}

var _ notify.ReceiverConfig = (*Config)(nil)

// Validate checks c: a known network and format, a host:port address, a
// facility from 0 to 23, TLS settings (a CA file that loads) only for
// tls, a timeout that is not negative and a printable host name.
func (c Config) Validate() error {
	_, err := c.resolve()
	return err
}

// resolve is Validate, also returning c with its CA file loaded.
func (c Config) resolve() (Config, error) {
	var ps notify.Problems
	switch c.Network {
	case NetworkUDP, NetworkTCP, NetworkTLS:
	case "":
		ps.Add("network", "not set: set %q (recommended), %q or %q", NetworkTLS, NetworkTCP, NetworkUDP)
	default:
		ps.Add("network", "%q is not known; use %q, %q or %q", c.Network, NetworkTLS, NetworkTCP, NetworkUDP)
	}
	if c.Address == "" {
		ps.Add("address", "not set: set the receiver's host:port (such as siem.example.com:6514)")
	} else if host, port, err := net.SplitHostPort(c.Address); err != nil {
		ps.Add("address", "%q is not host:port (%v); write siem.example.com:514, or [2001:db8::1]:514", c.Address, err)
	} else {
		if host == "" || strings.ContainsFunc(host, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '/' }) {
			ps.Add("address", "%q has no valid host", c.Address)
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			ps.Add("address", "%q: port %q is not a number from 1 to 65535", c.Address, port)
		}
	}
	switch c.Format {
	case "", FormatJSON, FormatCEF:
	default:
		ps.Add("format", "%q is not known; use %q or %q", c.Format, FormatJSON, FormatCEF)
	}
	if c.Facility < 0 || c.Facility > 23 {
		ps.Add("facility", "%d is out of range; use 1-23 (4 auth, 10 authpriv, 13 log audit, 16-23 local0-local7), or 0 for the default (4)", c.Facility)
	}
	if c.Network != NetworkTLS && c.Network != "" && (c.RootCAs != nil || c.ServerName != "" || c.CAFile != "") {
		ps.Add("ca_file", "a CA or server name is set but network is %q; they apply to %q only", c.Network, NetworkTLS)
	} else if c.CAFile != "" {
		pool, err := certpool.Load(c.CAFile)
		if err != nil {
			ps.Add("ca_file", "%v", err)
		}
		c.RootCAs = pool
	}
	if c.Timeout < 0 {
		ps.Add("timeout", "%s is negative", c.Timeout)
	}
	if c.Hostname != "" && headerField(c.Hostname, 255) != c.Hostname {
		ps.Add("hostname", "%q must be printable US-ASCII without spaces, at most 255 characters", c.Hostname)
	}
	return c, ps.Err()
}

// Build validates c and returns its Notifier, with env's time zone and
// Sophos Central address. It does not connect.
func (c *Config) Build(env notify.Env) (notify.Notifier, error) {
	cc := *c
	cc.Location, cc.CentralURL = env.Location, env.CentralURL
	return New(cc)
}

// Notifier sends messages to a syslog receiver, one syslog message per
// detection, keeping the connection open between messages. It is safe for
// concurrent use; messages are sent one at a time.
type Notifier struct {
	c        Config
	facility int
	hostname string
	opts     render.Options
	tls      *tls.Config
	now      func() time.Time
	dialFn   func(context.Context) (net.Conn, error) // n.dial; tests replace it

	mu     sync.Mutex
	conn   net.Conn // nil: connect on the next Notify
	closed bool
}

var _ notify.Notifier = (*Notifier)(nil)

// New checks c and returns a Notifier. It does not connect: the first
// Notify does.
func New(c Config) (*Notifier, error) {
	c, err := c.resolve()
	if err != nil {
		return nil, err
	}
	if c.Format == "" {
		c.Format = FormatJSON
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	n := &Notifier{c: c, facility: c.Facility, hostname: c.Hostname, now: time.Now,
		opts: render.Options{Location: c.Location, CentralURL: c.CentralURL}}
	n.dialFn = n.dial
	if n.facility == 0 {
		n.facility = DefaultFacility
	}
	if n.hostname == "" {
		h, _ := os.Hostname()
		n.hostname = headerField(h, 255)
	}
	if c.Network == NetworkTLS {
		name := c.ServerName
		if name == "" {
			name, _, _ = net.SplitHostPort(c.Address)
		}
		n.tls = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: c.RootCAs, ServerName: name}
	}
	return n, nil
}

// Notify sends one syslog message per detection of m, in order, on the
// open connection (connecting first if there is none). A nil error means
// every message was handed to the transport.
//
// Errors are retryable, except for configuration errors: an untrusted
// server certificate, or a server that does not speak TLS, are permanent.
// A failure after some of m's messages went out is retryable too: the
// whole message is resent, so the receiver may see a detection twice
// (at-least-once delivery; every message carries the event id, in the
// SD-PARAM eventId and in MSG, for the receiver to dedupe on). After an
// error the connection is closed and the next Notify reconnects.
func (n *Notifier) Notify(ctx context.Context, m notify.Message) error {
	if len(m.Detections) == 0 {
		return notify.Permanent(fmt.Errorf("syslog: message %s has no detections", render.Clean(m.Key)))
	}
	v := render.NewView(m, n.opts)
	now := n.now()
	frames := make([][]byte, 0, len(v.Detections))
	for _, d := range v.Detections {
		b, start, err := formatMessage(d, v, n.c.Format, now, n.hostname, n.facility)
		if err != nil {
			return notify.Permanent(err)
		}
		frames = append(frames, n.frame(b, start))
	}

	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return fmt.Errorf("syslog: %s %s: notifier is closed", n.c.Network, n.c.Address)
	}
	ctx, cancel := context.WithTimeout(ctx, n.c.Timeout)
	defer cancel()
	sent, err := n.send(ctx, frames)
	if err != nil {
		n.drop()
		return n.classify(ctx, m, sent, len(frames), err)
	}
	return nil
}

// frame adds the transport framing to one message: octet counting for
// streams; for UDP, a message longer than MaxUDPMessage has its MSG (which
// starts at start) cut to fit.
func (n *Notifier) frame(b []byte, start int) []byte {
	if n.c.Network == NetworkUDP {
		if len(b) > MaxUDPMessage {
			cut := MaxUDPMessage
			for cut > start && !utf8.RuneStart(b[cut]) {
				cut--
			}
			b = b[:max(cut, start)]
		}
		return b
	}
	return append([]byte(strconv.Itoa(len(b))+" "), b...)
}

// send writes frames on the connection, connecting if needed, and
// returns how many went out.
func (n *Notifier) send(ctx context.Context, frames [][]byte) (int, error) {
	if n.conn != nil && n.c.Network != NetworkUDP && !alive(n.conn) {
		n.drop()
	}
	if n.conn == nil {
		conn, err := n.dialFn(ctx)
		if err != nil {
			return 0, err
		}
		n.conn = conn
	}
	conn := n.conn
	deadline, _ := ctx.Deadline() // always set: Notify adds the timeout
	if err := conn.SetDeadline(deadline); err != nil {
		return 0, err
	}
	// A cancelled context interrupts a blocked write at once.
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		_ = conn.SetDeadline(time.Unix(1, 0))
		close(fired)
	})
	defer func() {
		if !stop() {
			<-fired
		}
	}()
	for i, f := range frames {
		if _, err := conn.Write(f); err != nil {
			return i, err
		}
	}
	return len(frames), nil
}

// alive reports whether a stream connection is still open: syslog
// servers never send, so a read that ends at once (EOF, reset) means the
// server closed it, and a read that times out means it is open. This
// catches a server that closed the connection since the last message,
// which the next write would not report (the data would be lost).
func alive(conn net.Conn) bool {
	if err := conn.SetReadDeadline(time.Now().Add(probeWait)); err != nil {
		return false
	}
	var b [64]byte
	_, err := conn.Read(b[:])
	_ = conn.SetReadDeadline(time.Time{})
	if err == nil {
		return true // the server said something; ignore it
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (n *Notifier) dial(ctx context.Context) (net.Conn, error) {
	d := &net.Dialer{Timeout: n.c.Timeout}
	switch n.c.Network {
	case NetworkTLS:
		td := &tls.Dialer{NetDialer: d, Config: n.tls}
		return td.DialContext(ctx, "tcp", n.c.Address)
	case NetworkTCP:
		return d.DialContext(ctx, "tcp", n.c.Address)
	}
	return d.DialContext(ctx, "udp", n.c.Address)
}

// drop closes the connection so that the next Notify reconnects.
func (n *Notifier) drop() {
	if n.conn != nil {
		_ = n.conn.Close()
		n.conn = nil
	}
}

// classify names the failure and marks configuration errors permanent.
func (n *Notifier) classify(ctx context.Context, m notify.Message, sent, total int, err error) error {
	where := fmt.Sprintf("syslog: send %s to %s %s", render.Clean(m.Key), n.c.Network, n.c.Address)
	if sent > 0 {
		where += fmt.Sprintf(": %d of %d detections sent, the whole message will be resent", sent, total)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w (%w)", where, context.Cause(ctx), err)
	}
	if certErr(err) {
		return notify.Permanent(fmt.Errorf("%s: the server's TLS certificate is not trusted: %w; "+
			"set the CA certificate that signed it (the syslog CA setting), or the name it is issued to (server name)", where, err))
	}
	var rec tls.RecordHeaderError
	if errors.As(err, &rec) {
		return notify.Permanent(fmt.Errorf("%s: %w; the server did not answer with TLS: check the port (6514 is usual for tls) or use network tcp", where, err))
	}
	return fmt.Errorf("%s: %w", where, err)
}

// certErr reports whether err is a certificate verification failure.
func certErr(err error) bool {
	var (
		verify   *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		invalid  x509.CertificateInvalidError
		hostname x509.HostnameError
	)
	return errors.As(err, &verify) || errors.As(err, &unknown) || errors.As(err, &invalid) || errors.As(err, &hostname)
}

// Close closes the connection. Later Notify calls fail with a retryable
// error.
func (n *Notifier) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.closed = true
	if n.conn != nil {
		err := n.conn.Close()
		n.conn = nil
		return err
	}
	return nil
}
