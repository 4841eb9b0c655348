package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/puawatch/puawatch/internal/app"
	"github.com/puawatch/puawatch/internal/fake/sim"
	"github.com/puawatch/puawatch/internal/plaintext"
	"github.com/puawatch/puawatch/internal/store"
	"github.com/puawatch/puawatch/internal/store/sqlstore"
)

// TestMetricsAfterARun runs the daemon against the simulator, one of its
// tenants refused (403), with a real SMTP receiver and a JSONL receiver,
// until every detection is sent; then it scrapes /metrics over HTTP and
// checks the figures against what happened: the detections stored per
// tenant are the simulator's, the messages sent per receiver are those
// the SMTP server and the JSONL file got, the refused tenant's reads
// failed under its id and name, and the outbox rows by receiver and state
// are the store's counts.
func TestMetricsAfterARun(t *testing.T) {
	cfg := sim.DefaultConfig()
	cfg.Seed = 31
	cfg.Tenants = 3
	cfg.EventsPerTenant = 80
	r := newRig(t, cfg)
	refused := r.sim.Tenants()[1]
	if err := r.sim.SetFaults(sim.Faults{ForbiddenTenants: []string{refused.ID}}); err != nil {
		t.Fatal(err)
	}
	jsonlPath := filepath.Join(r.dir, "detections.jsonl")
	addr := freeAddr(t)
	r.env["PUAWATCH_JSONL"] = jsonlPath
	r.env["PUAWATCH_INTERVAL"] = "1s"
	r.env["PUAWATCH_LISTEN"] = addr
	want := r.expected(t, map[string]bool{refused.ID: true})
	if len(want) == 0 {
		t.Fatal("the simulator holds no detection for the tenants read")
	}

	a, err := app.New(context.Background(), r.config(t), app.Deps{Stdout: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		stop()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("run: %v", err)
		}
	}()

	// Wait (within a minute) until every detection is stored and sent to
	// both receivers, and the refused tenant has failed a read.
	url := "http://" + addr + "/metrics"
	failedPolls := fmt.Sprintf(`puawatch_tenant_polls_total{outcome="failed",tenant_id=%q,tenant_name=%q}`, refused.ID, plaintext.Clean(refused.Name))
	var got map[string]float64
	for deadline := time.Now().Add(time.Minute); ; {
		var err error
		got, err = scrape(url)
		if err == nil && sumOf(got, "puawatch_detections_stored_total") == float64(len(want)) && got[failedPolls] > 0 &&
			got[`puawatch_outbox_rows{receiver="email",state="sent"}`] == float64(len(want)) &&
			got[`puawatch_outbox_rows{receiver="jsonl",state="sent"}`] == float64(len(want)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a minute: %d detections expected; scrape error %v; metrics:\n%s", len(want), err, dump(got))
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The figures are settled (the simulator makes no new events): one
	// scrape is compared with everything else.
	got, err = scrape(url)
	if err != nil {
		t.Fatal(err)
	}

	// Detections stored, per tenant: the simulator's.
	perTenant := map[string]int{}
	for _, tid := range want {
		perTenant[tid]++
	}
	for _, ti := range r.sim.Tenants() {
		k := fmt.Sprintf(`puawatch_detections_stored_total{tenant_id=%q,tenant_name=%q}`, ti.ID, plaintext.Clean(ti.Name))
		if ti.ID == refused.ID {
			if got[k] != 0 {
				t.Errorf("%s = %v, want 0: the tenant is refused", k, got[k])
			}
			continue
		}
		if got[k] != float64(perTenant[ti.ID]) {
			t.Errorf("%s = %v, the simulator holds %d detections of the tenant", k, got[k], perTenant[ti.ID])
		}
		evs, err := r.sim.Events(ti.ID)
		if err != nil {
			t.Fatal(err)
		}
		ek := fmt.Sprintf(`puawatch_tenant_events_read_total{tenant_id=%q,tenant_name=%q}`, ti.ID, plaintext.Clean(ti.Name))
		if got[ek] < float64(len(evs)) {
			t.Errorf("%s = %v, fewer than the tenant's %d events", ek, got[ek], len(evs))
		}
		if ok := fmt.Sprintf(`puawatch_tenant_polls_total{outcome="ok",tenant_id=%q,tenant_name=%q}`, ti.ID, plaintext.Clean(ti.Name)); got[ok] < 1 {
			t.Errorf("%s = %v, want a good read at least", ok, got[ok])
		}
	}

	// The refused tenant: reads and pages failed, none good, its id and
	// name on the series; the 403s counted by endpoint.
	if got[failedPolls] < 1 {
		t.Errorf("%s = %v, want at least 1", failedPolls, got[failedPolls])
	}
	if k := fmt.Sprintf(`puawatch_tenant_pages_total{outcome="failed",tenant_id=%q,tenant_name=%q}`, refused.ID, plaintext.Clean(refused.Name)); got[k] < 1 {
		t.Errorf("%s = %v, want at least 1", k, got[k])
	}
	if k := fmt.Sprintf(`puawatch_tenant_polls_total{outcome="ok",tenant_id=%q,tenant_name=%q}`, refused.ID, plaintext.Clean(refused.Name)); got[k] != 0 {
		t.Errorf("%s = %v, want 0: every read of the tenant is refused", k, got[k])
	}
	if k := `puawatch_central_requests_total{code="403",endpoint="events"}`; got[k] < got[failedPolls] {
		t.Errorf("%s = %v, fewer than the refused tenant's failed reads (%v)", k, got[k], got[failedPolls])
	}
	if got[`puawatch_central_token_renewals_total{outcome="ok"}`] < 1 || got[`puawatch_central_requests_total{code="200",endpoint="whoami"}`] < 1 {
		t.Errorf("no token or whoami counted:\n%s", dump(got))
	}

	// Messages sent per receiver: those the SMTP server and the JSONL file
	// got (the alarm mails are not notifications).
	mails := 0
	for _, m := range r.smtp.Messages() {
		if !strings.HasPrefix(m.Subject, "[puawatch] ALARM:") {
			mails++
		}
	}
	if k := `puawatch_notifications_sent_total{receiver="email"}`; got[k] != float64(mails) || mails == 0 {
		t.Errorf("%s = %v, the SMTP server took %d notification mails", k, got[k], mails)
	}
	if k, n := `puawatch_notifications_sent_total{receiver="jsonl"}`, len(jsonlDeliveries(t, jsonlPath)); got[k] != float64(n) || n == 0 {
		t.Errorf("%s = %v, the JSONL file holds %d messages", k, got[k], n)
	}
	for _, rcv := range []string{"email", "jsonl"} {
		if k := fmt.Sprintf(`puawatch_notifications_failed_total{receiver=%q}`, rcv); got[k] != 0 {
			t.Errorf("%s = %v, want 0", k, got[k])
		}
		if k := fmt.Sprintf(`puawatch_notification_send_duration_seconds_count{receiver=%q}`, rcv); got[k] != got[fmt.Sprintf(`puawatch_notifications_sent_total{receiver=%q}`, rcv)] {
			t.Errorf("%s = %v, want one observation per message sent", k, got[k])
		}
	}

	// Outbox rows by receiver and state: the store's counts.
	st, err := sqlstore.Open(context.Background(), r.db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	counts, err := st.OutboxCounts(context.Background(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]int{}
	for _, c := range counts {
		stored[fmt.Sprintf(`puawatch_outbox_rows{receiver=%q,state=%q}`, c.Channel, c.State)] = c.Rows
	}
	for _, rcv := range []string{"email", "jsonl"} {
		for _, state := range []string{store.StatePending, store.StateSent, store.StateDead} {
			k := fmt.Sprintf(`puawatch_outbox_rows{receiver=%q,state=%q}`, rcv, state)
			if v, ok := got[k]; !ok || v != float64(stored[k]) {
				t.Errorf("%s = %v (present %v), the store counts %d", k, v, ok, stored[k])
			}
		}
	}
	for k := range got {
		if strings.HasPrefix(k, "puawatch_outbox_rows{") {
			if _, ok := stored[k]; !ok && got[k] != 0 {
				t.Errorf("%s = %v, the store has no such rows", k, got[k])
			}
		}
	}

	// The lag of each tenant is served under its id and name.
	for _, ti := range r.sim.Tenants() {
		if k := fmt.Sprintf(`puawatch_tenant_lag_seconds{tenant_id=%q,tenant_name=%q}`, ti.ID, plaintext.Clean(ti.Name)); !has(got, k) {
			t.Errorf("%s missing:\n%s", k, dump(got))
		}
	}
	if !has(got, "go_goroutines") || !has(got, "process_cpu_seconds_total") {
		t.Errorf("the Go and process collectors are missing:\n%s", dump(got))
	}
}

// freeAddr is a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// scrape reads url's Prometheus text as name{label="value",...} -> value,
// labels sorted by name, values quoted as Go does (%q); a histogram gives
// its _count and _sum.
func scrape(url string) (map[string]float64, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("GET %s: %s: %s", url, resp.Status, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("parse /metrics: %w", err)
	}
	out := map[string]float64{}
	for name, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			sort.Strings(ls)
			labels := ""
			if len(ls) > 0 {
				labels = "{" + strings.Join(ls, ",") + "}"
			}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				out[name+labels] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[name+labels] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				out[name+"_count"+labels] = float64(m.GetHistogram().GetSampleCount())
				out[name+"_sum"+labels] = m.GetHistogram().GetSampleSum()
			default:
				out[name+labels] = m.GetUntyped().GetValue()
			}
		}
	}
	return out, nil
}

// sumOf adds up the series of one metric.
func sumOf(got map[string]float64, name string) float64 {
	var s float64
	for k, v := range got {
		if k == name || strings.HasPrefix(k, name+"{") {
			s += v
		}
	}
	return s
}

func has(got map[string]float64, k string) bool { _, ok := got[k]; return ok }

// dump lists the puawatch series, sorted, for a failure message.
func dump(got map[string]float64) string {
	var ls []string
	for k, v := range got {
		if strings.HasPrefix(k, "puawatch_") {
			ls = append(ls, fmt.Sprintf("%s %v", k, v))
		}
	}
	sort.Strings(ls)
	return strings.Join(ls, "\n")
}
