package app

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/puawatch/puawatch/internal/web/access"
)

// TestServerHandler: one mux serves the operational endpoints and the
// dashboard, all behind the guard: /healthz open, the rest needing the
// token, every answer with the security headers.
func TestServerHandler(t *testing.T) {
	name := func(s string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, s+" "+r.URL.Path) })
	}
	guard, err := access.New(access.Options{Listen: "0.0.0.0:9787", Token: "tok-0123456789abcdef"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(serverHandler(name("ops"), name("dash"), guard))
	defer srv.Close()
	for _, tc := range []struct {
		path, auth string
		code       int
		body       string
	}{
		{"/healthz", "", 200, "ops /healthz"},
		{"/readyz", "", 401, ""},
		{"/readyz", "Bearer tok-0123456789abcdef", 200, "ops /readyz"},
		{"/metrics", "Bearer tok-0123456789abcdef", 200, "ops /metrics"},
		{"/", "", 401, ""},
		{"/", "Bearer tok-0123456789abcdef", 200, "dash /"},
		{"/detections", "Bearer tok-0123456789abcdef", 200, "dash /detections"},
	} {
		req, _ := http.NewRequest("GET", srv.URL+tc.path, nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || (tc.body != "" && string(b) != tc.body) {
			t.Errorf("%s %q: %d %q, want %d %q", tc.path, tc.auth, resp.StatusCode, b, tc.code, tc.body)
		}
		if resp.Header.Get("Content-Security-Policy") != access.ContentSecurityPolicy || resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: security headers missing: %v", tc.path, resp.Header)
		}
	}
}
