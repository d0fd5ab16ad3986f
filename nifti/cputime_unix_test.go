//go:build unix

package nifti

import (
	"syscall"
	"time"
)

// processCPU returns the user+system CPU time of the process, to report
// CPU cost next to wall time when the machine is shared.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
