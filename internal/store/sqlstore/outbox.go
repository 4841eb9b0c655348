package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/puawatch/puawatch/internal/store"
)

const (
	outboxCols    = `o.id, o.event_id, o.tenant_id, o.channel, o.state, o.attempts, o.next_at, o.last_error, o.batch_id, o.created_at, o.sent_at, o.group_key, o.digest_above, o.max_per_message, o.digest`
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
// must be positive, c.Now non-zero and c.Owner not empty.
func (s *Store) ClaimOutbox(ctx context.Context, c store.Claim) ([]store.OutboxItem, error) {
	switch {
	case c.Owner == "":
		return nil, errors.New("sqlstore: claim outbox: empty owner")
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
		ids, err := scanIDs(tx.QueryContext(ctx, q, clean(c.Owner), s.timeArg(c.Now.Add(c.Lease)), s.timeArg(c.Now), int64(c.Limit)))
		if err != nil {
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
			&it.GroupKey, &it.DigestAbove, &it.MaxPerMessage, &it.Digest,
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

// heldBy is the condition of a row owner holds, binding owner as $n:
// claimed by owner last (its lease live or lapsed) and still pending.
func heldBy(n int) string { return fmt.Sprintf(`claim_owner = $%d AND state = 'pending'`, n) }

// updateRows runs "UPDATE outbox SET set WHERE cond AND id IN (ids)" in
// tx, args binding $1.. of set and cond. It returns the ids it changed,
// the ids of rows cond left alone, and the ids the outbox does not hold.
func (s *Store) updateRows(ctx context.Context, tx *sql.Tx, ids []int64, set, cond string, args ...any) (changed, skipped, missing []int64, err error) {
	ids = uniqIDs(ids)
	// The rows are found by id. Without statistics SQLite's planner
	// prefers the index on (state, next_at) when cond names the state,
	// and walks every pending row for each update: NOT INDEXED keeps it
	// to the primary key (which it still uses).
	table := "outbox"
	if s.dialect == DialectSQLite {
		table = "outbox NOT INDEXED"
	}
	done := map[int64]bool{}
	for _, c := range chunks(ids) {
		a := slices.Clone(args)
		for _, id := range c {
			a = append(a, id)
		}
		got, err := scanIDs(tx.QueryContext(ctx, `UPDATE `+table+` SET `+set+` WHERE `+cond+
			` AND id IN (`+placeholders(len(args)+1, len(c))+`) RETURNING id`, a...))
		if err != nil {
			return nil, nil, nil, err
		}
		for _, id := range got {
			done[id] = true
			changed = append(changed, id)
		}
	}
	if len(changed) == len(ids) {
		return changed, nil, nil, nil
	}
	missing, err = missingIDs(ctx, tx, ids)
	if err != nil {
		return nil, nil, nil, err
	}
	gone := map[int64]bool{}
	for _, id := range missing {
		gone[id] = true
	}
	for _, id := range ids {
		if !done[id] && !gone[id] {
			skipped = append(skipped, id)
		}
	}
	slices.Sort(changed)
	return changed, skipped, missing, nil
}

// notHeld is the error for the rows a method of an owner left alone: the
// ids the outbox does not hold (store.ErrNotFound) and those owner does
// not hold (store.ErrNotHeld); nil when there are none.
func notHeld(owner string, skipped, missing []int64) error {
	var errs []error
	if len(missing) > 0 {
		errs = append(errs, fmt.Errorf("outbox ids %s: %w", idList(missing), store.ErrNotFound))
	}
	if len(skipped) > 0 {
		errs = append(errs, fmt.Errorf("outbox ids %s: %w %q (another owner claimed them after its lease lapsed, or they were released, sent, killed or requeued): left alone",
			idList(skipped), store.ErrNotHeld, owner))
	}
	return errors.Join(errs...)
}

// updateHeld changes the rows among ids that owner holds, in one
// transaction, and reports the others (see notHeld). then, when given,
// runs in the same transaction with the ids changed.
func (s *Store) updateHeld(ctx context.Context, owner string, ids []int64, set string, args []any, then func(tx *sql.Tx, changed []int64) error) error {
	if owner == "" {
		return errors.New("empty owner")
	}
	if len(ids) == 0 {
		return nil
	}
	var skipped, missing []int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		changed, sk, mi, err := s.updateRows(ctx, tx, ids, set, heldBy(len(args)+1), append(slices.Clone(args), clean(owner))...)
		if err != nil {
			return err
		}
		skipped, missing = sk, mi
		if then != nil && len(changed) > 0 {
			return then(tx, changed)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return notHeld(owner, skipped, missing)
}

// idList formats ids for an error, eliding a long list.
func idList(ids []int64) string {
	return elide(ids, ",", func(id int64) string { return strconv.FormatInt(id, 10) })
}

// elide joins the first ten of ids, each formatted by format, with sep,
// and says how many more there are.
func elide[T any](ids []T, sep string, format func(T) string) string {
	var b strings.Builder
	for i, id := range ids {
		if i == 10 {
			fmt.Fprintf(&b, " and %d more", len(ids)-i)
			break
		}
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(format(id))
	}
	return b.String()
}

// boolArg encodes b as a query argument: 0/1 for SQLite, a boolean for
// PostgreSQL.
func (s *Store) boolArg(b bool) any {
	if s.dialect == DialectSQLite {
		if b {
			return int64(1)
		}
		return int64(0)
	}
	return b
}

// SetBatches implements store.Store: in one transaction, every row of
// each batch gets its id and digest flag, provided owner holds it and it
// is in no batch yet, and no other row carries the batch's id; otherwise
// nothing is written.
func (s *Store) SetBatches(ctx context.Context, owner string, batches []store.Batch) error {
	if owner == "" {
		return errors.New("sqlstore: set batches: empty owner")
	}
	seen := map[string]bool{}
	for _, b := range batches {
		switch {
		case b.ID == "":
			return fmt.Errorf("sqlstore: set batches for %q: a batch with an empty id", owner)
		case len(b.Rows) == 0:
			return fmt.Errorf("sqlstore: set batches for %q: batch %q has no rows", owner, b.ID)
		case seen[clean(b.ID)]:
			return fmt.Errorf("sqlstore: set batches for %q: batch id %q given twice", owner, b.ID)
		}
		seen[clean(b.ID)] = true
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, b := range batches {
			id := clean(b.ID)
			// batch_id <> '' lets the query use the partial index
			// outbox_batch_id: without it, every batch scans the outbox.
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE batch_id = $1 AND batch_id <> ''`, id).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return fmt.Errorf("batch id %q is the key of a message already stored (%d rows): a message never takes new rows", b.ID, n)
			}
			_, skipped, missing, err := s.updateRows(ctx, tx, b.Rows, `batch_id = $1, digest = $2`,
				heldBy(3)+` AND batch_id = ''`, id, s.boolArg(b.Digest), clean(owner))
			if err != nil {
				return err
			}
			if len(skipped) > 0 {
				inMessage, err := batched(ctx, tx, skipped)
				if err != nil {
					return err
				}
				if len(inMessage) > 0 {
					return fmt.Errorf("batch %q: outbox ids %s already belong to a message: they are only ever sent in it", b.ID, idList(inMessage))
				}
			}
			if err := notHeld(owner, skipped, missing); err != nil {
				return fmt.Errorf("batch %q: %w", b.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlstore: set batches for %q: %w", owner, err)
	}
	return nil
}

// batched returns the ids among ids whose rows already carry a batch id.
func batched(ctx context.Context, q queryer, ids []int64) ([]int64, error) {
	var out []int64
	for _, c := range chunks(ids) {
		args := make([]any, len(c))
		for i, id := range c {
			args[i] = id
		}
		got, err := scanIDs(q.QueryContext(ctx, `SELECT id FROM outbox WHERE batch_id <> '' AND id IN (`+placeholders(1, len(c))+`) ORDER BY id`, args...))
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	return out, nil
}

// MarkSent implements store.Store: the rows owner holds become sent at at
// and lose their claim, and their groups' last message is at at; each
// gets an attempt (sent, at at) in the same transaction. The others are
// left alone and reported (store.ErrNotHeld, ErrNotFound).
func (s *Store) MarkSent(ctx context.Context, owner string, ids []int64, at time.Time) error {
	err := s.updateHeld(ctx, owner, ids, `state = 'sent', sent_at = $1, claim_owner = '', claimed_until = NULL`, []any{s.timeArg(at)},
		func(tx *sql.Tx, changed []int64) error {
			// The groups of these rows sent a message now: their interval
			// counts from here.
			for _, c := range chunks(changed) {
				args := []any{s.timeArg(at)}
				for _, id := range c {
					args = append(args, id)
				}
				if _, err := tx.ExecContext(ctx, `UPDATE outbox_groups SET last_sent = $1
					WHERE (channel, group_key) IN (SELECT channel, group_key FROM outbox WHERE group_key <> '' AND id IN (`+placeholders(2, len(c))+`))`, args...); err != nil {
					return fmt.Errorf("group times: %w", err)
				}
			}
			return s.addAttempts(ctx, tx, changed, at, store.AttemptSent, "")
		})
	if err != nil {
		return fmt.Errorf("sqlstore: mark sent for %q: %w", owner, err)
	}
	return nil
}

// MarkRetry implements store.Store: the rows owner holds count an
// attempt, keep errText, lose their claim and are due again at next, and
// each gets an attempt (retry, errText, at the store's clock) in the same
// transaction; the others are left alone and reported. next must not be
// zero.
func (s *Store) MarkRetry(ctx context.Context, owner string, ids []int64, next time.Time, errText string) error {
	if next.IsZero() {
		return errors.New("sqlstore: mark retry: zero next time")
	}
	// MarkRetry is told when the next attempt is due, not when this one
	// failed: the attempt is recorded at the store's clock.
	now := time.Now()
	err := s.updateHeld(ctx, owner, ids, `attempts = attempts + 1, next_at = $1, last_error = $2, claim_owner = '', claimed_until = NULL`,
		[]any{s.timeArg(next), clean(errText)}, func(tx *sql.Tx, changed []int64) error {
			return s.addAttempts(ctx, tx, changed, now, store.AttemptRetry, errText)
		})
	if err != nil {
		return fmt.Errorf("sqlstore: mark retry for %q: %w", owner, err)
	}
	return nil
}

// MarkDead implements store.Store: the rows owner holds become dead with
// LastError = reason, count the attempt, lose their claim, and keep at in
// NextAt (a dead row is never due; Requeue sets NextAt again), and each
// gets an attempt (dead, reason, at at) in the same transaction; the
// others are left alone and reported.
func (s *Store) MarkDead(ctx context.Context, owner string, ids []int64, reason string, at time.Time) error {
	if at.IsZero() {
		return errors.New("sqlstore: mark dead: zero time")
	}
	err := s.updateHeld(ctx, owner, ids, `state = 'dead', last_error = $1, attempts = attempts + 1, next_at = $2, claim_owner = '', claimed_until = NULL`,
		[]any{clean(reason), s.timeArg(at)}, func(tx *sql.Tx, changed []int64) error {
			return s.addAttempts(ctx, tx, changed, at, store.AttemptDead, reason)
		})
	if err != nil {
		return fmt.Errorf("sqlstore: mark dead for %q: %w", owner, err)
	}
	return nil
}

// ReleaseClaims implements store.Store: the pending rows among ids (all
// when ids is nil) that owner holds lose their claim; the others are left
// alone. Ids the outbox does not hold are reported with store.ErrNotFound.
func (s *Store) ReleaseClaims(ctx context.Context, owner string, ids []int64) (int, error) {
	if owner == "" {
		return 0, errors.New("sqlstore: release claims: empty owner")
	}
	const set = `claim_owner = '', claimed_until = NULL`
	if ids == nil {
		res, err := s.w.ExecContext(ctx, `UPDATE outbox SET `+set+` WHERE `+heldBy(1), clean(owner))
		if err != nil {
			return 0, fmt.Errorf("sqlstore: release the claims of %q: %w", owner, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, fmt.Errorf("sqlstore: release the claims of %q: %w", owner, err)
		}
		return int(n), nil
	}
	if len(ids) == 0 {
		return 0, nil
	}
	var changed, missing []int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		changed, _, missing, err = s.updateRows(ctx, tx, ids, set, heldBy(1), clean(owner))
		return err
	})
	if err == nil {
		err = notHeld(owner, nil, missing)
	}
	if err != nil {
		return len(changed), fmt.Errorf("sqlstore: release the claims of %q: %w", owner, err)
	}
	return len(changed), nil
}

// Holders implements store.Store: the owners of live claims (claimed
// until after now) on pending rows, with their row counts and the end of
// their last claim, by owner.
func (s *Store) Holders(ctx context.Context, now time.Time) ([]store.Holder, error) {
	if now.IsZero() {
		return nil, errors.New("sqlstore: holders: zero time")
	}
	rows, err := s.r.QueryContext(ctx, `SELECT claim_owner, COUNT(*), MAX(claimed_until) FROM outbox
		WHERE state = 'pending' AND claim_owner <> '' AND claimed_until > $1 GROUP BY claim_owner ORDER BY claim_owner`, s.timeArg(now))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: holders: %w", err)
	}
	defer rows.Close()
	var out []store.Holder
	for rows.Next() {
		var h store.Holder
		if err := rows.Scan(&h.Owner, &h.Rows, timeCol{&h.Until}); err != nil {
			return nil, fmt.Errorf("sqlstore: holders: %w", err)
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: holders: %w", err)
	}
	return out, nil
}

// Requeue implements store.Store: the dead or pending rows among ids (all
// dead rows when ids is nil; none when it is empty but not nil) become
// pending, due at at, with no claim and Attempts reset to 0, so they get a
// full retry budget again; LastError and the message (BatchID, Digest)
// are kept. Sent rows are left alone. It returns how many rows it
// requeued; ids the outbox does not hold are reported with
// store.ErrNotFound.
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
	if len(ids) == 0 {
		return 0, nil
	}
	var changed, missing []int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		changed, _, missing, err = s.updateRows(ctx, tx, ids, set, `state IN ('dead', 'pending')`, s.timeArg(at))
		return err
	})
	if err == nil && len(missing) > 0 {
		err = fmt.Errorf("outbox ids %s: %w", idList(missing), store.ErrNotFound)
	}
	if err != nil {
		return len(changed), fmt.Errorf("sqlstore: requeue: %w", err)
	}
	return len(changed), nil
}

// Outbox implements store.Store: rows in f.States (all when empty) of
// f.Channel (every channel when ""), newest (highest id) first, at most f.Limit (all when 0), each with its
// detection.
func (s *Store) Outbox(ctx context.Context, f store.OutboxFilter) ([]store.OutboxItem, error) {
	q := outboxSelect
	var (
		where []string
		args  []any
	)
	if len(f.States) > 0 {
		where = append(where, `o.state IN (`+placeholders(1, len(f.States))+`)`)
		for _, st := range f.States {
			args = append(args, st)
		}
	}
	if f.Channel != "" {
		args = append(args, clean(f.Channel))
		where = append(where, fmt.Sprintf(`o.channel = $%d`, len(args)))
	}
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
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

// OutboxCounts implements store.Store with one GROUP BY over the outbox;
// the latest reason of each pending or dead group comes from a subquery
// (sent rows have none to show).
func (s *Store) OutboxCounts(ctx context.Context, since time.Time) ([]store.OutboxCount, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT o.channel, o.state, COUNT(*),
			SUM(CASE WHEN o.attempts > 0 AND o.state <> 'sent' THEN 1 ELSE 0 END),
			SUM(CASE WHEN o.next_at >= $1 THEN 1 ELSE 0 END),
			MIN(o.next_at),
			CASE WHEN o.state = 'sent' THEN '' ELSE COALESCE((SELECT e.last_error FROM outbox e
				WHERE e.channel = o.channel AND e.state = o.state AND e.last_error <> ''
				ORDER BY e.next_at DESC, e.id DESC LIMIT 1), '') END
		FROM outbox o GROUP BY o.channel, o.state ORDER BY o.channel, o.state`, s.timeArg(since))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: count outbox rows: %w", err)
	}
	defer rows.Close()
	var out []store.OutboxCount
	for rows.Next() {
		var c store.OutboxCount
		if err := rows.Scan(&c.Channel, &c.State, &c.Rows, &c.Failed, &c.Since, timeCol{&c.FirstDue}, &c.LastError); err != nil {
			return nil, fmt.Errorf("sqlstore: count outbox rows: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: count outbox rows: %w", err)
	}
	return out, nil
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
		got, err := scanIDs(tx.QueryContext(ctx, `UPDATE outbox SET claim_owner = $1, claimed_until = $2
			WHERE state = 'pending' AND next_at <= $3 AND (claimed_until IS NULL OR claimed_until <= $3) AND group_key <> ''
			AND (channel, group_key) IN (SELECT channel, group_key FROM outbox WHERE group_key <> '' AND id IN (`+placeholders(4, len(chunk))+`))
			RETURNING id`, args...))
		if err != nil {
			return nil, err
		}
		more = append(more, got...)
	}
	return more, nil
}

// addAttempts records an attempt of each of the rows ids names, in tx.
func (s *Store) addAttempts(ctx context.Context, tx *sql.Tx, ids []int64, at time.Time, result, errText string) error {
	for _, c := range chunks(ids) {
		args := []any{s.timeArg(at), result, clean(errText)}
		for _, id := range c {
			args = append(args, id)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO attempts (outbox_id, channel, at, result, error)
			SELECT id, channel, CAST($1 AS `+s.timeType()+`), CAST($2 AS TEXT), CAST($3 AS TEXT) FROM outbox WHERE id IN (`+placeholders(4, len(c))+`) ORDER BY id`, args...); err != nil {
			return fmt.Errorf("attempts: %w", err)
		}
	}
	return nil
}
