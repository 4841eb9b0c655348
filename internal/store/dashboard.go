package store

import (
	"context"
	"time"
)

// What the dashboard, `puawatch ack` and `detections --unacked` ask of a
// store. Every backend implements Dashboard beside Store (storetest checks
// both); the queries aggregate in SQL and never load raw events they do
// not show.

// Ack is a detection acknowledged by a person: a team works through its
// detections by acknowledging them.
type Ack struct {
	EventID string
	By      string // who (a user name; untrusted text)
	At      time.Time
	Comment string
}

// Attempt is one delivery attempt of one outbox row: its result and, when
// it failed, the reason (secrets already hidden by the channel).
type Attempt struct {
	OutboxID int64
	Channel  string
	At       time.Time
	Result   string // AttemptSent, AttemptRetry or AttemptDead
	Error    string
}

// Attempt results.
const (
	AttemptSent  = "sent"
	AttemptRetry = "retry"
	AttemptDead  = "dead"
)

// Delivery states of a detection, over all its outbox rows (DetectionQuery.Delivery).
const (
	DeliverySent     = "sent"     // every row sent
	DeliveryPending  = "pending"  // some row pending, none dead
	DeliveryRetrying = "retrying" // some row pending after a failed attempt
	DeliveryDead     = "dead"     // some row dead
	DeliveryNone     = "none"     // no outbox row (stored silently)
)

// DetectionQuery selects, sorts and pages detections for the dashboard.
// Every text filter is a case-insensitive substring match; empty: any.
type DetectionQuery struct {
	Tenant string // tenant id or name
	Type   string
	Threat string
	Host   string // Location
	User   string
	Search string // any of id, tenant, type, threat, host, user, path, name
	Since  time.Time
	Until  time.Time // exclusive; zero: none
	// Delivery is one of the Delivery* states; "": any.
	Delivery string
	// Acked: nil any, true only acknowledged, false only not.
	Acked *bool
	// Sort is a column: created_at (default), tenant, type, threat, host,
	// user, severity; Desc sorts descending (else ascending). Ties are
	// broken by event id in the same direction. Text sorts by bytes,
	// severity by rank (low, medium, high, critical; others lowest). Any
	// other Sort, or an unknown Delivery, is an error.
	Sort string
	Desc bool
	// Offset and Limit page the result; Limit 0: no limit.
	Offset, Limit int
}

// DetectionRow is a detection as the dashboard lists it: the detection
// (Raw left empty), its delivery state and its acknowledgement.
type DetectionRow struct {
	Detection
	Delivery string // a Delivery* state
	Ack      *Ack   // nil: not acknowledged
}

// DetectionPage is a page of a DetectionQuery and the number of rows of
// the whole selection.
type DetectionPage struct {
	Rows  []DetectionRow
	Total int
}

// Count is a name with a number (top threats, top endpoints).
type Count struct {
	Name string
	N    int
}

// TenantCounts are a tenant's detections over the last day and week.
type TenantCounts struct {
	TenantID, TenantName string
	Day, Week            int
}

// Bucket is the number of detections created in [Start, Start+width).
type Bucket struct {
	Start time.Time
	N     int
}

// Overview is the dashboard's first page, as of Now: detections per
// tenant in the last 24 hours and 7 days, the top threats and endpoints
// of the last 7 days, detections per hour over the last 7 days (168
// buckets, oldest first, empty hours included), and the counts of
// unacknowledged detections and dead outbox rows.
//
// Every stored event counts (follow-ups too). The day and the week are
// CreatedAt >= Now-24h and >= Now-7d. The buckets are whole hours in
// UTC, the last one the hour Now is in. Top lists leave empty names out
// and break ties by name.
type Overview struct {
	Now          time.Time
	Tenants      []TenantCounts // every stored tenant, most detections in a week first
	TopThreats   []Count        // at most 10
	TopEndpoints []Count        // at most 10, by host name
	Hourly       []Bucket
	Unacked      int
	Dead         int
}

// DetectionDetail is everything about one detection: the detection with
// its raw event, its outbox rows (one per receiver) and each one's
// attempts, its acknowledgement, and its follow-ups: the events of kind
// KindFollowUp of the same tenant, endpoint and threat, oldest first.
type DetectionDetail struct {
	Detection Detection
	Outbox    []OutboxItem // Detection left empty in each
	Attempts  []Attempt    // of those rows, in the order they were made
	Ack       *Ack
	FollowUps []Detection
}

// Dashboard is what the dashboard and the acknowledgement commands need.
type Dashboard interface {
	// QueryDetections runs q.
	QueryDetections(ctx context.Context, q DetectionQuery) (DetectionPage, error)
	// Overview aggregates the detections as of now.
	Overview(ctx context.Context, now time.Time) (Overview, error)
	// DetectionDetail returns one detection; ErrNotFound for an unknown id.
	DetectionDetail(ctx context.Context, eventID string) (DetectionDetail, error)
	// AckDetections acknowledges detections (by, at, comment); an id
	// already acknowledged keeps its first acknowledgement. Unknown ids
	// are an error wrapping ErrNotFound that names them, and nothing is
	// written. It returns how many were newly acknowledged.
	AckDetections(ctx context.Context, ids []string, by, comment string, at time.Time) (int, error)
}
