package jsonl

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/render"
	"github.com/puawatch/puawatch/internal/store"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestGolden pins the default lines of a digest of two detections, one of
// them with hostile values: cleaned (control characters become spaces) and
// JSON-escaped, one line each.
func TestGolden(t *testing.T) {
	m := render.SampleMessage()
	hostile := m.Detections[0]
	hostile.EventID = "33333333-3333-4333-8333-333333333333"
	hostile.Kind = store.KindFollowUp
	hostile.Type = "Event::Endpoint::CorePuaCleanFailed"
	hostile.Location = "HOST\r\nX-Injected: 1 <script>alert(1)</script>"
	hostile.Path = `\\srv\share\"quoted"|a=b]` + "\u2028"
	hostile.CreatedAt = time.Date(2026, 1, 2, 3, 4, 7, 250e6, time.UTC)
	m.Detections = append(m.Detections, hostile)
	var out bytes.Buffer
	n, err := New("-", &out)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "digest.golden.jsonl")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("lines differ from %s:\n got %s\nwant %s", golden, out.Bytes(), want)
	}
	if n := bytes.Count(out.Bytes(), []byte("\n")); n != 2 {
		t.Errorf("%d lines, want 2", n)
	}
}
