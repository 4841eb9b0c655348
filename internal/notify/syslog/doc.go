// Package syslog is the syslog notification channel: every detection of a
// message becomes one RFC 5424 syslog message, sent over UDP, TCP or TLS
// to a SIEM or a log collector, with the detection as JSON or as CEF.
//
// # Message
//
//	<PRI>1 TIMESTAMP HOSTNAME puawatch - MSGID [puawatch@32473 eventId="…" tenantId="…" type="…" severity="…"] MSG
//
// The fields:
//
//   - PRI is facility×8 + severity. The facility defaults to 4 (auth,
//     security/authorization messages); 1-23 can be configured. The
//     severity comes from the detection's: critical 2 (crit), high 3
//     (err), medium 4 (warning), low 5 (notice), anything else 6 (info).
//   - TIMESTAMP is when puawatch sent the message, UTC with three
//     fraction digits (milliseconds, like every time puawatch writes);
//     the detection's own times are in MSG.
//   - HOSTNAME is this machine's host name (or Config.Hostname), APP-NAME
//     "puawatch", PROCID "-" (nil).
//   - MSGID is "PUA" for a detection and "PUAFOLLOWUP" for a follow-up
//     (clean-up failed, restored, ...).
//   - The structured data element puawatch@32473 carries the Sophos event
//     id, the tenant id, the event type and the severity, for filtering
//     without parsing MSG. 32473 is the private enterprise number RFC 5612
//     reserves for documentation and examples: puawatch has no number of
//     its own; receivers match the SD-ID "puawatch@32473" as a string.
//     Values are escaped as RFC 5424 §6.3.3 requires ('"', '\' and ']'
//     get a backslash); control characters are dropped.
//   - MSG is not preceded by a byte order mark (it is RFC 5424's MSG-ANY):
//     CEF and JSON parsers expect their first character at the start. The
//     text is UTF-8.
//
// Every value from Sophos Central is untrusted and cleaned first
// (render.Clean: control characters become spaces, invisible formatting
// characters are removed, at most 2,000 characters per value), then
// escaped for the syntax it lands in.
//
// # MSG formats
//
// "json" (the default): the detection's JSON object (package
// detectionjson, the same object as in the webhook body and the jsonl
// lines: id, kind, type, tenant_id, tenant_name, created_at, when, host,
// endpoint_id, endpoint_type, user, threat, path, severity, name,
// cleanup), on one line. <, > and & are \u-escaped.
//
// "cef": an ArcSight Common Event Format record:
//
//	CEF:0|Sophos|Central|1.0|<event type>|<title>|<severity>|rt=<ms> externalId=<event id> cat=<kind> dhost=<host> duser=<user> filePath=<path> msg=<event message> cs1Label=tenant cs1=<tenant name> cs2Label=threat cs2=<threat> cs3Label=tenantId cs3=<tenant id> cs4Label=endpointId cs4=<endpoint id> cs5Label=endpointType cs5=<endpoint type> cs6Label=cleanup cs6=<clean-up results>
//
// The title is "PUA <threat> on <host> (<tenant>)" ("<type>: <threat> on
// <host> (<tenant>)" for a follow-up). The CEF severity is critical 10,
// high 8, medium 5, low 3, anything else 1. rt is when the event happened
// (or, without that time, when Sophos Central recorded it), in
// milliseconds since the epoch. Empty values are left out with their
// labels. Escaping follows the CEF specification: in the header '\' and
// '|' get a backslash; in extension values '\' and '=' get a backslash,
// and CR and LF are written as the two-character sequences \r and \n
// (cleaning turned them into spaces already, so they only appear if the
// escaper is used on raw text). Other control characters become spaces.
//
// # Transports
//
//   - udp: one datagram per message, no framing. A message longer than
//     65,000 octets has its MSG cut (at a character boundary); many
//     receivers accept less (rsyslog 8 KiB by default), so prefer tcp or
//     tls. UDP gives no sign of loss.
//   - tcp: octet-counting framing, "LEN SP MSG" (RFC 6587 §3.4.1), in the
//     clear.
//   - tls: octet-counting framing over TLS 1.2 or later (RFC 5425), the
//     server certificate verified against the configured CA (or the
//     system roots) and server name. Recommended.
//
// Messages can exceed the 8 KiB that RFC 5425 receivers must accept (a
// 2,000-character path, JSON escapes); raise the receiver's maximum
// message size (rsyslog: $MaxMessageSize 64k) to keep them whole.
//
// The connection stays open across notifications. Before reusing a TCP
// or TLS connection puawatch checks, for a millisecond, that the server
// has not closed it, and reconnects if it has; after any error the
// connection is closed and the next notification reconnects. Context
// deadlines and Config.Timeout bound connecting and writing.
//
// # Delivery
//
// Syslog has no acknowledgements: a message the kernel accepted counts as
// delivered. If sending fails part way through a message, the error is
// retryable and the whole message is resent later, so a receiver may see
// a detection twice (at least once). Every syslog message carries the
// Sophos event id (SD-PARAM eventId, and id or externalId in MSG): dedupe
// on it. An untrusted server certificate, or a server that does not speak
// TLS, is a configuration error and permanent (notify.Permanent), with a
// hint to set the CA; everything else is retried.
package syslog
