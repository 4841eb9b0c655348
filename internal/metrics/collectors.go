package metrics

import (
	"context"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/puawatch/puawatch/internal/plaintext"
	"github.com/puawatch/puawatch/internal/poll"
	"github.com/puawatch/puawatch/internal/store"
)

// outboxCollector reports the outbox by receiver on each scrape, from one
// store.OutboxCounts (a COUNT ... GROUP BY; no row is loaded): the rows in
// each state, the pending rows whose last attempt failed, and when the
// earliest pending row was or is due.
type outboxCollector struct {
	st        Store
	timeout   time.Duration
	receivers []string
	rows      *prometheus.Desc
	retrying  *prometheus.Desc
	due       *prometheus.Desc
}

// outboxStates are the states reported for every receiver, 0 when it
// has no row in one.
var outboxStates = []string{store.StatePending, store.StateSent, store.StateDead}

// newOutboxCollector reads st's outbox counts within timeout on each
// scrape. receivers (the configured ones) are reported with 0 rows when
// the outbox holds none of theirs.
func newOutboxCollector(st Store, timeout time.Duration, receivers []string) *outboxCollector {
	return &outboxCollector{
		st: st, timeout: timeout, receivers: receivers,
		rows: prometheus.NewDesc("puawatch_outbox_rows",
			"Outbox rows (a detection for a receiver) by receiver and state: pending (to be sent), sent, dead (given up; puawatch outbox retry sends them again).",
			[]string{"receiver", "state"}, nil),
		retrying: prometheus.NewDesc("puawatch_outbox_retrying_rows",
			"Pending outbox rows whose last attempt failed, waiting for a retry, by receiver.", []string{"receiver"}, nil),
		due: prometheus.NewDesc("puawatch_outbox_next_due_timestamp_seconds",
			"When the pending row of a receiver due first is or was due (Unix time); long past: the dispatcher is not getting to it.",
			[]string{"receiver"}, nil),
	}
}

// Describe sends the descriptions of the outbox metrics.
func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.rows
	ch <- c.retrying
	ch <- c.due
}

// Collect counts the outbox; a store that fails or does not answer in
// time fails the outbox metrics alone.
func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	counts, err := c.st.OutboxCounts(ctx, time.Time{})
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.rows, err)
		return
	}
	type tally struct {
		rows     map[string]int
		retrying int
		due      time.Time
	}
	by := map[string]*tally{}
	get := func(name string) *tally {
		name = plaintext.Clean(name)
		if by[name] == nil {
			by[name] = &tally{rows: map[string]int{}}
		}
		return by[name]
	}
	for _, r := range c.receivers {
		get(r)
	}
	for _, oc := range counts {
		t := get(oc.Channel)
		t.rows[oc.State] += oc.Rows
		if oc.State == store.StatePending {
			t.retrying += oc.Failed
			t.due = oc.FirstDue
		}
	}
	names := make([]string, 0, len(by))
	for n := range by {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		t := by[n]
		for _, s := range outboxStates {
			ch <- prometheus.MustNewConstMetric(c.rows, prometheus.GaugeValue, float64(t.rows[s]), n, s)
		}
		ch <- prometheus.MustNewConstMetric(c.retrying, prometheus.GaugeValue, float64(t.retrying), n)
		if t.rows[store.StatePending] > 0 && !t.due.IsZero() {
			ch <- prometheus.MustNewConstMetric(c.due, prometheus.GaugeValue, float64(t.due.UnixMilli())/1000, n)
		}
	}
}

// tenantCollector reports each tenant's lag, cursor age and lost windows
// on each scrape, from the store's tenant states (those still listed and
// selected) and lost windows.
type tenantCollector struct {
	st      Store
	timeout time.Duration
	now     func() time.Time
	lag     *prometheus.Desc
	age     *prometheus.Desc
	lost    *prometheus.Desc
}

func newTenantCollector(st Store, timeout time.Duration, now func() time.Time) *tenantCollector {
	labels := []string{"tenant_id", "tenant_name"}
	return &tenantCollector{
		st: st, timeout: timeout, now: now,
		lag: prometheus.NewDesc("puawatch_tenant_lag_seconds",
			"Time since the tenant was last read to the end of its feed (since it was first seen when never); past 24 hours its events are lost.",
			labels, nil),
		age: prometheus.NewDesc("puawatch_tenant_cursor_age_seconds",
			"Age of the position of the tenant's stored SIEM cursor; the API keeps events for 24 hours (86400 s).", labels, nil),
		lost: prometheus.NewDesc("puawatch_tenant_lost_windows",
			"Windows of the tenant's events that may be lost (the API dropped them before they were read), as stored.", labels, nil),
	}
}

func (c *tenantCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.lag
	ch <- c.age
	ch <- c.lost
}

func (c *tenantCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	ts, err := c.st.Tenants(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.lag, err)
		return
	}
	now := c.now()
	for _, t := range ts {
		if t.Removed {
			continue
		}
		id, name := plaintext.Clean(t.ID), plaintext.Clean(t.Name)
		if lag, ok := poll.Lag(t, now); ok {
			ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, lag.Seconds(), id, name)
		}
		if age, ok := poll.CursorAge(t, now); ok {
			ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, age.Seconds(), id, name)
		}
	}
	ws, err := c.st.LostWindows(ctx, "")
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.lost, err)
		return
	}
	lost := map[string]int{}
	for _, w := range ws {
		lost[w.TenantID]++
	}
	for _, t := range ts {
		if !t.Removed {
			ch <- prometheus.MustNewConstMetric(c.lost, prometheus.GaugeValue, float64(lost[t.ID]), plaintext.Clean(t.ID), plaintext.Clean(t.Name))
		}
	}
}
