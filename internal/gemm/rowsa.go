package gemm

import (
	"unsafe"

	"github.com/metasurv/metasurv/internal/parallel"
)

// The weights-stationary scheme. A linear layer y = x·Wᵀ on a few hundred
// tokens is Sgemm(false, true, m = tokens, n = outputs, k = inputs) with a
// large B = Wᵀ (W stored n×k) and a small A = x. The blocked algorithm packs
// B on every call: a pass over all the weights (for the LaMIM encoder 2 GB
// per forward pass, a quarter of its CPU time on a loaded host), and
// keeping packed copies instead would double the memory. This scheme computes the transposed product
// Cᵀ = W·xᵀ instead: W is read in place as the A operand of the rowsA
// micro-kernel (each step broadcasts one float of mr consecutive rows of
// W, which are contiguous streams), only the small xᵀ is packed (as B
// slivers of NR tokens), and the Cᵀ tiles, accumulated over the k blocks
// in a per-worker buffer, are transposed into C by the AVX-512 transpose
// (which applies alpha) before the epilogue runs on them. Work items are
// bands of output columns (rows of W), handed out dynamically (guided).

// maxRowsAM bounds the tokens (m) of the scheme: a worker's Cᵀ buffer is
// (rowsABand + MR) × m floats (≤ 260 KB, in L2 with the band's k block of
// W and an xᵀ sliver).
const maxRowsAM = 512

// rowsAKC is the k block of the scheme for token-sized products (m ≥
// rowsALongM: a transformer's Linear layers), four times the blocked
// scheme's: each W row is read in 4 KB runs (longer streams for the
// hardware prefetcher) and a band's Cᵀ tiles are merged a quarter as
// often. A band's k block of W (112×1024 floats, 458 KB) and one xᵀ
// sliver (128 KB) stay in Zen 4's 1 MB L2. In interleaved runs on a
// loaded host it gave 3–9 % more GFLOP per CPU-second than 256 on the
// LaMIM and ViT-B shapes (216 tokens, k 768 to 16384); 512 about half
// of that, 4096 no more.
const rowsAKC = 1024

// rowsALongM is the fewest rows (tokens) that get rowsAKC. Smaller
// products (a CNN's weight gradients over a small batch, classifier
// heads) keep the level's KC and so their rounding of before: the
// one-step descent check of a small SENet's training test
// (cnn.TestTrainingSteps) is sensitive to it.
const rowsALongM = 128

// rowsABand is the rows of W (outputs) per work item: whole cache lines of
// C per transposed row, and a multiple of the rowsA kernels' rows.
const rowsABand = 112

// rowsAKernel is a microKernel that reads A in place: row i of the
// sliver at a + i·lda (see asm/gen.go). Its tile has blocking.rowsAMR
// rows: seven at AVX-512, because rows of a weight matrix whose stride is
// a multiple of 4 KB (hidden sizes 1024, 2048, …) fall in one set of the
// 8-way L1 cache, and fourteen such rows evict each other on every step
// (68–71 GFLOP per CPU-second against 100 with a padded stride).
type rowsAKernel func(k int, a *float32, lda int, b, c *float32, ldc int, beta float32)

// A last sliver of tokens with at most NR-8 columns (216 tokens: 24 of
// 32) runs blocking.rowsATail, whose tile is 8 columns narrower: a
// quarter less work on that sliver, 3.6 % of the LaMIM encoder's products.

// useRowsA reports whether op runs the weights-stationary scheme: x·Wᵀ
// with few rows and more outputs than rows, C overwritten (beta 0), at a
// level with the rowsA kernel and the AVX-512 transpose.
func (op *operands) useRowsA(bl *blocking) bool {
	return bl.rowsA != nil && avx512Asm() && !op.transA && op.transB && op.pa == nil && op.pb == nil &&
		op.beta == 0 && op.m <= maxRowsAM && op.n > op.m
}

// runRowsA runs the weights-stationary scheme on w workers.
func (j *job) runRowsA(w int) {
	j.setXT()
	j.packAllXT(w)
	j.runBands(w)
}

