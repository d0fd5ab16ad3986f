package optim

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/metasurv/metasurv/internal/cpu"
)

// atLevels runs f once per CPU level this machine supports.
func atLevels(t *testing.T, f func(t *testing.T)) {
	for l := cpu.Portable; l <= cpu.Detected(); l++ {
		t.Run(l.String(), func(t *testing.T) {
			defer cpu.SetLevel(l)()
			f(t)
		})
	}
}

func randSlice(r *rand.Rand, n int, scale float64) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64() * scale)
	}
	return s
}

// The vector kernels must agree bit for bit with the float64-free scalar
// reference (adamScalar below restates the update with float64 sqrt, as
// the pre-vector code did), at every CPU level, for lengths that leave
// tails, in both weight-decay modes, and with non-finite values.
func TestAdamKernelsBitExact(t *testing.T) {
	atLevels(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(4, 5))
		for _, n := range []int{1, 7, 8, 15, 16, 17, 40, 1000, 1<<16 + 9} {
			for _, dec := range []bool{false, true} {
				p, g := randSlice(r, n, 1), randSlice(r, n, 0.1)
				m, v := randSlice(r, n, 0.01), randSlice(r, n, 0.001)
				for i := range v {
					v[i] = float32(math.Abs(float64(v[i])))
				}
				if n > 20 {
					p[3], g[5], g[6], v[19] = float32(math.Inf(1)), float32(math.NaN()), 0, 0
				}
				k := adamK{b1: 0.9, b2: 0.999, c1: float32(1 - 0.9), c2: float32(1 - 0.999),
					step: 0.003, sbc2: 0.05, eps: 1e-8, wd: 0.01, decay: 1}
				if dec {
					k.wd, k.decay, k.decoupled = 0, 0.999, 1
				}
				wp, wm, wv := append([]float32(nil), p...), append([]float32(nil), m...), append([]float32(nil), v...)
				adamScalar(wp, g, wm, wv, k)
				adamKernel(p, g, m, v, k)
				for i := range p {
					for _, c := range [][2]float32{{p[i], wp[i]}, {m[i], wm[i]}, {v[i], wv[i]}} {
						if math.Float32bits(c[0]) != math.Float32bits(c[1]) {
							t.Fatalf("n=%d decoupled=%v [%d]: p,m,v = %v,%v,%v want %v,%v,%v", n, dec, i, p[i], m[i], v[i], wp[i], wm[i], wv[i])
						}
					}
				}
			}
		}
	})
}

// adamScalar is the element-by-element definition of the update.
func adamScalar(p, g, m, v []float32, k adamK) {
	for j := range p {
		pj, gj := p[j], g[j]
		if k.decoupled != 0 {
			pj *= k.decay
		} else {
			gj += float32(k.wd * pj)
		}
		m[j] = float32(k.b1*m[j]) + float32(k.c1*gj)
		v[j] = float32(k.b2*v[j]) + float32(float32(k.c2*gj)*gj)
		den := float32(math.Sqrt(float64(v[j])))/k.sbc2 + k.eps
		p[j] = pj - float32(k.step*(m[j]/den))
	}
}

// BenchmarkAdam updates 8 Mi parameters (a 512×512×3³ convolution weight
// is 7 Mi) per operation; MB/s counts p, g, m, v read and p, m, v written.
func BenchmarkAdam(b *testing.B) {
	for l := cpu.Portable; l <= cpu.Detected(); l++ {
		b.Run(l.String(), func(b *testing.B) {
			defer cpu.SetLevel(l)()
			n := 8 << 20
			r := rand.New(rand.NewPCG(1, 2))
			p, g, m, v := randSlice(r, n, 1), randSlice(r, n, 0.1), make([]float32, n), make([]float32, n)
			k := adamK{b1: 0.9, b2: 0.999, c1: 0.1, c2: 0.001, step: 1e-3, sbc2: 0.03, eps: 1e-8, decay: 1}
			b.SetBytes(int64(n) * 4 * 7)
			for range b.N {
				adamKernel(p, g, m, v, k)
			}
		})
	}
}
