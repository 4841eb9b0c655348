package central

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limits are client-side rate limits, applied per tenant (X-Tenant-ID) and
// once more for the global calls (whoami, tenant lists). A zero field
// switches that limit off.
type Limits struct {
	PerSecond   float64 // calls a second (burst: the same number, at least 1)
	PerMinute   float64 // calls a minute on average
	MinuteBurst int     // calls a minute may burst to (at least PerMinute)
}

// DefaultLimits are Sophos's documented limits: 10 calls a second, 100 a
// minute with bursts to 300.
func DefaultLimits() Limits {
	return Limits{PerSecond: 10, PerMinute: 100, MinuteBurst: 300}
}

func (l Limits) off() bool { return l.PerSecond <= 0 && l.PerMinute <= 0 }

// limiterSet is one tenant's (or the global calls') limiters.
type limiterSet struct {
	second, minute *rate.Limiter // nil: off
}

// limiters hands out a limiterSet per key, made on first use.
type limiters struct {
	l  Limits
	mu sync.Mutex
	m  map[string]*limiterSet
}

func newLimiters(l Limits) *limiters {
	return &limiters{l: l, m: map[string]*limiterSet{}}
}

func (ls *limiters) get(key string) *limiterSet {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	s := ls.m[key]
	if s == nil {
		s = &limiterSet{}
		if ls.l.PerSecond > 0 {
			s.second = rate.NewLimiter(rate.Limit(ls.l.PerSecond), max(1, int(math.Ceil(ls.l.PerSecond))))
		}
		if ls.l.PerMinute > 0 {
			burst := max(ls.l.MinuteBurst, int(math.Ceil(ls.l.PerMinute)), 1)
			s.minute = rate.NewLimiter(rate.Limit(ls.l.PerMinute/60), burst)
		}
		ls.m[key] = s
	}
	return s
}

// wait takes one call from key's limiters, sleeping with sleep until both
// allow it. A wait that would outlast ctx's deadline is not started.
func (ls *limiters) wait(ctx context.Context, key string, sleep func(context.Context, time.Duration) error) (time.Duration, error) {
	if ls == nil {
		return 0, nil
	}
	s := ls.get(key)
	now := time.Now()
	var res []*rate.Reservation
	var d time.Duration
	for _, l := range []*rate.Limiter{s.second, s.minute} {
		if l == nil {
			continue
		}
		r := l.ReserveN(now, 1)
		res = append(res, r)
		d = max(d, r.DelayFrom(now))
	}
	cancel := func() {
		for _, r := range res {
			r.CancelAt(now)
		}
	}
	if d <= 0 {
		return 0, nil
	}
	if dl, ok := ctx.Deadline(); ok && now.Add(d).After(dl) {
		cancel()
		return d, fmt.Errorf("rate limit wait of %s would outlast the deadline: %w", d.Round(time.Millisecond), context.DeadlineExceeded)
	}
	if err := sleep(ctx, d); err != nil {
		cancel()
		return d, err
	}
	return d, nil
}

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
