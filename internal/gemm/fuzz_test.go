package gemm

import (
	"math/rand/v2"
	"testing"

	"github.com/metasurv/metasurv/internal/cpu"
)

// FuzzSgemm checks SgemmEx against the float64 reference on fuzzed shapes,
// strides, transposes, scalars and epilogues at a fuzzed SIMD level.
func FuzzSgemm(f *testing.F) {
	f.Add(uint8(3), uint8(5), uint8(7), uint8(0), uint8(0), uint64(1))
	f.Add(uint8(15), uint8(33), uint8(1), uint8(7), uint8(2), uint64(2))
	f.Add(uint8(29), uint8(64), uint8(200), uint8(3), uint8(1), uint64(3))
	f.Fuzz(func(t *testing.T, m, n, k, flags, level uint8, seed uint64) {
		defer cpu.SetLevel(cpu.Level(level % 3))()
		r := rand.New(rand.NewPCG(seed, 0))
		gc := newCase(r, flags&1 != 0, flags&2 != 0, int(m%40), int(n%70), int(k))
		switch flags >> 2 & 3 {
		case 1:
			gc.beta = 1
		case 2:
			gc.alpha, gc.beta = -1.5, 0.25
		case 3:
			gc.nanC = true
		}
		if flags&16 != 0 {
			gc.ep = &Epilogue{Bias: randSlice(r, max(gc.m, gc.n)), BiasPerRow: flags&32 != 0, Act: Activation(flags >> 6 % 3)}
			if flags&128 != 0 {
				gc.ep.Residual = randSlice(r, len(gc.c0))
			}
		}
		gc.check(t, "SgemmEx", gc.runSgemm())
	})
}
