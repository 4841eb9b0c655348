package cli

import (
	"runtime"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/fake/smtpcapture"
)

// TestSMTPCaptureCloseRightAfterStart: the demo (and every test using the
// capture) closes the server in a defer, right after Start when the
// command fails early. Close must return however soon it is called.
//
// With one P the Close goroutine runs before the server's Serve goroutine
// (runnext; the race detector shuffles that half of the time, hence the
// rounds), which makes the race below happen.
func TestSMTPCaptureCloseRightAfterStart(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	for round := 0; round < 30; round++ {
		s, err := smtpcapture.Start(smtpcapture.Options{})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- s.Close() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Close: %v", err)
			}
		case <-time.After(3 * time.Second): // a hang, not a slow Close
			t.Fatalf("round %d: smtpcapture.Server.Close called right after Start never returns. Cause: "+
				"internal/fake/smtpcapture/smtpcapture.go Start runs go-smtp's srv.Serve(ln) in a goroutine, and Close calls "+
				"srv.Close() then waits for Serve to return (<-s.done); go-smtp's Close closes only the listeners Serve has "+
				"registered, so when Serve has not run yet it registers ln afterwards and blocks in Accept for ever. "+
				"Fix: in Close, after s.srv.Close(), also close s.ln (ignoring net.ErrClosed) before <-s.done", round)
		}
	}
}
