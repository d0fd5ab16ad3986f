package gemm

import (
	"runtime"
	"sync/atomic"
	"unsafe"

	"github.com/metasurv/metasurv/internal/parallel"
)

// The weights-stationary scheme in bfloat16 (see rowsa.go for float32).
// SgemmBF16 of x·Wᵀ with few rows computes Cᵀ = W·xᵀ with the VDPBF16PS
// kernel: each block of 32 rows of W is rounded to bfloat16 into a
// worker's buffer (in L2) just before the kernel uses it, instead of being
// kept as a packed copy. The conversion is a row-wise vector rounding
// (W's rows are the broadcast A operand, whose layout is row-major), so a
// layer's weights cost one streaming read per call and no memory beyond
// the worker buffers: inference on a 2 GB model needs no second 1 GB copy.
// Only xᵀ, small, is rounded and transposed into B slivers of bfloat16
// pairs. The Cᵀ tiles are transposed into C by the AVX-512 transpose,
// which applies alpha, and the epilogue runs on the result.

// useRowsA reports whether op runs the bfloat16 weights-stationary
// scheme: x·Wᵀ with more outputs than rows (or than maxRowsAM, the rows
// then taken maxRowsAM at a time), C overwritten.
func (op *bfOp) useRowsA() bool {
	return haveTranspose && op.pa == nil && op.pb == nil && !op.transA && op.transB &&
		op.beta == 0 && op.n > min(op.m, maxRowsAM)
}

// bfRowsA is one call of the scheme: xᵀ packed as B slivers, the padded
// sizes, and the bound method values of its parallel loops.
type bfRowsA struct {
	op      *bfOp
	mpad    int          // tokens padded to whole slivers
	kp      int          // bfloat16 pairs per row, padded to whole K steps
	xt      []uint32     // xᵀ: mpad/32 slivers of kp rows of 32 pairs
	next    atomic.Int64 // the next band to claim (blocks)
	to      *bfRowsA     // SgemmBF16Pair: the next product, whose xᵀ the bands write instead of C
	roundFn func(lo, hi int)
	blockFn func(lo, hi int)
}

// rowsARun runs the scheme on the rows of x maxRowsAM at a time (each
// chunk rounds W again; a chunk's products cost maxRowsAM times more).
func (op *bfOp) rowsARun() {
	if op.m <= maxRowsAM {
		op.rowsAChunk()
		return
	}
	for r0 := 0; r0 < op.m; r0 += maxRowsAM {
		sub := *op
		sub.m = min(maxRowsAM, op.m-r0)
		sub.a, sub.c = op.a[r0*op.lda:], op.c[r0*op.ldc:]
		if op.ep != nil {
			ep := *op.ep
			if ep.Residual != nil {
				ep.Residual = ep.Residual[r0*op.ldc:]
			}
			if ep.Bias != nil && ep.BiasPerRow {
				ep.Bias = ep.Bias[r0:]
			}
			sub.ep = &ep
		}
		sub.rowsAChunk()
	}
}

// rowsAChunk runs the scheme on op, whose rows are at most maxRowsAM.
func (op *bfOp) rowsAChunk() {
	w := bfPool.Get().(*bfWorker)
	defer bfPool.Put(w)
	s := &bfRowsA{op: op, mpad: roundUp(op.m, bfTile), kp: op.ks * bfTile / 2}
	w.b = grow(w.b, s.mpad*s.kp)
	s.xt = w.b
	s.roundFn, s.blockFn = s.roundX, s.blocks
	parallel.ForChunks(s.mpad/bfTile, 1, s.roundFn)
	parallel.For(min(parallel.Workers(), ceilDiv(op.n, bfRowsABand*bfTile)), s.blockFn)
}

