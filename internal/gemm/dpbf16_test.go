package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// The VDPBF16PS path (forced where AMX exists) against the float64
// reference on bfloat16-rounded operands, with beta 0 (full tiles stored
// straight into C, ragged ones merged) and beta 1, on a multi-tile shape and
// ragged ones, packed and unpacked operands.
func TestDPBF16MatchesReference(t *testing.T) {
	needBF16(t)
	forceDP = true
	defer func() { forceDP = false }()
	r := rand.New(rand.NewPCG(3, 17))
	for _, s := range [][3]int{{70, 96, 160}, {32, 32, 32}, {17, 15, 40}, {48, 64, 33}, {1, 200, 3}} {
		m, n, k := s[0], s[1], s[2]
		for _, beta := range []float32{0, 1} {
			for _, packB := range []bool{false, true} {
				t.Run(fmt.Sprintf("%dx%dx%d_beta%g_packB%v", m, n, k, beta, packB), func(t *testing.T) {
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
