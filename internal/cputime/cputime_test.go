package cputime

import (
	"testing"
	"time"
)

// CPU time grows while the process computes, and the peak RSS covers an
// allocation that was touched.
func TestNowAndPeakRSS(t *testing.T) {
	if !Supported() {
		t.Skip("no getrusage here")
	}
	c0 := Now()
	x := 1.0
	for start := time.Now(); time.Since(start) < 50*time.Millisecond; {
		for i := 0; i < 1000; i++ {
			x = x*1.0000001 + 1e-9
		}
	}
	if c := Now() - c0; c <= 0 {
		t.Fatalf("CPU time did not grow while computing (%v, x=%v)", c, x)
	}
	buf := make([]byte, 64<<20)
	for i := 0; i < len(buf); i += 4096 {
		buf[i] = 1
	}
	if p := PeakRSS(); p < int64(len(buf)) {
		t.Fatalf("peak RSS %d bytes after touching %d", p, len(buf))
	}
	_ = buf[len(buf)-1]
}
