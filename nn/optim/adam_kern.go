package optim

import (
	"math"

	"github.com/metasurv/metasurv/internal/parallel"
)

// adamK holds the per-parameter constants of one Adam update, laid out for
// the assembly kernels (adam_amd64.s reads the fields by offset: keep the
// order and the 4-byte types).
type adamK struct {
	b1, b2, c1, c2 float32 // β1, β2, 1-β1, 1-β2 (rounded from float64)
	step, sbc2     float32 // lr/(1-β1^t), √(1-β2^t)
	eps, wd        float32
	decay          float32 // 1-lr·wd (decoupled) or 1
	decoupled      uint32  // 1: AdamW, 0: L2 decay added to the gradient
}

// adamKernel applies one update to p, m and v from the gradient g, in
// parallel chunks for large tensors.
func adamKernel(p, g, m, v []float32, k adamK) {
	if len(p) >= 1<<16 {
		parallel.ForChunks(len(p), 1<<14, func(lo, hi int) {
			adamChunk(p[lo:hi], g[lo:hi], m[lo:hi], v[lo:hi], k)
		})
		return
	}
	adamChunk(p, g, m, v, k)
}

// adamChunk runs the widest vector kernel the CPU allows on the bulk and
// adamGo on the tail; every path computes bit-identical results.
func adamChunk(p, g, m, v []float32, k adamK) {
	n := adamVec(p, g, m, v, &k)
	adamGo(p[n:], g[n:len(p)], m[n:len(p)], v[n:len(p)], &k)
}

// adamGo is the portable kernel and the reference of the vector ones. The
// explicit float32 conversions forbid fused multiply-adds (Go may fuse
// x*y+z otherwise, e.g. with GOAMD64=v3), so every build rounds the same.
func adamGo(p, g, m, v []float32, k *adamK) {
	g, m, v = g[:len(p)], m[:len(p)], v[:len(p)]
	if k.decoupled != 0 {
		for j, gj := range g {
			pj := p[j] * k.decay
			mj := float32(k.b1*m[j]) + float32(k.c1*gj)
			vj := float32(k.b2*v[j]) + float32(float32(k.c2*gj)*gj)
			m[j], v[j] = mj, vj
			p[j] = pj - float32(k.step*(mj/(float32(math.Sqrt(float64(vj)))/k.sbc2+k.eps)))
		}
		return
	}
	for j, gj := range g {
		pj := p[j]
		gj += float32(k.wd * pj)
		mj := float32(k.b1*m[j]) + float32(k.c1*gj)
		vj := float32(k.b2*v[j]) + float32(float32(k.c2*gj)*gj)
		m[j], v[j] = mj, vj
		p[j] = pj - float32(k.step*(mj/(float32(math.Sqrt(float64(vj)))/k.sbc2+k.eps)))
	}
}
