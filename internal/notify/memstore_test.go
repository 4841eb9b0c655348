package notify

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/puawatch/puawatch/internal/store"
)

// MemStore is an in-memory store.Store for the notify tests (exported so
// the external test package can use it too). It passes the storetest
// conformance suite: claims are atomic and leased, MarkRetry and MarkDead
// count the attempt, MarkSent, MarkRetry and MarkDead record one Attempt
// per row they change, late marks leave sent rows alone, times come back in
// UTC truncated to the millisecond, and text is stored as a SQL backend
// stores it (NUL and invalid UTF-8 become U+FFFD).
type MemStore struct {
	mu      sync.Mutex
	nextID  int64
	tenants map[string]store.Tenant
	dets    map[string]store.Detection
	rows    []*memRow // by id, ascending
	// FailClaim, when set, is returned by ClaimOutbox.
	FailClaim error
	groups    map[string]*memGroup // channel + "\x00" + group key
	lost      []store.LostWindow   // by tenant id and From
	alarms    map[string]time.Time // alarm slot name -> taken at
	attempts  []store.Attempt      // in the order made
}

type memGroup struct{ nextFlush, lastSent time.Time }

type memRow struct {
	item       store.OutboxItem
	owner      string
	claimUntil time.Time
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore {
	return &MemStore{tenants: map[string]store.Tenant{}, dets: map[string]store.Detection{}}
}

var _ store.Store = (*MemStore)(nil)

// Add commits d (if new) for its tenant at d.SeenAt (t0 if zero) with one
// outbox row per channel, a message each, and returns the new rows' ids.
func (s *MemStore) Add(d store.Detection, channels ...string) []int64 {
	return s.AddDeliveries(d, func(store.Detection) []store.Delivery {
		out := make([]store.Delivery, len(channels))
		for i, ch := range channels {
			out[i] = store.Delivery{Channel: ch}
		}
		return out
	})
}

// AddDigest is Add with the rows grouped per tenant and always sent as a
// digest (group_by tenant, digest_above 0).
func (s *MemStore) AddDigest(d store.Detection, channels ...string) []int64 {
	return s.AddDeliveries(d, func(d store.Detection) []store.Delivery {
		out := make([]store.Delivery, len(channels))
		for i, ch := range channels {
			out[i] = store.Delivery{Channel: ch, GroupKey: "tenant=" + d.TenantID}
		}
		return out
	})
}

// AddDeliveries commits d (if new) routed by route, and returns the new
// rows' ids.
func (s *MemStore) AddDeliveries(d store.Detection, route func(store.Detection) []store.Delivery) []int64 {
	at := d.SeenAt
	if at.IsZero() {
		at = t0
	}
	s.mu.Lock()
	first := s.nextID
	s.mu.Unlock()
	if _, err := s.CommitPage(context.Background(), store.PageCommit{TenantID: d.TenantID, Detections: []store.Detection{d}, Route: route, At: at}); err != nil {
		panic(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []int64
	for id := first + 1; id <= s.nextID; id++ {
		ids = append(ids, id)
	}
	return ids
}

// Row returns the outbox row id.
func (s *MemStore) Row(id int64) store.OutboxItem {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.find(id); r != nil {
		return s.withDetection(r.item)
	}
	panic(fmt.Sprintf("memstore: no row %d", id))
}

// Rows returns every outbox row, oldest first.
func (s *MemStore) Rows() []store.OutboxItem {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]store.OutboxItem, len(s.rows))
	for i, r := range s.rows {
		out[i] = s.withDetection(r.item)
	}
	return out
}

func (s *MemStore) withDetection(it store.OutboxItem) store.OutboxItem {
	it.Detection = cloneDetection(s.dets[it.EventID])
	return it
}

func (s *MemStore) find(id int64) *memRow {
	i, ok := slices.BinarySearchFunc(s.rows, id, func(r *memRow, id int64) int { return cmp.Compare(r.item.ID, id) })
	if !ok {
		return nil
	}
	return s.rows[i]
}

// norm is how a SQL store returns t: UTC, millisecond precision.
func norm(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Millisecond)
}

