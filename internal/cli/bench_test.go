package cli

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/bench"
	"github.com/puawatch/puawatch/internal/central"
	"github.com/puawatch/puawatch/internal/config"
	"github.com/puawatch/puawatch/internal/fake/sim"
)

// builtBench builds cmd/puawatch: the bench re-runs its binary as
// simulator, watcher and limit, and the test binary is not puawatch.
func builtBench(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "puawatch")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/puawatch").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runBench runs `puawatch bench args...` in-process with the built binary.
// The timeout is a safety net for a hung child, not a timing assertion.
func runBench(t *testing.T, args ...string) cmdResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var stdout, stderr lockedBuffer
	args = append([]string{"bench", "--binary", builtBench(t), "--temp-dir", t.TempDir()}, args...)
	code := Main(ctx, args, strings.NewReader(""), &stdout, &stderr)
	return cmdResult{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// tinyBacklogDetections is what a simulator made as the tiny backlog's is
// (puawatch sim --tenants 3 --events-per-tenant 200 --hostile-share 0
// --late-share 0 --rate 0: the same seed, so the same events) holds that
// the default configuration's matcher reports: counted here, in-process,
// without the bench.
func tinyBacklogDetections(t *testing.T) int {
	t.Helper()
	cfg := sim.DefaultConfig()
	cfg.Tenants, cfg.EventsPerTenant, cfg.HostileShare, cfg.LateShare, cfg.Rate = 3, 200, 0, 0, 0
	s := sim.New(cfg)
	m, err := config.Default().Match.Matcher()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ti := range s.Tenants() {
		evs, err := s.Events(ti.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if _, ok := m.Match(central.Event{Type: e.Type, Group: e.Group, Severity: e.Severity}); ok {
				n++
			}
		}
	}
	return n
}

// TestBenchTiny: `puawatch bench --scale tiny --format json` runs every
// scenario and exits 0; each row's detections are what the simulator
// generated (the backlog's counted here independently), the limit row is
// beside the backlog row and read the same events, the backlog row has its
// ratio to the limit, the idle sweep met no 429, and the live row has its
// latency percentiles. No figure of time is compared with anything.
func TestBenchTiny(t *testing.T) {
	r := runBench(t, "--scale", "tiny", "--format", "json")
	if r.code != ExitOK {
		t.Fatalf("bench --scale tiny: %s", r)
	}
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	var rep bench.Report
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("--format json is not a bench.Report: %v\n%s", err, r.stdout)
	}
	rows := map[string]bench.Row{}
	var order []string
	for _, row := range rep.Rows {
		if _, dup := rows[row.Kind]; dup {
			t.Errorf("two %s rows at the tiny scale", row.Kind)
		}
		rows[row.Kind] = row
		order = append(order, row.Kind)
		if row.Error != "" {
			t.Errorf("row %s failed: %s", row.Scenario, row.Error)
		}
		if row.WallSeconds <= 0 || row.CPUSeconds <= 0 || row.PeakRSSBytes <= 0 || row.APICalls <= 0 {
			t.Errorf("row %s lacks a measurement: %+v", row.Scenario, row)
		}
	}
	if got := strings.Join(order, ","); got != "backlog,limit,idle,live" {
		t.Fatalf("rows %s, want backlog,limit,idle,live\n%s", got, r.stdout)
	}
	b, l, idle, live := rows["backlog"], rows["limit"], rows["idle"], rows["live"]
	want := tinyBacklogDetections(t)
	if want == 0 {
		t.Fatal("the tiny backlog holds no detection: the test proves nothing")
	}
	if b.Scenario != "backlog 3x200" || b.Tenants != 3 || b.Events != 600 || b.Detections != want || b.Expected != want {
		t.Errorf("backlog row %+v: want 3 tenants, 600 events and %d detections (the simulator's)", b, want)
	}
	if l.Scenario != "limit 3x200" || l.Tenants != 3 || l.Events != 600 {
		t.Errorf("limit row %+v: want the backlog's 3 tenants and 600 events", l)
	}
	if b.WallRatio <= 0 || b.CPURatio <= 0 {
		t.Errorf("backlog row has no ratio to the limit: %+v", b)
	}
	if b.Goroutines != 0 {
		t.Errorf("backlog row (run --once, no /metrics) reports %d goroutines", b.Goroutines)
	}
	if idle.Tenants != 20 || idle.Detections != 0 || idle.Expected != 0 || idle.RateLimited != 0 {
		t.Errorf("idle row %+v: want 20 tenants, nothing new, no 429", idle)
	}
	if live.Tenants != 3 || live.Expected == 0 || live.Detections != live.Expected {
		t.Errorf("live row %+v: want 3 tenants and every streamed detection written", live)
	}
	if live.LatencyP50 == 0 || live.LatencyP99 == 0 || live.Goroutines == 0 {
		t.Errorf("live row lacks its latency percentiles or goroutines: %+v", live)
	}
}

