//go:build !unix

package bench

import "os"

// peakRSS is unknown (0) where there is no getrusage.
func peakRSS(*os.ProcessState) int64 { return 0 }
