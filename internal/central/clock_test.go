package central

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/fake/sim"
)

// TestAPINowFollowsTheDateHeader: the client learns Sophos Central's
// clock from the Date header of its answers, the token's first, whichever
// way the local clock is off; a large offset is logged once.
func TestAPINowFollowsTheDateHeader(t *testing.T) {
	local := time.Date(2025, 6, 3, 9, 0, 0, 0, time.UTC)
	for _, skew := range []time.Duration{30 * time.Minute, -30 * time.Minute, 0} {
		t.Run(skew.String(), func(t *testing.T) {
			cfg := smallConfig()
			cfg.Now = func() time.Time { return local.Add(skew) }
			s, srv := startSim(t, cfg)
			e := newEnv(t, s, srv, IDTypePartner, func(o *Options) { o.Now = func() time.Time { return local } })
			if _, ok := e.c.ClockOffset(); ok {
				t.Fatal("an offset is known before any answer")
			}
			if got := e.c.APINow(); !got.Equal(local) {
				t.Fatalf("before any answer APINow = %v, want the local clock %v", got, local)
			}
			if _, err := e.c.Whoami(context.Background()); err != nil {
				t.Fatal(err)
			}
			off, ok := e.c.ClockOffset()
			if !ok || off != skew {
				t.Errorf("ClockOffset = %v, %v; want %v, true", off, ok, skew)
			}
			if got := e.c.APINow(); !got.Equal(local.Add(skew)) {
				t.Errorf("APINow = %v, want the simulator's clock %v", got, local.Add(skew))
			}
			logs := e.logs.String()
			if n := strings.Count(logs, "the local clock differs from Sophos Central's"); n != map[bool]int{true: 1, false: 0}[skew != 0] {
				t.Errorf("%d clock warnings for an offset of %v; logs:\n%s", n, skew, logs)
			}
			// The API's clock moves: the next answer tells.
			s.Advance(2 * time.Hour)
			if _, err := e.c.Whoami(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := e.c.APINow(); !got.Equal(local.Add(skew + 2*time.Hour)) {
				t.Errorf("after the API's clock moved 2h, APINow = %v, want %v", got, local.Add(skew+2*time.Hour))
			}
		})
	}
}

// TestCursorTime reads the documented cursor samples and the simulator's,
// and refuses what is not a cursor of that shape.
func TestCursorTime(t *testing.T) {
	at := time.Date(2025, 3, 10, 11, 59, 58, 123_000_000, time.UTC)
	for _, c := range []struct {
		cursor string
		want   time.Time
	}{
		{"VjJfQ1VSU09SfDIwMTktMDQtMDFUMTg6MjU6NDEuNjA2Wg==", time.Date(2019, 4, 1, 18, 25, 41, 606_000_000, time.UTC)},
		{"VjJfQ1VSU09SfDIwMjUtMDYtMDNUMDk6NDE6MjcuMzE4Wg==", time.Date(2025, 6, 3, 9, 41, 27, 318_000_000, time.UTC)},
		{sim.CursorAt(at), at},
	} {
		got, ok := CursorTime(c.cursor)
		if !ok || !got.Equal(c.want) {
			t.Errorf("CursorTime(%q) = %v, %v; want %v", c.cursor, got, ok, c.want)
		}
	}
	for _, bad := range []string{"", "not base64 !", "bm8gdGltZSBoZXJl", "MSxFdmVudDo6RW5kcG9pbnQ6Ok91dE9mRGF0ZSw1MTMs"} {
		if got, ok := CursorTime(bad); ok {
			t.Errorf("CursorTime(%q) = %v, true; want false", bad, got)
		}
	}
}
