//go:build unix

package nn_test

import (
	"syscall"
	"time"
)

// cpuTime is the user+system CPU time of the process so far: benchmarks
// report it per operation because wall time is meaningless while other
// work shares the machine's two cores.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
