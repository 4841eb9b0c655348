package central

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
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
		sameAsTwoPass(t, b, p, err)
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

// sameAsTwoPass fails the test unless DecodePage's page or error p, err
// is what decoding b in two passes gives (the envelope with each item as
// json.RawMessage, then each item), as puawatch did before DecodePage read
// the answer once: the same items, Raw byte for byte, or an error both
// ways. The two may differ only on nesting deeper than encoding/json's
// limit, which the one pass counts from the item, not the answer.
func sameAsTwoPass(t *testing.T, b []byte, p Page, err error) {
	t.Helper()
	want, wantErr := decodeTwoPass(b)
	if (err == nil) != (wantErr == nil) {
		if wantErr != nil && strings.Contains(wantErr.Error(), "exceeded max depth") {
			return
		}
		t.Fatalf("DecodePage gave %v, two passes %v", err, wantErr)
	}
	if err != nil {
		return
	}
	if p.HasMore != want.HasMore || p.NextCursor != want.NextCursor || len(p.Items) != len(want.Items) {
		t.Fatalf("DecodePage gave %d items, has_more %v, cursor %q; two passes %d, %v, %q",
			len(p.Items), p.HasMore, p.NextCursor, len(want.Items), want.HasMore, want.NextCursor)
	}
	for i := range p.Items {
		a, _ := json.Marshal(p.Items[i])
		w, _ := json.Marshal(want.Items[i])
		if !bytes.Equal(a, w) || !bytes.Equal(p.Items[i].Raw, want.Items[i].Raw) {
			t.Fatalf("item %d: DecodePage gave %s (raw %q), two passes %s (raw %q)", i, a, p.Items[i].Raw, w, want.Items[i].Raw)
		}
	}
}

// decodeTwoPass is the decoder DecodePage replaced: the envelope with
// each item as json.RawMessage, then each item.
func decodeTwoPass(b []byte) (Page, error) {
	var env struct {
		HasMore    bool              `json:"has_more"`
		NextCursor string            `json:"next_cursor"`
		Items      []json.RawMessage `json:"items"`
	}
	if err := decodeObject(b, &env); err != nil {
		return Page{}, err
	}
	if env.HasMore && env.NextCursor == "" {
		return Page{}, errors.New("has_more without a next_cursor")
	}
	p := Page{HasMore: env.HasMore, NextCursor: env.NextCursor, Items: make([]Event, 0, len(env.Items))}
	for i, raw := range env.Items {
		var e Event
		if err := json.Unmarshal(raw, &e); err != nil {
			return Page{}, fmt.Errorf("item %d: %w", i, err)
		}
		if e.ID == "" {
			return Page{}, fmt.Errorf("item %d has no id", i)
		}
		e.Raw = raw
		p.Items = append(p.Items, e)
	}
	return p, nil
}
