package jsonl

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/notify"
	"github.com/puawatch/puawatch/internal/store"
)

var t0 = time.Date(2025, 3, 4, 10, 20, 30, 0, time.UTC)

func det(id string) store.Detection {
	return store.Detection{
		EventID: id, TenantID: "t-1", TenantName: "Acme <Corp>", Kind: store.KindDetection,
		Type: "Event::Endpoint::CorePuaDetection", Name: "PUA detected", Severity: "high", Threat: "PsExec",
		Location: "WS-042", User: `ACME\jdoe`, EndpointID: "ep-9", EndpointType: "computer",
		Path: "C:\\tools\\psexec.exe\nnext", When: t0, CreatedAt: t0.Add(time.Second),
	}
}

func msg(key string, ds ...store.Detection) notify.Message {
	return notify.Message{Key: key, Channel: "jsonl", TenantID: "t-1", TenantName: "Acme <Corp>", Detections: ds}
}

// fields are the keys of a line: the detection object's, key and channel.
var fields = []string{"id", "kind", "type", "tenant_id", "tenant_name", "created_at", "when", "host", "endpoint_id",
	"endpoint_type", "user", "threat", "path", "severity", "name", "cleanup", "key", "channel"}

func readLines(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func TestFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "detections.jsonl")
	n, err := New(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Notify(context.Background(), msg("b1", det("ev-1"), det("ev-2"))); err != nil {
		t.Fatal(err)
	}
	if err := n.Notify(context.Background(), msg("ev-3.jsonl", det("ev-3"))); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := n.Notify(context.Background(), msg("k", det("ev-4"))); err == nil || notify.IsPermanent(err) {
		t.Errorf("Notify after Close = %v, want a retryable error", err)
	}

	// Reopening appends.
	n2, err := New(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n2.Close()
	if err := n2.Notify(context.Background(), msg("ev-5.jsonl", det("ev-5"))); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	lines := readLines(t, b)
	if len(lines) != 4 {
		t.Fatalf("%d lines, want 4:\n%s", len(lines), b)
	}
	for i, l := range lines {
		for _, f := range fields {
			if _, ok := l[f]; !ok {
				t.Errorf("line %d lacks %q", i, f)
			}
		}
	}
	for i, l := range lines {
		if len(l) != len(fields) {
			t.Errorf("line %d has %d keys, want %d (%v): %v", i, len(l), len(fields), fields, l)
		}
	}
	l := lines[0]
	if l["id"] != "ev-1" || l["key"] != "b1" || l["tenant_name"] != "Acme <Corp>" || l["user"] != `ACME\jdoe` || l["host"] != "WS-042" ||
		l["path"] != "C:\\tools\\psexec.exe next" || l["created_at"] != "2025-03-04T10:20:31.000Z" || l["when"] != "2025-03-04T10:20:30.000Z" ||
		l["cleanup"] != "unknown" {
		t.Errorf("line 0 = %v", l)
	}
	if lines[3]["id"] != "ev-5" {
		t.Errorf("line 3 = %v", lines[3])
	}
}

func TestStdout(t *testing.T) {
	var out bytes.Buffer
	n, err := New("-", &out)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Notify(context.Background(), msg("k", det("ev-1"))); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if ls := readLines(t, out.Bytes()); len(ls) != 1 || ls[0]["threat"] != "PsExec" {
		t.Errorf("stdout = %q", out.String())
	}
	if _, err := New("-", nil); err == nil {
		t.Error("New(-, nil) accepted")
	}
	if _, err := New("", nil); err == nil {
		t.Error(`New("") accepted`)
	}
	if _, err := New(filepath.Join(t.TempDir(), "missing", "x.jsonl"), nil); err == nil {
		t.Error("New in a missing directory accepted")
	}
}

// flaky writes part of the first write and fails, then works.
type flaky struct {
	bytes.Buffer
	failed bool
}

func (f *flaky) Write(p []byte) (int, error) {
	if !f.failed {
		f.failed = true
		f.Buffer.Write(p[:len(p)/2])
		return len(p) / 2, errors.New("disk full")
	}
	return f.Buffer.Write(p)
}

func TestWriteFailureIsRetryableAndLeavesParseableLines(t *testing.T) {
	var w flaky
	n, err := New("-", &w)
	if err != nil {
		t.Fatal(err)
	}
	err = n.Notify(context.Background(), msg("k", det("ev-1")))
	if err == nil || notify.IsPermanent(err) || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("err = %v, want retryable", err)
	}
	if err := n.Notify(context.Background(), msg("k", det("ev-1"))); err != nil {
		t.Fatal(err)
	}
	// The partial line stays broken, but the retried line is whole.
	parts := strings.Split(strings.TrimSuffix(w.String(), "\n"), "\n")
	if len(parts) != 2 {
		t.Fatalf("output %q", w.String())
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(parts[1]), &m); err != nil || m["id"] != "ev-1" {
		t.Errorf("retried line %q: %v", parts[1], err)
	}
}

func TestCancelledContext(t *testing.T) {
	var out bytes.Buffer
	n, _ := New("-", &out)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := n.Notify(ctx, msg("k", det("ev-1"))); err == nil || out.Len() != 0 {
		t.Errorf("err = %v, out %q", err, out.String())
	}
}

// A process killed in the middle of a write leaves a partial last line;
// the next process must end it before appending, so that its own lines
// parse (the dirty flag of a failed write is gone with the process).
func TestPartialLineOfAnEarlierProcessIsEnded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "detections.jsonl")
	if err := os.WriteFile(path, []byte(`{"id":"ev-0","key":"k0"}`+"\n"+`{"id":"ev-1","ki`), 0o600); err != nil {
		t.Fatal(err)
	}
	n, err := New(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Notify(context.Background(), msg("k2", det("ev-2"))); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 3 || lines[1] != `{"id":"ev-1","ki` {
		t.Fatalf("lines %q", lines)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[2]), &m); err != nil || m["id"] != "ev-2" {
		t.Errorf("new line %q: %v", lines[2], err)
	}
	// A file that ends its last line is appended to as it is.
	n, err = New(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if err := n.Notify(context.Background(), msg("k3", det("ev-3"))); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(path)
	if got := strings.Count(string(b), "\n"); got != 4 || strings.Contains(string(b), "\n\n") {
		t.Errorf("after a clean append: %q", b)
	}
}
