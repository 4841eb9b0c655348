package poll

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/puawatch/puawatch/internal/central"
	"github.com/puawatch/puawatch/internal/glob"
	"github.com/puawatch/puawatch/internal/match"
	"github.com/puawatch/puawatch/internal/store"
)

// Defaults of Options, and the longest lookback.
const (
	// DefaultLookback is how far back a tenant's first read starts.
	DefaultLookback = 23*time.Hour + 45*time.Minute
	// MaxLookback is the longest lookback accepted: Sophos serves SIEM
	// events of the last 24 hours only, and a request for exactly 24 hours
	// races the server's own clock.
	MaxLookback = 23*time.Hour + 55*time.Minute
	// DefaultTenantRefresh is how often the tenant list is read again.
	DefaultTenantRefresh = time.Hour
	// DefaultOverlapEvery is how often a tenant is re-read (overlap).
	DefaultOverlapEvery = 15 * time.Minute
	// DefaultLagAlarm is how long a tenant may go unread before it lags.
	DefaultLagAlarm = 6 * time.Hour
	// DefaultPageLimit is the SIEM page size: the largest the API serves.
	DefaultPageLimit = central.MaxEventsLimit
	// MaxAutoWorkers caps the automatic worker count (AutoWorkers).
	MaxAutoWorkers = 32
	// DefaultStopGrace is the time left, on stop, to finish the page in
	// hand.
	DefaultStopGrace = 30 * time.Second
)

// Source is what the poller needs of Sophos Central; *central.Client is
// one. A Source that also tells the API's clock (APINow() time.Time, as
// *central.Client does from the Date of its answers, on the clock given
// as Options.Now) has from_date and the 24-hour retention judged on that
// clock; otherwise the API is taken to share Options.Now.
type Source interface {
	Whoami(ctx context.Context) (central.Whoami, error)
	Tenants(ctx context.Context, who central.Whoami) ([]central.Tenant, error)
	Events(ctx context.Context, req central.EventsRequest) (central.Page, error)
}

// Options configure a Poller.
type Options struct {
	Source  Source
	Store   store.Store
	Matcher *match.Matcher
	// Route says which receivers get a detection and how it is grouped
	// there (route.Tree.Deliveries); nil stores detections only.
	Route func(store.Detection) []store.Delivery

	Include, Exclude []string      // tenant ids or name globs (package glob: case is ignored)
	TenantName       string        // display name for a single-tenant credential
	TenantRefresh    time.Duration // how often the tenant list is read again (default 1h)

	Lookback      time.Duration // first read starts this far back (default 23h45m)
	Initial       string        // "notify" (default) or "silent": the first read stores without notifying
	Overlap       time.Duration // re-read window (0: no overlap re-read)
	OverlapEvery  time.Duration // how often a tenant is re-read (default 15m)
	LagAlarm      time.Duration // a tenant unread for longer is lagging (default 6h)
	PageLimit     int           // SIEM limit (default 1000)
	Workers       int           // tenants read at once (0: AutoWorkers of the tenant count)
	OffsetMinutes int           // from_date_offset_minutes
	StopGrace     time.Duration // on stop, time left to finish the page in hand (default 30s)

	Now    func() time.Time
	Logger *slog.Logger
	// OnCommit is called after a page with new detections is committed.
	OnCommit func(tenant central.Tenant, fresh []store.Detection)
	// Progress is told how a first read of every tenant goes: each
	// Sweep, and Run's first round (see Progress). Nil: not told.
	Progress func(Progress)
	// After is Run's timer: a channel that delivers once d has passed.
	// Nil: time.After. Tests give one they drive with their clock.
	After func(d time.Duration) <-chan time.Time
	// Observer is told of every tenant read and every page (the
	// metrics). The zero value tells nobody.
	Observer Observer
}

// Observer is told what the reads come to, in Sweep and Run alike; a nil
// field is not told. The calls are made on the reading worker's goroutine
// and must return at once.
type Observer struct {
	// Read is told of each tenant read's result (Err nil: read to the
	// end), a read stopped by a stop of the poller excepted. Its Lag is
	// not set yet.
	Read func(TenantResult)
	// Page is told of each page of events asked for: the events it held
	// and the detections stored for the first time, or the error of the
	// events call or of storing the page (events and stored are then 0);
	// a call cut short by a stop of the poller is not told.
	Page func(t central.Tenant, events, stored int, err error)
}

