// Package sim is a test double: a faithful simulator of the parts of the
// Sophos Central public API that puawatch uses, for the tests, for
// `puawatch sim` and for the demo. It simulates the OAuth2 token endpoint,
// whoami, the partner and organization tenant lists, and the SIEM
// Integration API v1 (events and alerts), as
// ../shared/sophos-central-api.md describes them. It imports nothing of
// puawatch outside internal/fake, in particular not the client it tests
// (internal/central).
//
// A Simulator is an http.Handler. It serves one global host (token, whoami,
// tenants, and the /sim/v1/ control API) and one regional host per data
// region (SIEM routes); it tells them apart by the Host of the request, so
// the same handler is mounted on one listener per host (see Start). A
// client that calls SIEM routes on the global host, or on another region's
// host, fails as it would against Sophos Central.
//
// Data is deterministic for a seed: tenants, endpoints and a backlog of
// events are derived from it by package gen, and a live stream adds events
// at a rate.
// Faults (rate limits, 5xx, latency, hangs, short-lived and revoked tokens,
// malformed bodies, page-boundary replays, forbidden tenants) are switched
// by Config and at run time through the control API.
package sim
