//go:build unix

package ops

import (
	"syscall"
	"time"
)

// cpuTime is the user+system CPU time of the whole process so far, so that
// benchmarks can report speed per core-second when other work shares the
// machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