func (o Observer) read(r TenantResult) {
	if o.Read != nil && !errors.Is(r.Err, errStopped) {
		o.Read(r)
	}
}

func (o Observer) page(t central.Tenant, events, stored int, err error) {
	if o.Page != nil {
		o.Page(t, events, stored, err)
	}
}

// Poller reads tenants' feeds into the store.
type Poller struct {
	o                Options
	include, exclude glob.List

	mu          sync.Mutex
	who         *central.Whoami
	tenants     []central.Tenant
	refreshedAt time.Time
}

// New checks o and makes a Poller.
func New(o Options) (*Poller, error) {
	if o.Source == nil || o.Store == nil || o.Matcher == nil {
		return nil, errors.New("poll: Source, Store and Matcher are required")
	}
	if o.TenantRefresh <= 0 {
		o.TenantRefresh = DefaultTenantRefresh
	}
	if o.Lookback <= 0 {
		o.Lookback = DefaultLookback
	}
	if o.Lookback > MaxLookback {
		return nil, fmt.Errorf("poll: lookback %s is too far: the API keeps 24 hours; use at most %s", o.Lookback, MaxLookback)
	}
	switch o.Initial {
	case "":
		o.Initial = "notify"
	case "notify", "silent":
	default:
		return nil, fmt.Errorf("poll: initial must be notify or silent, not %q", o.Initial)
	}
	if o.OverlapEvery <= 0 {
		o.OverlapEvery = DefaultOverlapEvery
	}
	if o.LagAlarm <= 0 {
		o.LagAlarm = DefaultLagAlarm
	}
	if o.PageLimit <= 0 {
		o.PageLimit = DefaultPageLimit
	}
	if o.Workers < 0 {
		return nil, fmt.Errorf("poll: workers %d is negative: 0 sizes the pool from the tenant count", o.Workers)
	}
	if o.StopGrace <= 0 {
		o.StopGrace = DefaultStopGrace
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.After == nil {
		o.After = time.After
	}
	o.Logger = o.Logger.With("component", "poll")
	p := &Poller{o: o}
	var err error
	if p.include, err = glob.CompileList(o.Include); err != nil {
		return nil, fmt.Errorf("poll: tenant include%w", err)
	}
	if p.exclude, err = glob.CompileList(o.Exclude); err != nil {
		return nil, fmt.Errorf("poll: tenant exclude%w", err)
	}
	return p, nil
}

// TenantResult is how reading one tenant went.
type TenantResult struct {
	TenantID   string
	TenantName string
	Pages      int           // pages read (cursor and overlap reads)
	Events     int           // events read
	New        int           // detections stored for the first time
	Err        error         // nil when the tenant was read to the end
	Lag        time.Duration // time since the tenant was last read to the end
	Lagging    bool          // Lag is over the lag alarm
	// Lost is the window of the tenant's events that may be lost (the
	// API dropped them, 24 hours on, before they were read), found
	// before this read; nil: none. It is also in the store.
	Lost *store.LostWindow
	// Again is, in the daemon (Run), how long the schedule waits before it
	// reads the tenant again: the interval after a good read, the backoff
	// after a failure. Zero in a Sweep.
	Again time.Duration
}

// Report is how a sweep went.
type Report struct {
	Started, Ended time.Time
	Tenants        []TenantResult
	Stopped        bool // the sweep was stopped before every tenant was read
}

// Failed lists the tenants that could not be read.
func (r Report) Failed() []TenantResult {
	var out []TenantResult
	for _, t := range r.Tenants {
		if t.Err != nil {
			out = append(out, t)
		}
	}
	return out
}

// Lagging lists the tenants over the lag alarm.
func (r Report) Lagging() []TenantResult {
	var out []TenantResult
	for _, t := range r.Tenants {
		if t.Lagging {
			out = append(out, t)
		}
	}
	return out
}

// Lost lists the tenants whose events of some window may be lost.
func (r Report) Lost() []TenantResult {
	var out []TenantResult
	for _, t := range r.Tenants {
		if t.Lost != nil {
			out = append(out, t)
		}
	}
	return out
}

// Totals adds up the tenants' figures.
func (r Report) Totals() (pages, events, fresh int) {
	for _, t := range r.Tenants {
		pages += t.Pages
		events += t.Events
		fresh += t.New
	}
	return
}

// AutoWorkers is how many tenants are read at once when Options.Workers
// is 0: one worker per tenant, at most MaxAutoWorkers. A sweep of idle
// tenants is one events request per tenant, so its time is the latency
// times the tenants over the workers: a thousand tenants at 20 ms take
// about 0.7 s with 32 workers, 5.75 s with 4.
//
// The rate limits do not lower it. Sophos Central counts calls per
// credential and tenant (10 a second, 100 a minute with bursts to 300),
// and so do the client's limiters (central.Limits); a worker reads one
// tenant at a time, so one tenant's calls come one after the other
// however many workers there are, and the calls without a tenant
// (whoami, the tenant list) are made beside the workers, once per
// refresh. The cap bounds what a sweep holds at once (a page of up to
// PageLimit events per worker) and the goroutines; on a 2-core machine a
// backlog is bound by the CPU long before 32 workers.
func AutoWorkers(tenants int) int { return max(1, min(tenants, MaxAutoWorkers)) }

// workers is how many tenants are read at once among tenants tenants.
func (p *Poller) workers(tenants int) int {
	if p.o.Workers > 0 {
		return p.o.Workers
	}
	return AutoWorkers(tenants)
}

// Sweep reads every tenant once. Cancelling ctx stops it: the page in
// hand is finished and committed (within StopGrace), no new page starts.
// The error is for failures that stop the whole sweep (no tenant list);
// per-tenant failures are in the report.
func (p *Poller) Sweep(ctx context.Context) (Report, error) {
	rep := Report{Started: p.o.Now()}
	tenants, err := p.refreshTenants(ctx)
	if err != nil {
		rep.Ended = p.o.Now()
		return rep, err
	}
	states, err := p.o.Store.Tenants(ctx)
	if err != nil {
		return rep, fmt.Errorf("poll: read tenant states: %w", err)
	}
	byID := make(map[string]store.Tenant, len(states))
	for _, s := range states {
		byID[s.ID] = s
	}
	work, cancelWork := p.workContext(ctx)
	defer cancelWork()

	prog := newCounter(p.o.Progress, len(tenants))
	results := make([]TenantResult, len(tenants))
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(p.workers(len(tenants)), max(len(tenants), 1)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if ctx.Err() != nil {
					results[i] = TenantResult{TenantID: tenants[i].ID, TenantName: tenants[i].DisplayName(), Err: errStopped}
					continue
				}
				results[i] = p.readTenant(ctx, work, tenants[i], byID[tenants[i].ID])
				prog.add(results[i])
			}
		}()
	}
