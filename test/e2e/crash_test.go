package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/puawatch/puawatch/internal/fake/sim"
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

// TestCrashAnywhereLosesNothing kills the watcher process with SIGKILL at
// random points of its work (paging, committing, sending), restarts it, and
// checks that every PUA detection was mailed and that a detection mailed
// twice was mailed with the same Message-ID both times: the documented
// crash window between the SMTP server accepting a mail and the outbox row
// being marked sent, which mail systems fold by Message-ID.
func TestCrashAnywhereLosesNothing(t *testing.T) {
	bin := binary(t)
	cfg := sim.DefaultConfig()
	cfg.Seed = 11
	cfg.Tenants = 12
	cfg.EventsPerTenant = 400
	cfg.TieShare = 0.3
	cfg.Faults = sim.Faults{Latency: sim.Duration(3 * time.Millisecond), ReplayRate: 0.2}
	r := newRig(t, cfg)
	conf := filepath.Join(r.dir, "puawatch.yaml")
	yaml := "poll:\n  interval: 1s\n  page_limit: 25\n  workers: 3\nnotify:\n  lease: 1s\n  backoff_base: 1s\n  backoff_max: 2s\n"
	if err := os.WriteFile(conf, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	env := os.Environ()
	for k, v := range r.env {
		env = append(env, k+"="+v)
	}
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 1))
	t.Logf("kill schedule seed %d", seed)

	kills := 0
	for i := 0; i < 15; i++ {
		cmd := exec.Command(bin, "run", "--config", conf)
		cmd.Env = env
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(50+rng.IntN(700)) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			kills++
		} else {
			t.Fatalf("run %d ended before the kill: %v\n%s", i, err, stderr.String())
		}
	}

	// A last run to the end: --once reads every tenant and sends what is due.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for attempt := 0; ; attempt++ {
		time.Sleep(1100 * time.Millisecond) // claims of the killed process lapse
		cmd := exec.CommandContext(ctx, bin, "run", "--once", "--config", conf)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err == nil && len(r.pending(t)) == 0 {
			break
		}
		if attempt > 5 {
			t.Fatalf("final run: %v\n%s", err, out)
		}
	}

	want := r.expected(t, nil)
	got, msgIDs := r.delivered(t)
	missing, extra := diff(want, got)
	if len(missing) > 0 || len(extra) > 0 {
		t.Fatalf("after %d kills: %d of %d detections missing (e.g. %v), %d extra (e.g. %v)",
			kills, len(missing), len(want), first(missing), len(extra), first(extra))
	}
	dups := 0
	for id, n := range got {
		if n > 1 {
			dups += n - 1
			if len(msgIDs[id]) != 1 {
				t.Errorf("detection %s was mailed %d times with different Message-IDs %v: outside the crash window", id, n, msgIDs[id])
			}
		}
	}
	// A kill in the crash window resends the message in hand (a mail, or a
	// digest of several detections) once, under the same Message-ID.
	perID := map[string]int{}
	resent := 0
	for _, m := range r.smtp.Messages() {
		if perID[m.MessageID]++; perID[m.MessageID] > 1 {
			resent++
		}
	}
	if resent > kills {
		t.Errorf("%d mails sent again after %d kills: at most one per kill is in the crash window", resent, kills)
	}
	t.Logf("%d kills, %d detections in %d mails, all delivered; %d mails sent again (%d detections), each with the same Message-ID",
		kills, len(want), len(r.smtp.Messages()), resent, dups)
}
