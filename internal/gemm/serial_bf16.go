package gemm

import (
	"sync"
	"unsafe"
)

// SgemmBF16Serial is SgemmBF16 (without an epilogue) on the calling
// goroutine only: for callers that already run one product per worker,
// such as attention's heads, where SgemmBF16's parallel loops would only
// queue jobs the busy workers never take. It always runs the blocked
// scheme (A rounded into row blocks, B slivers rounded one at a time
// into the worker's buffer), on the AMX tile unit where present, else
// with VDPBF16PS, so its bits equal SgemmBF16's whenever SgemmBF16 does
// not take the weights-stationary scheme (see useRowsA). It panics on
// invalid arguments like Sgemm, and with ErrNoBF16 when HaveBF16 is
// false. After warm-up a call allocates nothing.
func SgemmBF16Serial(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if !HaveBF16() {
		panic(ErrNoBF16)
	}
	checkDims(m, n, k)
	checkMatrix("A", "lda", transA, m, k, a, lda)
	checkMatrix("B", "ldb", transB, k, n, b, ldb)
	checkMatrix("C", "ldc", false, m, n, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		scaleC(&operands{m: m, n: n, beta: beta, c: c, ldc: ldc})
		return
	}
	op := serialOps.Get().(*bfOp)
	defer serialOps.Put(op)
	*op = bfOp{m: m, n: n, k: k, ks: ceilDiv(k, bfTile), transA: transA, alpha: alpha, a: a, lda: lda, transB: transB, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc}
	rbs, sbs := ceilDiv(m, bfTile), ceilDiv(n, bfTile)
	w := bfPool.Get().(*bfWorker)
	defer bfPool.Put(w)
	w.a = grow(w.a, rbs*op.ks*bfTile*bfTile)
	op.abuf = w.a
	op.packABlocks(0, rbs)
	switch {
	case useAMX():
		op.columns(0, sbs)
	case dpWide:
		op.dpColumns8(0, sbs)
	default:
		op.dpColumns(0, sbs)
	}
	*op = bfOp{}
}

// serialOps pools SgemmBF16Serial's call state (its methods would make a
// local bfOp escape).
var serialOps = sync.Pool{New: func() any { return new(bfOp) }}

// packBSliverFor packs column sliver sb of op(B) into dst like
// packBSliver. A transposed B (the Kᵀ of attention's Q·Kᵀ, a Linear's Wᵀ)
// is rounded row by row with VCVTNE2PS2BF16 into w.p and the rows of
// pairs transposed 16 at a time by the AVX-512 transpose (as rowsA packs
// xᵀ) instead of pair by pair in Go: the same values (the transpose
// moves pairs as float32 lanes multiplied by 1, which only makes a
// signalling NaN quiet, so a pair of a bfloat16 infinity and a nonzero
// low half reads as a NaN).
func (op *bfOp) packBSliverFor(dst []uint32, sb int, w *bfWorker) {
	if !op.transB || !haveTranspose {
		packBSliver(dst, op.b, op.ldb, op.transB, sb*bfTile, op.n, op.k)
		return
	}
	kp := op.ks * bfTile / 2
	w.p = grow(w.p, bfTile*kp)
	j0 := sb * bfTile
	for j := range bfTile {
		row := w.p[j*kp : (j+1)*kp]
		if j0+j >= op.n {
			clear(row)
			continue
		}
		bf16RowContig(asHalves(&row[0]), &op.b[(j0+j)*op.ldb], op.k)
	}
	_ = dst[kp*bfTile-1]
	for l0 := 0; l0 < bfTile; l0 += 16 {
		transposePack(asFloats(&dst[l0]), asFloats(&w.p[l0*kp]), kp, kp, bfTile, 16, 0xffff, 1)
	}
}

// asHalves views a bfloat16 pair as its two halves, for bf16Row.
func asHalves(p *uint32) *uint16 { return (*uint16)(unsafe.Pointer(p)) }
