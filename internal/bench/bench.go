package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Options say what to measure and with what.
type Options struct {
	// Binary is the puawatch executable the simulator, the watcher and the
	// limit run as.
	Binary string
	// Scale is one of Scales(): the sizes of the scenarios.
	Scale string
	// Scenarios are some of ScenarioNames(), run in that order.
	Scenarios []string
	// Environ is the environment the children start from; every
	// PUAWATCH_* variable of it is left out.
	Environ []string
	// TempDir holds each scenario's directory (store, JSONL file, logs);
	// "" is os.TempDir(). The directories are removed afterwards.
	TempDir string
	// Progress gets a line as each step starts; nil: none.
	Progress io.Writer
}

// ScenarioNames are the scenarios, in the order of the table.
func ScenarioNames() []string { return []string{"backlog", "idle", "live"} }

// Scales are the sizes Options.Scale may name.
func Scales() []string { return []string{"tiny", "small", "full"} }

// size is what a scale makes of each scenario.
type size struct {
	backlogs    [][2]int // tenants, events per tenant; each has a limit row
	idleTenants int
	idleEvents  int           // per tenant, drained by the first run
	idleLatency time.Duration // --fault-latency of every request
	liveTenants int
	liveRate    float64       // events a second over all tenants
	liveFor     time.Duration // how long the stream runs
	drainWait   time.Duration // how long the live daemon may take to deliver what was streamed (a safety net)
}

func sizeOf(scale string) (size, bool) {
	switch scale {
	case "full":
		return size{backlogs: [][2]int{{100, 10000}, {40, 5000}}, idleTenants: 1000, idleEvents: 5, idleLatency: 20 * time.Millisecond,
			liveTenants: 50, liveRate: 25, liveFor: 20 * time.Second, drainWait: time.Minute}, true
	case "small":
		return size{backlogs: [][2]int{{40, 5000}}, idleTenants: 1000, idleEvents: 5, idleLatency: 20 * time.Millisecond,
			liveTenants: 50, liveRate: 25, liveFor: 10 * time.Second, drainWait: time.Minute}, true
	case "tiny":
		return size{backlogs: [][2]int{{3, 200}}, idleTenants: 20, idleEvents: 5, idleLatency: 20 * time.Millisecond,
			liveTenants: 3, liveRate: 10, liveFor: 3 * time.Second, drainWait: time.Minute}, true
	}
	return size{}, false
}

// Check reports the first problem of o's scale and scenarios, naming the
// flag, the value and what is accepted.
func (o Options) Check() error {
	if _, ok := sizeOf(o.Scale); !ok {
		return fmt.Errorf("--scale %q is not a scale: use %s", o.Scale, strings.Join(Scales(), ", "))
	}
	if len(o.Scenarios) == 0 {
		return fmt.Errorf("--scenarios is empty: name one or more of %s", strings.Join(ScenarioNames(), ", "))
	}
	seen := map[string]bool{}
	for _, s := range o.Scenarios {
		switch {
		case !slices.Contains(ScenarioNames(), s):
			return fmt.Errorf("--scenarios %q is not a scenario: use %s", s, strings.Join(ScenarioNames(), ", "))
		case seen[s]:
			return fmt.Errorf("--scenarios names %q twice: name each once", s)
		}
		seen[s] = true
	}
	if o.Binary == "" {
		return fmt.Errorf("--binary is empty: give the puawatch executable to measure")
	}
	return nil
}

// Row is one line of the table: a run of the watcher, or the limit.
type Row struct {
	Scenario     string  `json:"scenario"` // "backlog 100x10000", "limit 100x10000", "idle 1000", "live 50"
	Kind         string  `json:"kind"`     // backlog, limit, idle or live
	Tenants      int     `json:"tenants"`
	Events       int     `json:"events"`              // events the run had to read (idle: none new)
	Detections   int     `json:"detections"`          // lines the watcher's JSONL receiver wrote in the run
	Expected     int     `json:"expected_detections"` // what the simulator generated that the watcher's matcher reports
	WallSeconds  float64 `json:"wall_seconds"`
	EventsPerSec float64 `json:"events_per_second,omitempty"`
	APICalls     int64   `json:"api_calls"`    // Sophos API requests the simulator answered in the run
	RateLimited  int64   `json:"rate_limited"` // of which 429
	CPUSeconds   float64 `json:"cpu_seconds"`  // user + system of the process
	PeakRSSBytes int64   `json:"peak_rss_bytes"`
	Goroutines   int     `json:"goroutines,omitempty"`          // peak go_goroutines of the daemon's /metrics; 0: not known (run --once)
	WallRatio    float64 `json:"wall_ratio_to_limit,omitempty"` // backlog rows: wall time over the limit's
	CPURatio     float64 `json:"cpu_ratio_to_limit,omitempty"`  // backlog rows: CPU over the limit's
	LatencyP50   float64 `json:"latency_p50_seconds,omitempty"` // live: event created -> SMTP accepted
	LatencyP99   float64 `json:"latency_p99_seconds,omitempty"`
	Note         string  `json:"note,omitempty"`
	Error        string  `json:"error,omitempty"` // the scenario failed
}