// text is how a SQL store returns s: NUL and invalid UTF-8 become U+FFFD.
func text(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

func cloneDetection(d store.Detection) store.Detection {
	d.Raw = slices.Clone(d.Raw)
	return d
}

// tenant returns the tenant id, created at at if it is not stored.
func (s *MemStore) tenant(id string, at time.Time) store.Tenant {
	t, ok := s.tenants[id]
	if !ok {
		t = store.Tenant{ID: id, FirstSeen: norm(at)}
	}
	t.UpdatedAt = norm(at)
	return t
}

// UpsertTenants implements store.Store.
func (s *MemStore) UpsertTenants(ctx context.Context, ts []store.Tenant, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(ts) == 0 {
		return nil // an empty list is no information
	}
	for _, t := range ts {
		if t.ID == "" {
			return errors.New("memstore: tenant with an empty id")
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	listed := map[string]bool{}
	for _, in := range ts {
		listed[in.ID] = true
		t := s.tenant(in.ID, at)
		t.Name, t.Region, t.APIHost, t.Removed = text(in.Name), text(in.Region), text(in.APIHost), false
		s.tenants[in.ID] = t
	}
	for id, t := range s.tenants {
		if !listed[id] && !t.Removed {
			t.Removed, t.UpdatedAt = true, norm(at)
			s.tenants[id] = t
		}
	}
	return nil
}

// Tenant implements store.Store.
func (s *MemStore) Tenant(ctx context.Context, id string) (store.Tenant, error) {
	if err := ctx.Err(); err != nil {
		return store.Tenant{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tenants[id]
	if !ok {
		return store.Tenant{}, fmt.Errorf("memstore: tenant %q: %w", id, store.ErrNotFound)
	}
	return t, nil
}

// Tenants implements store.Store.
func (s *MemStore) Tenants(ctx context.Context) ([]store.Tenant, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]store.Tenant, 0, len(s.tenants))
	for _, t := range s.tenants {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b store.Tenant) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// CommitPage implements store.Store.
func (s *MemStore) CommitPage(ctx context.Context, p store.PageCommit) ([]store.Detection, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	switch {
	case p.TenantID == "":
		return nil, errors.New("memstore: page without a tenant id")
	case p.At.IsZero():
		return nil, errors.New("memstore: page without a time")
	}
	for _, d := range p.Detections {
		if d.EventID == "" {
			return nil, errors.New("memstore: detection without an event id")
		}
		if p.Route != nil && slices.ContainsFunc(p.Route(d), func(dl store.Delivery) bool { return dl.Channel == "" }) {
			return nil, errors.New("memstore: a delivery with an empty channel name")
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	at := norm(p.At)
	t := s.tenant(p.TenantID, p.At)
	if p.Cursor != "" {
		t.Cursor = text(p.Cursor)
	}
	if p.EndOfFeed {
		t.LastRead = at
	}
	t.LastError, t.ErrorAt = "", time.Time{}
	s.tenants[p.TenantID] = t

	var fresh []store.Detection
	for _, d := range p.Detections {
		d.EventID = text(d.EventID)
		if _, ok := s.dets[d.EventID]; ok {
			continue
		}
		if d.TenantID == "" {
			d.TenantID = p.TenantID
		}
		if d.SeenAt.IsZero() {
			d.SeenAt = p.At
		}
		d.When, d.CreatedAt, d.SeenAt = norm(d.When), norm(d.CreatedAt), norm(d.SeenAt)
		for _, f := range []*string{&d.TenantID, &d.TenantName, &d.Kind, &d.Type, &d.Name, &d.Severity, &d.Threat,
			&d.Location, &d.User, &d.EndpointID, &d.EndpointType, &d.Path} {
			*f = text(*f)
		}
		d.Raw = slices.Clone(d.Raw)
		s.dets[d.EventID] = d
		fresh = append(fresh, cloneDetection(d))
		var deliveries []store.Delivery
		if p.Route != nil {
			deliveries = p.Route(d)
		}
		done := map[string]bool{}
		for _, dl := range deliveries {
			if done[dl.Channel] {
				continue
			}
			done[dl.Channel] = true
			s.nextID++
			s.rows = append(s.rows, &memRow{item: store.OutboxItem{
				ID: s.nextID, EventID: d.EventID, TenantID: d.TenantID, Channel: text(dl.Channel),
				State: store.StatePending, NextAt: s.groupDue(dl, at), CreatedAt: at,
				GroupKey: dl.GroupKey, DigestAbove: dl.DigestAbove, MaxPerMessage: dl.MaxPerMessage,
			}})
		}
	}
	return fresh, nil
}

// groupDue is the sqlstore's rule: join a scheduled message, else wait
// and keep the interval after the last one.
func (s *MemStore) groupDue(dl store.Delivery, at time.Time) time.Time {
	if dl.GroupKey == "" {
		return at
	}
	if s.groups == nil {
		s.groups = map[string]*memGroup{}
	}
	g := s.groups[dl.Channel+"\x00"+dl.GroupKey]
	if g == nil {
		g = &memGroup{}
		s.groups[dl.Channel+"\x00"+dl.GroupKey] = g
	}
	if g.nextFlush.After(at) {
		return g.nextFlush
	}
	due := at.Add(dl.Wait)
	if !g.lastSent.IsZero() && g.lastSent.Add(dl.Interval).After(due) {
		due = g.lastSent.Add(dl.Interval)
	}
	g.nextFlush = norm(due)
	return g.nextFlush
}

// SetTenantError implements store.Store.
func (s *MemStore) SetTenantError(ctx context.Context, tenantID, msg string, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenant(tenantID, at)
	if msg == "" {
		t.LastError, t.ErrorAt = "", time.Time{}
	} else {
		t.LastError, t.ErrorAt = text(msg), norm(at)
	}
	s.tenants[tenantID] = t
	return nil
}

// SetOverlapAt implements store.Store.
func (s *MemStore) SetOverlapAt(ctx context.Context, tenantID string, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenant(tenantID, at)
	t.OverlapAt = norm(at)
	s.tenants[tenantID] = t
	return nil
}

// AddLostWindow implements store.Store: the window of a tenant and From
// is one, whose To only grows.
func (s *MemStore) AddLostWindow(ctx context.Context, w store.LostWindow) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w.TenantID, w.Reason = text(w.TenantID), text(w.Reason)
	w.From, w.To, w.DetectedAt = norm(w.From), norm(w.To), norm(w.DetectedAt)
	switch {
	case w.TenantID == "":
		return errors.New("memstore: lost window with an empty tenant id")
	case w.From.IsZero() || w.DetectedAt.IsZero():
		return errors.New("memstore: lost window without From or DetectedAt")
	case !w.To.After(w.From):
		return fmt.Errorf("memstore: lost window To %s is not after From %s", w.To, w.From)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cmpKey := func(a, b store.LostWindow) int {
		return cmp.Or(strings.Compare(a.TenantID, b.TenantID), a.From.Compare(b.From))
	}
	i, found := slices.BinarySearchFunc(s.lost, w, cmpKey)
	if found {
		if w.To.After(s.lost[i].To) {
			s.lost[i].To, s.lost[i].Reason = w.To, w.Reason
		}
		return nil
	}
	s.lost = slices.Insert(s.lost, i, w)
	return nil
}

// LostWindows implements store.Store.
func (s *MemStore) LostWindows(ctx context.Context, tenantID string) ([]store.LostWindow, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []store.LostWindow
	for _, w := range s.lost {
		if tenantID == "" || w.TenantID == tenantID {
			out = append(out, w)
		}
	}
	return out, nil
}

// ClaimOutbox implements store.Store.
func (s *MemStore) ClaimOutbox(ctx context.Context, c store.Claim) ([]store.OutboxItem, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if c.Owner == "" {
		return nil, errors.New("memstore: claim without an owner")
	}
	if c.Limit <= 0 || c.Lease <= 0 {
		return nil, fmt.Errorf("memstore: claim needs a positive limit and lease, got %d and %s", c.Limit, c.Lease)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.FailClaim != nil {
		return nil, s.FailClaim
	}
	var due []*memRow
	for _, r := range s.rows {
		if r.item.State == store.StatePending && !r.item.NextAt.After(c.Now) && !r.claimUntil.After(c.Now) {
			due = append(due, r)
		}
	}
	slices.SortStableFunc(due, func(a, b *memRow) int {
		return cmp.Or(a.item.CreatedAt.Compare(b.item.CreatedAt), cmp.Compare(a.item.ID, b.item.ID))
	})
	taken := due[:min(len(due), c.Limit)]
	groups := map[string]bool{}
	for _, r := range taken {
		if r.item.GroupKey != "" {
			groups[r.item.Channel+"\x00"+r.item.GroupKey] = true
		}
	}
	for _, r := range due[len(taken):] { // the rest of their groups
		if r.item.GroupKey != "" && groups[r.item.Channel+"\x00"+r.item.GroupKey] {
			taken = append(taken, r)
		}
	}
	due = taken
	out := make([]store.OutboxItem, len(due))
	for i, r := range due {
		r.owner, r.claimUntil = c.Owner, norm(c.Now.Add(c.Lease))
		out[i] = s.withDetection(r.item)
	}
	return out, nil
}

func (r *memRow) release() { r.owner, r.claimUntil = "", time.Time{} }

// held reports whether owner holds r: it claimed r last and r is pending.
func (r *memRow) held(owner string) bool {
	return r.owner == owner && r.item.State == store.StatePending
}

// updateHeld applies f to the rows of ids owner holds and reports the
// others as the SQL store does (ErrNotFound, ErrNotHeld), after changing
// the held ones.
func (s *MemStore) updateHeld(owner string, ids []int64, f func(r *memRow)) error {
	if owner == "" {
		return errors.New("memstore: empty owner")
	}
	var missing, skipped []int64
	for _, id := range ids {
		switch r := s.find(id); {
		case r == nil:
			missing = append(missing, id)
		case !r.held(owner):
			skipped = append(skipped, id)
		default:
			f(r)
		}
	}
	var errs []error
	if len(missing) > 0 {
		errs = append(errs, fmt.Errorf("outbox rows %v: %w", missing, store.ErrNotFound))
	}
	if len(skipped) > 0 {
		errs = append(errs, fmt.Errorf("outbox rows %v are %w %q", skipped, store.ErrNotHeld, owner))
	}
	return errors.Join(errs...)
}

// addAttempt records an attempt of r.
func (s *MemStore) addAttempt(r *memRow, at time.Time, result, errText string) {
	s.attempts = append(s.attempts, store.Attempt{OutboxID: r.item.ID, Channel: r.item.Channel, At: norm(at), Result: result, Error: text(errText)})
}

// Attempts returns the attempts recorded, in the order made.
func (s *MemStore) Attempts() []store.Attempt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.attempts)
}

// SetBatches implements store.Store.
func (s *MemStore) SetBatches(ctx context.Context, owner string, batches []store.Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if owner == "" {
		return errors.New("memstore: set batches without an owner")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	used := map[string]bool{}
	for _, r := range s.rows {
		if r.item.BatchID != "" {
			used[r.item.BatchID] = true
		}
	}
	// Check everything first: nothing is written if one batch fails.
	for _, b := range batches {
		id := text(b.ID)
		switch {
		case id == "":
			return errors.New("memstore: a batch with an empty id")
		case len(b.Rows) == 0:
			return fmt.Errorf("memstore: batch %q has no rows", b.ID)
		case used[id]:
			return fmt.Errorf("memstore: batch id %q is in use", b.ID)
		}
		used[id] = true
		var missing, skipped []int64
		for _, rid := range b.Rows {
			switch r := s.find(rid); {
			case r == nil:
				missing = append(missing, rid)
			case r.item.BatchID != "":
				return fmt.Errorf("memstore: batch %q: row %d already belongs to message %q", b.ID, rid, r.item.BatchID)
			case !r.held(owner):
				skipped = append(skipped, rid)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("memstore: batch %q: rows %v: %w", b.ID, missing, store.ErrNotFound)
		}
		if len(skipped) > 0 {
			return fmt.Errorf("memstore: batch %q: rows %v are %w %q", b.ID, skipped, store.ErrNotHeld, owner)
		}
	}
	for _, b := range batches {
		for _, rid := range b.Rows {
			r := s.find(rid)
			r.item.BatchID, r.item.Digest = text(b.ID), b.Digest
		}
	}
	return nil
}

// MarkSent implements store.Store.
func (s *MemStore) MarkSent(ctx context.Context, owner string, ids []int64, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.updateHeld(owner, ids, func(r *memRow) {
		r.item.State, r.item.SentAt = store.StateSent, norm(at)
		r.release()
		s.addAttempt(r, at, store.AttemptSent, "")
		if g := s.groups[r.item.Channel+"\x00"+r.item.GroupKey]; r.item.GroupKey != "" && g != nil {
			g.lastSent = norm(at)
		}
	})
}

// MarkRetry implements store.Store.
func (s *MemStore) MarkRetry(ctx context.Context, owner string, ids []int64, next time.Time, errText string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if next.IsZero() {
		return errors.New("memstore: retry without a next time")
	}
	now := time.Now() // the attempt, at the store's clock as in sqlstore
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.updateHeld(owner, ids, func(r *memRow) {
		r.item.Attempts++
		r.item.NextAt, r.item.LastError = norm(next), text(errText)
		r.release()
		s.addAttempt(r, now, store.AttemptRetry, errText)
	})
}

// MarkDead implements store.Store.
func (s *MemStore) MarkDead(ctx context.Context, owner string, ids []int64, reason string, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.updateHeld(owner, ids, func(r *memRow) {
		r.item.Attempts++
		r.item.State, r.item.LastError, r.item.NextAt = store.StateDead, text(reason), norm(at)
		r.release()
		s.addAttempt(r, at, store.AttemptDead, reason)
	})
}

// ReleaseClaims implements store.Store.
func (s *MemStore) ReleaseClaims(ctx context.Context, owner string, ids []int64) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if owner == "" {
		return 0, errors.New("memstore: release without an owner")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	if ids == nil {
		for _, r := range s.rows {
			if r.held(owner) {
				r.release()
				n++
			}
		}
		return n, nil
	}
	var missing []int64
	for _, id := range slices.Compact(slices.Sorted(slices.Values(ids))) {
		switch r := s.find(id); {
		case r == nil:
			missing = append(missing, id)
		case r.held(owner):
			r.release()
			n++
		}
	}
	if len(missing) > 0 {
		return n, fmt.Errorf("outbox rows %v: %w", missing, store.ErrNotFound)
	}
	return n, nil
}

// Holders implements store.Store.
func (s *MemStore) Holders(ctx context.Context, now time.Time) ([]store.Holder, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	by := map[string]*store.Holder{}
	for _, r := range s.rows {
		if r.owner == "" || r.item.State != store.StatePending || !r.claimUntil.After(now) {
			continue
		}
		h := by[r.owner]
		if h == nil {
			h = &store.Holder{Owner: r.owner}
			by[r.owner] = h
		}
		h.Rows++
		if r.claimUntil.After(h.Until) {
			h.Until = r.claimUntil
		}
	}
	out := make([]store.Holder, 0, len(by))
	for _, h := range by {
		out = append(out, *h)
	}
	slices.SortFunc(out, func(a, b store.Holder) int { return cmp.Compare(a.Owner, b.Owner) })
	return out, nil
}

// Requeue implements store.Store.
func (s *MemStore) Requeue(ctx context.Context, ids []int64, at time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var rows []*memRow
	if ids == nil {
		for _, r := range s.rows {
			if r.item.State == store.StateDead {
				rows = append(rows, r)
			}
		}
	} else {
		for _, id := range ids {
			r := s.find(id)
			if r == nil {
				return 0, fmt.Errorf("outbox row %d: %w", id, store.ErrNotFound)
			}
			rows = append(rows, r)
		}
	}
	n := 0
	for _, r := range rows {
		if r.item.State == store.StateSent {
			continue
		}
		r.item.State, r.item.NextAt, r.item.Attempts = store.StatePending, norm(at), 0
		r.release()
		n++
	}
	return n, nil
}

// Outbox implements store.Store.
func (s *MemStore) Outbox(ctx context.Context, f store.OutboxFilter) ([]store.OutboxItem, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []store.OutboxItem
	for i := len(s.rows) - 1; i >= 0; i-- {
		r := s.rows[i]
		if len(f.States) > 0 && !slices.Contains(f.States, r.item.State) || f.Channel != "" && r.item.Channel != text(f.Channel) {
			continue
		}
		out = append(out, s.withDetection(r.item))
		if f.Limit > 0 && len(out) == f.Limit {
			break
		}
	}
	return out, nil
}

// Detections implements store.Store.
func (s *MemStore) Detections(ctx context.Context, f store.DetectionFilter) ([]store.Detection, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []store.Detection
	for _, d := range s.dets {
		if f.TenantID != "" && d.TenantID != f.TenantID {
			continue
		}
		if !f.Since.IsZero() && d.CreatedAt.Before(f.Since) {
			continue
		}
		out = append(out, cloneDetection(d))
	}
	slices.SortFunc(out, func(a, b store.Detection) int {
		switch {
		case a.CreatedAt.IsZero() != b.CreatedAt.IsZero(): // a zero CreatedAt sorts last
			if a.CreatedAt.IsZero() {
				return 1
			}
			return -1
		}
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(a.EventID, b.EventID))
	})
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

// OutboxCounts implements store.Store.
func (s *MemStore) OutboxCounts(ctx context.Context, since time.Time) ([]store.OutboxCount, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	since = norm(since)
	by := map[[2]string]*store.OutboxCount{}
	latest := map[[2]string]store.OutboxItem{} // the row whose LastError counts
	for _, r := range s.rows {
		it := r.item
		k := [2]string{it.Channel, it.State}
		c := by[k]
		if c == nil {
			c = &store.OutboxCount{Channel: it.Channel, State: it.State, FirstDue: it.NextAt}
			by[k] = c
		}
		c.Rows++
		if it.Attempts > 0 && it.State != store.StateSent {
			c.Failed++
		}
		if !since.IsZero() && !it.NextAt.Before(since) {
			c.Since++
		}
		if it.NextAt.Before(c.FirstDue) {
			c.FirstDue = it.NextAt
		}
		if l, ok := latest[k]; it.LastError != "" && it.State != store.StateSent && (!ok || !it.NextAt.Before(l.NextAt)) {
			latest[k] = it // rows go by ascending id: a tie goes to the later
		}
	}
	out := make([]store.OutboxCount, 0, len(by))
	for k, c := range by {
		c.LastError = latest[k].LastError
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b store.OutboxCount) int {
		return cmp.Or(cmp.Compare(a.Channel, b.Channel), cmp.Compare(a.State, b.State))
	})
	return out, nil
}

// TakeAlarmSlot implements store.Store.
func (s *MemStore) TakeAlarmSlot(ctx context.Context, name string, now time.Time, every time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if name == "" || now.IsZero() || every <= 0 {
		return false, fmt.Errorf("memstore: take alarm slot %q at %v every %v: a name, a time and a positive interval are required", name, now, every)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	name, now = text(name), norm(now)
	if at, ok := s.alarms[name]; ok && at.After(norm(now.Add(-every))) {
		return false, nil
	}
	if s.alarms == nil {
		s.alarms = map[string]time.Time{}
	}
	s.alarms[name] = now
	return true, nil
}

// ReleaseAlarmSlot implements store.Store.
func (s *MemStore) ReleaseAlarmSlot(ctx context.Context, name string, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if name == "" {
		return errors.New("memstore: release alarm slot: empty name")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if got, ok := s.alarms[text(name)]; ok && got.Equal(norm(at)) {
		delete(s.alarms, text(name))
	}
	return nil
}

// Close implements store.Store.
func (s *MemStore) Close() error { return nil }
