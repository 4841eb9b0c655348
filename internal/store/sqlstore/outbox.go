package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/puawatch/puawatch/internal/store"
)

const (
	outboxCols    = `o.id, o.event_id, o.tenant_id, o.channel, o.state, o.attempts, o.next_at, o.last_error, o.batch_id, o.created_at, o.sent_at, o.group_key, o.digest_above, o.max_per_message`
	detectionCols = `d.event_id, d.tenant_id, d.tenant_name, d.kind, d.type, d.name, d.severity, d.threat, d.location, d."user", d.endpoint_id, d.endpoint_type, d.path, d."when", d.created_at, d.seen_at, d.raw`
	outboxSelect  = `SELECT ` + outboxCols + `, ` + detectionCols + ` FROM outbox o JOIN detections d ON d.event_id = o.event_id`
)

// ClaimOutbox implements store.Store: it claims, in one transaction, up to
// c.Limit pending rows (and the other due rows of their groups, so that a
// group is never split between claims) with NextAt <= c.Now whose claim is absent or lapsed
// (ClaimedUntil <= c.Now), lowest id first, setting their claim to c.Owner
// until c.Now+c.Lease, and returns them with their detection, lowest id
// first. PostgreSQL skips rows another claimer has locked; SQLite
// serializes claimers with an immediate transaction. c.Limit and c.Lease
// must be positive and c.Now non-zero.
func (s *Store) ClaimOutbox(ctx context.Context, c store.Claim) ([]store.OutboxItem, error) {
	switch {
	case c.Limit <= 0:
		return nil, fmt.Errorf("sqlstore: claim outbox for %q: limit %d is not positive", c.Owner, c.Limit)
	case c.Lease <= 0:
		return nil, fmt.Errorf("sqlstore: claim outbox for %q: lease %v is not positive", c.Owner, c.Lease)
	case c.Now.IsZero():
		return nil, fmt.Errorf("sqlstore: claim outbox for %q: zero time", c.Owner)
	}
	lock := ""
	if s.dialect == DialectPostgres {
		lock = ` FOR UPDATE SKIP LOCKED`
	}
	q := `UPDATE outbox SET claim_owner = $1, claimed_until = $2
		WHERE id IN (SELECT id FROM outbox
			WHERE state = 'pending' AND next_at <= $3 AND (claimed_until IS NULL OR claimed_until <= $3)
			ORDER BY id LIMIT $4` + lock + `)
		RETURNING id`
	var items []store.OutboxItem
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, q, clean(c.Owner), s.timeArg(c.Now.Add(c.Lease)), s.timeArg(c.Now), int64(c.Limit))
		if err != nil {
			return err
		}
		var ids []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
		more, err := s.claimRestOfGroups(ctx, tx, c, ids)
		if err != nil {
			return err
		}
		items, err = s.outboxByIDs(ctx, tx, append(ids, more...))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: claim outbox for %q: %w", c.Owner, err)
	}
	return items, nil
}

// outboxByIDs reads the rows ids names, lowest id first.
func (s *Store) outboxByIDs(ctx context.Context, q queryer, ids []int64) ([]store.OutboxItem, error) {
	var out []store.OutboxItem
	for _, c := range chunks(uniqIDs(ids)) {
		args := make([]any, len(c))
		for i, id := range c {
			args[i] = id
		}
		items, err := scanOutbox(q.QueryContext(ctx, outboxSelect+` WHERE o.id IN (`+placeholders(1, len(c))+`) ORDER BY o.id`, args...))
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
	}
	return out, nil
}

func scanOutbox(rows *sql.Rows, err error) ([]store.OutboxItem, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.OutboxItem
	for rows.Next() {
		var (
			it store.OutboxItem
			d  = &it.Detection
		)
		if err := rows.Scan(&it.ID, &it.EventID, &it.TenantID, &it.Channel, &it.State, &it.Attempts,
			timeCol{&it.NextAt}, &it.LastError, &it.BatchID, timeCol{&it.CreatedAt}, timeCol{&it.SentAt},
			&it.GroupKey, &it.DigestAbove, &it.MaxPerMessage,
			&d.EventID, &d.TenantID, &d.TenantName, &d.Kind, &d.Type, &d.Name, &d.Severity, &d.Threat,
			&d.Location, &d.User, &d.EndpointID, &d.EndpointType, &d.Path,
			timeCol{&d.When}, timeCol{&d.CreatedAt}, timeCol{&d.SeenAt}, &d.Raw); err != nil {
			return nil, err
		}
		if len(d.Raw) == 0 {
			d.Raw = nil
		}
		out = append(out, it)
	}
	return out, rows.Err()
}

