package instance

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"
)

func TestIDAndGone(t *testing.T) {
	self := Current(time.Unix(0, 42))
	if self.Gone(self.ID()) {
		t.Errorf("this instance %s is gone", self.ID())
	}
	other := Current(time.Unix(0, 43)) // another instance of this process
	if self.Gone(other.ID()) || other.Gone(self.ID()) {
		t.Errorf("two instances of one process take each other for gone: %s, %s", self.ID(), other.ID())
	}
	if host, pid, _, ok := parse(self.ID()); !ok || host != self.host || pid != os.Getpid() {
		t.Errorf("parse(%s) = %q %d %v", self.ID(), host, pid, ok)
	}

	// A process that ended: its pid no longer runs.
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	deadPID := cmd.ProcessState.Pid()
	dead := fmt.Sprintf("%s/%d/%d/%d", self.host, deadPID, 12345, 1)
	if running(deadPID) {
		t.Skipf("pid %d was taken again at once", deadPID)
	}
	if !self.Gone(dead) {
		t.Errorf("an instance of an ended process (%s) is not gone", dead)
	}
	// A pid that no process can have (above the kernel's pid_max).
	if id := fmt.Sprintf("%s/%d/0/1", self.host, 1<<30); !self.Gone(id) {
		t.Errorf("an instance of a pid that does not exist (%s) is not gone", id)
	}

	// The parent runs: gone only when the id's start time is not its own.
	ppid := os.Getppid()
	if start, ok := startTime(ppid); ok {
		if id := fmt.Sprintf("%s/%d/%d/1", self.host, ppid, start); self.Gone(id) {
			t.Errorf("the running parent %s is gone", id)
		}
		if id := fmt.Sprintf("%s/%d/%d/1", self.host, ppid, start+1); !self.Gone(id) {
			t.Errorf("an instance whose pid a later process has (%s) is not gone", id)
		}
	}
	// This process's pid, another start time: an earlier process (pid 1
	// of a restarted container).
	if self.start != 0 {
		if id := fmt.Sprintf("%s/%d/%d/1", self.host, self.pid, self.start-1); !self.Gone(id) {
			t.Errorf("an earlier process with this pid (%s) is not gone", id)
		}
	}

	// Another host, or not an id of this form: never gone.
	for _, id := range []string{
		fmt.Sprintf("elsewhere.example/%d/0/1", 1<<30),
		"test", "", "first", "host-123-456", fmt.Sprintf("%s/x/0/1", self.host), fmt.Sprintf("%s/%d/0", self.host, 1<<30),
	} {
		if self.Gone(id) {
			t.Errorf("Gone(%q) = true, want false", id)
		}
	}
}

func TestStartTimeOfThisProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc on this system")
	}
	start, ok := startTime(os.Getpid())
	if !ok || start == 0 {
		t.Fatalf("startTime(self) = %d, %v", start, ok)
	}
}
