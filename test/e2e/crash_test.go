package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/config"
	"github.com/puawatch/puawatch/internal/fake/sim"
	"github.com/puawatch/puawatch/internal/fake/smtpcapture"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds cmd/puawatch once per test run.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "puawatch-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "puawatch")
		out, err := exec.Command("go", "build", "-o", binPath, "../../cmd/puawatch").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// TestCrashAnywhereLosesNothing is the crash harness. The watcher runs as
// a subprocess (the binary) against a partner of 12 tenants whose live
// stream keeps adding events during the whole run, sending by e-mail to a
// real SMTP server and by JSONL to a file; it is SIGKILLed at random
// moments and restarted each time. A restart is the daemon (`run`) killed
// after a random delay, or `run --once` killed after a random delay (or
// let finish, when it is faster: it must then exit 0), or the daemon
// killed inside the crash window: when the SMTP server holds the n-th mail
// of that process, before answering it. At the end the last daemon is
// stopped with SIGTERM (it must exit 0), the live stream is stopped, and a
// `run --once` must exit 0 with no row left unsent.
//
// Then, against the simulator's ground truth (every event it made, matched
// by package match as the watcher does), per channel: expected, delivered
// (mail: the event ids in each mail or digest; JSONL: one line per
// detection), lost (must be 0), duplicated (each duplicate must come under
// the key of its first delivery, the Message-ID or the JSONL key, with the
// same detections in the message; and at most one message per kill is
// sent again: the one in hand when the process died). It logs one line:
//
//	crash harness: kills=200 seed=... expected=N mail: delivered=N lost=0 dup=K (same Message-ID) jsonl: delivered=N lost=0 dup=J (same key)
//
// The short variant (the default, in CI) makes 12 kills. The long one is
// asked for by PUAWATCH_CRASH_KILLS; PUAWATCH_CRASH_SEED replays a kill
// schedule (the same choices and delays; the processes' own timing still
// varies):
//
//	PUAWATCH_CRASH_KILLS=200 go test -count=1 -v -timeout 30m -run TestCrashAnywhereLosesNothing ./test/e2e
func TestCrashAnywhereLosesNothing(t *testing.T) {
	kills := envInt(t, "PUAWATCH_CRASH_KILLS", 12)
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("PUAWATCH_CRASH_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("PUAWATCH_CRASH_SEED=%q: %v; set an unsigned integer, as a run logs it", v, err)
		}
	}
	t.Logf("crash harness: kills=%d seed=%d (PUAWATCH_CRASH_SEED=%d replays this schedule)", kills, seed, seed)
	rng := rand.New(rand.NewPCG(seed, 1))

	cfg := sim.DefaultConfig()
	cfg.Seed = 11
	cfg.Tenants = 12
	cfg.EventsPerTenant = 400
	cfg.Rate = 30 // live events a second, all tenants together
	cfg.TieShare = 0.3
	cfg.Faults = sim.Faults{Latency: sim.Duration(3 * time.Millisecond), ReplayRate: 0.2}
	c := newCrashRig(t, cfg)
	atStart := len(c.expected(t, nil))

	made := 0
	byMode := map[string]int{}
	for i := 0; made < kills; i++ {
		if i > 3*kills+10 {
			t.Fatalf("%d restarts made only %d of %d kills: the processes end by themselves", i, made, kills)
		}
		var mode string
		var delay time.Duration
		window := 0
		switch rng.IntN(4) {
		case 0:
			// Shorter: a --once without a backlog ends in well under a second.
			mode, delay = "once", time.Duration(10+rng.IntN(400))*time.Millisecond
		case 1:
			mode, delay, window = "window", 5*time.Second, 1+rng.IntN(4)
		default:
			mode, delay = "daemon", time.Duration(10+rng.IntN(1500))*time.Millisecond
		}
		args := []string{"run", "--config", c.conf}
		if mode == "once" {
			args = append(args, "--once")
		}
		p := c.start(t, args...)
		if window > 0 {
			c.hook.arm(p.cmd.Process, window)
		}
		killed := p.killAfter(delay)
		c.hook.disarm()
		switch {
		case killed:
			made++
			byMode[mode]++
		case mode == "once" && p.err == nil:
			// --once finished before its kill: it must have exited 0.
			byMode["once finished"]++
		default:
			t.Fatalf("restart %d (%s) ended by itself: %v\n%s", i, mode, p.err, p.stderr.String())
		}
	}

	// The end: the last daemon stops gracefully, the stream stops, and a
	// last --once sends what is due.
	p := c.start(t, "run", "--config", c.conf)
	time.Sleep(time.Duration(200+rng.IntN(800)) * time.Millisecond)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.wait(); err != nil {
		t.Fatalf("the daemon stopped by SIGTERM: %v, want exit 0\n%s", err, p.stderr.String())
	}
	c.sim.StopLive()
	p = c.start(t, "run", "--once", "--config", c.conf)
	if err := p.wait(); err != nil {
		t.Fatalf("the last run --once: %v, want exit 0\n%s", err, p.stderr.String())
	}
	if rows := c.pending(t); len(rows) > 0 {
		t.Fatalf("the last run --once exited 0 with %d outbox rows pending or dead (e.g. %+v)", len(rows), rows[0])
	}

	want := c.expected(t, nil)
	if len(want) <= atStart {
		t.Fatalf("%d detections at the end, %d at the start: the live stream made none", len(want), atStart)
	}
	var mails []delivery
	for _, m := range c.smtp.Messages() {
		ids := eventIDLine.FindAllStringSubmatch(m.Text, -1)
		if len(ids) == 0 {
			t.Errorf("mail %q (%s) carries no event id:\n%s", m.Subject, m.MessageID, m.Text)
		}
		d := delivery{key: m.MessageID}
		for _, id := range ids {
			d.ids = append(d.ids, id[1])
		}
		mails = append(mails, d)
	}
	mail := tally(t, "mail", "Message-ID", want, mails)
	lines := jsonlDeliveries(t, c.jsonl)
	jsonl := tally(t, "jsonl", "key", want, lines)
	// A kill leaves at most one send in its crash window per receiver: one
	// mail, and one JSONL write (the messages of a claim go out in one
	// write and one fsync, notify.BatchNotifier), which the next process
	// writes again. So the mails sent again, and the runs of JSONL
	// messages written again, are each at most one per kill.
	if mail.resent > made {
		t.Errorf("%d mails sent again after %d kills: at most one per kill is in the crash window", mail.resent, made)
	}
	if runs := resentRuns(lines); runs > made {
		t.Errorf("%d runs of JSONL messages written again (%d messages) after %d kills: at most one write per kill is in the crash window",
			runs, jsonl.resent, made)
	}
	t.Logf("kills: %d of the daemon, %d of run --once (%d more ran to the end), %d in the SMTP crash window; %d detections in the backlog, %d from the live stream",
		byMode["daemon"], byMode["once"], byMode["once finished"], byMode["window"], atStart, len(want)-atStart)
	t.Logf("crash harness: kills=%d seed=%d expected=%d mail: delivered=%d lost=%d %s jsonl: delivered=%d lost=%d %s",
		made, seed, len(want), mail.delivered, mail.lost, mail.dupText("Message-ID"), jsonl.delivered, jsonl.lost, jsonl.dupText("key"))
	if t.Failed() {
		t.Logf("replay the kill schedule with PUAWATCH_CRASH_SEED=%d PUAWATCH_CRASH_KILLS=%d", seed, kills)
	}
}

