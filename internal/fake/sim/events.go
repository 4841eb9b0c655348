package sim

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// rec is one stored event in compact form; generated events are built
// from (tenant, seq) when served, injected ones are kept whole.
type rec struct {
	created int64  // unix ms
	visible int64  // unix ms from which the API returns it
	seq     uint32 // per tenant, in order of arrival: the tie-breaker
	typ     uint16 // index into the type table
}

func (a rec) before(created int64, seq int64) bool {
	return a.created < created || (a.created == created && int64(a.seq) < seq)
}

// typeTable interns event type names so that a rec holds two bytes.
type typeTable struct {
	mu    sync.RWMutex
	names []string
	idx   map[string]uint16
	alert []bool
}

func (tt *typeTable) init() { tt.idx = map[string]uint16{} }

func (tt *typeTable) id(name string) uint16 {
	tt.mu.RLock()
	i, ok := tt.idx[name]
	tt.mu.RUnlock()
	if ok {
		return i
	}
	tt.mu.Lock()
	defer tt.mu.Unlock()
	if i, ok := tt.idx[name]; ok {
		return i
	}
	i = uint16(len(tt.names))
	tt.names = append(tt.names, name)
	tt.alert = append(tt.alert, IsAlertType(name))
	tt.idx[name] = i
	return i
}

// lookup finds a known type without adding it.
func (tt *typeTable) lookup(name string) (uint16, bool) {
	tt.mu.RLock()
	defer tt.mu.RUnlock()
	i, ok := tt.idx[name]
	return i, ok
}

// snapshot returns the names and alert flags known now; the table only
// grows, so indexes stay valid.
func (tt *typeTable) snapshot() ([]string, []bool) {
	tt.mu.RLock()
	defer tt.mu.RUnlock()
	return tt.names, tt.alert
}

func ms(t time.Time) int64 { return t.UnixMilli() }

// fillBacklog gives a tenant its generated backlog, spread over
// Config.Backlog up to the start time.
func (s *Simulator) fillBacklog(t *tenant) {
	n := s.cfg.EventsPerTenant
	if n <= 0 {
		return
	}
	end := ms(s.t0)
	span := s.cfg.Backlog.Milliseconds()
	start := end - span
	slot := float64(span) / float64(n)
	recs := make([]rec, n)
	seed := uint64(s.cfg.Seed)
	var prev int64
	for k := 0; k < n; k++ {
		h := mix3(seed, uint64(t.idx), uint64(k)|1<<40)
		c := start + int64(float64(k)*slot+float64(h>>11)/float64(1<<53)*slot)
		if k > 0 && (float64(mix3(h, 3, 5)>>11)/float64(1<<53) < s.cfg.TieShare || c < prev) {
			c = prev
		}
		prev = c
		typ := s.types.id(s.gen.EventType(t.idx, uint64(k)))
		recs[k] = rec{created: c, visible: c, seq: uint32(k), typ: typ}
		t.counts[typ]++
	}
	t.recs = recs
	t.nextSeq = uint32(n)
}

// insert adds a rec keeping (created, seq) order and counts it.
func (t *tenant) insert(r rec) {
	n := len(t.recs)
	if n == 0 || !r.before(t.recs[n-1].created, int64(t.recs[n-1].seq)) {
		t.recs = append(t.recs, r)
	} else {
		i := sort.Search(n, func(i int) bool { return r.before(t.recs[i].created, int64(t.recs[i].seq)) })
		t.recs = append(t.recs, rec{})
		copy(t.recs[i+1:], t.recs[i:])
		t.recs[i] = r
	}
	t.counts[r.typ]++
}

// prune drops what has been out of retention for an hour; the caller
// holds t.mu.
func (t *tenant) prune(now int64) {
	cut := now - (Retention + time.Hour).Milliseconds()
	if len(t.recs) == 0 || t.recs[0].created >= cut {
		return
	}
	i := sort.Search(len(t.recs), func(i int) bool { return t.recs[i].created >= cut })
	for _, r := range t.recs[:i] {
		delete(t.injected, r.seq)
	}
	t.recs = append([]rec(nil), t.recs[i:]...)
}

