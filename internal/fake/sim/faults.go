package sim

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// RateLimits are the limits answered with 429 and Retry-After, counted per
// credential and tenant (X-Tenant-ID, or none for global calls). A zero
// field switches that limit off.
type RateLimits struct {
	PerSecond   int `json:"per_second"`
	PerMinute   int `json:"per_minute"`
	MinuteBurst int `json:"minute_burst"` // calls a minute may burst to (default PerMinute)
	PerDay      int `json:"per_day"`
}

// Faults are injected failures. Rates are shares of API requests (0..1);
// the control API is never faulted.
type Faults struct {
	ErrorRate        float64  `json:"error_rate"`        // answered with 500, 502, 503 or 504
	Latency          Duration `json:"latency"`           // added to every API request
	HangRate         float64  `json:"hang_rate"`         // never answered until the client gives up (or HangFor)
	HangFor          Duration `json:"hang_for"`          // 0: hang until the client goes away
	TokenHang        bool     `json:"token_hang"`        // the token endpoint alone never answers (see HangFor)
	MalformedRate    float64  `json:"malformed_rate"`    // 200 with a truncated JSON body
	ReplayRate       float64  `json:"replay_rate"`       // pages with has_more whose last item comes again on the next page
	RevokeRate       float64  `json:"revoke_rate"`       // authenticated requests whose token gets revoked (401)
	ForbiddenTenants []string `json:"forbidden_tenants"` // tenant ids or names whose SIEM calls answer 403
	// OmitRetryAfter answers rate limits with 429 but no Retry-After
	// header, which the API documentation does not promise.
	OmitRetryAfter bool `json:"omit_retry_after"`
	// RefuseOldCursor answers a SIEM cursor older than the retention with
	// 400. Sophos documents the other behaviour (the default here: such a
	// cursor is served from now-24h), but 400 is what it answers for an
	// out-of-window from_date and for bad parameters, so a client must
	// survive it too.
	RefuseOldCursor bool `json:"refuse_old_cursor"`
}

// Duration is a time.Duration written as text ("250ms") in JSON.
type Duration time.Duration

// MarshalText writes the duration as Go duration text.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads Go duration text such as "1.5s".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration %q: %w", b, err)
	}
	*d = Duration(v)
	return nil
}

// Settings are the run-time switchable parts of a simulator.
type Settings struct {
	Faults        Faults     `json:"faults"`
	Limits        RateLimits `json:"limits"`
	TokenLifetime Duration   `json:"token_lifetime"`
}

// Settings returns the current faults, limits and token lifetime.
func (s *Simulator) Settings() Settings {
	s.mu.RLock()
	defer s.mu.RUnlock()
	f := s.faults
	f.ForbiddenTenants = append([]string(nil), f.ForbiddenTenants...)
	return Settings{Faults: f, Limits: s.limits, TokenLifetime: Duration(s.lifetime)}
}

// SetSettings replaces the faults, limits and token lifetime. Changed
// limits start with fresh counts.
func (s *Simulator) SetSettings(st Settings) error {
	if err := st.validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if st.Limits != s.limits {
		s.limMu.Lock()
		s.limiters = map[string]*limiterSet{}
		s.limMu.Unlock()
	}
	s.faults, s.limits = st.Faults, st.Limits
	if st.TokenLifetime > 0 {
		s.lifetime = time.Duration(st.TokenLifetime)
	}
	return nil
}

// ValidateSettings checks rates are shares (0..1) and counts and durations
// are not negative.
func ValidateSettings(st Settings) error { return st.validate() }