// crashRig is a rig whose SMTP server can kill the watcher while it holds
// a mail unanswered, with a JSONL file beside the mail.
type crashRig struct {
	*rig
	hook  *windowKill
	conf  string
	jsonl string
	env   []string
}

func newCrashRig(t *testing.T, cfg sim.Config) *crashRig {
	t.Helper()
	hook := &windowKill{}
	r := newRigWith(t, cfg, smtpcapture.Options{OnMessage: hook.onMessage})
	c := &crashRig{rig: r, hook: hook, conf: filepath.Join(r.dir, "puawatch.yaml"), jsonl: filepath.Join(r.dir, "detections.jsonl")}
	r.env["PUAWATCH_JSONL"] = c.jsonl
	// Client limits above what 12 tenants a second need: the harness is
	// about crashes, not throttling. The lease is the default: a killed
	// instance's claims are taken over, not waited out.
	yaml := "poll:\n  interval: 1s\n  page_limit: 50\n  workers: 4\n  limits:\n    per_second: 500\n    per_minute: 30000\n    minute_burst: 30000\n"
	if err := os.WriteFile(c.conf, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	loaded, err := config.Load(config.LoadOptions{Path: c.conf, Env: func(k string) string { return r.env[k] }})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	r.match = matcher(t, loaded)
	c.env = os.Environ()
	for k, v := range r.env {
		c.env = append(c.env, k+"="+v)
	}
	return c
}

// proc is one watcher process.
type proc struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	done   chan struct{}
	err    error // Wait's, once done is closed
}

