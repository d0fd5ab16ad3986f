package gemm

import (
	"unsafe"

	"github.com/metasurv/metasurv/internal/cpu"
)

// The portable kernel is 3×2: six accumulators plus five operands is what
// the Go compiler keeps in the 15 usable SSE registers on amd64 without
// spilling (a 4×4 tile spills every accumulator).
const genericMR, genericNR = 3, 2

func init() {
	blockings[cpu.Portable] = &blocking{
		level: cpu.Portable, mr: genericMR, nr: genericNR,
		mc: 3 * 64, kc: 256, nc: 2048,
		kern: kernelGeneric,
	}
}

func kernelGeneric(k int, ap, bp, cp *float32, ldc int, beta float32) {
	a := unsafe.Slice(ap, k*genericMR)
	b := unsafe.Slice(bp, k*genericNR)
	var c00, c01, c10, c11, c20, c21 float32
	for len(a) >= 3 && len(b) >= 2 {
		b0, b1 := b[0], b[1]
		a0, a1, a2 := a[0], a[1], a[2]
		c00 += a0 * b0
		c10 += a1 * b0
		c20 += a2 * b0
		c01 += a0 * b1
		c11 += a1 * b1
		c21 += a2 * b1
		a = a[3:]
		b = b[2:]
	}
	c := unsafe.Slice(cp, 2*ldc+2)
	if beta != 0 {
		c00 += beta * c[0]
		c01 += beta * c[1]
		c10 += beta * c[ldc]
		c11 += beta * c[ldc+1]
		c20 += beta * c[2*ldc]
		c21 += beta * c[2*ldc+1]
	}
	c[0], c[1] = c00, c01
	c[ldc], c[ldc+1] = c10, c11
	c[2*ldc], c[2*ldc+1] = c20, c21
}
