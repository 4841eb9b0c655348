package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/puawatch/puawatch/internal/central"
	"github.com/puawatch/puawatch/internal/duration"
	"github.com/puawatch/puawatch/internal/match"
	"github.com/puawatch/puawatch/internal/notify"
	"github.com/puawatch/puawatch/internal/notify/email"
	"github.com/puawatch/puawatch/internal/poll"
	"github.com/puawatch/puawatch/internal/route"
	"github.com/puawatch/puawatch/internal/secret"
	"github.com/puawatch/puawatch/internal/store"
)

// Duration is a duration in the configuration: Go duration text such as
// "90s", "5m" or "1h30m", never a bare number but 0 (package duration has
// the rules). route's group_wait and group_interval are the same type.
type Duration = duration.Duration

// Defaults that other packages and messages refer to.
const (
	// DefaultAuthURL is Sophos's OAuth2 token endpoint.
	DefaultAuthURL = central.DefaultAuthURL
	// DefaultAPIURL is the Sophos Central global API host (whoami, partner and
	// organization tenant lists); per-tenant regional hosts come from whoami.
	DefaultAPIURL = central.DefaultAPIURL
	// DefaultDBName is the SQLite file that Load puts in the state
	// directory (StateDir) when store.db is not set: never the working
	// directory, so that a run from another directory finds the same
	// store.
	DefaultDBName = "puawatch.db"
	// MaxLookback is the longest poll.lookback accepted (poll.MaxLookback):
	// Sophos serves SIEM events of the last 24 hours only, and a request for
	// exactly 24 hours races the server's own clock.
	MaxLookback = poll.MaxLookback
	// CursorExpiry is how old a SIEM cursor may get before Sophos silently
	// falls back to the last 24 hours; poll.lag_alarm must be shorter.
	CursorExpiry = 24 * time.Hour
)

// Config is puawatch's whole configuration. Field names in YAML are the
// snake_case names in the yaml tags; Default holds every default value.
// Load builds one from a file, the environment and stored credentials;
// Validate checks one built in code.
type Config struct {
	Sophos  Sophos  `yaml:"sophos"`
	Tenants Tenants `yaml:"tenants"`
	Poll    Poll    `yaml:"poll"`
	Match   Match   `yaml:"match"`
	Store   Store   `yaml:"store"`
	Email   Email   `yaml:"email"`
	JSONL   JSONL   `yaml:"jsonl"`
	Message Message `yaml:"message"`
	Notify  Notify  `yaml:"notify"`
	Log     Log     `yaml:"log"`
	// Receivers are named notification targets beside the email and jsonl
	// sections (which are the receivers "email" and "jsonl").
	Receivers []Receiver `yaml:"receivers,omitempty"`
	// Route says which receivers get which detections, grouped how; nil
	// sends everything to every receiver.
	Route *route.Spec `yaml:"route,omitempty"`
	// Warnings are what Load found deprecated (a key that moved), each
	// naming the key to write instead. Not configuration.
	Warnings []string `yaml:"-"`
	// Web is the HTTP server: the dashboard, /healthz, /readyz and
	// /metrics.
	Web Web `yaml:"web"`
	// Listen is deprecated: write web.listen. Load moves it there and
	// clears it.
	Listen string `yaml:"listen,omitempty"`
}

// Sophos is how to reach and authenticate to Sophos Central.
type Sophos struct {
	// ClientID is the API credential's client id (a partner, organization
	// or tenant credential).
	ClientID string `yaml:"client_id"`
	// ClientSecret is the API credential's secret. After Load it also holds
	// the secret read from ClientSecretFile.
	ClientSecret secret.Secret `yaml:"client_secret"`
	// ClientSecretFile names a file holding the client secret (a Docker or
	// Kubernetes secret); Load reads it, trimming trailing newlines.
	ClientSecretFile string `yaml:"client_secret_file"`
	// AuthURL is the OAuth2 token endpoint: https, or http for loopback.
	AuthURL string `yaml:"auth_url"`
	// APIURL is the Central global API base URL: https, or http for loopback.
	APIURL string `yaml:"api_url"`
	// CAFile is a PEM bundle trusted in addition to the system roots for
	// Sophos connections (a TLS-inspecting proxy, the simulator); "" = none.
	CAFile string `yaml:"ca_file"`
	// Timeout bounds each HTTP request to Sophos.
	Timeout Duration `yaml:"timeout"`
	// TenantName is the display name of the tenant when the credential is a
	// single-tenant one (whoami gives no name for it); "" = the tenant id.
	TenantName string `yaml:"tenant_name"`
}

