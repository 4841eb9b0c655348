package dashboard

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/puawatch/puawatch/internal/csvsafe"
	"github.com/puawatch/puawatch/internal/notify"
	"github.com/puawatch/puawatch/internal/render"
	"github.com/puawatch/puawatch/internal/render/detectionjson"
	"github.com/puawatch/puawatch/internal/store"
)

// column is a sortable column header of the detections table.
type column struct {
	Label  string
	Name   string // the sort value
	URL    string // sorts by it: ascending, or descending when it is sorted ascending now
	Active bool
	Desc   bool
}

// pageLink is a link of the pagination.
type pageLink struct {
	N       int
	URL     string
	Current bool
	Gap     bool // an ellipsis, no link
}

// filterForm is what the filter form shows.
type filterForm struct {
	Tenant, Type, Threat, Host, User, Q, Since, Until, Delivery, Acked, Sort, Desc string
}

type detectionsView struct {
	base
	F          filterForm
	Rows       []store.DetectionRow
	Total      int
	Cols       []column
	Pages      []pageLink
	Page       int
	PageCount  int
	First      int // 1-based number of the first row shown
	Last       int
	Prev, Next string
	ExportCSV  string
	ExportJSON string
	Cap        int
	OverCap    bool
	Deliveries []string
	Sorts      []string
}

func (h *handler) detections(w http.ResponseWriter, r *http.Request) {
	sel, err := parseSelection(r.URL.Query())
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	q := sel.Q
	q.Offset, q.Limit = (sel.Page-1)*PageSize, PageSize
	p, err := h.o.Dash.QueryDetections(r.Context(), q)
	if err != nil {
		h.storeFailed(w, r, "listing the detections", err)
		return
	}
	v := detectionsView{base: h.base(r, "Detections", "detections"), Rows: p.Rows, Total: p.Total, Page: sel.Page,
		Cap: h.o.ExportCap, OverCap: p.Total > h.o.ExportCap, Deliveries: deliveryStates, Sorts: sortColumns}
	g := sel.Values.Get
	v.F = filterForm{Tenant: g("tenant"), Type: g("type"), Threat: g("threat"), Host: g("host"), User: g("user"), Q: g("q"),
		Since: inputTime(sel.Q.Since), Until: inputTime(sel.Q.Until), Delivery: g("delivery"), Acked: g("acked"), Sort: sel.Q.Sort, Desc: "0"}
	if sel.Q.Desc {
		v.F.Desc = "1"
	}
	for _, c := range []struct{ label, name string }{{"Created (UTC)", "created_at"}, {"Tenant", "tenant"}, {"Type", "type"},
		{"Threat", "threat"}, {"Host", "host"}, {"User", "user"}, {"Severity", "severity"}} {
		col := column{Label: c.label, Name: c.name, Active: sel.Q.Sort == c.name, Desc: sel.Q.Desc}
		desc := "0"
		if col.Active && !sel.Q.Desc {
			desc = "1"
		}
		col.URL = "/detections?" + sel.with("sort", c.name, "desc", desc)
		v.Cols = append(v.Cols, col)
	}
	v.PageCount = max(1, (p.Total+PageSize-1)/PageSize)
	if len(p.Rows) > 0 {
		v.First, v.Last = q.Offset+1, q.Offset+len(p.Rows)
	}
	pageURL := func(n int) string { return "/detections?" + sel.with("page", strconv.Itoa(n)) }
	if sel.Page > 1 {
		v.Prev = pageURL(min(sel.Page-1, v.PageCount))
	}
	if sel.Page < v.PageCount {
		v.Next = pageURL(sel.Page + 1)
	}
	for _, n := range pageNumbers(sel.Page, v.PageCount) {
		if n == 0 {
			v.Pages = append(v.Pages, pageLink{Gap: true})
			continue
		}
		v.Pages = append(v.Pages, pageLink{N: n, URL: pageURL(n), Current: n == sel.Page})
	}
	v.ExportCSV = "/detections.csv?" + sel.with()
	v.ExportJSON = "/detections.json?" + sel.with()
	h.render(w, r, http.StatusOK, "detections", v)
}

// pageNumbers are the pages the pagination links: the first, the last
// and three either side of the current one; 0 marks a gap.
func pageNumbers(cur, count int) []int {
	var out []int
	for n := 1; n <= count; n++ {
		if n == 1 || n == count || (n >= cur-3 && n <= cur+3) {
			out = append(out, n)
		} else if len(out) > 0 && out[len(out)-1] != 0 {
			out = append(out, 0)
		}
	}
	return out
}

// exportRows runs the selection of r's query for an export: every page,
// at most ExportCap rows. It answers the request itself when it fails.
func (h *handler) exportRows(w http.ResponseWriter, r *http.Request) (store.DetectionPage, bool) {
	sel, err := parseSelection(r.URL.Query())
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, err.Error())
		return store.DetectionPage{}, false
	}
	q := sel.Q
	q.Offset, q.Limit = 0, h.o.ExportCap
	p, err := h.o.Dash.QueryDetections(r.Context(), q)
	if err != nil {
		h.storeFailed(w, r, "exporting the detections", err)
		return p, false
	}
	w.Header().Set("X-Total-Count", strconv.Itoa(p.Total))
	w.Header().Set("X-Export-Cap", strconv.Itoa(h.o.ExportCap))
	w.Header().Set("Cache-Control", "no-store")
	return p, true
}

