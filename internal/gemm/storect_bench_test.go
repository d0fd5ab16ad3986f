package gemm

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkStoreCT times the transposed store of the weights-stationary
// schemes with a bias epilogue: every 112-row band of a 216×2304 C (qkv).
func BenchmarkStoreCT(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 3))
	const m, n = 216, 2304
	ct := randSlice(r, (rowsABand+14)*m)
	c := make([]float32, m*n)
	ep := &Epilogue{Bias: randSlice(r, n)}
	for b.Loop() {
		for r0 := 0; r0+rowsABand <= n; r0 += rowsABand {
			storeCT(c, n, m, 1, ep, ct, m, r0, rowsABand)
		}
	}
}
