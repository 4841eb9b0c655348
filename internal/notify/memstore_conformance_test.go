package notify

import (
	"testing"

	"github.com/puawatch/puawatch/internal/store"
	"github.com/puawatch/puawatch/internal/store/storetest"
)

// TestMemStoreConformance keeps the test double honest: it must behave as
// the store contract says, as the real backends do.
func TestMemStoreConformance(t *testing.T) {
	storetest.Run(t, func(*testing.T) store.Store { return NewMemStore() })
}
