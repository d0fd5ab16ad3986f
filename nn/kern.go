package nn

import "github.com/metasurv/metasurv/internal/parallel"

// pfor splits [0,n) over the worker pool when the work (n·cost) is large
// enough to pay for the hand-off, and runs inline otherwise.
func pfor(n, cost int, fn func(lo, hi int)) {
	if n*cost < 1<<15 || n < 2 {
		fn(0, n)
		return
	}
	parallel.For(n, fn)
}

// sgemm computes C = alpha·op(A)·op(B) + beta·C, row-major.
func sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	refGemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// refGemm is a portable row-parallel GEMM used until the SIMD kernel lands.
func refGemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	pfor(m, n*k, func(lo, hi int) {
		row := make([]float32, n)
		for i := lo; i < hi; i++ {
			clear(row)
			for p := 0; p < k; p++ {
				var av float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if av == 0 {
					continue
				}
				if transB {
					for j := range row {
						row[j] += av * b[j*ldb+p]
					}
				} else {
					bp := b[p*ldb : p*ldb+n]
					for j, bv := range bp {
						row[j] += av * bv
					}
				}
			}
			ci := c[i*ldc : i*ldc+n]
			if beta == 0 {
				for j := range ci {
					ci[j] = alpha * row[j]
				}
			} else {
				for j := range ci {
					ci[j] = beta*ci[j] + alpha*row[j]
				}
			}
		}
	})
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
