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

var _ store.Dashboard = (*Store)(nil)

// listCols are the columns of a detection the dashboard lists: every one
// but the raw event.
const listCols = `d.event_id, d.tenant_id, d.tenant_name, d.kind, d.type, d.name, d.severity, d.threat, d.location, d."user", d.endpoint_id, d.endpoint_type, d.path, d."when", d.created_at, d.seen_at`

// deliveryOf is a detection's delivery state computed from the outbox
// rows of the detection whose event_id column is col: dead > retrying >
// pending > sent > none (store.Delivery*). It looks rows up by event id
// only, on the outbox (event_id, channel) index.
func deliveryOf(col string) string {
	return `(SELECT CASE
		WHEN COUNT(*) = 0 THEN 'none'
		WHEN SUM(CASE WHEN o.state = 'dead' THEN 1 ELSE 0 END) > 0 THEN 'dead'
		WHEN SUM(CASE WHEN o.state = 'pending' AND o.attempts > 0 THEN 1 ELSE 0 END) > 0 THEN 'retrying'
		WHEN SUM(CASE WHEN o.state = 'pending' THEN 1 ELSE 0 END) > 0 THEN 'pending'
		ELSE 'sent' END
	FROM outbox o WHERE o.event_id = ` + col + `)`
}

// listFrom is the selection QueryDetections filters, sorts and pages: the
// detections d with their acknowledgement a.
const listFrom = ` FROM detections d LEFT JOIN acks a ON a.event_id = d.event_id`

// sortExpr is the expression QueryDetections sorts by for the column
// name col, over the columns of the table alias written {t}, and whether
// it is text (sorted by bytes in every dialect, not by a locale's
// collation); false for no such column. User text never reaches the SQL.
func sortExpr(col string) (expr string, text, ok bool) {
	switch col {
	case "", "created_at":
		return "{t}.created_at", false, true
	case "tenant":
		return "{t}.tenant_name", true, true
	case "type":
		return "{t}.type", true, true
	case "threat":
		return "{t}.threat", true, true
	case "host":
		return "{t}.location", true, true
	case "user":
		return `{t}."user"`, true, true
	case "severity":
		// By rank, not by name; an unknown severity ranks lowest.
		return `CASE LOWER({t}.severity) WHEN 'low' THEN 1 WHEN 'medium' THEN 2 WHEN 'high' THEN 3 WHEN 'critical' THEN 4 ELSE 0 END`, false, true
	}
	return "", false, false
}

// collate is the collation text sorts by: bytes in both dialects.
func (s *Store) collate() string {
	if s.dialect == DialectSQLite {
		return ` COLLATE BINARY`
	}
	return ` COLLATE "C"`
}

// likeArg is a case-insensitive substring pattern of v for
// LOWER(col) LIKE $n ESCAPE '\': v's %, _ and \ match literally.
func likeArg(v string) string {
	v = strings.ToLower(clean(v))
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(v) + "%"
}

