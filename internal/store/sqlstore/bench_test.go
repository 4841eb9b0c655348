package sqlstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/store"
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