func (c *crashRig) start(t *testing.T, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = c.env
	p := &proc{cmd: cmd, stderr: &bytes.Buffer{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	return p
}

// killAfter SIGKILLs the process after d unless it ended before, and
// tells whether SIGKILL ended it (the timer's or the SMTP hook's).
func (p *proc) killAfter(d time.Duration) bool {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-p.done:
	case <-tm.C:
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
	}
	ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// wait waits at most two minutes for the process to end by itself.
func (p *proc) wait() error {
	tm := time.NewTimer(2 * time.Minute)
	defer tm.Stop()
	select {
	case <-p.done:
		return p.err
	case <-tm.C:
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
		return errors.New("still running after 2 minutes (killed)")
	}
}

// windowKill kills a process when the SMTP server has taken the n-th mail
// since arm and not answered it yet: the crash window.
type windowKill struct {
	mu   sync.Mutex
	p    *os.Process
	left int
}

func (w *windowKill) arm(p *os.Process, n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.p, w.left = p, n
}

func (w *windowKill) disarm() { w.arm(nil, 0) }

func (w *windowKill) onMessage(smtpcapture.Message) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.p == nil {
		return
	}
	if w.left--; w.left == 0 {
		_ = w.p.Signal(syscall.SIGKILL)
		w.p = nil
	}
}

// delivery is one message as a receiver got it: its key and the
// detections it carried.
type delivery struct {
	key string
	ids []string
}

// jsonlDeliveries reads the JSONL file as deliveries: the lines of one
// message are written together, so a run of lines with the same key is
// one delivery, until an id comes again (the same message sent twice in
// a row).
func jsonlDeliveries(t *testing.T, path string) []delivery {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []delivery
	var seen map[string]bool
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		var line struct {
			ID  string `json:"id"`
			Key string `json:"key"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil || line.ID == "" || line.Key == "" {
			t.Errorf("%s:%d is not a detection line with an id and a key (%v): %.200s", path, n, err, sc.Text())
			continue
		}
		if len(out) == 0 || out[len(out)-1].key != line.Key || seen[line.ID] {
			out = append(out, delivery{key: line.Key})
			seen = map[string]bool{}
		}
		seen[line.ID] = true
		out[len(out)-1].ids = append(out[len(out)-1].ids, line.ID)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// resentRuns counts the runs of consecutive deliveries, in file order,
// whose key was delivered before: each run is one write done again.
func resentRuns(ds []delivery) int {
	seen := map[string]bool{}
	runs, in := 0, false
	for _, d := range ds {
		again := seen[d.key]
		seen[d.key] = true
		if again && !in {
			runs++
		}
		in = again
	}
	return runs
}

// channelTally is what one channel delivered of the expected detections.
type channelTally struct {
	delivered, lost, dup int // distinct expected detections delivered, missing ones, deliveries beyond the first
	resent               int // messages delivered again under their key
	otherKey             int // duplicates under another key than the first delivery's
}

// dupText is the duplicates' count and whether they came under the same
// key as their first delivery.
func (c channelTally) dupText(keyName string) string {
	if c.otherKey == 0 {
		return fmt.Sprintf("dup=%d (same %s)", c.dup, keyName)
	}
	return fmt.Sprintf("dup=%d (%d under another %s)", c.dup, c.otherKey, keyName)
}

// tally counts a channel's deliveries against want and reports, as test
// errors, a lost detection, one that is not expected, a duplicate under
// another key than its first delivery's, and a message sent again with
// other detections than the first time.
func tally(t *testing.T, channel, keyName string, want map[string]string, ds []delivery) channelTally {
	t.Helper()
	var c channelTally
	firstKey := map[string]string{} // detection id -> key of its first delivery
	rows := map[string][]string{}   // key -> the detections of its first delivery, sorted
	var extra, otherKey, otherRows []string
	for _, d := range ds {
		ids := slices.Sorted(slices.Values(d.ids))
		if prev, ok := rows[d.key]; ok {
			c.resent++
			if !slices.Equal(prev, ids) {
				otherRows = append(otherRows, fmt.Sprintf("%s %s: first %v, then %v", keyName, d.key, prev, ids))
			}
		} else {
			rows[d.key] = ids
		}
		for _, id := range d.ids {
			k, ok := firstKey[id]
			switch {
			case !ok:
				firstKey[id] = d.key
				if _, ok := want[id]; !ok {
					extra = append(extra, id)
				}
			case k != d.key:
				c.dup++
				otherKey = append(otherKey, fmt.Sprintf("%s under %s, first under %s", id, d.key, k))
			default:
				c.dup++
			}
		}
	}
	c.otherKey = len(otherKey)
	if len(otherKey) > 0 {
		t.Errorf("%s: %d detections delivered again under another %s than their first delivery's, a duplicate receivers cannot fold (e.g. %v)",
			channel, len(otherKey), keyName, first(otherKey))
	}
	if len(otherRows) > 0 {
		t.Errorf("%s: %d messages delivered again with other detections than the first time (e.g. %v)", channel, len(otherRows), first(otherRows))
	}
	var lost []string
	for id := range want {
		if _, ok := firstKey[id]; ok {
			c.delivered++
		} else {
			lost = append(lost, id)
		}
	}
	c.lost = len(lost)
	slices.Sort(lost)
	if len(lost) > 0 {
		t.Errorf("%s: %d of %d detections lost (e.g. %v)", channel, len(lost), len(want), first(lost))
	}
	if len(extra) > 0 {
		slices.Sort(extra)
		t.Errorf("%s: %d deliveries of events that are not detections of the simulator (e.g. %v)", channel, len(extra), first(extra))
	}
	return c
}

// envInt reads a positive integer from the environment, def when unset.
func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: set a whole number of 1 or more", name, v)
	}
	return n
}
