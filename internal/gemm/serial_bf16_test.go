package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/metasurv/metasurv/internal/parallel"
)

// TestSgemmBF16Serial: SgemmBF16Serial against the float64 reference on
// bfloat16-rounded operands (odd sizes, every transpose, alpha, beta)
// and bit for bit against SgemmBF16 on the pool where SgemmBF16 runs the
// blocked scheme too (attention's Q·Kᵀ and P·V shapes among them), also
// called from inside the pool's workers, as attention does.
func TestSgemmBF16Serial(t *testing.T) {
	needBF16(t)
	defer parallel.SetMaxWorkers(2)()
	r := rand.New(rand.NewPCG(41, 3))
	for _, s := range []struct {
		ta, tb      bool
		m, n, k     int
		alpha, beta float32
	}{
		{false, true, 216, 216, 64, 1, 0},  // Q·Kᵀ
		{false, false, 216, 64, 216, 1, 0}, // P·V
		{false, true, 37, 29, 97, 1, 0},
		{false, true, 70, 96, 160, 0.5, 1},
		{true, false, 45, 33, 70, 1, 0.5},
		{true, true, 5, 7, 3, 2, 0},
		{false, false, 1, 200, 3, 1, 0},
	} {
		t.Run(fmt.Sprintf("%v%v_%dx%dx%d", s.ta, s.tb, s.m, s.n, s.k), func(t *testing.T) {
			lda, ldb, ldc := s.k+3, s.n+1, s.n+2
			if s.ta {
				lda = s.m + 3
			}
			if s.tb {
				ldb = s.k + 1
			}
			a, b := randSlice(r, max(s.m, s.k)*lda), randSlice(r, max(s.n, s.k)*ldb)
			c0 := randSlice(r, s.m*ldc)
			got := append([]float32(nil), c0...)
			SgemmBF16Serial(s.ta, s.tb, s.m, s.n, s.k, s.alpha, a, lda, b, ldb, s.beta, got, ldc)
			// the reference wants dense operands: copy them out
			ad, bd := dense(s.ta, s.m, s.k, a, lda), dense(s.tb, s.k, s.n, b, ldb)
			cd := make([]float32, s.m*s.n)
			for i := range s.m {
				copy(cd[i*s.n:(i+1)*s.n], c0[i*ldc:])
			}
			want, scale := bf16Plain(s.m, s.n, s.k, s.alpha, ad, bd, s.beta, cd)
			for i := range s.m {
				for j := range s.n {
					w, g := want[i*s.n+j], float64(got[i*ldc+j])
					if d := math.Abs(g - w); d > 1e-5*max(scale[i*s.n+j], 1e-30) {
						t.Fatalf("C[%d,%d] = %g, want %g", i, j, g, w)
					}
				}
				for j := s.n; j < ldc && i*ldc+j < len(got); j++ {
					if math.Float32bits(got[i*ldc+j]) != math.Float32bits(c0[i*ldc+j]) {
						t.Fatalf("C[%d,%d] beyond n written", i, j)
					}
				}
			}
			if useRowsABF16(s.ta, s.tb, s.m, s.n, s.beta) {
				return
			}
			pool := append([]float32(nil), c0...)
			SgemmBF16(s.ta, s.tb, s.m, s.n, s.k, s.alpha, a, lda, b, ldb, s.beta, pool, ldc, nil)
			inner := append([]float32(nil), c0...)
			parallel.For(2, func(lo, hi int) {
				if lo == 0 {
					SgemmBF16Serial(s.ta, s.tb, s.m, s.n, s.k, s.alpha, a, lda, b, ldb, s.beta, inner, ldc)
				}
			})
			for i := range pool {
				if math.Float32bits(pool[i]) != math.Float32bits(got[i]) || math.Float32bits(inner[i]) != math.Float32bits(got[i]) {
					t.Fatalf("C[%d]: serial %g, SgemmBF16 %g, serial in a worker %g", i, got[i], pool[i], inner[i])
				}
			}
		})
	}
}

