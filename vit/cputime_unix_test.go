//go:build unix

package vit

import "syscall"

// processCPUSeconds is the user+system CPU time of the process, so that
// benchmarks can report speed per CPU-second, which stays meaningful when
// other processes share the cores.
func processCPUSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
