package sim

import (
	"io"
	"net/http"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// benchConfig is the size the simulator must carry without being the
// bottleneck of a benchmark: 1,000 tenants with 10,000 events each.
func benchConfig() Config {
	cfg := DefaultConfig()
	cfg.Tenants = 1000
	cfg.EventsPerTenant = 10000
	cfg.Regions = []string{"eu01", "eu02", "us01", "us03"}
	return cfg
}

// BenchmarkStartup measures New for 1,000 tenants x 10,000 events: every
// backlog event is materialised in memory (target: under 2 s).
func BenchmarkStartup(b *testing.B) {
	cfg := benchConfig()
	var s *Simulator
	for b.Loop() {
		s = New(cfg)
		if len(s.Tenants()) != 1000 {
			b.Fatal("wrong tenant count")
		}
	}
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "MiB-heap")
	runtime.KeepAlive(s)
}

// BenchmarkPages measures SIEM pages served over loopback HTTP by the
// 1,000 x 10,000 simulator, clients reading every tenant's feed from the
// start with the default limit of 200 (target: at least 5,000 pages/s on
// 2 cores). The clients run in the same process and share the cores.
func BenchmarkPages(b *testing.B) {
	for _, limit := range []string{"200", "1000"} {
		b.Run("limit="+limit, func(b *testing.B) { benchPages(b, limit) })
	}
}

func benchPages(b *testing.B, limit string) {
	s, _ := startSim(b, benchConfig())
	tok := fetchToken(b, s, "partner")
	tenants := s.Tenants()
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	b.Cleanup(tr.CloseIdleConnections)
	var next atomic.Int64
	var items atomic.Int64
	b.SetParallelism(4)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var cursor string
		var t TenantInfo
		for pb.Next() {
			if cursor == "" {
				t = tenants[int(next.Add(1))%len(tenants)]
			}
			u := t.APIHost + "/siem/v1/events?limit=" + limit
			if cursor != "" {
				u += "&cursor=" + cursor
			}
			req, _ := http.NewRequest(http.MethodGet, u, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("X-Tenant-ID", t.ID)
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			var p struct {
				HasMore    bool   `json:"has_more"`
				NextCursor string `json:"next_cursor"`
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d: %s", resp.StatusCode, body)
				return
			}
			// Only the envelope is read: has_more and next_cursor stand
			// at the start, the items are counted by the simulator.
			p.HasMore, p.NextCursor = envelope(body)
			if p.HasMore {
				cursor = p.NextCursor
			} else {
				cursor = ""
			}
		}
	})
	elapsed := time.Since(start)
	b.StopTimer()
	c := s.Counters()
	items.Store(c.Stats["items_served"])
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "pages/s")
	b.ReportMetric(float64(items.Load())/elapsed.Seconds(), "events/s")
}

// envelope reads has_more and next_cursor from the head of a page.
func envelope(body []byte) (bool, string) {
	const hm = `{"has_more":`
	if len(body) < len(hm)+5 {
		return false, ""
	}
	rest := body[len(hm):]
	more := rest[0] == 't'
	i := 0
	for i < len(rest) && rest[i] != '"' {
		i++
	}
	// skip `"next_cursor":"`
	const nc = `"next_cursor":"`
	rest = rest[i+len(nc):]
	j := 0
	for j < len(rest) && rest[j] != '"' {
		j++
	}
	return more, string(rest[:j])
}
