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
	"unicode/utf8"
)

// chunkSize bounds the ids bound in one statement (SQLite allows 32766
// parameters, PostgreSQL 65535).
const chunkSize = 500

// maxParams bounds the parameters of one multi-row INSERT: SQLite's
// limit (32766), the lower of the two (PostgreSQL allows 65535).
const maxParams = 32766

// maxRows is how many rows of cols parameters one INSERT takes.
func maxRows(cols int) int { return maxParams / cols }

// valueRows returns "($1, ..., $cols), ($cols+1, ...), ..." for n rows of
// cols parameters; on SQLite "(?, ...), ...": SQLite looks each $N up in
// a list of the names seen so far, which makes parsing a statement of
// thousands of them quadratic, while each plain ? simply takes the next
// number.
func (s *Store) valueRows(n, cols int) string {
	var b strings.Builder
	b.Grow(n * cols * 7)
	for r := range n {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := range cols {
			if c > 0 {
				b.WriteString(", ")
			}
			if s.dialect == DialectSQLite {
				b.WriteByte('?')
				continue
			}
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(r*cols + c + 1))
		}
		b.WriteByte(')')
	}
	return b.String()
}

// normTime is how a time comes back from the store: UTC, truncated to the
// millisecond; the zero time stays zero.
func normTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Millisecond)
}

// timeArg encodes t as a query argument: NULL for the zero time, unix
// milliseconds for SQLite, a UTC time.Time for PostgreSQL.
func (s *Store) timeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	t = normTime(t)
	if s.dialect == DialectSQLite {
		return t.UnixMilli()
	}
	return t
}

// timeType is the SQL type of a time column: INTEGER unix milliseconds
// on SQLite, timestamptz on PostgreSQL.
func (s *Store) timeType() string {
	if s.dialect == DialectSQLite {
		return "INTEGER"
	}
	return "timestamptz"
}

// timeCol scans a time column of either dialect.
type timeCol struct{ t *time.Time }

// Scan implements sql.Scanner.
func (c timeCol) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		*c.t = time.Time{}
	case int64:
		*c.t = time.UnixMilli(x).UTC()
	case time.Time:
		*c.t = normTime(x)
	default:
		return fmt.Errorf("time column holds %T", v)
	}
	return nil
}

// clean makes s storable as text in every dialect: valid UTF-8 without
// NUL. Invalid bytes and NUL become U+FFFD.
func clean(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

// placeholders returns "$from, $from+1, ..." for n arguments.
func placeholders(from, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(from + i))
	}
	return b.String()
}

// uniqIDs returns ids sorted without duplicates.
func uniqIDs(ids []int64) []int64 {
	u := slices.Clone(ids)
	slices.Sort(u)
	return slices.Compact(u)
}

// chunks splits ids into slices of at most chunkSize.
func chunks(ids []int64) [][]int64 {
	var out [][]int64
	for len(ids) > 0 {
		n := min(len(ids), chunkSize)
		out = append(out, ids[:n])
		ids = ids[n:]
	}
	return out
}

// inTx runs fn in a transaction (IMMEDIATE on SQLite) and commits it when
// fn succeeds; otherwise nothing fn did is kept.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) (err error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// queryer is what both *sql.DB and *sql.Tx offer.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// missingIDs returns the ids (sorted, unique) the outbox does not hold.
func missingIDs(ctx context.Context, q queryer, ids []int64) ([]int64, error) {
	held := map[int64]bool{}
	for _, c := range chunks(ids) {
		args := make([]any, len(c))
		for i, id := range c {
			args[i] = id
		}
		got, err := scanIDs(q.QueryContext(ctx, `SELECT id FROM outbox WHERE id IN (`+placeholders(1, len(c))+`)`, args...))
		if err != nil {
			return nil, err
		}
		for _, id := range got {
			held[id] = true
		}
	}
	var missing []int64
	for _, id := range ids {
		if !held[id] {
			missing = append(missing, id)
		}
	}
	return missing, nil
}

// scanIDs reads a one-column result of row ids, closing the rows.
func scanIDs(rows *sql.Rows, err error) ([]int64, error) {
	if err != nil {
		return nil, err
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, err
	}
	return ids, nil
}
