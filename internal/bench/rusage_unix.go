//go:build unix

package bench

import (
	"os"
	"runtime"
	"syscall"
)

// rusageMaxRSS is the child's largest resident set (getrusage's ru_maxrss),
// in bytes: Linux and the BSDs count it in KiB, Darwin in bytes.
func rusageMaxRSS(ps *os.ProcessState) int64 {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0
	}
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		return int64(ru.Maxrss)
	}
	return int64(ru.Maxrss) * 1024
}
