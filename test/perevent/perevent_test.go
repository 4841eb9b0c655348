package perevent_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/central"
	"github.com/puawatch/puawatch/internal/fake/sim"
	"github.com/puawatch/puawatch/internal/match"
	"github.com/puawatch/puawatch/internal/route"
	"github.com/puawatch/puawatch/internal/secret"
	"github.com/puawatch/puawatch/internal/store"
	"github.com/puawatch/puawatch/internal/store/sqlstore"
)

// pageSize is the events of the page every benchmark works on: the
// largest page the API serves.
const pageSize = 1000

// receivers are the receivers every detection is routed to.
var receivers = []string{"email", "jsonl"}

// fixture is one SIEM page as the simulator sent it over loopback HTTP,
// and what the watcher needs to handle it.
type fixture struct {
	body    []byte         // the answer's body, byte for byte
	idAt    []int          // offset in body of each item's id value
	tenant  central.Tenant // whose page it is
	matcher *match.Matcher
	route   func(store.Detection) []store.Delivery
}

// bodyRecorder keeps the body of the last /siem/v1/events answer.
type bodyRecorder struct {
	base http.RoundTripper
	mu   sync.Mutex
	last []byte
}

func (r *bodyRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.base.RoundTrip(req)
	if err != nil || req.URL.Path != "/siem/v1/events" {
		return resp, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.last = b
	r.mu.Unlock()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}

// newFixture fetches one page of pageSize events from a simulator with
// its default mix (60% of events outside the PUA family, so about 20% are
// PUA detections) with the real client, keeping the body as sent.
func newFixture(b *testing.B) *fixture {
	b.Helper()
	cfg := sim.DefaultConfig()
	cfg.Tenants = 1
	cfg.EventsPerTenant = pageSize
	s := sim.New(cfg)
	srv, err := sim.Start(s, sim.ListenOptions{})
	if err != nil {
		b.Fatalf("start simulator: %v", err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	b.Cleanup(func() {
		tr.CloseIdleConnections()
		_ = srv.Close()
	})
	cred, _ := s.Credential("partner")
	rec := &bodyRecorder{base: tr}
	c, err := central.New(central.Credentials{ClientID: cred.ClientID, ClientSecret: secret.Secret(cred.ClientSecret)},
		central.Options{AuthURL: s.TokenURL(), APIURL: srv.GlobalURL, HTTPClient: &http.Client{Transport: rec}, NoLimits: true})
	if err != nil {
		b.Fatalf("central.New: %v", err)
	}
	ctx := context.Background()
	who, err := c.Whoami(ctx)
	if err != nil {
		b.Fatalf("whoami: %v", err)
	}
	ts, err := c.Tenants(ctx, who)
	if err != nil || len(ts) != 1 {
		b.Fatalf("tenants: %d, %v", len(ts), err)
	}
	p, err := c.Events(ctx, central.EventsRequest{Tenant: ts[0], Limit: pageSize})
	if err != nil || len(p.Items) != pageSize {
		b.Fatalf("events: %d items, %v", len(p.Items), err)
	}
	f := &fixture{body: rec.last, tenant: ts[0]}
	// Each item's id is the first field of its object: {"id":"...
	for i := 0; ; {
		j := bytes.Index(f.body[i:], []byte(`{"id":"`))
		if j < 0 {
			break
		}
		i += j + len(`{"id":"`)
		f.idAt = append(f.idAt, i)
	}
	if len(f.idAt) != pageSize {
		b.Fatalf("found %d item ids in the page, want %d", len(f.idAt), pageSize)
	}
	if f.matcher, err = match.New(match.Config{}); err != nil {
		b.Fatal(err)
	}
	tree, err := route.New(route.Spec{Receivers: receivers}, receivers, route.DefaultGrouping())
	if err != nil {
		b.Fatal(err)
	}
	f.route = tree.Deliveries
	return f
}

// page is the n-th page: the fixture's bytes with the first 8 hex digits
// of every event id replaced by n, so that every page's events are new.
func (f *fixture) page(n int) []byte {
	body := bytes.Clone(f.body)
	const hexd = "0123456789abcdef"
	var hex [8]byte
	for i := range hex {
		hex[i] = hexd[(uint32(n)>>(28-4*i))&0xf]
	}
	for _, at := range f.idAt {
		copy(body[at:at+8], hex[:])
	}
	return body
}

// detections matches p's events and builds their detections, as the
// poller does.
func (f *fixture) detections(p central.Page, at time.Time) []store.Detection {
	var dets []store.Detection
	for _, e := range p.Items {
		if kind, ok := f.matcher.Match(e); ok {
			dets = append(dets, match.ToDetection(e, kind, f.tenant, at))
		}
	}
	return dets
}

// openStore opens a SQLite store on a new file, as the watcher opens it.
func openStore(b *testing.B) *sqlstore.Store {
	b.Helper()
	path := filepath.Join(b.TempDir(), "puawatch.db")
	st, err := sqlstore.Open(context.Background(), path)
	if err != nil {
		b.Fatalf("open %s: %v", path, err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

func perEvent(b *testing.B, pages int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(pages*pageSize), "ns/event")
}

// BenchmarkPerEvent is the per-event path on pages of 1,000 events (about
// 20% PUA detections) routed to two receivers: "page" is all of it, the
// others one stage each (decode: the page's bytes to events; match:
// events to detections; commit: CommitPage of the detections into a
// SQLite file). ns/event is per event of the page, detection or not.
func BenchmarkPerEvent(b *testing.B) {
	f := newFixture(b)
	at := time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)
	b.Run("page", func(b *testing.B) {
		st := openStore(b)
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			b.StopTimer()
			body := f.page(n)
			b.StartTimer()
			p, err := central.DecodePage(body)
			if err != nil {
				b.Fatal(err)
			}
			dets := f.detections(p, at)
			fresh, err := st.CommitPage(b.Context(), store.PageCommit{TenantID: f.tenant.ID, Cursor: p.NextCursor,
				Detections: dets, Route: f.route, At: at})
			if err != nil || len(fresh) != len(dets) || len(dets) == 0 {
				b.Fatalf("CommitPage of page %d: %d new of %d, %v", n, len(fresh), len(dets), err)
			}
			n++
		}
		perEvent(b, n)
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			b.StopTimer()
			body := f.page(n)
			b.StartTimer()
			if _, err := central.DecodePage(body); err != nil {
				b.Fatal(err)
			}
			n++
		}
		perEvent(b, n)
	})
	p, err := central.DecodePage(f.body)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("match", func(b *testing.B) {
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			if len(f.detections(p, at)) == 0 {
				b.Fatal("no detections")
			}
			n++
		}
		perEvent(b, n)
	})
	b.Run("commit", func(b *testing.B) {
		st := openStore(b)
		dets := f.detections(p, at)
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			b.StopTimer()
			prefix := strconv.Itoa(n) + "-"
			page := make([]store.Detection, len(dets))
			for i, d := range dets {
				d.EventID = prefix + d.EventID
				page[i] = d
			}
			b.StartTimer()
			fresh, err := st.CommitPage(b.Context(), store.PageCommit{TenantID: f.tenant.ID, Cursor: "c" + prefix,
				Detections: page, Route: f.route, At: at})
			if err != nil || len(fresh) != len(page) {
				b.Fatalf("CommitPage: %d new of %d, %v", len(fresh), len(page), err)
			}
			n++
		}
		perEvent(b, n)
	})
}
