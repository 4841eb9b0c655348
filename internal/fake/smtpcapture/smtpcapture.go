// Package smtpcapture is a test double: a real SMTP server, built on
// github.com/emersion/go-smtp and run in-process, that keeps the messages
// it is sent instead of delivering them. Tests use it to hold a real SMTP
// conversation (STARTTLS or implicit TLS, AUTH PLAIN, rejected recipients,
// temporary failures) with the e-mail channel, and puawatch's demo shows
// notifications with it.
//
// It listens on 127.0.0.1 by default and delivers nothing: messages are
// parsed (headers, the text and HTML parts of multipart/alternative,
// quoted-printable and base64 decoded) and kept in memory.
package smtpcapture

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Options configure a Server.
type Options struct {
	// Addr is the address to listen on (default 127.0.0.1:0, a free port).
	Addr string
	// TLS is the server's TLS configuration. With ImplicitTLS false it
	// enables STARTTLS (offered, not required).
	TLS *tls.Config
	// ImplicitTLS speaks TLS from the first byte (smtps); TLS is required.
	ImplicitTLS bool
	// Username and Password, when Password is set, make AUTH PLAIN
	// required before MAIL. AUTH is offered only over TLS when TLS is set,
	// and on the plain connection otherwise.
	Username string
	Password string
	// RejectRecipients are answered 550 at RCPT (case-insensitive).
	RejectRecipients []string
	// FailNext, when set, is asked at every RCPT; a non-nil error is the
	// reply (for example 451 once, to test retries).
	FailNext func(rcpt string) *smtp.SMTPError
	// OnMessage, when set, is called with every message accepted.
	OnMessage func(Message)
}

// Message is one message the server accepted.
type Message struct {
	// From and To are the envelope sender and recipients.
	From string
	To   []string
	// Data is the message as sent (after dot-unstuffing).
	Data []byte
	// Header is the parsed header (nil if the message did not parse).
	Header mail.Header
	// Subject is the decoded Subject (RFC 2047 words decoded).
	Subject string
	// MessageID is the Message-ID header as sent, with angle brackets.
	MessageID string
	// Text and HTML are the decoded text/plain and text/html parts
	// (of multipart/alternative or a single-part message).
	Text, HTML string
	// ReceivedAt is when the server accepted it.
	ReceivedAt time.Time
	// TLS reports whether the message came over TLS; Auth the user name it
	// authenticated as ("" if none).
	TLS  bool
	Auth string
}

// Server is a running capture server.
type Server struct {
	o    Options
	srv  *smtp.Server
	ln   net.Listener
	done chan struct{}

	mu      sync.Mutex
	msgs    []Message
	changed chan struct{} // closed and replaced on every new message
	closed  bool
}

// Start listens and serves until Close.
func Start(o Options) (*Server, error) {
	if o.ImplicitTLS && o.TLS == nil {
		return nil, errors.New("smtpcapture: ImplicitTLS needs a TLS config")
	}
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("smtpcapture: listen on %s: %w", o.Addr, err)
	}
	if o.ImplicitTLS {
		ln = tls.NewListener(ln, o.TLS)
	}
	s := &Server{o: o, ln: ln, done: make(chan struct{}), changed: make(chan struct{})}
	srv := smtp.NewServer(smtp.BackendFunc(s.newSession))
	srv.Domain = "localhost"
	srv.TLSConfig = o.TLS
	srv.AllowInsecureAuth = o.TLS == nil
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	srv.MaxMessageBytes = 16 << 20
	srv.MaxRecipients = 100
	srv.EnableSMTPUTF8 = true
	srv.ErrorLog = log.New(io.Discard, "", 0)
	s.srv = srv
	go func() {
		defer close(s.done)
		_ = srv.Serve(ln)
	}()
	return s, nil
}

// Addr returns the address the server listens on, host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Host returns the IP address the server listens on.
func (s *Server) Host() string {
	h, _, _ := net.SplitHostPort(s.Addr())
	return h
}

// Port returns the port the server listens on.
func (s *Server) Port() int {
	_, p, _ := net.SplitHostPort(s.Addr())
	n, _ := strconv.Atoi(p)
	return n
}

// Messages returns the messages received so far, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// WaitFor waits until at least n messages were received and returns all
// received so far, or returns ctx's error with those received.
func (s *Server) WaitFor(ctx context.Context, n int) ([]Message, error) {
	for {
		s.mu.Lock()
		msgs, changed := append([]Message(nil), s.msgs...), s.changed
		s.mu.Unlock()
		if len(msgs) >= n {
			return msgs, nil
		}
		select {
		case <-ctx.Done():
			return msgs, fmt.Errorf("smtpcapture: %d of %d messages received: %w", len(msgs), n, ctx.Err())
		case <-changed:
		}
	}
}

