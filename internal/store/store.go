// Package store holds puawatch's durable state and the Store interface
// every backend implements: tenants with their cursors, detections keyed by
// Sophos event id, and the outbox of notifications to send.
//
// Two rules make "every detection, exactly once" hold across crashes:
// CommitPage stores a page's new detections, their outbox rows and the
// tenant's new cursor in one transaction, so the cursor never moves ahead
// of what is stored; and an outbox row is marked sent only after its
// channel accepted the message. A message's composition (its key and its
// rows, SetBatches) is stored before it is sent, so a message sent again
// after a crash in between is the same message under the same key.
package store

import (
	"context"
	"errors"
	"strings"
	"time"
)

// IsPostgresURL reports whether dsn (store.db) names a PostgreSQL
// database: a postgres:// or postgresql:// URL, the scheme in any case.
// Anything else is a SQLite file path or file: URI.
func IsPostgresURL(dsn string) bool {
	scheme, _, ok := strings.Cut(dsn, "://")
	return ok && (strings.EqualFold(scheme, "postgres") || strings.EqualFold(scheme, "postgresql"))
}

// Detection kinds.
const (
	KindDetection = "detection" // a PUA was detected
	KindFollowUp  = "followup"  // clean-up failed, restore, ...: reported as its own kind of message
)

// Outbox states.
const (
	StatePending = "pending"
	StateSent    = "sent"
	StateDead    = "dead"
)

// ErrNotFound is returned for an id the store does not hold.
var ErrNotFound = errors.New("not found")

// ErrNotHeld is returned for outbox rows the caller does not hold: another
// owner claimed them after the caller's lease lapsed, or they were
// released, sent, killed or requeued meanwhile.
var ErrNotHeld = errors.New("not held by this owner")

// Tenant is a tenant puawatch reads, with its progress.
type Tenant struct {
	ID        string
	Name      string
	Region    string
	APIHost   string
	Cursor    string    // the SIEM cursor after the last stored page; "" before the first
	LastRead  time.Time // when a read last reached the end of the feed (has_more false)
	OverlapAt time.Time // when the last overlap re-read ended
	LastError string    // the last error reading it; "" after a good read
	ErrorAt   time.Time
	FirstSeen time.Time
	Removed   bool // no longer listed by Sophos Central or excluded by config
	UpdatedAt time.Time
}

// LostWindow is a span of a tenant's SIEM events that may never have been
// read: the API keeps events for 24 hours, and puawatch had not read past
// From when the API dropped them (the watcher was down, the tenant could
// not be read, or the API refused the stored cursor). Events created in
// [From, To), on the API's clock, may be lost.
type LostWindow struct {
	TenantID   string
	From, To   time.Time
	Reason     string    // how it came about, for people
	DetectedAt time.Time // when puawatch first noticed (the local clock)
}

// Detection is one PUA detection (or follow-up) event as stored.
type Detection struct {
	EventID      string // the Sophos event id: the key
	TenantID     string
	TenantName   string
	Kind         string // KindDetection or KindFollowUp
	Type         string
	Name         string // the event's message
	Severity     string
	Threat       string
	Location     string // host name
	User         string // the event's source, DOMAIN\user or "n/a"
	EndpointID   string
	EndpointType string
	Path         string // file path, when the event names one
	When         time.Time
	CreatedAt    time.Time
	SeenAt       time.Time // when puawatch stored it
	Raw          []byte    // the event as the API sent it (JSON)
}

// Delivery is where one detection goes: a receiver (channel) and how it
// is grouped there.
type Delivery struct {
	Channel string
	// GroupKey gathers detections into one message ("" or unique: alone).
	GroupKey string
	// Wait delays a group's first message so that more can join it;
	// Interval spaces the group's later messages.
	Wait, Interval time.Duration
	// DigestAbove: a group with more due rows than this is sent as
	// digests of at most MaxPerMessage detections; with this many or
	// fewer, one message each. MaxPerMessage 0 is DefaultMaxPerMessage.
	DigestAbove, MaxPerMessage int
}

// DefaultMaxPerMessage caps a digest whose Delivery leaves MaxPerMessage 0.
const DefaultMaxPerMessage = 100

