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
	"strings"
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

// batchRows bounds the detections handed to a BatchNotifier in one call
// (whole messages: a larger message goes alone), so that what it buffers
// stays small however large the claim.
const batchRows = 1000

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
	// Gone, when set, reports whether the instance that claimed rows as
	// owner has ended (a process that no longer runs): at the start of a
	// Drain the rows such an owner still holds are taken over at once
	// instead of waiting for their lease. Nil: claims only lapse.
	Gone func(owner string) bool
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
	// Observer is told of every send and every row moved to the dead
	// letters (the metrics). The zero value tells nobody.
	Observer Observer
}

// Observer is told what the sends come to; a nil field is not told. The
// calls are made on the dispatcher's goroutine and must return at once.
type Observer struct {
	// Send is told of each message handed to a receiver: err nil when
	// the receiver accepted it, and how long the receiver took. A send
	// cut short by a stop of the dispatcher is not told.
	Send func(receiver string, err error, d time.Duration)
	// Dead is told of rows moved to the dead letters: a permanent
	// failure, the attempts used up, or a receiver not configured.
	Dead func(receiver string, rows int)
}

func (o Observer) send(receiver string, err error, d time.Duration) {
	if o.Send != nil {
		o.Send(receiver, err, d)
	}
}

func (o Observer) dead(receiver string, rows int) {
	if o.Dead != nil && rows > 0 {
		o.Dead(receiver, rows)
	}
}

// Result counts the outbox rows (detections) a Drain handled.
type Result struct {
	Sent, Retried, Dead int
}

// Plus returns the sums of r and o.
func (r Result) Plus(o Result) Result {
	return Result{Sent: r.Sent + o.Sent, Retried: r.Retried + o.Retried, Dead: r.Dead + o.Dead}
}

// Dispatcher sends due outbox rows through their channels. It is safe for
// concurrent use, and several dispatchers (processes) may share one store:
// claims keep them from sending the same row twice.
type Dispatcher struct {
	store       store.Store
	channels    map[string]Notifier
	owner       string
	gone        func(string) bool
	lease       time.Duration
	batchSize   int
	base, max   time.Duration
	maxAttempts int
	now         func() time.Time
	log         *slog.Logger
	obs         Observer

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
		gone:        o.Gone,
		lease:       cmp.Or(o.Lease, DefaultLease),
		batchSize:   cmp.Or(o.BatchSize, DefaultBatchSize),
		base:        cmp.Or(o.BackoffBase, DefaultBackoffBase),
		max:         cmp.Or(o.BackoffMax, DefaultBackoffMax),
		maxAttempts: o.MaxAttempts,
		now:         o.Now,
		log:         o.Logger,
		rand:        o.Rand,
		obs:         o.Observer,
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
// them into messages, stores each message's composition (SetBatches),
// sends it and marks its rows sent, for retry or dead. Rows that already
// belong to a message (a crash between sending and marking) are sent in
// that message again, under its key, and no new row joins it. First it
// takes over the claims of owners that are gone (Options.Gone).
//
// It returns the counts and, if ctx is cancelled, ctx's error: it then
// stops claiming and gives back the claims of the rows it has not sent
// (ReleaseClaims), so that another instance sends them at once. A store
// error while claiming or composing ends the drain with that error; one
// while marking is logged and its rows lapse.
func (d *Dispatcher) Drain(ctx context.Context) (Result, error) {
	var res Result
	if err := d.takeOver(ctx); err != nil {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		return res, err
	}
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
		if err := d.process(ctx, items, now.Add(d.lease), &res); err != nil {
			return res, err
		}
	}
}

// takeOver releases the claims of the owners that are gone.
func (d *Dispatcher) takeOver(ctx context.Context) error {
	if d.gone == nil {
		return nil
	}
	hs, err := d.store.Holders(ctx, d.now())
	if err != nil {
		return fmt.Errorf("notify: list claim holders: %w", err)
	}
	for _, h := range hs {
		if h.Owner == d.owner || !d.gone(h.Owner) {
			continue
		}
		n, err := d.store.ReleaseClaims(ctx, h.Owner, nil)
		if err != nil {
			return fmt.Errorf("notify: take over the claims of %s: %w", h.Owner, err)
		}
		if n > 0 {
			d.log.Warn("took over the rows of an instance that is gone", "holder", h.Owner, "rows", n, "claimed_until", h.Until)
		}
	}
	return nil
}

