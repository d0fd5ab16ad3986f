package gemm

import (
	"sync/atomic"
	"unsafe"

	"github.com/metasurv/metasurv/internal/cpu"
	"github.com/metasurv/metasurv/internal/parallel"
)

// microKernel computes the mr×nr tile acc = Σₚ a[p·mr+i]·b[p·nr+j] over k
// packed steps and stores c[i·ldc+j] = acc (beta == 0, C is not read) or
// acc + beta·c[i·ldc+j]. a and b point at packed panels (see PackedA and
// PackedB for the layout); c points at the tile's top-left element.
type microKernel func(k int, a, b, c *float32, ldc int, beta float32)

// stridedKernel is a microKernel that reads B in place, row p of the
// sliver at b + p·ldb, instead of from a packed sliver. It saves packing
// when each B sliver is used by few A slivers (small m, as in a
// convolution W·cols with few output channels), where packing would cost
// as much memory traffic as the multiply itself.
type stridedKernel func(k int, a, b *float32, ldb int, c *float32, ldc int, beta float32)

// edgeKernel computes the first r rows (r fixed per kernel, < mr) of an
// mr-row packed A sliver times a B sliver, writing only nw ≤ nr columns of
// C, so that ragged tiles are written in place without a scratch tile.
type edgeKernel func(k int, a, b, c *float32, ldc int, beta float32, nw int)

// stridedEdgeKernel is an edgeKernel reading B in place (masked to nw
// columns, so it never reads past the end of a row).
type stridedEdgeKernel func(k int, a, b *float32, ldb int, c *float32, ldc int, beta float32, nw int)

// blocking is one level's micro-kernel with its cache blocking: an A block
// of mc×kc floats stays in L2, a B sliver of kc×nr floats in L1, and a B
// panel of kc×nc floats in L3 (BLIS loop order jc, pc, ic, jr, ir).
type blocking struct {
	level      cpu.Level
	mr, nr     int
	mc, kc, nc int
	kern       microKernel
	strided    stridedKernel // nil: always pack B
	// edge[r] and stridedEdge[r] handle tiles of r rows; nil slices mean
	// ragged tiles go through a scratch tile.
	edge        []edgeKernel
	stridedEdge []stridedEdgeKernel
	rowsA       rowsAKernel // nil: no weights-stationary scheme (rowsa.go)
	rowsAMR     int         // rows of the rowsA tile (≤ mr)
	rowsATail   rowsAKernel // rowsA for a last sliver of ≤ nr-8 columns, or nil
}

// blockings is indexed by cpu.Level; the kernel_*.go files fill it in.
var blockings [cpu.AVX512 + 1]*blocking

func blockingFor(l cpu.Level) *blocking {
	for ; l > cpu.Portable; l-- {
		if blockings[l] != nil {
			return blockings[l]
		}
	}
	return blockings[cpu.Portable]
}

// operands is one GEMM call after validation. pa/pb, when set, replace the
// packing of a/b.
type operands struct {
	transA, transB bool
	m, n, k        int
	alpha          float32
	a              []float32
	lda            int
	b              []float32
	ldb            int
	pa             *PackedA
	pb             *PackedB
	beta           float32
	c              []float32
	ldc            int
	ep             *Epilogue
}

// minParallelWork is the m·n·k below which one thread is as fast as waking
// the pool (4 MFLOP, about 30 µs on one AVX-512 core; waking a worker and
// the barriers cost several µs, more when the cores are shared).
const minParallelWork = 1 << 21

func run(op *operands) { runOn(op, parallel.Workers()) }

