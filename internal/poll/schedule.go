package poll

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/puawatch/puawatch/internal/backoff"
	"github.com/puawatch/puawatch/internal/central"
	"github.com/puawatch/puawatch/internal/store"
)

// Hooks are what Run tells its caller. Each may be nil. They are called
// from Run's own goroutine, one at a time.
type Hooks struct {
	// Result is each tenant's read, with its lag computed after it. A
	// read cut short by a stop is not told.
	Result func(TenantResult)
	// Round is told each time every tenant of the list has been read
	// (failed reads included) since the last round: the round's latest
	// results, in list order. An empty tenant list makes an empty round.
	Round func(Report)
	// Tenants is each tenant list read.
	Tenants func([]central.Tenant)
	// ListFailed is told that no tenant list could be read; it returns
	// true to stop Run with err (a refused credential).
	ListFailed func(err error) (stop bool)
}

// Run reads every tenant on its own schedule until ctx is cancelled:
// Workers tenants at a time, the one due first first. A tenant is due
// again interval after its read ended; after a failure, later, with
// backoff (see retryDelay), so a tenant that fails or hangs delays
// itself only. The tenant list is read again every TenantRefresh beside
// the reads (a list that cannot be read leaves the known one in use).
// Cancelling ctx starts no new read; the pages in hand are finished and
// committed within StopGrace, as in Sweep. The error is ListFailed's.
func (p *Poller) Run(ctx context.Context, interval time.Duration, h Hooks) error {
	if interval <= 0 {
		return fmt.Errorf("poll: the interval must be positive, not %s", interval)
	}
	work, cancelWork := p.workContext(ctx)
	defer cancelWork()
	s := &schedule{p: p, interval: interval, h: h, byID: map[string]*slot{},
		results: make(chan TenantResult), lists: make(chan listResult, 1), roundStart: p.o.Now()}
	return s.run(ctx, work)
}

// slot is one tenant in the schedule.
type slot struct {
	t        central.Tenant
	due      time.Time // zero: at once
	running  bool
	failures int // failed reads in a row
}

type listResult struct {
	ts  []central.Tenant
	err error
}

// schedule is Run's state; only Run's goroutine uses it.
type schedule struct {
	p        *Poller
	interval time.Duration
	h        Hooks

	order   []string         // tenant ids in list order
	inList  map[string]bool  // the ids of order
	byID    map[string]*slot // order's tenants, and removed ones still being read
	running int
	wg      sync.WaitGroup
	results chan TenantResult
	lists   chan listResult

	refreshing   bool
	nextRefresh  time.Time
	listFailures int
	listed       bool

	round      map[string]TenantResult // results since the round started
	roundStart time.Time
	first      *counter // the first round's progress
	firstSeen  map[string]bool
}

func (s *schedule) run(ctx, work context.Context) error {
	var err error
	for {
		now := s.p.o.Now()
		stopping := ctx.Err() != nil || err != nil
		if !stopping {
			if !s.refreshing && !now.Before(s.nextRefresh) {
				s.refresh(ctx)
			}
			s.dispatch(ctx, work, now)
		}
		if stopping && s.running == 0 && !s.refreshing {
			s.wg.Wait()
			return err
		}
		var timer <-chan time.Time
		var done <-chan struct{}
		if !stopping {
			done = ctx.Done()
			if next, ok := s.nextWake(); ok {
				timer = s.p.o.After(max(next.Sub(now), 0))
			}
		}
		select {
		case <-done:
		case <-timer:
		case r := <-s.results:
			s.running--
			s.result(r)
		case l := <-s.lists:
			s.refreshing = false
			if s.list(l) {
				err = l.err
			}
		}
	}
}

// refresh reads the tenant list beside the reads.
func (s *schedule) refresh(ctx context.Context) {
	s.refreshing = true
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ts, err := s.p.refreshTenants(ctx)
		s.lists <- listResult{ts: ts, err: err}
	}()
}

// dispatch starts the reads of the tenants due, the one due first first,
// while a worker is free.
func (s *schedule) dispatch(ctx, work context.Context, now time.Time) {
	for s.running < s.p.workers(len(s.order)) {
		var next *slot
		for _, id := range s.order {
			sl := s.byID[id]
			if sl.running || sl.due.After(now) {
				continue
			}
			if next == nil || sl.due.Before(next.due) {
				next = sl
			}
		}
		if next == nil {
			return
		}
		next.running = true
		s.running++
		s.wg.Add(1)
		go func(t central.Tenant) {
			defer s.wg.Done()
			s.results <- s.p.readOne(ctx, work, t)
		}(next.t)
	}
}

// nextWake is when the schedule has something to start next: the list
// refresh, or (with a worker free) the tenant due first.
func (s *schedule) nextWake() (time.Time, bool) {
	var next time.Time
	ok := false
	if !s.refreshing {
		next, ok = s.nextRefresh, true
	}
	if s.running < s.p.workers(len(s.order)) {
		for _, id := range s.order {
			if sl := s.byID[id]; !sl.running && (!ok || sl.due.Before(next)) {
				next, ok = sl.due, true
			}
		}
	}
	return next, ok
}