func (st Settings) validate() error {
	for name, v := range map[string]float64{
		"error_rate": st.Faults.ErrorRate, "hang_rate": st.Faults.HangRate, "malformed_rate": st.Faults.MalformedRate,
		"replay_rate": st.Faults.ReplayRate, "revoke_rate": st.Faults.RevokeRate,
	} {
		if v < 0 || v > 1 || math.IsNaN(v) {
			return fmt.Errorf("faults.%s must be between 0 and 1, not %v", name, v)
		}
	}
	for name, v := range map[string]int{"per_second": st.Limits.PerSecond, "per_minute": st.Limits.PerMinute,
		"minute_burst": st.Limits.MinuteBurst, "per_day": st.Limits.PerDay} {
		if v < 0 {
			return fmt.Errorf("limits.%s must not be negative, not %d", name, v)
		}
	}
	if st.Faults.Latency < 0 || st.Faults.HangFor < 0 || st.TokenLifetime < 0 {
		return fmt.Errorf("durations must not be negative")
	}
	return nil
}

// SetFaults replaces the faults and keeps the rest of the settings.
func (s *Simulator) SetFaults(f Faults) error {
	st := s.Settings()
	st.Faults = f
	return s.SetSettings(st)
}

// SetLimits replaces the rate limits and keeps the rest of the settings.
func (s *Simulator) SetLimits(l RateLimits) error {
	st := s.Settings()
	st.Limits = l
	return s.SetSettings(st)
}

func (s *Simulator) forbidden(t *tenant) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, f := range s.faults.ForbiddenTenants {
		if f == t.spec.ID || f == t.spec.Name {
			return true
		}
	}
	return false
}

// applyFaults runs the request-level faults; false means the request has
// been answered (or abandoned) already.
func (s *Simulator) applyFaults(w http.ResponseWriter, r *http.Request) bool {
	s.mu.RLock()
	f := s.faults
	s.mu.RUnlock()
	ctx := r.Context()
	if f.Latency > 0 {
		t := time.NewTimer(time.Duration(f.Latency))
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
	}
	if f.TokenHang && routeName(r.URL.Path) == "token" {
		s.counters.add("token_hangs", 1)
		s.hang(w, r, f.HangFor)
		return false
	}
	if f.HangRate > 0 && s.randFloat() < f.HangRate {
		s.counters.add("hangs", 1)
		s.hang(w, r, f.HangFor)
		return false
	}
	if f.ErrorRate > 0 && s.randFloat() < f.ErrorRate {
		s.counters.add("errors_5xx", 1)
		status := []int{500, 502, 503, 504}[s.randIntN(4)]
		if status == 500 {
			writeError(w, status, "internalServerError", "Internal Server Error.")
		} else {
			writeError(w, status, "serviceUnavailable", http.StatusText(status))
		}
		return false
	}
	return true
}

// malformed reports whether this answer's body is to be cut short.
func (s *Simulator) malformed() bool {
	s.mu.RLock()
	rate := s.faults.MalformedRate
	s.mu.RUnlock()
	return rate > 0 && s.randFloat() < rate
}

// truncWriter keeps a response body and writes only its first half.
type truncWriter struct {
	http.ResponseWriter
	status int
	body   []byte
}

func (t *truncWriter) WriteHeader(code int) { t.status = code }
func (t *truncWriter) Write(b []byte) (int, error) {
	t.body = append(t.body, b...)
	return len(b), nil
}
func (t *truncWriter) finish() {
	if t.status == 0 {
		t.status = http.StatusOK
	}
	body := t.body
	if t.status == http.StatusOK && len(body) > 1 {
		body = body[:len(body)/2]
	}
	t.ResponseWriter.Header().Set("Content-Length", strconv.Itoa(len(body)))
	t.ResponseWriter.WriteHeader(t.status)
	_, _ = t.ResponseWriter.Write(body)
}

type limiterSet struct {
	second, minute *rate.Limiter
	dayStart       time.Time
	dayCount       int
}