feed:
	for i := range tenants {
		select {
		case jobs <- i:
		case <-ctx.Done():
			rep.Stopped = true
			for j := i; j < len(tenants); j++ {
				results[j] = TenantResult{TenantID: tenants[j].ID, TenantName: tenants[j].DisplayName(), Err: errStopped}
			}
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if ctx.Err() != nil {
		rep.Stopped = true
	}
	rep.Tenants = results
	rep.Ended = p.o.Now()
	p.checkLag(ctx, &rep)
	return rep, nil
}

// workContext is the context of a read's calls: it outlives a stop of
// ctx by StopGrace, so that the page in hand is finished. cancel ends it.
func (p *Poller) workContext(ctx context.Context) (work context.Context, cancel context.CancelFunc) {
	work, cancel = context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		select {
		case <-ctx.Done():
			t := time.NewTimer(p.o.StopGrace)
			defer t.Stop()
			select {
			case <-t.C:
				cancel()
			case <-work.Done():
			}
		case <-work.Done():
		}
	}()
	return work, cancel
}

// refreshTenants returns the tenants to read, reading the list again when
// it is due. When the list cannot be read, the last one known is used.
func (p *Poller) refreshTenants(ctx context.Context) ([]central.Tenant, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.o.Now()
	if p.tenants != nil && now.Sub(p.refreshedAt) < p.o.TenantRefresh {
		return p.tenants, nil
	}
	ts, err := p.listTenants(ctx)
	if err != nil {
		if p.tenants != nil {
			p.o.Logger.Error("tenant list refresh failed; reading the tenants known", "error", err, "tenants", len(p.tenants))
			p.refreshedAt = now.Add(-p.o.TenantRefresh + time.Minute) // try again in a minute
			return p.tenants, nil
		}
		return nil, err
	}
	kept := p.filter(ts)
	if kept == nil {
		kept = []central.Tenant{} // listed, none selected: not "never listed"
	}
	recs := make([]store.Tenant, len(kept))
	for i, t := range kept {
		recs[i] = store.Tenant{ID: t.ID, Name: t.DisplayName(), Region: t.DataRegion, APIHost: t.APIHost}
	}
	if len(recs) > 0 {
		if err := p.o.Store.UpsertTenants(ctx, recs, now); err != nil {
			return nil, fmt.Errorf("poll: store tenants: %w", err)
		}
	}
	if len(kept) == 0 {
		p.o.Logger.Warn("no tenant to read: check tenants.include and tenants.exclude", "listed", len(ts))
	}
	if p.tenants == nil || len(kept) != len(p.tenants) {
		p.o.Logger.Info("tenants", "listed", len(ts), "read", len(kept))
	}
	p.tenants, p.refreshedAt = kept, now
	return kept, nil
}

