// Package web serves puawatch's operational endpoints on config's listen
// address: /healthz (the process is up), /readyz (the store answers, the
// tenant list was read, every tenant has been read and none failed its
// latest read, and no receiver has dead, failing or overdue
// notifications) and /metrics (the handler given, package metrics). Each
// tenant is read on its own schedule: Status keeps the latest result of
// each.
package web

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/puawatch/puawatch/internal/plaintext"
	"github.com/puawatch/puawatch/internal/poll"
	"github.com/puawatch/puawatch/internal/store"
)

// Status keeps what the daemon reports about itself: the latest result
// of each tenant (each read on its own schedule, its lag computed after
// that read), the rounds (every tenant read once) and whether the tenant
// list could be read.
type Status struct {
	mu      sync.Mutex
	rounds  int64
	tenants map[string]poll.TenantResult // tenant id -> its latest result
	listErr error                        // no tenant list could be read
	started time.Time
}

// NewStatus starts the status of a daemon started at now.
func NewStatus(now time.Time) *Status {
	return &Status{started: now, tenants: map[string]poll.TenantResult{}}
}

// Sweep records a sweep's report (err: the sweep could not run, no
// tenant list): its results replace every tenant's, and it counts as a
// round.
func (s *Status) Sweep(rep poll.Report, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rounds++
	s.listErr = err
	if err != nil {
		return
	}
	s.tenants = map[string]poll.TenantResult{}
	for _, r := range rep.Tenants {
		s.addLocked(r)
	}
}

// Tenant records a tenant's read: its result replaces the tenant's last.
func (s *Status) Tenant(r poll.TenantResult) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addLocked(r)
}

func (s *Status) addLocked(r poll.TenantResult) {
	s.tenants[r.TenantID] = r
}

// Round records that every tenant has been read once more.
func (s *Status) Round() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rounds++
}

// List records a read of the tenant list: the tenants not in ids are
// dropped. With err, no tenant list could be read (ids is ignored).
func (s *Status) List(ids []string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listErr = err
	if err != nil {
		return
	}
	keep := make(map[string]bool, len(ids))
	for _, id := range ids {
		keep[id] = true
	}
	for id := range s.tenants {
		if !keep[id] {
			delete(s.tenants, id)
		}
	}
}

// snapshot is the status now, the tenants' results by id.
type snapshot struct {
	rounds  int64
	tenants []poll.TenantResult
	listErr error
}

func (s *Status) snapshot() snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := snapshot{rounds: s.rounds, listErr: s.listErr,
		tenants: make([]poll.TenantResult, 0, len(s.tenants))}
	for _, r := range s.tenants {
		out.tenants = append(out.tenants, r)
	}
	sort.Slice(out.tenants, func(i, j int) bool { return out.tenants[i].TenantID < out.tenants[j].TenantID })
	return out
}

// failed counts the tenants whose latest read failed.
func (s snapshot) failed() (failed int) {
	for _, r := range s.tenants {
		if r.Err != nil {
			failed++
		}
	}
	return failed
}

// Pinger is a store that can say it answers.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Handler serves the endpoints from st and status, and metrics (nil:
// none) at /metrics.
func Handler(st store.Store, status *Status, metrics http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		if p, ok := st.(Pinger); ok {
			if err := p.Ping(ctx); err != nil {
				http.Error(w, "store: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		var problems []string
		snap := status.snapshot()
		failed := snap.failed()
		switch {
		case snap.listErr != nil:
			problems = append(problems, "tenant list failed: "+oneLine(snap.listErr.Error()))
		case snap.rounds == 0:
			problems = append(problems, "no sweep yet: not every tenant has been read")
		case failed > 0:
			problems = append(problems, fmt.Sprintf("%d tenant(s) failed in their last read", failed))
		}
		counts, err := st.OutboxCounts(ctx, time.Time{})
		if err != nil {
			problems = append(problems, "outbox: "+oneLine(err.Error()))
		}
		problems = append(problems, undelivered(counts, time.Now())...)
		if len(problems) > 0 {
			http.Error(w, strings.Join(problems, "\n"), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	if metrics != nil {
		mux.Handle("GET /metrics", metrics)
	}
	return mux
}

// OverdueAfter is how long a pending notification may stay due and
// unsent before /readyz calls it overdue: the dispatcher
// is not getting to it (a stuck instance holds it, or the backlog is
// long).
const OverdueAfter = 15 * time.Minute

// receiverRows is what the outbox holds for one receiver.
type receiverRows struct {
	name                      string
	rows                      map[string]int // by state
	retrying                  int            // pending after a failed attempt
	overdue                   bool           // pending rows due since before OverdueAfter
	firstDue                  time.Time      // of its pending rows
	deadReason, pendingReason string
}

// byReceiver folds the counts by receiver, in receiver order.
func byReceiver(counts []store.OutboxCount, now time.Time) []receiverRows {
	var out []receiverRows
	for _, c := range counts { // ordered by channel, then state
		if len(out) == 0 || out[len(out)-1].name != c.Channel {
			out = append(out, receiverRows{name: c.Channel, rows: map[string]int{}})
		}
		r := &out[len(out)-1]
		r.rows[c.State] = c.Rows
		switch c.State {
		case store.StateDead:
			r.deadReason = c.LastError
		case store.StatePending:
			r.retrying, r.pendingReason, r.firstDue = c.Failed, c.LastError, c.FirstDue
			r.overdue = !c.FirstDue.IsZero() && c.FirstDue.Before(now.Add(-OverdueAfter))
		}
	}
	return out
}

// undelivered names, per receiver, its dead rows, its rows unsent after
// a failed attempt and its overdue rows, with the latest reason.
func undelivered(counts []store.OutboxCount, now time.Time) []string {
	var out []string
	for _, r := range byReceiver(counts, now) {
		name := oneLine(plaintext.Clean(r.name))
		if n := r.rows[store.StateDead]; n > 0 {
			out = append(out, fmt.Sprintf("receiver %s: %d notification(s) dead: %s (puawatch outbox retry --receiver %s)", name, n, reason(r.deadReason), name))
		}
		if r.retrying > 0 {
			out = append(out, fmt.Sprintf("receiver %s: %d notification(s) unsent after a failed attempt: %s", name, r.retrying, reason(r.pendingReason)))
		}
		if r.overdue {
			out = append(out, fmt.Sprintf("receiver %s: %d notification(s) overdue (due since %s)", name, r.rows[store.StatePending], r.firstDue.UTC().Format(time.RFC3339)))
		}
	}
	return out
}

func reason(s string) string {
	if s = oneLine(plaintext.Clean(s)); s == "" {
		return "no reason stored"
	}
	if r := []rune(s); len(r) > 300 {
		s = string(r[:299]) + "…"
	}
	return s
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
