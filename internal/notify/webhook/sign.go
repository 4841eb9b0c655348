package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Header names puawatch sets on every request.
const (
	HeaderTimestamp      = "X-Puawatch-Timestamp" // unix seconds when the request was made
	HeaderSignature      = "X-Puawatch-Signature" // "v1=<hex>" when a signing secret is set
	HeaderIdempotencyKey = "Idempotency-Key"      // the message key, equal across redeliveries
)

// DefaultTolerance is the replay window Verify uses when given none: a
// request whose timestamp is further than this from the receiver's clock
// is refused.
const DefaultTolerance = 5 * time.Minute

// signaturePrefix versions the signature scheme.
const signaturePrefix = "v1="

// Errors of Verify; the error it returns wraps one of them.
var (
	// ErrSignature: the signature is missing, malformed, or made with
	// another key or over another body or timestamp.
	ErrSignature = errors.New("webhook signature does not match")
	// ErrTimestamp: the timestamp is missing, malformed, or outside the
	// tolerance (a replay, or clocks too far apart).
	ErrTimestamp = errors.New("webhook timestamp is not acceptable")
)

// Sign returns the X-Puawatch-Signature value for body sent with
// timestamp: "v1=" followed by the lower-case hex HMAC-SHA256, keyed with
// key, of timestamp, ".", and the body bytes.
func Sign(key []byte, timestamp string, body []byte) string {
	return signaturePrefix + hex.EncodeToString(mac(key, timestamp, body))
}

func mac(key []byte, timestamp string, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(timestamp))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Verify checks a request as a receiver should: timestamp and signature
// are the X-Puawatch-Timestamp and X-Puawatch-Signature headers, body the
// raw request body (before any JSON decoding), now the receiver's clock.
// The signature may list several comma-separated values (one per key
// during a key rotation); one "v1=" value matching is enough. It then
// refuses a timestamp more than tolerance away from now, in either
// direction (tolerance <= 0 means DefaultTolerance). The MAC is compared
// in constant time. A receiver that must not process a message twice
// also remembers the Idempotency-Key values it has seen for at least the
// tolerance.
func Verify(key []byte, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	if len(key) == 0 {
		return fmt.Errorf("%w: no key to verify with", ErrSignature)
	}
	want := mac(key, timestamp, body)
	ok := false
	for s := range strings.SplitSeq(signature, ",") {
		s = strings.TrimSpace(s)
		if !strings.HasPrefix(s, signaturePrefix) {
			continue
		}
		got, err := hex.DecodeString(s[len(signaturePrefix):])
		if err == nil && hmac.Equal(got, want) {
			ok = true
		}
	}
	if !ok {
		if strings.TrimSpace(signature) == "" {
			return fmt.Errorf("%w: no %s header", ErrSignature, HeaderSignature)
		}
		return ErrSignature
	}
	sec, err := strconv.ParseInt(strings.TrimSpace(timestamp), 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %q is not unix seconds", ErrTimestamp, timestamp)
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: it is %s away from now, more than the tolerance of %s", ErrTimestamp, d.Round(time.Second), tolerance)
	}
	return nil
}
