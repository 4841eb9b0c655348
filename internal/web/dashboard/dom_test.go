package dashboard

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// page is a fetched page: its status, body and parsed DOM.
type page struct {
	t      *testing.T
	status int
	header http.Header
	body   string
	doc    *html.Node
}

func get(t *testing.T, h http.Handler, target string) page {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	return newPage(t, rec)
}

func post(t *testing.T, h http.Handler, target string, form url.Values) page {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return newPage(t, rec)
}

func newPage(t *testing.T, rec *httptest.ResponseRecorder) page {
	t.Helper()
	b, _ := io.ReadAll(rec.Result().Body)
	p := page{t: t, status: rec.Code, header: rec.Header(), body: string(b)}
	if strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		doc, err := html.Parse(strings.NewReader(p.body))
		if err != nil {
			t.Fatalf("parse page: %v", err)
		}
		p.doc = doc
	}
	return p
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func hasClass(n *html.Node, c string) bool {
	v, _ := attr(n, "class")
	for _, f := range strings.Fields(v) {
		if f == c {
			return true
		}
	}
	return false
}

// all lists the elements under n for which match holds, in document order.
func all(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && match(n) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

func tag(name string) func(*html.Node) bool {
	return func(n *html.Node) bool { return n.Data == name }
}

func withAttr(key, val string) func(*html.Node) bool {
	return func(n *html.Node) bool { v, ok := attr(n, key); return ok && v == val }
}

func withClass(c string) func(*html.Node) bool {
	return func(n *html.Node) bool { return hasClass(n, c) }
}

// byID is the element with id, failing the test when there is none.
func (p page) byID(id string) *html.Node {
	p.t.Helper()
	if p.doc == nil {
		p.t.Fatalf("no HTML page (status %d): %s", p.status, p.body)
	}
	ns := all(p.doc, withAttr("id", id))
	if len(ns) != 1 {
		p.t.Fatalf("%d elements with id %q, want 1", len(ns), id)
	}
	return ns[0]
}

// text is the text content of n.
func text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

// rows are the data-event-id values of the rows of table#detections.
func (p page) eventRows() []string {
	p.t.Helper()
	var out []string
	for _, tr := range all(p.byID("detections"), tag("tr")) {
		if v, ok := attr(tr, "data-event-id"); ok {
			out = append(out, v)
		}
	}
	return out
}