// Report is a whole bench run.
type Report struct {
	Scale string `json:"scale"`
	Go    string `json:"go"`
	OS    string `json:"os"`
	Arch  string `json:"arch"`
	CPUs  int    `json:"cpus"`
	Rows  []Row  `json:"rows"`
}

// Failed lists the rows whose scenario failed.
func (r Report) Failed() []Row {
	var out []Row
	for _, row := range r.Rows {
		if row.Error != "" {
			out = append(out, row)
		}
	}
	return out
}

// Run runs o's scenarios one after the other (o must pass Check). A
// scenario that fails has its Error set; the others still run.
func Run(ctx context.Context, o Options) Report {
	sz, _ := sizeOf(o.Scale)
	rep := Report{Scale: o.Scale, Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU()}
	r := &runner{o: o}
	for _, name := range o.Scenarios {
		switch name {
		case "backlog":
			for _, b := range sz.backlogs {
				rep.Rows = append(rep.Rows, r.inDir(ctx, func(ctx context.Context, dir string) []Row { return r.backlog(ctx, dir, b[0], b[1]) })...)
			}
		case "idle":
			rep.Rows = append(rep.Rows, r.inDir(ctx, func(ctx context.Context, dir string) []Row { return []Row{r.idle(ctx, dir, sz)} })...)
		case "live":
			rep.Rows = append(rep.Rows, r.inDir(ctx, func(ctx context.Context, dir string) []Row { return []Row{r.live(ctx, dir, sz)} })...)
		}
	}
	return rep
}

type runner struct{ o Options }

func (r *runner) progressf(format string, a ...any) {
	if r.o.Progress != nil {
		fmt.Fprintf(r.o.Progress, "bench: "+format+"\n", a...)
	}
}

// scenarioTimeout bounds one scenario: a safety net for a child that
// hangs, far above what any scale takes.
const scenarioTimeout = 10 * time.Minute

