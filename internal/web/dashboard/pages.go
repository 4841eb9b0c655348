package dashboard

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"

	"github.com/puawatch/puawatch/internal/central"
	"github.com/puawatch/puawatch/internal/poll"
	"github.com/puawatch/puawatch/internal/store"
)

// problem is a line of the overview's problems: a failing or lagging
// tenant, a lost window, a receiver with dead letters.
type problem struct {
	Kind string // failing, lagging, lost, dead
	Text string
	URL  string
}

type overviewView struct {
	base
	O        store.Overview
	Chart    chart
	Problems []problem
}

func (h *handler) overview(w http.ResponseWriter, r *http.Request) {
	now := h.o.Now()
	ov, err := h.o.Dash.Overview(r.Context(), now)
	if err != nil {
		h.storeFailed(w, r, "reading the overview", err)
		return
	}
	tenants, err := h.tenantRows(r, now, nil)
	if err != nil {
		h.storeFailed(w, r, "reading the tenants", err)
		return
	}
	counts, err := h.o.Store.OutboxCounts(r.Context(), time.Time{})
	if err != nil {
		h.storeFailed(w, r, "counting the outbox", err)
		return
	}
	v := overviewView{base: h.base(r, "Overview", "overview"), O: ov, Chart: hourlyChart(ov.Hourly)}
	for _, t := range tenants {
		if t.T.Removed {
			continue
		}
		who := fmt.Sprintf("Tenant %s (%s)", t.T.Name, t.T.ID)
		u := "/tenants#tenant-" + t.T.ID
		if t.T.LastError != "" {
			v.Problems = append(v.Problems, problem{"failing", fmt.Sprintf("%s failing since %s: %s", who, showTime(t.T.ErrorAt), t.T.LastError), u})
		}
		if t.Lagging {
			v.Problems = append(v.Problems, problem{"lagging", fmt.Sprintf("%s lagging: not read to the end for %s (poll.lag_alarm %s)", who, showDur(t.Lag), showDur(h.o.LagAlarm)), u})
		}
		for _, lw := range t.Lost {
			if now.Sub(lw.DetectedAt) < poll.LostRecent {
				v.Problems = append(v.Problems, problem{"lost", fmt.Sprintf("%s: events from %s to %s may be lost: %s", who, showTime(lw.From), showTime(lw.To), lw.Reason), u})
			}
		}
	}
	for _, c := range counts {
		if c.State == store.StateDead && c.Rows > 0 {
			v.Problems = append(v.Problems, problem{"dead", fmt.Sprintf("Receiver %s: %d dead notification(s); the latest reason: %s", c.Channel, c.Rows, cmp.Or(c.LastError, "none recorded")),
				"/outbox?" + url.Values{"receiver": {c.Channel}, "state": {"dead"}}.Encode()})
		}
	}
	h.render(w, r, http.StatusOK, "overview", v)
}

// chart is the SVG of the detections per hour.
type chart struct {
	Width, Height, Plot int // the plot's height; labels below it
	Bars                []bar
	Labels              []label
	Max, Total          int
	From, To            time.Time
}

type bar struct {
	X, Y, W, H int
	Title      string
}

type label struct {
	X    int
	Text string
}

// hourlyChart draws buckets as bars, 5 pixels each, scaled to the
// highest; each UTC midnight gets a label.
func hourlyChart(bs []store.Bucket) chart {
	const bw, plot = 5, 100
	c := chart{Width: max(1, len(bs)) * bw, Plot: plot, Height: plot + 18}
	for _, b := range bs {
		c.Max = max(c.Max, b.N)
		c.Total += b.N
	}
	if len(bs) > 0 {
		c.From, c.To = bs[0].Start, bs[len(bs)-1].Start.Add(time.Hour)
	}
	for i, b := range bs {
		if t := b.Start.UTC(); t.Hour() == 0 {
			c.Labels = append(c.Labels, label{X: i * bw, Text: t.Format("Jan 02")})
		}
		if b.N == 0 || c.Max == 0 {
			continue
		}
		hgt := max(1, b.N*plot/c.Max)
		c.Bars = append(c.Bars, bar{X: i * bw, Y: plot - hgt, W: bw - 1, H: hgt,
			Title: fmt.Sprintf("%s: %d", b.Start.UTC().Format("2006-01-02 15:00 UTC"), b.N)})
	}
	return c
}

// tenantRow is a tenant judged at now, as /tenants and the overview show it.
type tenantRow struct {
	T         store.Tenant
	State     string // ok, failing, lost, lagging, removed
	Lag       time.Duration
	HasLag    bool
	Lagging   bool
	CursorAt  time.Time
	CursorAge time.Duration
	HasCursor bool
	Gauge     gauge
	Lost      []store.LostWindow
	Day, Week int
}

// gauge is the cursor age drawn against the API's retention: the bar's
// width for the age and the line at 24 hours, on a scale of 36 hours.
type gauge struct {
	Width, Height, Bar, Line int
	Over                     bool // the cursor is older than the retention: events are being lost
	Left                     time.Duration
}

