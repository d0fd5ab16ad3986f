package conv

import (
	"sync"

	"github.com/metasurv/metasurv/internal/parallel"
)

// Patches writes the non-overlapping k-sized patches of x (n, ch, in[0],
// in[1], in[2]) as rows of dst (n·gd·gh·gw rows of ch·k[0]·k[1]·k[2]
// values, g = in/k): patch (i, j, l) of sample s is row
// ((s·gd + i)·gh + j)·gw + l, its values in (c, kd, kh, kw) order — the
// raster order of a stride-k convolution's output and the layout of its
// weight, so that the convolution is a Linear on these rows (a ViT's
// patch embedding). Each row gathers ch·k[0]·k[1] runs of k[2] contiguous
// values; rows are split across the workers.
func Patches(dst, x []float32, n, ch int, in, k [3]int) {
	j := patchPool.Get().(*patchJob)
	j.dst, j.x, j.ch, j.in, j.k = dst, x, ch, in, k
	parallel.ForChunks(n*(in[0]/k[0])*(in[1]/k[1])*(in[2]/k[2]), 8, j.fn)
	j.dst, j.x = nil, nil
	patchPool.Put(j)
}

// patchJob is one Patches call, pooled with its loop body bound so that a
// call allocates nothing (inference passes are allocation-free).
type patchJob struct {
	dst, x []float32
	ch     int
	in, k  [3]int
	fn     func(lo, hi int)
}

var patchPool = sync.Pool{New: func() any {
	j := &patchJob{}
	j.fn = j.rows
	return j
}}

// rows gathers patch rows [lo, hi).
func (j *patchJob) rows(lo, hi int) {
	in, k := j.in, j.k
	gh, gw := in[1]/k[1], in[2]/k[2]
	np := in[0] / k[0] * gh * gw
	dim := j.ch * k[0] * k[1] * k[2]
	for r := lo; r < hi; r++ {
		s, t := r/np, r%np
		i, jj, l := t/(gh*gw), t/gw%gh, t%gw
		row := j.dst[r*dim : (r+1)*dim]
		o := 0
		for c := range j.ch {
			base := ((s*j.ch+c)*in[0]+i*k[0])*in[1]*in[2] + jj*k[1]*in[2] + l*k[2]
			for d := range k[0] {
				for h := range k[1] {
					off := base + (d*in[1]+h)*in[2]
					o += copy(row[o:o+k[2]], j.x[off:off+k[2]])
				}
			}
		}
	}
}

// PatchRows reads the rows Patches would write, one piece at a time
// (gemm.RowSource): a ViT's patch embedding multiplies them without
// storing the n·gd·gh·gw × ch·k³ matrix (14 MB at ViT-B/16).
type PatchRows struct {
	X     []float32 // (n, Ch, In[0], In[1], In[2])
	Ch    int
	In, K [3]int
}

// ReadRow writes values [k0, k0+len(dst)) of patch row r (Patches's
// order) into dst.
func (p *PatchRows) ReadRow(dst []float32, r, k0 int) {
	in, k := p.In, p.K
	gh, gw := in[1]/k[1], in[2]/k[2]
	np := in[0] / k[0] * gh * gw
	s, t := r/np, r%np
	i, jj, l := t/(gh*gw), t/gw%gh, t%gw
	base := s*p.Ch*in[0]*in[1]*in[2] + i*k[0]*in[1]*in[2] + jj*k[1]*in[2] + l*k[2]
	run, at := k0/k[2], k0%k[2] // the first run (c, kd, kh) of k[2] values
	h, d, c := run%k[1], run/k[1]%k[0], run/(k[1]*k[0])
	for o := 0; o < len(dst); {
		off := base + ((c*in[0]+d)*in[1]+h)*in[2] + at
		o += copy(dst[o:], p.X[off:off+k[2]-at])
		at = 0
		if h++; h == k[1] {
			h = 0
			if d++; d == k[0] {
				d = 0
				c++
			}
		}
	}
}