// Tenants selects which tenants of a partner or organization are watched.
// A tenant is watched when Include is empty or one of its patterns
// matches, and none of Exclude's patterns matches (Exclude wins). Patterns
// are package glob's (* ? [a-z], without regard to case) and are compared
// to both the tenant id and the tenant name, so an id or an exact name is
// a pattern too.
type Tenants struct {
	Include []string `yaml:"include"`
	Exclude []string `yaml:"exclude"`
	// Refresh is how often the tenant list is read again.
	Refresh Duration `yaml:"refresh"`
}

// Poll is how Sophos Central's SIEM API is read.
type Poll struct {
	// Interval is the time between two polls of a tenant.
	Interval Duration `yaml:"interval"`
	// Lookback is how far back the first poll of a tenant (one without a
	// cursor) reads: more than 0 and at most MaxLookback.
	Lookback Duration `yaml:"lookback"`
	// Initial says what happens to detections found by a tenant's first
	// poll: "notify" sends them, "silent" only stores them.
	Initial string `yaml:"initial"`
	// Overlap re-reads this much before the cursor every OverlapEvery, to
	// catch events that endpoints with fast clocks placed behind it
	// (duplicates are dropped by event id). 0 turns re-reading off.
	Overlap Duration `yaml:"overlap"`
	// OverlapEvery is how often the overlap re-read runs.
	OverlapEvery Duration `yaml:"overlap_every"`
	// LagAlarm raises an alarm when a tenant's events are older than this
	// behind now; less than CursorExpiry, after which events are lost.
	LagAlarm Duration `yaml:"lag_alarm"`
	// PageLimit is the SIEM page size (limit), 1 to 1000.
	PageLimit int `yaml:"page_limit"`
	// Workers is how many tenants are polled at once, 1 to 64; 0 (the
	// default) sizes the pool from the tenant count (poll.AutoWorkers:
	// one per tenant, at most 32).
	Workers int `yaml:"workers"`
	// OffsetMinutes is sent as from_date_offset_minutes on every SIEM
	// request: the API holds back events younger than this many minutes,
	// giving late ones time to arrive. 0 or more, and shorter than LagAlarm.
	OffsetMinutes int `yaml:"offset_minutes"`
	// Limits caps the request rate to Sophos Central.
	Limits Limits `yaml:"limits"`
}

// Limits are client-side rate limits for all requests to Sophos Central.
type Limits struct {
	// PerSecond is the sustained request rate per second.
	PerSecond float64 `yaml:"per_second"`
	// PerMinute is the sustained request rate per minute.
	PerMinute float64 `yaml:"per_minute"`
	// MinuteBurst is how many requests the per-minute limiter lets through
	// at once.
	MinuteBurst int `yaml:"minute_burst"`
}

// Match decides which SIEM events are PUA detections worth notifying.
type Match struct {
	// Types are event types, exact or globs (*Pua*Detect*; package glob,
	// without regard to case).
	Types []string `yaml:"types"`
	// Groups, when not empty, keeps only events of these SIEM groups.
	Groups []string `yaml:"groups"`
	// Severities, when not empty, keeps only events of these severities
	// (low, medium, high, critical, none).
	Severities []string `yaml:"severities"`
	// FollowUps also notifies about FollowUpTypes events (clean-up failed,
	// restore) for PUAs already detected.
	FollowUps bool `yaml:"follow_ups"`
	// FollowUpTypes are the follow-up event types, exact or globs (package
	// glob).
	FollowUpTypes []string `yaml:"follow_up_types"`
}