// bf16Plain is C = alpha·A·B + beta·C in float64 on bfloat16-rounded
// operands (alpha·A rounded, as the packing does), dense row-major, with
// the sum of |terms|.
func bf16Plain(m, n, k int, alpha float32, a, b []float32, beta float32, c []float32) (want, scale []float64) {
	want, scale = make([]float64, m*n), make([]float64, m*n)
	for i := range m {
		for j := range n {
			var s, abs float64
			for p := range k {
				x := float64(FromBF16(ToBF16(alpha*a[i*k+p]))) * float64(FromBF16(ToBF16(b[p*n+j])))
				s += x
				abs += math.Abs(x)
			}
			bc := float64(beta) * float64(c[i*n+j])
			want[i*n+j], scale[i*n+j] = s+bc, abs+math.Abs(bc)
		}
	}
	return want, scale
}

// useRowsABF16 reports whether SgemmBF16 takes the weights-stationary
// scheme for these arguments (whose bits SgemmBF16Serial need not match).
func useRowsABF16(ta, tb bool, m, n int, beta float32) bool {
	op := bfOp{m: m, n: n, transA: ta, transB: tb, beta: beta}
	return op.useRowsA()
}

// dense copies op(X) (rows×cols, stored with stride ld, transposed when
// trans) into a row-major rows×cols matrix.
func dense(trans bool, rows, cols int, x []float32, ld int) []float32 {
	d := make([]float32, rows*cols)
	for i := range rows {
		for j := range cols {
			if trans {
				d[i*cols+j] = x[j*ld+i]
			} else {
				d[i*cols+j] = x[i*ld+j]
			}
		}
	}
	return d
}

// TestSgemmBF16SerialAllocations: no allocation after warm-up.
func TestSgemmBF16SerialAllocations(t *testing.T) {
	needBF16(t)
	if raceEnabled {
		t.Skip("allocation counts under the race detector")
	}
	r := rand.New(rand.NewPCG(2, 9))
	q, k, s := randSlice(r, 216*64), randSlice(r, 216*64), make([]float32, 216*216)
	f := func() { SgemmBF16Serial(false, true, 216, 216, 64, 1, q, 64, k, 64, 0, s, 216) }
	f()
	if n := testing.AllocsPerRun(20, f); n != 0 {
		t.Fatalf("%v allocations per call, want 0", n)
	}
}

// TestPackBSliverFor: the vector packing of a transposed B sliver gives
// packBSliver's bits (odd k and n, a stride, a last partial sliver,
// zeros, infinities and subnormals that round to zero).
func TestPackBSliverFor(t *testing.T) {
	needBF16(t)
	r := rand.New(rand.NewPCG(8, 8))
	for _, s := range [][3]int{{64, 216, 64}, {97, 45, 101}, {1, 1, 1}, {33, 31, 40}} {
		k, n, ldb := s[0], s[1], s[2]
		b := randSlice(r, n*ldb)
		if len(b) >= 3 {
			b[0], b[1], b[2] = 0, float32(math.Inf(-1)), 1e-40
		}
		op := bfOp{n: n, k: k, ks: ceilDiv(k, bfTile), transB: true, b: b, ldb: ldb}
		kp := op.ks * bfTile / 2
		var w bfWorker
		for sb := range ceilDiv(n, bfTile) {
			want, got := make([]uint32, kp*bfTile), make([]uint32, kp*bfTile)
			for i := range got {
				got[i] = 0xdeadbeef
			}
			packBSliver(want, b, ldb, true, sb*bfTile, n, k)
			op.packBSliverFor(got, sb, &w)
			for i := range want {
				if want[i] != got[i] {
					t.Fatalf("k %d n %d sliver %d: pair %d = %#x, want %#x", k, n, sb, i, got[i], want[i])
				}
			}
		}
	}
}

// TestBF16RowContig: ToBF16 of every value (random bit patterns: NaNs,
// infinities, subnormals) and zeros up to a whole 32, nothing beyond.
func TestBF16RowContig(t *testing.T) {
	needBF16(t)
	r := rand.New(rand.NewPCG(6, 16))
	src := make([]float32, 200)
	for i := range src {
		src[i] = math.Float32frombits(r.Uint32())
	}
	for _, k := range []int{1, 17, 31, 32, 33, 64, 100, 200} {
		pad := ceilDiv(k, bfTile) * bfTile
		dst := make([]uint16, pad+5)
		for i := range dst {
			dst[i] = 0xdead
		}
		bf16RowContig(&dst[0], &src[0], k)
		for i, got := range dst {
			want := uint16(0xdead)
			switch {
			case i < k:
				want = ToBF16(src[i])
			case i < pad:
				want = 0
			}
			if got != want {
				t.Fatalf("k=%d [%d] = %#04x, want %#04x", k, i, got, want)
			}
		}
	}
}
