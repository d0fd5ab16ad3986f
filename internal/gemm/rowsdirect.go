package gemm

import "math"

// The in-place-A scheme of SgemmSerial: C = alpha·A·op(B) with A read in
// place by the rowsA micro-kernel (each step broadcasts one float of 7
// consecutive rows of A) and only op(B) packed, one sliver of NR columns
// at a time; the kernel's tile is a 7×NR block of C itself, so unlike the
// weights-stationary scheme (rowsa.go) nothing is transposed. It serves
// attention's per-head products, 216×216×64 (Q·Kᵀ, Q read from the packed
// QKV rows) and 216×64×216 (P·V, P the softmax rows): the blocked scheme
// packs Q and the 216×216 P as A slivers on every head.
//
// The blocked scheme scales A while packing it; this one folds alpha into
// op(B), which gives the same bits only when alpha is a power of two (a
// head dimension of 64 gives a scale of 1/8), so other alphas keep the
// blocked scheme. The k blocks are the blocked scheme's (bl.kc), merged
// into C in the same order, so each element is the same chain of FMAs.

// inPlaceA reports whether SgemmSerial runs op by the in-place-A scheme.
func (op *operands) inPlaceA(bl *blocking) bool {
	return bl.rowsA != nil && avx512Asm() && !op.transA && op.pa == nil && op.pb == nil && op.ep == nil &&
		op.beta == 0 && op.m >= bl.rowsAMR && op.k > 0 && pow2(op.alpha) && (op.alpha == 1 || op.transB) &&
		!op.useRowsA(bl) // Sgemm's weights-stationary scheme has its own k blocks
}

// pow2 reports whether x is ±2^e for a normal exponent: scaling by it is
// exact (barring overflow and underflow, which the blocked scheme's
// scaling of A would meet as well).
func pow2(x float32) bool {
	b := math.Float32bits(x)
	e := b >> 23 & 0xff
	return b&(1<<23-1) == 0 && e != 0 && e != 0xff
}

// runInPlaceA runs op by the in-place-A scheme on the calling goroutine.
func (op *operands) runInPlaceA(bl *blocking) {
	s := getScratch()
	nr, mr7 := bl.nr, bl.rowsAMR
	full := op.m / mr7 * mr7 // rows read in place; the rest are packed
	kc := bl.kc
	// The scratch of the blocked scheme holds an A block (mc×kc), a B panel
	// (kc×nc) and a tile (mr×nr): room for one sliver of each here.
	sa, sb, st := s.a[:kc*bl.mr], s.b[:kc*nr], s.t[:bl.mr*nr]
	for pc := 0; pc < op.k; pc += kc {
		kb := min(kc, op.k-pc)
		beta := float32(0)
		if pc > 0 {
			beta = 1
		}
		_ = op.a[(full-1)*op.lda+pc+kb-1] // the kernel reads kb floats of each row
		if full < op.m {
			packA(sa, op.a, op.lda, false, 1, full, pc, op.m-full, kb, bl.mr)
		}
		for j0 := 0; j0 < op.n; j0 += nr {
			nw := min(nr, op.n-j0)
			op.packBSliver(sb, pc, j0, kb, nw, nr)
			kern, width := bl.rowsA, nr
			if nw <= nr-8 && bl.rowsATail != nil {
				kern, width = bl.rowsATail, nr-8
			}
			b := &sb[0]
			if nw == width { // the kernel's tile fits C
				_ = op.c[(full-1)*op.ldc+j0+nw-1]
				for r := 0; r < full; r += mr7 {
					kern(kb, &op.a[r*op.lda+pc], op.lda, b, &op.c[r*op.ldc+j0], op.ldc, beta)
				}
			} else {
				for r := 0; r < full; r += mr7 {
					op.tileIn(st, nr, mr7, nw, r, j0, beta)
					kern(kb, &op.a[r*op.lda+pc], op.lda, b, &st[0], nr, beta)
					op.tileOut(st, nr, mr7, nw, r, j0)
				}
			}
			if full < op.m {
				op.tileIn(st, nr, op.m-full, nw, full, j0, beta)
				bl.kern(kb, &sa[0], b, &st[0], nr, beta)
				op.tileOut(st, nr, op.m-full, nw, full, j0)
			}
		}
	}
	putScratch(s)
}

// packBSliver packs the kb×nw block of alpha·op(B) at (pc, j0) as one
// sliver of nr columns (zeros past nw).
func (op *operands) packBSliver(dst []float32, pc, j0, kb, nw, nr int) {
	if op.transB && op.alpha != 1 {
		_ = op.b[(j0+nw-1)*op.ldb+pc+kb-1]
		transposeSliver(dst, op.b[j0*op.ldb+pc:], op.ldb, nw, nr, kb, op.alpha)
		return
	}
	packB(dst, op.b, op.ldb, op.transB, pc, j0, kb, nw, nr)
}

// tileIn starts a kernel call whose tile (rows×nw of C at (i0, j0)) does
// not fit C on the scratch tile t (rows ldt apart, bl.mr of them): when
// the call merges (beta ≠ 0), C's block is copied in.
func (op *operands) tileIn(t []float32, ldt, rows, nw, i0, j0 int, beta float32) {
	if beta == 0 {
		return
	}
	for i := range rows {
		copy(t[i*ldt:i*ldt+nw], op.c[(i0+i)*op.ldc+j0:])
	}
}

// tileOut copies the rows×nw block of the scratch tile back to C.
func (op *operands) tileOut(t []float32, ldt, rows, nw, i0, j0 int) {
	for i := range rows {
		copy(op.c[(i0+i)*op.ldc+j0:(i0+i)*op.ldc+j0+nw], t[i*ldt:])
	}
}
