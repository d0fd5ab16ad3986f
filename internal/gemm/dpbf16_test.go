package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/metasurv/metasurv/internal/cputime"
)

// The VDPBF16PS path (forced where AMX exists) against the float64
// reference on bfloat16-rounded operands, with beta 0 (full tiles stored
// straight into C, ragged ones merged) and beta 1, on a multi-tile shape and
// ragged ones, packed and unpacked operands.
func TestDPBF16MatchesReference(t *testing.T) {
	needBF16(t)
	forceDP = true
	defer func() { forceDP, dpWide = false, true }()
	r := rand.New(rand.NewPCG(3, 17))
	for _, wide := range []bool{true, false} {
		dpWide = wide
		for _, s := range [][3]int{{70, 96, 160}, {32, 32, 32}, {17, 15, 40}, {48, 64, 33}, {1, 200, 3}} {
			m, n, k := s[0], s[1], s[2]
			for _, beta := range []float32{0, 1} {
				for _, packB := range []bool{false, true} {
					t.Run(fmt.Sprintf("%dx%dx%d_beta%g_packB%v_wide%v", m, n, k, beta, packB, wide), func(t *testing.T) {
						a, b := randSlice(r, m*k), randSlice(r, k*n) // B stored n×k (transB), as Linear weights
						c := randSlice(r, m*n)
						bias, res := randSlice(r, m), randSlice(r, m*n)
						ep := &Epilogue{Bias: bias, BiasPerRow: true, Residual: res, Act: ReLU}
						want, scale := bf16Ref(false, true, m, n, k, 1, a, b, beta, c, bias, res)
						if packB {
							pb, err := PackBBF16(true, k, n, b, k)
							if err != nil {
								t.Fatal(err)
							}
							SgemmBF16PackedB(false, m, 1, a, k, pb, beta, c, n, ep)
						} else {
							SgemmBF16(false, true, m, n, k, 1, a, k, b, k, beta, c, n, ep)
						}
						for i, w := range want {
							if d := math.Abs(float64(c[i]) - w); d > 1e-5*max(scale[i], 1e-30) {
								t.Fatalf("C[%d] = %g, want %g (scale %g)", i, c[i], w, scale[i])
							}
						}
					})
				}
			}
		}
	}
}

// BenchmarkLinearViT times the products of a ViT block's Linear layers
// (216 tokens; qkv, fc1, fc2 of ViT-B and LaMIM) in float32 and with
// pre-packed bfloat16 weights, in GFLOP per CPU-second.
func BenchmarkLinearViT(b *testing.B) {
	for _, s := range []struct {
		name    string
		m, n, k int
	}{{"vitb_qkv", 216, 2304, 768}, {"vitb_fc1", 216, 3072, 768}, {"vitb_fc2", 216, 768, 3072}, {"lamim_qkv", 216, 6144, 2048}, {"lamim_fc2", 216, 2048, 3072}} {
		r := rand.New(rand.NewPCG(1, 1))
		x, w, c := randSlice(r, s.m*s.k), randSlice(r, s.n*s.k), make([]float32, s.m*s.n)
		flops := 2 * float64(s.m) * float64(s.n) * float64(s.k)
		b.Run(s.name+"/f32", func(b *testing.B) {
			Sgemm(false, true, s.m, s.n, s.k, 1, x, s.k, w, s.k, 0, c, s.n)
			cpu0 := cputime.Now().Seconds()
			b.ResetTimer()
			for b.Loop() {
				Sgemm(false, true, s.m, s.n, s.k, 1, x, s.k, w, s.k, 0, c, s.n)
			}
			reportFlops(b, flops, cpu0)
		})
		for _, kern := range []string{"bf16", "bf16_16x16"} {
			b.Run(s.name+"/"+kern, func(b *testing.B) {
				if !HaveBF16() {
					b.Skip("no AVX512_BF16")
				}
				dpWide = kern == "bf16"
				defer func() { dpWide = true }()
				pb, _ := PackBBF16(true, s.k, s.n, w, s.k)
				SgemmBF16PackedB(false, s.m, 1, x, s.k, pb, 0, c, s.n, nil)
				cpu0 := cputime.Now().Seconds()
				b.ResetTimer()
				for b.Loop() {
					SgemmBF16PackedB(false, s.m, 1, x, s.k, pb, 0, c, s.n, nil)
				}
				reportFlops(b, flops, cpu0)
			})
		}
	}
}

// TestDPBF16PrefetchKernels checks that the prefetching 8×32 and 8×24
// kernels store and add the same bits as the plain ones (the prefetch
// only moves cache lines), for K steps 1 and 5 and prefetch strides 0 and
// 192, and that the weights-stationary SgemmBF16 gives the same bits with
// the prefetch off.
func TestDPBF16PrefetchKernels(t *testing.T) {
	needBF16(t)
	r := rand.New(rand.NewPCG(5, 8))
	src := randSlice(r, 4096)
	pf := uintptr(unsafe.Pointer(&src[0]))
	for _, ks := range []int{1, 5} {
		a := make([]uint16, ks*bfTile*bfTile)
		b := make([]uint32, ks*bfTile*bfTile/2)
		for i := range a {
			a[i] = ToBF16(float32(r.NormFloat64()))
		}
		for i := range b {
			b[i] = uint32(ToBF16(float32(r.NormFloat64()))) | uint32(ToBF16(float32(r.NormFloat64())))<<16
		}
		for _, add := range []int{0, 1} {
			for _, st := range []int{0, 192} {
				for _, w := range []int{32, 24} {
					want, got := randSlice(r, 8*40), make([]float32, 8*40)
					copy(got, want)
					if w == 32 {
						dpbf16Kern8x32(ks, &a[0], &b[0], &want[0], 40, add)
						dpbf16Kern8x32P(ks, &a[0], &b[0], &got[0], 40, add, pf, st)
					} else {
						dpbf16Kern8x24(ks, &a[0], &b[0], &want[0], 40, add)
						dpbf16Kern8x24P(ks, &a[0], &b[0], &got[0], 40, add, pf, st)
					}
					for i := range want {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("ks %d add %d stride %d width %d: C[%d] = %g, want %g", ks, add, st, w, i, got[i], want[i])
						}
					}
				}
			}
		}
	}
	m, n, k := 216, 229, 517
	x, wt := randSlice(r, m*k), randSlice(r, n*k)
	want, got := make([]float32, m*n), make([]float32, m*n)
	defer func(v bool) { bfPrefetch = v }(bfPrefetch)
	bfPrefetch = false
	SgemmBF16(false, true, m, n, k, 1, x, k, wt, k, 0, want, n, nil)
	bfPrefetch = true
	SgemmBF16(false, true, m, n, k, 1, x, k, wt, k, 0, got, n, nil)
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("SgemmBF16: C[%d] = %g with prefetch, %g without", i, got[i], want[i])
		}
	}
}
