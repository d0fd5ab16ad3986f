package conv

import (
	"github.com/metasurv/metasurv/internal/gemm"
	"github.com/metasurv/metasurv/internal/parallel"
)

// The channel-vector direct forward, for groups of a multiple of 64 output
// channels. ocKern64x6 holds 6 consecutive outputs of one output row × 64
// output channels in registers: the weights of a (channel, tap) step are
// four aligned vectors and each input value is a broadcast, so no load
// crosses a cache line (the 8×48 kernel's shifted rows mostly do), and the
// tiles follow the output rows: no grid position outside the output is
// computed except up to 5 at the end of a row. The weights are cut into K
// blocks of up to 56 KB that a work item's tiles (up to ocItemTiles) run
// over in turn; the [position][channel] accumulators are transposed into
// the output by the final store.
const (
	ocNB, ocNP  = 64, 6
	ocItemTiles = 8
)

// ocWeightBlock bounds the bytes of weights in one K block. Blocks larger
// than L1 measured faster than L1-sized ones (the weights stream in order
// and the prefetcher keeps up; fewer accumulator round trips): 4 instead
// of 2 channels of the stem, 8 instead of 4 of 64x128_k3s2_24.
var ocWeightBlock = 56 << 10

type ocPlan struct {
	perRow int // tiles per output row, ceil(OW/6)
	tiles  int // OD*OH*perRow
	blocks int // output-channel blocks of 64 per group
	tb, cb int // taps and input channels per K block
	per    int // tiles per work item, at most ocItemTiles
	wpk    [][]float32

	// pack state, bound once so that SetWeights allocates nothing
	g       *geometry
	cpk, cw []float32
	packFn  func(lo, hi int)
}

// newOCPlan returns the channel-vector plan for d's geometry, or nil when
// it does not apply (ocg not a multiple of 64) or computes more than the
// 8×48 tiles.
func newOCPlan(d *direct, g *geometry) *ocPlan {
	if g.ocg%ocNB != 0 {
		return nil
	}
	o := &ocPlan{perRow: (g.out[2] + ocNP - 1) / ocNP, blocks: g.ocg / ocNB, tb: d.tb}
	o.tiles = g.out[0] * g.out[1] * o.perRow
	if o.tiles*ocNP > d.blocks*d.per*dirNR {
		return nil
	}
	o.cb = min(g.icg, max(1, ocWeightBlock/(4*ocNB*o.tb)))
	o.per = ocItemTiles
	return o
}

// pack lays out each group's weights as [block][tap block][ic][tap][64].
func (o *ocPlan) pack(g *geometry, w []float32) {
	for len(o.wpk) < g.p.Groups {
		o.wpk = append(o.wpk, make([]float32, g.ocg*g.icg*g.kvol))
	}
	if o.packFn == nil {
		o.packFn = o.packRange
	}
	for gi := range g.p.Groups {
		o.g, o.cpk, o.cw = g, o.wpk[gi], w[gi*g.ocg*g.icg*g.kvol:]
		parallel.ForChunks(o.blocks*(g.kvol/o.tb), 1, o.packFn)
	}
	o.cpk, o.cw = nil, nil
}

// packRange packs the (block, tap block) pairs [lo, hi) of one group.
func (o *ocPlan) packRange(lo, hi int) {
	g, pk, wg := o.g, o.cpk, o.cw
	nj := g.kvol / o.tb
	for bj := lo; bj < hi; bj++ {
		b, j := bj/nj, bj%nj
		for ic := range g.icg {
			dst := pk[((b*nj+j)*g.icg+ic)*o.tb*ocNB:][:o.tb*ocNB]
			for r := range ocNB {
				src := wg[((b*ocNB+r)*g.icg+ic)*g.kvol+j*o.tb:][:o.tb]
				for t, v := range src {
					dst[t*ocNB+r] = v
				}
			}
		}
	}
}

// forwardOC computes the tiles of one (sample, group) after fillPadded.
func (d *direct) forwardOC() {
	o := d.oc
	items := (o.tiles + o.per - 1) / o.per
	parallel.ForChunks(o.blocks*items, 1, d.ocFn)
}

// ocRange runs work items [lo, hi): item i is output-channel block
// i / items and tiles [k·ocItemTiles, (k+1)·ocItemTiles) with k = i % items.
func (d *direct) ocRange(lo, hi int) {
	var tmp [ocItemTiles][ocNP * ocNB]float32
	var q [ocItemTiles]int
	g, o := d.g, d.oc
	items := (o.tiles + o.per - 1) / o.per
	nj := g.kvol / o.tb
	pk := o.wpk[d.curGroup]
	for it := lo; it < hi; it++ {
		b, t0 := it/items, it%items*o.per
		n := min(o.per, o.tiles-t0)
		for k := range n {
			row, c := (t0+k)/o.perRow, (t0+k)%o.perRow
			q[k] = row/g.out[1]*d.plane + row%g.out[1]*d.pad[2] + c*ocNP
		}
		for j := range nj {
			for ic0 := 0; ic0 < g.icg; ic0 += o.cb {
				nc := min(o.cb, g.icg-ic0)
				acc := 0
				if j > 0 || ic0 > 0 {
					acc = 1
				}
				a := &pk[((b*nj+j)*g.icg+ic0)*o.tb*ocNB]
				for k := range n {
					ocKern64x6(a, &d.xp[ic0*d.spP+q[k]], &d.offs[j*o.tb], o.tb, nc, 4*d.spP, &tmp[k][0], acc)
				}
			}
		}
		for k := range n {
			d.storeOC(g, b, t0+k, tmp[k][:])
		}
	}
}

// zeroBias stands for a nil bias in ocStore.
var zeroBias [ocNB]float32

// storeOC writes tile t of output-channel block b ([position][channel]
// accumulators) to the output, applying the epilogue.
func (d *direct) storeOC(g *geometry, b, t int, tile []float32) {
	o, ep, y := d.oc, d.curEp, d.curY
	row, c := t/o.perRow, t%o.perRow
	first := row*g.out[2] + c*ocNP
	np := min(ocNP, g.out[2]-c*ocNP)
	if ep.Residual == nil && ep.Act == gemm.None {
		bias := zeroBias[:]
		if ep.Bias != nil {
			bias = ep.Bias[d.curGroup*g.ocg+b*ocNB:][:ocNB]
		}
		base := d.curYo + b*ocNB*g.outSp + first
		_ = y[base+(ocNB-1)*g.outSp+np-1] // the last float stored
		ocStore(&tile[0], &y[base], 4*g.outSp, np, &bias[0])
		return
	}
	for r := range ocNB {
		oc := b*ocNB + r
		var bias float32
		if ep.Bias != nil {
			bias = ep.Bias[d.curGroup*g.ocg+oc]
		}
		base := d.curYo + oc*g.outSp + first
		dst := y[base : base+np]
		for p := range dst {
			v := tile[p*ocNB+r] + bias
			if ep.Residual != nil {
				v += ep.Residual[base+p]
			}
			switch ep.Act {
			case gemm.ReLU:
				v = max(v, 0)
			case gemm.GELU:
				v = gemm.Gelu(v)
			}
			dst[p] = v
		}
	}
}