func (p *Poller) listTenants(ctx context.Context) ([]central.Tenant, error) {
	if p.who == nil {
		who, err := p.o.Source.Whoami(ctx)
		if err != nil {
			return nil, err // the client's error names whoami
		}
		p.who = &who
		p.o.Logger.Info("credential", "id_type", who.IDType, "id", who.ID)
	}
	ts, err := p.o.Source.Tenants(ctx, *p.who)
	if err != nil {
		return nil, err // the client's error names the tenant list
	}
	if p.who.IDType == central.IDTypeTenant {
		for i := range ts {
			if ts[i].Name == "" && ts[i].ShowAs == "" {
				ts[i].Name = p.o.TenantName
			}
		}
	}
	sort.SliceStable(ts, func(i, j int) bool { return ts[i].DisplayName() < ts[j].DisplayName() })
	return ts, nil
}

// filter applies the include and exclude lists.
func (p *Poller) filter(ts []central.Tenant) []central.Tenant {
	var out []central.Tenant
	for _, t := range ts {
		if len(p.include) > 0 && !matchTenant(p.include, t) {
			continue
		}
		if matchTenant(p.exclude, t) {
			continue
		}
		out = append(out, t)
	}
	return out
}

// matchTenant tells whether a pattern matches the tenant's id, name or
// display name (package glob: without regard to case).
func matchTenant(pats glob.List, t central.Tenant) bool {
	return pats.MatchAny(t.ID, t.Name, t.ShowAs)
}

