//go:build unix

package volume_test

import (
	"syscall"
	"time"
)

// processCPU returns the user+system CPU time of the test process, so that
// benchmarks on a shared machine can report CPU time per operation next to
// the wall time other processes inflate.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
