package poll_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/central"
	"github.com/puawatch/puawatch/internal/fake/sim"
	"github.com/puawatch/puawatch/internal/poll"
	"github.com/puawatch/puawatch/internal/store"
)

// obsTally adds up what a poll.Observer is told, per tenant id.
type obsTally struct {
	mu                 sync.Mutex
	readsOK, readsFail map[string]int
	pagesOK, pagesFail map[string]int
	events, stored     map[string]int
}

func newObsTally() *obsTally {
	return &obsTally{readsOK: map[string]int{}, readsFail: map[string]int{}, pagesOK: map[string]int{},
		pagesFail: map[string]int{}, events: map[string]int{}, stored: map[string]int{}}
}

func (o *obsTally) observer() poll.Observer {
	return poll.Observer{
		Read: func(r poll.TenantResult) {
			o.mu.Lock()
			defer o.mu.Unlock()
			if r.Err != nil {
				o.readsFail[r.TenantID]++
			} else {
				o.readsOK[r.TenantID]++
			}
		},
		Page: func(t central.Tenant, events, stored int, err error) {
			o.mu.Lock()
			defer o.mu.Unlock()
			if err != nil {
				o.pagesFail[t.ID]++
				return
			}
			o.pagesOK[t.ID]++
			o.events[t.ID] += events
			o.stored[t.ID] += stored
		},
	}
}

// The Observer is told of each tenant read and each page: the pages,
// events and new detections of the report, per tenant, and a read and a
// page failed for the tenant the API refuses.
func TestObserverToldOfReadsAndPages(t *testing.T) {
	e := newEnv(t, central.IDTypePartner, nil)
	refused := e.tenants()[1]
	if err := e.sim.SetFaults(sim.Faults{ForbiddenTenants: []string{refused.ID}}); err != nil {
		t.Fatal(err)
	}
	tally := newObsTally()
	p := e.poller(func(o *poll.Options) { o.Observer = tally.observer() })
	rep := e.sweep(p)
	// A second sweep stores nothing new but reads again.
	rep2 := e.sweep(p)
	tally.mu.Lock()
	defer tally.mu.Unlock()
	for _, r := range append(rep.Tenants, rep2.Tenants...) {
		if r.Err != nil {
			continue
		}
		if tally.readsOK[r.TenantID] != 2 {
			t.Errorf("tenant %s: %d good reads told, want 2", r.TenantID, tally.readsOK[r.TenantID])
		}
	}
	total := map[string]poll.TenantResult{}
	for _, r := range append(rep.Tenants, rep2.Tenants...) {
		s := total[r.TenantID]
		s.Pages, s.Events, s.New = s.Pages+r.Pages, s.Events+r.Events, s.New+r.New
		total[r.TenantID] = s
	}
	for id, s := range total {
		if id == refused.ID {
			continue
		}
		if tally.pagesOK[id] != s.Pages || tally.events[id] != s.Events || tally.stored[id] != s.New {
			t.Errorf("tenant %s: told %d pages, %d events, %d stored; the reports say %d, %d, %d",
				id, tally.pagesOK[id], tally.events[id], tally.stored[id], s.Pages, s.Events, s.New)
		}
		if s.New == 0 || tally.pagesFail[id] != 0 || tally.readsFail[id] != 0 {
			t.Errorf("tenant %s: %d new detections, %d pages and %d reads failed; want detections and no failure", id, s.New, tally.pagesFail[id], tally.readsFail[id])
		}
	}
	// The tenants read have a cursor whose age CursorAge tells.
	states, err := e.st.Tenants(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range states {
		age, ok := poll.CursorAge(st, e.clk.Now())
		if st.ID == refused.ID {
			if ok {
				t.Errorf("refused tenant has a cursor age %s, want none (never read)", age)
			}
			continue
		}
		if !ok || age < 0 || age > central.Retention {
			t.Errorf("tenant %s: cursor age %s %v, want one within the API's 24 hours", st.ID, age, ok)
		}
	}
	if tally.readsFail[refused.ID] != 2 || tally.pagesFail[refused.ID] != 2 || tally.pagesOK[refused.ID] != 0 {
		t.Errorf("refused tenant: %d reads and %d pages failed, %d pages read; want 2, 2, 0",
			tally.readsFail[refused.ID], tally.pagesFail[refused.ID], tally.pagesOK[refused.ID])
	}
}

func TestLagAndCursorAge(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	if _, ok := poll.Lag(store.Tenant{}, now); ok {
		t.Error("Lag of a tenant never seen: ok")
	}
	if lag, ok := poll.Lag(store.Tenant{FirstSeen: now.Add(-time.Hour)}, now); !ok || lag != time.Hour {
		t.Errorf("Lag of a tenant never read to the end = %s %v, want 1h since first seen", lag, ok)
	}
	if lag, ok := poll.Lag(store.Tenant{FirstSeen: now.Add(-time.Hour), LastRead: now.Add(-time.Minute)}, now); !ok || lag != time.Minute {
		t.Errorf("Lag = %s %v, want 1m since the last read to the end", lag, ok)
	}
	if _, ok := poll.CursorAge(store.Tenant{Cursor: "not a cursor"}, now); ok {
		t.Error("CursorAge of a cursor that does not read: ok")
	}
}