// Matcher builds the matcher of this section (package match decides; the
// watcher and the tests that check its output build it here).
func (m Match) Matcher() (*match.Matcher, error) {
	return match.New(match.Config{Types: m.Types, FollowUps: m.FollowUps, FollowUpTypes: m.FollowUpTypes,
		Groups: m.Groups, Severities: m.Severities})
}

// validSeverities are the values match.severities accepts.
func validSeverities() []string { return []string{"low", "medium", "high", "critical", "none"} }

// Store is where detections, the outbox and cursors are kept.
type Store struct {
	// DB is a SQLite file path (or file: URI), or a postgres:// or
	// postgresql:// URL. A URL may carry a password: Redacted hides it.
	DB string `yaml:"db"`
	// StateDir is the state directory Load put the default store in
	// (DB is StateDir/DefaultDBName); "" when store.db was set. Not
	// configuration: MakeStateDir makes it before the store is opened.
	StateDir string `yaml:"-"`
	// stateErr is why Load found no state directory for the default
	// store; Validate reports it.
	stateErr error
}

// MakeStateDir makes StateDir, private to its owner (mode 0700), when it
// is missing: the default store is about to be created in it. A store.db
// that was set makes nothing: a missing directory there is an error of
// the store's, not a directory to make.
func (s Store) MakeStateDir() error {
	if s.StateDir == "" {
		return nil
	}
	if _, err := os.Stat(s.StateDir); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(s.StateDir, 0o700); err != nil {
		return fmt.Errorf("store: the state directory for the default store: %w (set store.db or PUAWATCH_DB to put the store elsewhere)", err)
	}
	// MkdirAll applies the umask; make the mode exact.
	return os.Chmod(s.StateDir, 0o700)
}

// StateDir is the directory puawatch keeps its state in, from the
// environment getenv: the first of the colon-separated paths in
// $STATE_DIRECTORY (systemd's StateDirectory=), else
// $XDG_STATE_HOME/puawatch, else $HOME/.local/state/puawatch. A value
// that is not an absolute path is ignored, as the XDG base directory
// specification asks. The directory is not made here (Store.MakeStateDir
// does).
func StateDir(getenv func(string) string) (string, error) {
	first, _, _ := strings.Cut(getenv("STATE_DIRECTORY"), ":")
	switch xdg, home := getenv("XDG_STATE_HOME"), getenv("HOME"); {
	case filepath.IsAbs(first):
		return filepath.Clean(first), nil
	case filepath.IsAbs(xdg):
		return filepath.Join(xdg, "puawatch"), nil
	case filepath.IsAbs(home):
		return filepath.Join(home, ".local", "state", "puawatch"), nil
	}
	return "", errors.New("no state directory for the store: STATE_DIRECTORY, XDG_STATE_HOME and HOME are unset or not absolute paths; " +
		"set store.db (PUAWATCH_DB) to the store's file or a postgres:// URL, or set HOME")
}

// Dialect is "postgres" for a postgres:// or postgresql:// URL and
// "sqlite" for anything else.
func (s Store) Dialect() string {
	if store.IsPostgresURL(s.DB) {
		return "postgres"
	}
	return "sqlite"
}

// Email is the e-mail section: the receiver "email" when SMTPURL is set,
// and the SMTP server and sender that the e-mail receivers of the
// receivers section fall back on. Its keys are email.Config's (smtp_url,
// from, to, ca_file, template), plus three deprecated ones that now live
// elsewhere.
type Email struct {
	email.Config `yaml:",inline"`
	// Digest is deprecated: write route.digest_above: 0. It sends one
	// message per tenant and poll whatever its size, instead of a message
	// per detection and a digest only for bursts (more than 3 of a tenant
	// due at once). It applies when there is no route section.
	Digest bool `yaml:"digest,omitempty"`
	// CentralURL is deprecated: write message.central_url.
	CentralURL string `yaml:"central_url,omitempty"`
	// TimeZone is deprecated: write message.time_zone.
	TimeZone string `yaml:"time_zone,omitempty"`
}

