package gemm

import (
	"math/rand/v2"
	"testing"

	"github.com/metasurv/metasurv/internal/cputime"
)

// BenchmarkLinearEpilogueViT times ViT-B/16's Linear layers as a forward
// pass runs them: 216 tokens, the fused epilogue of each (bias; GELU after
// linear1; the residual after the output projection and linear2), and
// cold weights (eight copies cycled, 9–56 MB, so each call streams its W
// from memory as a 12-block pass does).
func BenchmarkLinearEpilogueViT(b *testing.B) {
	for _, s := range []struct {
		name    string
		m, n, k int
		act     Activation
		resid   bool
	}{
		{"qkv", 216, 2304, 768, None, false},
		{"outproj_res", 216, 768, 768, None, true},
		{"fc1_gelu", 216, 3072, 768, GELU, false},
		{"fc2_res", 216, 768, 3072, None, true},
	} {
		r := rand.New(rand.NewPCG(5, 1))
		x, c := randSlice(r, s.m*s.k), make([]float32, s.m*s.n)
		var ws [][]float32
		for range 8 {
			ws = append(ws, randSlice(r, s.n*s.k))
		}
		ep := &Epilogue{Bias: randSlice(r, s.n), Act: s.act}
		if s.resid {
			ep.Residual = randSlice(r, s.m*s.n)
		}
		b.Run(s.name, func(b *testing.B) {
			cpu0 := cputime.Now().Seconds()
			i := 0
			for b.Loop() {
				SgemmEx(false, true, s.m, s.n, s.k, 1, x, s.k, ws[i%len(ws)], s.k, 0, c, s.n, ep)
				i++
			}
			reportFlops(b, 2*float64(s.m*s.n*s.k), cpu0)
		})
	}
}