// advanceLive generates the live stream's events up to now. The stream is
// a function of the seed: event k is created at t0 + k/Rate.
func (s *Simulator) advanceLive(now time.Time) {
	rate := s.cfg.Rate
	if rate <= 0 {
		return
	}
	want := liveCount(now.Sub(s.t0), rate)
	s.liveMu.Lock()
	defer s.liveMu.Unlock()
	if s.liveStop || want <= s.liveDone {
		return
	}
	s.mu.RLock()
	ts := append([]*tenant(nil), s.tenants...)
	s.mu.RUnlock()
	if len(ts) == 0 {
		s.liveDone = want
		return
	}
	oldest := now.Add(-Retention)
	if skip := liveCount(oldest.Sub(s.t0), rate); skip > s.liveDone {
		s.liveDone = skip // these would already be out of retention
	}
	seed := uint64(s.cfg.Seed)
	touched := map[*tenant]bool{}
	var prevT *tenant
	var prevC int64
	for k := s.liveDone; k < want; k++ {
		h := mix3(seed, k, 0x11fe)
		nominal := ms(s.t0) + int64(float64(k)*1000/rate)
		t := ts[h%uint64(len(ts))]
		created := nominal
		if prevT != nil && unit(mix3(h, 1, 2)) < s.cfg.TieShare {
			t, created = prevT, prevC // a burst: same tenant, same millisecond
		} else if unit(mix3(h, 3, 4)) < s.cfg.LateShare && s.cfg.LateMax > 0 {
			created -= int64(unit(mix3(h, 5, 6)) * float64(s.cfg.LateMax.Milliseconds()))
		}
		t.mu.Lock()
		seq := t.nextSeq
		t.nextSeq++
		typ := s.types.id(s.gen.EventType(t.idx, uint64(seq)))
		t.insert(rec{created: created, visible: max(nominal, created), seq: seq, typ: typ})
		t.mu.Unlock()
		touched[t] = true
		prevT, prevC = t, created
	}
	s.liveDone = want
	for t := range touched {
		t.mu.Lock()
		t.prune(ms(now))
		t.mu.Unlock()
	}
}

// StopLive ends the live stream: it makes the events due up to now, and
// none after, however far the clock goes. The events made stay (every live
// event is visible when it is made). Tests stop the stream to compare a
// client's output with a ground truth that no longer grows.
func (s *Simulator) StopLive() {
	s.advanceLive(s.now())
	s.liveMu.Lock()
	s.liveStop = true
	s.liveMu.Unlock()
}

// liveCount is how many live events the stream has made d after its
// start at rate a second: 0 before the start. (Go leaves the conversion of
// a negative float to uint64 to the machine: on amd64 it gives about
// 1.8e19, which once stopped the stream for its first day.)
func liveCount(d time.Duration, rate float64) uint64 {
	n := d.Seconds() * rate
	if n <= 0 {
		return 0
	}
	return uint64(n)
}

func unit(h uint64) float64 { return float64(h>>11) / float64(1<<53) }

// Inject stores events for a tenant as given. A missing id gets a random
// one, a missing created_at is now, customer_id is the tenant's. visibleAt
// (zero: created_at) delays when the API returns it, to model events that
// land behind a cursor.
func (s *Simulator) Inject(tenantID string, events []Event, visibleAt time.Time) ([]string, error) {
	t := s.tenant(tenantID)
	if t == nil {
		return nil, fmt.Errorf("sim: no tenant %q", tenantID)
	}
	now := s.now()
	ids := make([]string, 0, len(events))
	for i := range events {
		if events[i].Type == "" {
			return nil, fmt.Errorf("sim: event %d: type is required", i)
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range events {
		e := events[i]
		if e.ID == "" {
			e.ID = s.newUUID()
		}
		if e.CreatedAt.IsZero() {
			e.CreatedAt = now
		}
		e.CreatedAt = e.CreatedAt.UTC().Truncate(time.Millisecond)
		if e.When.IsZero() {
			e.When = e.CreatedAt
		}
		e.CustomerID = tenantID
		vis := ms(e.CreatedAt)
		if !visibleAt.IsZero() && ms(visibleAt) > vis {
			vis = ms(visibleAt)
		}
		seq := t.nextSeq
		t.nextSeq++
		t.injected[seq] = &e
		t.insert(rec{created: ms(e.CreatedAt), visible: vis, seq: seq, typ: s.types.id(e.Type)})
		ids = append(ids, e.ID)
	}
	return ids, nil
}

// event builds the full event a rec stands for.
func (s *Simulator) event(t *tenant, r rec) Event {
	if e, ok := t.injected[r.seq]; ok {
		return *e
	}
	return s.gen.Event(t.spec, t.idx, uint64(r.seq), time.UnixMilli(r.created).UTC())
}

// position is a place in a tenant's order: "after (created, seq)".
type position struct {
	created int64
	seq     int64 // -1: before every event of that millisecond
}

const cursorPrefix = "V2_CURSOR|"

// maxUnixSeconds is 9999-12-31T23:59:59Z: later from_date values are
// read as that, rather than overflowing milliseconds.
const maxUnixSeconds = 253402300799

// encodeCursor makes the opaque, URL-safe cursor for a position.
func encodeCursor(p position) string {
	ts := time.UnixMilli(p.created).UTC().Format(tsLayout)
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + ts + "|" + strconv.FormatInt(p.seq, 10)))
}