// roundX rounds and packs the token slivers [lo, hi) of x: each row to
// bfloat16 (zero beyond k and for the padding rows) in the worker's
// staging buffer (32 rows, in L2), then the sliver's rows of pairs
// transposed, 16 at a time, into k-major B layout. The transpose moves
// the pairs as float32 lanes multiplied by 1, which keeps every bit
// pattern except that of a signalling NaN, made quiet (a NaN either
// way). Staging a sliver at a time (not all of x) keeps the call's
// memory at xᵀ alone: 7 MB less at ViT's patch embedding (k = 16384).
func (s *bfRowsA) roundX(lo, hi int) {
	op := s.op
	w := bfPool.Get().(*bfWorker)
	defer bfPool.Put(w)
	w.p = grow(w.p, bfTile*s.kp)
	for sb := lo; sb < hi; sb++ {
		for r := range bfTile {
			row := w.p[r*s.kp : (r+1)*s.kp]
			j := sb*bfTile + r
			if j >= op.m {
				clear(row)
				continue
			}
			if op.src != nil { // SgemmBF16Source: the row gathered first
				op.roundSourceRow(row, j)
				continue
			}
			bf16RowContig(asHalves(&row[0]), &op.a[j*op.lda], op.k)
		}
		sl := s.xt[sb*s.kp*bfTile : (sb+1)*s.kp*bfTile]
		for l0 := 0; l0 < bfTile; l0 += 16 {
			transposePack(asFloats(&sl[l0]), asFloats(&w.p[l0*s.kp]), s.kp, s.kp, bfTile, 16, 0xffff, 1)
		}
	}
}

// asFloats views a bfloat16 pair as the float32 lane the transpose moves.
func asFloats(p *uint32) *float32 { return (*float32)(unsafe.Pointer(p)) }

// bfRowsABand is the blocks of 32 outputs per work item, stored into C
// together: each row of C then gets 512 contiguous bytes per item, which
// halves the cost of the transposed stores (scattered over the rows of C)
// against 128.
const bfRowsABand = 4

// blocks computes bands of bfRowsABand blocks of 32 outputs (rows of W)
// until none is left. Each worker claims its next band before it starts
// the current one, so that the current band's last block can prefetch
// the first block of the next (see block): with bands handed out by
// ForChunks, the band after one's own belonged to the other worker as
// often as not, and a quarter of the blocks were rounded from memory.
func (s *bfRowsA) blocks(_, _ int) {
	op := s.op
	w := bfPool.Get().(*bfWorker)
	defer bfPool.Put(w)
	w.a = grow(w.a, op.ks*bfTile*bfTile)
	w.t = grow(w.t, bfRowsABand*bfTile*s.mpad)
	// The kernels round the next block themselves when W's rows are
	// contiguous whole K steps (ViT's Linears): the block then needs no
	// packABlock of its own.
	inKernel := bfRoundInKernel && op.ldb == op.k && op.k%bfTile == 0
	if inKernel {
		w.a2 = grow(w.a2, op.ks*bfTile*bfTile)
	}
	ready := false // w.a holds the block about to run
	bands := ceilDiv(op.n, bfRowsABand*bfTile)
	band := s.claim()
	for band < bands {
		next := s.claim()
		i0 := band * bfRowsABand * bfTile
		rows := min(bfRowsABand*bfTile, op.n-i0)
		// C's lines of the band (m rows of rows outputs), and the
		// residual's, asked for during the band's last cpfBlocks blocks,
		// a few rows per kernel call: storeCT otherwise waits on each
		// line it writes or reads.
		nb := ceilDiv(rows, bfTile)
		cpf := cPrefetch{row: op.m}
		if bfPrefetchC && s.to == nil {
			first := max(0, nb-cpfBlocks)
			calls := (nb - first) * 4 * (s.mpad / bfTile)
			p := uintptr(unsafe.Pointer(&op.c[i0]))
			cpf = cPrefetch{row: 0, per: ceilDiv(op.m, calls), first: first * bfTile,
				lines: int((p%64 + uintptr(rows)*4 + 63) / 64)}
		}
		for r := 0; r < rows; r += bfTile {
			if !ready {
				packABlock(w.a, op.b, op.ldb, false, 1, i0+r, op.n, op.k)
			}
			pf := i0 + r + bfTile
			if r+bfTile >= rows { // the band's last block: the first of the next band (≥ n if none)
				pf = next * bfRowsABand * bfTile
			}
			var rdst []uint16 // where the kernels round block pf, if they can
			if ready = inKernel && pf+bfTile <= op.n; ready {
				rdst = w.a2
			}
			p := &cpf
			if r < cpf.first {
				p = nil
			}
			s.block(w.a, w.t[r*s.mpad:], pf, p, i0, rdst)
			if ready {
				w.a, w.a2 = w.a2, w.a
			}
		}
		if s.to != nil {
			s.to.putXT(w.t, op.m, op.ep, i0, rows)
			band = next
			continue
		}
		ep := op.ep
		if bfEpilogueCT && ep != nil && ep.Residual == nil && !ep.BiasPerRow && op.alpha == 1 && canFuseStore(ep, op.c) {
			// The same values (the bias first, as on Cᵀ) applied in the
			// transpose's registers, with no pass over Cᵀ.
			storeCTFused(op.c, op.ldc, op.m, op.alpha, ep, w.t, s.mpad, i0, rows, biasFirst)
			band = next
			continue
		}
		if bfEpilogueCT && ep != nil && ep.Residual == nil && !ep.BiasPerRow && op.alpha == 1 {
			// Bias and activation on Cᵀ, whose rows are 4·mpad bytes apart,
			// before the transpose: on C, rows 4·ldc bytes apart (12 KB
			// at ViT's MLP) alias in L1 every 4 KB. Same values: the
			// transpose's product by alpha = 1 is exact.
			ect := Epilogue{Act: ep.Act, BiasPerRow: true}
			if ep.Bias != nil {
				ect.Bias = ep.Bias[i0 : i0+rows]
			}
			ect.applyTile(w.t, s.mpad, 0, 0, rows, op.m)
			ep = nil
		}
		storeCT(op.c, op.ldc, op.m, op.alpha, ep, w.t, s.mpad, i0, rows)
		band = next
	}
}

