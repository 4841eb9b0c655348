package notify

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/backoff"
)

func TestPostClassifiesAnswers(t *testing.T) {
	for _, tt := range []struct {
		status     int
		retryAfter string
		permanent  bool
		after      time.Duration
		ok         bool
	}{
		{200, "", false, 0, true},
		{204, "", false, 0, true},
		{400, "", true, 0, false},
		{401, "", true, 0, false},
		{403, "", true, 0, false},
		{404, "", true, 0, false},
		{408, "", false, 0, false},
		{429, "7", false, 7 * time.Second, false},
		{429, "", false, 0, false},
		{500, "", false, 0, false},
		{503, "3", false, 3 * time.Second, false},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if tt.retryAfter != "" {
				w.Header().Set("Retry-After", tt.retryAfter)
			}
			w.WriteHeader(tt.status)
			_, _ = w.Write([]byte("nope\r\nInjected: 1"))
		}))
		secretURL := srv.URL + "/services/T000/B000/XXXXSECRETXXXX?token=abc"
		err := Post(context.Background(), srv.Client(), secretURL, nil, []byte(`{}`))
		srv.Close()
		if (err == nil) != tt.ok {
			t.Errorf("%d: err = %v", tt.status, err)
			continue
		}
		if err == nil {
			continue
		}
		if IsPermanent(err) != tt.permanent {
			t.Errorf("%d: permanent = %v, want %v (%v)", tt.status, IsPermanent(err), tt.permanent, err)
		}
		var ra *RetryAfterError
		if got := errors.As(err, &ra); got != (tt.after > 0) || (got && ra.After != tt.after) {
			t.Errorf("%d: retry after = %v (%v), want %v", tt.status, got, ra, tt.after)
		}
		if strings.Contains(err.Error(), "SECRET") || strings.Contains(err.Error(), "token=") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%d: error leaks the URL or carries a line break: %q", tt.status, err)
		}
	}
}

func TestPostNetworkErrorHidesURL(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL + "/hook/SECRET-PATH"
	srv.Close()
	err := Post(context.Background(), http.DefaultClient, u, nil, nil)
	if err == nil || IsPermanent(err) {
		t.Fatalf("err = %v, want a retryable error", err)
	}
	if strings.Contains(err.Error(), "SECRET") {
		t.Errorf("error leaks the URL: %v", err)
	}
}

// A hostile Retry-After must neither overflow nor ask for centuries:
// 99999999999 seconds is about 3170 years, 10000000000 seconds wraps
// negative when multiplied naively by time.Second.
func TestClassifyHTTPHugeRetryAfter(t *testing.T) {
	for _, v := range []string{"99999999999", "10000000000", "31536000000", "99999999999999999999", "Fri, 31 Dec 9999 23:59:59 GMT"} {
		err := ClassifyHTTP(http.StatusTooManyRequests, v, errors.New("429"))
		var ra *RetryAfterError
		if !errors.As(err, &ra) {
			t.Errorf("Retry-After %q: %v is not a RetryAfterError", v, err)
			continue
		}
		if ra.After < 0 || ra.After > backoff.RetryAfterCeiling {
			t.Errorf("Retry-After %q: After = %s, want 0..24h", v, ra.After)
		}
	}
}

// An answer quoted in an error is plain text: no C1 controls (U+009B is
// a terminal's CSI), no invisible formatting such as a direction
// override, no line breaks.
func TestPostCleansHostileAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte("boom\u009b31m\u202eexe.gnp\u200b\u2028next\r\nline"))
	}))
	defer srv.Close()
	err := Post(context.Background(), srv.Client(), srv.URL, nil, nil)
	if err == nil {
		t.Fatal("500 accepted")
	}
	if i := strings.IndexAny(err.Error(), "\u009b\u202e\u200b\u2028\r\n"); i >= 0 {
		t.Errorf("error %q holds %U", err, []rune(err.Error()[i:])[0])
	}
	if !strings.Contains(err.Error(), "boom 31mexe.gnp next  line") {
		t.Errorf("error %q lost the text", err)
	}
}