func decodeCursor(c string) (position, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return position{}, fmt.Errorf("cursor is not one this API issued")
	}
	rest, ok := strings.CutPrefix(string(raw), cursorPrefix)
	if !ok {
		return position{}, fmt.Errorf("cursor is not one this API issued")
	}
	tsPart, seqPart, ok := strings.Cut(rest, "|")
	if !ok {
		return position{}, fmt.Errorf("cursor is not one this API issued")
	}
	ts, err := time.Parse(tsLayout, tsPart)
	if err != nil {
		return position{}, fmt.Errorf("cursor is not one this API issued")
	}
	seq, err := strconv.ParseInt(seqPart, 10, 64)
	if err != nil || seq < -1 {
		return position{}, fmt.Errorf("cursor is not one this API issued")
	}
	return position{created: ms(ts), seq: seq}, nil
}

// pageQuery is a parsed SIEM request.
type pageQuery struct {
	start   position
	limit   int
	exclude map[uint16]bool
	alerts  bool
	newest  int64 // created_at after this is held back (from_date_offset_minutes)
	replay  bool  // repeat the last item on the next page
}

type page struct {
	recs    []rec
	events  []Event
	hasMore bool
	next    position
}

// page reads one page of a tenant's events.
func (s *Simulator) page(t *tenant, q pageQuery, now time.Time) page {
	nowMS := ms(now)
	oldest := ms(now.Add(-Retention))
	if q.start.created < oldest {
		q.start = position{created: oldest, seq: -1}
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	// After the lock: every stored rec's type was interned before it was
	// inserted, so the snapshot covers them all.
	_, alertFlags := s.types.snapshot()
	recs := t.recs
	i := sort.Search(len(recs), func(i int) bool { return !recs[i].before(q.start.created, q.start.seq+1) })
	p := page{next: q.start}
	prev := q.start
	for ; i < len(recs); i++ {
		r := recs[i]
		if r.created > q.newest {
			break
		}
		if r.visible > nowMS || q.exclude[r.typ] || (q.alerts && !alertFlags[r.typ]) {
			continue
		}
		if len(p.recs) == q.limit {
			p.hasMore = true
			break
		}
		prev = p.next
		p.recs = append(p.recs, r)
		p.next = position{created: r.created, seq: int64(r.seq)}
	}
	// A page of one item is never replayed: its cursor would not move.
	if p.hasMore && q.replay && len(p.recs) > 1 {
		p.next = prev // the last item comes again on the next page
	}
	p.events = make([]Event, len(p.recs))
	for j, r := range p.recs {
		p.events[j] = s.event(t, r)
	}
	return p
}

func (s *Simulator) handleSIEM(alerts bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, ok := s.authenticate(w, r)
		if !ok {
			return
		}
		tid := r.Header.Get("X-Tenant-ID")
		if tid == "" {
			writeError(w, http.StatusForbidden, "Forbidden", "X-Tenant-ID header is required")
			return
		}
		t := s.tenant(tid)
		switch {
		case t == nil:
			writeError(w, http.StatusForbidden, "Forbidden", "no access to tenant "+tid)
			return
		case c.IDType == "tenant" && c.ID != tid:
			writeError(w, http.StatusForbidden, "Forbidden", "this credential is for another tenant")
			return
		case t.spec.Region != regionFrom(r.Context()):
			writeError(w, http.StatusForbidden, "Forbidden", "tenant "+tid+" is not served by this host: use its apiHost")
			return
		case s.forbidden(t):
			s.counters.add("forbidden", 1)
			writeError(w, http.StatusForbidden, "Forbidden", "access to tenant "+tid+" is denied")
			return
		}
		now := s.now()
		q, err := s.parsePageQuery(r, now, alerts)
		if err != nil {
			writeError(w, http.StatusBadRequest, "badRequest", err.Error())
			return
		}
		s.advanceLive(now)
		p := s.page(t, q, now)
		s.counters.add("pages_served", 1)
		s.counters.add("items_served", len(p.events))
		buf := s.bufs.Get().(*[]byte)
		defer s.bufs.Put(buf)
		b := append((*buf)[:0], `{"has_more":`...)
		b = strconv.AppendBool(b, p.hasMore)
		b = append(b, `,"next_cursor":"`...)
		b = append(b, encodeCursor(p.next)...)
		b = append(b, `","items":[`...)
		for i := range p.events {
			if i > 0 {
				b = append(b, ',')
			}
			if alerts {
				b = appendAlert(b, &p.events[i])
			} else {
				b = appendEvent(b, &p.events[i])
			}
		}
		b = append(b, "]}\n"...)
		*buf = b
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		_, _ = w.Write(b)
	}
}