// readTenant reads one tenant's feed to the end, then the overlap window
// when due. stop is the sweep's stop signal, work the context of calls.
//
// from_date is computed on the API's clock. Before reading, the point the
// feed was read up to is compared with the API's 24 hours: what lies
// between is reported as lost (log, result, store). A stored cursor the
// API refuses (400) is replaced by a from_date: the point read up to, or
// the oldest the API accepts, reporting the gap the same way.
func (p *Poller) readTenant(stop, work context.Context, t central.Tenant, st store.Tenant) TenantResult {
	res := TenantResult{TenantID: t.ID, TenantName: t.DisplayName()}
	log := p.o.Logger.With("tenant_id", t.ID, "tenant", res.TenantName)
	first := st.Cursor == ""
	route := p.o.Route
	if p.o.Initial == "silent" && st.LastRead.IsZero() {
		route = nil // the first read, to its end, stores without notifying
	}
	apiNow := p.apiNow()
	skew := apiNow.Sub(p.o.Now()) // the API's clock less ours
	req := central.EventsRequest{Tenant: t, Cursor: st.Cursor, Limit: p.o.PageLimit, OffsetMins: p.o.OffsetMinutes}
	var resume time.Time
	var lostErr error
	if first {
		req.FromDate = apiNow.Add(-p.o.Lookback)
	} else if resume = p.resumePoint(st, skew); !resume.IsZero() {
		if oldest := apiNow.Add(-central.Retention); resume.Before(oldest) {
			lostErr = p.lost(work, log, &res, store.LostWindow{TenantID: t.ID, From: resume, To: oldest,
				Reason: "the feed was not read for longer than the API keeps events (24 hours)"})
		}
	}
	err := p.readPages(stop, work, t, req, route, true, &res)
	if err != nil && !first && res.Pages == 0 && cursorRefused(err) && stop.Err() == nil {
		// The stored cursor is refused: read by date from where the feed
		// was read up to, or from the oldest from_date the API accepts.
		from := p.apiNow().Add(-MaxLookback)
		if resume.After(from) {
			from = resume
		}
		log.Warn("the API refused the stored cursor; reading again by from_date", "from", from, "error", err)
		if !resume.IsZero() && resume.Before(from) {
			lostErr = p.lost(work, log, &res, store.LostWindow{TenantID: t.ID, From: resume, To: from,
				Reason: fmt.Sprintf("the API refused the stored cursor (%v); read again from the oldest from_date it accepts", err)})
		}
		req.Cursor, req.FromDate = "", from
		err = p.readPages(stop, work, t, req, route, true, &res)
	}
	if err == nil && stop.Err() == nil && p.o.Overlap > 0 && !first && p.o.Now().Sub(st.OverlapAt) >= p.o.OverlapEvery {
		now := p.apiNow()
		from := now.Add(-p.o.Overlap)
		if lim := now.Add(-p.o.Lookback); from.Before(lim) {
			from = lim
		}
		oreq := central.EventsRequest{Tenant: t, FromDate: from, Limit: p.o.PageLimit, OffsetMins: p.o.OffsetMinutes}
		before := res.New
		if err = p.readPages(stop, work, t, oreq, p.o.Route, false, &res); err == nil {
			if err = p.o.Store.SetOverlapAt(work, t.ID, p.o.Now()); err != nil {
				err = fmt.Errorf("store overlap time: %w", err)
			}
			if res.New > before {
				log.Warn("overlap re-read found detections the cursor had passed", "count", res.New-before)
			}
		}
	}
	if err == nil && lostErr != nil {
		err = fmt.Errorf("store lost window: %w", lostErr)
	}
	if err != nil {
		if stop.Err() != nil && work.Err() != nil {
			err = errStopped // the grace ran out on the page in hand
		}
		res.Err = err
		if !errors.Is(err, errStopped) {
			log.Error("tenant read failed", "error", err)
			if serr := p.o.Store.SetTenantError(work, t.ID, err.Error(), p.o.Now()); serr != nil {
				log.Error("store tenant error", "error", serr)
			}
		}
	}
	p.o.Observer.read(res)
	return res
}

// apiNow is the API's clock: the Source's, when it tells it.
func (p *Poller) apiNow() time.Time {
	if c, ok := p.o.Source.(interface{ APINow() time.Time }); ok {
		return c.APINow()
	}
	return p.o.Now()
}

// resumePoint is the point, on the API's clock, up to which a tenant's
// feed was read: the later of its last read to the end (less the minutes
// from_date_offset_minutes held back) and the position of its cursor
// (central.CursorTime); for a tenant never read to the end whose cursor
// does not read, the start of its first read. Zero: not known. skew is
// the API's clock less the local one, which the stored times are on.
func (p *Poller) resumePoint(st store.Tenant, skew time.Duration) time.Time {
	var at time.Time
	if !st.LastRead.IsZero() {
		at = st.LastRead.Add(skew - time.Duration(p.o.OffsetMinutes)*time.Minute)
	}
	if ct, ok := central.CursorTime(st.Cursor); ok && ct.After(at) {
		at = ct
	}
	if at.IsZero() && !st.FirstSeen.IsZero() {
		at = st.FirstSeen.Add(skew - p.o.Lookback)
	}
	return at
}

// lost reports a window of a tenant's events that may be lost: in the
// result, in the log and in the store. The store's error is returned.
func (p *Poller) lost(ctx context.Context, log *slog.Logger, res *TenantResult, w store.LostWindow) error {
	w.DetectedAt = p.o.Now()
	res.Lost = &w
	log.Error("events may be lost: the API no longer serves them (it keeps 24 hours)",
		"from", w.From.UTC(), "to", w.To.UTC(), "reason", w.Reason)
	if err := p.o.Store.AddLostWindow(ctx, w); err != nil {
		log.Error("store lost window", "error", err)
		return err
	}
	return nil
}

// cursorRefused tells whether err is the API refusing an events request
// as bad (400): for a request with a stored cursor, the cursor (too old,
// or not one the API knows).
func cursorRefused(err error) bool {
	var ae *central.APIError
	return errors.As(err, &ae) && ae.Op == "events" && ae.Status == http.StatusBadRequest
}

