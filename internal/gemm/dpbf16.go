package gemm

import (
	"github.com/metasurv/metasurv/internal/cpu"
)

// The AVX512_BF16 path. CPUs with AVX512_BF16 but no AMX (AMD Zen 4 and
// 5) multiply bfloat16 pairs with VDPBF16PS: each instruction adds
// a(2p)·b(2p) + a(2p+1)·b(2p+1) to 16 float32 lanes, twice the products of
// a float32 FMA. The operands use the AMX packing unchanged (A in 32-row
// blocks of 32×32 steps, B in 32-column slivers of bfloat16 pairs), so
// PackABF16/PackBBF16 results serve both paths; the micro-kernel
// computes 16×16 tiles: a half block of A by a half sliver of B.

// forceDP makes the BF16 GEMMs use the VDPBF16PS kernel even where AMX is
// available (tests of this path on AMX machines).
var forceDP bool

// UsesAMX reports whether the BF16 GEMMs with packed operands run on the
// AMX tile unit here (the weights-stationary SgemmBF16 of rowsa_bf16.go
// always uses VDPBF16PS). Callers that choose between keeping packed
// weights and rounding them per call use it: with AMX the packs are
// several times faster.
func UsesAMX() bool { return HaveBF16() && useAMX() }

// useAMX reports whether the BF16 products run on the AMX tile unit:
// present, permitted by the operating system, and not overridden.
func useAMX() bool {
	if forceDP {
		return false
	}
	if !cpu.Extensions().AMXBF16 {
		return EmulatesAMX()
	}
	amxOnce.Do(func() { amxOK = amxPermit() })
	return amxOK
}

// dpWide selects the 8×32 micro-kernel (one broadcast of A serves both
// halves of a B sliver) over the 16×16 one.
var dpWide = true

// dpColumns8 is dpColumns with 8×32 tiles.
func (op *bfOp) dpColumns8(lo, hi int) {
	step := op.ks * bfTile * bfTile
	rbs := ceilDiv(op.m, bfTile)
	w := bfPool.Get().(*bfWorker)
	defer bfPool.Put(w)
	var bsl []uint32
	if op.pb == nil {
		w.b = grow(w.b, step/2)
		bsl = w.b
	}
	const q = bfTile / 4
	w.t = grow(w.t, q*bfTile)
	tmp := w.t
	// Whole 8×32 tiles stored straight into C (beta 0, m a multiple of
	// 8, n of 32): the epilogue runs in the kernel's registers.
	fused := bfFuseDP && op.ep != nil && op.beta == 0 && op.m%q == 0 && op.n%bfTile == 0 && canFuseStore(op.ep, op.c)
	for sb := lo; sb < hi; sb++ {
		var bs []uint32
		if op.pb != nil {
			bs = op.pb.b[sb*step/2:]
		} else {
			bs = bsl
			op.packBSliverFor(bs, sb, w)
		}
		j0 := sb * bfTile
		nw := min(bfTile, op.n-j0)
		if fused {
			op.dpSliverFused(bs, j0)
			continue
		}
		for rb := range rbs {
			for rq := range 4 {
				i0 := rb*bfTile + rq*q
				if i0 >= op.m {
					break
				}
				mh := min(q, op.m-i0)
				a := &op.abuf[rb*step+rq*q*bfTile]
				if op.beta == 0 && mh == q && nw == bfTile {
					_ = op.c[(i0+q-1)*op.ldc+j0+bfTile-1]
					dpbf16Kern8x32(op.ks, a, &bs[0], &op.c[i0*op.ldc+j0], op.ldc, 0)
				} else {
					dpbf16Kern8x32(op.ks, a, &bs[0], &tmp[0], bfTile, 0)
					mergeTile(op.c[i0*op.ldc+j0:], op.ldc, tmp, bfTile, mh, nw, op.beta)
				}
			}
		}
		if op.ep != nil { // once per sliver: C's m×32 columns, still in L2
			op.ep.applyTile(op.c, op.ldc, 0, j0, op.m, nw)
		}
	}
}

// bfFuseDP lets dpColumns8 apply an epilogue in the kernel's registers
// (dpbf16Kern8x32E) instead of a pass per sliver over C (tests and
// benchmarks compare).
var bfFuseDP = true

// dpSliverFused is dpColumns8's sliver at column j0 (B sliver bs) when
// every tile is whole: each 8×32 tile is stored with the epilogue
// applied (the same bits as the pass over the stored sliver).
func (op *bfOp) dpSliverFused(bs []uint32, j0 int) {
	const q = bfTile / 4
	step := op.ks * bfTile * bfTile
	ep := op.ep
	var bias *float32
	if ep.Bias != nil {
		_ = ep.Bias[j0+bfTile-1]
		bias = &ep.Bias[j0]
	}
	for i0 := 0; i0 < op.m; i0 += q {
		a := &op.abuf[i0/bfTile*step+i0%bfTile*bfTile]
		_ = op.c[(i0+q-1)*op.ldc+j0+bfTile-1]
		var resid *float32
		if ep.Residual != nil {
			_ = ep.Residual[(i0+q-1)*op.ldc+j0+bfTile-1]
			resid = &ep.Residual[i0*op.ldc+j0]
		}
		dpbf16Kern8x32E(op.ks, a, &bs[0], &op.c[i0*op.ldc+j0], op.ldc, bias, resid, int(ep.Act))
	}
}

// dpColumns computes the column slivers [lo, hi) of C. Each sliver's B
// (packed here unless pre-packed) stays in cache while every row block of
// A passes over it; full 16×16 tiles with beta 0 are stored straight into
// C, the others through a tile buffer merged with beta.
func (op *bfOp) dpColumns(lo, hi int) {
	step := op.ks * bfTile * bfTile
	rbs := ceilDiv(op.m, bfTile)
	w := bfPool.Get().(*bfWorker)
	defer bfPool.Put(w)
	var bsl []uint32
	if op.pb == nil {
		w.b = grow(w.b, step/2)
		bsl = w.b
	}
	w.t = grow(w.t, 16*16)
	tmp := w.t
	const h = bfTile / 2
	for sb := lo; sb < hi; sb++ {
		var bs []uint32
		if op.pb != nil {
			bs = op.pb.b[sb*step/2:]
		} else {
			bs = bsl
			op.packBSliverFor(bs, sb, w)
		}
		for rb := range rbs {
			for rh := range 2 {
				i0 := rb*bfTile + rh*h
				if i0 >= op.m {
					break
				}
				mh := min(h, op.m-i0)
				a := &op.abuf[rb*step+rh*h*bfTile]
				for ch := range 2 {
					j0 := sb*bfTile + ch*h
					if j0 >= op.n {
						break
					}
					nw := min(h, op.n-j0)
					if op.beta == 0 && mh == h && nw == h {
						_ = op.c[(i0+h-1)*op.ldc+j0+h-1]
						dpbf16Kern16(op.ks, a, &bs[ch*h], &op.c[i0*op.ldc+j0], op.ldc, 0)
					} else {
						dpbf16Kern16(op.ks, a, &bs[ch*h], &tmp[0], h, 0)
						mergeTile(op.c[i0*op.ldc+j0:], op.ldc, tmp, h, mh, nw, op.beta)
					}
					if op.ep != nil {
						op.ep.applyTile(op.c, op.ldc, i0, j0, mh, nw)
					}
				}
			}
		}
	}
}
