package notify

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/puawatch/puawatch/internal/backoff"
	"github.com/puawatch/puawatch/internal/store"
)

// Defaults of Options.
const (
	DefaultLease       = 2 * time.Minute
	DefaultBatchSize   = 200
	DefaultBackoffBase = 30 * time.Second
	DefaultBackoffMax  = time.Hour
)

// logEventIDs is how many event ids a digest's log lines name.
const logEventIDs = 3

// maxErrorText caps the error text stored with a row.
const maxErrorText = 2000

// markTimeout bounds recording the outcome of a send.
const markTimeout = 30 * time.Second

// Options configure a Dispatcher.
type Options struct {
	// Store holds the outbox. Required.
	Store store.Store
	// Channels are the receivers' notifiers by name, as the outbox rows
	// name them. A row whose channel is not here is moved to the
	// dead-letter state, never dropped.
	Channels map[string]Notifier
	// Owner identifies this instance in claims (default: a random id).
	Owner string
	// Lease is how long a claim holds rows (default 2m). A send must end
	// before the lease of its rows does (its context has that deadline),
	// and a message is not started when less than a tenth of the lease is
	// left: its rows lapse back and are claimed again, so that two owners
	// never send the same rows at once.
	Lease time.Duration
	// BatchSize is the most rows claimed at once (default 200).
	BatchSize int
	// BackoffBase and BackoffMax bound the retry delay (default 30s and
	// 1h): the n-th failure waits a random time in
	// [min(BackoffBase, 1s), min(BackoffMax, BackoffBase·2ⁿ⁻¹)] (full
	// jitter, floored so a failing row is never due again at once; see
	// backoff.Delay). A RetryAfterError waits at least its After, but
	// never more than BackoffMax.
	BackoffBase, BackoffMax time.Duration
	// MaxAttempts moves a row to the dead-letter state, with the last
	// error, after that many failed attempts; 0 retries forever.
	MaxAttempts int
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger receives one line per message sent or failed (default: discard).
	Logger *slog.Logger
	// Rand is the jitter source (default: randomly seeded). Tests set it
	// for reproducible delays.
	Rand *mrand.Rand
}

// Result counts the outbox rows (detections) a Drain handled.
type Result struct {
	Sent, Retried, Dead int
}

// Dispatcher sends due outbox rows through their channels. It is safe for
// concurrent use, and several dispatchers (processes) may share one store:
// claims keep them from sending the same row twice.
type Dispatcher struct {
	store       store.Store
	channels    map[string]Notifier
	owner       string
	lease       time.Duration
	batchSize   int
	base, max   time.Duration
	maxAttempts int
	now         func() time.Time
	log         *slog.Logger

	randMu sync.Mutex
	rand   *mrand.Rand
}