// setXT sizes the packed xᵀ and sets its k block.
func (j *job) setXT() {
	op, bl := &j.op, j.bl
	j.mpad = roundUp(op.m, bl.nr)
	j.xt = growAligned(j.xt, op.k*j.mpad)
	j.kc = bl.kc
	if op.m >= rowsALongM {
		j.kc = rowsAKC
	}
}

// packAllXT packs xᵀ on w workers.
func (j *job) packAllXT(w int) {
	if slivers := ceilDiv(j.op.k, j.kc) * (j.mpad / j.bl.nr); w == 1 {
		j.packXT(0, slivers)
	} else {
		parallel.ForChunks(slivers, 1, j.packXTFn)
	}
}

// runBands computes the bands of outputs on w workers, xᵀ packed.
func (j *job) runBands(w int) {
	op := &j.op
	j.nextBand.Store(0)
	if w == 1 || op.m*op.n*op.k < minParallelWork {
		j.workers = 1
		j.rowsABands(0, 1)
		return
	}
	j.workers = w
	parallel.For(w, j.rowsAFn)
}

// nextRows hands out the next band of outputs, [r0, r0+rows), or rows 0
// when none is left. Bands are rowsABand outputs while at least 2·w
// full bands remain, then halve down to rowsAMinBand (guided
// scheduling): the last band a worker takes is short, so the workers
// finish within a short band of each other instead of up to a full one
// (or two: ForChunks over 55 bands hands out pairs), on every call —
// ~1 ms of one core per LaMIM product otherwise.
func (j *job) nextRows() (r0, rows int) {
	n := j.op.n
	for {
		at := j.nextBand.Load()
		r0 = int(at)
		if r0 >= n {
			return r0, 0
		}
		rows = rowsABand
		for rows > rowsAMinBand && (n-r0) < 2*j.workers*rows {
			rows /= 2
		}
		rows = min(rows, n-r0)
		if j.nextBand.CompareAndSwap(at, int64(r0+rows)) {
			return r0, rows
		}
	}
}

// rowsAMinBand is the shortest band guided scheduling hands out: four
// slivers of the rowsA kernel. Every band reads all of xᵀ and
// transposes its Cᵀ, so bands of 14 cost more than the balance they buy:
// with cold weights (as in a forward pass, which streams them from
// memory) bands down to 28 gave 1.5–3 % more GFLOP/s than down to 14 on
// ViT-B's 768- and 2304-output products, and 56 no more than 28.
const rowsAMinBand = rowsABand / 4

// packXT packs the slivers [lo, hi) of xᵀ (op(B) of the transposed
// product, k×m) in the layout of PackedB, numbered k block by k block:
// a product whose k is one block (ViT-B's 768) still packs on every
// worker, which would otherwise wait for it and park.
func (j *job) packXT(lo, hi int) {
	op, bl := &j.op, j.bl
	ns := j.mpad / bl.nr
	for u := lo; u < hi; u++ {
		k0, j0 := u/ns*j.kc, u%ns*bl.nr
		kb := min(j.kc, op.k-k0)
		if j.src != nil { // SgemmSource: the sliver's rows gathered first
			j.packXTSource(j.xt[k0*j.mpad+j0*kb:], k0, j0, kb)
			continue
		}
		packB(j.xt[k0*j.mpad+j0*kb:], op.a, op.lda, true, k0, j0, kb, min(bl.nr, op.m-j0), bl.nr)
	}
}

// rowsABands is one worker of the scheme ([lo, hi) counts workers, whose
// number does not matter): it computes the bands nextRows hands out
// until none is left.
func (j *job) rowsABands(lo, hi int) {
	s := getScratch()
	for range hi - lo {
		for {
			r0, rows := j.nextRows()
			if rows == 0 {
				break
			}
			j.rowsABandOf(s, r0, rows)
		}
	}
	putScratch(s)
}

