package config

import (
	"errors"
	"fmt"
	"github.com/puawatch/puawatch/internal/glob"
	"github.com/puawatch/puawatch/internal/render"
	"github.com/puawatch/puawatch/internal/store"
	"github.com/puawatch/puawatch/internal/urlpolicy"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// problems collects Validate's findings.
type problems []error

// add records a problem with the field at YAML path p; the message names
// the environment variable too when there is one.
func (ps *problems) add(p, format string, args ...any) {
	label := p
	if e := envName(p); e != "" {
		label += " (" + e + ")"
	}
	*ps = append(*ps, fmt.Errorf("%s: %s", label, fmt.Sprintf(format, args...)))
}

// Validate checks c and returns every problem found, joined; each names
// the field by its YAML path (and environment variable), the bad value
// unless it is secret, and what to do. It reads the file system to check
// that CA files exist, and the time zone database for message.time_zone.
// It never includes a secret in its messages.
func (c Config) Validate() error {
	var ps problems
	c.validateReceivers(&ps)

	// sophos
	if strings.TrimSpace(c.Sophos.ClientID) == "" {
		ps.add("sophos.client_id", "not set: set PUAWATCH_CLIENT_ID or sophos.client_id, or run `puawatch login`")
	}
	if c.Sophos.ClientSecret.Empty() {
		ps.add("sophos.client_secret", "not set: set PUAWATCH_CLIENT_SECRET_FILE (a file holding the secret), PUAWATCH_CLIENT_SECRET, or run `puawatch login`")
	}
	ps.baseURL("sophos.auth_url", c.Sophos.AuthURL, DefaultAuthURL)
	ps.baseURL("sophos.api_url", c.Sophos.APIURL, DefaultAPIURL)
	ps.file("sophos.ca_file", c.Sophos.CAFile)
	ps.atLeast("sophos.timeout", c.Sophos.Timeout, minShort, "30s")

	// tenants
	ps.globs("tenants.include", c.Tenants.Include)
	ps.globs("tenants.exclude", c.Tenants.Exclude)
	ps.atLeast("tenants.refresh", c.Tenants.Refresh, minRefresh, "1h")

	// poll
	p := c.Poll
	ps.atLeast("poll.interval", p.Interval, minShort, "5m")
	if p.Interval > 0 && p.LagAlarm > 0 && p.Interval >= p.LagAlarm {
		ps.add("poll.interval", "%s is not shorter than poll.lag_alarm %s: every tenant would be lagging; poll more often or raise lag_alarm", p.Interval, p.LagAlarm)
	}
	switch {
	case p.Lookback <= 0:
		ps.add("poll.lookback", "%s must be more than 0: set e.g. 23h45m", p.Lookback)
	case p.Lookback.Std() > MaxLookback:
		ps.add("poll.lookback", "%s is more than %s: Sophos serves only the last 24 hours of SIEM events; set at most %s", p.Lookback, Duration(MaxLookback), Duration(MaxLookback))
	}
	if p.Initial != "notify" && p.Initial != "silent" {
		ps.add("poll.initial", "%q is not notify or silent: notify sends what the first poll of a tenant finds, silent only stores it", p.Initial)
	}
	switch {
	case p.Overlap < 0:
		ps.add("poll.overlap", "%s is negative: set 0 to turn the re-read off, or e.g. 1h", p.Overlap)
	case p.Overlap > 0 && p.Lookback > 0 && p.Overlap >= p.Lookback:
		ps.add("poll.overlap", "%s is not shorter than poll.lookback %s: set it shorter, e.g. 1h", p.Overlap, p.Lookback)
	}
	if p.Overlap > 0 {
		ps.atLeast("poll.overlap_every", p.OverlapEvery, minRefresh, "15m")
	}
	switch {
	case p.LagAlarm <= 0:
		ps.add("poll.lag_alarm", "%s must be more than 0: set e.g. 6h", p.LagAlarm)
	case p.LagAlarm.Std() >= CursorExpiry:
		ps.add("poll.lag_alarm", "%s is not shorter than 24h: Sophos drops events older than 24 hours, so the alarm would come too late; set e.g. 6h", p.LagAlarm)
	}
	if p.PageLimit < 1 || p.PageLimit > 1000 {
		ps.add("poll.page_limit", "%d is not from 1 to 1000: the SIEM API returns at most 1000 items a page; set 1000", p.PageLimit)
	}
	if p.Workers < 0 || p.Workers > 64 {
		ps.add("poll.workers", "%d is not from 0 to 64: set 0 to size the pool from the tenant count, or e.g. 8", p.Workers)
	}
	switch off := time.Duration(p.OffsetMinutes) * time.Minute; {
	case p.OffsetMinutes < 0:
		ps.add("poll.offset_minutes", "%d is negative: set 0 or a few minutes", p.OffsetMinutes)
	case p.LagAlarm > 0 && off >= p.LagAlarm.Std():
		ps.add("poll.offset_minutes", "%d minutes is not shorter than poll.lag_alarm %s: events would be held back past the alarm; set a few minutes", p.OffsetMinutes, p.LagAlarm)
	}
	ps.rate("poll.limits.per_second", p.Limits.PerSecond, "10")
	ps.rate("poll.limits.per_minute", p.Limits.PerMinute, "100")
	if p.Limits.MinuteBurst < 1 {
		ps.add("poll.limits.minute_burst", "%d must be at least 1: set e.g. 300", p.Limits.MinuteBurst)
	}

	// match
	if len(c.Match.Types) == 0 {
		ps.add("match.types", "empty: nothing would ever match; remove the key to use the PUA detection types")
	}
	ps.globs("match.types", c.Match.Types)
	for i, g := range c.Match.Groups {
		if strings.TrimSpace(g) == "" {
			ps.add(fmt.Sprintf("match.groups[%d]", i), "empty: remove it")
		}
	}
	for i, s := range c.Match.Severities {
		if !slices.Contains(validSeverities(), s) {
			ps.add(fmt.Sprintf("match.severities[%d]", i), "%q is not one of %s", s, strings.Join(validSeverities(), ", "))
		}
	}
	if c.Match.FollowUps && len(c.Match.FollowUpTypes) == 0 {
		ps.add("match.follow_up_types", "empty while match.follow_ups is true: remove the key to use the clean-up failed and restore types, or set follow_ups: false")
	}
	ps.globs("match.follow_up_types", c.Match.FollowUpTypes)

	// store
	db := strings.TrimSpace(c.Store.DB)
	switch {
	case db == "" && c.Store.stateErr != nil:
		ps.add("store.db", "not set, and %v", c.Store.stateErr)
	case db == "":
		ps.add("store.db", "empty: set a SQLite file path such as %s or a postgres:// URL (or leave store.db out: the store is then in the state directory)", filepath.Join("/var/lib/puawatch", DefaultDBName))
	case store.IsPostgresURL(db):
		if _, err := url.Parse(db); err != nil {
			ps.add("store.db", "%s is not a valid URL: write postgres://user:password@host:5432/dbname (%%-escape special characters in the password)", urlpolicy.RedactURL(db))
		}
	case strings.Contains(db, "://"):
		scheme, _, _ := strings.Cut(db, "://")
		ps.add("store.db", "scheme %q is not supported: use a SQLite file path such as %s or a postgres:// URL", scheme, filepath.Join("/var/lib/puawatch", DefaultDBName))
	}

	// email: the section is the receiver "email" (validated with the
	// receivers) when smtp_url is set.
	if e := c.Email; !e.Enabled() && (e.From != "" || len(e.To) > 0) {
		ps.add("email.smtp_url", "not set while email.from or email.to is: set the SMTP server URL to send e-mail, or remove from and to")
	}

	// message
	if c.Message.CentralURL != "" && !urlpolicy.WebURL(c.Message.CentralURL) {
		ps.add("message.central_url", "%q is not an http or https URL: write %s", c.Message.CentralURL, render.DefaultCentralURL)
	}
	if _, err := c.Message.Location(); err != nil {
		ps.add("message.time_zone", "%q is not a known IANA time zone: write e.g. UTC or Europe/Berlin (a container image may lack the time zone database)", c.Message.TimeZone)
	}

	// notify
	n := c.Notify
	ps.atLeast("notify.lease", n.Lease, minShort, "2m")
	ps.atLeast("notify.backoff_base", n.BackoffBase, minShort, "30s")
	if n.BackoffMax < n.BackoffBase {
		ps.add("notify.backoff_max", "%s is shorter than notify.backoff_base %s: set it longer, e.g. 1h", n.BackoffMax, n.BackoffBase)
	}
	if n.MaxAttempts < 0 {
		ps.add("notify.max_attempts", "%d is negative: set 0 to retry forever, or a number of attempts", n.MaxAttempts)
	}

	// log
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		ps.add("log.level", "%q is not debug, info, warn or error", c.Log.Level)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		ps.add("log.format", "%q is not text or json", c.Log.Format)
	}

	// web
	c.validateWeb(&ps)
	return errors.Join(ps...)
}

