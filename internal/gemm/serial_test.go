package gemm

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/metasurv/metasurv/internal/parallel"
)

// TestSgemmSerialMatchesSgemm: SgemmSerial gives Sgemm's bits on the pool
// for the blocked schemes (items and shared) and the weights-stationary
// one, odd sizes included, alpha and beta general, and also when called
// from inside the pool's workers (as attention does).
func TestSgemmSerialMatchesSgemm(t *testing.T) {
	defer parallel.SetMaxWorkers(2)()
	r := rand.New(rand.NewPCG(31, 0))
	shapes := []struct {
		ta, tb  bool
		m, n, k int
		beta    float32
	}{
		{false, true, 216, 216, 64, 0},   // attention's Q·Kᵀ (blocked, parallel size)
		{false, false, 216, 64, 216, 0},  // attention's P·V
		{true, false, 216, 64, 216, 0.5}, // a backward product
		{false, true, 216, 2000, 700, 0}, // weights-stationary
		{false, true, 37, 301, 1500, 0},  // weights-stationary, odd, k blocks
		{false, false, 513, 129, 257, 1},
		{true, true, 5, 7, 3, 0},
	}
	for _, s := range shapes {
		lda, ldb := s.k, s.n
		if s.ta {
			lda = s.m
		}
		if s.tb {
			ldb = s.k
		}
		a, b := randSlice(r, s.m*s.k), randSlice(r, s.k*s.n)
		c0 := randSlice(r, s.m*s.n)
		want := append([]float32(nil), c0...)
		Sgemm(s.ta, s.tb, s.m, s.n, s.k, 0.7, a, lda, b, ldb, s.beta, want, s.n)
		got := make([][]float32, 2)
		parallel.For(2, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				got[i] = append([]float32(nil), c0...)
				SgemmSerial(s.ta, s.tb, s.m, s.n, s.k, 0.7, a, lda, b, ldb, s.beta, got[i], s.n)
			}
		})
		for i, g := range got {
			for e := range want {
				if math.Float32bits(g[e]) != math.Float32bits(want[e]) {
					t.Fatalf("%+v worker %d: C[%d] = %v, Sgemm %v", s, i, e, g[e], want[e])
				}
			}
		}
	}
}