// NewDispatcher checks o, fills in defaults and returns a Dispatcher.
func NewDispatcher(o Options) (*Dispatcher, error) {
	if o.Store == nil {
		return nil, errors.New("notify: dispatcher needs a store")
	}
	switch {
	case o.Lease < 0:
		return nil, fmt.Errorf("notify: lease %s is negative", o.Lease)
	case o.BatchSize < 0:
		return nil, fmt.Errorf("notify: batch size %d is negative", o.BatchSize)
	case o.BackoffBase < 0 || o.BackoffMax < 0:
		return nil, fmt.Errorf("notify: backoff %s..%s is negative", o.BackoffBase, o.BackoffMax)
	case o.MaxAttempts < 0:
		return nil, fmt.Errorf("notify: max attempts %d is negative (0 retries forever)", o.MaxAttempts)
	}
	d := &Dispatcher{
		store:       o.Store,
		channels:    make(map[string]Notifier, len(o.Channels)),
		owner:       o.Owner,
		lease:       cmp.Or(o.Lease, DefaultLease),
		batchSize:   cmp.Or(o.BatchSize, DefaultBatchSize),
		base:        cmp.Or(o.BackoffBase, DefaultBackoffBase),
		max:         cmp.Or(o.BackoffMax, DefaultBackoffMax),
		maxAttempts: o.MaxAttempts,
		now:         o.Now,
		log:         o.Logger,
		rand:        o.Rand,
	}
	if d.max < d.base {
		return nil, fmt.Errorf("notify: backoff max %s is below backoff base %s", d.max, d.base)
	}
	for name, n := range o.Channels {
		if n == nil {
			return nil, fmt.Errorf("notify: channel %q has no notifier", name)
		}
		d.channels[name] = n
	}
	if d.owner == "" {
		d.owner = "puawatch-" + randomHex(8)
	}
	if d.now == nil {
		d.now = time.Now
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	d.log = d.log.With("component", "notify")
	if d.rand == nil {
		var seed [32]byte
		_, _ = rand.Read(seed[:])
		d.rand = mrand.New(mrand.NewChaCha8(seed))
	}
	return d, nil
}

// Owner returns the id this dispatcher claims rows under.
func (d *Dispatcher) Owner() string { return d.owner }

// Run drains the outbox at once, then every `every` and whenever wake
// receives, until ctx is done; it then returns nil. wake may be nil. A
// failed drain (the store is unreachable) is logged and tried again at the
// next tick.
func (d *Dispatcher) Run(ctx context.Context, every time.Duration, wake <-chan struct{}) error {
	if every <= 0 {
		return fmt.Errorf("notify: run interval %s must be positive", every)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if ctx.Err() != nil {
			return nil
		}
		res, err := d.Drain(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			d.log.Error("drain failed", "error", err, "sent", res.Sent, "retried", res.Retried, "dead", res.Dead)
		case res != Result{}:
			d.log.Debug("drained", "sent", res.Sent, "retried", res.Retried, "dead", res.Dead)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-wake:
		}
	}
}

// Drain claims due rows, batch by batch, until none are due: it groups
// them into messages, sends each and marks its rows sent, for retry or
// dead. It returns the counts and, if ctx is cancelled, ctx's error: it
// then stops claiming, and rows claimed but not sent lapse back when their
// lease runs out (nothing is lost). A store error while claiming ends the
// drain with that error; one while marking is logged and its rows lapse.
func (d *Dispatcher) Drain(ctx context.Context) (Result, error) {
	var res Result
	for {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		now := d.now()
		items, err := d.store.ClaimOutbox(ctx, store.Claim{Owner: d.owner, Now: now, Lease: d.lease, Limit: d.batchSize})
		if err != nil {
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			return res, fmt.Errorf("notify: claim outbox rows: %w", err)
		}
		if len(items) == 0 {
			return res, nil
		}
		d.process(ctx, items, now.Add(d.lease), &res)
	}
}

// group is the rows of one message.
type group struct {
	channel  string
	key      string
	newBatch bool // a fresh digest: SetBatch before sending
	digest   bool // sent as a digest (a batch), even of one detection
	items    []store.OutboxItem
}

func (g *group) ids() []int64 {
	ids := make([]int64, len(g.items))
	for i, it := range g.items {
		ids[i] = it.ID
	}
	return ids
}

func (g *group) first() time.Time { return g.items[0].Detection.CreatedAt }

// process sends one claimed batch. leaseEnd is when its claims lapse.
func (d *Dispatcher) process(ctx context.Context, items []store.OutboxItem, leaseEnd time.Time, res *Result) {
	var groups []*group
	byChannel := map[string][]store.OutboxItem{}
	var chanOrder []string
	for _, it := range items {
		if _, ok := byChannel[it.Channel]; !ok {
			chanOrder = append(chanOrder, it.Channel)
		}
		byChannel[it.Channel] = append(byChannel[it.Channel], it)
	}
	for _, name := range chanOrder {
		rows := byChannel[name]
		if _, ok := d.channels[name]; !ok {
			reason := fmt.Sprintf("channel %s is not configured", name)
			g := &group{channel: name, items: rows}
			if err := d.store.MarkDead(ctx, g.ids(), reason, d.now()); err != nil {
				d.log.Error("mark rows dead", "channel", name, "rows", len(rows), "error", err)
				continue
			}
			res.Dead += len(rows)
			for _, it := range rows {
				d.log.Error("dead letter", "channel", name, "tenant_id", it.TenantID, "event_id", it.EventID,
					"attempt", it.Attempts+1, "reason", reason)
			}
			continue
		}
		groups = append(groups, groupRows(name, rows)...)
	}
	for _, g := range groups {
		sortByCreated(g.items)
	}
	slices.SortStableFunc(groups, func(a, b *group) int {
		return cmp.Or(a.first().Compare(b.first()), cmp.Compare(a.key, b.key))
	})
	for _, g := range groups {
		if ctx.Err() != nil {
			return // the rest lapse back
		}
		d.send(ctx, g, leaseEnd, res)
	}
}

// groupRows makes the messages of one channel's claimed rows. Rows that
// already joined a batch (a crash after SetBatch) are sent in it again,
// under the same key. Rows with a group key go by group: a group of more
// than its DigestAbove rows becomes digests of at most MaxPerMessage, a
// smaller one a message per row. A row without a group key is a message
// of its own.
func groupRows(name string, rows []store.OutboxItem) []*group {
	var groups []*group
	single := func(it store.OutboxItem) {
		groups = append(groups, &group{channel: name, key: it.EventID + "." + name, items: []store.OutboxItem{it}})
	}
	batches := map[string]*group{}
	byKey := map[string][]store.OutboxItem{}
	var keyOrder []string
	for _, it := range rows {
		if it.BatchID != "" {
			g, ok := batches[it.BatchID]
			if !ok {
				g = &group{channel: name, key: it.BatchID, digest: true}
				batches[it.BatchID] = g
				groups = append(groups, g)
			}
			g.items = append(g.items, it)
			continue
		}
		if it.GroupKey == "" {
			single(it)
			continue
		}
		if _, ok := byKey[it.GroupKey]; !ok {
			keyOrder = append(keyOrder, it.GroupKey)
		}
		byKey[it.GroupKey] = append(byKey[it.GroupKey], it)
	}
	for _, key := range keyOrder {
		rows := byKey[key]
		first := rows[0]
		if len(rows) <= first.DigestAbove {
			for _, it := range rows {
				single(it)
			}
			continue
		}
		sortByCreated(rows)
		for chunk := range slices.Chunk(rows, cmp.Or(max(first.MaxPerMessage, 0), store.DefaultMaxPerMessage)) {
			groups = append(groups, &group{channel: name, key: newBatchID(), newBatch: true, digest: true, items: chunk})
		}
	}
	return groups
}

func sortByCreated(items []store.OutboxItem) {
	slices.SortStableFunc(items, func(a, b store.OutboxItem) int {
		return cmp.Or(a.Detection.CreatedAt.Compare(b.Detection.CreatedAt),
			cmp.Compare(a.EventID, b.EventID), cmp.Compare(a.ID, b.ID))
	})
}

// send sends one message and marks its rows.
func (d *Dispatcher) send(ctx context.Context, g *group, leaseEnd time.Time, res *Result) {
	notifier := d.channels[g.channel]
	first := g.items[0]
	attempt := 0
	for _, it := range g.items {
		attempt = max(attempt, it.Attempts+1)
	}
	log := d.log.With("channel", g.channel, "tenant_id", first.TenantID, "key", g.key, "attempt", attempt)
	if len(g.items) == 1 {
		log = log.With("event_id", first.EventID)
	} else {
		// A digest's line names its size and its first few events, not
		// every id: it stays short however large the digest.
		evs := make([]string, 0, logEventIDs)
		for _, it := range g.items[:min(len(g.items), logEventIDs)] {
			evs = append(evs, it.EventID)
		}
		log = log.With("events", len(g.items), "event_id", evs)
	}

	// A message not sent before the lease runs out would let another
	// owner claim and send the same rows: when little of the lease is
	// left, leave them to lapse instead. The send itself must end before
	// the lease does.
	left := leaseEnd.Sub(d.now())
	if left < d.lease/10 {
		log.Warn("lease ran out before sending; the rows will be claimed again")
		return
	}
	ids := g.ids()
	if g.newBatch {
		if err := d.store.SetBatch(ctx, ids, g.key); err != nil {
			log.Error("set batch; the rows will be claimed again", "error", err)
			return
		}
	}
	m := Message{
		Key:        g.key,
		Channel:    g.channel,
		TenantID:   first.TenantID,
		TenantName: cmp.Or(first.Detection.TenantName, first.TenantID),
		Digest:     g.digest,
		Detections: make([]store.Detection, len(g.items)),
	}
	for i, it := range g.items {
		m.Detections[i] = it.Detection
		if m.Detections[i].EventID == "" {
			m.Detections[i].EventID = it.EventID
		}
		if m.Detections[i].TenantID == "" {
			m.Detections[i].TenantID = it.TenantID
		}
	}

	sendCtx, cancel := context.WithTimeout(ctx, left)
	err := notifier.Notify(sendCtx, m)
	cancel()
	now := d.now()
	if err != nil && ctx.Err() != nil {
		return // cancelled mid-send: the rows lapse back
	}
	// The outcome is recorded even if ctx is cancelled meanwhile: a
	// message the channel accepted must not be sent again.
	mctx, mcancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer mcancel()
	if err == nil {
		if err := d.store.MarkSent(mctx, ids, now); err != nil {
			log.Error("sent, but marking the rows sent failed; they will be sent again", "error", err)
			return
		}
		res.Sent += len(ids)
		log.Info("sent", "rows", len(ids))
		return
	}
	errText := truncate(err.Error()) // the row names its channel
	if IsPermanent(err) {
		if err := d.store.MarkDead(mctx, ids, errText, now); err != nil {
			log.Error("mark rows dead", "error", err)
			return
		}
		res.Dead += len(ids)
		log.Error("permanent failure; rows moved to dead letters", "rows", len(ids), "error", err)
		return
	}

	// Rows that used up their attempts die; the rest are retried.
	var retry, dead []int64
	for _, it := range g.items {
		if d.maxAttempts > 0 && it.Attempts+1 >= d.maxAttempts {
			dead = append(dead, it.ID)
		} else {
			retry = append(retry, it.ID)
		}
	}
	if len(dead) > 0 {
		reason := truncate(fmt.Sprintf("%s: gave up after %d attempts: %v", g.channel, d.maxAttempts, err))
		if err := d.store.MarkDead(mctx, dead, reason, now); err != nil {
			log.Error("mark rows dead", "error", err)
		} else {
			res.Dead += len(dead)
			log.Error("attempts used up; rows moved to dead letters", "rows", len(dead), "error", err)
		}
	}
	if len(retry) == 0 {
		return
	}
	delay := d.backoff(attempt)
	if ra, ok := errors.AsType[*RetryAfterError](err); ok {
		// The channel's Retry-After is honoured, but never beyond
		// BackoffMax: one hostile answer must not park rows for years.
		delay = min(max(delay, ra.After), d.max)
	}
	next := now.Add(delay)
	if err := d.store.MarkRetry(mctx, retry, next, errText); err != nil {
		log.Error("mark rows for retry", "error", err)
		return
	}
	res.Retried += len(retry)
	log.Warn("send failed; will retry", "rows", len(retry), "next_at", next, "error", err)
}

// backoff is the delay after the attempt-th failure (1 for the first).
func (d *Dispatcher) backoff(attempt int) time.Duration {
	d.randMu.Lock()
	r := d.rand.Float64()
	d.randMu.Unlock()
	return backoff.Delay(attempt-1, d.base, d.max, r)
}

func truncate(s string) string {
	if len(s) <= maxErrorText {
		return s
	}
	cut := maxErrorText
	for cut > 0 && s[cut]&0xC0 == 0x80 { // do not split a UTF-8 sequence
		cut--
	}
	return s[:cut] + "…"
}

// newBatchID returns a new random digest batch id.
func newBatchID() string { return "b" + randomHex(16) }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
