// Package webhook is the generic webhook notification channel: each
// message is POSTed as one JSON document, signed with HMAC-SHA256 when a
// secret is set, to an https URL (or http to a loopback host).
//
// # Request
//
//	POST <url>
//	Content-Type: application/json
//	User-Agent: puawatch-webhook/1           (unless a custom header sets it)
//	X-Puawatch-Timestamp: 1767323045          (unix seconds, when the request was made)
//	X-Puawatch-Signature: v1=<64 hex digits>  (only when a secret is set)
//	Idempotency-Key: <message key>            (the same on every redelivery)
//	<custom headers>
//
// Delivery is at least once: a message is resent after a timeout, a
// network error, a 408, 429 or 5xx answer, or a crash before puawatch
// recorded the 2xx. Every resend carries the same Idempotency-Key and
// body (apart from sent_at and the timestamp and signature), so a receiver
// dedupes on Idempotency-Key, or on detections[].id. 3xx redirects are
// not followed; they and other 4xx answers are permanent failures.
//
// # Body (schema "puawatch.notification", version 1)
//
//	field                      type             value
//	schema                     string           "puawatch.notification"
//	version                    number           1; changes only when a field is removed or changes meaning
//	key                        string           the message key, equal to the Idempotency-Key header
//	channel                    string           the channel's name in puawatch's configuration
//	tenant.id                  string           the Sophos Central tenant id
//	tenant.name                string           the tenant's name
//	digest                     bool             true when the message holds more than one detection
//	count                      number           the number of detections
//	title                      string           one line for humans ("PUA PsExec on WS-1 (Contoso)")
//	central_url                string           Sophos Central's web address
//	detections                 array            one object per detection, in order (package detectionjson):
//	detections[].id            string           the Sophos Central event id (dedupe on it)
//	detections[].kind          string           "detection", or "followup" (clean-up failed, restored, ...)
//	detections[].type          string           the event type, "Event::Endpoint::CorePuaDetection", ...
//	detections[].tenant_id     string           the tenant id
//	detections[].tenant_name   string           the tenant name
//	detections[].created_at    string or null   RFC 3339 UTC, milliseconds (2026-01-02T03:04:05.690Z): when Sophos Central recorded the event
//	detections[].when          string or null   RFC 3339 UTC, milliseconds: when it happened on the endpoint
//	detections[].host          string           the endpoint's name, or "unknown"
//	detections[].endpoint_id   string           the endpoint id
//	detections[].endpoint_type string           "computer", "server", ..., or "unknown"
//	detections[].user          string           DOMAIN\user, or "unknown"
//	detections[].threat        string           the PUA's name, or "unknown"
//	detections[].path          string           the file path; "" when the event names none
//	detections[].severity      string           lower case: "low", "medium", "high", ..., or "unknown"
//	detections[].name          string           the event's message
//	detections[].cleanup       string           clean-up results ("success", ...), or "unknown"
//	sent_at                    string           RFC 3339 UTC, whole seconds written with .000; equal to X-Puawatch-Timestamp
//
// Every time has exactly three fraction digits, so times sort as text.
//
// The detection object is package detectionjson's: the syslog channel's
// "json" MSG and each line of the jsonl channel are the same object.
// Fields may be added to version 1; receivers must ignore fields they do
// not know. Every string from Sophos Central is untrusted and arrives as
// plain text: control characters (CR, LF, tab, ...) replaced by spaces,
// invisible formatting characters removed, at most 2,000 characters. The
// JSON escapes <, > and & (as \u003c, \u003e, \u0026), so a value pasted
// into a web page cannot become markup; the decoded strings are unchanged,
// and a receiver must still escape them for wherever it shows them.
//
// # Verifying a request
//
// With a secret set, X-Puawatch-Signature is "v1=" followed by the lower
// case hex HMAC-SHA256, keyed with the secret's bytes, of the
// X-Puawatch-Timestamp value, a ".", and the raw body bytes. A receiver:
//
//  1. reads the raw body before decoding it (re-encoded JSON does not
//     match);
//  2. computes the HMAC over timestamp + "." + body and compares it, in
//     constant time, with each comma-separated "v1=" value of the
//     signature header (several values may appear during a key rotation);
//  3. refuses a timestamp more than five minutes away from its own clock
//     (either direction) to stop replays, keeping clocks in sync with NTP;
//  4. remembers the Idempotency-Key values it processed for at least as
//     long as that tolerance (better: a day), and answers 2xx to a repeat
//     without processing it again.
//
// Verify does steps 2 and 3 for Go receivers. In a shell, with the
// timestamp in TS, the secret in KEY and the body in body.json:
//
//	{ printf '%s.' "$TS"; cat body.json; } | openssl dgst -sha256 -hmac "$KEY" -r | cut -d' ' -f1
//
// prints the hex digits that follow "v1=".
//
// # Errors and secrets
//
// The URL, the secret and custom header values are secrets: errors, logs
// and Config's String show only the URL's scheme and host and the header
// names. Message.Key and other untrusted values reach headers only after
// render.Clean, so CR/LF cannot add a header.
package webhook
