package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// usage is what a child process cost.
type usage struct {
	wall   time.Duration
	cpu    time.Duration // user + system
	maxRSS int64         // bytes
}

// child is a puawatch process the bench started.
type child struct {
	name       string // for errors: "watcher", "simulator", ...
	cmd        *exec.Cmd
	stderrPath string
	start      time.Time
	stopHWM    chan struct{} // ends the sampling of the child's VmHWM
	hwm        chan int64    // the last VmHWM sampled
}

// startChild starts binary with args and exactly env. Its stderr goes to
// stderrPath (a file, so that the bench pays nothing for the child's
// logging); stdout to stdout (nil: discarded). The context kills it.
func startChild(ctx context.Context, name, binary string, args, env []string, stderrPath string, stdout io.Writer) (*child, error) {
	errf, err := os.Create(stderrPath)
	if err != nil {
		return nil, err
	}
	defer errf.Close() // the child holds its own descriptor
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = env
	cmd.Stdout = stdout
	cmd.Stderr = errf
	cmd.WaitDelay = 5 * time.Second
	c := &child{name: name, cmd: cmd, stderrPath: stderrPath, start: time.Now(), stopHWM: make(chan struct{}), hwm: make(chan int64, 1)}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: start %s: %w", name, binary, err)
	}
	go c.sampleHWM()
	return c, nil
}

// sampleHWM reads the child's VmHWM every 50 ms until stopHWM is closed,
// then sends the last value read (0: none).
func (c *child) sampleHWM() {
	pid := fmt.Sprint(c.cmd.Process.Pid)
	var last int64
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		if v, ok := procHWM(pid); ok {
			last = v
		}
		select {
		case <-c.stopHWM:
			c.hwm <- last
			return
		case <-t.C:
		}
	}
}

// peakRSS is the child's peak resident set. The rusage of a child on
// Linux is no less than the parent's own peak when it started the child
// (the child runs in the parent's memory until exec, and exec keeps that
// memory's peak): so the rusage figure is the child's own when it is
// above this process's peak, and otherwise the child's VmHWM sampled
// from /proc while it ran is (at most 50 ms short of its end).
func (c *child) peakRSS(ps *os.ProcessState) int64 {
	close(c.stopHWM)
	sampled := <-c.hwm
	ru := rusageMaxRSS(ps)
	if self, ok := procHWM("self"); ok && ru <= self && sampled > 0 {
		return sampled
	}
	return ru
}

// wait waits for the child to end and returns what it cost; an exit
// status other than 0 is an error carrying the end of its stderr.
func (c *child) wait() (usage, error) {
	err := c.cmd.Wait()
	u := usage{wall: time.Since(c.start)}
	if ps := c.cmd.ProcessState; ps != nil {
		u.cpu = ps.UserTime() + ps.SystemTime()
		u.maxRSS = c.peakRSS(ps)
	}
	if err != nil {
		return u, fmt.Errorf("%s (%s): %w%s", c.name, strings.Join(c.cmd.Args[1:], " "), err, c.stderrTail())
	}
	return u, nil
}

// interrupt asks the child to stop as Ctrl-C does.
func (c *child) interrupt() error { return c.cmd.Process.Signal(os.Interrupt) }

// stderrTail is the last lines of the child's stderr, for an error.
func (c *child) stderrTail() string {
	b, err := os.ReadFile(c.stderrPath)
	if err != nil || len(bytes.TrimSpace(b)) == 0 {
		return ""
	}
	const keep = 2000
	if len(b) > keep {
		b = b[len(b)-keep:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return "; its stderr ends:\n" + string(bytes.TrimRight(b, "\n"))
}

// childEnv is environ without any PUAWATCH_* variable (so that the
// user's configuration does not leak into a measurement), plus set.
func childEnv(environ []string, set map[string]string) []string {
	var out []string
	for _, kv := range environ {
		if !strings.HasPrefix(kv, "PUAWATCH_") {
			out = append(out, kv)
		}
	}
	for k, v := range set {
		out = append(out, k+"="+v)
	}
	return out
}

// envLookup is a getenv over set only.
func envLookup(set map[string]string) func(string) string {
	return func(k string) string { return set[k] }
}
