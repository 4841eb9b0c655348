package central

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzDecodePage feeds arbitrary bytes to the decoder of /siem/v1/events
// answers. Properties: it never panics; it returns an error or a page,
// never both; every item of a page has an id and keeps the JSON it was
// decoded from; has_more comes with a next_cursor; and decoding the same
// bytes twice gives the same page or the same error. The seeds in
// testdata/fuzz/FuzzDecodePage are real pages and hostile ones (null
// items, missing and duplicated ids, has_more without a cursor, deep
// nesting, invalid UTF-8, truncated JSON).
func FuzzDecodePage(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodePage(b)
		p2, err2 := DecodePage(b)
		if (err == nil) != (err2 == nil) || (err != nil && err.Error() != err2.Error()) {
			t.Fatalf("decoding twice gave the errors %v and %v", err, err2)
		}
		if err != nil {
			if p.Items != nil || p.HasMore || p.NextCursor != "" {
				t.Fatalf("error %v came with a page %+v", err, p)
			}
			if err.Error() == "" {
				t.Fatal("an empty error message")
			}
			return
		}
		if p.HasMore && p.NextCursor == "" {
			t.Fatal("has_more without a next_cursor was accepted")
		}
		if p.HasMore != p2.HasMore || p.NextCursor != p2.NextCursor || len(p.Items) != len(p2.Items) {
			t.Fatalf("decoding twice gave different pages: %+v and %+v", p, p2)
		}
		for i, e := range p.Items {
			if e.ID == "" {
				t.Fatalf("item %d has no id: %s", i, e.Raw)
			}
			if !json.Valid(e.Raw) {
				t.Fatalf("item %d keeps invalid JSON %q", i, e.Raw)
			}
			// Raw is the item as sent: decoding it again gives the same
			// event.
			var again Event
			if err := json.Unmarshal(e.Raw, &again); err != nil {
				t.Fatalf("item %d: its Raw does not decode: %v", i, err)
			}
			if again.ID != e.ID || again.Type != e.Type || !again.CreatedAt.Equal(e.CreatedAt) || !again.When.Equal(e.When) {
				t.Fatalf("item %d: Raw decodes to %q %q, the item is %q %q", i, again.ID, again.Type, e.ID, e.Type)
			}
			a, errA := json.Marshal(e)
			b, errB := json.Marshal(p2.Items[i])
			if (errA == nil) != (errB == nil) || !bytes.Equal(a, b) || !bytes.Equal(e.Raw, p2.Items[i].Raw) {
				t.Fatalf("item %d decoded differently twice:\n%s\n%s", i, a, b)
			}
		}
	})
}
