package dashboard

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/puawatch/puawatch/internal/store"
)

// filterFields are the query fields of /detections, in the order the
// canonical query (links, exports) writes them.
var filterFields = []string{"tenant", "type", "threat", "host", "user", "q", "since", "until", "delivery", "acked", "sort", "desc"}

// sortColumns are the columns a detection list sorts by (store.DetectionQuery.Sort).
var sortColumns = []string{"created_at", "tenant", "type", "threat", "host", "user", "severity"}

// deliveryStates are the values of the delivery filter.
var deliveryStates = []string{store.DeliverySent, store.DeliveryPending, store.DeliveryRetrying, store.DeliveryDead, store.DeliveryNone}

// maxFilter bounds one text filter.
const maxFilter = 500

// selection is a parsed /detections query.
type selection struct {
	Q      store.DetectionQuery
	Page   int        // 1-based
	Values url.Values // the given filter fields (page left out), for links
}

// parseSelection reads the query of /detections and its exports. A value
// that cannot be read is a badRequest naming the field and the value.
func parseSelection(v url.Values) (selection, error) {
	s := selection{Values: url.Values{}, Page: 1}
	for _, f := range filterFields {
		if x := strings.TrimSpace(v.Get(f)); x != "" {
			if len([]rune(x)) > maxFilter {
				return s, badf("%s: the value is %d characters long; at most %d", f, len([]rune(x)), maxFilter)
			}
			s.Values.Set(f, x)
		}
	}
	g := s.Values.Get
	s.Q = store.DetectionQuery{Tenant: g("tenant"), Type: g("type"), Threat: g("threat"), Host: g("host"), User: g("user"), Search: g("q")}
	var err error
	if s.Q.Since, err = parseTime("since", g("since")); err != nil {
		return s, err
	}
	if s.Q.Until, err = parseTime("until", g("until")); err != nil {
		return s, err
	}
	if !s.Q.Since.IsZero() && !s.Q.Until.IsZero() && !s.Q.Until.After(s.Q.Since) {
		return s, badf("until (%s) must be after since (%s)", g("until"), g("since"))
	}
	if d := g("delivery"); d != "" {
		if !slices.Contains(deliveryStates, d) {
			return s, badf("delivery: %q is not a delivery state; use one of %s, or leave it empty for any", d, strings.Join(deliveryStates, ", "))
		}
		s.Q.Delivery = d
	}
	switch a := g("acked"); a {
	case "":
	case "yes":
		s.Q.Acked = ptr(true)
	case "no":
		s.Q.Acked = ptr(false)
	default:
		return s, badf("acked: %q is neither yes nor no; leave it empty for any", a)
	}
	s.Q.Sort = "created_at"
	if c := g("sort"); c != "" {
		if !slices.Contains(sortColumns, c) {
			return s, badf("sort: %q is not a column; sort by one of %s", c, strings.Join(sortColumns, ", "))
		}
		s.Q.Sort = c
	}
	switch d := g("desc"); d {
	case "": // newest first by default; text columns A to Z
		s.Q.Desc = s.Q.Sort == "created_at"
	case "1", "true":
		s.Q.Desc = true
	case "0", "false":
		s.Q.Desc = false
	default:
		return s, badf("desc: %q is not 1 or 0 (descending or ascending)", d)
	}
	if p := strings.TrimSpace(v.Get("page")); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 {
			return s, badf("page: %q is not a page number (1, 2, ...)", p)
		}
		s.Page = n
	}
	return s, nil
}

func ptr[T any](v T) *T { return &v }

// timeLayouts are what since and until accept besides RFC 3339: the
// values of a datetime-local input, read in UTC.
var timeLayouts = []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02T15:04:05.999999999", "2006-01-02"}

// parseTime reads field's value: RFC 3339, or a datetime-local value (or
// a date) in UTC.
func parseTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, badf("%s: %q is not a time; write 2006-01-02T15:04 (UTC) or RFC 3339 such as 2006-01-02T15:04:05Z", field, s)
}

// inputTime is t as a datetime-local input's value (UTC), "" for zero.
func inputTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.999")
}

// with returns the canonical query of s with the fields kv (name, value,
// ...) set; an empty value drops the field.
func (s selection) with(kv ...string) string {
	v := url.Values{}
	for k, x := range s.Values {
		v[k] = slices.Clone(x)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			v.Del(kv[i])
		} else {
			v.Set(kv[i], kv[i+1])
		}
	}
	return v.Encode()
}