// csvHeader are the columns of detections.csv.
var csvHeader = []string{"id", "kind", "type", "tenant_id", "tenant_name", "created_at", "when", "host", "endpoint_id", "endpoint_type",
	"user", "threat", "severity", "path", "name", "delivery", "acked_by", "acked_at", "ack_comment"}

func (h *handler) exportCSV(w http.ResponseWriter, r *http.Request) {
	p, ok := h.exportRows(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="puawatch-detections.csv"`)
	cw := csv.NewWriter(w)
	_ = cw.Write(csvHeader)
	for _, row := range p.Rows {
		d := row.Detection
		rec := []string{d.EventID, d.Kind, d.Type, d.TenantID, d.TenantName, isoTime(d.CreatedAt), isoTime(d.When), d.Location, d.EndpointID,
			d.EndpointType, d.User, d.Threat, d.Severity, d.Path, d.Name, row.Delivery, "", "", ""}
		if row.Ack != nil {
			rec[16], rec[17], rec[18] = row.Ack.By, isoTime(row.Ack.At), row.Ack.Comment
		}
		for i := range rec {
			rec[i] = csvsafe.Cell(rec[i]) // every text cell is untrusted; times start with a digit
		}
		if err := cw.Write(rec); err != nil {
			h.o.Logger.Warn("dashboard: CSV export cut short", "error", err)
			return
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		h.o.Logger.Warn("dashboard: CSV export cut short", "error", err)
	}
}

// exportDetection is one element of detections.json: the detection's
// object (detectionjson, as webhook, syslog and JSONL write it) with its
// delivery state and acknowledgement.
type exportDetection struct {
	detectionjson.Detection
	Delivery string     `json:"delivery"` // sent, pending, retrying, dead or none
	Ack      *exportAck `json:"ack"`      // null: not acknowledged
}

type exportAck struct {
	By      string             `json:"by"`
	At      detectionjson.Time `json:"at"`
	Comment string             `json:"comment"`
}

func (h *handler) exportJSON(w http.ResponseWriter, r *http.Request) {
	p, ok := h.exportRows(w, r)
	if !ok {
		return
	}
	out := make([]exportDetection, len(p.Rows))
	for i, row := range p.Rows {
		// A view of its own for each: a detection without a tenant
		// name takes its own tenant's id, never a neighbour's name.
		d := row.Detection
		view := render.NewView(notify.Message{TenantID: d.TenantID, TenantName: d.TenantName, Detections: []store.Detection{d}}, render.Options{})
		out[i] = exportDetection{Detection: detectionjson.New(view, view.Detections[0]), Delivery: row.Delivery}
		if row.Ack != nil {
			out[i].Ack = &exportAck{By: row.Ack.By, At: detectionjson.Time{Time: row.Ack.At}, Comment: row.Ack.Comment}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="puawatch-detections.json"`)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		h.o.Logger.Warn("dashboard: JSON export cut short", "error", err)
	}
}

// ack acknowledges the detections of the form (id, repeated), by
// Options.User or the form's by, with the form's comment, and returns
// (303) to the form's back.
func (h *handler) ack(w http.ResponseWriter, r *http.Request) {
	if err := readForm(w, r); err != nil {
		h.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	var ids []string
	for _, id := range r.PostForm["id"] {
		if id = strings.TrimSpace(id); id != "" && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	by := h.o.User(r)
	if by == "" {
		by = strings.TrimSpace(r.PostForm.Get("by"))
	}
	comment := strings.TrimSpace(r.PostForm.Get("comment"))
	var err error
	switch {
	case len(ids) == 0:
		err = badf("id: no detection selected; tick the detections to acknowledge")
	case len(ids) > maxIDs:
		err = badf("id: %d detections selected; acknowledge at most %d at once", len(ids), maxIDs)
	case by == "":
		err = badf("by: say who acknowledges (the field by is empty)")
	case len([]rune(by)) > maxBy:
		err = badf("by: the name is %d characters long; at most %d", len([]rune(by)), maxBy)
	case len([]rune(comment)) > maxComment:
		err = badf("comment: %d characters; at most %d", len([]rune(comment)), maxComment)
	}
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	n, err := h.o.Dash.AckDetections(r.Context(), ids, by, comment, h.o.Now())
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			h.fail(w, r, http.StatusNotFound, "nothing was acknowledged: "+err.Error())
			return
		}
		h.storeFailed(w, r, "acknowledging", err)
		return
	}
	h.o.Logger.Info("dashboard: detections acknowledged", "by", by, "selected", len(ids), "new", n)
	http.Redirect(w, r, localBack(r.PostForm.Get("back"), "/detections"), http.StatusSeeOther)
}
