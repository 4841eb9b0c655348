package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/puawatch/puawatch/internal/duration"
	"github.com/puawatch/puawatch/internal/fake/sim"
	"github.com/spf13/cobra"
)

// simFlags are the flags of `puawatch sim`.
type simFlags struct {
	addr, mode, caFile string
	banner             string
	regions, tlsHosts  []string
	useTLS             bool
	cfg                sim.Config
	limits             sim.RateLimits
	faults             sim.Faults
	latency, hangFor   time.Duration
}

func newSimCmd(e *env) *cobra.Command {
	f := &simFlags{cfg: sim.DefaultConfig(), limits: sim.SophosLimits()}
	f.cfg.Tenants = 25
	f.cfg.Rate = 1
	c := &cobra.Command{
		Use:   "sim",
		Short: "Serve a simulated Sophos Central (token, whoami, tenants, SIEM events and alerts)",
		Long: `Serve a simulated Sophos Central: the OAuth2 token endpoint, whoami, the
partner and organization tenant lists on a global host, and the SIEM events
and alerts API on one host per data region, with realistic, seeded data,
a live event stream and switchable faults.

It holds a partner, an organization and a tenant credential at once; --mode
chooses which one is printed as PUAWATCH_* environment lines. The control API
under <global URL>/sim/v1/ injects events (POST /sim/v1/tenants/{id}/events),
adds and removes tenants (POST /sim/v1/tenants, DELETE /sim/v1/tenants/{id}),
reads counters (GET /sim/v1/counters), stops the live stream
(POST /sim/v1/live/stop, which answers with the final counters), changes faults and limits at run time
(GET and PUT /sim/v1/settings), revokes tokens (POST /sim/v1/tokens/revoke)
and moves the clock (POST /sim/v1/clock {"advance":"2h"}).

With a fixed --addr port P, region i listens on P+1+i (in --regions order).
With --banner json the banner is one JSON line for programs (puawatch bench):
the URLs, without credentials (read them from GET /sim/v1/credentials).`,
		Example: `  puawatch sim --mode partner --tenants 50
  puawatch sim --tls --ca-file /tmp/sim-ca.pem --fault-error-rate 0.05 --fault-replay-rate 0.2`,
		RunE: func(cmd *cobra.Command, args []string) error { return runSim(cmd, e, f) },
	}
	fl := c.Flags()
	fl.StringVar(&f.addr, "addr", "127.0.0.1:9900", "listen address of the global host (host:port); regions use the following ports")
	fl.StringVar(&f.banner, "banner", "text", "what is printed once serving: text (the banner with PUAWATCH_* lines) or json (one line of URLs, no secrets)")
	fl.StringVar(&f.mode, "mode", "partner", "credential printed as PUAWATCH_* lines: partner, organization or tenant")
	fl.Int64Var(&f.cfg.Seed, "seed", f.cfg.Seed, "seed of every generated value (same seed, same data)")
	fl.IntVar(&f.cfg.Tenants, "tenants", f.cfg.Tenants, "number of tenants")
	fl.StringSliceVar(&f.regions, "regions", f.cfg.Regions, "data regions, one host each ("+strings.Join(sim.DataRegions(), ", ")+")")
	fl.IntVar(&f.cfg.EventsPerTenant, "events-per-tenant", f.cfg.EventsPerTenant, "backlog events per tenant at start")
	fl.DurationVar(&f.cfg.Backlog, "backlog", f.cfg.Backlog, "how far back the backlog reaches (at most 24h)")
	fl.Float64Var(&f.cfg.Rate, "rate", f.cfg.Rate, "live events per second over all tenants (0: no live stream)")
	fl.Float64Var(&f.cfg.OtherShare, "other-share", f.cfg.OtherShare, "share of events outside the PUA family (0..1)")
	fl.Float64Var(&f.cfg.HostileShare, "hostile-share", f.cfg.HostileShare, "share of events with hostile endpoint-supplied values: tags, quotes, CR/LF, long paths (0..1)")
	fl.Float64Var(&f.cfg.TieShare, "tie-share", f.cfg.TieShare, "share of events sharing their created_at millisecond with the previous one (0..1)")
	fl.Float64Var(&f.cfg.LateShare, "late-share", f.cfg.LateShare, "share of live events that become visible after their created_at, behind a cursor (0..1)")
	fl.DurationVar(&f.cfg.LateMax, "late-max", f.cfg.LateMax, "how late such events become visible at most")
	fl.DurationVar(&f.cfg.TokenLifetime, "token-lifetime", f.cfg.TokenLifetime, "lifetime of issued tokens (expires_in)")
	fl.IntVar(&f.cfg.MaxLimit, "max-limit", f.cfg.MaxLimit, "largest SIEM limit accepted")
	fl.BoolVar(&f.cfg.ClampLimit, "clamp-limit", false, "clamp a larger limit instead of answering 400")
	fl.IntVar(&f.cfg.TenantPageMax, "tenant-page-max", f.cfg.TenantPageMax, "pages.maxSize of the tenant lists")
	fl.IntVar(&f.limits.PerSecond, "limit-per-second", f.limits.PerSecond, "calls a second per credential and tenant before 429 (0: off)")
	fl.IntVar(&f.limits.PerMinute, "limit-per-minute", f.limits.PerMinute, "calls a minute per credential and tenant before 429 (0: off)")
	fl.IntVar(&f.limits.MinuteBurst, "limit-minute-burst", f.limits.MinuteBurst, "calls a minute may burst to")
	fl.IntVar(&f.limits.PerDay, "limit-per-day", f.limits.PerDay, "calls a day per credential and tenant before 429 (0: off)")
	fl.Float64Var(&f.faults.ErrorRate, "fault-error-rate", 0, "share of API requests answered 500, 502, 503 or 504")
	fl.DurationVar(&f.latency, "fault-latency", 0, "latency added to every API request")
	fl.Float64Var(&f.faults.HangRate, "fault-hang-rate", 0, "share of API requests that hang")
	fl.DurationVar(&f.hangFor, "fault-hang-for", 0, "how long a hang lasts before a 504 (0: until the client gives up)")
	fl.Float64Var(&f.faults.MalformedRate, "fault-malformed-rate", 0, "share of 200 answers with a truncated JSON body")
	fl.Float64Var(&f.faults.ReplayRate, "fault-replay-rate", 0, "share of pages whose last item comes again on the next page")
	fl.Float64Var(&f.faults.RevokeRate, "fault-revoke-rate", 0, "share of authenticated requests whose token gets revoked (401)")
	fl.StringSliceVar(&f.faults.ForbiddenTenants, "fault-forbidden-tenant", nil, "tenant id or name whose SIEM calls answer 403 (repeatable)")
	fl.BoolVar(&f.faults.RefuseOldCursor, "fault-refuse-old-cursor", false, "answer 400 to a SIEM cursor older than 24 hours (default: serve it from now-24h, as Sophos documents)")
	fl.BoolVar(&f.useTLS, "tls", false, "serve HTTPS with a fresh CA and certificate; the CA is written to --ca-file")
	fl.StringVar(&f.caFile, "ca-file", "puawatch-sim-ca.pem", "where --tls writes the CA certificate (use it as SSL_CERT_FILE)")
	fl.StringSliceVar(&f.tlsHosts, "tls-host", nil, "extra host names or IPs for the certificate (localhost and 127.0.0.1 are always in it)")
	return c
}

