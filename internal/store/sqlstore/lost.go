package sqlstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/puawatch/puawatch/internal/store"
)

// AddLostWindow implements store.Store: a window of the same tenant and
// From is one row, whose To only grows.
func (s *Store) AddLostWindow(ctx context.Context, w store.LostWindow) error {
	id := clean(w.TenantID)
	from, to := normTime(w.From), normTime(w.To)
	switch {
	case id == "":
		return errors.New("sqlstore: add lost window: empty tenant id")
	case from.IsZero() || w.DetectedAt.IsZero():
		return fmt.Errorf("sqlstore: add lost window of tenant %q: From and DetectedAt must be set", id)
	case !to.After(from):
		return fmt.Errorf("sqlstore: add lost window of tenant %q: To %s is not after From %s", id, to, from)
	}
	_, err := s.w.ExecContext(ctx, `
		INSERT INTO lost_windows (tenant_id, from_at, to_at, reason, detected_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (tenant_id, from_at) DO UPDATE SET to_at = excluded.to_at, reason = excluded.reason
		WHERE excluded.to_at > lost_windows.to_at`,
		id, s.timeArg(from), s.timeArg(to), clean(w.Reason), s.timeArg(w.DetectedAt))
	if err != nil {
		return fmt.Errorf("sqlstore: add lost window of tenant %q: %w", id, err)
	}
	return nil
}

// LostWindows implements store.Store.
func (s *Store) LostWindows(ctx context.Context, tenantID string) ([]store.LostWindow, error) {
	q := `SELECT tenant_id, from_at, to_at, reason, detected_at FROM lost_windows`
	var args []any
	if tenantID != "" {
		q += ` WHERE tenant_id = $1`
		args = append(args, clean(tenantID))
	}
	rows, err := s.r.QueryContext(ctx, q+` ORDER BY tenant_id, from_at`, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list lost windows: %w", err)
	}
	defer rows.Close()
	var out []store.LostWindow
	for rows.Next() {
		var w store.LostWindow
		if err := rows.Scan(&w.TenantID, timeCol{&w.From}, timeCol{&w.To}, &w.Reason, timeCol{&w.DetectedAt}); err != nil {
			return nil, fmt.Errorf("sqlstore: list lost windows: %w", err)
		}
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: list lost windows: %w", err)
	}
	return out, nil
}
