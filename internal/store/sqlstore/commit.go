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
// once); and adds one pending outbox row, due at p.At, per new detection
// Delivery that p.Route gives it (a channel named twice counts once). It
// returns the new detections as stored. If anything fails, nothing is
// written: the cursor does not move. A detection with an empty EventID, a
// delivery with an empty channel name or a zero p.At are rejected.
func (s *Store) CommitPage(ctx context.Context, p store.PageCommit) ([]store.Detection, error) {
	tenantID := clean(p.TenantID)
	if tenantID == "" {
		return nil, errors.New("sqlstore: commit page: empty tenant id")
	}
	if p.At.IsZero() {
		return nil, fmt.Errorf("sqlstore: commit page of tenant %q: zero commit time", tenantID)
	}
	at := s.timeArg(p.At)

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
		if len(p.Detections) == 0 {
			return nil
		}

		insDet, err := tx.PrepareContext(ctx, `INSERT INTO detections
			(event_id, tenant_id, tenant_name, kind, type, name, severity, threat, location, "user",
			 endpoint_id, endpoint_type, path, "when", created_at, seen_at, raw)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
			ON CONFLICT (event_id) DO NOTHING`)
		if err != nil {
			return err
		}
		defer insDet.Close()
		insOut, err := tx.PrepareContext(ctx, `INSERT INTO outbox
			(event_id, tenant_id, channel, state, attempts, next_at, created_at, group_key, digest_above, max_per_message)
			VALUES ($1, $2, $3, 'pending', 0, $4, $5, $6, $7, $8)
			ON CONFLICT (event_id, channel) DO NOTHING`)
		if err != nil {
			return err
		}
		defer insOut.Close()

		for i, d := range p.Detections {
			d = normDetection(d, tenantID, p)
			if d.EventID == "" {
				return fmt.Errorf("detection %d of the page has an empty event id", i)
			}
			res, err := insDet.ExecContext(ctx, d.EventID, d.TenantID, d.TenantName, d.Kind, d.Type,
				d.Name, d.Severity, d.Threat, d.Location, d.User, d.EndpointID, d.EndpointType, d.Path,
				s.timeArg(d.When), s.timeArg(d.CreatedAt), s.timeArg(d.SeenAt), rawArg(d.Raw))
			if err != nil {
				return fmt.Errorf("detection %q: %w", d.EventID, err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return fmt.Errorf("detection %q: %w", d.EventID, err)
			}
			if n == 0 {
				continue // stored before
			}
			var deliveries []store.Delivery
			if p.Route != nil {
				deliveries = p.Route(d)
			}
			done := map[string]bool{}
			for _, dl := range deliveries {
				ch := clean(dl.Channel)
				if ch == "" {
					return fmt.Errorf("detection %q: a delivery with an empty channel name", d.EventID)
				}
				if done[ch] {
					continue
				}
				done[ch] = true
				due, err := s.groupDue(ctx, tx, ch, clean(dl.GroupKey), p.At, dl)
				if err != nil {
					return fmt.Errorf("group %q of channel %q: %w", dl.GroupKey, ch, err)
				}
				if _, err := insOut.ExecContext(ctx, d.EventID, d.TenantID, ch, s.timeArg(due), at,
					clean(dl.GroupKey), dl.DigestAbove, dl.MaxPerMessage); err != nil {
					return fmt.Errorf("outbox row of detection %q on channel %q: %w", d.EventID, ch, err)
				}
			}
			fresh = append(fresh, d)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: commit page of tenant %q: %w", tenantID, err)
	}
	return fresh, nil
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

// groupDue is when a new row of a channel's group is due: with the
// group's next message when one is scheduled, else after the group's wait
// and no sooner than its interval after the last message. A row without a
// group key is due at once.
func (s *Store) groupDue(ctx context.Context, tx *sql.Tx, channel, key string, at time.Time, dl store.Delivery) (time.Time, error) {
	if key == "" {
		return at, nil
	}
	var next, last time.Time
	err := tx.QueryRowContext(ctx, `SELECT next_flush, last_sent FROM outbox_groups WHERE channel = $1 AND group_key = $2`,
		channel, key).Scan(timeCol{&next}, timeCol{&last})
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, err
	}
	if !next.IsZero() && next.After(at) {
		return next, nil // join the message already scheduled
	}
	due := at.Add(dl.Wait)
	if !last.IsZero() {
		if t := last.Add(dl.Interval); t.After(due) {
			due = t
		}
	}
	due = normTime(due)
	_, err = tx.ExecContext(ctx, `INSERT INTO outbox_groups (channel, group_key, next_flush) VALUES ($1, $2, $3)
		ON CONFLICT (channel, group_key) DO UPDATE SET next_flush = excluded.next_flush`, channel, key, s.timeArg(due))
	return due, err
}
