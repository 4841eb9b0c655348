package bench

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// procHWM is the VmHWM (peak resident set) of process pid ("self" for
// this one) from /proc, in bytes; false when it cannot be read (the
// process has ended).
func procHWM(pid string) (int64, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%s/status", pid))
	if err != nil {
		return 0, false
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte("VmHWM:")); ok {
			kb, err := strconv.ParseInt(string(bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(v), []byte("kB")))), 10, 64)
			return kb * 1024, err == nil
		}
	}
	return 0, false
}
