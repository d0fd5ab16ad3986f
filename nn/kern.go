package nn

import (
	"github.com/metasurv/metasurv/internal/gemm"
	"github.com/metasurv/metasurv/internal/parallel"
)

// pfor splits [0,n) over the worker pool when the work (n·cost) is large
// enough to pay for the hand-off, and runs inline otherwise.
func pfor(n, cost int, fn func(lo, hi int)) {
	if n*cost < 1<<15 || n < 2 {
		fn(0, n)
		return
	}
	parallel.For(n, fn)
}

// sgemm computes C = alpha·op(A)·op(B) + beta·C, row-major, with the
// SIMD kernels of internal/gemm.
func sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	gemm.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// addTo computes dst += src.
func addTo(dst, src []float32) {
	pfor(len(dst), 1, func(lo, hi int) {
		d, s := dst[lo:hi], src[lo:hi]
		for i := range d {
			d[i] += s[i]
		}
	})
}
