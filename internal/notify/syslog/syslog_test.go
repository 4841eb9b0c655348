package syslog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/leodido/go-syslog/v4/rfc5424"

	"github.com/puawatch/puawatch/internal/fake/sim"
	"github.com/puawatch/puawatch/internal/notify"
	"github.com/puawatch/puawatch/internal/render"
	"github.com/puawatch/puawatch/internal/render/detectionjson"
	"github.com/puawatch/puawatch/internal/store"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var t0 = time.Date(2026, 3, 4, 10, 20, 30, 0, time.UTC)

func det(id string) store.Detection {
	return store.Detection{
		EventID: id, TenantID: "t-1", TenantName: "Acme Corp", Kind: store.KindDetection,
		Type: "Event::Endpoint::CorePuaDetection", Name: "PUA detected: 'PsExec' at 'C:\\Tools\\PsExec64.exe'",
		Severity: "high", Threat: "PsExec", Location: "WS-042", User: `ACME\jdoe`, EndpointID: "ep-9",
		EndpointType: "computer", Path: `C:\Tools\PsExec64.exe`, When: t0, CreatedAt: t0.Add(1500 * time.Millisecond),
		Raw: []byte(`{"core_remedy_items":{"items":[{"result":"SUCCESS"}],"totalItems":1}}`),
	}
}

// hostile is a detection whose every value tries to break out of its
// syntax: SD-PARAM quotes and brackets, CEF pipes and equals signs,
// backslashes, CR/LF (a forged syslog line), markup, a 2,000-character
// path and non-ASCII text.
func hostile() store.Detection {
	d := det(`ev-"]\|=<x>`)
	d.TenantName = `Acme "Corp" ] \ | = <script>alert(1)</script>`
	d.Threat = "Ps|Exec=1\\"
	d.Location = "WS\r\n<1>1 2026-01-01T00:00:00Z forged puawatch - PUA - injected"
	d.User = `DOM\user"] cs1=forged`
	d.Path = strings.Repeat(`C:\a|b=c]"é`, 250) // 2,750 characters, cut to 2,000
	d.Type = `Event::Endpoint::CorePuaDetection"] [evil@1 x="y`
	d.Severity = "HIGH"
	d.Name = "line1\nline2\r\nline3 <b>bold</b> 日本語 \u202eevil\x00"
	d.EndpointType = "server\\"
	d.Raw = nil
	return d
}

func followUp(id string) store.Detection {
	d := det(id)
	d.Kind, d.Type, d.Severity, d.Threat = store.KindFollowUp, "Event::Endpoint::CoreCleanFailed", "medium", "Bundler"
	d.When = time.Time{}
	d.Path = ""
	return d
}

func msg(key string, ds ...store.Detection) notify.Message {
	return notify.Message{Key: key, Channel: "siem", TenantID: "t-1", TenantName: "Acme Corp", Detections: ds}
}

