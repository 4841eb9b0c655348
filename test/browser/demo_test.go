package browser

import (
	"bytes"
	"context"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/puawatch/puawatch/internal/cli"
)

// syncBuffer is a bytes.Buffer safe for the demo's writer and the
// test's reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestDemoDashboard: `puawatch demo` prints its dashboard's URL first and
// serves the dashboard there; the screenshots of its overview, detections
// and a detection (screenshots/demo-*.png) are the README's
// (docs/screenshots/).
func TestDemoDashboard(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- cli.Main(ctx, []string{"demo", "--tenants", "8", "--backlog", "15", "--rate", "0.5", "--interval", "2s", "--duration", "2m"},
			strings.NewReader(""), &out, io.Discard)
	}()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("demo exit %d\n%s", code, out.String())
		}
	}()
	first := regexp.MustCompile(`^puawatch demo: the dashboard is at (http://127\.0\.0\.1:\d+/)\n`)
	var m []string
	for m == nil {
		select {
		case code := <-done:
			done <- code
			t.Fatalf("the demo ended (exit %d) before printing its URL:\n%s", code, out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if s := out.String(); strings.Contains(s, "\n") {
			if m = first.FindStringSubmatch(s); m == nil {
				t.Fatalf("the first line is not the dashboard's URL:\n%s", s)
			}
		}
	}
	base := strings.TrimSuffix(m[1], "/")
	b := newBrowser(t)
	// Wait for the first round: every tenant on the overview.
	for {
		open(t, b, base+"/", 200)
		if eval[int](t, b, `document.querySelectorAll('#tenant-counts tr[data-tenant-id]').length`) == 8 {
			break
		}
		select {
		case <-done:
			t.Fatalf("the demo ended before reading every tenant:\n%s", out.String())
		case <-time.After(500 * time.Millisecond):
		}
	}
	screenshot(t, b, "screenshots", "demo-overview")
	open(t, b, base+"/detections", 200)
	if n := len(rows(t, b)); n == 0 {
		t.Fatal("the demo's detections page lists nothing")
	}
	screenshot(t, b, "screenshots", "demo-detections")
	c, stop := within(b)
	defer stop()
	href, err := chromedp.Run(c, chromedp.Evaluate[string](`document.querySelector('#detections tr[data-event-id] a[href^="/detections/"]').href`))
	if err != nil {
		t.Fatal(err)
	}
	open(t, b, href, 200)
	screenshot(t, b, "screenshots", "demo-detection")
}