func runSim(cmd *cobra.Command, e *env, f *simFlags) error {
	switch f.mode {
	case "partner", "organization", "tenant":
	default:
		return usagef("--mode must be partner, organization or tenant, not %q", f.mode)
	}
	if f.banner != "text" && f.banner != "json" {
		return usagef("--banner must be text or json, not %q", f.banner)
	}
	if err := f.validate(); err != nil {
		return err
	}
	f.cfg.Regions = f.regions
	f.faults.Latency, f.faults.HangFor = sim.Duration(f.latency), sim.Duration(f.hangFor)
	f.cfg.Limits, f.cfg.Faults = f.limits, f.faults
	f.cfg.Logger = slog.New(slog.NewTextHandler(e.stderr, nil))
	st := sim.Settings{Faults: f.faults, Limits: f.limits, TokenLifetime: sim.Duration(f.cfg.TokenLifetime)}
	if err := sim.ValidateSettings(st); err != nil {
		return usagef("%v", err)
	}
	start := time.Now()
	s := sim.New(f.cfg)
	opts := sim.ListenOptions{Addr: f.addr}
	if f.useTLS {
		host, _, err := net.SplitHostPort(f.addr)
		if err != nil {
			return usagef("--addr %q: %v (use host:port)", f.addr, err)
		}
		hosts := f.tlsHosts
		if host != "" && host != "0.0.0.0" && host != "::" {
			hosts = append(hosts, host)
		}
		certs, err := sim.NewCerts(hosts, time.Now(), 90*24*time.Hour)
		if err != nil {
			return usagef("--tls: %v", err)
		}
		if err := certs.WriteCAFile(f.caFile); err != nil {
			return fmt.Errorf("--ca-file: %w", err)
		}
		opts.TLS = certs.ServerTLSConfig()
	}
	srv, err := sim.Start(s, opts)
	if err != nil {
		return err
	}
	defer srv.Close()
	if f.banner == "json" {
		if err := printSimReady(e.stdout, srv); err != nil {
			return err
		}
	} else {
		printSimBanner(e.stdout, s, srv, f, time.Since(start))
	}
	<-cmd.Context().Done()
	fmt.Fprintln(e.stderr, "puawatch sim: stopping")
	return nil
}