// detectionWhere is the WHERE clause (with " WHERE ", or "") of q over
// listFrom, and its arguments.
func (s *Store) detectionWhere(q store.DetectionQuery) (string, []any, error) {
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	like := func(v string, cols ...string) {
		if v == "" {
			return
		}
		p := arg(likeArg(v))
		var or []string
		for _, c := range cols {
			or = append(or, `LOWER(`+c+`) LIKE `+p+` ESCAPE '\'`)
		}
		where = append(where, "("+strings.Join(or, " OR ")+")")
	}
	like(q.Tenant, "d.tenant_id", "d.tenant_name")
	like(q.Type, "d.type")
	like(q.Threat, "d.threat")
	like(q.Host, "d.location")
	like(q.User, `d."user"`)
	like(q.Search, "d.event_id", "d.tenant_id", "d.tenant_name", "d.type", "d.threat", "d.location", `d."user"`, "d.path", "d.name")
	if !q.Since.IsZero() {
		where = append(where, `d.created_at >= `+arg(s.timeArg(q.Since)))
	}
	if !q.Until.IsZero() {
		where = append(where, `d.created_at < `+arg(s.timeArg(q.Until)))
	}
	switch q.Delivery {
	case "":
	case store.DeliverySent, store.DeliveryPending, store.DeliveryRetrying, store.DeliveryDead, store.DeliveryNone:
		if q.Delivery == store.DeliveryNone {
			where = append(where, `NOT EXISTS (SELECT 1 FROM outbox o WHERE o.event_id = d.event_id)`)
			break
		}
		// One GROUP BY over the outbox, not a state computed per detection.
		where = append(where, `d.event_id IN (SELECT o.event_id FROM outbox o GROUP BY o.event_id HAVING CASE
			WHEN SUM(CASE WHEN o.state = 'dead' THEN 1 ELSE 0 END) > 0 THEN 'dead'
			WHEN SUM(CASE WHEN o.state = 'pending' AND o.attempts > 0 THEN 1 ELSE 0 END) > 0 THEN 'retrying'
			WHEN SUM(CASE WHEN o.state = 'pending' THEN 1 ELSE 0 END) > 0 THEN 'pending'
			ELSE 'sent' END = `+arg(q.Delivery)+`)`)
	default:
		return "", nil, fmt.Errorf("delivery state %q is none of %s, %s, %s, %s, %s", q.Delivery,
			store.DeliverySent, store.DeliveryPending, store.DeliveryRetrying, store.DeliveryDead, store.DeliveryNone)
	}
	if q.Acked != nil {
		if *q.Acked {
			where = append(where, `a.acked_at IS NOT NULL`)
		} else {
			where = append(where, `a.acked_at IS NULL`)
		}
	}
	if len(where) == 0 {
		return "", nil, nil
	}
	return ` WHERE ` + strings.Join(where, ` AND `), args, nil
}

