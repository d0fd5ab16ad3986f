package gemm

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestBF16BlockSteps checks packABlock's step-by-step rounding against
// the row-by-row one (bf16RowSteps) and against ToBF16: odd k (tails of
// 1 to 31 values), partial blocks (rows < 32, the rest zero), row
// strides beyond k, and arbitrary bit patterns (NaN, Inf, subnormals).
func TestBF16BlockSteps(t *testing.T) {
	needBF16(t)
	r := rand.New(rand.NewPCG(5, 17))
	defer func(v bool) { blockSteps = v }(blockSteps)
	for _, k := range []int{1, 7, 31, 32, 33, 64, 100, 517, 768} {
		for _, m := range []int{1, 5, 8, 9, 31, 32, 40, 70} {
			lda := k + r.IntN(3)
			a := make([]float32, (m-1)*lda+k)
			for i := range a {
				a[i] = math.Float32frombits(r.Uint32())
			}
			ks := ceilDiv(k, bfTile)
			for i0 := 0; i0 < m; i0 += bfTile {
				want, got := make([]uint16, ks*bfTile*bfTile), make([]uint16, ks*bfTile*bfTile)
				for i := range got {
					want[i], got[i] = 0xdead, 0xbeef
				}
				blockSteps = false
				packABlock(want, a, lda, false, 1, i0, m, k)
				blockSteps = true
				packABlock(got, a, lda, false, 1, i0, m, k)
				for i := range want {
					s, rr, c := i/(bfTile*bfTile), i/bfTile%bfTile, i%bfTile
					var ref uint16
					if row, p := i0+rr, s*bfTile+c; row < m && p < k {
						ref = ToBF16(a[row*lda+p])
					}
					if got[i] != want[i] || want[i] != ref {
						t.Fatalf("k %d m %d i0 %d: [step %d row %d col %d] = %#04x step by step, %#04x row by row, want %#04x", k, m, i0, s, rr, c, got[i], want[i], ref)
					}
				}
			}
		}
	}
}

// TestRowsACPrefetch checks that the weights-stationary scheme's
// prefetch of C's lines leaves C's bits unchanged, with an epilogue, at
// sizes whose bands, slivers and rows are partial.
func TestRowsACPrefetch(t *testing.T) {
	needBF16(t)
	r := rand.New(rand.NewPCG(6, 18))
	defer func(v bool, n int) { bfPrefetchC, cpfBlocks = v, n }(bfPrefetchC, cpfBlocks)
	for _, s := range [][3]int{{1, 3, 5}, {7, 33, 17}, {216, 229, 517}, {40, 1000, 64}} {
		m, n, k := s[0], s[1], s[2]
		ldc := n + 3
		x, w := randSlice(r, m*k), randSlice(r, n*k)
		ep := &Epilogue{Bias: randSlice(r, n), Act: GELU, Residual: randSlice(r, m*ldc)}
		want, got := make([]float32, m*ldc), make([]float32, m*ldc)
		bfPrefetchC = false
		SgemmBF16(false, true, m, n, k, 1, x, k, w, k, 0, want, ldc, ep)
		for _, blocks := range []int{1, 2, 4, 9} {
			bfPrefetchC, cpfBlocks = true, blocks
			clear(got)
			SgemmBF16(false, true, m, n, k, 1, x, k, w, k, 0, got, ldc, ep)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("m %d n %d k %d, %d blocks: C[%d] = %g with the prefetch of C, %g without", m, n, k, blocks, i, got[i], want[i])
				}
			}
		}
	}
}

// TestRoundInKernel checks that the kernels' rounding of the next W
// block (dpbf16Kern8x32R/8x24R, and R2 on a block's last calls) gives C
// the bits of packABlock's, with 1 to 9 slivers of tokens (4 to 36
// kernel calls for the 32·ks groups of a block: rows left to round after
// the calls, or none), 7 slivers whose last is 8 or 32 tokens wide (the
// R2 calls on the 24- and the 32-wide kernel), partial last blocks and
// bands, and k of 1 to 24 K steps; with and without the R2 calls.
func TestRoundInKernel(t *testing.T) {
	needBF16(t)
	r := rand.New(rand.NewPCG(7, 19))
	defer func(v, v2 bool) { bfRoundInKernel, bfRound2 = v, v2 }(bfRoundInKernel, bfRound2)
	for _, s := range [][3]int{{1, 64, 32}, {5, 200, 64}, {24, 97, 96}, {33, 300, 768}, {216, 768, 768}, {216, 1000, 160}, {257, 700, 64}, {288, 520, 32}, {200, 300, 96}, {224, 290, 32}, {216, 100, 3072}} {
		m, n, k := s[0], s[1], s[2]
		x, w := randSlice(r, m*k), randSlice(r, n*k)
		ep := &Epilogue{Bias: randSlice(r, n), Act: GELU}
		want := make([]float32, m*n)
		bfRoundInKernel = false
		SgemmBF16(false, true, m, n, k, 1, x, k, w, k, 0, want, n, ep)
		for _, two := range []bool{false, true} {
			got := make([]float32, m*n)
			bfRoundInKernel, bfRound2 = true, two
			SgemmBF16(false, true, m, n, k, 1, x, k, w, k, 0, got, n, ep)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("m %d n %d k %d R2 %v: C[%d] = %g rounded in the kernels, %g by packABlock", m, n, k, two, i, got[i], want[i])
				}
			}
		}
	}
}

// TestEpilogueCT checks that the bias and activation applied on Cᵀ
// before the transpose give C the bits of the epilogue on C, for each
// activation, with and without bias, and that a residual, a per-row bias
// or alpha ≠ 1 (which keep the epilogue on C) are unaffected.
func TestEpilogueCT(t *testing.T) {
	needBF16(t)
	r := rand.New(rand.NewPCG(8, 20))
	defer func(v bool) { bfEpilogueCT = v }(bfEpilogueCT)
	for it, s := range [][3]int{{1, 40, 32}, {7, 300, 96}, {216, 768, 64}, {33, 130, 17}} {
		m, n, k := s[0], s[1], s[2]
		ldc := n + it
		x, w := randSlice(r, m*k), randSlice(r, n*k)
		for _, ep := range []*Epilogue{
			{Bias: randSlice(r, n), Act: GELU}, {Act: GELU}, {Bias: randSlice(r, n), Act: ReLU},
			{Bias: randSlice(r, n)}, {Bias: randSlice(r, n), Act: GELU, Residual: randSlice(r, m*ldc)},
			{Bias: randSlice(r, m), BiasPerRow: true, Act: GELU},
		} {
			for _, alpha := range []float32{1, 0.5} {
				want, got := make([]float32, m*ldc), make([]float32, m*ldc)
				bfEpilogueCT = false
				SgemmBF16(false, true, m, n, k, alpha, x, k, w, k, 0, want, ldc, ep)
				bfEpilogueCT = true
				SgemmBF16(false, true, m, n, k, alpha, x, k, w, k, 0, got, ldc, ep)
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("m %d n %d k %d act %d alpha %g: C[%d] = %g with the epilogue on Cᵀ, %g on C", m, n, k, ep.Act, alpha, i, got[i], want[i])
					}
				}
			}
		}
	}
}
