package ops

import (
	"math"
	"sync"

	"github.com/metasurv/metasurv/internal/parallel"
)

// boxAxis lists, for every output position on one axis, the input range
// [lo, hi) its averaging window covers and its factor of the divisor.
type boxAxis struct{ lo, hi, size []int }

// boxPlan is the separable geometry of an average pooling: one boxAxis
// per spatial axis.
type boxPlan [3]boxAxis

// avgPlan is the cached box plan of AvgPool3d (torch's divisor rules).
func (p Pool) avgPlan(in, out [3]int) *boxPlan {
	return cached(planKey{avgKind, in, out, p}, func() *boxPlan { return p.newAvgPlan(in, out) })
}

// newAvgPlan builds avgPlan.
func (p Pool) newAvgPlan(in, out [3]int) *boxPlan {
	var bp boxPlan
	for a := range 3 {
		bp[a] = boxAxis{make([]int, out[a]), make([]int, out[a]), make([]int, out[a])}
		for o := range out[a] {
			bp[a].lo[o], bp[a].hi[o], bp[a].size[o] = p.avgRange(a, o, in[a])
		}
	}
	return &bp
}

// adaptivePlan is the cached box plan of AdaptiveAvgPool3d.
func adaptivePlan(in, out [3]int) *boxPlan {
	return cached(planKey{adaptiveKind, in, out, Pool{}}, func() *boxPlan { return newAdaptivePlan(in, out) })
}

// newAdaptivePlan builds adaptivePlan.
func newAdaptivePlan(in, out [3]int) *boxPlan {
	var bp boxPlan
	for a := range 3 {
		bp[a] = boxAxis{make([]int, out[a]), make([]int, out[a]), make([]int, out[a])}
		for o := range out[a] {
			lo, hi := adaptiveRange(o, out[a], in[a])
			bp[a].lo[o], bp[a].hi[o], bp[a].size[o] = lo, hi, hi-lo
		}
	}
	return &bp
}

// boxScratch holds per-worker buffers of the separable average pooling.
var boxScratch = sync.Pool{New: func() any { return new([]float32) }}

// boxPool averages (or, backward, spreads gradients over) the boxes of bp
// on nc channels, separably: for each output row, the sum of the input
// rows of its (D, H) window first (whole-row additions), then the sums
// along W of that one row.
func boxPool(y, x []float32, nc int, in, out [3]int, bp *boxPlan, backward bool) {
	sIn, sOut := vol(in), vol(out)
	parallel.ForChunks(nc, 1, func(lo, hi int) {
		buf := boxScratch.Get().(*[]float32)
		if cap(*buf) < in[2] {
			*buf = make([]float32, in[2])
		}
		row := (*buf)[:in[2]]
		for c := lo; c < hi; c++ {
			xc, yc := x[c*sIn:(c+1)*sIn], y[c*sOut:(c+1)*sOut]
			if backward {
				boxSpread(xc, yc, row, in, out, bp)
			} else {
				boxMean(yc, xc, row, in, out, bp)
			}
		}
		boxScratch.Put(buf)
	})
}

// boxMean sets yc to the box means of one channel xc; row is scratch for
// one input row.
func boxMean(yc, xc, row []float32, in, out [3]int, bp *boxPlan) {
	w, wo := in[2], out[2]
	ad, ah, aw := &bp[0], &bp[1], &bp[2]
	o := 0
	for od := range out[0] {
		for oh := range out[1] {
			clear(row)
			for d := ad.lo[od]; d < ad.hi[od]; d++ {
				for h := ah.lo[oh]; h < ah.hi[oh]; h++ {
					addRow(row, xc[(d*in[1]+h)*w:])
				}
			}
			sdh := ad.size[od] * ah.size[oh]
			for ow, y := range yc[o : o+wo] {
				var s float32
				for i := aw.lo[ow]; i < aw.hi[ow]; i++ {
					s += row[i]
				}
				if div := float32(sdh * aw.size[ow]); div != 0 {
					y = s / div
				} else {
					y = float32(math.NaN())
				}
				yc[o+ow] = y
			}
			o += wo
		}
	}
}

// boxSpread sets dxc to the gradient of boxMean for the output gradient
// dyc: every dy divided by its divisor and added to each cell of its box,
// spread along W into the scratch row first.
func boxSpread(dxc, dyc, row []float32, in, out [3]int, bp *boxPlan) {
	w, wo := in[2], out[2]
	ad, ah, aw := &bp[0], &bp[1], &bp[2]
	clear(dxc)
	o := 0
	for od := range out[0] {
		for oh := range out[1] {
			clear(row)
			sdh := ad.size[od] * ah.size[oh]
			for ow, dy := range dyc[o : o+wo] {
				g := dy / float32(sdh*aw.size[ow])
				for i := aw.lo[ow]; i < aw.hi[ow]; i++ {
					row[i] += g
				}
			}
			for d := ad.lo[od]; d < ad.hi[od]; d++ {
				for h := ah.lo[oh]; h < ah.hi[oh]; h++ {
					addRow(dxc[(d*in[1]+h)*w:(d*in[1]+h+1)*w], row)
				}
			}
			o += wo
		}
	}
}

// addRowGo adds src[:len(dst)] to dst: the portable addRow.
func addRowGo(dst, src []float32) {
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] += v
	}
}
