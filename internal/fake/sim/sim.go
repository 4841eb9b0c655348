package sim

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/puawatch/puawatch/internal/fake/sim/gen"
)

// Retention is how long the SIEM API keeps events.
const Retention = 24 * time.Hour

// Config is what a Simulator is made of. Start from DefaultConfig and
// change what a test or a command needs.
type Config struct {
	Seed            int64         // drives every generated value
	Tenants         int           // tenants at start
	Regions         []string      // data regions; each gets its own host
	EventsPerTenant int           // backlog per tenant at start, spread over Backlog
	Backlog         time.Duration // how far back the backlog reaches: more than 0 and at most Retention (else Retention-1h)
	Rate            float64       // live events per second, all tenants together
	OtherShare      float64       // share of events outside the PUA family
	HostileShare    float64       // share of events with hostile endpoint-supplied values
	TieShare        float64       // share of events that share their created_at millisecond with the one before
	LateShare       float64       // share of live events that become visible after their created_at
	LateMax         time.Duration // how late such an event becomes visible at most
	TokenLifetime   time.Duration // expires_in of issued tokens
	MaxLimit        int           // largest SIEM limit accepted (1000)
	ClampLimit      bool          // true: a larger limit is clamped; false: 400
	TenantPageMax   int           // pages.maxSize of the tenant lists (100)
	Limits          RateLimits    // 429 rate limits
	Faults          Faults        // injected faults
	Now             func() time.Time
	Logger          *slog.Logger
}

// DataRegions are the data regions Config.Regions may name: Sophos
// Central's (eu01, eu02, us01, us02, us03, ca01, au01, jp01, br01, in01).
func DataRegions() []string { return gen.Regions() }

// DefaultConfig is a small, fault-free simulator: 5 tenants in two regions,
// 200 backlog events each, no live stream, no rate limits.
func DefaultConfig() Config {
	return Config{
		Seed:            1,
		Tenants:         5,
		Regions:         []string{"eu01", "us03"},
		EventsPerTenant: 200,
		Backlog:         23 * time.Hour,
		OtherShare:      0.6,
		HostileShare:    0.05,
		TieShare:        0.1,
		LateMax:         5 * time.Minute,
		TokenLifetime:   time.Hour,
		MaxLimit:        1000,
		TenantPageMax:   100,
	}
}

// SophosLimits are the rate limits Sophos documents: 10 calls a second,
// 100 a minute with bursts to 300, 200,000 a day.
func SophosLimits() RateLimits {
	return RateLimits{PerSecond: 10, PerMinute: 100, MinuteBurst: 300, PerDay: 200000}
}

// Credential is one API credential the simulator accepts.
type Credential struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	IDType       string `json:"id_type"` // tenant, partner or organization
	ID           string `json:"id"`      // the whoami id
}

// Simulator is the simulated Sophos Central. It is an http.Handler; see
// the package comment for how hosts are told apart.
type Simulator struct {
	cfg  Config
	gen  *gen.Generator
	log  *slog.Logger
	mux  *http.ServeMux
	t0   time.Time // start of the live stream
	skew atomic.Int64

	mu        sync.RWMutex
	faults    Faults
	limits    RateLimits
	lifetime  time.Duration
	tenants   []*tenant // in listing order
	byID      map[string]*tenant
	removed   map[string]*tenant // RemoveTenant keeps them for RestoreTenant
	nextIndex int
	hosts     map[string]string // port -> "" (global) or region
	globalURL string
	regionURL map[string]string
	creds     map[string]Credential // by client id
	tokens    map[string]*token

	liveMu   sync.Mutex
	liveDone uint64 // live events generated so far
	liveStop bool   // StopLive was called

	types typeTable

	rngMu sync.Mutex
	rng   *rand.Rand

	limMu    sync.Mutex
	limiters map[string]*limiterSet

	counters counters
	bufs     sync.Pool // *[]byte response buffers
}