// AwaitHeld sends what other instances hold once they let go of it: it
// drains, and while other instances hold live claims it waits a moment
// and drains again (their claims may have lapsed, or their holder be
// gone), until no other instance holds a row, at most one lease
// (Options.Lease) of real time. It returns what it sent, and an error
// naming the holders when rows are still held at the end, or ctx's error
// when ctx is done first. run --once calls it after Drain, so that it
// does not end with rows another instance was sending.
func (d *Dispatcher) AwaitHeld(ctx context.Context) (Result, error) {
	var res Result
	deadline := time.NewTimer(d.lease)
	defer deadline.Stop()
	poll := min(d.lease/10, time.Second)
	for {
		// Holders before the drain: rows not held at this point are
		// claimable by the drain that follows.
		hs, err := d.store.Holders(ctx, d.now())
		if err != nil {
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			return res, fmt.Errorf("notify: list claim holders: %w", err)
		}
		r, err := d.Drain(ctx)
		res = res.Plus(r)
		if err != nil {
			return res, err
		}
		var others []store.Holder
		for _, h := range hs {
			if h.Owner != d.owner && !(d.gone != nil && d.gone(h.Owner)) {
				others = append(others, h)
			}
		}
		if len(others) == 0 {
			return res, nil
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return res, ctx.Err()
		case <-deadline.C:
			t.Stop()
			var b strings.Builder
			for i, h := range others {
				if i > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "%d held by %s until %s", h.Rows, h.Owner, h.Until.Format(time.RFC3339))
			}
			return res, fmt.Errorf("notify: outbox rows still claimed by other instances after waiting %s: %s; "+
				"they are sent when those instances finish, or by the next run once the claims lapse", d.lease, b.String())
		case <-t.C:
		}
	}
}

// group is the rows of one message.
type group struct {
	channel string
	key     string
	digest  bool // sent as a digest (a batch), even of one detection
	items   []store.OutboxItem
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
// The claims of rows it did not send or mark (ctx cancelled, the lease
// about to run out) are given back before it returns. It returns an error
// only when the messages could not be composed.
func (d *Dispatcher) process(ctx context.Context, items []store.OutboxItem, leaseEnd time.Time, res *Result) error {
	var (
		groups    []*group
		compose   []store.Batch
		unsettled = map[int64]bool{}
	)
	for _, it := range items {
		unsettled[it.ID] = true
	}
	defer func() { d.release(ctx, unsettled) }()

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
			if err := d.store.MarkDead(ctx, d.owner, g.ids(), reason, d.now()); err != nil {
				d.log.Error("mark rows dead", "channel", name, "rows", len(rows), "error", err)
				continue
			}
			settle(unsettled, g)
			res.Dead += len(rows)
			d.obs.dead(name, len(rows))
			for _, it := range rows {
				d.log.Error("dead letter", "channel", name, "tenant_id", it.TenantID, "tenant", it.Detection.TenantName,
					"event_id", it.EventID, "attempt", it.Attempts+1, "error", reason)
			}
			continue
		}
		gs, fresh := groupRows(name, rows)
		groups = append(groups, gs...)
		for _, g := range fresh {
			compose = append(compose, store.Batch{ID: g.key, Digest: g.digest, Rows: g.ids()})
		}
	}
	// Every message's composition is stored before any is sent: what goes
	// out is what a redelivery sends again.
	if len(compose) > 0 {
		if err := d.store.SetBatches(ctx, d.owner, compose); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("notify: compose %d messages: %w", len(compose), err)
		}
	}
	for _, g := range groups {
		sortByCreated(g.items)
	}
	slices.SortStableFunc(groups, func(a, b *group) int {
		return cmp.Or(a.first().Compare(b.first()), cmp.Compare(a.key, b.key))
	})
	// A channel that takes several messages at once (BatchNotifier) gets
	// its messages of this claim together, at most batchRows detections
	// a call, at the place of the first of them; the others one by one.
	sent := make(map[*group]bool, len(groups))
	for i, g := range groups {
		if sent[g] {
			continue
		}
		if ctx.Err() != nil {
			return nil // the rest is released
		}
		bn, ok := d.channels[g.channel].(BatchNotifier)
		if !ok {
			sent[g] = true
			if d.send(ctx, g, leaseEnd, res) {
				settle(unsettled, g)
			}
			continue
		}
		var (
			batch []*group
			rows  int
		)
		for _, o := range groups[i:] {
			if o.channel != g.channel || sent[o] {
				continue
			}
			if len(batch) > 0 && rows+len(o.items) > batchRows {
				break
			}
			batch = append(batch, o)
			rows += len(o.items)
			sent[o] = true
		}
		for _, o := range d.sendBatch(ctx, bn, batch, leaseEnd, res) {
			settle(unsettled, o)
		}
	}
	return nil
}

func settle(unsettled map[int64]bool, g *group) {
	for _, it := range g.items {
		delete(unsettled, it.ID)
	}
}