// rateLimit counts a call against key; over a limit it writes 429 with
// Retry-After and returns false.
func (s *Simulator) rateLimit(w http.ResponseWriter, key string) bool {
	s.mu.RLock()
	l := s.limits
	s.mu.RUnlock()
	if l.PerSecond == 0 && l.PerMinute == 0 && l.PerDay == 0 {
		return true
	}
	now := s.now()
	s.limMu.Lock()
	ls := s.limiters[key]
	if ls == nil {
		ls = &limiterSet{dayStart: now}
		if l.PerSecond > 0 {
			ls.second = rate.NewLimiter(rate.Limit(l.PerSecond), l.PerSecond)
		}
		if l.PerMinute > 0 {
			burst := max(l.MinuteBurst, l.PerMinute)
			ls.minute = rate.NewLimiter(rate.Limit(float64(l.PerMinute)/60), burst)
		}
		s.limiters[key] = ls
	}
	var wait time.Duration
	if l.PerDay > 0 {
		if now.Sub(ls.dayStart) >= 24*time.Hour {
			ls.dayStart, ls.dayCount = now, 0
		}
		if ls.dayCount >= l.PerDay {
			wait = ls.dayStart.Add(24 * time.Hour).Sub(now)
		}
	}
	var reserved []*rate.Reservation
	for _, lim := range []*rate.Limiter{ls.second, ls.minute} {
		if lim == nil || wait > 0 {
			continue
		}
		res := lim.ReserveN(now, 1)
		if d := res.DelayFrom(now); d > 0 {
			res.CancelAt(now)
			wait = d
			continue
		}
		reserved = append(reserved, res)
	}
	if wait > 0 {
		for _, res := range reserved {
			res.CancelAt(now)
		}
	} else {
		ls.dayCount++
	}
	s.limMu.Unlock()
	if wait <= 0 {
		return true
	}
	s.counters.add("rate_limited", 1)
	secs := int(math.Ceil(wait.Seconds()))
	s.mu.RLock()
	omit := s.faults.OmitRetryAfter
	s.mu.RUnlock()
	if !omit {
		w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	}
	writeError(w, http.StatusTooManyRequests, "tooManyRequests", "Too many requests")
	return false
}

// counters are the simulator's statistics.
type counters struct {
	mu sync.Mutex
	m  map[string]int64
}

func (c *counters) init() { c.m = map[string]int64{} }

func (c *counters) add(name string, n int) {
	c.mu.Lock()
	c.m[name] += int64(n)
	c.mu.Unlock()
}

func (c *counters) request(route string) { c.add("requests."+route, 1) }

func (c *counters) snapshot() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int64, len(c.m))
	for k, v := range c.m {
		out[k] = v
	}
	return out
}

// Counters are what the simulator did: events generated per tenant and
// type, requests per route, and fault counts.
type Counters struct {
	Events   map[string]map[string]int `json:"events_generated"` // tenant id -> type -> count
	Requests map[string]int64          `json:"requests"`         // route -> count
	Stats    map[string]int64          `json:"stats"`            // rate_limited, errors_5xx, pages_served, ...
}

// Counters returns a snapshot of the counters.
func (s *Simulator) Counters() Counters {
	s.advanceLive(s.now())
	out := Counters{Events: map[string]map[string]int{}, Requests: map[string]int64{}, Stats: map[string]int64{}}
	s.mu.RLock()
	ts := append([]*tenant(nil), s.tenants...)
	s.mu.RUnlock()
	for _, t := range ts {
		counts := map[uint16]int{}
		t.mu.RLock()
		for typ, n := range t.counts {
			counts[typ] = n
		}
		t.mu.RUnlock()
		// The names are read after the counts: the type table only grows,
		// so every index counted is named.
		names, _ := s.types.snapshot()
		m := map[string]int{}
		for typ, n := range counts {
			m[names[typ]] = n
		}
		out.Events[t.spec.ID] = m
	}
	for k, v := range s.counters.snapshot() {
		if route, ok := strings.CutPrefix(k, "requests."); ok {
			out.Requests[route] = v
		} else {
			out.Stats[k] = v
		}
	}
	return out
}
