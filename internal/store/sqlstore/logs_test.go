package sqlstore_test

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/puawatch/puawatch/internal/store/sqlstore"
)

// Creating a store logs bounded lines: not every statement of every
// migration in full (goose's verbose mode made the first run's log begin
// with 27 lines of SQL, the longest over 1 KB).
func TestNewStoreLogsBoundedLines(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	st, err := sqlstore.Open(t.Context(), filepath.Join(t.TempDir(), "p.db"), sqlstore.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if len(l) > 300 || strings.Contains(l, "CREATE TABLE") {
			t.Errorf("a new store logged a line of %d bytes: %.200s", len(l), l)
		}
	}
}