var errStopped = errors.New("stopped before the end of the feed")

// readPages follows a feed to its end. With advance, each page's
// next_cursor is stored with it; without (overlap re-reads), the cursor
// is left alone and only new detections are stored.
func (p *Poller) readPages(stop, work context.Context, t central.Tenant, req central.EventsRequest,
	route func(store.Detection) []store.Delivery, advance bool, res *TenantResult) error {
	for {
		page, err := p.o.Source.Events(work, req)
		if err != nil {
			if work.Err() == nil { // not the stop grace running out
				p.o.Observer.page(t, 0, 0, err)
			}
			return err
		}
		res.Pages++
		res.Events += len(page.Items)
		now := p.o.Now()
		var dets []store.Detection
		for _, e := range page.Items {
			if kind, ok := p.o.Matcher.Match(e); ok {
				dets = append(dets, match.ToDetection(e, kind, t, now))
			}
		}
		commit := store.PageCommit{TenantID: t.ID, Detections: dets, Route: route, At: now}
		if advance {
			commit.Cursor = page.NextCursor
			commit.EndOfFeed = !page.HasMore
		}
		fresh, err := p.o.Store.CommitPage(work, commit)
		if err != nil {
			err = fmt.Errorf("store page: %w", err)
			p.o.Observer.page(t, 0, 0, err)
			return err
		}
		p.o.Observer.page(t, len(page.Items), len(fresh), nil)
		res.New += len(fresh)
		if len(fresh) > 0 && p.o.OnCommit != nil {
			p.o.OnCommit(t, fresh)
		}
		if !page.HasMore {
			return nil
		}
		if page.NextCursor == "" {
			return fmt.Errorf("events: has_more without next_cursor")
		}
		req.Cursor, req.FromDate = page.NextCursor, time.Time{}
		if stop.Err() != nil {
			return errStopped
		}
	}
}

// checkLag marks tenants that have not been read to the end for longer
// than the lag alarm.
func (p *Poller) checkLag(ctx context.Context, rep *Report) {
	states, err := p.o.Store.Tenants(context.WithoutCancel(ctx))
	if err != nil {
		p.o.Logger.Error("lag check: read tenant states", "error", err)
		return
	}
	byID := make(map[string]store.Tenant, len(states))
	for _, s := range states {
		byID[s.ID] = s
	}
	now := p.o.Now()
	for i := range rep.Tenants {
		p.setLag(ctx, &rep.Tenants[i], byID[rep.Tenants[i].TenantID], now)
	}
}

// setLag sets r's lag from the tenant's state st after its read, and
// logs a tenant over the lag alarm.
func (p *Poller) setLag(ctx context.Context, r *TenantResult, st store.Tenant, now time.Time) {
	lag, ok := Lag(st, now)
	if !ok {
		return
	}
	r.Lag = lag
	if r.Lag > p.o.LagAlarm {
		r.Lagging = true
		lvl := slog.LevelWarn
		msg := "tenant lagging: read it soon or its events will be lost"
		if r.Lag >= 24*time.Hour {
			lvl, msg = slog.LevelError, "tenant lagging past 24 hours: events older than 24 hours are lost for good"
		}
		p.o.Logger.Log(ctx, lvl, msg, "tenant_id", r.TenantID, "tenant", r.TenantName, "lag", r.Lag.Round(time.Second), "error", r.Err)
	}
}

// Lag is how long, at now, a tenant of state st has not been read to the
// end: since its last read to the end, or since it was first seen when it
// never was. ok is false when neither is known.
func Lag(st store.Tenant, now time.Time) (lag time.Duration, ok bool) {
	since := st.LastRead
	if since.IsZero() {
		since = st.FirstSeen
	}
	if since.IsZero() {
		return 0, false
	}
	return now.Sub(since), true
}

// CursorAge is how old, at now, the position of a tenant's stored cursor
// is (central.CursorTime): past central.Retention the API no longer
// serves the events behind it. ok is false without a cursor that tells
// its position.
func CursorAge(st store.Tenant, now time.Time) (age time.Duration, ok bool) {
	at, ok := central.CursorTime(st.Cursor)
	if !ok {
		return 0, false
	}
	return now.Sub(at), true
}
