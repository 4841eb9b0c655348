// Package backoff is the retry timing every client of puawatch shares:
// exponential backoff with full jitter, and the Retry-After header read
// without overflow and within a limit.
package backoff

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxFloor is the most the floor of a delay can be: a delay is never
// shorter than min(base, MaxFloor), so a failing call is never retried at
// once.
const MaxFloor = time.Second

// RetryAfterCeiling is the limit for a Retry-After read before the caller
// applies its own: a longer one (or one too large to represent) counts as
// a day.
const RetryAfterCeiling = 24 * time.Hour

// Ceiling is the longest delay before retry (0 for the first retry):
// min(maxDelay, base·2^retry), without overflow. It is 0 when base is not
// positive.
func Ceiling(retry int, base, maxDelay time.Duration) time.Duration {
	if base <= 0 {
		return 0
	}
	c := base
	for i := 0; i < retry && c < maxDelay; i++ {
		if c > maxDelay/2 {
			return maxDelay
		}
		c *= 2
	}
	return min(c, maxDelay)
}

// Delay is the wait before retry (0 for the first retry): exponential
// backoff with full jitter, r·Ceiling(retry, base, maxDelay) for r in
// [0, 1), but at least min(base, MaxFloor, the ceiling). r outside [0, 1)
// is clamped.
func Delay(retry int, base, maxDelay time.Duration, r float64) time.Duration {
	c := Ceiling(retry, base, maxDelay)
	if !(r > 0) { // NaN too
		r = 0
	}
	d := c
	if r < 1 {
		d = min(time.Duration(r*float64(c)), c)
	}
	return max(d, min(base, MaxFloor, c))
}

// ParseRetryAfter reads a Retry-After value: delay-seconds (digits only)
// or an HTTP date, relative to now. The result is between 0 and limit: a
// date in the past is 0, and a value longer than limit (seconds beyond
// any time.Duration, a date centuries ahead) is limit. ok is false when v
// is empty or unreadable (a negative or fractional number, a bad date).
func ParseRetryAfter(v string, now time.Time, limit time.Duration) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	limit = max(limit, 0)
	if v == "" {
		return 0, false
	}
	if strings.Trim(v, "0123456789") == "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n > uint64(math.MaxInt64/int64(time.Second)) { // only digits: too large
			return limit, true
		}
		return min(time.Duration(n)*time.Second, limit), true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	// Sub saturates instead of overflowing.
	return min(max(t.Sub(now), 0), limit), true
}