// cPrefetch is the state of a band's prefetch of its lines of C: the
// next row, rows per kernel call, the first block (output offset in the
// band) that prefetches, and the lines per row.
type cPrefetch struct{ row, per, first, lines int }

// cpfBlocks is how many of a band's last blocks prefetch its lines of C.
var cpfBlocks = 2

// bfPrefetchRes lets the prefetch of C's lines also ask for the
// residual's (read by the fused store beside C: ViT's output projection
// and linear2); cold residual, 6 interleaved pairs: +0.8 % on those
// products (tests and benchmarks compare).
var bfPrefetchRes = true

// bfPrefetchC turns the prefetch of C's lines on (benchmarks compare).
var bfPrefetchC = true

// claim returns the next unclaimed band (≥ the band count when none is
// left).
func (s *bfRowsA) claim() int { return int(s.next.Add(1)) - 1 }

// bfPrefetch turns the kernels' prefetch of the next block on (tests
// and benchmarks compare without it).
var bfPrefetch = true

// block multiplies the packed W block wa by every xᵀ sliver into ct
// (32 × mpad, Cᵀ). Each sliver, read from L3 once, serves the four
// 8-row quarters of the block from L2. A last sliver of at most 24 tokens
// (216 tokens: 24) runs the 8×24 kernel, a quarter less work.
//
// The kernels meanwhile prefetch the float32 rows of W from row next on
// (the block packABlock rounds next) into L2, three cache lines per K
// step: rounding a block otherwise waits on a streaming read from memory
// that nothing overlaps (9–10 % of a ViT-B/16 pass rounded per call).
// A block's calls (7 slivers × 4 quarters at 216 tokens) request up to
// 84·ks lines, its successor has 64·ks (32 rows of 32·ks floats); the
// calls past it prefetch its first lines again (cache hits).
//
// With rdst, the kernels also round the whole block next (32 rows, W's
// rows contiguous, k whole K steps) into rdst, one group of 32 floats per
// K step from the second call on (by then the first call's prefetch is
// ks lines ahead of the rounding and gains a line a step); the rows the
// calls leave (5 at 7 slivers) are rounded after them, from L2.
func (s *bfRowsA) block(wa []uint16, ct []float32, next int, cpf *cPrefetch, i0 int, rdst []uint16) {
	const q = bfTile / 4
	const stride = 3 * 64 // bytes prefetched per K step
	op := s.op
	var pf, pfEnd uintptr
	if next < op.n && bfPrefetch {
		last := min(next+bfTile, op.n) - 1
		pf = uintptr(unsafe.Pointer(&op.b[next*op.ldb]))
		pfEnd = uintptr(unsafe.Pointer(&op.b[last*op.ldb+op.k-1])) + 4
		if bfTouchPages {
			// One line of each 4 KB page of block next, at once: the
			// page walks run side by side here, instead of one at a time
			// under the kernels' stream of prefetches.
			prefetchRows(&op.b[next*op.ldb], pageFloats, int((pfEnd-1)/pageBytes-pf/pageBytes+1), 1)
		}
	}
	groups, g := 0, 0 // groups of 32 floats of block next to round, rounded
	if rdst != nil {
		groups = bfTile * op.ks
		_ = rdst[groups*bfTile-1]
		_ = op.b[(next+bfTile)*op.ldb-1]
	}
	calls := 4 * (s.mpad / bfTile)
	for sb := 0; sb < s.mpad/bfTile; sb++ {
		b := &s.xt[sb*s.kp*bfTile]
		kern, kernR, kernR2 := dpbf16Kern8x32P, dpbf16Kern8x32R, dpbf16Kern8x32R2
		if op.m-sb*bfTile <= 24 {
			kern, kernR, kernR2 = dpbf16Kern8x24P, dpbf16Kern8x24R, dpbf16Kern8x24R2
		}
		for rq := range 4 {
			p, st := pf, stride
			if p >= pfEnd { // nothing left (or no next block): lines in cache
				p, st = uintptr(unsafe.Pointer(b)), 0
			}
			if cpf != nil && cpf.row < op.m {
				nr := min(cpf.per, op.m-cpf.row)
				prefetchRows(&op.c[cpf.row*op.ldc+i0], op.ldc, nr, cpf.lines)
				if bfPrefetchRes && op.ep != nil && op.ep.Residual != nil {
					prefetchRows(&op.ep.Residual[cpf.row*op.ldc+i0], op.ldc, nr, cpf.lines)
				}
				cpf.row += nr
			}
			if ci := sb*4 + rq; rdst != nil && g < groups && ci > 0 {
				kr, rn := kernR, min(op.ks, groups-g)
				// Two groups a step once the block's prefetch is complete
				// (3 of its 64 lines per row-step each step: from call 22
				// on) and one a step would leave rows to round after.
				if bfRound2 && 3*ci >= 64 && groups-g > (calls-ci)*op.ks {
					kr, rn = kernR2, min(2*op.ks, groups-g)
				}
				kr(op.ks, &wa[rq*q*bfTile], b, &ct[rq*q*s.mpad+sb*bfTile], s.mpad, 0, p, st,
					&op.b[next*op.ldb+g*bfTile], &rdst[g%op.ks*bfTile*bfTile+g/op.ks*bfTile], rn, op.ks-g%op.ks)
				g += rn
			} else {
				kern(op.ks, &wa[rq*q*bfTile], b, &ct[rq*q*s.mpad+sb*bfTile], s.mpad, 0, p, st)
			}
			if pf < pfEnd {
				pf += uintptr(op.ks * stride)
			}
		}
	}
	if g < groups { // whole rows left (each call rounds ks groups)
		for r := g / op.ks; r < bfTile; r += blockGroup {
			bf16BlockSteps(&rdst[r*bfTile], &op.b[(next+r)*op.ldb], op.ldb, min(blockGroup, bfTile-r), op.k)
		}
	}
	runtime.KeepAlive(op.b)
}

// pageBytes is the page size the weights are assumed to have (4 KB: the
// Go heap gets no transparent huge pages by default); pageFloats is the
// same in floats, the step of the page-touching prefetch.
const (
	pageBytes  = 4096
	pageFloats = pageBytes / 4
)

// bfTouchPages lets block ask for one line of each page of the next
// block before its kernels stream-prefetch it. A software prefetch that
// misses the TLB waits for its page walk, and the stream of them (three
// lines per K step) met a new page every 21 K steps: ~5 % of a kernel
// whose prefetches go to memory (3.37 against 3.60 G VDPBF16PS/s hot),
// recovered to 3.54 with the walks done together first (tests and
// benchmarks compare).
var bfTouchPages = true

// bfEpilogueCT applies a bias-and-activation epilogue on Cᵀ (tests
// and benchmarks compare with the epilogue on C).
var bfEpilogueCT = true

// bfRound2 lets a block's last calls round two groups per K step
// (tests and benchmarks compare with the rows left to bf16BlockSteps).
var bfRound2 = true

// bfRoundInKernel lets the kernels round the next W block (tests and
// benchmarks compare with packABlock).
var bfRoundInKernel = true