// updateOutbox runs "UPDATE outbox SET set WHERE cond AND id IN (ids)" in
// one transaction, args binding $1.. of set and cond. It returns how many
// rows changed, and an error wrapping store.ErrNotFound naming the ids the
// outbox does not hold (the others are updated all the same).
func (s *Store) updateOutbox(ctx context.Context, ids []int64, set, cond string, args ...any) (int, error) {
	ids = uniqIDs(ids)
	if len(ids) == 0 {
		return 0, nil
	}
	var (
		changed int
		missing []int64
	)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		changed, missing = 0, nil
		for _, c := range chunks(ids) {
			a := slices.Clone(args)
			for _, id := range c {
				a = append(a, id)
			}
			res, err := tx.ExecContext(ctx, `UPDATE outbox SET `+set+` WHERE `+cond+
				` AND id IN (`+placeholders(len(args)+1, len(c))+`)`, a...)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			changed += int(n)
		}
		if changed < len(ids) {
			var err error
			missing, err = missingIDs(ctx, tx, ids)
			return err
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if len(missing) > 0 {
		return changed, fmt.Errorf("outbox ids %s: %w", idList(missing), store.ErrNotFound)
	}
	return changed, nil
}

// idList formats ids for an error, eliding a long list.
func idList(ids []int64) string {
	var b strings.Builder
	for i, id := range ids {
		if i == 10 {
			fmt.Fprintf(&b, " and %d more", len(ids)-i)
			break
		}
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprint(&b, id)
	}
	return b.String()
}

// SetBatch implements store.Store. Ids the outbox does not hold are
// reported with store.ErrNotFound; the others are updated.
func (s *Store) SetBatch(ctx context.Context, ids []int64, batchID string) error {
	if _, err := s.updateOutbox(ctx, ids, `batch_id = $1`, `TRUE`, clean(batchID)); err != nil {
		return fmt.Errorf("sqlstore: set batch %q: %w", batchID, err)
	}
	return nil
}

// MarkSent implements store.Store: the rows become sent at at and lose
// their claim, whatever their state (the channel accepted them). Ids the
// outbox does not hold are reported with store.ErrNotFound.
func (s *Store) MarkSent(ctx context.Context, ids []int64, at time.Time) error {
	_, err := s.updateOutbox(ctx, ids, `state = 'sent', sent_at = $1, claim_owner = '', claimed_until = NULL`, `TRUE`, s.timeArg(at))
	if err != nil {
		return fmt.Errorf("sqlstore: mark sent: %w", err)
	}
	// The groups of these rows sent a message now: their interval counts
	// from here.
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		for _, c := range chunks(uniqIDs(ids)) {
			args := []any{s.timeArg(at)}
			for _, id := range c {
				args = append(args, id)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE outbox_groups SET last_sent = $1
				WHERE (channel, group_key) IN (SELECT channel, group_key FROM outbox WHERE group_key <> '' AND id IN (`+placeholders(2, len(c))+`))`, args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlstore: mark sent: group times: %w", err)
	}
	return nil
}

// MarkRetry implements store.Store: pending rows count an attempt, keep
// errText, lose their claim and are due again at next. Rows already sent
// or dead are left alone, so a late retry cannot resend them. next must
// not be zero.
func (s *Store) MarkRetry(ctx context.Context, ids []int64, next time.Time, errText string) error {
	if next.IsZero() {
		return errors.New("sqlstore: mark retry: zero next time")
	}
	_, err := s.updateOutbox(ctx, ids,
		`attempts = attempts + 1, next_at = $1, last_error = $2, claim_owner = '', claimed_until = NULL`,
		`state = 'pending'`, s.timeArg(next), clean(errText))
	if err != nil {
		return fmt.Errorf("sqlstore: mark retry: %w", err)
	}
	return nil
}

// MarkDead implements store.Store: pending rows become dead with
// LastError = reason, count the attempt, lose their claim, and keep at in
// NextAt (a dead row is never due; Requeue sets NextAt again). Rows
// already sent are left alone.
func (s *Store) MarkDead(ctx context.Context, ids []int64, reason string, at time.Time) error {
	if at.IsZero() {
		return errors.New("sqlstore: mark dead: zero time")
	}
	_, err := s.updateOutbox(ctx, ids,
		`state = 'dead', last_error = $1, attempts = attempts + 1, next_at = $2, claim_owner = '', claimed_until = NULL`,
		`state = 'pending'`, clean(reason), s.timeArg(at))
	if err != nil {
		return fmt.Errorf("sqlstore: mark dead: %w", err)
	}
	return nil
}

// Requeue implements store.Store: the dead or pending rows among ids (all
// dead rows when ids is nil; none when it is empty but not nil) become
// pending, due at at, with no claim and Attempts reset to 0, so they get a
// full retry budget again; LastError is kept. Sent rows are left alone. It
// returns how many rows it requeued; ids the outbox does not hold are
// reported with store.ErrNotFound.
func (s *Store) Requeue(ctx context.Context, ids []int64, at time.Time) (int, error) {
	if at.IsZero() {
		return 0, errors.New("sqlstore: requeue: zero time")
	}
	const set = `state = 'pending', next_at = $1, attempts = 0, claim_owner = '', claimed_until = NULL`
	if ids == nil {
		res, err := s.w.ExecContext(ctx, `UPDATE outbox SET `+set+` WHERE state = 'dead'`, s.timeArg(at))
		if err != nil {
			return 0, fmt.Errorf("sqlstore: requeue dead rows: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, fmt.Errorf("sqlstore: requeue dead rows: %w", err)
		}
		return int(n), nil
	}
	n, err := s.updateOutbox(ctx, ids, set, `state IN ('dead', 'pending')`, s.timeArg(at))
	if err != nil {
		return n, fmt.Errorf("sqlstore: requeue: %w", err)
	}
	return n, nil
}

// Outbox implements store.Store: rows in f.States (all when empty),
// newest (highest id) first, at most f.Limit (all when 0), each with its
// detection.
func (s *Store) Outbox(ctx context.Context, f store.OutboxFilter) ([]store.OutboxItem, error) {
	q := outboxSelect
	var args []any
	if len(f.States) > 0 {
		q += ` WHERE o.state IN (` + placeholders(1, len(f.States)) + `)`
		for _, st := range f.States {
			args = append(args, st)
		}
	}
	q += ` ORDER BY o.id DESC`
	if f.Limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, f.Limit)
	}
	items, err := scanOutbox(s.r.QueryContext(ctx, q, args...))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list outbox: %w", err)
	}
	return items, nil
}

// Detections implements store.Store: detections of f.TenantID (all when
// ""), with CreatedAt >= f.Since (all when zero), newest CreatedAt first
// (ties: higher event id first; a zero CreatedAt last), at most f.Limit
// (all when 0).
func (s *Store) Detections(ctx context.Context, f store.DetectionFilter) ([]store.Detection, error) {
	q := `SELECT ` + detectionCols + ` FROM detections d`
	var (
		where []string
		args  []any
	)
	if f.TenantID != "" {
		args = append(args, clean(f.TenantID))
		where = append(where, fmt.Sprintf(`d.tenant_id = $%d`, len(args)))
	}
	if !f.Since.IsZero() {
		args = append(args, s.timeArg(f.Since))
		where = append(where, fmt.Sprintf(`d.created_at >= $%d`, len(args)))
	}
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	q += ` ORDER BY d.created_at DESC NULLS LAST, d.event_id DESC`
	if f.Limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, f.Limit)
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list detections: %w", err)
	}
	defer rows.Close()
	var out []store.Detection
	for rows.Next() {
		var d store.Detection
		if err := rows.Scan(&d.EventID, &d.TenantID, &d.TenantName, &d.Kind, &d.Type, &d.Name, &d.Severity,
			&d.Threat, &d.Location, &d.User, &d.EndpointID, &d.EndpointType, &d.Path,
			timeCol{&d.When}, timeCol{&d.CreatedAt}, timeCol{&d.SeenAt}, &d.Raw); err != nil {
			return nil, fmt.Errorf("sqlstore: list detections: %w", err)
		}
		if len(d.Raw) == 0 {
			d.Raw = nil
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: list detections: %w", err)
	}
	return out, nil
}

// claimRestOfGroups claims the due rows of the groups (channel and group
// key) of the rows ids names that the first claim left out.
func (s *Store) claimRestOfGroups(ctx context.Context, tx *sql.Tx, c store.Claim, ids []int64) ([]int64, error) {
	var more []int64
	for _, chunk := range chunks(ids) {
		args := []any{clean(c.Owner), s.timeArg(c.Now.Add(c.Lease)), s.timeArg(c.Now)}
		for _, id := range chunk {
			args = append(args, id)
		}
		rows, err := tx.QueryContext(ctx, `UPDATE outbox SET claim_owner = $1, claimed_until = $2
			WHERE state = 'pending' AND next_at <= $3 AND (claimed_until IS NULL OR claimed_until <= $3) AND group_key <> ''
			AND (channel, group_key) IN (SELECT channel, group_key FROM outbox WHERE group_key <> '' AND id IN (`+placeholders(4, len(chunk))+`))
			RETURNING id`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, err
			}
			more = append(more, id)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return nil, err
		}
	}
	return more, nil
}
