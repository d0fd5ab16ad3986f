package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestStoreCTFused checks storeCT's epilogue in the transpose's registers
// bit for bit against the transpose followed by the epilogue pass on C
// (fuseStore off), and the bias-first order against the epilogue on Cᵀ
// then the transpose: tokens 216, 33 and 1, bands of 1 to 128 outputs
// (partial 16-lane groups), alpha 1, ½ and −3, every fused kind (bias,
// residual, both, ReLU, GELU, neither) and the kinds that stay a pass (a
// per-token bias, a residual that is C). Values include ±0 and the bias
// −0, where the two orders differ in the sign of zero.
func TestStoreCTFused(t *testing.T) {
	if !haveTranspose || !haveEpilogueAsm || !avx512Asm() {
		t.Skip("no AVX-512 transpose")
	}
	r := rand.New(rand.NewPCG(7, 11))
	const n = 300
	for _, m := range []int{216, 33, 1} {
		for _, band := range [][2]int{{0, 128}, {16, 100}, {37, 1}, {112, 17}, {250, 50}} {
			r0, rows := band[0], band[1]
			for _, alpha := range []float32{1, 0.5, -3} {
				for kind := range 11 {
					ldct, ldc := m+5, n+3
					ct := randSlice(r, rows*ldct)
					for i := range ct {
						if r.IntN(8) == 0 {
							ct[i] = float32(math.Copysign(0, float64(r.IntN(2)-1)))
						}
					}
					bias := randSlice(r, n)
					bias[r0] = float32(math.Copysign(0, -1))
					c0 := randSlice(r, m*ldc)
					ep := &Epilogue{}
					switch kind {
					case 0:
						ep.Bias = bias
					case 1:
						ep.Residual = randSlice(r, m*ldc)
					case 2:
						ep.Bias, ep.Residual = bias, randSlice(r, m*ldc)
					case 3:
						ep.Bias, ep.Residual, ep.Act = bias, randSlice(r, m*ldc), ReLU
					case 4:
						ep.Act = ReLU
					case 5:
						ep.Bias, ep.Act = bias, GELU
					case 6:
						ep.Bias, ep.BiasPerRow, ep.Residual = randSlice(r, m), true, randSlice(r, m*ldc)
					case 7:
						ep.Bias, ep.Act = bias, ReLU
					case 8: // the residual is C itself
						ep.Bias = bias
					case 9:
						ep.Bias, ep.Residual, ep.Act = bias, randSlice(r, m*ldc), GELU
					case 10:
						ep.Act = GELU
					}
					name := fmt.Sprintf("m%d_r%d_rows%d_alpha%g_kind%d", m, r0, rows, alpha, kind)
					want, got := append([]float32(nil), c0...), append([]float32(nil), c0...)
					wep, gep := *ep, *ep
					if kind == 8 {
						wep.Residual, gep.Residual = want, got
					}
					fuseStore = false
					storeCT(want, ldc, m, alpha, &wep, ct, ldct, r0, rows)
					fuseStore = true
					if fused := canFuseStore(&gep, got); fused != (kind != 6 && kind != 8) {
						t.Fatalf("%s: canFuseStore = %v", name, fused)
					}
					storeCT(got, ldc, m, alpha, &gep, ct, ldct, r0, rows)
					sameBits(t, name, got, want)
					if kind != 0 && kind != 4 && kind != 5 && kind != 7 && kind != 10 || alpha != 1 {
						continue
					}
					// Bias first against the epilogue on Cᵀ, then the transpose.
					cct := append([]float32(nil), ct...)
					ect := Epilogue{Act: ep.Act, BiasPerRow: true}
					if ep.Bias != nil {
						ect.Bias = ep.Bias[r0 : r0+rows]
					}
					ect.applyTile(cct, ldct, 0, 0, rows, m)
					want, got = append(want[:0], c0...), append(got[:0], c0...)
					fuseStore = false
					storeCT(want, ldc, m, 1, nil, cct, ldct, r0, rows)
					fuseStore = true
					storeCTFused(got, ldc, m, 1, ep, ct, ldct, r0, rows, biasFirst)
					sameBits(t, name+"_biasFirst", got, want)
				}
			}
		}
	}
}

func sameBits(t *testing.T, name string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s: C[%d] = %g (%#x), want %g (%#x)", name, i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
		}
	}
}

