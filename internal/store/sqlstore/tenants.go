package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/puawatch/puawatch/internal/store"
)

// UpsertTenants implements store.Store. New tenants get FirstSeen at;
// listed tenants get their name, region and API host updated and Removed
// cleared; stored tenants not in ts are marked Removed. Cursors and
// progress are kept. UpdatedAt moves to at only for rows that changed. An
// empty ts is taken as "no information" and changes nothing (a failed or
// empty listing must not mark every tenant removed). A tenant listed twice
// takes its last entry.
func (s *Store) UpsertTenants(ctx context.Context, ts []store.Tenant, at time.Time) error {
	if len(ts) == 0 {
		return nil
	}
	listed := make(map[string]store.Tenant, len(ts))
	var order []string
	for _, t := range ts {
		id := clean(t.ID)
		if id == "" {
			return errors.New("sqlstore: upsert tenants: a tenant has an empty id")
		}
		if _, ok := listed[id]; !ok {
			order = append(order, id)
		}
		listed[id] = t
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `
			INSERT INTO tenants (id, name, region, api_host, first_seen, removed, updated_at)
			VALUES ($1, $2, $3, $4, $5, FALSE, $5)
			ON CONFLICT (id) DO UPDATE SET
				name = excluded.name, region = excluded.region, api_host = excluded.api_host,
				removed = FALSE, updated_at = excluded.updated_at
			WHERE tenants.name <> excluded.name OR tenants.region <> excluded.region
				OR tenants.api_host <> excluded.api_host OR tenants.removed`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, id := range order {
			t := listed[id]
			if _, err := stmt.ExecContext(ctx, id, clean(t.Name), clean(t.Region), clean(t.APIHost), s.timeArg(at)); err != nil {
				return fmt.Errorf("tenant %q: %w", id, err)
			}
		}
		rows, err := tx.QueryContext(ctx, `SELECT id FROM tenants WHERE NOT removed`)
		if err != nil {
			return err
		}
		var gone []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			if _, ok := listed[id]; !ok {
				gone = append(gone, id)
			}
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
		for len(gone) > 0 {
			n := min(len(gone), chunkSize)
			args := []any{s.timeArg(at)}
			for _, id := range gone[:n] {
				args = append(args, id)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE tenants SET removed = TRUE, updated_at = $1 WHERE id IN (`+placeholders(2, n)+`)`, args...); err != nil {
				return fmt.Errorf("mark removed: %w", err)
			}
			gone = gone[n:]
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlstore: upsert %d tenants: %w", len(order), err)
	}
	return nil
}

const tenantCols = `id, name, region, api_host, cursor, last_read, overlap_at, last_error, error_at, first_seen, removed, updated_at`

// Tenants implements store.Store: every stored tenant, ordered by id.
func (s *Store) Tenants(ctx context.Context) ([]store.Tenant, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+tenantCols+` FROM tenants ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list tenants: %w", err)
	}
	defer rows.Close()
	var out []store.Tenant
	for rows.Next() {
		t, err := scanTenant(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: list tenants: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: list tenants: %w", err)
	}
	return out, nil
}

// Tenant implements store.Store: one row, by its primary key (the
// daemon reads a tenant's state before and after each read).
func (s *Store) Tenant(ctx context.Context, id string) (store.Tenant, error) {
	t, err := scanTenant(s.r.QueryRowContext(ctx, `SELECT `+tenantCols+` FROM tenants WHERE id = $1`, clean(id)))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Tenant{}, fmt.Errorf("sqlstore: tenant %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Tenant{}, fmt.Errorf("sqlstore: read tenant %q: %w", id, err)
	}
	return t, nil
}

// scanTenant reads one row of tenantCols.
func scanTenant(r interface{ Scan(...any) error }) (store.Tenant, error) {
	var t store.Tenant
	err := r.Scan(&t.ID, &t.Name, &t.Region, &t.APIHost, &t.Cursor,
		timeCol{&t.LastRead}, timeCol{&t.OverlapAt}, &t.LastError, timeCol{&t.ErrorAt},
		timeCol{&t.FirstSeen}, &t.Removed, timeCol{&t.UpdatedAt})
	return t, err
}

// SetTenantError implements store.Store. A message sets LastError and
// ErrorAt = at; "" clears both. A tenant not stored yet is created, so a
// tenant whose very first read fails still shows its error.
func (s *Store) SetTenantError(ctx context.Context, tenantID, msg string, at time.Time) error {
	id := clean(tenantID)
	if id == "" {
		return errors.New("sqlstore: set tenant error: empty tenant id")
	}
	msg = clean(msg)
	var errAt any
	if msg != "" {
		errAt = s.timeArg(at)
	}
	_, err := s.w.ExecContext(ctx, `
		INSERT INTO tenants (id, last_error, error_at, first_seen, updated_at) VALUES ($1, $2, $3, $4, $4)
		ON CONFLICT (id) DO UPDATE SET last_error = excluded.last_error, error_at = excluded.error_at,
			updated_at = excluded.updated_at`,
		id, msg, errAt, s.timeArg(at))
	if err != nil {
		return fmt.Errorf("sqlstore: set error of tenant %q: %w", id, err)
	}
	return nil
}

// SetOverlapAt implements store.Store. A tenant not stored yet is created.
func (s *Store) SetOverlapAt(ctx context.Context, tenantID string, at time.Time) error {
	id := clean(tenantID)
	if id == "" {
		return errors.New("sqlstore: set overlap time: empty tenant id")
	}
	_, err := s.w.ExecContext(ctx, `
		INSERT INTO tenants (id, overlap_at, first_seen, updated_at) VALUES ($1, $2, $2, $2)
		ON CONFLICT (id) DO UPDATE SET overlap_at = excluded.overlap_at, updated_at = excluded.updated_at`,
		id, s.timeArg(at))
	if err != nil {
		return fmt.Errorf("sqlstore: set overlap time of tenant %q: %w", id, err)
	}
	return nil
}