// rowsABandOf computes the band of outputs [r0, r0+rows): Cᵀ of its W
// rows into s.ct, then C. The
// loops are BLIS's: per k block, each packed xᵀ sliver (KC×NR) meets
// every W sliver of the band (KC×band floats, in L2 after the first
// sliver of tokens read it from memory). A ragged last W sliver is copied
// into s.a as rowsAMR rows of kb floats (zero rows below the last), so
// the kernel never reads past W, and runs the same rowsA kernel: the
// blocked kernel's tile (14 rows) on it did twice the work, 1.4 % of a
// ViT-B/16 pass (its qkv has 2304 = 329·7 + 1 outputs: 14 rows for 1).
// ct has room for MR rows.
func (j *job) rowsABandOf(s *scratch, r0, rows int) {
	op, bl := &j.op, j.bl
	s.ct = growAligned(s.ct, (rowsABand+bl.mr)*j.mpad)
	full := rows / bl.rowsAMR * bl.rowsAMR // rows in whole slivers, read in place
	for pc := 0; pc < op.k; pc += j.kc {
		kb := min(j.kc, op.k-pc)
		beta := float32(0)
		if pc > 0 {
			beta = 1
		}
		if full < rows {
			copyRows(s.a, op.b, op.ldb, r0+full, pc, rows-full, kb, bl.rowsAMR)
		}
		if full > 0 {
			_ = op.b[(r0+full-1)*op.ldb+pc+kb-1] // the kernel reads kb floats of each row
		}
		xt := j.xt[pc*j.mpad:]
		for jr := 0; jr < j.mpad; jr += bl.nr {
			b := &xt[jr*kb]
			kern := bl.rowsA
			if op.m-jr <= bl.nr-8 && bl.rowsATail != nil {
				kern = bl.rowsATail
			}
			for r := 0; r < full; r += bl.rowsAMR {
				if jr == 0 && r+2*bl.rowsAMR <= full {
					prefetchRows(&op.b[(r0+r+bl.rowsAMR)*op.ldb+pc], op.ldb, bl.rowsAMR, pfLines)
				}
				kern(kb, &op.b[(r0+r)*op.ldb+pc], op.ldb, b, &s.ct[r*j.mpad+jr], j.mpad, beta)
			}
			if full < rows {
				kern(kb, &s.a[0], kb, b, &s.ct[full*j.mpad+jr], j.mpad, beta)
			}
		}
	}
	j.storeTransposed(s.ct, r0, rows)
}

// pfLines is how many cache lines of each row of the next W sliver the
// first token sliver's pass asks for (PREFETCHT1) before each kernel call.
// That pass reads the band's weights from memory; the hardware prefetcher
// follows a row's stream only after its first misses, seven rows at a time.
// Asking for the next sliver's first 8 lines one kernel call (~3 µs)
// ahead took a cold 112×768 band pass from 111.6 to 113.3 GFLOP per
// CPU-second (warm: 115.6; best of 8, interleaved); 2 lines gave nothing,
// whole rows (48 lines) were slower.
const pfLines = 8

// storeTransposed writes C[t][r0+l] = alpha·ct[l][t] for the rows l < rows
// of the band, 16 at a time, then applies the epilogue to that block of C.
func (j *job) storeTransposed(ct []float32, r0, rows int) {
	op := &j.op
	if j.to != nil { // SgemmPair: into the next product's xᵀ
		j.to.putXT(ct, j.mpad, op.m, op.ep, r0, rows)
		return
	}
	storeCT(op.c, op.ldc, op.m, op.alpha, op.ep, ct, j.mpad, r0, rows)
}

// storeCT is the store of both weights-stationary schemes (float32 and
// bfloat16): C[t][r0+l] = alpha·ct[l][t] for t < m and l < rows, ct's rows
// ldct apart, by the AVX-512 transpose 16 rows at a time, then the
// epilogue on that m × rows block of C. An epilogue of a column bias, a
// residual and an activation (all of ViT's Linears) runs in the
// transpose's registers before each store (storeCTFused), with the
// values of the separate pass; the others (a per-token bias, a residual
// overlapping C) run as a pass over the stored block.
func storeCT(c []float32, ldc, m int, alpha float32, ep *Epilogue, ct []float32, ldct, r0, rows int) {
	if canFuseStore(ep, c) {
		storeCTFused(c, ldc, m, alpha, ep, ct, ldct, r0, rows, zeroThenBias)
		return
	}
	_ = c[(m-1)*ldc+r0+rows-1]
	for l0 := 0; l0 < rows; l0 += 16 {
		lanes := min(16, rows-l0)
		_ = ct[(l0+lanes-1)*ldct+m-1]
		transposePack(&c[r0+l0], &ct[l0*ldct], ldct, m, ldc, lanes, uint16(1<<lanes-1), alpha)
	}
	if ep != nil {
		ep.applyTile(c, ldc, 0, r0, m, rows)
	}
}

