// Package metrics is puawatch's Prometheus instrumentation: the
// instruments of the Sophos Central client, the poller and the
// notification dispatcher (handed to them as the Observer of their
// Options), and collectors that read the store on each scrape (outbox rows
// by receiver and state from one COUNT ... GROUP BY, each tenant's lag,
// cursor age and lost windows). Nothing here is global: the app makes a
// registry (NewRegistry, with the Go and process collectors), registers
// the instruments on it with New and the store's collectors with
// CollectStore, and serves it with Handler.
//
// Names follow Prometheus's conventions (checked by promlint in a test):
// the puawatch_ prefix, base units in the name (seconds), _total for
// counters. Label values that come from the API (tenant ids and names)
// are made plain text first (package plaintext).
package metrics

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/puawatch/puawatch/internal/central"
	"github.com/puawatch/puawatch/internal/notify"
	"github.com/puawatch/puawatch/internal/plaintext"
	"github.com/puawatch/puawatch/internal/poll"
	"github.com/puawatch/puawatch/internal/store"
)

// DefaultTimeout is Options.Timeout's default.
const DefaultTimeout = 3 * time.Second

// Outcome label values.
const (
	OK     = "ok"
	Failed = "failed"
)

// Store is what the scrape-time collectors read; store.Store is one.
type Store interface {
	OutboxCounts(ctx context.Context, since time.Time) ([]store.OutboxCount, error)
	Tenants(ctx context.Context) ([]store.Tenant, error)
	LostWindows(ctx context.Context, tenantID string) ([]store.LostWindow, error)
}

// Options configure New.
type Options struct {
	// Timeout bounds each scrape's store queries (CollectStore). Default 3s. A query
	// that fails or times out fails its metrics alone: the handler
	// serves the rest and logs the error.
	Timeout time.Duration
	// Now is the clock lag and cursor age are measured on. Nil: time.Now.
	Now func() time.Time
	// Receivers are the configured receivers' names: their series start
	// at 0 rather than appearing with their first message.
	Receivers []string
}

// Metrics are the instruments. Central, Poll and Notify hand them to the
// parts as Observers.
type Metrics struct {
	reg                  prometheus.Registerer
	o                    Options
	polls, pages         *prometheus.CounterVec // tenant_id, tenant_name, outcome
	events, detections   *prometheus.CounterVec // tenant_id, tenant_name
	requests             *prometheus.CounterVec // endpoint, code
	requestSeconds       *prometheus.HistogramVec
	rateLimited, retries *prometheus.CounterVec // endpoint
	tokens               *prometheus.CounterVec // outcome
	sent, failed, dead   *prometheus.CounterVec // receiver
	sendSeconds          *prometheus.HistogramVec
}

// buckets are the latency buckets, in seconds, of API requests and
// sends: from a fast local answer to the 30-second default timeouts.
var buckets = []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// endpoints are the Sophos Central endpoints the client calls (the
// endpoint label).
var endpoints = []string{"token", "whoami", "tenants", "events"}

// New registers the instruments on reg and returns them. CollectStore
// adds the metrics read from the store.
func New(reg prometheus.Registerer, o Options) (*Metrics, error) {
	if reg == nil {
		return nil, errors.New("metrics: no registerer")
	}
	o.Timeout = cmp.Or(o.Timeout, DefaultTimeout)
	if o.Now == nil {
		o.Now = time.Now
	}
	tenant := []string{"tenant_id", "tenant_name"}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "puawatch", Name: name, Help: help}, labels)
	}
	histogram := func(name, help string, labels ...string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "puawatch", Name: name, Help: help, Buckets: buckets}, labels)
	}
	m := &Metrics{
		reg: reg, o: o,
		polls: counter("tenant_polls_total", "Tenant reads (the feed followed to its end, or until a failure), by tenant and outcome (ok, failed).",
			append(tenant, "outcome")...),
		pages: counter("tenant_pages_total", "SIEM event pages asked for, by tenant and outcome (ok: read and stored; failed: the call or storing it failed).",
			append(tenant, "outcome")...),
		events:     counter("tenant_events_read_total", "SIEM events read, by tenant.", tenant...),
		detections: counter("detections_stored_total", "Detections stored for the first time, by tenant.", tenant...),
		requests: counter("central_requests_total", "HTTP requests to Sophos Central, by endpoint (token, whoami, tenants, events) and status code (none: no answer).",
			"endpoint", "code"),
		requestSeconds: histogram("central_request_duration_seconds", "Time of an HTTP request to Sophos Central, reading the answer included, by endpoint.", "endpoint"),
		rateLimited:    counter("central_rate_limited_total", "Answers 429 (rate limited) from Sophos Central, by endpoint.", "endpoint"),
		retries:        counter("central_retries_total", "Calls to Sophos Central tried again (after a 429, a 5xx, a timeout, a network error or a malformed answer), by endpoint.", "endpoint"),
		tokens:         counter("central_token_renewals_total", "Bearer tokens asked for (the first included), by outcome (ok, failed).", "outcome"),
		sent:           counter("notifications_sent_total", "Messages a receiver accepted (a digest is one), by receiver.", "receiver"),
		failed:         counter("notifications_failed_total", "Sends that failed (retried later or given up), by receiver.", "receiver"),
		dead:           counter("outbox_dead_letters_total", "Outbox rows moved to the dead letters (a permanent failure, the attempts used up, the receiver not configured), by receiver.", "receiver"),
		sendSeconds:    histogram("notification_send_duration_seconds", "Time a receiver took to accept or refuse a message, by receiver.", "receiver"),
	}
	if err := register(reg, m.polls, m.pages, m.events, m.detections, m.requests, m.requestSeconds,
		m.rateLimited, m.retries, m.tokens, m.sent, m.failed, m.dead, m.sendSeconds); err != nil {
		return nil, err
	}
	// Series that exist from the start, so that a rate over them is
	// defined before the first event.
	for _, e := range endpoints {
		m.retries.WithLabelValues(e)
		m.rateLimited.WithLabelValues(e)
	}
	for _, oc := range []string{OK, Failed} {
		m.tokens.WithLabelValues(oc)
	}
	for _, r := range o.Receivers {
		r = plaintext.Clean(r)
		m.sent.WithLabelValues(r)
		m.failed.WithLabelValues(r)
		m.dead.WithLabelValues(r)
	}
	return m, nil
}

