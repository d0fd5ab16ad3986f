package conv

import (
	"sync/atomic"

	"github.com/metasurv/metasurv/internal/gemm"
	"github.com/metasurv/metasurv/internal/parallel"
)

// dwFast is the AVX-512 depthwise path. Each work unit is one input
// channel: it is split into stride phases in a private zero-padded buffer,
// and each of its output channels is computed on the phase grid by dwKern
// (all taps in registers, 128 positions at a time) and copied row by row
// into the output, applying the epilogue. The weight gradient uses the
// same grid with dwDots.
type dwFast struct {
	d     *direct // grid geometry (icg = 1)
	qn    int     // grid length processed: qmax rounded up to 64
	slots [][]float32
	next  atomic.Int64
	units int

	// per-call state
	x, y, w []float32
	ep      *Epilogue
	back    bool // weight gradient: y is dy, w is dw
	fn      func(lo, hi int)
}

func newDWFast(g *geometry) *dwFast {
	d := newDirect(g)
	f := &dwFast{d: d, qn: (d.qmax + 63) &^ 63}
	f.fn = func(lo, hi int) { f.work(g, lo, hi) }
	return f
}

// run processes units (input channels, times samples for the forward pass)
// on per-worker buffers.
func (f *dwFast) run(units int) {
	nw := min(parallel.Workers(), units)
	for len(f.slots) < nw {
		f.slots = append(f.slots, make([]float32, f.d.phases*f.d.spP+f.qn))
	}
	f.units = units
	f.next.Store(0)
	parallel.For(nw, f.fn)
	f.x, f.y, f.w, f.ep = nil, nil, nil, nil
}

func (f *dwFast) work(g *geometry, lo, hi int) {
	for slot := lo; slot < hi; slot++ {
		buf := f.slots[slot]
		xp, grid := buf[:f.d.phases*f.d.spP], buf[f.d.phases*f.d.spP:]
		for {
			u := int(f.next.Add(1)) - 1
			if u >= f.units {
				break
			}
			if f.back {
				f.weightGrad(g, xp, grid, u)
			} else {
				f.forward(g, xp, grid, u)
			}
		}
	}
}

// forward computes the output channels of unit u = n*InC + ic.
func (f *dwFast) forward(g *geometry, xp, grid []float32, u int) {
	n, ic := u/g.p.InC, u%g.p.InC
	f.d.fillChannel(g, xp, 0, f.x[u*g.inSp:(u+1)*g.inSp])
	for oc := ic * g.ocg; oc < (ic+1)*g.ocg; oc++ {
		dwKern(&xp[0], &f.d.offs[0], &f.w[oc*g.kvol], g.kvol, &grid[0], (f.d.qmax+15)&^15)
		base := (n*g.p.OutC + oc) * g.outSp
		var b float32
		if f.ep.Bias != nil {
			b = f.ep.Bias[oc]
		}
		f.eachRow(g, func(q, o int) {
			dst := f.y[base+o : base+o+g.out[2]]
			copy(dst, grid[q:q+g.out[2]])
			if b == 0 && f.ep.Residual == nil && f.ep.Act == gemm.None {
				return
			}
			for i := range dst {
				v := dst[i] + b
				if f.ep.Residual != nil {
					v += f.ep.Residual[base+o+i]
				}
				switch f.ep.Act {
				case gemm.ReLU:
					v = max(v, 0)
				case gemm.GELU:
					v = gemm.Gelu(v)
				}
				dst[i] = v
			}
		})
	}
}

// eachRow calls fn(grid position, output index) for the start of every
// output row.
func (f *dwFast) eachRow(g *geometry, fn func(q, o int)) {
	for od := range g.out[0] {
		for oh := range g.out[1] {
			fn(od*f.d.plane+oh*f.d.pad[2], (od*g.out[1]+oh)*g.out[2])
		}
	}
}

// weightGrad adds the weight gradient of the output channels of input
// channel u (summed over samples) to f.w.
func (f *dwFast) weightGrad(g *geometry, xp, grid []float32, ic int) {
	clear(grid[:f.qn])
	for n := range g.p.N {
		f.d.fillChannel(g, xp, 0, f.x[(n*g.p.InC+ic)*g.inSp:][:g.inSp])
		for oc := ic * g.ocg; oc < (ic+1)*g.ocg; oc++ {
			base := (n*g.p.OutC + oc) * g.outSp
			f.eachRow(g, func(q, o int) { copy(grid[q:q+g.out[2]], f.y[base+o:]) })
			dwDots(&xp[0], &f.d.offs[0], g.kvol, &grid[0], f.qn, &f.w[oc*g.kvol])
		}
	}
}
