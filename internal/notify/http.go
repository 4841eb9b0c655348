package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/puawatch/puawatch/internal/backoff"
	"github.com/puawatch/puawatch/internal/plaintext"
	"github.com/puawatch/puawatch/internal/urlpolicy"
)

// maxErrorBody is how much of an error answer is quoted.
const maxErrorBody = 200

// Post sends body to rawURL with the headers and classifies the outcome:
// nil for 2xx; a RetryAfterError for 429 (and 503 with Retry-After);
// a retryable error for 408, 5xx, timeouts and network errors; Permanent
// for every other status (rejected credentials, a removed webhook, a
// malformed payload). Errors show the URL redacted and at most 200 bytes
// of the answer, cleaned of control characters.
func Post(ctx context.Context, client *http.Client, rawURL string, header http.Header, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return Permanent(fmt.Errorf("POST %s: %s", urlpolicy.RedactURL(rawURL), scrubURL(err.Error(), rawURL)))
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		// url.Error quotes the whole URL: replace it.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("POST %s: %s", urlpolicy.RedactURL(rawURL), scrubURL(err.Error(), rawURL))
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	err = fmt.Errorf("POST %s: HTTP %d: %s", urlpolicy.RedactURL(rawURL), resp.StatusCode, strings.TrimSpace(plaintext.Clean(string(snippet))))
	return ClassifyHTTP(resp.StatusCode, resp.Header.Get("Retry-After"), err)
}

// ClassifyHTTP wraps err by what an HTTP status says about retrying. A
// Retry-After is read up to backoff.RetryAfterCeiling; the dispatcher
// caps it further at its BackoffMax.
func ClassifyHTTP(status int, retryAfter string, err error) error {
	switch {
	case status == http.StatusTooManyRequests || (status == http.StatusServiceUnavailable && retryAfter != ""):
		if d, ok := backoff.ParseRetryAfter(retryAfter, time.Now(), backoff.RetryAfterCeiling); ok {
			return &RetryAfterError{Err: err, After: d}
		}
		return err
	case status == http.StatusRequestTimeout || status >= 500:
		return err
	case status >= 300:
		return Permanent(err)
	}
	return err
}

func scrubURL(s, rawURL string) string {
	if rawURL != "" {
		s = strings.ReplaceAll(s, rawURL, urlpolicy.RedactURL(rawURL))
	}
	return s
}