// CollectStore registers, beside the instruments, the collectors that
// read st on each scrape, within Options.Timeout: the outbox rows by
// receiver and state (one OutboxCounts), and each listed tenant's lag,
// cursor age and lost windows.
func (m *Metrics) CollectStore(st Store) error {
	if st == nil {
		return errors.New("metrics: no store to collect")
	}
	return register(m.reg, newOutboxCollector(st, m.o.Timeout, m.o.Receivers), newTenantCollector(st, m.o.Timeout, m.o.Now))
}

func register(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("metrics: register: %w", err)
		}
	}
	return nil
}

// NewRegistry is a registry with the Go runtime's and the process's
// collectors.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Handler serves g's metrics in the Prometheus formats. A collector that
// fails (the store did not answer) leaves its metrics out and is logged
// to log (nil: not logged); the rest is served.
func Handler(g prometheus.Gatherer, log *slog.Logger) http.Handler {
	opts := promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}
	if log != nil {
		opts.ErrorLog = slogPrinter{log.With("component", "metrics")}
	}
	return promhttp.HandlerFor(g, opts)
}

// slogPrinter is promhttp's Logger on a slog.Logger.
type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Println(v ...any) { p.log.Error("metrics", "error", fmt.Sprint(v...)) }

func outcome(err error) string {
	if err != nil {
		return Failed
	}
	return OK
}

// Central is the central client's Observer.
func (m *Metrics) Central() central.Observer {
	return central.Observer{
		Request: func(endpoint string, status int, d time.Duration) {
			code := "none"
			if status > 0 {
				code = strconv.Itoa(status)
			}
			m.requests.WithLabelValues(endpoint, code).Inc()
			m.requestSeconds.WithLabelValues(endpoint).Observe(d.Seconds())
			if status == http.StatusTooManyRequests {
				m.rateLimited.WithLabelValues(endpoint).Inc()
			}
		},
		Retry: func(endpoint string) { m.retries.WithLabelValues(endpoint).Inc() },
		Token: func(ok bool) {
			oc := Failed
			if ok {
				oc = OK
			}
			m.tokens.WithLabelValues(oc).Inc()
		},
	}
}

// Poll is the poller's Observer.
func (m *Metrics) Poll() poll.Observer {
	return poll.Observer{
		Read: func(r poll.TenantResult) {
			m.polls.WithLabelValues(plaintext.Clean(r.TenantID), plaintext.Clean(r.TenantName), outcome(r.Err)).Inc()
		},
		Page: func(t central.Tenant, events, stored int, err error) {
			id, name := plaintext.Clean(t.ID), plaintext.Clean(t.DisplayName())
			m.pages.WithLabelValues(id, name, outcome(err)).Inc()
			m.events.WithLabelValues(id, name).Add(float64(events))
			m.detections.WithLabelValues(id, name).Add(float64(stored))
		},
	}
}

// Notify is the dispatcher's Observer.
func (m *Metrics) Notify() notify.Observer {
	return notify.Observer{
		Send: func(receiver string, err error, d time.Duration) {
			receiver = plaintext.Clean(receiver)
			if err != nil {
				m.failed.WithLabelValues(receiver).Inc()
			} else {
				m.sent.WithLabelValues(receiver).Inc()
			}
			m.sendSeconds.WithLabelValues(receiver).Observe(d.Seconds())
		},
		Dead: func(receiver string, rows int) { m.dead.WithLabelValues(plaintext.Clean(receiver)).Add(float64(rows)) },
	}
}
