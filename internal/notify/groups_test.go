package notify

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/store"
)

// A burst in one group becomes digests within the cap; a small group
// goes out a message per detection; a group's rows wait for group_wait.
func TestRoutedGroupsBurstAndSmall(t *testing.T) {
	e := newEnv()
	route := func(d store.Detection) []store.Delivery {
		return []store.Delivery{{Channel: "soc", GroupKey: "tenant=" + d.TenantID, Wait: 30 * time.Second, DigestAbove: 3, MaxPerMessage: 100}}
	}
	var burst []store.Detection
	for i := range 500 {
		burst = append(burst, SampleDetection("a-"+strconv.Itoa(i), "A", time.Duration(i)*time.Millisecond))
	}
	at := e.clock.Now()
	if _, err := e.st.CommitPage(context.Background(), store.PageCommit{TenantID: "A", Detections: burst, Route: route, At: at}); err != nil {
		t.Fatal(err)
	}
	small := []store.Detection{SampleDetection("b-1", "B", 0), SampleDetection("b-2", "B", time.Second)}
	if _, err := e.st.CommitPage(context.Background(), store.PageCommit{TenantID: "B", Detections: small, Route: route, At: at.Add(5 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	soc := &fakeNotifier{}
	d := e.dispatcher(t, map[string]Notifier{"soc": soc}, func(o *Options) { o.BatchSize = 1000 })

	drain(t, d, Result{}) // group_wait holds everything
	e.clock.Add(31 * time.Second)
	drain(t, d, Result{Sent: 500})
	msgs := soc.messages()
	if len(msgs) != 5 {
		t.Fatalf("%d messages for a burst of 500 with a cap of 100, want 5", len(msgs))
	}
	for _, m := range msgs {
		if !m.Digest || len(m.Detections) != 100 || m.TenantID != "A" {
			t.Errorf("message %s: digest %v with %d detections of %s, want digests of 100 of A", m.Key, m.Digest, len(m.Detections), m.TenantID)
		}
	}
	e.clock.Add(5 * time.Second)
	drain(t, d, Result{Sent: 2})
	msgs = soc.messages()[5:]
	if len(msgs) != 2 || msgs[0].Digest || msgs[0].Key != "b-1.soc" || msgs[1].Key != "b-2.soc" {
		t.Errorf("small group: %d messages %+v, want one per detection keyed by event", len(msgs), msgs)
	}
}