// expect checks one received message against the detection it came from.
func expect(t *testing.T, g got, d store.Detection, format string, facility int, sent time.Time) {
	t.Helper()
	m := g.msg
	sev := Severity(d.Severity)
	if m.Priority == nil || int(*m.Priority) != facility*8+sev || int(*m.Facility) != facility || int(*m.Severity) != sev {
		t.Errorf("PRI %v facility %v severity %v, want %d/%d", deref(m.Priority), deref(m.Facility), deref(m.Severity), facility, sev)
	}
	if m.Version != 1 {
		t.Errorf("version %d", m.Version)
	}
	if m.Timestamp == nil || m.Timestamp.Sub(sent).Abs() > 5*time.Second || m.Timestamp.Format("Z07:00") != "Z" {
		t.Errorf("timestamp %v, want about %v in UTC", m.Timestamp, sent)
	}
	if str(m.Hostname) != "test-host.example" || str(m.Appname) != "puawatch" || m.ProcID != nil {
		t.Errorf("hostname %q app %q procid %v", str(m.Hostname), str(m.Appname), m.ProcID)
	}
	wantID := "PUA"
	if d.Kind == store.KindFollowUp {
		wantID = "PUAFOLLOWUP"
	}
	if str(m.MsgID) != wantID {
		t.Errorf("MSGID %q, want %q", str(m.MsgID), wantID)
	}
	if m.StructuredData == nil {
		t.Fatal("no structured data")
	}
	sd := (*m.StructuredData)[SDID]
	if len(*m.StructuredData) != 1 || len(sd) != 4 {
		t.Errorf("structured data %v, want one element %s with 4 params", *m.StructuredData, SDID)
	}
	for k, v := range map[string]string{"eventId": d.EventID, "tenantId": d.TenantID, "type": d.Type, "severity": strings.ToLower(d.Severity)} {
		if want := render.Clean(v); sd[k] != want {
			t.Errorf("SD %s = %q, want %q", k, sd[k], want)
		}
	}
	text := str(m.Message)
	switch format {
	case FormatJSON:
		var o detectionjson.Detection
		dec := json.NewDecoder(strings.NewReader(text))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&o); err != nil {
			t.Fatalf("MSG is not the JSON detection: %v: %q", err, text)
		}
		for k, pair := range map[string][2]string{
			"id": {o.ID, d.EventID}, "kind": {o.Kind, d.Kind}, "type": {o.Type, d.Type}, "tenant_id": {o.TenantID, d.TenantID},
			"tenant_name": {o.TenantName, d.TenantName}, "host": {o.Host, d.Location}, "endpoint_id": {o.EndpointID, d.EndpointID},
			"endpoint_type": {o.EndpointType, d.EndpointType}, "user": {o.User, d.User}, "threat": {o.Threat, d.Threat},
			"path": {o.Path, d.Path}, "severity": {o.Severity, strings.ToLower(d.Severity)}, "name": {o.Name, d.Name},
		} {
			if want := render.Clean(pair[1]); pair[0] != want {
				t.Errorf("MSG %s = %q, want %q", k, pair[0], want)
			}
		}
		if d.When.IsZero() != (o.When == nil) || (o.When != nil && !o.When.Equal(d.When)) {
			t.Errorf("MSG when = %v, want %v", o.When, d.When)
		}
	case FormatCEF:
		header, ext, err := parseCEF(text)
		if err != nil {
			t.Fatalf("MSG is not CEF: %v: %q", err, text)
		}
		wantHeader := []string{"CEF:0", "Sophos", "Central", "1.0", render.Clean(d.Type), "", strconv.Itoa(CEFSeverity(d.Severity))}
		if d.Kind == store.KindFollowUp {
			wantHeader[5] = fmt.Sprintf("%s: %s on %s (%s)", render.ShortType(d.Type), d.Threat, d.Location, d.TenantName)
		} else {
			wantHeader[5] = render.Clean(fmt.Sprintf("PUA %s on %s (%s)", render.Clean(d.Threat), render.Clean(d.Location), render.Clean(d.TenantName)))
		}
		for i := range wantHeader {
			if header[i] != wantHeader[i] {
				t.Errorf("CEF header field %d = %q, want %q", i, header[i], wantHeader[i])
			}
		}
		want := map[string]string{
			"externalId": d.EventID, "cat": d.Kind, "dhost": d.Location, "duser": d.User, "filePath": d.Path, "msg": d.Name,
			"cs1Label": "tenant", "cs1": d.TenantName, "cs2Label": "threat", "cs2": d.Threat, "cs3Label": "tenantId", "cs3": d.TenantID,
			"cs4Label": "endpointId", "cs4": d.EndpointID, "cs5Label": "endpointType", "cs5": d.EndpointType,
		}
		if !d.When.IsZero() {
			want["rt"] = strconv.FormatInt(d.When.UnixMilli(), 10)
		}
		if d.Path == "" {
			delete(want, "filePath")
		}
		for k, v := range want {
			if w := render.Clean(v); ext[k] != w {
				t.Errorf("CEF %s = %q, want %q", k, ext[k], w)
			}
		}
		if ext["cs6Label"] != "cleanup" || ext["cs6"] == "" {
			t.Errorf("CEF cleanup: %q=%q", ext["cs6Label"], ext["cs6"])
		}
		for k := range ext {
			if _, ok := want[k]; !ok && k != "cs6Label" && k != "cs6" && k != "rt" {
				t.Errorf("CEF has an unexpected key %q = %q", k, ext[k])
			}
		}
	}
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// parseCEF splits a CEF record into its 7 header fields (unescaped) and
// its extension (unescaped values by key).
func parseCEF(s string) ([]string, map[string]string, error) {
	var header []string
	var cur strings.Builder
	i := 0
	for ; i < len(s) && len(header) < 7; i++ {
		switch s[i] {
		case '\\':
			if i+1 >= len(s) || (s[i+1] != '\\' && s[i+1] != '|') {
				return nil, nil, fmt.Errorf("bad header escape at %d", i)
			}
			i++
			cur.WriteByte(s[i])
		case '|':
			header = append(header, cur.String())
			cur.Reset()
		case '\r', '\n':
			return nil, nil, errors.New("line break in header")
		default:
			cur.WriteByte(s[i])
		}
	}
	if len(header) != 7 {
		return nil, nil, fmt.Errorf("%d header fields", len(header))
	}
	rest := s[i:]
	if strings.ContainsAny(rest, "\r\n") {
		return nil, nil, errors.New("raw line break in extension")
	}
	// Keys end at unescaped '='; a key starts after the last space before it.
	type key struct {
		name      string
		start, eq int
	}
	var keys []key
	for j := 0; j < len(rest); j++ {
		switch rest[j] {
		case '\\':
			j++
		case '=':
			start := strings.LastIndexByte(rest[:j], ' ') + 1
			keys = append(keys, key{rest[start:j], start, j})
		}
	}
	ext := map[string]string{}
	for k, kk := range keys {
		end := len(rest)
		if k+1 < len(keys) {
			end = keys[k+1].start - 1
		}
		if end < kk.eq+1 {
			return nil, nil, fmt.Errorf("key %q has no value", kk.name)
		}
		v, err := unescapeCEFValue(rest[kk.eq+1 : end])
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", kk.name, err)
		}
		if _, dup := ext[kk.name]; dup {
			return nil, nil, fmt.Errorf("key %q twice", kk.name)
		}
		ext[kk.name] = v
	}
	return header, ext, nil
}