// result books a tenant's read: when it is due again, the hooks, the
// round and the first round's progress.
func (s *schedule) result(r TenantResult) {
	now := s.p.o.Now()
	sl := s.byID[r.TenantID]
	if sl == nil {
		return
	}
	sl.running = false
	if !s.inList[r.TenantID] {
		delete(s.byID, r.TenantID) // removed from the list during its read
		return
	}
	if errors.Is(r.Err, errStopped) {
		return
	}
	if r.Err == nil {
		sl.failures = 0
		r.Again = s.interval
	} else {
		sl.failures++
		r.Again = s.p.retryDelay(sl.failures, s.interval, r.Err)
	}
	sl.due = now.Add(r.Again)
	if s.h.Result != nil {
		s.h.Result(r)
	}
	if s.first != nil && !s.firstSeen[r.TenantID] {
		s.firstSeen[r.TenantID] = true
		s.first.add(r)
	}
	s.round[r.TenantID] = r
	s.endRound(now)
}

// endRound tells the round when every tenant of the list has been read
// since it started.
func (s *schedule) endRound(now time.Time) {
	for _, id := range s.order {
		if _, ok := s.round[id]; !ok {
			return
		}
	}
	rep := Report{Started: s.roundStart, Ended: now, Tenants: make([]TenantResult, 0, len(s.order))}
	for _, id := range s.order {
		rep.Tenants = append(rep.Tenants, s.round[id])
	}
	s.round, s.roundStart = map[string]TenantResult{}, now
	if s.first != nil {
		s.first.finish() // the first round's progress ends with it
		s.first = nil
	}
	if s.h.Round != nil {
		s.h.Round(rep)
	}
}

// list takes a tenant list read: new tenants are due at once, removed
// ones leave the schedule. It returns true when Run is to stop.
func (s *schedule) list(l listResult) bool {
	now := s.p.o.Now()
	if l.err != nil {
		// No list is known (refreshTenants keeps the known one otherwise).
		s.listFailures++
		s.nextRefresh = now.Add(s.p.retryDelay(s.listFailures, s.interval, l.err))
		s.p.o.Logger.Error("tenant list failed; trying again", "error", l.err, "retry_in", s.nextRefresh.Sub(now).Round(time.Millisecond))
		return s.h.ListFailed != nil && s.h.ListFailed(l.err)
	}
	s.listFailures = 0
	s.p.mu.Lock()
	s.nextRefresh = s.p.refreshedAt.Add(s.p.o.TenantRefresh)
	s.p.mu.Unlock()
	keep := make(map[string]*slot, len(l.ts))
	s.order = s.order[:0]
	s.inList = make(map[string]bool, len(l.ts))
	for _, t := range l.ts {
		sl := s.byID[t.ID]
		if sl == nil {
			sl = &slot{}
		}
		sl.t = t
		keep[t.ID] = sl
		s.order = append(s.order, t.ID)
		s.inList[t.ID] = true
	}
	for id, sl := range s.byID {
		if keep[id] == nil && sl.running {
			keep[id] = sl // removed during its read: dropped when it ends
		}
	}
	s.byID = keep
	if s.h.Tenants != nil {
		s.h.Tenants(l.ts)
	}
	if !s.listed {
		s.listed = true
		s.round = map[string]TenantResult{}
		s.first = newCounter(s.p.o.Progress, len(l.ts))
		s.firstSeen = map[string]bool{}
	} else if s.first != nil {
		s.first.setTotal(len(l.ts))
	}
	for id := range s.round {
		if !s.inList[id] {
			delete(s.round, id)
		}
	}
	s.endRound(now)
	return false
}

// retryDelay is how long after its n-th failure in a row a tenant (or
// the tenant list) is tried again: exponential backoff with full jitter
// from interval (package backoff), never sooner than interval nor later
// than backoffCap; a rate limit's Retry-After is waited for within the
// same cap.
func (p *Poller) retryDelay(n int, interval time.Duration, err error) time.Duration {
	ceil := p.backoffCap(interval)
	d := max(interval, backoff.Delay(n, interval, ceil, rand.Float64()))
	var rl *central.RateLimitedError
	if errors.As(err, &rl) {
		d = max(d, rl.RetryAfter)
	}
	return min(d, ceil)
}

// backoffCap is the longest a failing tenant waits between two reads: 4
// intervals, but no more than half the lag alarm (so that backoff alone
// never makes it lag), and never less than an interval.
func (p *Poller) backoffCap(interval time.Duration) time.Duration {
	return max(interval, min(4*interval, p.o.LagAlarm/2))
}

// readOne reads one tenant for Run: its state, its feed, then its lag.
func (p *Poller) readOne(stop, work context.Context, t central.Tenant) TenantResult {
	st, err := p.tenantState(work, t.ID)
	if err != nil {
		r := TenantResult{TenantID: t.ID, TenantName: t.DisplayName(), Err: err}
		p.o.Observer.read(r)
		return r
	}
	r := p.readTenant(stop, work, t, st)
	if after, err := p.tenantState(work, t.ID); err == nil {
		p.setLag(work, &r, after, p.o.Now())
	} else {
		p.o.Logger.Error("lag check", "tenant_id", t.ID, "tenant", r.TenantName, "error", err)
	}
	return r
}

// tenantState is the stored state of a tenant (the zero state with its
// id when it has none).
func (p *Poller) tenantState(ctx context.Context, id string) (store.Tenant, error) {
	st, err := p.o.Store.Tenant(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Tenant{ID: id}, nil
	}
	if err != nil {
		return store.Tenant{}, fmt.Errorf("poll: read tenant state: %w", err)
	}
	return st, nil
}
