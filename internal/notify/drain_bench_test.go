package notify_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/notify"
	"github.com/puawatch/puawatch/internal/notify/jsonl"
	"github.com/puawatch/puawatch/internal/store"
	"github.com/puawatch/puawatch/internal/store/sqlstore"
)

// benchRaw is a PUA detection as Sophos Central sends it (the fields the
// renderers read: core_remedy_items for the clean-up state).
const benchRaw = `{"id":"%s","severity":"medium","type":"Event::Endpoint::CorePuaDetection",` +
	`"name":"PUA detected: 'PsExec' at 'C:\\tools\\psexec.exe'","location":"HOST-%d","source":"CORP\\alice",` +
	`"endpoint_id":"0b8e4c8d-5f8a-4d7b-9c6e-1a2b3c4d5e6f","endpoint_type":"computer","group":"PUA_DETECTION",` +
	`"created_at":"2025-01-01T00:00:00.000Z","when":"2025-01-01T00:00:00.000Z","customer_id":"c-1",` +
	`"user_id":"5a1b2c3d4e5f60718293a4b5","origin":null,"appSha256":"8b2b5f8c9d1e0a7f6e5d4c3b2a1908f7e6d5c4b3a29180f7e6d5c4b3a2918070",` +
	`"core_remedy_items":{"items":[{"type":"file","result":"SUCCESS","sophosPid":"","descriptor":"C:\\tools\\psexec.exe"}],"totalItems":1},` +
	`"source_info":{"ip":"10.0.0.12"},"threat":"PsExec"}`

// BenchmarkDrainJSONL drains a backlog as run --once does after a sweep:
// a fresh SQLite store holding pending rows of a few tenants (grouped by
// tenant, the default route: digests of at most 100), sent to a JSONL
// file by the dispatcher with the process's logger (JSON, info). It
// reports ns/row and allocs/row of the drain alone (opening and filling
// the store is not timed). Two sizes: a cost per row that grows with the
// backlog is a query that scans the outbox.
func BenchmarkDrainJSONL(b *testing.B) {
	for _, size := range []struct{ tenants, perTenant int }{{2, 500}, {4, 1000}} {
		b.Run(fmt.Sprintf("rows=%d", size.tenants*size.perTenant), func(b *testing.B) {
			benchDrain(b, size.tenants, size.perTenant)
		})
	}
}

func benchDrain(b *testing.B, tenants, perTenant int) {
	rows := tenants * perTenant
	ctx := context.Background()
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	route := func(d store.Detection) []store.Delivery {
		return []store.Delivery{{Channel: "jsonl", GroupKey: "tenant=" + d.TenantID, DigestAbove: 3, MaxPerMessage: 100}}
	}
	logger := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	var (
		allocs uint64
		cpu    time.Duration
		ms     runtime.MemStats
	)
	b.ReportAllocs()
	for i := range b.N {
		b.StopTimer()
		dir := filepath.Join(b.TempDir(), strconv.Itoa(i))
		if err := os.Mkdir(dir, 0o700); err != nil {
			b.Fatal(err)
		}
		st, err := sqlstore.Open(ctx, filepath.Join(dir, "puawatch.db"))
		if err != nil {
			b.Fatal(err)
		}
		out, err := jsonl.New(filepath.Join(dir, "out.jsonl"), nil)
		if err != nil {
			b.Fatal(err)
		}
		d, err := notify.NewDispatcher(notify.Options{
			Store: st, Channels: map[string]notify.Notifier{"jsonl": out}, Owner: "bench",
			Now: func() time.Time { return at.Add(time.Hour) }, Logger: logger,
		})
		if err != nil {
			b.Fatal(err)
		}
		fillOutbox(b, st, route, tenants, perTenant, at)
		runtime.ReadMemStats(&ms)
		before, cpuBefore := ms.Mallocs, cpuTime(b)
		b.StartTimer()
		res, err := d.Drain(ctx)
		b.StopTimer()
		cpu += cpuTime(b) - cpuBefore
		runtime.ReadMemStats(&ms)
		allocs += ms.Mallocs - before
		if err != nil || res.Sent != rows {
			b.Fatalf("Drain = %+v, %v; want %d sent", res, err, rows)
		}
		_ = out.Close()
		_ = st.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
	b.ReportMetric(float64(allocs)/float64(b.N*rows), "allocs/row")
	// CPU time (user and system, every thread) is steadier than wall
	// time on a shared machine.
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*rows), "cpu-ns/row")
}

// cpuTime is the CPU time the process used so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// fillOutbox commits perTenant new detections for each of tenants
// tenants, in pages of 200 as the poller does, each with an outbox row.
func fillOutbox(b *testing.B, st store.Store, route func(store.Detection) []store.Delivery, tenants, perTenant int, at time.Time) {
	b.Helper()
	for t := range tenants {
		tenant := fmt.Sprintf("tenant-%d", t)
		for start := 0; start < perTenant; start += 200 {
			p := store.PageCommit{TenantID: tenant, Cursor: fmt.Sprintf("c-%d", start), Route: route, At: at}
			for i := start; i < min(start+200, perTenant); i++ {
				id := fmt.Sprintf("%04d-%06d", t, i)
				created := at.Add(time.Duration(i) * time.Millisecond)
				p.Detections = append(p.Detections, store.Detection{
					EventID: id, TenantID: tenant, TenantName: "Tenant " + tenant,
					Kind: store.KindDetection, Type: "Event::Endpoint::CorePuaDetection",
					Name: `PUA detected: 'PsExec' at 'C:\tools\psexec.exe'`, Severity: "medium", Threat: "PsExec",
					Location: fmt.Sprintf("HOST-%d", i), User: `CORP\alice`, EndpointID: "0b8e4c8d-5f8a-4d7b-9c6e-1a2b3c4d5e6f",
					EndpointType: "computer", Path: `C:\tools\psexec.exe`, When: created, CreatedAt: created,
					Raw: fmt.Appendf(nil, benchRaw, id, i),
				})
			}
			if _, err := st.CommitPage(context.Background(), p); err != nil {
				b.Fatal(err)
			}
		}
	}
}
