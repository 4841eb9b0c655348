package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/puawatch/puawatch/internal/store"
)

// CommitPage implements store.Store in one transaction: it creates the
// tenant row if needed, moves its cursor (unless p.Cursor is ""), sets
// LastRead when p.EndOfFeed, clears LastError; inserts the detections not
// stored before (a detection with an empty TenantID takes p.TenantID, a
// zero SeenAt takes p.At; an event id repeated within the page counts
// once: the first); and adds one pending outbox row, due at p.At, per new
// detection Delivery that p.Route gives it (a channel named twice counts
// once). It returns the new detections as stored, in page order. If
// anything fails, nothing is written: the cursor does not move. A
// detection with an empty EventID, a delivery with an empty channel name
// or a zero p.At are rejected.
//
// The rows are written a chunk at a time (multi-row INSERT ... ON
// CONFLICT DO NOTHING RETURNING), not one statement each, and each
// group's schedule is read and written once per page.
func (s *Store) CommitPage(ctx context.Context, p store.PageCommit) ([]store.Detection, error) {
	tenantID := clean(p.TenantID)
	if tenantID == "" {
		return nil, errors.New("sqlstore: commit page: empty tenant id")
	}
	if p.At.IsZero() {
		return nil, fmt.Errorf("sqlstore: commit page of tenant %q: zero commit time", tenantID)
	}
	at := s.timeArg(p.At)

	// The page's detections as stored, each event once (the first).
	dets := make([]store.Detection, 0, len(p.Detections))
	inPage := make(map[string]bool, len(p.Detections))
	for i, d := range p.Detections {
		d = normDetection(d, tenantID, p)
		if d.EventID == "" {
			return nil, fmt.Errorf("sqlstore: commit page of tenant %q: detection %d of the page has an empty event id", tenantID, i)
		}
		if inPage[d.EventID] {
			continue
		}
		inPage[d.EventID] = true
		dets = append(dets, d)
	}

	var fresh []store.Detection
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		fresh = nil
		q := `INSERT INTO tenants (id, cursor, last_read, first_seen, updated_at) VALUES ($1, $2, $3, $4, $4)
			ON CONFLICT (id) DO UPDATE SET last_error = '', error_at = NULL, updated_at = excluded.updated_at`
		if p.Cursor != "" {
			q += `, cursor = excluded.cursor`
		}
		var lastRead any
		if p.EndOfFeed {
			q += `, last_read = excluded.last_read`
			lastRead = at
		}
		if _, err := tx.ExecContext(ctx, q, tenantID, clean(p.Cursor), lastRead, at); err != nil {
			return fmt.Errorf("cursor: %w", err)
		}
		if len(dets) == 0 {
			return nil
		}
		inserted, err := s.insertDetections(ctx, tx, dets)
		if err != nil {
			return err
		}
		for _, d := range dets {
			if inserted[d.EventID] {
				fresh = append(fresh, d)
			}
		}
		if p.Route == nil || len(fresh) == 0 {
			return nil
		}
		return s.insertOutbox(ctx, tx, fresh, p)
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: commit page of tenant %q: %w", tenantID, err)
	}
	return fresh, nil
}

// insertCols are the columns insertDetections writes.
const insertCols = `event_id, tenant_id, tenant_name, kind, type, name, severity, threat, location, "user",
	endpoint_id, endpoint_type, path, "when", created_at, seen_at, raw`