// PageCommit is what one page of a tenant's feed changes.
type PageCommit struct {
	TenantID   string
	Cursor     string      // the page's next_cursor; "" keeps the stored cursor (overlap re-reads)
	Detections []Detection // matched events of the page; those stored before are skipped
	// Route says where each new detection goes: an outbox row per
	// Delivery. Nil (or no Delivery) stores the detection without
	// notifying (poll.initial silent).
	Route     func(Detection) []Delivery
	EndOfFeed bool // has_more was false: LastRead is set to At
	At        time.Time
}

// OutboxItem is one notification of one detection on one channel.
type OutboxItem struct {
	ID        int64
	EventID   string
	TenantID  string
	Channel   string
	State     string // StatePending, StateSent or StateDead
	Attempts  int
	NextAt    time.Time // not sent before then
	LastError string
	// BatchID is the key of the message the row is sent in (e-mail
	// Message-ID, webhook Idempotency-Key, JSONL key), "" until the
	// message is composed (SetBatches). Once set it never changes: every
	// redelivery sends the same message, with the same rows.
	BatchID  string
	Digest   bool   // the row's message is sent as a digest, even of one detection
	GroupKey string // rows of one channel and group key go out together
	// DigestAbove and MaxPerMessage are the row's Delivery settings.
	DigestAbove, MaxPerMessage int
	CreatedAt                  time.Time
	SentAt                     time.Time
	Detection                  Detection
}

// Claim asks for outbox rows that are due.
type Claim struct {
	Owner string        // who claims (instance id)
	Now   time.Time     // rows with NextAt <= Now and no live claim
	Lease time.Duration // the claim lapses after this, so a crashed owner's rows come back
	Limit int           // at most this many rows
}

// Batch is the composition of one message: the key it is sent under and
// its rows, all of one channel.
type Batch struct {
	ID     string // the message key; unique: no other row carries it
	Digest bool   // sent as a digest, even of one detection
	Rows   []int64
}

// Holder is an owner holding live claims on pending outbox rows.
type Holder struct {
	Owner string
	Rows  int       // how many rows it holds
	Until time.Time // when the last of its claims lapses
}

// OutboxFilter selects outbox rows for listing.
type OutboxFilter struct {
	States  []string // none: all
	Channel string   // the receiver's rows only; "": every receiver's
	Limit   int      // 0: no limit
}

// OutboxCount is how many outbox rows one receiver (channel) has in one
// state, counted without loading them (OutboxCounts).
type OutboxCount struct {
	Channel string
	State   string // StatePending, StateSent or StateDead
	Rows    int
	// Failed counts the rows whose last attempt failed: pending rows
	// waiting for a retry (Attempts > 0) and dead rows with an attempt.
	Failed int
	// Since counts the rows whose NextAt is at or after the since given
	// to OutboxCounts: of dead rows, those that died since then (a dead
	// row keeps the time it died in NextAt).
	Since int
	// FirstDue is the earliest NextAt of the rows: of pending rows, when
	// the one waiting longest became due.
	FirstDue time.Time
	// LastError is the reason of the most recent failure among pending
	// or dead rows (the LastError of the row with the latest NextAt that
	// has one, the highest id on a tie); "" when none has one, and for
	// sent rows (their failures are over).
	LastError string
}

// DetectionFilter selects detections for listing.
type DetectionFilter struct {
	TenantID string
	Since    time.Time
	Limit    int // 0: no limit
}

