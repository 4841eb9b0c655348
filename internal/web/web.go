// Package web serves puawatch's operational endpoints on config's listen
// address: /healthz (the process is up), /readyz (the store answers and
// the last sweep read every tenant) and /metrics (Prometheus text format:
// sweeps, detections, failing and lagging tenants, outbox rows by state,
// each tenant's lag).
package web

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

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
		sweeps, _, rep, err := status.snapshot()
		switch {
		case sweeps == 0:
			http.Error(w, "no sweep yet", http.StatusServiceUnavailable)
		case err != nil:
			http.Error(w, "last sweep failed: "+oneLine(err.Error()), http.StatusServiceUnavailable)
		case len(rep.Failed()) > 0:
			http.Error(w, fmt.Sprintf("%d tenant(s) failed in the last sweep", len(rep.Failed())), http.StatusServiceUnavailable)
		default:
			fmt.Fprintln(w, "ready")
		}
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
		if items, err := st.Outbox(ctx, store.OutboxFilter{States: []string{store.StatePending, store.StateDead}}); err == nil {
			counts := map[string]int{store.StatePending: 0, store.StateDead: 0}
			for _, it := range items {
				counts[it.State]++
			}
			fmt.Fprintf(&b, "# HELP puawatch_outbox_rows Notifications waiting (pending) or given up (dead).\n# TYPE puawatch_outbox_rows gauge\n")
			for _, state := range []string{store.StatePending, store.StateDead} {
				fmt.Fprintf(&b, "puawatch_outbox_rows{state=%q} %d\n", state, counts[state])
			}
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
