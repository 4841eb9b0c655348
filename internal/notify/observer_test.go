package notify

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// obsTally adds up what an Observer is told, per receiver.
type obsTally struct {
	mu                 sync.Mutex
	sent, failed, dead map[string]int
}

func (o *obsTally) observer() Observer {
	o.sent, o.failed, o.dead = map[string]int{}, map[string]int{}, map[string]int{}
	return Observer{
		Send: func(receiver string, err error, d time.Duration) {
			o.mu.Lock()
			defer o.mu.Unlock()
			if d < 0 {
				panic("negative send duration")
			}
			if err != nil {
				o.failed[receiver]++
			} else {
				o.sent[receiver]++
			}
		},
		Dead: func(receiver string, rows int) { o.mu.Lock(); o.dead[receiver] += rows; o.mu.Unlock() },
	}
}

// The Observer is told of each message sent, each failed send (retried
// or dead) and each row moved to the dead letters, by receiver.
func TestObserverToldOfSendsAndDeadLetters(t *testing.T) {
	e := newEnv()
	e.st.Add(SampleDetection("ev-1", "A", 0), "email", "hook", "gone")
	e.st.Add(SampleDetection("ev-2", "A", time.Second), "email", "hook")
	e.st.Add(SampleDetection("ev-3", "A", 2*time.Second), "perm")
	email := &fakeNotifier{}
	hook := &fakeNotifier{fn: func(_ context.Context, call int, _ Message) error {
		if call == 1 {
			return errors.New("HTTP 503")
		}
		return nil
	}}
	perm := &fakeNotifier{fn: func(context.Context, int, Message) error {
		return fmt.Errorf("x: %w", Permanent(errors.New("HTTP 410")))
	}}
	var tally obsTally
	d := e.dispatcher(t, map[string]Notifier{"email": email, "hook": hook, "perm": perm}, func(o *Options) { o.Observer = tally.observer() })
	drain(t, d, Result{Sent: 3, Retried: 1, Dead: 2})
	e.clock.Add(time.Hour)
	drain(t, d, Result{Sent: 1})
	tally.mu.Lock()
	defer tally.mu.Unlock()
	for name, want := range map[string][3]int{"email": {2, 0, 0}, "hook": {2, 1, 0}, "perm": {0, 1, 1}, "gone": {0, 0, 1}} {
		if got := [3]int{tally.sent[name], tally.failed[name], tally.dead[name]}; got != want {
			t.Errorf("receiver %s: sent, failed, dead = %v, want %v", name, got, want)
		}
	}
}