// New makes a simulator with cfg's tenants and backlog.
func New(cfg Config) *Simulator {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if len(cfg.Regions) == 0 {
		cfg.Regions = []string{"eu01"}
	}
	if cfg.TokenLifetime <= 0 {
		cfg.TokenLifetime = time.Hour
	}
	if cfg.MaxLimit <= 0 {
		cfg.MaxLimit = 1000
	}
	if cfg.TenantPageMax <= 0 {
		cfg.TenantPageMax = 100
	}
	if cfg.Backlog <= 0 || cfg.Backlog > Retention {
		cfg.Backlog = Retention - time.Hour
	}
	s := &Simulator{
		cfg:       cfg,
		gen:       gen.New(cfg.Seed, gen.Options{OtherShare: cfg.OtherShare, HostileShare: cfg.HostileShare}),
		log:       cfg.Logger,
		faults:    cfg.Faults,
		limits:    cfg.Limits,
		lifetime:  cfg.TokenLifetime,
		byID:      map[string]*tenant{},
		hosts:     map[string]string{},
		regionURL: map[string]string{},
		creds:     map[string]Credential{},
		tokens:    map[string]*token{},
		rng:       rand.New(rand.NewPCG(uint64(cfg.Seed), 0x5eed)),
		limiters:  map[string]*limiterSet{},
	}
	s.bufs.New = func() any { b := make([]byte, 0, 64<<10); return &b }
	s.t0 = cfg.Now().UTC().Truncate(time.Millisecond)
	s.types.init()
	s.counters.init()
	ts := make([]*tenant, cfg.Tenants)
	var wg sync.WaitGroup
	for i := range ts {
		ts[i] = s.newTenant(i, s.gen.Tenant(i, cfg.Regions))
	}
	// The backlog is materialised eagerly, in parallel: start-up cost is
	// paid once and page serving never waits for it.
	workers := 4
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < len(ts); i += workers {
				s.fillBacklog(ts[i])
			}
		}(w)
	}
	wg.Wait()
	for _, t := range ts {
		s.tenants = append(s.tenants, t)
		s.byID[t.spec.ID] = t
	}
	s.nextIndex = cfg.Tenants
	s.makeCredentials()
	s.routes()
	return s
}

// now is the simulator's clock: Config.Now plus any advance made through
// the control API.
func (s *Simulator) now() time.Time {
	return s.cfg.Now().Add(time.Duration(s.skew.Load())).UTC()
}

// Advance moves the simulator's clock forward by d (events age, tokens
// expire, the live stream catches up).
func (s *Simulator) Advance(d time.Duration) { s.skew.Add(int64(d)) }

func (s *Simulator) makeCredentials() {
	id := func(kind string) string {
		return uuidFrom(mix3(uint64(s.cfg.Seed), hashString(kind), 1), mix3(uint64(s.cfg.Seed), hashString(kind), 2))
	}
	secret := func(kind string) string {
		return fmt.Sprintf("%016x%016x", mix3(uint64(s.cfg.Seed), hashString(kind), 3), mix3(uint64(s.cfg.Seed), hashString(kind), 4))
	}
	for _, kind := range []string{"partner", "organization"} {
		c := Credential{ClientID: id(kind + "-client"), ClientSecret: secret(kind), IDType: kind, ID: id(kind)}
		s.creds[c.ClientID] = c
	}
	if len(s.tenants) > 0 {
		c := Credential{ClientID: id("tenant-client"), ClientSecret: secret("tenant"), IDType: "tenant", ID: s.tenants[0].spec.ID}
		s.creds[c.ClientID] = c
	}
}

// Credentials lists the accepted credentials: a partner's, an
// organization's and, while there is a tenant, the first tenant's.
func (s *Simulator) Credentials() []Credential {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []Credential
	for _, kind := range []string{"partner", "organization", "tenant"} {
		for _, c := range s.creds {
			if c.IDType == kind {
				out = append(out, c)
			}
		}
	}
	return out
}

// Credential returns the credential of the given type (tenant, partner,
// organization).
func (s *Simulator) Credential(idType string) (Credential, bool) {
	for _, c := range s.Credentials() {
		if c.IDType == idType {
			return c, true
		}
	}
	return Credential{}, false
}

// SetGlobalURL names the base URL (scheme://host:port) under which the
// global host is reached. Requests whose Host has that port are served as
// the global host.
func (s *Simulator) SetGlobalURL(u string) error {
	port, err := portOf(u)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.globalURL = strings.TrimRight(u, "/")
	s.hosts[port] = ""
	return nil
}

// SetRegionURL names the base URL of a data region's host.
func (s *Simulator) SetRegionURL(region, u string) error {
	port, err := portOf(u)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.regionURL[region] = strings.TrimRight(u, "/")
	s.hosts[port] = region
	return nil
}

// GlobalURL is the base URL of the global host.
func (s *Simulator) GlobalURL() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.globalURL
}

// TokenURL is the URL of the token endpoint (on the global host).
func (s *Simulator) TokenURL() string { return s.GlobalURL() + "/api/v2/oauth2/token" }

// Regions lists the data regions.
func (s *Simulator) Regions() []string { return append([]string(nil), s.cfg.Regions...) }

func portOf(u string) (string, error) {
	pu, err := url.Parse(u)
	if err != nil {
		return "", fmt.Errorf("sim: base URL %q: %w", u, err)
	}
	_, port, err := net.SplitHostPort(pu.Host)
	if err != nil {
		return "", fmt.Errorf("sim: base URL %q needs an explicit port: %w", u, err)
	}
	return port, nil
}

