package poll

import "sync"

// Progress is how a first read of every tenant goes: Done of Total
// tenants read (failed ones included), with the events read and the
// detections stored for the first time so far. The last Progress of a
// pass that ran to its end has Done == Total.
type Progress struct {
	Done, Total        int
	Events, Detections int
}

// counter adds tenant results up into Progress and tells f of each.
type counter struct {
	mu sync.Mutex
	f  func(Progress)
	p  Progress
}

// newCounter starts counting a pass over total tenants and tells f of
// the start; with f nil it counts nothing.
func newCounter(f func(Progress), total int) *counter {
	c := &counter{f: f, p: Progress{Total: total}}
	if f != nil && total > 0 {
		f(c.p)
	}
	return c
}

// add counts a tenant's result.
func (c *counter) add(r TenantResult) {
	if c.f == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.p.Done++
	c.p.Events += r.Events
	c.p.Detections += r.New
	c.f(c.p)
}

// setTotal changes the count of tenants of the pass (the tenant list
// changed during it).
func (c *counter) setTotal(total int) {
	if c.f == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.p.Total != total {
		c.p.Total = total
		c.f(c.p)
	}
}

// finish tells the pass is over: every tenant of it has been read.
func (c *counter) finish() {
	if c.f == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.p.Done != c.p.Total {
		c.p.Done = c.p.Total
		c.f(c.p)
	}
}