// The least values of the durations that a tiny value would turn into a
// busy loop (1ns: a poll, a retry or a tenant list read without pause) or
// a failure every time (a request timeout, a lease that lapses at once).
// minShort is 1s, not more: the demo and the crash tests poll the
// simulator every second (their leases and backoffs are 1s too), and the
// API's rate limits (poll.limits) bound the requests in any case.
// minRefresh is for the re-reads that cost a request per tenant or a
// whole tenant list: once a minute at most.
const (
	minShort   = Duration(time.Second) // poll.interval, sophos.timeout, notify.lease, notify.backoff_base
	minRefresh = Duration(time.Minute) // tenants.refresh, poll.overlap_every
)

// atLeast reports a duration shorter than least (0 and negative ones
// included), naming the value, the minimum and an example.
func (ps *problems) atLeast(p string, d, least Duration, example string) {
	if d < least {
		ps.add(p, "%s is shorter than the minimum %s: set e.g. %s", d, least, example)
	}
}

func (ps *problems) rate(p string, r float64, example string) {
	if !(r > 0) || math.IsInf(r, 0) {
		ps.add(p, "%v must be a number more than 0: set e.g. %s", r, example)
	}
}

// globs checks a list of patterns (package glob), reporting every
// malformed one with glob.Compile's message.
func (ps *problems) globs(p string, patterns []string) {
	for i, g := range patterns {
		if _, err := glob.Compile(g); err != nil {
			ps.add(fmt.Sprintf("%s[%d]", p, i), "%v", err)
		}
	}
}

// file checks that an optional file exists and is not a directory.
func (ps *problems) file(p, name string) {
	if name == "" {
		return
	}
	fi, err := os.Stat(name)
	switch {
	case err != nil:
		ps.add(p, "%q cannot be read (%v): name an existing PEM file, or remove the key", name, errors.Unwrap(err))
	case fi.IsDir():
		ps.add(p, "%q is a directory: name a PEM file", name)
	}
}

// baseURL checks a Sophos base URL with urlpolicy.CheckBase: https, or
// http for a loopback host; a host; no user info, query or fragment.
func (ps *problems) baseURL(p, raw, example string) {
	s := strings.TrimSpace(raw)
	if s == "" {
		ps.add(p, "empty: remove the key to use %s", example)
		return
	}
	if _, err := urlpolicy.CheckBase(s); err != nil {
		ps.add(p, "%v", err)
	}
}
