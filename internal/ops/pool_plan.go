package ops

import (
	"math"
	"sync"
)

// maxPlan is the geometry of the vector max pool of one channel, shared by
// every channel and every call with the same input size and window. See
// maxPoolAVX512 for the layout of rows and blocks.
type maxPlan struct {
	rows, blocks                   []int32
	blockBytes, tapBytes, rowBytes int
	consts                         [48]int32
}

// lanes is the vector width of the pooling kernels, in float32.
const lanes = 16

// newMaxPlan builds the plan of a normalized pool, or returns nil when the
// vector kernel does not cover it (a stride along W above 2, or a channel
// too large for int32 offsets).
func newMaxPlan(in, out [3]int, p Pool, ax *[3]poolAxis) *maxPlan {
	s := p.Stride[2]
	if s > 2 || vol(in) > math.MaxInt32-4*lanes {
		return nil
	}
	pl := &maxPlan{}
	ad, ah := &ax[0], &ax[1]
	for od, d0 := range ad.first {
		for oh, h0 := range ah.first {
			n := ad.n[od] * ah.n[oh]
			pl.rows = append(pl.rows, int32((n+1)/2), int32(n/2))
			for i := range ad.n[od] {
				for j := range ah.n[oh] {
					pl.rows = append(pl.rows, int32(((d0+i*ad.dil)*in[1]+h0+j*ah.dil)*in[2]))
				}
			}
		}
	}
	w, k, pad, dil := in[2], p.Kernel[2], p.Pad[2], p.Dilation[2]
	nb := (out[2] + lanes - 1) / lanes
	for b := range nb {
		ow0 := b * lanes
		n := min(lanes, out[2]-ow0)
		pl.blocks = append(pl.blocks, int32(1)<<n-1)
		for kw := range k {
			off := s*ow0 - pad + kw*dil
			var lane, load uint32
			for j := range n {
				if e := off + s*j; e >= 0 && e < w {
					lane |= 1 << j
				}
			}
			for e := range s*(n-1) + 1 {
				if off+e >= 0 && off+e < w {
					load |= 1 << e
				}
			}
			pl.blocks = append(pl.blocks, int32(off), int32(load&0xffff), int32(load>>16), int32(lane))
		}
	}
	pl.blockBytes, pl.tapBytes, pl.rowBytes = nb*4*lanes, 16*k, 4*out[2]
	for j := range lanes {
		pl.consts[j] = int32(s * j)
		pl.consts[lanes+j] = int32(s * j)
		pl.consts[2*lanes+j] = math.MinInt32
	}
	return pl
}

// poolPlan is everything a max pool precomputes from its geometry: the
// tap ranges of every axis for the Go path and, when the vector kernel
// covers the window, its plan.
type poolPlan struct {
	ax  [3]poolAxis
	vec *maxPlan
}

// planKey identifies a cached plan: its kind, the input size, the
// normalized window and (adaptive pooling) the output size.
type planKey struct {
	kind    planKind
	in, out [3]int
	p       Pool
}

// planKind tells the cached plans apart.
type planKind uint8

const (
	maxKind planKind = iota
	avgKind
	adaptiveKind
)

// plans caches pooling plans, so that a training loop calling the same
// pooling every step builds its plan once and allocates nothing after. It
// is emptied when it grows past maxPlans entries.
var plans struct {
	sync.Mutex
	m map[planKey]any
}

const maxPlans = 64

// cached returns the plan of key, building it with build on a miss.
func cached[T any](key planKey, build func() *T) *T {
	plans.Lock()
	defer plans.Unlock()
	if pl, ok := plans.m[key]; ok {
		return pl.(*T)
	}
	if plans.m == nil || len(plans.m) >= maxPlans {
		plans.m = make(map[planKey]any)
	}
	pl := build()
	plans.m[key] = pl
	return pl
}

// planFor returns the plan of a normalized max pool with output size out.
func planFor(in, out [3]int, p Pool) *poolPlan {
	return cached(planKey{maxKind, in, out, p}, func() *poolPlan {
		pl := &poolPlan{}
		for a := range 3 {
			pl.ax[a] = p.axis(a, out[a], in[a])
		}
		pl.vec = newMaxPlan(in, out, p, &pl.ax)
		return pl
	})
}