// runOn runs op on w workers (the caller alone when w is 1).
func runOn(op *operands, w int) {
	if op.m == 0 || op.n == 0 {
		return
	}
	if op.k == 0 || op.alpha == 0 {
		scaleC(op)
		return
	}
	bl := blockingFor(cpu.Current())
	switch {
	case op.pa != nil:
		bl = op.pa.bl
	case op.pb != nil:
		bl = op.pb.bl
	}
	if op.useRowsA(bl) {
		j := getJob()
		j.op, j.bl = *op, bl
		j.runRowsA(w)
		putJob(j)
		return
	}
	if w == 1 || op.m*op.n*op.k < minParallelWork {
		s := getScratch()
		op.part(bl, s, 0, op.m, 0, op.n)
		putScratch(s)
		return
	}
	j := getJob()
	j.op, j.bl = *op, bl
	if op.bInPlace(bl) {
		j.runItems(w)
	} else {
		j.runShared(w)
	}
	putJob(j)
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// bInPlace reports whether B needs no packing for this call: it is
// pre-packed, or m fits one A block so the strided kernel reads B in place.
func (op *operands) bInPlace(bl *blocking) bool {
	return op.pb != nil || (bl.strided != nil && !op.transB && op.m <= bl.mc)
}

// itemsPerWorker is how many work items a parallel phase aims at per
// worker: enough that a worker slowed down by other processes on its core
// hands its share to the others (the items are handed out dynamically).
const itemsPerWorker = 4

// maxSharedRows bounds the rows of A packed at once in the shared scheme
// (4096 × KC floats); taller products are done in row bands. With the two
// pipelined stages a job keeps up to 2·(4096·KC + KC·NC) floats (16 MB at
// AVX-512), reused by the next large call.
const maxSharedRows = 4096

// job carries one multi-threaded call to the pool. The func fields are
// bound method values, created once per job so that the parallel calls do
// not allocate; the stages keep their packed buffers for the next call.
type job struct {
	op operands
	bl *blocking
	g  grid // items of runItems

	// shared scheme: the row band [r0, r1), the stage being multiplied and
	// the one being packed (nil when there is none), and how the indices of
	// the current phase split into items and pack groups
	r0, r1         int
	cur, next      *stage
	stages         [2]stage
	nItems, groups int

	// weights-stationary scheme (rowsa.go): xᵀ packed, its padded width,
	// the first output not yet handed out and the workers sharing them
	xt       []float32
	mpad     int
	nextBand atomic.Int64
	workers  int
	kc       int       // k block: rowsAKC for token-sized m, else the level's
	to       *job      // SgemmPair: the next product, whose xᵀ the bands write instead of C
	src      RowSource // SgemmSource: x's rows, read through it instead of op.a

	itemFn, phaseFn, packXTFn, rowsAFn func(lo, hi int)
}

// stage is one (jc, pc) step of the shared scheme: a kb×nb panel of B
// from (pc, jc) and the matching rows of A, packed into its own buffers so
// that one stage can be packed while the previous one is multiplied.
type stage struct {
	jc, nb, pc, kb int
	g              grid
	nBSl, tasks    int // B slivers to pack; all slivers (A after B)
	abuf, bbuf     []float32
}

// grid cuts an m×n region into nRow×nCol items whose bounds fall on
// sliver boundaries (multiples of mr and nr), with the slivers spread as
// evenly as possible so that the items cost the same.
type grid struct{ nRow, nCol, mr, nr int }

// makeGrid aims at itemsPerWorker·w items, splitting rows (if splitRows)
// into bands of at least minRows (so each B sliver loaded into L1 serves
// several A slivers) and at most maxRows, then columns.
func makeGrid(m, n, mr, nr, w int, splitRows bool, minRows, maxRows int) grid {
	target := itemsPerWorker * w
	rowStep := roundUp(m, mr)
	if splitRows {
		rowStep = min(rowStep, max(roundUp(ceilDiv(m, target), mr), minRows), maxRows)
	}
	nRow := ceilDiv(m, rowStep)
	nCol := 1
	if nRow < target {
		nCol = min(ceilDiv(target, nRow), ceilDiv(n, nr))
	}
	return grid{nRow: nRow, nCol: nCol, mr: mr, nr: nr}
}

// item returns the rows [m0,m1) and columns [n0,n1) of item i in an
// m×n region.
func (g *grid) item(i, m, n int) (m0, m1, n0, n1 int) {
	m0, m1 = evenSplit(i/g.nCol, g.nRow, m, g.mr)
	n0, n1 = evenSplit(i%g.nCol, g.nCol, n, g.nr)
	return m0, m1, n0, n1
}

// evenSplit returns part i of n parts of [0, size) cut on multiples of step,
// the steps spread evenly.
func evenSplit(i, n, size, step int) (lo, hi int) {
	steps := ceilDiv(size, step)
	return i * steps / n * step, min(size, (i+1)*steps/n*step)
}

func roundUp(x, to int) int { return ceilDiv(x, to) * to }

var jobFree = make(chan *job, 4)

func getJob() *job {
	select {
	case j := <-jobFree:
		return j
	default:
		j := &job{}
		j.itemFn, j.phaseFn, j.packXTFn, j.rowsAFn = j.runItem, j.runPhase, j.packXT, j.rowsABands
		return j
	}
}

func putJob(j *job) {
	j.op = operands{} // drop references to the caller's slices
	select {
	case jobFree <- j:
	default:
	}
}

// runItems is the scheme when B needs no packing: C is cut into items that
// workers take dynamically, each running the whole blocked loop on its
// block. With B read in place the rows are not split, so B is streamed
// from memory once; pre-packed B allows row bands too.
func (j *job) runItems(w int) {
	op, bl := &j.op, j.bl
	j.g = makeGrid(op.m, op.n, bl.mr, bl.nr, w, op.pb != nil, 4*bl.mr, bl.mc)
	parallel.ForChunks(j.g.nRow*j.g.nCol, 1, j.itemFn)
}

func (j *job) runItem(lo, hi int) {
	s := getScratch()
	for i := lo; i < hi; i++ {
		m0, m1, n0, n1 := j.g.item(i, j.op.m, j.op.n)
		j.op.part(j.bl, s, m0, m1, n0, n1)
	}
	putScratch(s)
}

// runShared is the scheme when B must be packed. Each (jc, pc) step is a
// stage whose B panel and A block the workers pack together into shared
// buffers; nothing is packed twice. The stages are pipelined: one parallel
// phase multiplies stage s in items and then packs stage s+1 into the
// other buffers, so a worker that finishes its items early packs instead of
// waiting, and each stage costs one barrier.
func (j *job) runShared(w int) {
	op, bl := &j.op, j.bl
	band := maxSharedRows / bl.mr * bl.mr // bands start on sliver boundaries
	for r0 := 0; r0 < op.m; r0 += band {
		j.r0, j.r1 = r0, min(op.m, r0+band)
		j.cur = nil
		n := 0
		for jc := 0; jc < op.n; jc += bl.nc {
			for pc := 0; pc < op.k; pc += bl.kc {
				j.next = &j.stages[n%2]
				j.prepare(j.next, jc, pc, w)
				j.phase(w)
				j.cur = j.next
				n++
			}
		}
		j.next = nil
		j.phase(w)
	}
}

// prepare sets up stage st for the panel at (pc, jc) of the current band.
func (j *job) prepare(st *stage, jc, pc, w int) {
	op, bl := &j.op, j.bl
	rows := j.r1 - j.r0
	st.jc, st.nb, st.pc, st.kb = jc, min(bl.nc, op.n-jc), pc, min(bl.kc, op.k-pc)
	st.g = makeGrid(rows, st.nb, bl.mr, bl.nr, w, true, 4*bl.mr, bl.mc)
	st.nBSl = ceilDiv(st.nb, bl.nr)
	st.tasks = st.nBSl
	if op.pa == nil {
		st.tasks += ceilDiv(rows, bl.mr)
		st.abuf = growAligned(st.abuf, roundUp(rows, bl.mr)*bl.kc)
	}
	st.bbuf = growAligned(st.bbuf, bl.kc*roundUp(min(op.n, bl.nc), bl.nr))
}

// packGroupsPerWorker is how many groups of slivers a phase's packing is
// cut into per worker: the groups fill the tail of the multiply.
const packGroupsPerWorker = 4

// phase runs the items of j.cur and packs j.next, in one parallel loop
// whose first indices are the items and the rest groups of pack tasks.
func (j *job) phase(w int) {
	j.nItems, j.groups = 0, 0
	if j.cur != nil {
		j.nItems = j.cur.g.nRow * j.cur.g.nCol
	}
	if j.next != nil {
		j.groups = min(j.next.tasks, packGroupsPerWorker*w)
	}
	parallel.ForChunks(j.nItems+j.groups, 1, j.phaseFn)
}

// runPhase runs indices [lo, hi) of the current phase: items of j.cur
// below j.nItems, then groups of j.next's pack tasks.
func (j *job) runPhase(lo, hi int) {
	s := getScratch()
	for i := lo; i < hi; i++ {
		if i < j.nItems {
			j.multiply(s, i)
			continue
		}
		g, t := i-j.nItems, j.next.tasks
		j.pack(j.next, g*t/j.groups, (g+1)*t/j.groups)
	}
	putScratch(s)
}

// pack packs the slivers [lo, hi) of stage st: B slivers first, then the
// A slivers numbered after them.
func (j *job) pack(st *stage, lo, hi int) {
	op, bl, kb := &j.op, j.bl, st.kb
	if bLo, bHi := lo, min(hi, st.nBSl); bLo < bHi {
		c0 := bLo * bl.nr
		packB(st.bbuf[c0*kb:], op.b, op.ldb, op.transB, st.pc, st.jc+c0, kb, min(st.nb, bHi*bl.nr)-c0, bl.nr)
	}
	if aLo, aHi := max(lo, st.nBSl)-st.nBSl, hi-st.nBSl; aLo < aHi {
		r0 := aLo * bl.mr
		packA(st.abuf[r0*kb:], op.a, op.lda, op.transA, op.alpha, j.r0+r0, st.pc, min(j.r1-j.r0, aHi*bl.mr)-r0, kb, bl.mr)
	}
}

// multiply computes item i of the current stage.
func (j *job) multiply(s *scratch, i int) {
	op, bl, st := &j.op, j.bl, j.cur
	kb := st.kb
	beta := op.beta
	if st.pc > 0 {
		beta = 1
	}
	m0, m1, n0, n1 := st.g.item(i, j.r1-j.r0, st.nb)
	var ap []float32
	if op.pa != nil {
		ap = op.pa.panel(st.pc, j.r0+m0, kb)
	} else {
		ap = st.abuf[m0*kb:]
	}
	blk := block{ic: j.r0 + m0, jc: st.jc + n0, pc: st.pc, mb: m1 - m0, nb: n1 - n0, kb: kb,
		beta: beta, last: st.pc+kb == op.k}
	op.macro(bl, s, ap, st.bbuf[n0*kb:], &blk)
}

// growAligned returns buf if it holds n floats, else a new aligned buffer.
func growAligned(buf []float32, n int) []float32 {
	if cap(buf) >= n {
		return buf[:n]
	}
	return alignedFloats(n)
}

// part computes the block C[m0:m1, n0:n1]; m0 and n0 are multiples of
// mr and nr so that pre-packed panels can be indexed directly.
func (op *operands) part(bl *blocking, s *scratch, m0, m1, n0, n1 int) {
	// With a single A block per B panel, each B sliver is used once per A
	// sliver in one sweep: read B in place rather than pack it.
	direct := bl.strided != nil && op.pb == nil && !op.transB && m1-m0 <= bl.mc
	for jc := n0; jc < n1; jc += bl.nc {
		nb := min(bl.nc, n1-jc)
		for pc := 0; pc < op.k; pc += bl.kc {
			kb := min(bl.kc, op.k-pc)
			var bp []float32
			switch {
			case op.pb != nil:
				bp = op.pb.panel(pc, jc, kb)
			case !direct:
				bp = s.b
				packB(bp, op.b, op.ldb, op.transB, pc, jc, kb, nb, bl.nr)
			}
			beta := op.beta
			if pc > 0 {
				beta = 1
			}
			last := pc+kb == op.k
			for ic := m0; ic < m1; ic += bl.mc {
				mb := min(bl.mc, m1-ic)
				var ap []float32
				if op.pa != nil {
					ap = op.pa.panel(pc, ic, kb)
				} else {
					ap = s.a
					packA(ap, op.a, op.lda, op.transA, op.alpha, ic, pc, mb, kb, bl.mr)
				}
				blk := block{ic: ic, jc: jc, pc: pc, mb: mb, nb: nb, kb: kb, beta: beta, last: last, direct: direct}
				op.macro(bl, s, ap, bp, &blk)
			}
		}
	}
}

// block is one macro-kernel call: the mb×nb block of C at (ic, jc)
// accumulating the kb steps from pc.
type block struct {
	ic, jc, pc, mb, nb, kb int
	beta                   float32
	last, direct           bool
}

// macro runs the micro-kernel over a block of C from the packed A block ap
// and the packed B panel bp (or B in place when blk.direct). Ragged edge
// tiles go to the edge kernels, or, on levels without them, are computed
// into the scratch tile s.t and merged. The epilogue runs on each tile
// after its last k block, while the tile is in L1.
func (op *operands) macro(bl *blocking, s *scratch, ap, bp []float32, blk *block) {
	mr, nr, kb := bl.mr, bl.nr, blk.kb
	for jr := 0; jr < blk.nb; jr += nr {
		nw := min(nr, blk.nb-jr)
		var bs *float32
		strided := false
		switch {
		case !blk.direct:
			bs = &bp[(jr/nr)*kb*nr]
		case nw == nr || bl.stridedEdge != nil:
			col := blk.jc + jr
			_ = op.b[(blk.pc+kb-1)*op.ldb+col+nw-1] // the kernel reads kb rows of nw
			bs, strided = &op.b[blk.pc*op.ldb+col], true
		default: // ragged last sliver: pack it
			packB(s.b, op.b, op.ldb, false, blk.pc, blk.jc+jr, kb, nw, nr)
			bs = &s.b[0]
		}
		for ir := 0; ir < blk.mb; ir += mr {
			mh := min(mr, blk.mb-ir)
			as := &ap[(ir/mr)*kb*mr]
			off := (blk.ic+ir)*op.ldc + blk.jc + jr
			full := mh == mr && nw == nr
			switch {
			case full:
				_ = op.c[off+(mr-1)*op.ldc+nr-1] // the kernel writes the whole tile
				if strided {
					bl.strided(kb, as, bs, op.ldb, &op.c[off], op.ldc, blk.beta)
				} else {
					bl.kern(kb, as, bs, &op.c[off], op.ldc, blk.beta)
				}
			case bl.edge != nil:
				_ = op.c[off+(mh-1)*op.ldc+nw-1] // the kernel writes mh rows of nw
				if strided {
					bl.stridedEdge[mh](kb, as, bs, op.ldb, &op.c[off], op.ldc, blk.beta, nw)
				} else {
					bl.edge[mh](kb, as, bs, &op.c[off], op.ldc, blk.beta, nw)
				}
			default:
				if strided {
					bl.strided(kb, as, bs, op.ldb, &s.t[0], nr, 0)
				} else {
					bl.kern(kb, as, bs, &s.t[0], nr, 0)
				}
				mergeTile(op.c[off:], op.ldc, s.t, nr, mh, nw, blk.beta)
			}
			if blk.last && op.ep != nil {
				op.ep.applyTile(op.c, op.ldc, blk.ic+ir, blk.jc+jr, mh, nw)
			}
		}
	}
}

// mergeTile stores the top-left mh×nw corner of the tile t (stride nr) into
// c as t + beta·c (beta == 0: C is not read).
func mergeTile(c []float32, ldc int, t []float32, nr, mh, nw int, beta float32) {
	for i := range mh {
		row := c[i*ldc : i*ldc+nw]
		src := t[i*nr : i*nr+nw]
		if beta == 0 {
			copy(row, src)
			continue
		}
		for j, v := range src {
			row[j] = v + beta*row[j]
		}
	}
}

// scaleC handles alpha == 0 or k == 0: C = beta·C, then the epilogue.
func scaleC(op *operands) {
	for i := range op.m {
		row := op.c[i*op.ldc : i*op.ldc+op.n]
		if op.beta == 0 {
			clear(row)
		} else if op.beta != 1 {
			for j := range row {
				row[j] *= op.beta
			}
		}
	}
	if op.ep != nil {
		op.ep.applyTile(op.c, op.ldc, 0, 0, op.m, op.n)
	}
}

// scratch holds one worker's pack buffers, 64-byte aligned for the SIMD
// kernels (ct, the Cᵀ band of rowsa.go, is grown on first use). They are recycled through a free list, so a warm call allocates
// nothing.
type scratch struct{ a, b, t, ct []float32 }

var scratchFree = make(chan *scratch, 32)

func getScratch() *scratch {
	select {
	case s := <-scratchFree:
		return s
	default:
	}
	var na, nb, nt int
	for _, bl := range blockings {
		if bl != nil {
			na = max(na, bl.mc*bl.kc)
			nb = max(nb, bl.kc*bl.nc)
			nt = max(nt, bl.mr*bl.nr)
		}
	}
	return &scratch{a: alignedFloats(na), b: alignedFloats(nb), t: alignedFloats(nt)}
}

func putScratch(s *scratch) {
	select {
	case scratchFree <- s:
	default:
	}
}

// alignedFloats returns n floats starting on a 64-byte boundary.
func alignedFloats(n int) []float32 {
	buf := make([]float32, n+16)
	off := int(uintptr(unsafe.Pointer(&buf[0]))&63) / 4
	if off != 0 {
		off = 16 - off
	}
	return buf[off : off+n : off+n]
}
