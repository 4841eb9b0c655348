package notify_test

import (
	"testing"

	"github.com/puawatch/puawatch/internal/notify"
	"github.com/puawatch/puawatch/internal/notify/notifytest"
	"github.com/puawatch/puawatch/internal/store"
)

// TestDispatcherScenarios runs the dispatcher scenarios on the MemStore
// (sqlstore runs them on SQLite and PostgreSQL).
func TestDispatcherScenarios(t *testing.T) {
	notifytest.Run(t, func(*testing.T) store.Store { return notify.NewMemStore() })
}