// inDir runs fn with a fresh directory, removed afterwards, and the
// scenario's safety timeout.
func (r *runner) inDir(ctx context.Context, fn func(context.Context, string) []Row) []Row {
	dir, err := os.MkdirTemp(r.o.TempDir, "puawatch-bench-*")
	if err != nil {
		return []Row{{Scenario: "setup", Error: err.Error()}}
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(ctx, scenarioTimeout)
	defer cancel()
	return fn(ctx, dir)
}

// measure is what one child cost, with the simulator's counters over its
// run.
type measure struct {
	usage
	calls, limited int64
}

func (m measure) fill(row *Row) {
	row.WallSeconds = m.wall.Seconds()
	row.CPUSeconds = m.cpu.Seconds()
	row.PeakRSSBytes = m.maxRSS
	row.APICalls = m.calls
	row.RateLimited = m.limited
	if row.Events > 0 && m.wall > 0 {
		row.EventsPerSec = float64(row.Events) / m.wall.Seconds()
	}
}

// measured runs `puawatch args` to its end against s with env and
// returns what it cost.
func (r *runner) measured(ctx context.Context, s *simProc, dir, name string, args []string, env map[string]string, stdout io.Writer) (measure, error) {
	c0, err := s.counters(ctx)
	if err != nil {
		return measure{}, err
	}
	ch, err := startChild(ctx, name, r.o.Binary, args, childEnv(r.o.Environ, env), filepath.Join(dir, name+".stderr"), stdout)
	if err != nil {
		return measure{}, err
	}
	u, err := ch.wait()
	if err != nil {
		return measure{usage: u}, err
	}
	c1, err := s.counters(ctx)
	if err != nil {
		return measure{usage: u}, err
	}
	calls0, lim0 := apiCalls(c0)
	calls1, lim1 := apiCalls(c1)
	return measure{usage: u, calls: calls1 - calls0, limited: lim1 - lim0}, nil
}

// backlog drains tenants x events with `run --once`, then fetches and
// decodes the same feed with the limit.
func (r *runner) backlog(ctx context.Context, dir string, tenants, events int) []Row {
	size := fmt.Sprintf("%dx%d", tenants, events)
	w := Row{Scenario: "backlog " + size, Kind: "backlog", Tenants: tenants}
	l := Row{Scenario: "limit " + size, Kind: "limit", Tenants: tenants}
	failed := func(err error) []Row {
		w.Error = err.Error()
		if l.Error == "" && l.WallSeconds == 0 {
			l.Error = "not run: the backlog scenario failed"
		}
		return []Row{w, l}
	}
	r.progressf("%s: starting the simulator", w.Scenario)
	s, err := startSim(ctx, r.o, dir, simSpec{tenants: tenants, events: events})
	if err != nil {
		return failed(err)
	}
	defer s.stop()
	env := s.env(dir, nil)
	c, err := s.counters(ctx)
	if err != nil {
		return failed(err)
	}
	if w.Events, w.Expected, err = generated(c, env); err != nil {
		return failed(err)
	}
	r.progressf("%s: puawatch run --once (%d events)", w.Scenario, w.Events)
	m, err := r.measured(ctx, s, dir, "watcher", []string{"run", "--once"}, env, nil)
	m.fill(&w)
	if err != nil {
		return failed(err)
	}
	if w.Detections, err = countLines(env["PUAWATCH_JSONL"]); err != nil {
		return failed(err)
	}
	w.EventsPerSec = float64(w.Events) / w.WallSeconds
	if w.Detections != w.Expected {
		return failed(fmt.Errorf("the watcher wrote %d JSONL lines, but the simulator generated %d detections", w.Detections, w.Expected))
	}

	r.progressf("%s: the limit, fetch and decode with %d workers", w.Scenario, LimitWorkers)
	var out bytes.Buffer
	l.Events = w.Events
	lm, err := r.measured(ctx, s, dir, "limit", []string{"bench", "limit", "--workers", fmt.Sprint(LimitWorkers)}, env, &out)
	lm.fill(&l)
	if err != nil {
		l.Error = err.Error()
		return []Row{w, l}
	}
	var lr LimitResult
	if err := json.Unmarshal(out.Bytes(), &lr); err != nil {
		l.Error = fmt.Sprintf("the limit's output %q: %v", strings.TrimSpace(out.String()), err)
		return []Row{w, l}
	}
	if lr.Events != w.Events {
		l.Error = fmt.Sprintf("the limit read %d events, but the simulator holds %d", lr.Events, w.Events)
	}
	l.Note = fmt.Sprintf("%d pages", lr.Pages)
	if l.WallSeconds > 0 && l.CPUSeconds > 0 {
		w.WallRatio = w.WallSeconds / l.WallSeconds
		w.CPURatio = w.CPUSeconds / l.CPUSeconds
	}
	return []Row{w, l}
}

// idle drains the idle tenants once, then times a second `run --once`
// that finds nothing new.
func (r *runner) idle(ctx context.Context, dir string, sz size) Row {
	row := Row{Scenario: fmt.Sprintf("idle %d", sz.idleTenants), Kind: "idle", Tenants: sz.idleTenants}
	r.progressf("%s: starting the simulator (%s latency a request)", row.Scenario, sz.idleLatency)
	s, err := startSim(ctx, r.o, dir, simSpec{tenants: sz.idleTenants, events: sz.idleEvents, latency: sz.idleLatency})
	if err != nil {
		row.Error = err.Error()
		return row
	}
	defer s.stop()
	env := s.env(dir, nil)
	c, err := s.counters(ctx)
	if err != nil {
		row.Error = err.Error()
		return row
	}
	_, drainWant, err := generated(c, env)
	if err != nil {
		row.Error = err.Error()
		return row
	}
	r.progressf("%s: a first run --once drains the backlog", row.Scenario)
	dm, err := r.measured(ctx, s, dir, "watcher-drain", []string{"run", "--once"}, env, nil)
	if err != nil {
		row.Error = "the first run: " + err.Error()
		return row
	}
	drained, err := countLines(env["PUAWATCH_JSONL"])
	if err != nil {
		row.Error = err.Error()
		return row
	}
	if drained != drainWant {
		row.Error = fmt.Sprintf("the first run wrote %d JSONL lines, but the simulator generated %d detections", drained, drainWant)
		return row
	}
	r.progressf("%s: the timed run --once, nothing new", row.Scenario)
	m, err := r.measured(ctx, s, dir, "watcher", []string{"run", "--once"}, env, nil)
	m.fill(&row)
	row.Note = fmt.Sprintf("%s latency a request; the first run (drain) took %.2fs", sz.idleLatency, dm.wall.Seconds())
	if err != nil {
		row.Error = err.Error()
		return row
	}
	total, err := countLines(env["PUAWATCH_JSONL"])
	if err != nil {
		row.Error = err.Error()
		return row
	}
	row.Detections = total - drained
	switch {
	case row.Detections != 0:
		row.Error = fmt.Sprintf("the second run wrote %d JSONL lines with nothing new", row.Detections)
	case row.RateLimited > 0:
		row.Error = fmt.Sprintf("%d requests were answered 429: the sweep must stay within the documented rate limits", row.RateLimited)
	}
	return row
}

// countLines counts the lines of the file at path (none if it does not
// exist), reading it in pieces: the bench's own memory is the floor of
// what the rusage of the children it starts shows (see peakRSS).
func countLines(path string) (int, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	n := 0
	for {
		k, err := f.Read(buf)
		n += bytes.Count(buf[:k], []byte("\n"))
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// percentile is the nearest-rank p-th percentile (0 < p <= 1) of sorted.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}
