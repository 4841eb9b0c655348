package syslog

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	gosyslog "github.com/leodido/go-syslog/v4"
	"github.com/leodido/go-syslog/v4/octetcounting"
	"github.com/leodido/go-syslog/v4/rfc5424"
)

// got is one message a receiver parsed, or the parse error.
type got struct {
	msg *rfc5424.SyslogMessage
	raw []byte // UDP only: the datagram
	err error
}

// receiver is an in-process syslog server that parses every message
// strictly (best effort off).
type receiver struct {
	addr string
	ch   chan got

	mu    sync.Mutex
	ln    net.Listener   // streams
	pc    net.PacketConn // udp
	conns []net.Conn
	wg    sync.WaitGroup
}

// maxMessage is the receivers' message size limit.
const maxMessage = 1 << 20

func listenUDP(t *testing.T) *receiver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{addr: pc.LocalAddr().String(), ch: make(chan got, 100), pc: pc}
	r.wg.Go(func() {
		buf := make([]byte, 1<<16)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			raw := append([]byte(nil), buf[:n]...)
			m, err := rfc5424.NewParser().Parse(raw)
			g := got{raw: raw, err: err}
			if sm, ok := m.(*rfc5424.SyslogMessage); ok {
				g.msg = sm
			} else if err == nil {
				g.err = errors.New("not an RFC 5424 message")
			}
			r.ch <- g
		}
	})
	t.Cleanup(r.kill)
	return r
}

// listenStream serves octet-counted syslog on addr ("127.0.0.1:0" for any
// port), over TLS when conf is set.
func listenStream(t *testing.T, addr string, conf *tls.Config) *receiver {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if conf != nil {
		ln = tls.NewListener(ln, conf)
	}
	r := &receiver{addr: ln.Addr().String(), ch: make(chan got, 100), ln: ln}
	r.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.mu.Lock()
			r.conns = append(r.conns, c)
			r.mu.Unlock()
			r.wg.Go(func() {
				cr := &countingReader{r: c}
				p := octetcounting.NewParser(gosyslog.WithMaxMessageLength(maxMessage), gosyslog.WithListener(func(res *gosyslog.Result) {
					if res.Message == nil && cr.n == 0 {
						return // a connection that ended before its first byte (a failed handshake)
					}
					g := got{err: res.Error}
					if sm, ok := res.Message.(*rfc5424.SyslogMessage); ok {
						g.msg = sm
					}
					r.ch <- g
				}))
				p.Parse(cr)
				_ = c.Close()
			})
		}
	})
	t.Cleanup(r.kill)
	return r
}

// closeConns closes the connections the receiver accepted, keeping the
// listener: a server ending idle connections.
func (r *receiver) closeConns() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.conns {
		_ = c.Close()
	}
	r.conns = nil
}

// kill stops the receiver: the listener and every connection.
func (r *receiver) kill() {
	if r.ln != nil {
		_ = r.ln.Close()
	}
	if r.pc != nil {
		_ = r.pc.Close()
	}
	r.closeConns()
	r.wg.Wait()
}

// recv returns the next n messages, failing on a parse error or after 5s.
func (r *receiver) recv(t *testing.T, n int) []got {
	t.Helper()
	var out []got
	timeout := time.After(5 * time.Second)
	for len(out) < n {
		select {
		case g := <-r.ch:
			if g.err != nil {
				t.Fatalf("receiver: message %d does not parse: %v (raw %.400q)", len(out)+1, g.err, g.raw)
			}
			out = append(out, g)
		case <-timeout:
			t.Fatalf("receiver: %d of %d messages after 5s", len(out), n)
		}
	}
	return out
}

// none fails if a message arrives within d.
func (r *receiver) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case g := <-r.ch:
		t.Errorf("unexpected message %+v", g)
	case <-time.After(d):
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	c.n += k
	return k, err
}
