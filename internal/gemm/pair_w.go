package gemm

import "github.com/metasurv/metasurv/internal/parallel"

// The fused pair on weights packed by PackWeightsBF16 (a model converted
// to resident bfloat16 weights). Its VDPBF16PS scheme (dpColumns8) is
// x-stationary: x is rounded into A blocks (32 tokens × K steps of 32)
// and each column sliver of 32 outputs meets every block. A sliver of the
// first product's C (m tokens × 32 hidden) after its epilogue is exactly
// one K step of the second product's A blocks, so it is computed into a
// worker buffer (m×32, in L2) instead of C, then rounded into those
// blocks: h is neither stored nor read back and rounded by packABlocks.

// SgemmBF16WPair computes C (m×n, stride ldc) = ep2(h·W2ᵀ) with h =
// ep1(x·W1ᵀ) (x m×k, stride ldx), W1 (h×k) and W2 (n×h) packed by
// PackWeightsBF16: the bits of SgemmBF16W(m, x, ldx, W1, h, h, ep1)
// followed by SgemmBF16W(m, h, h, W2, C, ldc, ep2), without storing h.
// ep1 may hold a bias and an activation only. It returns false, having
// done nothing, where the VDPBF16PS scheme does not run (no AVX512_BF16,
// or the AMX tile unit), when the weights do not chain (W2's inputs are
// not W1's outputs) or ep1 has a residual; it panics on invalid
// arguments.
func SgemmBF16WPair(m int, x []float32, ldx int, w1 *PackedBF16, ep1 *Epilogue, w2 *PackedBF16, c []float32, ldc int, ep2 *Epilogue) bool {
	if !pairFuse || !HaveBF16() || useAMX() || !dpWide || w1 == nil || w2 == nil || !w1.w || !w2.w ||
		w1.m != w2.k || !pairEpilogue(ep1) {
		return false
	}
	h, k, n := w1.m, w1.k, w2.m
	checkDims(m, h, k)
	checkDims(m, n, h)
	checkMatrix("x", "ldx", false, m, k, x, ldx)
	checkMatrix("C", "ldc", false, m, n, c, ldc)
	checkEpilogue(ep1, m, h, h)
	checkEpilogue(ep2, m, n, ldc)
	if m == 0 || k == 0 || h == 0 || n == 0 {
		return false
	}
	call := bfCalls.Get().(*bfCall)
	defer bfCalls.Put(call)
	wx := bfPool.Get().(*bfWorker)
	defer bfPool.Put(wx)
	rbs := ceilDiv(m, bfTile)
	// the first product's A blocks (x rounded), then its slivers into the
	// second's A blocks, then the second product as SgemmBF16W runs it
	call.op = bfOp{m: m, n: h, k: k, ks: w1.ks, alpha: 1, a: x, lda: ldx, pb: w1, ldc: h, ep: ep1}
	wx.a = grow(wx.a, rbs*w1.ks*bfTile*bfTile)
	call.op.abuf = wx.a
	parallel.ForChunks(rbs, 1, call.pack)
	wx.a2 = grow(wx.a2, rbs*w2.ks*bfTile*bfTile)
	call.op2 = bfOp{m: m, n: n, k: h, ks: w2.ks, alpha: 1, pb: w2, c: c, ldc: ldc, ep: ep2, abuf: wx.a2}
	call.op.next = &call.op2
	parallel.ForChunks(ceilDiv(h, bfTile), 1, call.pair)
	call.op = call.op2
	parallel.ForChunks(ceilDiv(n, bfTile), 1, call.dp8)
	call.op, call.op2 = bfOp{}, bfOp{}
	return true
}

// dpColumns8To is dpColumns8 for the first product of SgemmBF16WPair:
// each column sliver (32 outputs) is computed into a worker buffer (m×32)
// with the same kernels and tiles, its epilogue applied there, and the
// sliver rounded into K step sb of op.next's A blocks (zero past the
// outputs, as packABlock pads them). The block rows past m are left as
// they were: a row of A only meets its own row of C, and rows past m are
// not stored.
func (op *bfOp) dpColumns8To(lo, hi int) {
	step, step2 := op.ks*bfTile*bfTile, op.next.ks*bfTile*bfTile
	rbs := ceilDiv(op.m, bfTile)
	w := bfPool.Get().(*bfWorker)
	defer bfPool.Put(w)
	const q = bfTile / 4
	w.t = grow(w.t, rbs*bfTile*bfTile)
	tmp := w.t
	for sb := lo; sb < hi; sb++ {
		bs := op.pb.b[sb*step/2:]
		j0 := sb * bfTile
		nw := min(bfTile, op.n-j0)
		for rb := range rbs {
			for rq := range 4 {
				i0 := rb*bfTile + rq*q
				if i0 >= op.m {
					break
				}
				dpbf16Kern8x32(op.ks, &op.abuf[rb*step+rq*q*bfTile], &bs[0], &tmp[i0*bfTile], bfTile, 0)
			}
		}
		if op.ep != nil {
			ep := Epilogue{Act: op.ep.Act}
			if op.ep.Bias != nil {
				ep.Bias = op.ep.Bias[j0 : j0+nw]
			}
			ep.applyTile(tmp, bfTile, 0, 0, op.m, nw)
		}
		for rb := range rbs {
			dst := op.next.abuf[rb*step2+sb*bfTile*bfTile : rb*step2+(sb+1)*bfTile*bfTile]
			rows := min(bfTile, op.m-rb*bfTile)
			bf16BlockSteps(&dst[0], &tmp[rb*bfTile*bfTile], bfTile, rows, nw)
		}
	}
}
