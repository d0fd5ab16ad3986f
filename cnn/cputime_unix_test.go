//go:build unix

package cnn_test

import (
	"runtime"
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

// peakRSS is the process's peak resident set size in bytes (getrusage's
// ru_maxrss: kilobytes on Linux, bytes on Darwin), the number
// /usr/bin/time -v reports.
func peakRSS() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	if runtime.GOOS == "darwin" {
		return int64(ru.Maxrss)
	}
	return int64(ru.Maxrss) * 1024
}
