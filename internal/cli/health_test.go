package cli

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestHealth: `puawatch health` exits 0 on a 200, 1 on a 503 (saying
// the status and the body), 1 naming the URL when nothing listens, and
// sends PUAWATCH_WEB_TOKEN as a bearer token to a loopback URL.
func TestHealth(t *testing.T) {
	t.Parallel()
	var gotAuth string
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth = r.Header.Get("Authorization")
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("ok\n"))
	}))
	defer ok.Close()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "store: database is locked\x1b[2J", http.StatusServiceUnavailable)
	}))
	defer down.Close()

	r := runCLI(t, map[string]string{"PUAWATCH_WEB_TOKEN": "tok-123"}, "", "health", "--url", ok.URL+"/healthz")
	if r.code != ExitOK || !strings.Contains(r.stdout, "200 OK") {
		t.Errorf("healthy server: want exit 0 and 200 OK\n%s", r)
	}
	if gotAuth != "Bearer tok-123" {
		t.Errorf("Authorization = %q, want the bearer token from PUAWATCH_WEB_TOKEN", gotAuth)
	}

	r = runCLI(t, nil, "", "health", "--url", down.URL+"/healthz")
	if r.code != ExitFailure || !strings.Contains(r.stderr, down.URL+"/healthz answered 503 Service Unavailable: store: database is locked") {
		t.Errorf("503: want exit 1 naming the URL, status and body\n%s", r)
	}
	if strings.Contains(r.stderr, "\x1b") {
		t.Errorf("the server's control characters reached the terminal: %q", r.stderr)
	}

	// A port nothing listens on: listen, note the address, close.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + l.Addr().String() + "/healthz"
	l.Close()
	r = runCLI(t, nil, "", "health", "--url", refused)
	if r.code != ExitFailure || !strings.Contains(r.stderr, refused+" cannot be reached") || !strings.Contains(r.stderr, "refused") {
		t.Errorf("refused: want exit 1 naming %s\n%s", refused, r)
	}

	r = runCLI(t, nil, "", "health", "--url", "ftp://x/healthz")
	if r.code != ExitUsage || !strings.Contains(r.stderr, "--url") {
		t.Errorf("an ftp URL: want exit 2 naming --url\n%s", r)
	}
}

// TestHealthTokenStaysLocal: the token goes to loopback hosts only.
func TestHealthTokenStaysLocal(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{
		"http://127.0.0.1:9787/healthz":   "Bearer tok",
		"http://localhost:9787/healthz":   "Bearer tok",
		"http://[::1]:9787/healthz":       "Bearer tok",
		"http://10.0.0.5:9787/healthz":    "",
		"https://example.com/healthz":     "",
		"http://127.0.0.1.nip.io/healthz": "",
	} {
		u, _ := url.Parse(raw)
		req, err := healthRequest(context.Background(), u, "tok")
		if err != nil {
			t.Fatal(err)
		}
		if got := req.Header.Get("Authorization"); got != want {
			t.Errorf("%s: Authorization %q, want %q", raw, got, want)
		}
	}
}

func TestHealthURL(t *testing.T) {
	t.Parallel()
	for listen, want := range map[string]string{
		"":                "http://127.0.0.1:9787/healthz",
		"0.0.0.0:9787":    "http://127.0.0.1:9787/healthz",
		":8080":           "http://127.0.0.1:8080/healthz",
		"[::]:8080":       "http://127.0.0.1:8080/healthz",
		"10.0.0.5:9787":   "http://10.0.0.5:9787/healthz",
		"[::1]:9787":      "http://[::1]:9787/healthz",
		"not an address":  "http://127.0.0.1:9787/healthz",
		"127.0.0.1:19787": "http://127.0.0.1:19787/healthz",
	} {
		if got := healthURL(listen); got != want {
			t.Errorf("healthURL(%q) = %q, want %q", listen, got, want)
		}
	}
}
