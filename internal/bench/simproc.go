package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/puawatch/puawatch/internal/central"
	"github.com/puawatch/puawatch/internal/fake/sim"
)

// simSpec is what one scenario's simulator holds.
type simSpec struct {
	tenants, events int
	rate            float64       // live events a second over all tenants
	latency         time.Duration // --fault-latency
}

func (s simSpec) args() []string {
	a := []string{"sim", "--banner", "json", "--addr", "127.0.0.1:0",
		"--tenants", strconv.Itoa(s.tenants), "--events-per-tenant", strconv.Itoa(s.events),
		"--hostile-share", "0", "--late-share", "0",
		"--rate", strconv.FormatFloat(s.rate, 'g', -1, 64)}
	if s.latency > 0 {
		a = append(a, "--fault-latency", s.latency.String())
	}
	return a
}

// simProc is a `puawatch sim` child process.
type simProc struct {
	*child
	ready   sim.Ready
	partner sim.Credential
	hc      *http.Client
	exited  chan struct{} // closed when the process has ended
	exitErr error         // set before exited is closed
}

// startSim starts the simulator and waits for its ready line (its stdout
// goes to a file, read until the line is whole) and its credentials.
func startSim(ctx context.Context, o Options, dir string, spec simSpec) (*simProc, error) {
	outPath := filepath.Join(dir, "sim.stdout")
	out, err := os.Create(outPath)
	if err != nil {
		return nil, err
	}
	defer out.Close()
	c, err := startChild(ctx, "simulator", o.Binary, spec.args(), childEnv(o.Environ, nil), filepath.Join(dir, "sim.stderr"), out)
	if err != nil {
		return nil, err
	}
	sp := &simProc{child: c, hc: &http.Client{Timeout: 30 * time.Second}, exited: make(chan struct{})}
	go func() {
		_, sp.exitErr = c.wait()
		close(sp.exited)
	}()
	deadline := time.NewTimer(2 * time.Minute) // a safety net for a simulator that never serves
	defer deadline.Stop()
	for {
		b, _ := os.ReadFile(outPath)
		if line, _, ok := strings.Cut(string(b), "\n"); ok {
			if err := json.Unmarshal([]byte(line), &sp.ready); err != nil {
				sp.stop()
				return nil, fmt.Errorf("simulator: ready line %q: %w", line, err)
			}
			break
		}
		select {
		case <-sp.exited:
			return nil, fmt.Errorf("simulator (%s) ended before printing its ready line: %v", strings.Join(spec.args(), " "), sp.exitErr)
		case <-deadline.C:
			sp.stop()
			return nil, fmt.Errorf("simulator (%s): no ready line within 2 minutes", strings.Join(spec.args(), " "))
		case <-ctx.Done():
			sp.stop()
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	var creds struct {
		Credentials []sim.Credential `json:"credentials"`
	}
	if err := sp.control(ctx, http.MethodGet, "credentials", &creds); err != nil {
		sp.stop()
		return nil, err
	}
	for _, cr := range creds.Credentials {
		if cr.IDType == "partner" {
			sp.partner = cr
		}
	}
	if sp.partner.ClientID == "" {
		sp.stop()
		return nil, fmt.Errorf("simulator: the control API lists no partner credential")
	}
	return sp, nil
}

// stop interrupts the simulator and waits for it; after 10 s it is
// killed.
func (s *simProc) stop() {
	_ = s.interrupt()
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// control calls the control API (path under /sim/v1/) and decodes its
// answer into out.
func (s *simProc) control(ctx context.Context, method, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, s.ready.ControlURL+path, nil)
	if err != nil {
		return err
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return fmt.Errorf("simulator control API %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 500))
		return fmt.Errorf("simulator control API %s %s: %s: %s", method, path, resp.Status, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("simulator control API %s %s: %w", method, path, err)
	}
	return nil
}

func (s *simProc) counters(ctx context.Context) (sim.Counters, error) {
	var c sim.Counters
	err := s.control(ctx, http.MethodGet, "counters", &c)
	return c, err
}

// env is the environment that points puawatch at the simulator with the
// partner credential, a store and a JSONL file in dir, plus extra.
func (s *simProc) env(dir string, extra map[string]string) map[string]string {
	m := map[string]string{
		"PUAWATCH_CLIENT_ID":     s.partner.ClientID,
		"PUAWATCH_CLIENT_SECRET": s.partner.ClientSecret,
		"PUAWATCH_AUTH_URL":      s.ready.TokenURL,
		"PUAWATCH_API_URL":       s.ready.GlobalURL,
		"PUAWATCH_DB":            filepath.Join(dir, "puawatch.db"),
		"PUAWATCH_JSONL":         filepath.Join(dir, "detections.jsonl"),
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// apiCalls is the number of Sophos API requests the counters show (the
// control API is not counted), and the 429s among them.
func apiCalls(c sim.Counters) (calls, limited int64) {
	for _, n := range c.Requests {
		calls += n
	}
	return calls, c.Stats["rate_limited"]
}

// generated is how many events the counters show, and how many of them
// the watcher configured by env reports. The counters give each event's
// type only, which is all the default matcher looks at (env sets no
// match.groups nor match.severities).
func generated(c sim.Counters, env map[string]string) (events, detections int, err error) {
	m, err := matcherOf(env)
	if err != nil {
		return 0, 0, err
	}
	for _, byType := range c.Events {
		for typ, n := range byType {
			events += n
			if _, ok := m.Match(central.Event{Type: typ}); ok {
				detections += n
			}
		}
	}
	return events, detections, nil
}
