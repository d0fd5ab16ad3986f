package gemm

import (
	"math/rand/v2"
	"testing"

	"github.com/metasurv/metasurv/internal/cpu"
)

// BenchmarkPackA measures packing a 336×256 block of a row-major A (the
// transposing case), reported per packed float.
func BenchmarkPackA(b *testing.B) {
	for _, l := range cpu.Levels() {
		b.Run(l.String(), func(b *testing.B) {
			defer cpu.SetLevel(l)()
			r := rand.New(rand.NewPCG(1, 2))
			const m, k, lda = 336, 256, 1024
			a := randSlice(r, m*lda)
			dst := make([]float32, m*k)
			for b.Loop() {
				packA(dst, a, lda, false, 1, 0, 0, m, k, 14)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*m*k), "ns/float")
		})
	}
}

// BenchmarkPackATrans measures packing a 336×256 block of a transposed A
// (rows of a sliver contiguous, as for a convolution's W^T), per float.
func BenchmarkPackATrans(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	const m, k, lda = 336, 256, 1024
	a := randSlice(r, k*lda)
	dst := make([]float32, m*k)
	for b.Loop() {
		packA(dst, a, lda, true, 1, 0, 0, m, k, 14)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*m*k), "ns/float")
}
