package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/puawatch/puawatch/internal/central"
	"github.com/puawatch/puawatch/internal/poll"
)

// LimitWorkers is how many tenants the limit reads at once.
const LimitWorkers = 8

// LimitOptions say which feed the limit reads.
type LimitOptions struct {
	Credentials     central.Credentials
	AuthURL, APIURL string
	Workers         int
}

// LimitResult is what the limit read.
type LimitResult struct {
	Tenants int `json:"tenants"`
	Pages   int `json:"pages"`
	Events  int `json:"events"`
}

// Limit is the reference the watcher is measured against: a token,
// whoami, the tenants, then every events page of every tenant, Workers
// tenants at once, fetched and decoded with central.Client.Events (the
// watcher's own client, with its default rate limits) and nothing else:
// no matching, no store, no notification. It reads from the watcher's
// first-read point (poll.DefaultLookback ago) to the end of the feed.
func Limit(ctx context.Context, o LimitOptions) (LimitResult, error) {
	if o.Workers < 1 {
		return LimitResult{}, fmt.Errorf("--workers %d: give 1 or more", o.Workers)
	}
	c, err := central.New(o.Credentials, central.Options{AuthURL: o.AuthURL, APIURL: o.APIURL})
	if err != nil {
		return LimitResult{}, err
	}
	who, err := c.Whoami(ctx)
	if err != nil {
		return LimitResult{}, err
	}
	tenants, err := c.Tenants(ctx, who)
	if err != nil {
		return LimitResult{}, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan central.Tenant)
	var mu sync.Mutex
	res := LimitResult{Tenants: len(tenants)}
	var errs []error
	var wg sync.WaitGroup
	for range min(o.Workers, max(1, len(tenants))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range work {
				pages, events, err := readFeed(ctx, c, t)
				mu.Lock()
				res.Pages += pages
				res.Events += events
				if err != nil {
					errs = append(errs, err)
					cancel()
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for _, t := range tenants {
		select {
		case work <- t:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	return res, errors.Join(errs...)
}

// readFeed reads one tenant's events to the end of its feed.
func readFeed(ctx context.Context, c *central.Client, t central.Tenant) (pages, events int, err error) {
	req := central.EventsRequest{Tenant: t, FromDate: c.APINow().Add(-poll.DefaultLookback), Limit: central.MaxEventsLimit}
	for {
		p, err := c.Events(ctx, req)
		if err != nil {
			return pages, events, err
		}
		pages++
		events += len(p.Items)
		if !p.HasMore {
			return pages, events, nil
		}
		req.Cursor = p.NextCursor
	}
}