// TestStoreCTFusedGEMM checks that the weights-stationary schemes (float32
// Sgemm and bfloat16 SgemmBF16) give the same bits with the epilogue in
// the transpose's registers as with the separate passes (on C, or on Cᵀ
// for bfloat16 with alpha 1 and no residual): ragged tokens (216, 33, 1),
// outputs not a multiple of 16 or 32, k not a multiple of 32, alpha 1 and
// −0.5, and every epilogue kind.
func TestStoreCTFusedGEMM(t *testing.T) {
	if !haveTranspose || !haveEpilogueAsm || !avx512Asm() {
		t.Skip("no AVX-512 transpose")
	}
	r := rand.New(rand.NewPCG(3, 5))
	defer func() { fuseStore = true }()
	for _, s := range [][3]int{{216, 229, 517}, {33, 100, 300}, {1, 77, 40}, {216, 768, 64}} {
		m, n, k := s[0], s[1], s[2]
		x, w := randSlice(r, m*k), randSlice(r, n*k)
		bias := randSlice(r, n)
		bias[n/2] = float32(math.Copysign(0, -1))
		for kind := range 6 {
			ep := []*Epilogue{
				nil,
				{Bias: bias},
				{Bias: bias, Residual: randSlice(r, m*n)},
				{Bias: bias, Act: ReLU},
				{Residual: randSlice(r, m*n), Act: ReLU},
				{Bias: bias, Act: GELU},
			}[kind]
			for _, alpha := range []float32{1, -0.5} {
				for _, bf := range []bool{false, true} {
					if bf && !HaveBF16() {
						continue
					}
					name := fmt.Sprintf("%dx%dx%d_kind%d_alpha%g_bf16%v", m, n, k, kind, alpha, bf)
					var want, got []float32
					for _, fuse := range []bool{false, true} {
						fuseStore = fuse
						c := randSlice(r, m*n)
						if bf {
							SgemmBF16(false, true, m, n, k, alpha, x, k, w, k, 0, c, n, ep)
						} else {
							SgemmEx(false, true, m, n, k, alpha, x, k, w, k, 0, c, n, ep)
						}
						if fuse {
							got = c
						} else {
							want = c
						}
					}
					sameBits(t, name, got, want)
				}
			}
		}
	}
}

// TestDPBF16KernEpilogue checks that the resident-weights product
// (SgemmBF16W, dpColumns8) gives the same bits with the epilogue in the
// kernel's registers (dpbf16Kern8x32E) as with the pass over each stored
// sliver: tokens 216, 40 and 8 (whole 8-row tiles), outputs 64 to 768, k
// not a multiple of 32, every epilogue kind with a −0 in the bias; and
// that shapes with partial tiles (33 tokens, 100 outputs) keep the pass.
func TestDPBF16KernEpilogue(t *testing.T) {
	needBF16(t)
	r := rand.New(rand.NewPCG(9, 4))
	defer func() { bfFuseDP = true }()
	for _, s := range [][3]int{{216, 768, 96}, {40, 64, 100}, {8, 96, 32}, {33, 100, 40}, {216, 128, 768}} {
		m, n, k := s[0], s[1], s[2]
		x, w := randSlice(r, m*k), randSlice(r, n*k)
		p := PackWeightsBF16(n, k, w, k)
		bias := randSlice(r, n)
		bias[n/2] = float32(math.Copysign(0, -1))
		for kind := range 7 {
			ep := []*Epilogue{
				{Bias: bias},
				{Bias: bias, Residual: randSlice(r, m*n)},
				{Bias: bias, Act: GELU},
				{Residual: randSlice(r, m*n), Act: ReLU},
				{Act: GELU},
				{Bias: bias, Residual: randSlice(r, m*n), Act: GELU},
				{Bias: bias, Act: ReLU},
			}[kind]
			var want, got []float32
			for _, fuse := range []bool{false, true} {
				bfFuseDP = fuse
				c := randSlice(r, m*n)
				SgemmBF16W(m, x, k, p, c, n, ep)
				if fuse {
					got = c
				} else {
					want = c
				}
			}
			sameBits(t, fmt.Sprintf("%dx%dx%d_kind%d", m, n, k, kind), got, want)
		}
	}
}