// insertDetections inserts dets (distinct event ids) and returns the
// event ids that were not stored before.
func (s *Store) insertDetections(ctx context.Context, tx *sql.Tx, dets []store.Detection) (map[string]bool, error) {
	const cols = 17
	inserted := make(map[string]bool, len(dets))
	args := make([]any, 0, min(len(dets), maxRows(cols))*cols)
	for len(dets) > 0 {
		c := dets[:min(len(dets), maxRows(cols))]
		dets = dets[len(c):]
		args = args[:0]
		for _, d := range c {
			args = append(args, d.EventID, d.TenantID, d.TenantName, d.Kind, d.Type, d.Name, d.Severity, d.Threat,
				d.Location, d.User, d.EndpointID, d.EndpointType, d.Path,
				s.timeArg(d.When), s.timeArg(d.CreatedAt), s.timeArg(d.SeenAt), rawArg(d.Raw))
		}
		rows, err := tx.QueryContext(ctx, `INSERT INTO detections (`+insertCols+`) VALUES `+s.valueRows(len(c), cols)+`
			ON CONFLICT (event_id) DO NOTHING RETURNING event_id`, args...)
		if err != nil {
			return nil, fmt.Errorf("detections %s: %w", quoteList(eventIDsOf(c)), err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("detections %s: %w", quoteList(eventIDsOf(c)), err)
			}
			inserted[id] = true
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return nil, fmt.Errorf("detections %s: %w", quoteList(eventIDsOf(c)), err)
		}
	}
	return inserted, nil
}

// outboxRow is one outbox row CommitPage adds.
type outboxRow struct {
	d   store.Detection
	dl  store.Delivery // Channel and GroupKey cleaned
	due time.Time
}