// Enabled reports whether the e-mail section is a receiver.
func (e Email) Enabled() bool { return !e.SMTPURL.Empty() }

// Message holds what every channel's messages share.
type Message struct {
	// TimeZone is the IANA time zone times are shown in besides UTC
	// ("UTC", "Europe/Berlin", "Local").
	TimeZone string `yaml:"time_zone"`
	// CentralURL is the Sophos Central address messages link to ("":
	// render.DefaultCentralURL).
	CentralURL string `yaml:"central_url"`
}

// Location loads TimeZone ("" is UTC).
func (m Message) Location() (*time.Location, error) {
	if m.TimeZone == "" {
		return time.UTC, nil
	}
	return time.LoadLocation(m.TimeZone)
}

// JSONL is the JSON-lines channel: one detection per line.
type JSONL struct {
	// Path is the file appended to; "-" is standard output; "" is off.
	Path string `yaml:"path"`
}

// Enabled reports whether the JSON-lines channel is configured.
func (j JSONL) Enabled() bool { return j.Path != "" }

// Notify is how the outbox dispatcher retries.
type Notify struct {
	// Lease is how long a claimed outbox row belongs to one dispatcher
	// before another instance may claim it again.
	Lease Duration `yaml:"lease"`
	// BackoffBase is the first retry delay; it doubles per attempt.
	BackoffBase Duration `yaml:"backoff_base"`
	// BackoffMax caps the retry delay.
	BackoffMax Duration `yaml:"backoff_max"`
	// MaxAttempts moves a message to the dead letters after this many
	// failed attempts; 0 retries forever.
	MaxAttempts int `yaml:"max_attempts"`
}

// Log is the daemon's own logging.
type Log struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
	// Format is text or json.
	Format string `yaml:"format"`
}

// Default returns the configuration used for every key that neither the
// file nor the environment sets. It has no credentials and no store.db
// (Load puts the store in the state directory, which depends on the
// environment: see StateDir), so it does not pass Validate by itself.
// Each call returns fresh slices.
func Default() Config {
	lim := central.DefaultLimits()
	return Config{
		Sophos: Sophos{
			AuthURL: DefaultAuthURL,
			APIURL:  DefaultAPIURL,
			Timeout: Duration(central.DefaultTimeout),
		},
		Tenants: Tenants{Refresh: Duration(poll.DefaultTenantRefresh)},
		Poll: Poll{
			Interval:     Duration(5 * time.Minute),
			Lookback:     Duration(poll.DefaultLookback),
			Initial:      "notify",
			Overlap:      Duration(time.Hour),
			OverlapEvery: Duration(poll.DefaultOverlapEvery),
			LagAlarm:     Duration(poll.DefaultLagAlarm),
			PageLimit:    poll.DefaultPageLimit,
			Workers:      0, // poll.AutoWorkers of the tenant count
			Limits:       Limits{PerSecond: lim.PerSecond, PerMinute: lim.PerMinute, MinuteBurst: lim.MinuteBurst},
		},
		Match: Match{
			Types:         match.DefaultTypes(),
			FollowUpTypes: match.DefaultFollowUpTypes(),
		},
		Message: Message{TimeZone: "UTC"},
		Notify:  Notify{Lease: Duration(notify.DefaultLease), BackoffBase: Duration(notify.DefaultBackoffBase), BackoffMax: Duration(notify.DefaultBackoffMax)},
		Log:     Log{Level: "info", Format: "text"},
		Web:     Web{Listen: DefaultListen},
	}
}

// String is Redacted, so printing a Config with %v or %s never shows a
// secret.
func (c Config) String() string { return c.Redacted() }
