// Package web serves puawatch's operational endpoints on config's listen
// address: /healthz (the process is up), /readyz (the store answers, the
// last sweep read every tenant, and no receiver has dead, failing or
// overdue notifications) and /metrics (Prometheus text format: sweeps,
// detections, failing and lagging tenants, outbox rows by receiver and
// state, each tenant's lag).
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

// Status keeps what the daemon reports about itself.
type Status struct {
	mu         sync.Mutex
	sweeps     int64
	detections int64
	last       poll.Report
	lastErr    error
	started    time.Time
}

// NewStatus starts the status of a daemon started at now.
func NewStatus(now time.Time) *Status { return &Status{started: now} }

// Sweep records a sweep's report (err: the sweep could not run).
func (s *Status) Sweep(rep poll.Report, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweeps++
	_, _, fresh := rep.Totals()
	s.detections += int64(fresh)
	s.last, s.lastErr = rep, err
}

func (s *Status) snapshot() (int64, int64, poll.Report, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sweeps, s.detections, s.last, s.lastErr
}

// Pinger is a store that can say it answers.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Handler serves the endpoints from st and status.
func Handler(st store.Store, status *Status) http.Handler {
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
		sweeps, _, rep, err := status.snapshot()
		switch {
		case sweeps == 0:
			problems = append(problems, "no sweep yet")
		case err != nil:
			problems = append(problems, "last sweep failed: "+oneLine(err.Error()))
		case len(rep.Failed()) > 0:
			problems = append(problems, fmt.Sprintf("%d tenant(s) failed in the last sweep", len(rep.Failed())))
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
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		sweeps, dets, rep, err := status.snapshot()
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		var b strings.Builder
		metric := func(name, help, typ string, v float64) {
			fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n%s %g\n", name, help, name, typ, name, v)
		}
		metric("puawatch_sweeps_total", "Sweeps over every tenant since start.", "counter", float64(sweeps))
		metric("puawatch_detections_total", "Detections stored for the first time since start.", "counter", float64(dets))
		metric("puawatch_last_sweep_failed", "1 when the last sweep could not run (no tenant list).", "gauge", b2f(err != nil))
		metric("puawatch_tenants", "Tenants read in the last sweep.", "gauge", float64(len(rep.Tenants)))
		metric("puawatch_tenants_failed", "Tenants that could not be read in the last sweep.", "gauge", float64(len(rep.Failed())))
		metric("puawatch_tenants_lagging", "Tenants not read to the end for longer than the lag alarm.", "gauge", float64(len(rep.Lagging())))
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		if counts, err := st.OutboxCounts(ctx, time.Time{}); err == nil {
			writeOutboxMetrics(&b, counts, time.Now())
		}
		ts := append([]poll.TenantResult(nil), rep.Tenants...)
		sort.Slice(ts, func(i, j int) bool { return ts[i].TenantID < ts[j].TenantID })
		fmt.Fprintf(&b, "# HELP puawatch_tenant_lag_seconds Time since the tenant was last read to the end.\n# TYPE puawatch_tenant_lag_seconds gauge\n")
		for _, t := range ts {
			fmt.Fprintf(&b, "puawatch_tenant_lag_seconds{tenant_id=%s} %g\n", label(t.TenantID), t.Lag.Seconds())
		}
		_, _ = w.Write([]byte(b.String()))
	})
	return mux
}

// OverdueAfter is how long a pending notification may stay due and
// unsent before /readyz and the metrics call it overdue: the dispatcher
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

// writeOutboxMetrics writes the outbox gauges: rows by receiver and
// state, and per receiver the rows waiting for a retry and whether rows
// are overdue.
func writeOutboxMetrics(b *strings.Builder, counts []store.OutboxCount, now time.Time) {
	rs := byReceiver(counts, now)
	fmt.Fprintf(b, "# HELP puawatch_outbox_rows Notifications by receiver and state: pending (waiting), sent, dead (given up).\n# TYPE puawatch_outbox_rows gauge\n")
	for _, r := range rs {
		for _, state := range []string{store.StatePending, store.StateSent, store.StateDead} {
			fmt.Fprintf(b, "puawatch_outbox_rows{receiver=%s,state=%q} %d\n", label(r.name), state, r.rows[state])
		}
	}
	fmt.Fprintf(b, "# HELP puawatch_outbox_retrying_rows Pending notifications whose last attempt failed, by receiver.\n# TYPE puawatch_outbox_retrying_rows gauge\n")
	for _, r := range rs {
		fmt.Fprintf(b, "puawatch_outbox_retrying_rows{receiver=%s} %d\n", label(r.name), r.retrying)
	}
	fmt.Fprintf(b, "# HELP puawatch_outbox_overdue_rows Pending notifications of a receiver whose oldest has been due for longer than %s (all of its pending rows; 0 when none is overdue).\n# TYPE puawatch_outbox_overdue_rows gauge\n", OverdueAfter)
	for _, r := range rs {
		n := 0
		if r.overdue {
			n = r.rows[store.StatePending]
		}
		fmt.Fprintf(b, "puawatch_outbox_overdue_rows{receiver=%s} %d\n", label(r.name), n)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// label quotes a Prometheus label value (backslash, quote and newline
// escaped).
func label(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
