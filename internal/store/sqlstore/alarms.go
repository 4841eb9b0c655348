package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// TakeAlarmSlot implements store.Store with one conditional upsert: the
// row is inserted, or its time moved to now when it is at or before
// now-every; RETURNING tells which happened. PostgreSQL locks the row for
// the upsert and SQLite has one writer, so of two takers one wins.
func (s *Store) TakeAlarmSlot(ctx context.Context, name string, now time.Time, every time.Duration) (bool, error) {
	switch {
	case name == "":
		return false, errors.New("sqlstore: take alarm slot: empty name")
	case now.IsZero():
		return false, fmt.Errorf("sqlstore: take alarm slot %q: zero time", name)
	case every <= 0:
		return false, fmt.Errorf("sqlstore: take alarm slot %q: interval %v is not positive", name, every)
	}
	var got string
	err := s.w.QueryRowContext(ctx, `INSERT INTO alarm_slots (name, taken_at) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET taken_at = excluded.taken_at WHERE alarm_slots.taken_at <= $3
		RETURNING name`, clean(name), s.timeArg(now), s.timeArg(now.Add(-every))).Scan(&got)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("sqlstore: take alarm slot %q: %w", name, err)
	}
	return true, nil
}

// ReleaseAlarmSlot implements store.Store: the slot's row goes when it
// is still taken at at; no row is a slot free to take.
func (s *Store) ReleaseAlarmSlot(ctx context.Context, name string, at time.Time) error {
	if name == "" {
		return errors.New("sqlstore: release alarm slot: empty name")
	}
	if _, err := s.w.ExecContext(ctx, `DELETE FROM alarm_slots WHERE name = $1 AND taken_at = $2`, clean(name), s.timeArg(at)); err != nil {
		return fmt.Errorf("sqlstore: release alarm slot %q: %w", name, err)
	}
	return nil
}
