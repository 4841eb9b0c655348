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
// Times sent to the API (from_date) are on the API's clock, which the
// central client learns from the Date of its answers, so a local clock
// that is off does not push from_date out of the API's 24 hours. Before a
// tenant is read, the point its feed was read up to (last read to the end,
// or the cursor's position) is compared with those 24 hours: a window of
// events the API has already dropped is reported as lost (TenantResult.Lost,
// Report.Lost, the log and the store's LostWindows). A stored cursor the
// API refuses (400) is replaced by a from_date, reporting any gap the same
// way, so the tenant is not stuck on it.
//
// Run is the daemon's scheduler: each tenant on its own schedule, due
// again an interval after its read ended, Workers at a time, the one due
// first first. A tenant that fails is tried again later with backoff
// (capped at 4 intervals and half the lag alarm), one that hangs holds
// only its own worker, and the tenant list is read again beside the
// reads. Its hooks tell each tenant's result (with its lag, computed after
// that read) and each round (every tenant read once). Sweep (run --once)
// reads every tenant once with the same readTenant. Both tell Progress of
// a first read of every tenant.
//
// One failing tenant never holds up the others: its error is stored and
// reported with the tenant's name. Rate limits, retries within a call and
// their backoff live in the central client.
package poll
