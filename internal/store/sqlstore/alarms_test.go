package sqlstore_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/store/sqlstore"
)

// TestAlarmsMigrationAfterLater: a store made before migration 00003
// existed is at version 5 (00004 and 00005 applied). Opening it applies
// 00003 out of order, and the alarm slots work.
func TestAlarmsMigrationAfterLater(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			s, dsn := d.open(t)
			s.Close()
			driver := "sqlite"
			if d.name == "Postgres" {
				driver = "pgx"
			}
			raw, err := sql.Open(driver, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			ctx := context.Background()
			// Undo 00003 as if it had never been there.
			for _, q := range []string{`DROP TABLE alarm_slots`, `DELETE FROM puawatch_goose_version WHERE version_id = 3`} {
				if _, err := raw.ExecContext(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			s2, err := sqlstore.Open(ctx, dsn)
			if err != nil {
				t.Fatalf("Open of a store at version 5 without 00003: %v", err)
			}
			defer s2.Close()
			now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			if ok, err := s2.TakeAlarmSlot(ctx, "t1", now, time.Hour); err != nil || !ok {
				t.Fatalf("TakeAlarmSlot after the migration = %v, %v; want true", ok, err)
			}
		})
	}
}
