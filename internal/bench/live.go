package bench

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/puawatch/puawatch/internal/central"
	"github.com/puawatch/puawatch/internal/config"
	"github.com/puawatch/puawatch/internal/fake/sim"
	"github.com/puawatch/puawatch/internal/fake/smtpcapture"
	"github.com/puawatch/puawatch/internal/match"
)

// live runs the daemon at a 1 s interval against a steady stream and
// measures, for each detection, the time from its event's created_at to
// the SMTP server accepting the mail that carries it.
func (r *runner) live(ctx context.Context, dir string, sz size) Row {
	row := Row{Scenario: fmt.Sprintf("live %d", sz.liveTenants), Kind: "live", Tenants: sz.liveTenants}
	fail := func(err error) Row { row.Error = err.Error(); return row }
	capture, err := smtpcapture.Start(smtpcapture.Options{})
	if err != nil {
		return fail(err)
	}
	defer capture.Close()
	r.progressf("%s: starting the simulator (%g events/s)", row.Scenario, sz.liveRate)
	s, err := startSim(ctx, r.o, dir, simSpec{tenants: sz.liveTenants, rate: sz.liveRate})
	if err != nil {
		return fail(err)
	}
	defer s.stop()
	listen, err := freeAddr()
	if err != nil {
		return fail(err)
	}
	env := s.env(dir, map[string]string{
		"PUAWATCH_INTERVAL":  "1s",
		"PUAWATCH_SMTP_URL":  fmt.Sprintf("smtp://%s?starttls=none", capture.Addr()),
		"PUAWATCH_MAIL_FROM": "puawatch@bench.invalid",
		"PUAWATCH_MAIL_TO":   "soc@bench.invalid",
		"PUAWATCH_LISTEN":    listen,
	})
	m, err := matcherOf(env)
	if err != nil {
		return fail(err)
	}
	c0, err := s.counters(ctx)
	if err != nil {
		return fail(err)
	}
	r.progressf("%s: the daemon at a 1s interval for %s", row.Scenario, sz.liveFor)
	d, err := startChild(ctx, "daemon", r.o.Binary, []string{"run"}, childEnv(r.o.Environ, env), filepath.Join(dir, "daemon.stderr"), nil)
	if err != nil {
		return fail(err)
	}
	waited := make(chan struct{})
	var du usage
	var derr error
	go func() { du, derr = d.wait(); close(waited) }()
	sctx, stopSampling := context.WithCancel(ctx)
	peak := sampleGoroutines(sctx, "http://"+listen+"/metrics")

	ended := func() error { // the daemon must not end before it is told to
		select {
		case <-waited:
			return fmt.Errorf("the daemon ended before it was stopped: %v", derr)
		default:
			return nil
		}
	}
	select {
	case <-time.After(sz.liveFor):
	case <-waited:
	case <-ctx.Done():
	}
	var final sim.Counters
	err = s.control(ctx, http.MethodPost, "live/stop", &final)
	if err == nil {
		err = ended()
	}
	var want map[string]time.Time // event id -> created_at, of the detections
	if err == nil {
		row.Events, row.Expected, _ = generated(final, env)
		want, err = truth(ctx, s, m)
	}
	if err == nil && len(want) != row.Expected {
		err = fmt.Errorf("the simulator's events list %d detections, its counters %d", len(want), row.Expected)
	}
	// Wait for the daemon to deliver what was streamed: every detection in
	// the JSONL file and in a mail.
	deadline := time.Now().Add(sz.drainWait)
	var first map[string]time.Time
	for err == nil {
		first = mailedAt(capture.Messages())
		lines, lerr := countLines(env["PUAWATCH_JSONL"])
		if lerr != nil {
			err = lerr
			break
		}
		row.Detections = lines
		if lines >= row.Expected && covers(first, want) {
			break
		}
		if err = ended(); err != nil {
			break
		}
		if time.Now().After(deadline) {
			err = fmt.Errorf("after %s the daemon had written %d of %d detections to JSONL and mailed %d", sz.drainWait, lines, row.Expected, len(first))
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	stopSampling()
	_ = d.interrupt()
	<-waited
	g := <-peak
	m2 := measure{usage: du}
	if c1, cerr := s.counters(ctx); cerr == nil {
		calls0, lim0 := apiCalls(c0)
		calls1, lim1 := apiCalls(c1)
		m2.calls, m2.limited = calls1-calls0, lim1-lim0
	}
	ev := row.Events
	row.Events = 0 // no events/s: the stream sets the pace
	m2.fill(&row)
	row.Events = ev
	row.Goroutines = g
	if err != nil {
		return fail(err)
	}
	if derr != nil {
		return fail(derr)
	}
	var lat []time.Duration
	for id, created := range want {
		lat = append(lat, first[id].Sub(created))
	}
	slices.Sort(lat)
	row.LatencyP50 = percentile(lat, 0.50).Seconds()
	row.LatencyP99 = percentile(lat, 0.99).Seconds()
	row.Note = fmt.Sprintf("stream of %s at %g events/s, %d mails; latency of %d detections", sz.liveFor, sz.liveRate, len(capture.Messages()), len(lat))
	if row.Detections != row.Expected {
		return fail(fmt.Errorf("the daemon wrote %d JSONL lines, but the simulator generated %d detections", row.Detections, row.Expected))
	}
	return row
}

// matcherOf is the matcher of the watcher configured by env.
func matcherOf(env map[string]string) (*match.Matcher, error) {
	cfg, err := config.Load(config.LoadOptions{Env: envLookup(env)})
	if err != nil {
		return nil, fmt.Errorf("the watcher's configuration: %w", err)
	}
	return cfg.Match.Matcher()
}

// truth is the created_at of every event the matcher reports, from the
// simulator's own lists (its clock; the simulator runs on this machine).
func truth(ctx context.Context, s *simProc, m *match.Matcher) (map[string]time.Time, error) {
	var ts struct {
		Items []sim.TenantInfo `json:"items"`
	}
	if err := s.control(ctx, http.MethodGet, "tenants", &ts); err != nil {
		return nil, err
	}
	out := map[string]time.Time{}
	for _, t := range ts.Items {
		var evs struct {
			Items []central.Event `json:"items"`
		}
		if err := s.control(ctx, http.MethodGet, "tenants/"+t.ID+"/events", &evs); err != nil {
			return nil, err
		}
		for _, e := range evs.Items {
			if _, ok := m.Match(e); ok {
				out[e.ID] = e.CreatedAt
			}
		}
	}
	return out, nil
}

// eventIDLine is the line of a mail that names an event.
var eventIDLine = regexp.MustCompile(`(?m)^Event id:\s+(\S+)`)

// mailedAt is, per event id, when the first mail that carries it was
// accepted.
func mailedAt(msgs []smtpcapture.Message) map[string]time.Time {
	out := map[string]time.Time{}
	for _, m := range msgs {
		for _, id := range eventIDLine.FindAllStringSubmatch(m.Text, -1) {
			if t, ok := out[id[1]]; !ok || m.ReceivedAt.Before(t) {
				out[id[1]] = m.ReceivedAt
			}
		}
	}
	return out
}

func covers(got, want map[string]time.Time) bool {
	for id := range want {
		if _, ok := got[id]; !ok {
			return false
		}
	}
	return true
}

// freeAddr is a loopback address whose port was free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// sampleGoroutines scrapes go_goroutines from url every 200 ms until ctx
// ends, then sends the largest value seen (0: never scraped).
func sampleGoroutines(ctx context.Context, url string) <-chan int {
	out := make(chan int, 1)
	hc := &http.Client{Timeout: 2 * time.Second}
	go func() {
		peak := 0
		defer func() { out <- peak }()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			if n, ok := scrapeGoroutines(ctx, hc, url); ok && n > peak {
				peak = n
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return out
}

func scrapeGoroutines(ctx context.Context, hc *http.Client, url string) (int, bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, false
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return int(f), err == nil
		}
	}
	return 0, false
}