func cursorGauge(age time.Duration) gauge {
	const width, scale = 240, 36 * time.Hour
	g := gauge{Width: width, Height: 14, Line: int(int64(width) * int64(central.Retention) / int64(scale)), Left: central.Retention - age}
	g.Bar = int(int64(width) * int64(min(max(age, 0), scale)) / int64(scale))
	g.Over = age >= central.Retention
	return g
}

// tenantRows reads the tenants and judges each at now as `puawatch
// status` does: failing (its last read failed), lost (a window of
// possibly lost events found within the retention), lagging (not read to
// the end for longer than LagAlarm), removed, or ok. counts, when given,
// fill Day and Week.
func (h *handler) tenantRows(r *http.Request, now time.Time, counts []store.TenantCounts) ([]tenantRow, error) {
	ts, err := h.o.Store.Tenants(r.Context())
	if err != nil {
		return nil, err
	}
	lost, err := h.o.Store.LostWindows(r.Context(), "")
	if err != nil {
		return nil, err
	}
	byTenant := map[string][]store.LostWindow{}
	for _, w := range lost {
		byTenant[w.TenantID] = append(byTenant[w.TenantID], w)
	}
	byCount := map[string]store.TenantCounts{}
	for _, c := range counts {
		byCount[c.TenantID] = c
	}
	slices.SortFunc(ts, func(a, b store.Tenant) int { return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID)) })
	out := make([]tenantRow, 0, len(ts))
	for _, t := range ts {
		row := tenantRow{T: t, Lost: byTenant[t.ID], Day: byCount[t.ID].Day, Week: byCount[t.ID].Week}
		j := poll.Judge(t, row.Lost, now, h.o.LagAlarm)
		row.Lag, row.HasLag, row.Lagging, row.State = j.Lag, j.HasLag, j.Lagging, j.State
		if j.HasCursor {
			row.CursorAt, row.CursorAge, row.HasCursor = j.CursorAt, j.CursorAge, true
			row.Gauge = cursorGauge(row.CursorAge)
		}
		out = append(out, row)
	}
	return out, nil
}

type tenantsView struct {
	base
	Rows      []tenantRow
	Retention time.Duration
	LagAlarm  time.Duration
}

func (h *handler) tenants(w http.ResponseWriter, r *http.Request) {
	now := h.o.Now()
	ov, err := h.o.Dash.Overview(r.Context(), now)
	if err != nil {
		h.storeFailed(w, r, "counting the detections", err)
		return
	}
	rows, err := h.tenantRows(r, now, ov.Tenants)
	if err != nil {
		h.storeFailed(w, r, "reading the tenants", err)
		return
	}
	h.render(w, r, http.StatusOK, "tenants", tenantsView{base: h.base(r, "Tenants", "tenants"), Rows: rows, Retention: central.Retention, LagAlarm: h.o.LagAlarm})
}

// deliveryView is one receiver's row of a detection with its attempts.
type deliveryView struct {
	Row      store.OutboxItem
	State    string // pending, retrying, sent, dead
	Attempts []store.Attempt
}

type detectionView struct {
	base
	D          store.DetectionDetail
	Raw        string
	RawJSON    bool // Raw is the event's JSON, indented; false: the stored bytes are not JSON
	Deliveries []deliveryView
}

func (h *handler) detection(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	d, err := h.o.Dash.DetectionDetail(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		h.fail(w, r, http.StatusNotFound, fmt.Sprintf("no detection with the event id %q is stored; see /detections for those that are", id))
		return
	}
	if err != nil {
		h.storeFailed(w, r, "reading the detection", err)
		return
	}
	v := detectionView{base: h.base(r, "Detection "+cell(d.Detection.EventID), "detections"), D: d}
	v.Raw, v.RawJSON = prettyRaw(d.Detection.Raw)
	for _, o := range d.Outbox {
		dv := deliveryView{Row: o, State: rowState(o)}
		for _, a := range d.Attempts {
			if a.OutboxID == o.ID {
				dv.Attempts = append(dv.Attempts, a)
			}
		}
		v.Deliveries = append(v.Deliveries, dv)
	}
	slices.SortStableFunc(v.Deliveries, func(a, b deliveryView) int { return cmp.Compare(a.Row.Channel, b.Row.Channel) })
	h.render(w, r, http.StatusOK, "detection", v)
}

// rowState is an outbox row's state for people: retrying is a pending
// row whose last attempt failed.
func rowState(o store.OutboxItem) string {
	if o.State == store.StatePending && o.Attempts > 0 {
		return "retrying"
	}
	return o.State
}

// prettyRaw is the raw event for pre#raw: its JSON indented, and every
// control or invisible formatting character other than the line breaks
// of the indentation written as a \u escape (in a JSON string that is
// the same string), so a direction override or an escape sequence in an
// endpoint's value shows as what it is. json reports whether raw is
// JSON; if not, the bytes are shown with the same escapes.
func prettyRaw(raw []byte) (text string, isJSON bool) {
	var b bytes.Buffer
	if json.Valid(raw) && json.Indent(&b, raw, "", "  ") == nil {
		raw, isJSON = b.Bytes(), true
	}
	var out strings.Builder
	for _, r := range string(raw) { // invalid UTF-8 comes as U+FFFD
		if r == '\n' || (!unicode.IsControl(r) && !unicode.Is(unicode.Cf, r) && r != '\u2028' && r != '\u2029') {
			out.WriteRune(r)
			continue
		}
		if r > 0xffff {
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&out, `\u%04x\u%04x`, r1, r2)
			continue
		}
		fmt.Fprintf(&out, `\u%04x`, r)
	}
	return out.String(), isJSON
}

