// Package dashboard serves puawatch's web dashboard: the overview, the
// detections (filters, search, sorting, pages, CSV and JSON export,
// acknowledgement), a detection's page, the tenants and the outbox (with
// retry). Pages are rendered on the server with html/template from
// embedded templates and one embedded style sheet under /assets/; no
// script is served or needed, and no page carries an inline script or
// style, so a Content-Security-Policy without 'unsafe-inline' holds.
//
// Every value from an endpoint or Sophos Central is untrusted: it reaches
// a page only through html/template's escaping (never as template.HTML),
// a CSV export only through csvsafe.Cell and encoding/csv, a URL only
// through url.PathEscape or url.Values.
//
// The handler does not authenticate, check CSRF tokens or set security
// headers: package web/access wraps it. It puts Options.CSRFToken's value
// in a hidden input named csrf of every form that changes state, and
// takes the acknowledger from Options.User (or, when that is "", the
// form's by field).
package dashboard

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/puawatch/puawatch/internal/poll"
	"github.com/puawatch/puawatch/internal/store"
)

// PageSize is how many detections one page of /detections lists.
const PageSize = 50

// DefaultExportCap is how many detections an export holds at most when
// Options.ExportCap is 0.
const DefaultExportCap = 10000

// OutboxLimit is how many outbox rows /outbox lists at most (newest
// first); the counts by receiver above the table cover every row.
const OutboxLimit = 500

// Bounds of what a form may carry.
const (
	maxComment  = 2000 // characters of an acknowledgement's comment
	maxBy       = 200  // characters of an acknowledger's name
	maxIDs      = 1000 // ids of one acknowledgement or retry
	maxFormBody = 1 << 20
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Options configure the dashboard.
type Options struct {
	Store store.Store     // tenants, lost windows, outbox
	Dash  store.Dashboard // detection queries, overview, detail, acknowledgements
	// Now is the clock; nil: time.Now.
	Now func() time.Time
	// LagAlarm is poll.lag_alarm: a tenant not read to the end for
	// longer is lagging; 0: poll.DefaultLagAlarm.
	LagAlarm time.Duration
	Logger   *slog.Logger // nil: discard
	// CSRFToken is the value of the hidden csrf input of each form that
	// changes state (access checks it); nil: "".
	CSRFToken func(*http.Request) string
	// User is the authenticated user, the acknowledger; nil or "": the
	// ack forms ask for a name (input by).
	User func(*http.Request) string
	// ExportCap bounds an export; 0: DefaultExportCap.
	ExportCap int
}

type handler struct {
	o     Options
	pages map[string]*template.Template
	mux   *http.ServeMux
}

// New returns the dashboard's handler, serving every route under / (mount
// it at the root of a server, or with http.StripPrefix under a prefix
// whose links then need a rewrite: the pages link from /). It panics when
// o.Store or o.Dash is nil, or when an embedded template does not parse
// (a programming error the tests catch).
func New(o Options) http.Handler {
	if o.Store == nil || o.Dash == nil {
		panic("dashboard.New: Options.Store and Options.Dash are required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.LagAlarm <= 0 {
		o.LagAlarm = poll.DefaultLagAlarm
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.CSRFToken == nil {
		o.CSRFToken = func(*http.Request) string { return "" }
	}
	if o.User == nil {
		o.User = func(*http.Request) string { return "" }
	}
	if o.ExportCap <= 0 {
		o.ExportCap = DefaultExportCap
	}
	h := &handler{o: o, pages: parsePages(), mux: http.NewServeMux()}
	assets, err := fs.Sub(assetFS, "assets")
	if err != nil {
		panic(err)
	}
	m := h.mux
	m.HandleFunc("GET /{$}", h.overview)
	m.HandleFunc("GET /detections", h.detections)
	m.HandleFunc("GET /detections.csv", h.exportCSV)
	m.HandleFunc("GET /detections.json", h.exportJSON)
	m.HandleFunc("GET /detections/{id}", h.detection)
	m.HandleFunc("POST /ack", h.ack)
	m.HandleFunc("GET /tenants", h.tenants)
	m.HandleFunc("GET /outbox", h.outbox)
	m.HandleFunc("POST /outbox/retry", h.retry)
	m.Handle("GET /assets/", http.StripPrefix("/assets/", http.FileServerFS(assets)))
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// parsePages parses the template of each page with layout.html.
func parsePages() map[string]*template.Template {
	out := map[string]*template.Template{}
	for _, n := range []string{"overview", "detections", "detection", "tenants", "outbox", "error"} {
		t := template.New("layout.html").Funcs(funcs())
		out[n] = template.Must(t.ParseFS(templateFS, "templates/layout.html", "templates/"+n+".html"))
	}
	return out
}

// base is what the layout needs of every page.
type base struct {
	Title string
	Nav   string // the page's nav entry: overview, detections, tenants, outbox
	Now   time.Time
	CSRF  string // the csrf input's value
	User  string // the authenticated user, "": forms ask for by
	Back  string // this page's path and query, where a POST returns
}

func (h *handler) base(r *http.Request, title, nav string) base {
	return base{Title: title, Nav: nav, Now: h.o.Now(), CSRF: h.o.CSRFToken(r), User: h.o.User(r), Back: r.URL.RequestURI()}
}

// render writes page with data, buffered so that a failing template
// answers 500 rather than half a page.
func (h *handler) render(w http.ResponseWriter, r *http.Request, status int, page string, data any) {
	var b bytes.Buffer
	if err := h.pages[page].Execute(&b, data); err != nil {
		h.o.Logger.Error("dashboard: render page", "page", page, "path", r.URL.Path, "error", err)
		http.Error(w, "the page could not be rendered; the log has the reason", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// errorView is the error page.
type errorView struct {
	base
	Status  int
	Message string
}

// fail answers status with msg on a page (msg may hold untrusted text:
// the template escapes it).
func (h *handler) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	b := h.base(r, http.StatusText(status), "")
	h.render(w, r, status, "error", errorView{base: b, Status: status, Message: msg})
}

// storeFailed answers a store error: 404 for ErrNotFound (its text names
// the ids), 500 otherwise, logged, without the error's text on the page.
func (h *handler) storeFailed(w http.ResponseWriter, r *http.Request, what string, err error) {
	if errors.Is(err, store.ErrNotFound) {
		h.fail(w, r, http.StatusNotFound, err.Error())
		return
	}
	h.o.Logger.Error("dashboard: "+what, "path", r.URL.Path, "error", err)
	h.fail(w, r, http.StatusInternalServerError, what+" failed; the log has the reason. Try again, or check the store.")
}

// badRequest is a 400 for a form or query value.
type badRequest struct{ msg string }

func (e badRequest) Error() string { return e.msg }

func badf(format string, a ...any) error { return badRequest{fmt.Sprintf(format, a...)} }

// readForm parses a POST's form, bounded.
func readForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if err := r.ParseForm(); err != nil {
		return badf("the form could not be read (%v): send it as application/x-www-form-urlencoded, at most 1 MiB", err)
	}
	return nil
}

// localBack is where a POST redirects: the form's back field when it is
// a path of this site, else def.
func localBack(back, def string) string {
	if back == "" || !strings.HasPrefix(back, "/") || strings.HasPrefix(back, "//") || strings.HasPrefix(back, "/\\") ||
		strings.ContainsFunc(back, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }) {
		return def
	}
	u, err := url.Parse(back)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return def
	}
	return u.RequestURI()
}

// detectionURL is the path of a detection's page.
func detectionURL(id string) string { return "/detections/" + url.PathEscape(id) }
