package gemm

import (
	"sync"

	"github.com/metasurv/metasurv/internal/cpu"
	"github.com/metasurv/metasurv/internal/parallel"
)

// A product x·Wᵀ whose x is gathered from somewhere else (a ViT's patch
// embedding: each row of x is one patch of the image, ch·p³ values taken
// as runs of p from the volume). Stored first, x is a 14 MB matrix at
// ViT-B/16 (216 × 16384 floats) written to memory and read back once by
// the weights-stationary scheme's packing of xᵀ. Read through a
// RowSource, each sliver of rows (float32) or row (bfloat16) is gathered
// into a small staging buffer in L2 right before it is packed, and x is
// never stored.

// RowSource supplies the rows of the left operand x of SgemmSource.
type RowSource interface {
	// ReadRow writes x[i][k0 : k0+len(dst)] into dst. It is called from
	// the pool's workers, concurrently for different rows.
	ReadRow(dst []float32, i, k0 int)
}

// SourceApplies reports whether SgemmSource (bf16 false) or
// SgemmBF16Source (bf16 true) runs for m rows of x and n outputs on this
// machine: the weights-stationary scheme's shapes.
func SourceApplies(m, n int, bf16 bool) bool {
	if m <= 0 || n <= m || m > maxRowsAM {
		return false
	}
	if bf16 {
		return HaveBF16() && haveTranspose
	}
	return pairScheme()
}

// SgemmSource computes C (m×n, stride ldc) = ep(x·Wᵀ) with W n×k (stride
// ldw) and the rows of x (m×k) read through src: the bits of
// SgemmEx(false, true, m, n, k, 1, x, k, W, ldw, 0, C, ldc, ep). It
// returns false, having done nothing, when SourceApplies(m, n, false) is
// false or k is 0; it panics on invalid arguments.
func SgemmSource(m, n, k int, src RowSource, w []float32, ldw int, c []float32, ldc int, ep *Epilogue) bool {
	if !SourceApplies(m, n, false) || k == 0 || src == nil {
		return false
	}
	checkDims(m, n, k)
	checkMatrix("W", "ldw", true, k, n, w, ldw)
	checkMatrix("C", "ldc", false, m, n, c, ldc)
	checkEpilogue(ep, m, n, ldc)
	bl := blockingFor(cpu.Current())
	j := getJob()
	j.op = operands{transB: true, m: m, n: n, k: k, alpha: 1, lda: k, b: w, ldb: ldw, c: c, ldc: ldc, ep: ep}
	j.bl, j.src = bl, src
	if !j.op.useRowsA(bl) { // SourceApplies's conditions: cannot happen
		j.src = nil
		putJob(j)
		return false
	}
	j.runRowsA(parallel.Workers())
	j.src = nil
	putJob(j)
	return true
}

// srcPool holds the staging buffers of the gathered rows.
var srcPool = sync.Pool{New: func() any { return new([]float32) }}

// packXTSource packs the sliver of xᵀ at (k0, j0), kb deep, into dst:
// the sliver's rows (at most NR tokens) gathered through j.src into a
// staging buffer, then transposed by packB as from a stored x.
func (j *job) packXTSource(dst []float32, k0, j0, kb int) {
	op, bl := &j.op, j.bl
	nw := min(bl.nr, op.m-j0)
	p := srcPool.Get().(*[]float32)
	*p = growAligned(*p, nw*kb)
	st := *p
	for r := range nw {
		j.src.ReadRow(st[r*kb:(r+1)*kb], j0+r, k0)
	}
	packB(dst, st, kb, true, 0, 0, kb, nw, bl.nr)
	srcPool.Put(p)
}

// SgemmBF16Source is SgemmSource in bfloat16, with the bits of
// SgemmBF16(false, true, m, n, k, 1, x, k, W, ldw, 0, C, ldc, ep): each
// row of x is gathered into a staging buffer and rounded from there. It
// returns false, having done nothing, when SourceApplies(m, n, true) is
// false or k is 0.
func SgemmBF16Source(m, n, k int, src RowSource, w []float32, ldw int, c []float32, ldc int, ep *Epilogue) bool {
	if !SourceApplies(m, n, true) || k == 0 || src == nil {
		return false
	}
	checkDims(m, n, k)
	checkMatrix("W", "ldw", true, k, n, w, ldw)
	checkMatrix("C", "ldc", false, m, n, c, ldc)
	checkEpilogue(ep, m, n, ldc)
	op := &bfOp{m: m, n: n, k: k, transB: true, alpha: 1, lda: k, b: w, ldb: ldw, c: c, ldc: ldc, ep: ep, src: src}
	if !op.useRowsA() { // SourceApplies's conditions: cannot happen
		return false
	}
	op.ks = ceilDiv(k, bfTile)
	op.rowsAChunk()
	return true
}

// roundSourceRow rounds row j of x, gathered through op.src, into row
// (bfloat16, zero past k to whole K steps), as roundX rounds a stored row.
func (op *bfOp) roundSourceRow(row []uint32, j int) {
	p := srcPool.Get().(*[]float32)
	*p = growAligned(*p, op.k)
	op.src.ReadRow((*p)[:op.k], j, 0)
	bf16RowContig(asHalves(&row[0]), &(*p)[0], op.k)
	srcPool.Put(p)
}
