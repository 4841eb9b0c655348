//go:build !linux

package bench

// procHWM is unknown where there is no /proc.
func procHWM(string) (int64, bool) { return 0, false }
