// Package instance names a running puawatch in outbox claims, and tells
// whether the instance behind such a name has ended, so that its claims
// can be taken over at once instead of waiting for their lease.
//
// An id is "host/pid/start/serial": the host name, the process id, the
// process's start time as the kernel counts it (Linux: clock ticks since
// boot, /proc/<pid>/stat; 0 where it cannot be read) and a serial that
// keeps two instances of one process apart. An instance is gone when its
// id names this host and its process no longer runs: no process has the
// pid, or the process that has it started at another time (the pid was
// reused, or this very process took it over, as pid 1 in a restarted
// container). Ids of other hosts, or not of this form, are never gone:
// their claims only lapse. The host name must therefore name one process
// namespace: containers sharing a host name and not their pids would take
// each other for gone.
package instance

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Instance is this process as claims name it.
type Instance struct {
	host   string
	pid    int
	start  uint64 // kernel start time of the process; 0 unknown
	serial int64
}

// Current returns this process's Instance; now makes its id unique among
// the instances of the process.
func Current(now time.Time) Instance {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	pid := os.Getpid()
	start, _ := startTime(pid)
	return Instance{host: strings.ReplaceAll(host, "/", "_"), pid: pid, start: start, serial: now.UnixNano()}
}

// ID returns the name this instance claims outbox rows under.
func (i Instance) ID() string { return fmt.Sprintf("%s/%d/%d/%d", i.host, i.pid, i.start, i.serial) }

// Gone reports whether the instance named id ran on this host and its
// process has ended (see the package comment). It never reports this
// instance gone, nor an id it cannot read.
func (i Instance) Gone(id string) bool {
	host, pid, start, ok := parse(id)
	if !ok || host != i.host || id == i.ID() {
		return false
	}
	if pid == i.pid {
		// This process has the pid: the id is of another instance of this
		// process (alive) unless it started at another time.
		return start != 0 && i.start != 0 && start != i.start
	}
	if !running(pid) {
		return true
	}
	now, ok := startTime(pid)
	return ok && start != 0 && now != start
}

// parse splits an id of the form host/pid/start/serial.
func parse(id string) (host string, pid int, start uint64, ok bool) {
	parts := strings.Split(id, "/")
	if len(parts) != 4 || parts[0] == "" {
		return "", 0, 0, false
	}
	pid, err := strconv.Atoi(parts[1])
	if err != nil || pid <= 0 {
		return "", 0, 0, false
	}
	start, err = strconv.ParseUint(parts[2], 10, 64)
	if err != nil {
		return "", 0, 0, false
	}
	if _, err := strconv.ParseInt(parts[3], 10, 64); err != nil {
		return "", 0, 0, false
	}
	return parts[0], pid, start, true
}

// running reports whether a process has pid. A process that exists but
// may not be signalled (another user's) runs; so does one whose state
// cannot be told.
func running(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return !errors.Is(err, os.ErrProcessDone)
	}
	err = p.Signal(syscall.Signal(0))
	return !errors.Is(err, os.ErrProcessDone) && !errors.Is(err, syscall.ESRCH)
}

// startTime returns when the process pid started, in the kernel's clock
// ticks since boot (field 22 of /proc/<pid>/stat), where it can be read.
func startTime(pid int) (uint64, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// The command name (field 2) is in parentheses and may hold spaces
	// and parentheses: the fields after it start past the last ')'.
	s := string(b)
	end := strings.LastIndexByte(s, ')')
	if end < 0 {
		return 0, false
	}
	fields := strings.Fields(s[end+1:])
	const startField = 22 - 3 // fields[0] is field 3 (state)
	if len(fields) <= startField {
		return 0, false
	}
	v, err := strconv.ParseUint(fields[startField], 10, 64)
	if err != nil {
		return 0, false
	}
	return v, true
}
