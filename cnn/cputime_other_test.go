//go:build !unix

package cnn_test

import "time"

// cpuTime is unavailable here; benchmarks then report 0 CPU seconds.
func cpuTime() time.Duration { return 0 }

// peakRSS is unavailable here; benchmarks then report 0.
func peakRSS() int64 { return 0 }
