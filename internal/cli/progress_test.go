package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/poll"
)

// screen is what a terminal shows of what was written to it: \r goes
// back to the start of the line, \n to the next, other bytes overwrite.
func screen(b []byte) []string {
	lines := [][]byte{nil}
	col := 0
	for _, c := range b {
		cur := &lines[len(lines)-1]
		switch c {
		case '\r':
			col = 0
		case '\n':
			lines = append(lines, nil)
			col = 0
		default:
			if col < len(*cur) {
				(*cur)[col] = c
			} else {
				*cur = append(*cur, c)
			}
			col++
		}
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = strings.TrimRight(string(l), " ")
	}
	return out
}

// manualClock is a clock the test moves.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *manualClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *manualClock) Set(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(d)
}

// On a terminal, the progress is one line rewritten in place; a log line
// written meanwhile lands above it, and the line is cleared at the end.
func TestProgressOnTerminal(t *testing.T) {
	var out bytes.Buffer
	clk := &manualClock{}
	clk.Set(0)
	p := newProgress(&out, func(io.Writer) bool { return true }, clk.Now)
	log := slog.New(slog.NewTextHandler(p, nil))
	p.setLogger(log)

	p.Update(poll.Progress{Total: 200})
	p.Update(poll.Progress{Done: 1, Total: 200, Events: 1234, Detections: 5})
	if got := screen(out.Bytes()); len(got) != 1 || got[0] != "puawatch: 1/200 tenants read, 1234 events, 5 new detections" {
		t.Errorf("screen %q, want the progress line rewritten in place", got)
	}
	log.Warn("a warning")
	got := screen(out.Bytes())
	if len(got) != 2 || !strings.Contains(got[0], "msg=\"a warning\"") || strings.Contains(got[0], "tenants read") ||
		got[1] != "puawatch: 1/200 tenants read, 1234 events, 5 new detections" {
		t.Errorf("screen after a log line %q, want the log line, then the progress line again", got)
	}
	p.Update(poll.Progress{Done: 2, Total: 200, Events: 1300, Detections: 5})
	if got := screen(out.Bytes()); len(got) != 2 || got[1] != "puawatch: 2/200 tenants read, 1300 events, 5 new detections" {
		t.Errorf("screen %q", got)
	}
	p.Update(poll.Progress{Done: 200, Total: 200, Events: 9000, Detections: 7})
	if got := screen(out.Bytes()); len(got) != 2 || got[1] != "" {
		t.Errorf("screen at the end %q, want the progress line cleared", got)
	}
	if strings.Contains(out.String(), "\x1b") {
		t.Errorf("escape sequences written: %q", out.String())
	}
	// Stopped before the end: Close clears the line.
	p.Update(poll.Progress{Total: 3})
	p.Update(poll.Progress{Done: 1, Total: 3})
	p.Close()
	if got := screen(out.Bytes()); got[len(got)-1] != "" {
		t.Errorf("screen after Close %q, want the progress line cleared", got)
	}
}

// Not on a terminal, a pass is logged at most every 10 seconds, and a
// pass shorter than that not at all.
func TestProgressLogCadence(t *testing.T) {
	var out bytes.Buffer
	clk := &manualClock{}
	p := newProgress(&out, func(io.Writer) bool { return false }, clk.Now)
	p.setLogger(slog.New(slog.NewJSONHandler(p, nil)))
	step := func(at time.Duration, done int) {
		clk.Set(at)
		p.Update(poll.Progress{Done: done, Total: 200, Events: done * 10, Detections: done / 10})
	}
	lines := func() []map[string]any {
		var ms []map[string]any
		for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			if l == "" {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("not a JSON log line: %q", l)
			}
			ms = append(ms, m)
		}
		return ms
	}

	// A short pass: nothing.
	step(0, 0)
	step(3*time.Second, 100)
	step(9*time.Second, 200)
	if out.Len() != 0 {
		t.Fatalf("a pass of 9s was logged: %s", out.String())
	}

	// A long pass: at 10s, then not before 20s; its end is not logged.
	base := time.Minute
	for _, s := range []struct {
		at   time.Duration
		done int
	}{{0, 0}, {5 * time.Second, 20}, {10 * time.Second, 40}, {12 * time.Second, 50}, {19 * time.Second, 60},
		{21 * time.Second, 80}, {25 * time.Second, 90}, {53 * time.Second, 200}} {
		step(base+s.at, s.done)
	}
	got := lines()
	if len(got) != 2 {
		t.Fatalf("%d log lines for a pass of 53s with updates at 0, 5, 10, 12, 19, 21, 25 and 53s, want 2 (at 10s and 21s):\n%s", len(got), out.String())
	}
	for i, want := range []float64{40, 80} {
		m := got[i]
		if m["tenants_done"] != want || m["tenants"] != 200.0 || m["events"] != want*10 || m["component"] != "run" {
			t.Errorf("log line %d: %v, want %v of 200 tenants with their events", i, m, want)
		}
	}
	if strings.Contains(out.String(), "\r") {
		t.Errorf("carriage returns in a log: %q", out.String())
	}
}

// isTerminal is false for what is not a terminal.
func TestIsTerminal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(&bytes.Buffer{}) || isTerminal(f) {
		t.Error("a buffer or a regular file taken for a terminal")
	}
}
