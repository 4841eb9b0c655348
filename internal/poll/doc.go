// Package poll reads every tenant's SIEM feed and stores what matches.
//
// A Sweep refreshes the tenant list when due (whoami, then the paged
// partner or organization list), then reads the tenants in parallel with a
// bounded pool of workers. Per tenant it follows next_cursor while has_more
// and commits each page (new detections, their outbox rows, the new cursor)
// in one store transaction, so the cursor never runs ahead of what is
// stored. The first read of a tenant starts Lookback back; every
// OverlapEvery a tenant's last Overlap is read again without moving the
// cursor, and the store's dedupe by event id keeps only what the cursor
// missed (events that landed behind it). A tenant that has not been read to
// the end for longer than LagAlarm is reported as lagging: past 24 hours
// its events are gone for good.
//
// One failing tenant never holds up the others: its error is stored and
// reported with the tenant's name. Rate limits, retries and backoff live in
// the central client.
package poll