func unescapeCEFValue(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 >= len(s) {
			return "", errors.New("trailing backslash")
		}
		i++
		switch s[i] {
		case '\\', '=':
			b.WriteByte(s[i])
		case 'r':
			b.WriteByte('\r')
		case 'n':
			b.WriteByte('\n')
		default:
			return "", fmt.Errorf("bad escape \\%c", s[i])
		}
	}
	return b.String(), nil
}

func TestTransportsAndFormats(t *testing.T) {
	certs, err := sim.NewCerts(nil, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ds := []store.Detection{det("ev-1"), hostile(), followUp("ev-3")}
	ds[2].Severity = "low"
	for _, network := range []string{NetworkUDP, NetworkTCP, NetworkTLS} {
		for _, format := range []string{FormatJSON, FormatCEF} {
			t.Run(network+"/"+format, func(t *testing.T) {
				var r *receiver
				c := Config{Network: network, Format: format, Hostname: "test-host.example"}
				switch network {
				case NetworkUDP:
					r = listenUDP(t)
				case NetworkTCP:
					r = listenStream(t, "127.0.0.1:0", nil)
					c.Facility = 13
				case NetworkTLS:
					r = listenStream(t, "127.0.0.1:0", certs.ServerTLSConfig())
					c.RootCAs = certs.ClientPool()
					c.Facility = 23
				}
				c.Address = r.addr
				n, err := New(c)
				if err != nil {
					t.Fatal(err)
				}
				defer n.Close()
				facility := c.Facility
				if facility == 0 {
					facility = DefaultFacility
				}
				sent := time.Now()
				if err := n.Notify(context.Background(), msg("batch-1", ds...)); err != nil {
					t.Fatal(err)
				}
				gs := r.recv(t, len(ds))
				for i, g := range gs {
					expect(t, g, ds[i], format, facility, sent)
				}
				// The connection stays open: a second message goes the same way.
				if err := n.Notify(context.Background(), msg("ev-9.siem", det("ev-9"))); err != nil {
					t.Fatal(err)
				}
				expect(t, r.recv(t, 1)[0], det("ev-9"), format, facility, sent)
				if network != NetworkUDP {
					r.mu.Lock()
					conns := len(r.conns)
					r.mu.Unlock()
					if conns != 1 {
						t.Errorf("%d connections, want 1 kept open", conns)
					}
				}
				for _, g := range gs {
					if bytes.ContainsAny(g.raw, "\r\n") {
						t.Errorf("raw datagram holds CR/LF: %q", g.raw)
					}
				}
			})
		}
	}
}

func TestGolden(t *testing.T) {
	now := time.Date(2026, 3, 4, 10, 21, 0, 123456000, time.UTC)
	v := render.NewView(msg("ev-1.siem", det("ev-1")), render.Options{})
	for _, format := range []string{FormatJSON, FormatCEF} {
		t.Run(format, func(t *testing.T) {
			b, err := Format(v.Detections[0], v, format, now, "ws-puawatch")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := rfc5424.NewParser().Parse(b); err != nil {
				t.Errorf("strict parser: %v", err)
			}
			path := filepath.Join("testdata", format+".golden")
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(append(b, '\n'), want) {
				t.Errorf("message differs from %s (go test -update rewrites it):\n%s", path, b)
			}
		})
	}
	if _, err := Format(v.Detections[0], v, "xml", now, "h"); err == nil {
		t.Error("format xml accepted")
	}
}

func TestFormatFields(t *testing.T) {
	now := time.Date(2026, 3, 4, 10, 21, 0, 0, time.UTC)
	for sev, pri := range map[string]int{"critical": 34, "high": 35, "HIGH": 35, "medium": 36, "low": 37, "": 38, "informational": 38} {
		d := det("ev-1")
		d.Severity = sev
		v := render.NewView(msg("k", d), render.Options{})
		b, err := Format(v.Detections[0], v, FormatJSON, now, "h")
		if err != nil {
			t.Fatal(err)
		}
		if want := "<" + strconv.Itoa(pri) + ">1 2026-03-04T10:21:00.000Z h puawatch - PUA [puawatch@32473 "; !strings.HasPrefix(string(b), want) {
			t.Errorf("severity %q: %.80s, want prefix %s", sev, b, want)
		}
	}
	// A hostname that is not printable ASCII is cut to what is; none at all is "-".
	v := render.NewView(msg("k", det("ev-1")), render.Options{})
	b, _ := Format(v.Detections[0], v, FormatJSON, time.Time{}, "wö rk\tst\n")
	if !strings.HasPrefix(string(b), "<35>1 - wrkst puawatch - PUA ") {
		t.Errorf("%.60s", b)
	}
	b, _ = Format(v.Detections[0], v, FormatJSON, now, "")
	if !strings.HasPrefix(string(b), "<35>1 2026-03-04T10:21:00.000Z - puawatch - PUA ") {
		t.Errorf("%.60s", b)
	}
	// A detection without a tenant id takes the message's.
	d := det("ev-1")
	d.TenantID = ""
	v = render.NewView(msg("k", d), render.Options{})
	b, _ = Format(v.Detections[0], v, FormatCEF, now, "h")
	if !strings.Contains(string(b), `tenantId="t-1"`) || !strings.Contains(string(b), "cs3=t-1") {
		t.Errorf("tenant id fallback: %s", b)
	}
}

func TestEscaping(t *testing.T) {
	for _, c := range []struct{ in, header, value, param string }{
		{"plain text", "plain text", "plain text", "plain text"},
		{`a|b`, `a\|b`, `a|b`, `a|b`},
		{`a\b`, `a\\b`, `a\\b`, `a\\b`},
		{`a=b`, `a=b`, `a\=b`, `a=b`},
		{`say "hi"`, `say "hi"`, `say "hi"`, `say \"hi\"`},
		{`[x]`, `[x]`, `[x]`, `[x\]`},
		{"a\r\nb", "a  b", `a\r\nb`, "ab"},
		{"a\nb", "a b", `a\nb`, "ab"},
		{"tab\there", "tab here", "tab here", "tabhere"},
		{"nul\x00", "nul ", "nul ", "nul"},
		{`\|=]"` + "\r\n", `\\\|=]" ` + " ", `\\|\=]"\r\n`, `\\|=\]\"`},
		{"<script>", "<script>", "<script>", "<script>"},
		{"日本語 ü 😀", "日本語 ü 😀", "日本語 ü 😀", "日本語 ü 😀"},
		{"bad\xffutf8", "bad\uFFFDutf8", "bad\uFFFDutf8", "bad\uFFFDutf8"},
		{"", "", "", ""},
	} {
		if got := escapeCEFHeader(c.in); got != c.header {
			t.Errorf("escapeCEFHeader(%q) = %q, want %q", c.in, got, c.header)
		}
		if got := escapeCEFValue(c.in); got != c.value {
			t.Errorf("escapeCEFValue(%q) = %q, want %q", c.in, got, c.value)
		}
		if got := escapeParam(c.in); got != c.param {
			t.Errorf("escapeParam(%q) = %q, want %q", c.in, got, c.param)
		}
		// What the CEF value escaper writes reads back as the input
		// (other control characters aside).
		if !strings.ContainsFunc(c.in, func(r rune) bool { return r < 0x20 && r != '\r' && r != '\n' }) && utf8.ValidString(c.in) {
			if back, err := unescapeCEFValue(c.value); err != nil || back != c.in {
				t.Errorf("unescape(%q) = %q, %v, want %q", c.value, back, err, c.in)
			}
		}
	}
}

func TestUDPTruncates(t *testing.T) {
	r := listenUDP(t)
	n, err := New(Config{Network: NetworkUDP, Address: r.addr, Hostname: "test-host.example"})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	d := det("ev-big")
	long := strings.Repeat("<", 3000) // 6 octets each in JSON
	d.Name, d.Path, d.Threat, d.User, d.Location, d.TenantName = long, long, long+"é", long, long, long
	if err := n.Notify(context.Background(), msg("k", d)); err != nil {
		t.Fatal(err)
	}
	g := r.recv(t, 1)[0]
	if len(g.raw) > MaxUDPMessage || len(g.raw) < MaxUDPMessage-4 {
		t.Errorf("datagram of %d octets, want at most %d and close to it", len(g.raw), MaxUDPMessage)
	}
	if !utf8.Valid(g.raw) {
		t.Error("cut inside a character")
	}
	if (*g.msg.StructuredData)[SDID]["eventId"] != "ev-big" {
		t.Errorf("SD %v", *g.msg.StructuredData)
	}
	if !strings.HasPrefix(str(g.msg.Message), `{"id":"ev-big"`) {
		t.Errorf("MSG %.40q", str(g.msg.Message))
	}
}

func TestUntrustedTLSIsPermanent(t *testing.T) {
	certs, err := sim.NewCerts(nil, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	other, err := sim.NewCerts(nil, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	r := listenStream(t, "127.0.0.1:0", certs.ServerTLSConfig())
	for name, c := range map[string]Config{
		"another CA":   {RootCAs: other.ClientPool()},
		"system roots": {},
		"wrong name":   {RootCAs: certs.ClientPool(), ServerName: "siem.example.com"},
	} {
		c.Network, c.Address = NetworkTLS, r.addr
		n, err := New(c)
		if err != nil {
			t.Fatal(err)
		}
		err = n.Notify(context.Background(), msg("k", det("ev-1")))
		if !notify.IsPermanent(err) || !strings.Contains(err.Error(), "CA") || !strings.Contains(err.Error(), r.addr) {
			t.Errorf("%s: %v, want a permanent error with a hint to set the CA", name, err)
		}
		n.Close()
	}
	r.none(t, 50*time.Millisecond)

	// A server that answers with something other than TLS.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
			_ = c.Close()
		}
	}()
	n, err := New(Config{Network: NetworkTLS, Address: ln.Addr().String(), RootCAs: certs.ClientPool()})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if err := n.Notify(context.Background(), msg("k", det("ev-1"))); !notify.IsPermanent(err) || !strings.Contains(err.Error(), "TLS") {
		t.Errorf("not a TLS server: %v, want permanent", err)
	}
}

func TestTCPReconnects(t *testing.T) {
	r := listenStream(t, "127.0.0.1:0", nil)
	addr := r.addr
	n, err := New(Config{Network: NetworkTCP, Address: addr, Hostname: "test-host.example"})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	ctx := context.Background()
	if err := n.Notify(ctx, msg("k1", det("ev-1"))); err != nil {
		t.Fatal(err)
	}
	r.recv(t, 1)

	// The server ends the idle connection but keeps listening: the next
	// message notices, reconnects and is not lost.
	r.closeConns()
	if err := n.Notify(ctx, msg("k2", det("ev-2"))); err != nil {
		t.Fatal(err)
	}
	if g := r.recv(t, 1)[0]; (*g.msg.StructuredData)[SDID]["eventId"] != "ev-2" {
		t.Errorf("got %v", *g.msg.StructuredData)
	}

	// The server goes away: retryable.
	r.kill()
	err = n.Notify(ctx, msg("k3", det("ev-3")))
	if err == nil || notify.IsPermanent(err) {
		t.Fatalf("server gone: %v, want a retryable error", err)
	}
	if !strings.Contains(err.Error(), addr) {
		t.Errorf("error %q does not name the address", err)
	}

	// It comes back on the same address: the next Notify reconnects.
	r2 := listenStream(t, addr, nil)
	if err := n.Notify(ctx, msg("k3", det("ev-3"))); err != nil {
		t.Fatalf("after the server came back: %v", err)
	}
	if g := r2.recv(t, 1)[0]; (*g.msg.StructuredData)[SDID]["eventId"] != "ev-3" {
		t.Errorf("got %v", *g.msg.StructuredData)
	}
}

// flakyConn is one end of a pipe that fails its write number failAt (from 1).
type flakyConn struct {
	net.Conn
	mu     sync.Mutex
	writes int
	failAt int
}

func (c *flakyConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.writes++
	fail := c.writes == c.failAt
	c.mu.Unlock()
	if fail {
		return 0, errors.New("connection reset by peer")
	}
	return c.Conn.Write(p)
}

// pipeDialer returns connections whose peers read every frame into frames
// (read is false: nobody reads, so writes block).
type pipeDialer struct {
	mu     sync.Mutex
	dials  int
	frames []string
	failAt []int // per dial
	read   bool
}

func (p *pipeDialer) dial(context.Context) (net.Conn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	client, server := net.Pipe()
	fc := &flakyConn{Conn: client}
	if p.dials < len(p.failAt) {
		fc.failAt = p.failAt[p.dials]
	}
	p.dials++
	if p.read {
		go func() {
			buf := make([]byte, 1<<16)
			for {
				k, err := server.Read(buf)
				if err != nil {
					return
				}
				p.mu.Lock()
				p.frames = append(p.frames, string(buf[:k]))
				p.mu.Unlock()
			}
		}()
	}
	return fc, nil
}

func TestFailurePartWayResendsTheWholeMessage(t *testing.T) {
	pd := &pipeDialer{failAt: []int{2}, read: true}
	n, err := New(Config{Network: NetworkTCP, Address: "127.0.0.1:6514"})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	n.dialFn = pd.dial
	m := msg("batch-2", det("ev-1"), det("ev-2"), det("ev-3"))
	err = n.Notify(context.Background(), m)
	if err == nil || notify.IsPermanent(err) || !strings.Contains(err.Error(), "1 of 3 detections sent") ||
		!strings.Contains(err.Error(), "resent") {
		t.Fatalf("failure part way: %v, want retryable naming the progress", err)
	}
	if err := n.Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	// The peer's reader records the last frame just after the write.
	var all string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		pd.mu.Lock()
		all = strings.Join(pd.frames, "")
		pd.mu.Unlock()
		if strings.Count(all, "eventId=") == 4 {
			break
		}
	}
	pd.mu.Lock()
	defer pd.mu.Unlock()
	if pd.dials != 2 {
		t.Errorf("%d dials, want a reconnect after the error", pd.dials)
	}
	for _, id := range []string{"ev-1", "ev-2", "ev-3"} {
		if c := strings.Count(all, `eventId="`+id+`"`); (id == "ev-1" && c != 2) || (id != "ev-1" && c != 1) {
			t.Errorf("%s sent %d times", id, c)
		}
	}
	// Octet counting: every frame is "LEN SP MSG".
	for rest := all; rest != ""; {
		sp := strings.IndexByte(rest, ' ')
		l, err := strconv.Atoi(rest[:max(sp, 0)])
		if sp < 0 || err != nil || l > len(rest)-sp-1 || !strings.HasPrefix(rest[sp+1:], "<35>1 ") {
			t.Fatalf("bad framing at %.40q", rest)
		}
		rest = rest[sp+1+l:]
	}
}