// Store is puawatch's state. Implementations are safe for concurrent use
// by several goroutines and several processes sharing the database.
//
// Contract details every backend keeps (storetest checks them):
//   - Times come back in UTC truncated to the millisecond; a zero
//     time.Time is stored as "none" and comes back zero.
//   - Text is stored as valid UTF-8 without NUL (PostgreSQL text cannot
//     hold NUL): invalid bytes and NUL become U+FFFD, so one odd event
//     cannot wedge a tenant's feed. Everything else (quotes, control
//     characters, CR/LF, emoji, 10 KB paths) round-trips byte-exact.
//     Detection.Raw is kept byte-exact.
//   - Outbox methods taking ids update the rows the store holds and
//     return an error wrapping ErrNotFound that names the others. An
//     empty ids list is a no-op.
//   - A row is held by the owner that claimed it last, from ClaimOutbox
//     until MarkSent, MarkRetry, MarkDead, ReleaseClaims or Requeue
//     releases it, its lease live or lapsed: a lapsed claim is held until
//     another owner claims the row. SetBatches, MarkSent, MarkRetry and
//     MarkDead change only rows the caller (owner) holds; the others are
//     left as they are and named in an error wrapping ErrNotHeld, so an
//     instance whose lease lapsed cannot mark rows another one reclaimed.
//     An empty owner is an error.
type Store interface {
	// UpsertTenants adds tenants and updates their name, region and
	// apiHost; it keeps cursors and progress (the progress fields of ts
	// are ignored). New tenants get FirstSeen = at. Tenants not in the
	// list are marked Removed (and unmarked when they come back). An empty
	// list is taken as "no information" and changes nothing, so a bad
	// listing cannot mark every tenant removed. An empty ID is an error.
	UpsertTenants(ctx context.Context, ts []Tenant, at time.Time) error
	// Tenants lists the stored tenants, removed ones included.
	Tenants(ctx context.Context) ([]Tenant, error)
	// Tenant returns one stored tenant, as Tenants lists it; an error
	// wrapping ErrNotFound for an id not stored.
	Tenant(ctx context.Context, id string) (Tenant, error)
	// CommitPage stores a page in one transaction: the detections not
	// stored before (by event id), an outbox row per new detection and
	// channel, and the tenant's cursor. It returns the new detections.
	//
	// The tenant row is created if needed; LastError is cleared; LastRead
	// is set to p.At when p.EndOfFeed; the cursor moves unless p.Cursor is
	// "". A detection with an empty TenantID takes p.TenantID, one with a
	// zero SeenAt takes p.At; an event id repeated within the page counts
	// once, and so does a repeated channel. Outbox rows are pending and
	// due at p.At. The returned detections are as stored (times
	// normalized). A detection with an empty EventID, an empty channel
	// name or a zero p.At make the commit fail. If it fails nothing is
	// written: not the cursor, not a detection, not a row.
	CommitPage(ctx context.Context, p PageCommit) ([]Detection, error)
	// SetTenantError records a failed read of a tenant: LastError = msg,
	// ErrorAt = at; "" clears both. A tenant not stored yet is created.
	SetTenantError(ctx context.Context, tenantID, msg string, at time.Time) error
	// SetOverlapAt records the end of an overlap re-read. A tenant not
	// stored yet is created.
	SetOverlapAt(ctx context.Context, tenantID string, at time.Time) error
	// AddLostWindow records that a tenant's events of [w.From, w.To) may
	// be lost. A window of the same tenant and From is the same window:
	// adding it again changes nothing, unless its To is later, which
	// extends the stored window to it (with the new Reason); DetectedAt
	// stays the first. An empty TenantID, a zero From or DetectedAt, or a
	// To not after From is an error.
	AddLostWindow(ctx context.Context, w LostWindow) error
	// LostWindows lists the lost windows of a tenant, or of every tenant
	// with tenantID "", ordered by tenant id and From.
	LostWindows(ctx context.Context, tenantID string) ([]LostWindow, error)

	// ClaimOutbox claims due pending rows (oldest first) for c.Owner until
	// c.Now+c.Lease, atomically: two owners never hold the same row. It
	// takes up to c.Limit rows and then the other due rows of their groups
	// (channel and group key), so a group is never split between claims.
	// Due: NextAt <= c.Now and no claim, or a claim that lapsed
	// (ClaimedUntil <= c.Now). Oldest is the lowest ID, so a retried row
	// keeps its place. Rows come with their Detection. c.Owner must not
	// be empty, c.Limit and c.Lease must be positive and c.Now non-zero.
	ClaimOutbox(ctx context.Context, c Claim) ([]OutboxItem, error)
	// SetBatches composes messages before they are sent, in one
	// transaction: the rows of each batch get its ID as BatchID and its
	// Digest. Every row must be held by owner and in no message yet, and
	// no other row may carry a batch's ID, so that a message, once
	// stored, never changes: no row leaves it and none joins it. If one
	// of these fails, nothing is written: the error wraps ErrNotHeld
	// (rows owner does not hold) or ErrNotFound, or names the row already
	// in a message or the ID in use. BatchID and Digest survive MarkRetry,
	// Requeue, ReleaseClaims and reclaims.
	SetBatches(ctx context.Context, owner string, batches []Batch) error
	// MarkSent marks rows owner holds sent after their channel accepted
	// them: State sent, SentAt = at, claim released. Each row it changes
	// gets an Attempt (AttemptSent, at at) in the same transaction.
	MarkSent(ctx context.Context, owner string, ids []int64, at time.Time) error
	// MarkRetry releases rows owner holds for another attempt at next,
	// counting the attempt and keeping the error. Each row it changes
	// gets an Attempt (AttemptRetry, errText) in the same transaction, at
	// the store's clock (MarkRetry is told only when the next one is due).
	MarkRetry(ctx context.Context, owner string, ids []int64, next time.Time, errText string) error
	// MarkDead moves rows owner holds to the dead-letter state with the
	// reason (LastError), counting the attempt and releasing the claim. A
	// dead row keeps at in NextAt (it is never due; Requeue sets NextAt
	// again). Each row it changes gets an Attempt (AttemptDead, reason,
	// at at) in the same transaction. Rows the marks leave alone get none.
	MarkDead(ctx context.Context, owner string, ids []int64, reason string, at time.Time) error
	// ReleaseClaims gives back owner's claims at once, without waiting
	// for their lease: the rows among ids that owner holds (ids nil:
	// every row it holds) become unclaimed, pending and due as they were,
	// BatchID kept. Rows it does not hold are left alone, without an
	// error. It returns how many rows it released.
	ReleaseClaims(ctx context.Context, owner string, ids []int64) (int, error)
	// Holders lists the owners holding live claims (ClaimedUntil after
	// now) on pending rows, by owner.
	Holders(ctx context.Context, now time.Time) ([]Holder, error)
	// Requeue makes dead (or pending) rows due now again; ids nil: all dead rows.
	// Requeued rows are pending, due at at, unclaimed, with Attempts reset
	// to 0 (a fresh retry budget); LastError, BatchID and Digest are kept
	// (the message is sent again under its key, with the rows requeued). Sent
	// rows are left alone. An empty, non-nil ids changes nothing. It
	// returns how many rows it requeued.
	Requeue(ctx context.Context, ids []int64, at time.Time) (int, error)
	// Outbox lists rows, newest (highest ID) first, with their Detection;
	// f.Channel keeps one receiver's rows.
	Outbox(ctx context.Context, f OutboxFilter) ([]OutboxItem, error)
	// OutboxCounts counts the outbox rows by channel and state, in one
	// GROUP BY query (no row is loaded), ordered by channel and state; a
	// (channel, state) without rows is not listed. since sets what
	// OutboxCount.Since counts (a zero since: none).
	OutboxCounts(ctx context.Context, since time.Time) ([]OutboxCount, error)
	// Detections lists stored detections, newest created_at first (a zero
	// CreatedAt last). f.Since keeps CreatedAt >= f.Since.
	Detections(ctx context.Context, f DetectionFilter) ([]Detection, error)

	// TakeAlarmSlot takes the alarm slot name for a mail sent at now,
	// atomically: it returns true when the slot was never taken or was
	// last taken at or before now-every, and then the slot is taken at
	// now; false (nothing changed) when it was taken within every before
	// now. Of several processes asking at once, one gets the slot. An
	// empty name, a zero now or an every that is not positive is an
	// error.
	TakeAlarmSlot(ctx context.Context, name string, now time.Time, every time.Duration) (bool, error)
	// ReleaseAlarmSlot gives back the slot name taken at at (the mail was
	// not sent), so that the next TakeAlarmSlot gets it; a slot taken
	// since at another time is left alone, and so is a slot not taken.
	ReleaseAlarmSlot(ctx context.Context, name string, at time.Time) error

	Close() error
}