func (s *Simulator) parsePageQuery(r *http.Request, now time.Time, alerts bool) (pageQuery, error) {
	qs := r.URL.Query()
	q := pageQuery{limit: 200, alerts: alerts, newest: ms(now)}
	if v := qs.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return q, fmt.Errorf("limit must be a whole number from 1 to %d, not %q", s.cfg.MaxLimit, v)
		}
		if n > s.cfg.MaxLimit {
			if !s.cfg.ClampLimit {
				return q, fmt.Errorf("limit must be at most %d, not %d", s.cfg.MaxLimit, n)
			}
			n = s.cfg.MaxLimit
		}
		q.limit = n
	}
	if v := qs.Get("from_date_offset_minutes"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return q, fmt.Errorf("from_date_offset_minutes must be a whole number of minutes from 0, not %q", v)
		}
		q.newest = ms(now.Add(-time.Duration(n) * time.Minute))
	}
	switch c, fd := qs.Get("cursor"), qs.Get("from_date"); {
	case c != "": // from_date is ignored when a cursor is given
		p, err := decodeCursor(c)
		if err != nil {
			return q, err
		}
		s.mu.RLock()
		refuse := s.faults.RefuseOldCursor
		s.mu.RUnlock()
		if refuse && p.created < ms(now.Add(-Retention)) {
			return q, fmt.Errorf("cursor is older than 24 hours: start again with a from_date within the last 24 hours")
		}
		q.start = p
	case fd != "":
		sec, err := strconv.ParseInt(fd, 10, 64)
		if err != nil || sec < 0 {
			return q, fmt.Errorf("from_date must be a Unix time in seconds, not %q", fd)
		}
		sec = min(sec, maxUnixSeconds) // far future: nothing yet, and no overflow
		if time.Unix(sec, 0).Before(now.Add(-Retention)) {
			return q, fmt.Errorf("from_date must be within the last 24 hours")
		}
		q.start = position{created: sec * 1000, seq: -1}
	default:
		q.start = position{created: ms(now.Add(-Retention)), seq: -1}
	}
	if !alerts {
		for _, v := range qs["exclude_types"] {
			for _, typ := range strings.Split(v, ",") {
				if typ = strings.TrimSpace(typ); typ != "" {
					if q.exclude == nil {
						q.exclude = map[uint16]bool{}
					}
					if id, ok := s.types.lookup(typ); ok {
						q.exclude[id] = true
					}
				}
			}
		}
	}
	s.mu.RLock()
	q.replay = s.faults.ReplayRate > 0
	rate := s.faults.ReplayRate
	s.mu.RUnlock()
	if q.replay {
		q.replay = s.randFloat() < rate
	}
	return q, nil
}

// CursorAt is a cursor as this simulator issues it, placed just before t:
// a read from it returns the events created at or after t (tests use it
// to make a watcher's stored state as of some time ago).
func CursorAt(t time.Time) string { return encodeCursor(position{created: ms(t), seq: -1}) }
