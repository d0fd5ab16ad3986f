package gemm

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/metasurv/metasurv/internal/cpu"
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

// TestSgemmSerialInPlaceA checks the in-place-A scheme of SgemmSerial bit
// for bit against Sgemm (the blocked scheme): attention's shapes, ragged
// rows (not a multiple of 7) and columns (below, at and above the 24-wide
// tail), several k blocks, padded strides, powers of two for alpha (folded
// into B) and a C full of NaN (beta 0 must not read it). It also checks
// that the scheme is taken, and not for an alpha that is no power of two.
func TestSgemmSerialInPlaceA(t *testing.T) {
	bl := blockingFor(cpu.Current())
	if bl.rowsA == nil || !avx512Asm() {
		t.Skip("no rowsA kernel at this level")
	}
	r := rand.New(rand.NewPCG(32, 0))
	shapes := []struct {
		tb      bool
		m, n, k int
		alpha   float32
	}{
		{true, 216, 216, 64, 0.125}, // Q·Kᵀ of a 64-wide head
		{false, 216, 64, 216, 1},    // P·V
		{true, 30, 24, 1, 1},
		{true, 40, 25, 3, -2},
		{false, 27, 31, 300, 1},
		{true, 300, 33, 513, 0.5},
		{false, 8, 100, 257, 1},
		{true, 50, 5, 64, 0.25},
		{false, 216, 96, 216, 1},
	}
	for it, s := range shapes {
		pad := it % 3 * 5
		lda, ldb, ldc := s.k+pad, s.n+pad, s.n+2*pad
		if s.tb {
			ldb = s.k + pad
		}
		a, b := randSlice(r, s.m*lda), randSlice(r, max(s.k, s.n)*ldb)
		nan := make([]float32, s.m*ldc)
		for i := range nan {
			nan[i] = float32(math.NaN())
		}
		op := operands{transB: s.tb, m: s.m, n: s.n, k: s.k, alpha: s.alpha, beta: 0}
		if !op.inPlaceA(bl) {
			t.Fatalf("%+v: the in-place-A scheme was not taken", s)
		}
		if op.alpha = 0.7; op.inPlaceA(bl) {
			t.Fatalf("%+v: taken for alpha 0.7", s)
		}
		want := append([]float32(nil), nan...)
		Sgemm(false, s.tb, s.m, s.n, s.k, s.alpha, a, lda, b, ldb, 0, want, ldc)
		got := append([]float32(nil), nan...)
		SgemmSerial(false, s.tb, s.m, s.n, s.k, s.alpha, a, lda, b, ldb, 0, got, ldc)
		for e := range want {
			if math.Float32bits(got[e]) != math.Float32bits(want[e]) {
				t.Fatalf("%+v: C[%d] = %v, Sgemm %v", s, e, got[e], want[e])
			}
		}
	}
}