func TestContextAndTimeoutBoundAWrite(t *testing.T) {
	// Nobody reads: the write blocks until the deadline.
	pd := &pipeDialer{}
	n, err := New(Config{Network: NetworkTCP, Address: "127.0.0.1:6514", Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	n.dialFn = pd.dial
	start := time.Now()
	err = n.Notify(context.Background(), msg("k", det("ev-1")))
	if err == nil || notify.IsPermanent(err) || time.Since(start) > 3*time.Second {
		t.Errorf("timeout: %v after %s, want retryable, soon", err, time.Since(start))
	}

	n2, err := New(Config{Network: NetworkTCP, Address: "127.0.0.1:6514"})
	if err != nil {
		t.Fatal(err)
	}
	defer n2.Close()
	n2.dialFn = pd.dial
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start = time.Now()
	err = n2.Notify(ctx, msg("k", det("ev-1")))
	if !errors.Is(err, context.Canceled) || notify.IsPermanent(err) || time.Since(start) > 3*time.Second {
		t.Errorf("cancel: %v after %s, want context.Canceled, soon", err, time.Since(start))
	}

	// A TLS handshake that never completes is bounded too.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	}()
	n3, err := New(Config{Network: NetworkTLS, Address: ln.Addr().String(), Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer n3.Close()
	start = time.Now()
	if err := n3.Notify(context.Background(), msg("k", det("ev-1"))); err == nil || notify.IsPermanent(err) || time.Since(start) > 3*time.Second {
		t.Errorf("silent TLS server: %v after %s, want retryable, soon", err, time.Since(start))
	}
}

func TestClosedAndEmpty(t *testing.T) {
	r := listenUDP(t)
	n, err := New(Config{Network: NetworkUDP, Address: r.addr})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Notify(context.Background(), msg("k")); !notify.IsPermanent(err) {
		t.Errorf("empty message: %v, want permanent", err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := n.Notify(context.Background(), msg("k", det("ev-1"))); err == nil || notify.IsPermanent(err) {
		t.Errorf("after Close: %v, want retryable", err)
	}
	r.none(t, 20*time.Millisecond)
}

func TestValidate(t *testing.T) {
	for _, c := range []Config{
		{Network: "udp", Address: "127.0.0.1:514"},
		{Network: "tcp", Address: "siem.example.com:514", Format: "cef", Facility: 13},
		{Network: "tls", Address: "[2001:db8::1]:6514", ServerName: "siem.example.com", Facility: 23, Timeout: time.Second, Hostname: "ws-1"},
	} {
		if err := c.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v", c, err)
		}
		if n, err := New(c); err != nil {
			t.Errorf("New(%+v) = %v", c, err)
		} else {
			n.Close()
		}
	}
	for name, c := range map[string]Config{
		"no network":       {Address: "h:514"},
		"bad network":      {Network: "udp6", Address: "h:514"},
		"no address":       {Network: "udp"},
		"no port":          {Network: "udp", Address: "siem.example.com"},
		"port 0":           {Network: "tcp", Address: "h:0"},
		"port text":        {Network: "tcp", Address: "h:syslog"},
		"port too big":     {Network: "tcp", Address: "h:70000"},
		"no host":          {Network: "tcp", Address: ":514"},
		"bad format":       {Network: "tcp", Address: "h:514", Format: "leef"},
		"facility -1":      {Network: "tcp", Address: "h:514", Facility: -1},
		"facility 24":      {Network: "tcp", Address: "h:514", Facility: 24},
		"CA without tls":   {Network: "tcp", Address: "h:514", ServerName: "h"},
		"negative timeout": {Network: "tcp", Address: "h:514", Timeout: -time.Second},
		"bad hostname":     {Network: "tcp", Address: "h:514", Hostname: "my host"},
	} {
		err := c.Validate()
		if err == nil {
			t.Errorf("%s: Validate accepted it", name)
		}
		for _, fe := range notify.FieldErrors(err) {
			if fe.Key == "" {
				t.Errorf("%s: Validate = %v, want every problem to name its key", name, err)
			}
		}
		if _, err := New(c); err == nil {
			t.Errorf("%s: New accepted %+v", name, c)
		}
	}
}