// validate checks every number, duration and region of the flags; each
// problem names the flag, the value given and the range accepted.
func (f *simFlags) validate() error {
	var ps []string
	add := func(format string, a ...any) { ps = append(ps, fmt.Sprintf(format, a...)) }
	atLeast := func(flag string, v, lo int) {
		if v < lo {
			add("--%s %d is out of range: give %d or more", flag, v, lo)
		}
	}
	share := func(flag string, v float64) {
		if !(v >= 0 && v <= 1) { // NaN too
			add("--%s %v is out of range: give a share from 0 to 1", flag, v)
		}
	}
	notNegative := func(flag string, d time.Duration) {
		if d < 0 {
			add("--%s %s is out of range: give 0s or more", flag, duration.Duration(d))
		}
	}
	atLeast("tenants", f.cfg.Tenants, 1)
	atLeast("events-per-tenant", f.cfg.EventsPerTenant, 0)
	if f.cfg.Backlog <= 0 || f.cfg.Backlog > sim.Retention {
		add("--backlog %s is out of range: give more than 0s and at most %s (the SIEM API keeps events %s)",
			duration.Duration(f.cfg.Backlog), duration.Duration(sim.Retention), duration.Duration(sim.Retention))
	}
	if !(f.cfg.Rate >= 0) || math.IsInf(f.cfg.Rate, 1) {
		add("--rate %v is out of range: give 0 or more live events per second (0: no live stream)", f.cfg.Rate)
	}
	share("other-share", f.cfg.OtherShare)
	share("hostile-share", f.cfg.HostileShare)
	share("tie-share", f.cfg.TieShare)
	share("late-share", f.cfg.LateShare)
	notNegative("late-max", f.cfg.LateMax)
	if f.cfg.TokenLifetime <= 0 {
		add("--token-lifetime %s is out of range: give more than 0s", duration.Duration(f.cfg.TokenLifetime))
	}
	atLeast("max-limit", f.cfg.MaxLimit, 1)
	atLeast("tenant-page-max", f.cfg.TenantPageMax, 1)
	atLeast("limit-per-second", f.limits.PerSecond, 0)
	atLeast("limit-per-minute", f.limits.PerMinute, 0)
	atLeast("limit-minute-burst", f.limits.MinuteBurst, 0)
	atLeast("limit-per-day", f.limits.PerDay, 0)
	share("fault-error-rate", f.faults.ErrorRate)
	share("fault-hang-rate", f.faults.HangRate)
	share("fault-malformed-rate", f.faults.MalformedRate)
	share("fault-replay-rate", f.faults.ReplayRate)
	share("fault-revoke-rate", f.faults.RevokeRate)
	notNegative("fault-latency", f.latency)
	notNegative("fault-hang-for", f.hangFor)
	known := sim.DataRegions()
	if len(f.regions) == 0 {
		add("--regions is empty: name one or more of %s", strings.Join(known, ", "))
	}
	seen := map[string]bool{}
	for _, r := range f.regions {
		switch {
		case !slices.Contains(known, r):
			add("--regions %q is not a data region: use %s", r, strings.Join(known, ", "))
		case seen[r]:
			add("--regions names %q twice: name each region once", r)
		}
		seen[r] = true
	}
	if len(ps) > 0 {
		return usagef("%s", strings.Join(ps, "; "))
	}
	return nil
}

func printSimBanner(w io.Writer, s *sim.Simulator, srv *sim.Server, f *simFlags, took time.Duration) {
	fmt.Fprintf(w, "puawatch simulator: %d tenants, %d backlog events each, %.3g live events/s, seed %d (ready in %s)\n\n",
		f.cfg.Tenants, f.cfg.EventsPerTenant, f.cfg.Rate, f.cfg.Seed, took.Round(time.Millisecond))
	fmt.Fprintf(w, "  global host   %s   (token: %s)\n", srv.GlobalURL, s.TokenURL())
	for _, r := range s.Regions() {
		fmt.Fprintf(w, "  region %-6s %s\n", r, srv.RegionURLs[r])
	}
	fmt.Fprintf(w, "  control API   %s/sim/v1/\n\n", srv.GlobalURL)
	for _, c := range s.Credentials() {
		fmt.Fprintf(w, "  %-12s client_id=%s client_secret=%s (%s id %s)\n", c.IDType, c.ClientID, c.ClientSecret, c.IDType, c.ID)
	}
	c, _ := s.Credential(f.mode)
	fmt.Fprintf(w, "\nEnvironment for puawatch (%s credential):\n\n", f.mode)
	fmt.Fprintf(w, "  export PUAWATCH_AUTH_URL=%s\n  export PUAWATCH_API_URL=%s\n", s.TokenURL(), srv.GlobalURL)
	fmt.Fprintf(w, "  export PUAWATCH_CLIENT_ID=%s\n  export PUAWATCH_CLIENT_SECRET=%s\n", c.ClientID, c.ClientSecret)
	if f.useTLS {
		// puawatch trusts the CA for Sophos connections only; SSL_CERT_FILE
		// is for other clients (Sophos's SIEM script, curl).
		fmt.Fprintf(w, "  export PUAWATCH_CA_FILE=%s\n", f.caFile)
		fmt.Fprintf(w, "  # for other HTTPS clients (curl, Sophos's SIEM script):\n  export SSL_CERT_FILE=%s\n", f.caFile)
	}
	fmt.Fprintf(w, "\nServing until interrupted (Ctrl-C).\n")
}

// printSimReady is --banner json: the simulator's sim.Ready as one line.
func printSimReady(w io.Writer, srv *sim.Server) error {
	b, err := json.Marshal(srv.Ready())
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
