package sqlstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/store"
	"github.com/puawatch/puawatch/internal/store/sqlstore"
	"github.com/puawatch/puawatch/internal/store/storetest"
)

// BenchmarkCommitPage commits pages as the poller does: a page of 200
// events of which 20% (40) are PUA detections, each new, with two
// channels, on a SQLite file.
func BenchmarkCommitPage(b *testing.B) {
	s, _ := openSQLite(b)
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	raw := []byte(`{"id":"00000000-0000-0000-0000-000000000000","severity":"medium","type":"Event::Endpoint::CorePuaDetection","name":"PUA detected: 'PsExec' at 'C:\\tools\\psexec.exe'","location":"HOST-1","source":"CORP\\alice"}`)
	const events, detected = 200, 40
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		p := store.PageCommit{TenantID: "tenant-1", Cursor: fmt.Sprintf("cursor-%d", n), Route: storetest.ToChannels([]string{"email", "slack"}), At: at}
		for i := range detected {
			p.Detections = append(p.Detections, store.Detection{
				EventID: fmt.Sprintf("%08d-%04d", n, i), TenantID: "tenant-1", TenantName: "Tenant One",
				Kind: store.KindDetection, Type: "Event::Endpoint::CorePuaDetection",
				Name: `PUA detected: 'PsExec' at 'C:\tools\psexec.exe'`, Severity: "medium", Threat: "PsExec",
				Location: "HOST-1", User: `CORP\alice`, EndpointID: "ep-1", EndpointType: "computer",
				Path: `C:\tools\psexec.exe`, When: at, CreatedAt: at, Raw: raw,
			})
		}
		fresh, err := s.CommitPage(b.Context(), p)
		if err != nil || len(fresh) != detected {
			b.Fatalf("CommitPage: %d new, %v", len(fresh), err)
		}
		n++
		at = at.Add(time.Second)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*events), "ns/event")
}

// seedDashboard commits n detections spread over the last 8 days of now,
// over 20 tenants, 50 threats and 500 hosts, each with an email and a
// slack row: every 100th row dead, the others sent.
func seedDashboard(b *testing.B, s *sqlstore.Store, n int, now time.Time) {
	b.Helper()
	raw := []byte(`{"id":"00000000-0000-0000-0000-000000000000","severity":"medium","type":"Event::Endpoint::CorePuaDetection"}`)
	const per = 1000
	for p := 0; p*per < n; p++ {
		tid := fmt.Sprintf("tenant-%02d", p%20)
		pc := store.PageCommit{TenantID: tid, Cursor: fmt.Sprintf("c%d", p), Route: storetest.ToChannels([]string{"email", "slack"}), At: now}
		for i := range min(per, n-p*per) {
			k := p*per + i
			at := now.Add(-time.Duration(k%(8*24*60)) * time.Minute)
			pc.Detections = append(pc.Detections, store.Detection{
				EventID: fmt.Sprintf("ev-%08d", k), TenantID: tid, TenantName: "Tenant " + tid,
				Kind: store.KindDetection, Type: "Event::Endpoint::CorePuaDetection",
				Name: "PUA detected", Severity: []string{"low", "medium", "high"}[k%3], Threat: fmt.Sprintf("Threat-%02d", k%50),
				Location: fmt.Sprintf("HOST-%03d", k%500), User: fmt.Sprintf(`CORP\user%03d`, k%300), EndpointID: fmt.Sprintf("ep-%03d", k%500),
				Path: `C:\tools\x.exe`, When: at, CreatedAt: at, Raw: raw,
			})
		}
		if _, err := s.CommitPage(b.Context(), pc); err != nil {
			b.Fatal(err)
		}
	}
	items, err := s.ClaimOutbox(b.Context(), store.Claim{Owner: "bench", Now: now, Lease: time.Hour, Limit: 2 * n})
	if err != nil {
		b.Fatal(err)
	}
	var dead, sent []int64
	for i, it := range items {
		if i%100 == 0 {
			dead = append(dead, it.ID)
		} else {
			sent = append(sent, it.ID)
		}
	}
	if err := s.MarkDead(b.Context(), "bench", dead, "550", now); err != nil {
		b.Fatal(err)
	}
	if err := s.MarkSent(b.Context(), "bench", sent, now); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkDashboard runs the dashboard's queries on 20,000 detections
// (40,000 outbox rows and attempts) in each dialect.
func BenchmarkDashboard(b *testing.B) {
	now := time.Date(2025, 6, 3, 14, 37, 0, 0, time.UTC)
	for _, d := range dialects {
		b.Run(d.name, func(b *testing.B) {
			s, _ := d.open(b)
			seedDashboard(b, s, 20_000, now)
			no := false
			for _, q := range []struct {
				name string
				q    store.DetectionQuery
			}{
				{"FirstPage", store.DetectionQuery{Sort: "created_at", Desc: true, Limit: 50}},
				{"Page100", store.DetectionQuery{Sort: "threat", Offset: 5000, Limit: 50}},
				{"Search", store.DetectionQuery{Search: "host-42", Limit: 50}},
				{"DeadUnacked", store.DetectionQuery{Delivery: store.DeliveryDead, Acked: &no, Limit: 50}},
				{"TenantWeek", store.DetectionQuery{Tenant: "tenant-07", Since: now.Add(-7 * 24 * time.Hour), Limit: 50}},
			} {
				b.Run("Query"+q.name, func(b *testing.B) {
					for b.Loop() {
						if _, err := s.QueryDetections(b.Context(), q.q); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
			b.Run("Overview", func(b *testing.B) {
				for b.Loop() {
					if _, err := s.Overview(b.Context(), now); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