// TestBenchTable: the text format is one table with a header and the
// backlog and limit rows beside each other, the ratio in the backlog's.
func TestBenchTable(t *testing.T) {
	r := runBench(t, "--scale", "tiny", "--scenarios", "backlog")
	if r.code != ExitOK {
		t.Fatalf("bench --scenarios backlog: %s", r)
	}
	lines := strings.Split(r.stdout, "\n")
	if len(lines) < 3 || !strings.HasPrefix(lines[0], "SCENARIO") || !strings.Contains(lines[0], "VS LIMIT") {
		t.Fatalf("no table header:\n%s", r.stdout)
	}
	if !strings.HasPrefix(lines[1], "backlog 3x200 ") || !strings.Contains(lines[1], "x wall") {
		t.Errorf("line 2 is not the backlog row with its ratio: %q", lines[1])
	}
	if !strings.HasPrefix(lines[2], "limit 3x200 ") {
		t.Errorf("line 3 is not the limit row: %q", lines[2])
	}
	if !strings.Contains(r.stderr, "bench: backlog 3x200: puawatch run --once") {
		t.Errorf("no progress line on stderr:\n%s", r.stderr)
	}
}

// TestBenchFailure: a scenario that cannot run makes the bench exit 1 and
// name it, the table printed all the same.
func TestBenchFailure(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr lockedBuffer
	code := Main(ctx, []string{"bench", "--binary", "/bin/false", "--scale", "tiny", "--scenarios", "idle,backlog"}, strings.NewReader(""), &stdout, &stderr)
	if code != ExitFailure {
		t.Fatalf("bench with a binary that fails exited %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	for _, s := range []string{"idle 20", "backlog 3x200"} {
		if !strings.Contains(stderr.String(), s) || !strings.Contains(stdout.String(), "FAILED "+s+": simulator") {
			t.Errorf("scenario %q not named as failed\nstdout:\n%s\nstderr:\n%s", s, stdout.String(), stderr.String())
		}
	}
}

// TestBenchUsage: a bad flag exits 2 and names the flag, the value and
// what is accepted, before anything runs.
func TestBenchUsage(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		mention []string
	}{
		{[]string{"--scale", "huge"}, []string{"--scale", `"huge"`, "tiny, small, full"}},
		{[]string{"--scenarios", "backlog,nope"}, []string{"--scenarios", `"nope"`, "backlog, idle, live"}},
		{[]string{"--scenarios", "idle,idle"}, []string{"--scenarios", `"idle"`, "twice"}},
		{[]string{"--format", "xml"}, []string{"--format", `"xml"`, "text or json"}},
		{[]string{"limit", "--workers", "0"}, []string{"--workers 0", "1 or more"}},
	} {
		r := runCLI(t, nil, "", append([]string{"bench"}, tc.args...)...)
		if r.code != ExitUsage {
			t.Errorf("bench %v: %s; want exit 2", tc.args, r)
		}
		for _, m := range tc.mention {
			if !strings.Contains(r.stderr, m) {
				t.Errorf("bench %v: stderr %q does not mention %q", tc.args, r.stderr, m)
			}
		}
		if strings.Contains(r.stderr, "bench: ") && strings.Contains(r.stderr, "starting") {
			t.Errorf("bench %v started a scenario", tc.args)
		}
	}
}