type outboxView struct {
	base
	Receivers []receiverCounts
	Rows      []outboxRow
	Receiver  string
	State     string
	Limit     int
	Full      bool // Limit rows listed: there may be more
}

type receiverCounts struct {
	Receiver                      string
	Pending, Retrying, Sent, Dead int
	LastError                     string
	Retryable                     bool
}

type outboxRow struct {
	store.OutboxItem
	Shown string // pending, retrying, dead
}

func (h *handler) outbox(w http.ResponseWriter, r *http.Request) {
	v := outboxView{base: h.base(r, "Outbox", "outbox"), Limit: OutboxLimit}
	q := r.URL.Query()
	v.Receiver, v.State = strings.TrimSpace(q.Get("receiver")), strings.TrimSpace(q.Get("state"))
	states := []string{store.StatePending, store.StateDead}
	switch v.State {
	case "":
	case store.StatePending, "retrying":
		states = []string{store.StatePending}
	case store.StateDead:
		states = []string{store.StateDead}
	default:
		h.fail(w, r, http.StatusBadRequest, fmt.Sprintf("state: %q is not pending, retrying or dead; leave it empty for all three", v.State))
		return
	}
	counts, err := h.o.Store.OutboxCounts(r.Context(), time.Time{})
	if err != nil {
		h.storeFailed(w, r, "counting the outbox", err)
		return
	}
	for _, c := range counts {
		if len(v.Receivers) == 0 || v.Receivers[len(v.Receivers)-1].Receiver != c.Channel {
			v.Receivers = append(v.Receivers, receiverCounts{Receiver: c.Channel})
		}
		rc := &v.Receivers[len(v.Receivers)-1]
		switch c.State {
		case store.StatePending:
			rc.Pending, rc.Retrying = c.Rows-c.Failed, c.Failed
			if rc.LastError == "" {
				rc.LastError = c.LastError
			}
		case store.StateSent:
			rc.Sent = c.Rows
		case store.StateDead:
			rc.Dead = c.Rows
			rc.LastError = cmp.Or(c.LastError, rc.LastError)
		}
		rc.Retryable = rc.Retrying+rc.Dead > 0
	}
	items, err := h.o.Store.Outbox(r.Context(), store.OutboxFilter{States: states, Channel: v.Receiver, Limit: OutboxLimit})
	if err != nil {
		h.storeFailed(w, r, "listing the outbox", err)
		return
	}
	v.Full = len(items) >= OutboxLimit
	for _, it := range items {
		row := outboxRow{OutboxItem: it, Shown: rowState(it)}
		if (v.State == store.StatePending && row.Shown != store.StatePending) || (v.State == "retrying" && row.Shown != "retrying") {
			continue
		}
		v.Rows = append(v.Rows, row)
	}
	h.render(w, r, http.StatusOK, "outbox", v)
}

// retry makes outbox rows due again (store.Requeue): the rows of the
// form's id fields, or a receiver's dead rows and its rows waiting for a
// retry (store.RetryIDs); then it returns (303) to the form's back.
func (h *handler) retry(w http.ResponseWriter, r *http.Request) {
	if err := readForm(w, r); err != nil {
		h.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	receiver := strings.TrimSpace(r.PostForm.Get("receiver"))
	var ids []int64
	for _, s := range r.PostForm["id"] {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil || id <= 0 {
			h.fail(w, r, http.StatusBadRequest, fmt.Sprintf("id: %q is not an outbox row id (a number, as /outbox lists them)", s))
			return
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	switch {
	case (len(ids) > 0) == (receiver != ""):
		h.fail(w, r, http.StatusBadRequest, "give outbox row ids (field id) or a receiver (field receiver): exactly one of them")
		return
	case len(ids) > maxIDs:
		h.fail(w, r, http.StatusBadRequest, fmt.Sprintf("id: %d rows given; retry at most %d at once, or a whole receiver", len(ids), maxIDs))
		return
	}
	if receiver != "" {
		var err error
		if ids, err = store.RetryIDs(r.Context(), h.o.Store, receiver); err != nil {
			h.storeFailed(w, r, "listing the receiver's rows", err)
			return
		}
	}
	n, err := h.o.Store.Requeue(r.Context(), ids, h.o.Now())
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			h.fail(w, r, http.StatusNotFound, fmt.Sprintf("%d row(s) due again; %v", n, err))
			return
		}
		h.storeFailed(w, r, "retrying", err)
		return
	}
	h.o.Logger.Info("dashboard: outbox rows due again", "rows", n, "receiver", receiver)
	http.Redirect(w, r, localBack(r.PostForm.Get("back"), "/outbox"), http.StatusSeeOther)
}
