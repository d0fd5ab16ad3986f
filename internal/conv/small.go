package conv

import (
	"github.com/metasurv/metasurv/internal/gemm"
	"github.com/metasurv/metasurv/internal/parallel"
)

// The batched column path, for layers whose output volume is small (the
// 3³ maps of a ResNet's last stage, 512 channels): there one sample's
// column matrix has fewer columns than a GEMM tile is wide, so the batch's
// columns are laid side by side (k × N·outSp) and each pass is one GEMM
// over the whole batch. The column matrix is gathered through a table of
// input offsets per (tap, output position) instead of walking runs, which
// at a few positions per row cost more than the copies.

// smallCols is the most columns (N·outSp) the batched path takes.
const smallCols = 512

// useSmall reports whether the batched column path computes g when the
// direct and Winograd kernels do not.
func useSmall(g *geometry) bool {
	return g.p.Groups == 1 && g.p.N > 1 && g.outSp*g.p.N <= smallCols && g.outSp*g.kvol <= 1<<16
}

// small is the batched column state of a Plan.
type small struct {
	g    *geometry
	taps []int32 // taps[t·outSp+q]: input offset of tap t at output q, or -1
	cols int     // N·outSp

	// per-call state of the parallel loops
	x, col                        []float32
	gatherFn, scatterFn, sampleFn func(lo, hi int)
}

func newSmall(g *geometry) *small {
	s := &small{g: g, cols: g.p.N * g.outSp, taps: make([]int32, g.kvol*g.outSp)}
	p := g.p
	for t := range g.kvol {
		kw := t % p.Kernel[2]
		kh := t / p.Kernel[2] % p.Kernel[1]
		kd := t / (p.Kernel[2] * p.Kernel[1])
		for q := range g.outSp {
			ow := q % g.out[2]
			oh := q / g.out[2] % g.out[1]
			od := q / (g.out[2] * g.out[1])
			id := od*p.Stride[0] - p.Pad[0] + kd*p.Dilation[0]
			ih := oh*p.Stride[1] - p.Pad[1] + kh*p.Dilation[1]
			iw := ow*p.Stride[2] - p.Pad[2] + kw*p.Dilation[2]
			off := int32(-1)
			if id >= 0 && id < p.In[0] && ih >= 0 && ih < p.In[1] && iw >= 0 && iw < p.In[2] {
				off = int32((id*p.In[1]+ih)*p.In[2] + iw)
			}
			s.taps[t*g.outSp+q] = off
		}
	}
	s.gatherFn, s.scatterFn, s.sampleFn = s.gatherRows, s.scatterChannels, s.gatherSampleRows
	return s
}

// gather builds the batch's column matrix (k × N·outSp) from x.
func (s *small) gather(col, x []float32) {
	s.x, s.col = x, col
	parallel.ForChunks(s.g.k, max(1, 4096/s.cols), s.gatherFn)
	s.x, s.col = nil, nil
}

// gatherSample builds the column matrix (k × outSp) of one sample's group
// xg, whose channels start at xg[0]: the column tile of a lean forward.
func (s *small) gatherSample(col, xg []float32) {
	s.x, s.col = xg, col
	parallel.ForChunks(s.g.k, max(1, 4096/s.g.outSp), s.sampleFn)
	s.x, s.col = nil, nil
}

func (s *small) gatherSampleRows(lo, hi int) {
	g := s.g
	for r := lo; r < hi; r++ {
		ic, t := r/g.kvol, r%g.kvol
		taps := s.taps[t*g.outSp : (t+1)*g.outSp]
		x := s.x[ic*g.inSp : (ic+1)*g.inSp]
		dst := s.col[r*g.outSp : (r+1)*g.outSp]
		for q, off := range taps {
			if off < 0 {
				dst[q] = 0
			} else {
				dst[q] = x[off]
			}
		}
	}
}