// Close stops the server, closing open connections, and waits for it.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	err := s.srv.Close()
	// Serve may not have registered the listener yet, so go-smtp's Close
	// would not close it: close it here too.
	if cerr := s.ln.Close(); cerr != nil && !errors.Is(cerr, net.ErrClosed) && err == nil {
		err = cerr
	}
	<-s.done
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

func (s *Server) add(m Message) {
	s.mu.Lock()
	s.msgs = append(s.msgs, m)
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	if s.o.OnMessage != nil {
		s.o.OnMessage(m)
	}
}

func (s *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	_, isTLS := c.TLSConnectionState()
	return &session{s: s, tls: isTLS}, nil
}

// session is one SMTP session.
type session struct {
	s    *Server
	tls  bool
	auth string // authenticated user
	from string
	to   []string
}

var (
	_ smtp.Session     = (*session)(nil)
	_ smtp.AuthSession = (*session)(nil)

	errAuthRequired = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
)

// AuthMechanisms offers PLAIN when a password is configured.
func (se *session) AuthMechanisms() []string {
	if se.s.o.Password == "" {
		return nil
	}
	return []string{sasl.Plain}
}

// Auth checks PLAIN credentials.
func (se *session) Auth(mech string) (sasl.Server, error) {
	if se.s.o.Password == "" || mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if (identity != "" && identity != username) || username != se.s.o.Username || password != se.s.o.Password {
			return smtp.ErrAuthFailed
		}
		se.auth = username
		return nil
	}), nil
}

func (se *session) needAuth() error {
	if se.s.o.Password != "" && se.auth == "" {
		return errAuthRequired
	}
	return nil
}

// Mail starts a message.
func (se *session) Mail(from string, _ *smtp.MailOptions) error {
	if err := se.needAuth(); err != nil {
		return err
	}
	se.from, se.to = from, nil
	return nil
}

// Rcpt adds a recipient, or refuses it as configured.
func (se *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := se.needAuth(); err != nil {
		return err
	}
	for _, r := range se.s.o.RejectRecipients {
		if strings.EqualFold(r, to) {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "Recipient rejected: " + to}
		}
	}
	if f := se.s.o.FailNext; f != nil {
		if err := f(to); err != nil {
			return err
		}
	}
	se.to = append(se.to, to)
	return nil
}

// Data receives and keeps the message.
func (se *session) Data(r io.Reader) error {
	if err := se.needAuth(); err != nil {
		return err
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := Parse(data)
	m.From, m.To, m.ReceivedAt, m.TLS, m.Auth = se.from, append([]string(nil), se.to...), time.Now(), se.tls, se.auth
	se.s.add(m)
	return nil
}

// Reset forgets the message in progress.
func (se *session) Reset() { se.from, se.to = "", nil }

// Logout ends the session.
func (se *session) Logout() error { return nil }

// Parse parses a message as the server does: Data, Header, Subject,
// MessageID, Text and HTML are set as far as the message allows (a
// malformed message keeps its Data and whatever parsed).
func Parse(data []byte) Message {
	m := Message{Data: data}
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return m
	}
	m.Header = msg.Header
	dec := new(mime.WordDecoder)
	m.Subject = msg.Header.Get("Subject")
	if s, err := dec.DecodeHeader(m.Subject); err == nil {
		m.Subject = s
	}
	m.MessageID = msg.Header.Get("Message-ID")
	body, _ := io.ReadAll(msg.Body)
	walkPart(&m, msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), body, 0)
	return m
}

// walkPart fills m.Text and m.HTML from a part, descending into multiparts.
func walkPart(m *Message, contentType, encoding string, body []byte, depth int) {
	if depth > 10 {
		return
	}
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		mediaType = "text/plain"
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err != nil {
				return
			}
			b, _ := io.ReadAll(p)
			walkPart(m, p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), b, depth+1)
		}
	}
	decoded := decode(encoding, body)
	switch mediaType {
	case "text/plain":
		if m.Text == "" {
			m.Text = string(decoded)
		}
	case "text/html":
		if m.HTML == "" {
			m.HTML = string(decoded)
		}
	}
}

// decode undoes a Content-Transfer-Encoding.
func decode(encoding string, body []byte) []byte {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "quoted-printable":
		b, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body)))
		if err == nil {
			return b
		}
	case "base64":
		b, err := io.ReadAll(base64.NewDecoder(base64.StdEncoding, bytes.NewReader(body)))
		if err == nil {
			return b
		}
	}
	return body
}