// QueryDetections implements store.Dashboard: the filters of q as
// case-insensitive substring matches (ASCII letters fold in every
// dialect), sorted by an allow-listed column (ties by event id, in the
// same direction), paged by Offset and Limit, with the number of rows of
// the whole selection. Follow-ups are detections too (Kind tells them
// apart). A zero CreatedAt sorts before every other. The page is sorted
// and cut before the delivery states of its rows are computed; a
// Delivery filter groups the outbox rows by detection once.
func (s *Store) QueryDetections(ctx context.Context, q store.DetectionQuery) (store.DetectionPage, error) {
	fail := func(err error) (store.DetectionPage, error) {
		return store.DetectionPage{}, fmt.Errorf("sqlstore: query detections: %w", err)
	}
	col, text, ok := sortExpr(q.Sort)
	if !ok {
		return fail(fmt.Errorf("sort column %q is none of created_at, tenant, type, threat, host, user, severity", q.Sort))
	}
	if q.Offset < 0 || q.Limit < 0 {
		return fail(fmt.Errorf("offset %d and limit %d must not be negative", q.Offset, q.Limit))
	}
	where, args, err := s.detectionWhere(q)
	if err != nil {
		return fail(err)
	}
	var page store.DetectionPage
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*)`+listFrom+where, args...).Scan(&page.Total); err != nil {
		return fail(err)
	}
	dir, nulls := ` ASC`, ` NULLS FIRST`
	if q.Desc {
		dir, nulls = ` DESC`, ` NULLS LAST`
	}
	order := col
	if text {
		order += s.collate()
	}
	order += dir
	if strings.HasSuffix(col, ".created_at") {
		order += nulls
	}
	order += `, {t}.event_id` + s.collate() + dir
	inner := `SELECT ` + listCols + `, a.acked_by, a.acked_at, a.comment` + listFrom + where +
		` ORDER BY ` + strings.ReplaceAll(order, "{t}", "d")
	if q.Limit > 0 {
		inner += ` LIMIT ` + strconv.Itoa(q.Limit)
	} else if q.Offset > 0 && s.dialect == DialectSQLite {
		inner += ` LIMIT -1` // SQLite takes OFFSET only after a LIMIT
	}
	if q.Offset > 0 {
		inner += ` OFFSET ` + strconv.Itoa(q.Offset)
	}
	// A subquery's order is not kept: the page is sorted again.
	sqlq := `SELECT p.*, ` + deliveryOf("p.event_id") + ` FROM (` + inner + `) p ORDER BY ` + strings.ReplaceAll(order, "{t}", "p")
	rows, err := s.r.QueryContext(ctx, sqlq, args...)
	if err != nil {
		return fail(err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			r       store.DetectionRow
			d       = &r.Detection
			by, cmt sql.NullString
			at      time.Time
		)
		if err := rows.Scan(&d.EventID, &d.TenantID, &d.TenantName, &d.Kind, &d.Type, &d.Name, &d.Severity,
			&d.Threat, &d.Location, &d.User, &d.EndpointID, &d.EndpointType, &d.Path,
			timeCol{&d.When}, timeCol{&d.CreatedAt}, timeCol{&d.SeenAt}, &by, timeCol{&at}, &cmt, &r.Delivery); err != nil {
			return fail(err)
		}
		if !at.IsZero() {
			r.Ack = &store.Ack{EventID: d.EventID, By: by.String, At: at, Comment: cmt.String}
		}
		page.Rows = append(page.Rows, r)
	}
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	return page, nil
}

// epochMS is the SQL of the time column col as unix milliseconds.
func (s *Store) epochMS(col string) string {
	if s.dialect == DialectSQLite {
		return col
	}
	return `CAST(EXTRACT(EPOCH FROM ` + col + `) * 1000 AS BIGINT)`
}

// Overview implements store.Dashboard with GROUP BY queries (no event is
// loaded). Every stored detection counts, follow-ups included. The day
// and the week are the 24 hours and 7 days before now (a detection
// created after now, by a clock ahead of ours, counts in both); the top
// threats and endpoints are of the week, empty names left out, ties by
// name. The 168 hourly buckets are whole hours (UTC): the last is the
// hour now is in.
func (s *Store) Overview(ctx context.Context, now time.Time) (store.Overview, error) {
	fail := func(what string, err error) (store.Overview, error) {
		return store.Overview{}, fmt.Errorf("sqlstore: overview: %s: %w", what, err)
	}
	if now.IsZero() {
		return store.Overview{}, errors.New("sqlstore: overview: zero time")
	}
	now = normTime(now)
	ov := store.Overview{Now: now}
	day, week := s.timeArg(now.Add(-24*time.Hour)), s.timeArg(now.Add(-7*24*time.Hour))

	rows, err := s.r.QueryContext(ctx, `SELECT t.id,
			COALESCE(NULLIF(t.name, ''), (SELECT MAX(n.tenant_name) FROM detections n WHERE n.tenant_id = t.id), ''),
			COALESCE(SUM(CASE WHEN d.created_at >= $1 THEN 1 ELSE 0 END), 0), COUNT(d.event_id)
		FROM tenants t LEFT JOIN detections d ON d.tenant_id = t.id AND d.created_at >= $2
		GROUP BY t.id, t.name
		ORDER BY COUNT(d.event_id) DESC, t.id`+s.collate(), day, week)
	if err != nil {
		return fail("tenants", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c store.TenantCounts
		if err := rows.Scan(&c.TenantID, &c.TenantName, &c.Day, &c.Week); err != nil {
			return fail("tenants", err)
		}
		ov.Tenants = append(ov.Tenants, c)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fail("tenants", err)
	}

	top := func(col string) ([]store.Count, error) {
		rows, err := s.r.QueryContext(ctx, `SELECT `+col+`, COUNT(*) FROM detections
			WHERE created_at >= $1 AND `+col+` <> ''
			GROUP BY `+col+` ORDER BY COUNT(*) DESC, `+col+s.collate()+` LIMIT 10`, week)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []store.Count
		for rows.Next() {
			var c store.Count
			if err := rows.Scan(&c.Name, &c.N); err != nil {
				return nil, err
			}
			out = append(out, c)
		}
		return out, rows.Err()
	}
	if ov.TopThreats, err = top("threat"); err != nil {
		return fail("top threats", err)
	}
	if ov.TopEndpoints, err = top("location"); err != nil {
		return fail("top endpoints", err)
	}

	const hours = 7 * 24
	first := now.Truncate(time.Hour).Add(-(hours - 1) * time.Hour)
	ov.Hourly = make([]store.Bucket, hours)
	for i := range ov.Hourly {
		ov.Hourly[i].Start = first.Add(time.Duration(i) * time.Hour)
	}
	hourly, err := s.r.QueryContext(ctx, `SELECT h, COUNT(*) FROM (
			SELECT (`+s.epochMS("created_at")+` - $1) / 3600000 AS h FROM detections
			WHERE created_at >= $2 AND created_at < $3) b
		GROUP BY h`, first.UnixMilli(), s.timeArg(first), s.timeArg(first.Add(hours*time.Hour)))
	if err != nil {
		return fail("hourly", err)
	}
	defer hourly.Close()
	for hourly.Next() {
		var h int64
		var n int
		if err := hourly.Scan(&h, &n); err != nil {
			return fail("hourly", err)
		}
		if h < 0 || h >= hours {
			return fail("hourly", fmt.Errorf("bucket %d out of range", h))
		}
		ov.Hourly[h].N = n
	}
	if err := errors.Join(hourly.Err(), hourly.Close()); err != nil {
		return fail("hourly", err)
	}

	// Every ack is of a stored detection (a foreign key), one each.
	if err := s.r.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM detections) - (SELECT COUNT(*) FROM acks)`).Scan(&ov.Unacked); err != nil {
		return fail("unacknowledged", err)
	}
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE state = 'dead'`).Scan(&ov.Dead); err != nil {
		return fail("dead letters", err)
	}
	return ov, nil
}

// DetectionDetail implements store.Dashboard: the detection with its raw
// event, its outbox rows (lowest id first), their attempts in the order
// they were made, its acknowledgement, and its follow-ups (kind followup,
// same tenant, endpoint id and threat, oldest first, without their raw
// event). A detection without an endpoint id has no follow-ups.
func (s *Store) DetectionDetail(ctx context.Context, eventID string) (store.DetectionDetail, error) {
	fail := func(what string, err error) (store.DetectionDetail, error) {
		return store.DetectionDetail{}, fmt.Errorf("sqlstore: detection %q: %s%w", eventID, what, err)
	}
	id := clean(eventID)
	var dd store.DetectionDetail
	d := &dd.Detection
	err := s.r.QueryRowContext(ctx, `SELECT `+detectionCols+` FROM detections d WHERE d.event_id = $1`, id).Scan(
		&d.EventID, &d.TenantID, &d.TenantName, &d.Kind, &d.Type, &d.Name, &d.Severity,
		&d.Threat, &d.Location, &d.User, &d.EndpointID, &d.EndpointType, &d.Path,
		timeCol{&d.When}, timeCol{&d.CreatedAt}, timeCol{&d.SeenAt}, &d.Raw)
	if errors.Is(err, sql.ErrNoRows) {
		return fail("", store.ErrNotFound)
	}
	if err != nil {
		return fail("", err)
	}
	if len(d.Raw) == 0 {
		d.Raw = nil
	}

	rows, err := s.r.QueryContext(ctx, `SELECT `+outboxCols+` FROM outbox o WHERE o.event_id = $1 ORDER BY o.id`, id)
	if err != nil {
		return fail("outbox: ", err)
	}
	defer rows.Close()
	for rows.Next() {
		var it store.OutboxItem
		if err := rows.Scan(&it.ID, &it.EventID, &it.TenantID, &it.Channel, &it.State, &it.Attempts,
			timeCol{&it.NextAt}, &it.LastError, &it.BatchID, timeCol{&it.CreatedAt}, timeCol{&it.SentAt},
			&it.GroupKey, &it.DigestAbove, &it.MaxPerMessage, &it.Digest); err != nil {
			return fail("outbox: ", err)
		}
		dd.Outbox = append(dd.Outbox, it)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fail("outbox: ", err)
	}

	att, err := s.r.QueryContext(ctx, `SELECT t.outbox_id, t.channel, t.at, t.result, t.error FROM attempts t
		WHERE t.outbox_id IN (SELECT o.id FROM outbox o WHERE o.event_id = $1) ORDER BY t.id`, id)
	if err != nil {
		return fail("attempts: ", err)
	}
	defer att.Close()
	for att.Next() {
		var a store.Attempt
		if err := att.Scan(&a.OutboxID, &a.Channel, timeCol{&a.At}, &a.Result, &a.Error); err != nil {
			return fail("attempts: ", err)
		}
		dd.Attempts = append(dd.Attempts, a)
	}
	if err := errors.Join(att.Err(), att.Close()); err != nil {
		return fail("attempts: ", err)
	}

	var a store.Ack
	err = s.r.QueryRowContext(ctx, `SELECT event_id, acked_by, acked_at, comment FROM acks WHERE event_id = $1`, id).
		Scan(&a.EventID, &a.By, timeCol{&a.At}, &a.Comment)
	switch {
	case err == nil:
		dd.Ack = &a
	case !errors.Is(err, sql.ErrNoRows):
		return fail("acknowledgement: ", err)
	}

	if d.EndpointID != "" {
		fu, err := s.r.QueryContext(ctx, `SELECT `+listCols+` FROM detections d
			WHERE d.kind = $1 AND d.tenant_id = $2 AND d.endpoint_id = $3 AND d.threat = $4 AND d.event_id <> $5
			ORDER BY d.created_at ASC NULLS FIRST, d.event_id`+s.collate(),
			store.KindFollowUp, d.TenantID, d.EndpointID, d.Threat, d.EventID)
		if err != nil {
			return fail("follow-ups: ", err)
		}
		defer fu.Close()
		for fu.Next() {
			var f store.Detection
			if err := fu.Scan(&f.EventID, &f.TenantID, &f.TenantName, &f.Kind, &f.Type, &f.Name, &f.Severity,
				&f.Threat, &f.Location, &f.User, &f.EndpointID, &f.EndpointType, &f.Path,
				timeCol{&f.When}, timeCol{&f.CreatedAt}, timeCol{&f.SeenAt}); err != nil {
				return fail("follow-ups: ", err)
			}
			dd.FollowUps = append(dd.FollowUps, f)
		}
		if err := errors.Join(fu.Err(), fu.Close()); err != nil {
			return fail("follow-ups: ", err)
		}
	}
	return dd, nil
}

// AckDetections implements store.Dashboard in one transaction: if any id
// names no stored detection, nothing is written and the error (wrapping
// store.ErrNotFound) names those ids; otherwise every id not acknowledged
// yet is acknowledged by by at at with comment, and the others keep their
// first acknowledgement. An id given twice counts once; no ids is a
// no-op. at must not be zero.
func (s *Store) AckDetections(ctx context.Context, ids []string, by, comment string, at time.Time) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	if at.IsZero() {
		return 0, errors.New("sqlstore: acknowledge detections: zero time")
	}
	u := make([]string, len(ids))
	for i, id := range ids {
		u[i] = clean(id)
	}
	slices.Sort(u)
	u = slices.Compact(u)
	n := 0
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		known := map[string]bool{}
		for c := range slices.Chunk(u, chunkSize) {
			args := make([]any, len(c))
			for i, id := range c {
				args[i] = id
			}
			rows, err := tx.QueryContext(ctx, `SELECT event_id FROM detections WHERE event_id IN (`+placeholders(1, len(c))+`)`, args...)
			if err != nil {
				return err
			}
			for rows.Next() {
				var id string
				if err := rows.Scan(&id); err != nil {
					rows.Close()
					return err
				}
				known[id] = true
			}
			if err := errors.Join(rows.Err(), rows.Close()); err != nil {
				return err
			}
		}
		var missing []string
		for _, id := range u {
			if !known[id] {
				missing = append(missing, id)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("no stored detection has the event id %s: %w (nothing acknowledged)", quoteList(missing), store.ErrNotFound)
		}
		ins, err := tx.PrepareContext(ctx, `INSERT INTO acks (event_id, acked_by, acked_at, comment) VALUES ($1, $2, $3, $4)
			ON CONFLICT (event_id) DO NOTHING`)
		if err != nil {
			return err
		}
		defer ins.Close()
		for _, id := range u {
			res, err := ins.ExecContext(ctx, id, clean(by), s.timeArg(at), clean(comment))
			if err != nil {
				return fmt.Errorf("detection %q: %w", id, err)
			}
			k, err := res.RowsAffected()
			if err != nil {
				return fmt.Errorf("detection %q: %w", id, err)
			}
			n += int(k)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sqlstore: acknowledge detections: %w", err)
	}
	return n, nil
}

// quoteList formats ids for an error, quoted, eliding a long list.
func quoteList(ids []string) string { return elide(ids, ", ", strconv.Quote) }
