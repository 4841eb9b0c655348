//go:build !unix

package bench

import "os"

// rusageMaxRSS is unknown (0) where there is no getrusage.
func rusageMaxRSS(*os.ProcessState) int64 { return 0 }