// role tells which host a request reached: "" for the global host, a
// region name, or ok=false for a port the simulator does not know.
func (s *Simulator) role(r *http.Request) (string, bool) {
	_, port, err := net.SplitHostPort(r.Host)
	if err != nil {
		port = map[bool]string{true: "443", false: "80"}[r.TLS != nil]
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	region, ok := s.hosts[port]
	return region, ok
}

// ServeHTTP serves the request as the host it reached.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The Date of every answer is the simulator's clock, as Sophos's is
	// its own: clients learn the API's time from it.
	w.Header().Set("Date", s.now().Format(http.TimeFormat))
	region, ok := s.role(r)
	if !ok {
		writeError(w, http.StatusMisdirectedRequest, "misdirectedRequest", "this simulator does not serve host "+r.Host)
		return
	}
	isControl := strings.HasPrefix(r.URL.Path, "/sim/v1/")
	if isControl {
		if region != "" {
			writeError(w, http.StatusNotFound, "notFound", "the control API is on the global host")
			return
		}
		s.mux.ServeHTTP(w, r)
		return
	}
	s.counters.request(routeName(r.URL.Path))
	if !s.applyFaults(w, r) {
		return
	}
	siem := strings.HasPrefix(r.URL.Path, "/siem/v1/")
	switch {
	case region == "" && siem:
		writeError(w, http.StatusNotFound, "notFound", "SIEM routes are served on the tenant's apiHost, not the global host")
		return
	case region != "" && !siem:
		writeError(w, http.StatusNotFound, "notFound", "only SIEM routes are served on a regional host")
		return
	}
	rr := r
	if siem {
		rr = r.WithContext(contextWithRegion(r.Context(), region))
	}
	if s.malformed() {
		tw := &truncWriter{ResponseWriter: w}
		s.mux.ServeHTTP(tw, rr)
		if tw.status == 0 || tw.status == http.StatusOK {
			s.counters.add("malformed", 1)
		}
		tw.finish()
		return
	}
	s.mux.ServeHTTP(w, rr)
}

func routeName(p string) string {
	switch {
	case p == "/api/v2/oauth2/token":
		return "token"
	case p == "/whoami/v1":
		return "whoami"
	case strings.HasPrefix(p, "/partner/v1/tenants"):
		return "partner_tenants"
	case strings.HasPrefix(p, "/organization/v1/tenants"):
		return "organization_tenants"
	case p == "/siem/v1/events":
		return "siem_events"
	case p == "/siem/v1/alerts":
		return "siem_alerts"
	}
	return "other"
}

func (s *Simulator) routes() {
	m := http.NewServeMux()
	m.HandleFunc("/api/v2/oauth2/token", s.handleToken)
	m.HandleFunc("GET /whoami/v1", s.handleWhoami)
	m.HandleFunc("GET /partner/v1/tenants", s.handleTenantList("partner"))
	m.HandleFunc("GET /organization/v1/tenants", s.handleTenantList("organization"))
	m.HandleFunc("GET /partner/v1/tenants/{id}", s.handleTenantGet("partner"))
	m.HandleFunc("GET /organization/v1/tenants/{id}", s.handleTenantGet("organization"))
	m.HandleFunc("GET /siem/v1/events", s.handleSIEM(false))
	m.HandleFunc("GET /siem/v1/alerts", s.handleSIEM(true))
	s.controlRoutes(m)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "notFound", "no route "+r.Method+" "+r.URL.Path)
	})
	s.mux = m
}

// randFloat is a shared, seeded random source for faults.
func (s *Simulator) randFloat() float64 {
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	return s.rng.Float64()
}

func (s *Simulator) randIntN(n int) int {
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	return s.rng.IntN(n)
}

func (s *Simulator) newUUID() string {
	s.rngMu.Lock()
	a, b := s.rng.Uint64(), s.rng.Uint64()
	s.rngMu.Unlock()
	return uuidFrom(a, b)
}

// writeError writes Sophos's common error object.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	body := map[string]string{
		"error":         code,
		"message":       msg,
		"correlationId": pseudoUUID(),
		"requestId":     pseudoUUID(),
		"createdAt":     time.Now().UTC().Format(tsLayout),
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// pseudoUUID is a random UUID for correlation and request ids.
func pseudoUUID() string { return uuidFrom(rand.Uint64(), rand.Uint64()) }

// uuidFrom formats two 64-bit values as a version-4 UUID.
func uuidFrom(a, b uint64) string {
	a = (a &^ (0xf << 12)) | (4 << 12)
	b = (b &^ (0x3 << 62)) | (0x2 << 62)
	const hexd = "0123456789abcdef"
	var buf [36]byte
	j := 0
	put := func(v uint64, nibbles int) {
		for i := nibbles - 1; i >= 0; i-- {
			buf[j] = hexd[(v>>(uint(i)*4))&0xf]
			j++
		}
	}
	put(a>>32, 8)
	buf[j] = '-'
	j++
	put(a>>16, 4)
	buf[j] = '-'
	j++
	put(a, 4)
	buf[j] = '-'
	j++
	put(b>>48, 4)
	buf[j] = '-'
	j++
	put(b, 12)
	return string(buf[:])
}

func mix3(a, b, c uint64) uint64 {
	x := a*0x9e3779b97f4a7c15 ^ b*0xbf58476d1ce4e5b9 ^ c*0x94d049bb133111eb
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}