// fuseStore lets storeCT apply an epilogue in the transpose's registers
// (tests and benchmarks compare with the separate pass).
var fuseStore = true

// canFuseStore reports whether storeCTFused can apply ep: a column bias
// (not per token), any activation, and a residual that does not
// overlap c (a residual that is C itself is read after the store by the
// separate pass, and must stay so).
func canFuseStore(ep *Epilogue, c []float32) bool {
	if !fuseStore || !haveEpilogueAsm || ep == nil || ep.BiasPerRow || ep.Act > GELU {
		return false
	}
	if len(ep.Residual) > 0 && len(c) > 0 {
		r0, r1 := uintptr(unsafe.Pointer(&ep.Residual[0])), uintptr(unsafe.Pointer(&ep.Residual[len(ep.Residual)-1]))+4
		c0, c1 := uintptr(unsafe.Pointer(&c[0])), uintptr(unsafe.Pointer(&c[len(c)-1]))+4
		if r0 < c1 && c0 < r1 {
			return false
		}
	}
	return true
}

// biasOrder is where storeCTFused adds the bias: after a zero (the
// epilogue pass on C adds its per-row term, zero here, first) or first
// (the pass on Cᵀ, whose per-row term is the bias). The two differ only
// in the sign of a zero sum (−0 + 0 + (−0) = +0, −0 + (−0) = −0).
type biasOrder int

const (
	zeroThenBias biasOrder = iota
	biasFirst
)

// zeros16 is the zero vector storeCTFused adds first when it adds no bias
// first.
var zeros16 [16]float32

// storeCTFused is storeCT with ep (canFuseStore) applied to each vector
// of C in registers before it is stored: alpha·ct, then the bias (after
// a zero, or first: order), the residual and the activation, the same
// operations in the same order as the separate pass (so the same bits),
// without reading and writing the block of C again.
func storeCTFused(c []float32, ldc, m int, alpha float32, ep *Epilogue, ct []float32, ldct, r0, rows int, order biasOrder) {
	_ = c[(m-1)*ldc+r0+rows-1]
	if ep.Residual != nil {
		_ = ep.Residual[(m-1)*ldc+r0+rows-1]
	}
	if ep.Bias != nil {
		_ = ep.Bias[r0+rows-1]
	}
	for l0 := 0; l0 < rows; l0 += 16 {
		lanes := min(16, rows-l0)
		_ = ct[(l0+lanes-1)*ldct+m-1]
		add1, add2, resid := &zeros16[0], (*float32)(nil), (*float32)(nil)
		if ep.Bias != nil {
			if order == biasFirst {
				add1 = &ep.Bias[r0+l0]
			} else {
				add2 = &ep.Bias[r0+l0]
			}
		}
		if ep.Residual != nil {
			resid = &ep.Residual[r0+l0]
		}
		transposeStoreEp(&c[r0+l0], &ct[l0*ldct], ldct, m, ldc, lanes, uint16(1<<lanes-1), alpha, add1, add2, resid, int(ep.Act))
	}
}

// copyRows copies rows [i0, i0+mb) of a (lda apart), columns [k0, k0+kb),
// into dst as mr rows of kb floats, rows past mb zero-filled: a ragged
// last sliver for a rowsA kernel reading it in place with lda = kb.
func copyRows(dst, a []float32, lda, i0, k0, mb, kb, mr int) {
	for i := range mr {
		d := dst[i*kb : (i+1)*kb]
		if i < mb {
			copy(d, a[(i0+i)*lda+k0:(i0+i)*lda+k0+kb])
		} else {
			clear(d)
		}
	}
}
