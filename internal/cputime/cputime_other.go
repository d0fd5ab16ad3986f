//go:build !unix

package cputime

import "time"

// Supported reports whether Now and PeakRSS measure anything here.
func Supported() bool { return false }

// Now is unavailable here and returns 0.
func Now() time.Duration { return 0 }

// PeakRSS is unavailable here and returns 0.
func PeakRSS() int64 { return 0 }
