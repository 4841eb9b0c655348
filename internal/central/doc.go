// Package central is the Sophos Central client puawatch needs: OAuth2
// client credentials (one token reused until shortly before it expires, one
// renewal and retry on a 401), whoami, the paged partner and organization
// tenant lists, and SIEM event pages on each tenant's regional apiHost.
//
// Every call takes a context and has a timeout. Calls wait on rate
// limiters set to Sophos's documented limits; 429 answers are retried after
// Retry-After, 5xx answers and timeouts with exponential backoff and
// jitter, a bounded number of times. An apiHost from the API is only
// followed when it is an https host under the configured API domain, or a
// loopback host when the configured API URL is loopback, so the bearer
// token never leaves for somewhere else. The client secret never appears
// in an error or a log line.
//
// The client keeps the offset of Sophos Central's clock from the local one,
// read from the Date header of every answer (the token's first): APINow is
// the time to compute from_date and judge the 24-hour Retention by.
// CursorTime reads the position a SIEM cursor stands for.
package central
