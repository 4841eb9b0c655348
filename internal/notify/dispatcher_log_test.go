package notify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/store"
)

// logLine returns the one line of logs whose message is msg.
func logLine(t *testing.T, logs, msg string) string {
	t.Helper()
	var found []string
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, "msg="+fmt.Sprintf("%q", msg)) || strings.Contains(l, "msg="+msg+" ") {
			found = append(found, l)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d lines with msg %q, want 1:\n%s", len(found), msg, logs)
	}
	return found[0]
}

// TestDigestLogLineBounded: the log lines of a digest of 500 detections
// stay under 500 bytes: they carry the count and the first three event
// ids, not every id, the tenant's name beside its id, and the error
// under the key "error".
func TestDigestLogLineBounded(t *testing.T) {
	for _, tc := range []struct {
		name string
		fail error
		msg  string
	}{
		{"sent", nil, "sent"},
		{"retry", errors.New("connection refused"), "send failed; will retry"},
		{"dead", Permanent(errors.New("HTTP 400")), "permanent failure; rows moved to dead letters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv()
			route := func(store.Detection) []store.Delivery {
				return []store.Delivery{{Channel: "digest", GroupKey: "tenant=A", MaxPerMessage: 500}}
			}
			for i := range 500 {
				e.st.AddDeliveries(SampleDetection(fmt.Sprintf("ev-%03d-0000-4000-8000-000000000000", i), "A", time.Duration(i)*time.Millisecond), route)
			}
			n := &fakeNotifier{fn: func(context.Context, int, Message) error { return tc.fail }}
			d := e.dispatcher(t, map[string]Notifier{"digest": n})
			if _, err := d.Drain(context.Background()); err != nil {
				t.Fatal(err)
			}
			if m := n.messages(); len(m) != 1 || len(m[0].Detections) != 500 {
				t.Fatalf("%d messages, want one digest of 500", len(m))
			}
			line := logLine(t, e.logs.String(), tc.msg)
			if len(line) >= 500 {
				t.Errorf("the line is %d bytes, want under 500: %s", len(line), line)
			}
			for _, want := range []string{"events=500", "ev-000-", "ev-001-", "ev-002-", "tenant_id=A", `tenant="Tenant A"`} {
				if !strings.Contains(line, want) {
					t.Errorf("the line lacks %s: %s", want, line)
				}
			}
			if strings.Contains(line, "ev-003-") {
				t.Errorf("the line names a fourth event: %s", line)
			}
			if tc.fail != nil && !strings.Contains(line, "error=") {
				t.Errorf("the line has no error key: %s", line)
			}
		})
	}
}

// TestDeadLetterLogLine: a row for a channel that is not configured logs
// its tenant's name beside the id and the reason under "error".
func TestDeadLetterLogLine(t *testing.T) {
	e := newEnv()
	e.st.AddDeliveries(SampleDetection("ev-1", "A", time.Second), func(store.Detection) []store.Delivery {
		return []store.Delivery{{Channel: "gone"}}
	})
	d := e.dispatcher(t, map[string]Notifier{})
	if _, err := d.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	line := logLine(t, e.logs.String(), "dead letter")
	for _, want := range []string{"tenant_id=A", `tenant="Tenant A"`, `error="channel gone is not configured"`} {
		if !strings.Contains(line, want) {
			t.Errorf("the line lacks %s: %s", want, line)
		}
	}
}