func (s *small) gatherRows(lo, hi int) {
	g := s.g
	for r := lo; r < hi; r++ {
		ic, t := r/g.kvol, r%g.kvol
		taps := s.taps[t*g.outSp : (t+1)*g.outSp]
		for n := range g.p.N {
			x := s.x[(n*g.p.InC+ic)*g.inSp : (n*g.p.InC+ic+1)*g.inSp]
			dst := s.col[r*s.cols+n*g.outSp : r*s.cols+(n+1)*g.outSp]
			for q, off := range taps {
				if off < 0 {
					dst[q] = 0
				} else {
					dst[q] = x[off]
				}
			}
		}
	}
}

// scatter adds the transposed column-matrix gradient colT (N·outSp × k)
// back into dx, which it first clears; each input channel is written by
// one worker.
func (s *small) scatter(dx, colT []float32) {
	s.x, s.col = dx, colT
	parallel.ForChunks(s.g.p.InC, 1, s.scatterFn)
	s.x, s.col = nil, nil
}

func (s *small) scatterChannels(lo, hi int) {
	g := s.g
	for ic := lo; ic < hi; ic++ {
		for n := range g.p.N {
			dx := s.x[(n*g.p.InC+ic)*g.inSp : (n*g.p.InC+ic+1)*g.inSp]
			clear(dx)
			for q := range g.outSp {
				src := s.col[(n*g.outSp+q)*g.k+ic*g.kvol:][:g.kvol]
				for t, v := range src {
					if off := s.taps[t*g.outSp+q]; off >= 0 {
						dx[off] += v
					}
				}
			}
		}
	}
}

// toBatch copies a (N, c, outSp) tensor to the batch layout (c, N·outSp).
func (s *small) toBatch(dst, src []float32, c int) { s.rebatch(dst, src, c, true) }

// fromBatch copies the batch layout (c, N·outSp) back to (N, c, outSp).
func (s *small) fromBatch(dst, src []float32, c int) { s.rebatch(dst, src, c, false) }

func (s *small) rebatch(dst, src []float32, c int, toBatch bool) {
	sp := s.g.outSp
	for n := range s.g.p.N {
		for ch := range c {
			sample, batch := (n*c+ch)*sp, ch*s.cols+n*sp
			if toBatch {
				copy(dst[batch:batch+sp], src[sample:sample+sp])
			} else {
				copy(dst[sample:sample+sp], src[batch:batch+sp])
			}
		}
	}
}

// forward computes y = Act(W·cols + bias + residual) for the whole batch.
func (s *small) forward(pl *Plan, y, x []float32, ep *Epilogue) {
	g := s.g
	col := scratch.get(g.k * s.cols)
	out := scratch.get(g.p.OutC * s.cols)
	s.gather(col, x)
	pl.multiplyW(0, s.cols, col, s.cols, out, s.cols, nil)
	s.fromBatch(y, out, g.p.OutC)
	finishEpilogue(y, ep, g.p.N, g.p.OutC, g.outSp)
	scratch.put(col)
	scratch.put(out)
}

// backwardData computes dx = col2im(Wᵀ·dY) for the whole batch, as
// (dYᵀ·W)ᵀ: with the batch's few columns as the GEMM's rows, the kernel
// reads the weights in place instead of packing them transposed after
// every optimizer step.
func (s *small) backwardData(w, dx, dy []float32) {
	g := s.g
	dyb := scratch.get(g.p.OutC * s.cols)
	col := scratch.get(g.k * s.cols)
	s.toBatch(dyb, dy, g.p.OutC)
	gemm.Sgemm(true, false, s.cols, g.k, g.p.OutC, 1, dyb, s.cols, w, g.k, 0, col, g.k)
	s.scatter(dx, col)
	scratch.put(dyb)
	scratch.put(col)
}

// backwardWeight adds dY·colsᵀ over the whole batch to dw.
func (s *small) backwardWeight(dw, x, dy []float32) {
	g := s.g
	dyb := scratch.get(g.p.OutC * s.cols)
	col := scratch.get(g.k * s.cols)
	s.toBatch(dyb, dy, g.p.OutC)
	s.gather(col, x)
	gemm.Sgemm(false, true, g.p.OutC, g.k, s.cols, 1, dyb, s.cols, col, s.cols, 1, dw, g.k)
	scratch.put(dyb)
	scratch.put(col)
}