// insertOutbox adds the outbox rows of the new detections fresh, in
// their order, one per channel p.Route gives each, due when their group
// is (groupDue).
func (s *Store) insertOutbox(ctx context.Context, tx *sql.Tx, fresh []store.Detection, p store.PageCommit) error {
	var out []outboxRow
	for _, d := range fresh {
		var done map[string]bool
		for _, dl := range p.Route(d) {
			dl.Channel, dl.GroupKey = clean(dl.Channel), clean(dl.GroupKey)
			if dl.Channel == "" {
				return fmt.Errorf("detection %q: a delivery with an empty channel name", d.EventID)
			}
			if done[dl.Channel] {
				continue
			}
			if done == nil {
				done = map[string]bool{}
			}
			done[dl.Channel] = true
			out = append(out, outboxRow{d: d, dl: dl})
		}
	}
	if len(out) == 0 {
		return nil
	}
	groups, err := s.loadGroups(ctx, tx, out)
	if err != nil {
		return err
	}
	for i := range out {
		r := &out[i]
		r.due = groupDue(groups, r.dl, p.At)
	}
	if err := s.saveGroups(ctx, tx, groups); err != nil {
		return err
	}

	const cols = 8
	at := s.timeArg(p.At)
	args := make([]any, 0, min(len(out), maxRows(cols))*cols)
	for len(out) > 0 {
		c := out[:min(len(out), maxRows(cols))]
		out = out[len(c):]
		args = args[:0]
		for _, r := range c {
			args = append(args, r.d.EventID, r.d.TenantID, r.dl.Channel, s.timeArg(r.due), at,
				r.dl.GroupKey, r.dl.DigestAbove, r.dl.MaxPerMessage)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO outbox
			(event_id, tenant_id, channel, next_at, created_at, group_key, digest_above, max_per_message)
			VALUES `+s.valueRows(len(c), cols)+` ON CONFLICT (event_id, channel) DO NOTHING`, args...); err != nil {
			ids := make([]string, len(c))
			for i, r := range c {
				ids[i] = r.d.EventID + " on " + r.dl.Channel
			}
			return fmt.Errorf("outbox rows of detections %s: %w", quoteList(ids), err)
		}
	}
	return nil
}

// groupKey names one group of one channel.
type groupKey struct{ channel, key string }

// groupState is a group's schedule in the transaction: next_flush as
// written so far, last_sent as stored.
type groupState struct {
	next, last time.Time
	dirty      bool // next differs from the stored next_flush
}

// loadGroups reads the schedules of the groups rows fall in (rows
// without a group key have none).
func (s *Store) loadGroups(ctx context.Context, tx *sql.Tx, rows []outboxRow) (map[groupKey]*groupState, error) {
	groups := map[groupKey]*groupState{}
	byChannel := map[string][]string{}
	for _, r := range rows {
		k := groupKey{r.dl.Channel, r.dl.GroupKey}
		if k.key == "" || groups[k] != nil {
			continue
		}
		groups[k] = &groupState{}
		byChannel[k.channel] = append(byChannel[k.channel], k.key)
	}
	for ch, keys := range byChannel {
		for len(keys) > 0 {
			c := keys[:min(len(keys), chunkSize)]
			keys = keys[len(c):]
			args := make([]any, 0, len(c)+1)
			args = append(args, ch)
			for _, k := range c {
				args = append(args, k)
			}
			res, err := tx.QueryContext(ctx, `SELECT group_key, next_flush, last_sent FROM outbox_groups
				WHERE channel = $1 AND group_key IN (`+placeholders(2, len(c))+`)`, args...)
			if err != nil {
				return nil, fmt.Errorf("groups of channel %q: %w", ch, err)
			}
			for res.Next() {
				var key string
				var g groupState
				if err := res.Scan(&key, timeCol{&g.next}, timeCol{&g.last}); err != nil {
					res.Close()
					return nil, fmt.Errorf("groups of channel %q: %w", ch, err)
				}
				*groups[groupKey{ch, key}] = g
			}
			if err := errors.Join(res.Err(), res.Close()); err != nil {
				return nil, fmt.Errorf("groups of channel %q: %w", ch, err)
			}
		}
	}
	return groups, nil
}

// groupDue is when a new row of dl's group is due: with the group's next
// message when one is scheduled, else after the group's wait and no
// sooner than its interval after the last message (which then becomes
// the group's next message). A row without a group key is due at once.
func groupDue(groups map[groupKey]*groupState, dl store.Delivery, at time.Time) time.Time {
	if dl.GroupKey == "" {
		return at
	}
	g := groups[groupKey{dl.Channel, dl.GroupKey}]
	if !g.next.IsZero() && g.next.After(at) {
		return g.next // join the message already scheduled
	}
	due := at.Add(dl.Wait)
	if !g.last.IsZero() {
		if t := g.last.Add(dl.Interval); t.After(due) {
			due = t
		}
	}
	g.next, g.dirty = normTime(due), true
	return g.next
}

// saveGroups writes the next messages groupDue scheduled.
func (s *Store) saveGroups(ctx context.Context, tx *sql.Tx, groups map[groupKey]*groupState) error {
	var args []any
	for k, g := range groups {
		if g.dirty {
			args = append(args, k.channel, k.key, s.timeArg(g.next))
		}
	}
	const cols = 3
	for len(args) > 0 {
		c := args[:min(len(args), maxRows(cols)*cols)]
		args = args[len(c):]
		if _, err := tx.ExecContext(ctx, `INSERT INTO outbox_groups (channel, group_key, next_flush) VALUES `+s.valueRows(len(c)/cols, cols)+`
			ON CONFLICT (channel, group_key) DO UPDATE SET next_flush = excluded.next_flush`, c...); err != nil {
			return fmt.Errorf("group schedules: %w", err)
		}
	}
	return nil
}

// eventIDsOf are the event ids of ds.
func eventIDsOf(ds []store.Detection) []string {
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = d.EventID
	}
	return ids
}

// normDetection is d as the store keeps it.
func normDetection(d store.Detection, tenantID string, p store.PageCommit) store.Detection {
	if d.TenantID == "" {
		d.TenantID = tenantID
	}
	if d.SeenAt.IsZero() {
		d.SeenAt = p.At
	}
	for _, f := range []*string{&d.EventID, &d.TenantID, &d.TenantName, &d.Kind, &d.Type, &d.Name,
		&d.Severity, &d.Threat, &d.Location, &d.User, &d.EndpointID, &d.EndpointType, &d.Path} {
		*f = clean(*f)
	}
	d.When, d.CreatedAt, d.SeenAt = normTime(d.When), normTime(d.CreatedAt), normTime(d.SeenAt)
	if len(d.Raw) == 0 {
		d.Raw = nil
	} else {
		d.Raw = append([]byte(nil), d.Raw...)
	}
	return d
}

// rawArg never binds NULL: the column is NOT NULL.
func rawArg(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