// release gives back the claims of the rows in ids, even when ctx is
// cancelled: that is when it matters.
func (d *Dispatcher) release(ctx context.Context, ids map[int64]bool) {
	if len(ids) == 0 {
		return
	}
	list := make([]int64, 0, len(ids))
	for id := range ids {
		list = append(list, id)
	}
	slices.Sort(list)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer cancel()
	n, err := d.store.ReleaseClaims(rctx, d.owner, list)
	if err != nil {
		d.log.Error("release claims; the rows come back when their lease lapses", "rows", len(list), "error", err)
		return
	}
	d.log.Debug("released claims", "rows", n)
}

// groupRows makes the messages of one channel's claimed rows: first the
// messages rows already belong to (a crash after composing), each under
// its key with the rows it has, then new messages of the rest, which it
// also returns as fresh (to be composed before sending). Rows with a
// group key go by group: a group of more than its DigestAbove rows
// becomes digests of at most MaxPerMessage under new keys, a smaller one
// a message per row. A row without a group key is a message of its own.
// A message of one row alone is keyed by its event and channel.
func groupRows(name string, rows []store.OutboxItem) (all, fresh []*group) {
	single := func(it store.OutboxItem) {
		g := &group{channel: name, key: it.EventID + "." + name, items: []store.OutboxItem{it}}
		all, fresh = append(all, g), append(fresh, g)
	}
	batches := map[string]*group{}
	byKey := map[string][]store.OutboxItem{}
	var keyOrder []string
	for _, it := range rows {
		if it.BatchID != "" {
			g, ok := batches[it.BatchID]
			if !ok {
				g = &group{channel: name, key: it.BatchID, digest: it.Digest}
				batches[it.BatchID] = g
				all = append(all, g)
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
			g := &group{channel: name, key: newBatchID(), digest: true, items: chunk}
			all, fresh = append(all, g), append(fresh, g)
		}
	}
	return all, fresh
}

func sortByCreated(items []store.OutboxItem) {
	slices.SortStableFunc(items, func(a, b store.OutboxItem) int {
		return cmp.Or(a.Detection.CreatedAt.Compare(b.Detection.CreatedAt),
			cmp.Compare(a.EventID, b.EventID), cmp.Compare(a.ID, b.ID))
	})
}

// outgoing is one message about to be sent: its rows, the message, the
// attempt it is and the logger of its lines.
type outgoing struct {
	g       *group
	m       Message
	attempt int
	log     *slog.Logger
}

// prepare makes the message of g.
func (d *Dispatcher) prepare(g *group) outgoing {
	first := g.items[0]
	attempt := 0
	for _, it := range g.items {
		attempt = max(attempt, it.Attempts+1)
	}
	log := d.log.With("channel", g.channel, "tenant_id", first.TenantID, "tenant", first.Detection.TenantName, "key", g.key, "attempt", attempt)
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
	return outgoing{g: g, m: m, attempt: attempt, log: log}
}

// leaseLeft is how long the claims that end at leaseEnd still hold, and
// whether that is enough to start a send. A message not sent before the
// lease runs out would let another owner claim and send the same rows:
// when little of the lease is left, the rows are given back instead. The
// send itself must end before the lease does.
func (d *Dispatcher) leaseLeft(leaseEnd time.Time) (time.Duration, bool) {
	left := leaseEnd.Sub(d.now())
	return left, left >= d.lease/10
}

// send sends one message and marks its rows. It reports whether the rows
// are settled: marked, or left to lapse after marking failed. Rows it did
// not send (the lease about to run out, ctx cancelled mid-send) are not:
// the caller gives their claims back.
func (d *Dispatcher) send(ctx context.Context, g *group, leaseEnd time.Time, res *Result) bool {
	o := d.prepare(g)
	left, ok := d.leaseLeft(leaseEnd)
	if !ok {
		o.log.Warn("lease ran out before sending; the rows will be claimed again")
		return false
	}
	sendCtx, cancel := context.WithTimeout(ctx, left)
	sent := time.Now()
	err := d.channels[g.channel].Notify(sendCtx, o.m)
	took := time.Since(sent)
	cancel()
	now := d.now()
	if err != nil && ctx.Err() != nil {
		return false // cancelled mid-send: the rows are given back
	}
	d.obs.send(g.channel, err, took)
	// The outcome is recorded even if ctx is cancelled meanwhile: a
	// message the channel accepted must not be sent again.
	mctx, mcancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer mcancel()
	if err == nil {
		d.markSent(mctx, []outgoing{o}, now, res)
	} else {
		d.markFailed(mctx, o, err, now, res)
	}
	return true
}

// sendBatch sends the messages of gs, all of one channel, in one call of
// bn, and marks their rows: the rows of every message bn accepted in one
// MarkSent, the others each as its error says. It returns the groups
// settled (see send); none when the lease is about to run out.
func (d *Dispatcher) sendBatch(ctx context.Context, bn BatchNotifier, gs []*group, leaseEnd time.Time, res *Result) []*group {
	outs := make([]outgoing, len(gs))
	msgs := make([]Message, len(gs))
	for i, g := range gs {
		outs[i] = d.prepare(g)
		msgs[i] = outs[i].m
	}
	left, ok := d.leaseLeft(leaseEnd)
	if !ok {
		for _, o := range outs {
			o.log.Warn("lease ran out before sending; the rows will be claimed again")
		}
		return nil
	}
	sendCtx, cancel := context.WithTimeout(ctx, left)
	sent := time.Now()
	errs := bn.NotifyBatch(sendCtx, msgs)
	took := time.Since(sent)
	cancel()
	now := d.now()
	if len(errs) != len(msgs) {
		// A notifier that does not answer for every message has
		// accepted none that can be told: every one is retried.
		err := fmt.Errorf("%s: the notifier answered %d results for %d messages", gs[0].channel, len(errs), len(msgs))
		errs = make([]error, len(msgs))
		for i := range errs {
			errs[i] = err
		}
	}
	mctx, mcancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer mcancel()
	var (
		accepted []outgoing
		settled  []*group
	)
	for i, o := range outs {
		err := errs[i]
		if err != nil && ctx.Err() != nil {
			continue // cancelled mid-send: the rows are given back
		}
		// Each message took the whole call: it was accepted when the
		// call ended.
		d.obs.send(o.g.channel, err, took)
		settled = append(settled, o.g)
		if err == nil {
			accepted = append(accepted, o)
			continue
		}
		d.markFailed(mctx, o, err, now, res)
	}
	d.markSent(mctx, accepted, now, res)
	return settled
}

// markSent marks the rows of the messages outs sent, in one MarkSent,
// and logs a line per message. When marking fails the rows are left to
// lapse and are sent again, under the same keys.
func (d *Dispatcher) markSent(ctx context.Context, outs []outgoing, now time.Time, res *Result) {
	if len(outs) == 0 {
		return
	}
	var ids []int64
	for _, o := range outs {
		ids = append(ids, o.g.ids()...)
	}
	if err := d.store.MarkSent(ctx, d.owner, ids, now); err != nil {
		log := outs[0].log
		if len(outs) > 1 {
			log = d.log.With("channel", outs[0].g.channel, "messages", len(outs), "rows", len(ids))
		}
		if errors.Is(err, store.ErrNotHeld) {
			log.Warn("sent, but rows were claimed by another instance meanwhile; it sends them again under the same key", "error", err)
		} else {
			log.Error("sent, but marking the rows sent failed; they will be sent again", "error", err)
		}
		return
	}
	res.Sent += len(ids)
	for _, o := range outs {
		o.log.Info("sent", "rows", len(o.g.items))
	}
}

// markFailed records a failed send of o: its rows dead when the failure
// is permanent or the attempts are used up, else due again after a
// backoff.
func (d *Dispatcher) markFailed(ctx context.Context, o outgoing, err error, now time.Time, res *Result) {
	g, log, ids := o.g, o.log, o.g.ids()
	errText := truncate(err.Error()) // the row names its channel
	if IsPermanent(err) {
		if err := d.store.MarkDead(ctx, d.owner, ids, errText, now); err != nil {
			log.Error("mark rows dead", "error", err)
			return
		}
		res.Dead += len(ids)
		d.obs.dead(g.channel, len(ids))
		log.Error("permanent failure; rows moved to dead letters", "rows", len(ids), "error", err)
		return
	}

	// A message that used up its attempts dies whole; otherwise it is
	// retried whole: its rows stay together.
	if d.maxAttempts > 0 && o.attempt >= d.maxAttempts {
		reason := truncate(fmt.Sprintf("%s: gave up after %d attempts: %v", g.channel, d.maxAttempts, err))
		if err := d.store.MarkDead(ctx, d.owner, ids, reason, now); err != nil {
			log.Error("mark rows dead", "error", err)
			return
		}
		res.Dead += len(ids)
		d.obs.dead(g.channel, len(ids))
		log.Error("attempts used up; rows moved to dead letters", "rows", len(ids), "error", err)
		return
	}
	delay := d.backoff(o.attempt)
	if ra, ok := errors.AsType[*RetryAfterError](err); ok {
		// The channel's Retry-After is honoured, but never beyond
		// BackoffMax: one hostile answer must not park rows for years.
		delay = min(max(delay, ra.After), d.max)
	}
	next := now.Add(delay)
	if err := d.store.MarkRetry(ctx, d.owner, ids, next, errText); err != nil {
		log.Error("mark rows for retry", "error", err)
		return
	}
	res.Retried += len(ids)
	log.Warn("send failed; will retry", "rows", len(ids), "next_at", next, "error", err)
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
