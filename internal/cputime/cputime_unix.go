//go:build unix

package cputime

import (
	"runtime"
	"syscall"
	"time"
)

// Supported reports whether Now and PeakRSS measure anything here.
func Supported() bool { return true }

// Now is the user+system CPU time the process has used so far (all
// threads); the difference of two calls is the CPU time in between.
func Now() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// PeakRSS is the process's peak resident set size in bytes (getrusage's
// ru_maxrss: kilobytes on Linux, bytes on Darwin), the number
// /usr/bin/time -v reports.
func PeakRSS() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	if runtime.GOOS == "darwin" {
		return int64(ru.Maxrss)
	}
	return int64(ru.Maxrss) * 1024
}
