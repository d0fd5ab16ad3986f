package gemm

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"unsafe"

	"github.com/metasurv/metasurv/internal/cpu"
	"github.com/metasurv/metasurv/internal/parallel"
)

// BF16 inference. The AMX tile unit multiplies 16×32 by 32×16 bfloat16
// (8-bit mantissa) matrices into float32 accumulators in one instruction,
// an order of magnitude more work per cycle than float32 FMAs. The BF16
// GEMMs round both operands to bfloat16 (to nearest even, subnormals to
// zero, as VCVTNE2PS2BF16 does) and accumulate in float32: about three
// significant digits per product, plenty for a trained network's inference
// but not for training, and never the default. Float32 Sgemm remains the
// reference.

// ErrNoBF16 is returned when the CPU, the operating system or the cpu level
// in force does not allow the AMX bfloat16 kernels.
var ErrNoBF16 = errors.New("gemm: bfloat16 kernels need AVX512_BF16 (and the AVX-512 level in force)")

// bfTile is the side of the square C tile one kernel call computes; K runs
// in steps of bfTile.
const bfTile = 32

var (
	amxOnce sync.Once
	amxOK   bool
)

// HaveBF16 reports whether the BF16 GEMMs can run now: AVX-512 level in
// force and AVX512_BF16 present. The products run on the AMX tile unit
// where it is present and granted by the operating system (requested on
// the first call), else with VDPBF16PS (dpbf16.go).
func HaveBF16() bool {
	f := cpu.Extensions()
	return haveBF16Asm && cpu.Current() >= cpu.AVX512 && f.BF16
}

// amxConfig is the tile configuration of amxKern32x32 (palette 1): tiles
// 0-3 are the 16×16 float32 quarters of C, 4-5 the two 16-row halves of an
// A step (32 bfloat16 per row), 6-7 the two 16-column halves of a B step
// (16 pairs per row); every tile has 16 rows of 64 bytes.
var amxConfig = func() (c [64]byte) {
	c[0] = 1
	for t := range 8 {
		c[16+2*t] = 64
		c[48+t] = 16
	}
	return c
}()

// PackedBF16 is one operand rounded to bfloat16 and packed for the AMX
// kernel, once, for many products (a layer's weights). As A (m×k) it holds
// blocks of 32 rows, each a run of K steps of 32 rows × 32 values; as B
// (k×n) it holds slivers of 32 columns, each a run of k/2 rows of 32 pairs
// (a uint32 holds the values of k = 2p and 2p+1). Padding is zero.
type PackedBF16 struct {
	isA  bool
	w    bool // B = Wᵀ from PackWeightsBF16 (W n×k: n in m)
	m, k int  // A: m×k; B: k×n with n in m
	ks   int  // K steps of 32
	a    []uint16
	b    []uint32
}

// Dims returns the shape of the packed operand: m×k for A, k×n for B.
func (p *PackedBF16) Dims() (rows, cols int) {
	if p.isA {
		return p.m, p.k
	}
	return p.k, p.m
}

// String describes the packing, for logs.
func (p *PackedBF16) String() string {
	r, c := p.Dims()
	role := "B"
	if p.isA {
		role = "A"
	}
	return fmt.Sprintf("PackedBF16(%s %d×%d)", role, r, c)
}

// PackABF16 rounds and packs alpha·op(A), an m×k matrix stored row-major
// with stride lda (k×m if transA). It returns ErrNoBF16 when HaveBF16 is
// false and panics on invalid arguments like Sgemm.
func PackABF16(transA bool, m, k int, alpha float32, a []float32, lda int) (*PackedBF16, error) {
	if !HaveBF16() {
		return nil, ErrNoBF16
	}
	checkDims(m, 0, k)
	checkMatrix("A", "lda", transA, m, k, a, lda)
	p := &PackedBF16{isA: true, m: m, k: k, ks: ceilDiv(k, bfTile)}
	p.a = make([]uint16, ceilDiv(m, bfTile)*p.ks*bfTile*bfTile)
	parallel.ForChunks(ceilDiv(m, bfTile), 1, func(lo, hi int) {
		for rb := lo; rb < hi; rb++ {
			packABlock(p.a[rb*p.ks*bfTile*bfTile:], a, lda, transA, alpha, rb*bfTile, m, k)
		}
	})
	return p, nil
}

// PackBBF16 rounds and packs op(B), a k×n matrix stored row-major with
// stride ldb (n×k if transB): the weights of y = x·Wᵀ are B = Wᵀ, stored
// as W with transB.
func PackBBF16(transB bool, k, n int, b []float32, ldb int) (*PackedBF16, error) {
	if !HaveBF16() {
		return nil, ErrNoBF16
	}
	checkDims(0, n, k)
	checkMatrix("B", "ldb", transB, k, n, b, ldb)
	p := &PackedBF16{m: n, k: k, ks: ceilDiv(k, bfTile)}
	p.b = make([]uint32, ceilDiv(n, bfTile)*p.ks*bfTile*bfTile/2)
	parallel.ForChunks(ceilDiv(n, bfTile), 1, func(lo, hi int) {
		for sb := lo; sb < hi; sb++ {
			packBSliver(p.b[sb*p.ks*bfTile*bfTile/2:], b, ldb, transB, sb*bfTile, n, k)
		}
	})
	return p, nil
}

// blockSteps selects bf16BlockSteps over bf16RowSteps in packABlock
// (tests compare the two).
var blockSteps = true

var blockGroup = 8

// packABlock packs rows [i0, i0+32) of alpha·op(A) (m×k).
func packABlock(dst []uint16, a []float32, lda int, trans bool, alpha float32, i0, m, k int) {
	ks := ceilDiv(k, bfTile)
	_ = dst[ks*bfTile*bfTile-1]
	if !trans && alpha == 1 { // the live rows step by step in one call
		rows := max(0, min(bfTile, m-i0))
		if rows > 0 {
			_ = a[(i0+rows-1)*lda+k-1]
		}
		if rows > 0 && blockSteps {
			for r := 0; r < rows; r += blockGroup {
				bf16BlockSteps(&dst[r*bfTile], &a[(i0+r)*lda], lda, min(blockGroup, rows-r), k)
			}
		} else {
			for r := range rows {
				bf16RowSteps(&dst[r*bfTile], &a[(i0+r)*lda], k)
			}
		}
		for r := rows; r < bfTile; r++ {
			for s := range ks {
				clear(dst[s*bfTile*bfTile+r*bfTile : s*bfTile*bfTile+(r+1)*bfTile])
			}
		}
		return
	}
	for s := range ks {
		k0 := s * bfTile
		kn := min(bfTile, k-k0)
		blk := dst[s*bfTile*bfTile:]
		for r := range bfTile {
			row := blk[r*bfTile : (r+1)*bfTile]
			i := i0 + r
			if i >= m {
				clear(row)
				continue
			}
			for c := range row {
				var v float32
				if c < kn {
					if trans {
						v = a[(k0+c)*lda+i]
					} else {
						v = a[i*lda+k0+c]
					}
				}
				row[c] = ToBF16(alpha * v)
			}
		}
	}
}

// packBSliver packs columns [j0, j0+32) of op(B) (k×n) as k/2 rows of 32
// pairs, padded with zero pairs to whole K steps.
func packBSliver(dst []uint32, b []float32, ldb int, trans bool, j0, n, k int) {
	kp := ceilDiv(k, bfTile) * bfTile / 2
	nw := min(bfTile, n-j0)
	if trans {
		for p := range kp {
			for j := range bfTile {
				var lo, hi float32
				if j < nw && 2*p < k {
					lo = b[(j0+j)*ldb+2*p]
					if 2*p+1 < k {
						hi = b[(j0+j)*ldb+2*p+1]
					}
				}
				dst[p*bfTile+j] = uint32(ToBF16(lo)) | uint32(ToBF16(hi))<<16
			}
		}
		return
	}
	m0, m1 := uint64(1)<<min(16, nw)-1, uint64(1)<<max(0, nw-16)-1
	full := k / 2
	if full > 0 {
		bf16PackPairs(&dst[0], &b[j0], &b[ldb+j0], 2*ldb, full, m0, m1)
	}
	if k%2 == 1 {
		bf16PackPairs(&dst[full*bfTile], &b[(k-1)*ldb+j0], &bf16Zeros[0], 0, 1, m0, m1)
	}
	clear(dst[ceilDiv(k, 2)*bfTile : kp*bfTile])
}

// bf16Zeros stands for the missing row of an odd K.
var bf16Zeros [bfTile]float32

// ToBF16 rounds x to bfloat16 as VCVTNE2PS2BF16 does: to nearest even,
// subnormals to (signed) zero, NaN to a quiet NaN.
func ToBF16(x float32) uint16 {
	u := math.Float32bits(x)
	switch {
	case u&0x7f800000 == 0:
		return uint16(u>>16) & 0x8000
	case u&0x7fffffff > 0x7f800000:
		return uint16(u>>16) | 0x0040
	}
	u += 0x7fff + (u>>16)&1
	return uint16(u >> 16)
}

// FromBF16 widens a bfloat16 to float32 (exactly).
func FromBF16(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// SgemmBF16 is Sgemm in bfloat16 with float32 accumulation: C (m×n) =
// Act(alpha·op(A)·op(B) + beta·C + bias + residual), both operands rounded
// and packed on the fly. It panics on invalid arguments like Sgemm, and
// with ErrNoBF16 when HaveBF16 is false.
func SgemmBF16(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, ep *Epilogue) {
	checkDims(m, n, k)
	checkMatrix("A", "lda", transA, m, k, a, lda)
	checkMatrix("B", "ldb", transB, k, n, b, ldb)
	bfRun(bfOp{m: m, n: n, k: k, transA: transA, alpha: alpha, a: a, lda: lda, transB: transB, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, ep: ep})
}

// SgemmBF16PackedA is SgemmBF16 with alpha·op(A) packed by PackABF16 (the
// weights of y = W·x, as in a convolution's W·cols).
func SgemmBF16PackedA(pa *PackedBF16, transB bool, n int, b []float32, ldb int, beta float32, c []float32, ldc int, ep *Epilogue) {
	if pa == nil || !pa.isA {
		panic("gemm: SgemmBF16PackedA needs an A operand from PackABF16")
	}
	checkDims(pa.m, n, pa.k)
	checkMatrix("B", "ldb", transB, pa.k, n, b, ldb)
	bfRun(bfOp{m: pa.m, n: n, k: pa.k, pa: pa, transB: transB, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, ep: ep})
}

// SgemmBF16PackedB is SgemmBF16 with op(B) packed by PackBBF16 (the weights
// of a linear layer y = x·Wᵀ).
func SgemmBF16PackedB(transA bool, m int, alpha float32, a []float32, lda int, pb *PackedBF16, beta float32, c []float32, ldc int, ep *Epilogue) {
	if pb == nil || pb.isA {
		panic("gemm: SgemmBF16PackedB needs a B operand from PackBBF16")
	}
	checkDims(m, pb.m, pb.k)
	checkMatrix("A", "lda", transA, m, pb.k, a, lda)
	bfRun(bfOp{m: m, n: pb.m, k: pb.k, transA: transA, alpha: alpha, a: a, lda: lda, pb: pb, beta: beta, c: c, ldc: ldc, ep: ep})
}

// bfOp is one BF16 GEMM call.
type bfOp struct {
	m, n, k        int
	transA, transB bool
	alpha, beta    float32
	a, b, c        []float32
	lda, ldb, ldc  int
	pa, pb         *PackedBF16
	ep             *Epilogue
	ks             int
	abuf           []uint16  // A packed for this call when pa is nil
	src            RowSource // SgemmBF16Source: A's rows, read through it instead of a
	next           *bfOp     // SgemmBF16WPair: the second product, whose A blocks the first one's slivers fill
}

// bfCall is one BF16 GEMM call's state (SgemmBF16 and its packed
// variants, SgemmBF16W, SgemmBF16WPair), pooled with its parallel bodies
// bound once: a method value of a fresh bfOp makes the op escape to the
// heap, two allocations per call.
type bfCall struct {
	op                     bfOp
	pack, columns, dp, dp8 func(lo, hi int)
	pair                   func(lo, hi int) // SgemmBF16WPair's first product
	op2                    bfOp             // SgemmBF16WPair's second product while the first runs
}

var bfCalls = sync.Pool{New: func() any {
	c := new(bfCall)
	c.pack, c.columns, c.dp, c.dp8 = c.op.packABlocks, c.op.columns, c.op.dpColumns, c.op.dpColumns8
	c.pair = c.op.dpColumns8To
	return c
}}

// bfRun runs one BF16 GEMM on a pooled call.
func bfRun(o bfOp) {
	if !HaveBF16() {
		panic(ErrNoBF16)
	}
	checkMatrix("C", "ldc", false, o.m, o.n, o.c, o.ldc)
	checkEpilogue(o.ep, o.m, o.n, o.ldc)
	if o.m == 0 || o.n == 0 {
		return
	}
	if o.k == 0 {
		scaleC(&operands{m: o.m, n: o.n, beta: o.beta, c: o.c, ldc: o.ldc, ep: o.ep})
		return
	}
	c := bfCalls.Get().(*bfCall)
	c.op = o
	c.run()
	c.op = bfOp{} // the pool keeps no caller's slices
	bfCalls.Put(c)
}

// run computes c.op: x's rows rounded per call (rowsA scheme), or A packed
// (or pre-packed) and the AMX or VDPBF16PS column loop.
func (c *bfCall) run() {
	op := &c.op
	op.ks = ceilDiv(op.k, bfTile)
	if op.useRowsA() {
		op.rowsARun()
		return
	}
	rbs := ceilDiv(op.m, bfTile)
	if op.pa == nil {
		w := bfPool.Get().(*bfWorker)
		defer bfPool.Put(w)
		w.a = grow(w.a, rbs*op.ks*bfTile*bfTile)
		op.abuf = w.a
		parallel.ForChunks(rbs, 1, c.pack)
	} else {
		op.abuf = op.pa.a
	}
	sbs := ceilDiv(op.n, bfTile)
	switch {
	case useAMX():
		parallel.ForChunks(sbs, min(bfGroup, max(1, sbs/parallel.Workers())), c.columns)
	case dpWide:
		parallel.ForChunks(sbs, 1, c.dp8)
	default:
		parallel.ForChunks(sbs, 1, c.dp)
	}
}

// packABlocks packs the row blocks [lo, hi) of alpha·op(A) into op.abuf.
func (op *bfOp) packABlocks(lo, hi int) {
	for rb := lo; rb < hi; rb++ {
		packABlock(op.abuf[rb*op.ks*bfTile*bfTile:], op.a, op.lda, op.transA, op.alpha, rb*bfTile, op.m, op.k)
	}
}

// bfChunk is the K steps (of 32) per pass over a group's tiles and bfGroup
// the column slivers that share them. Each tile's accumulators are loaded
// and stored once per chunk, which costs as much as tens of TDPBF16PS, so
// the chunks are long (128 KB of A and of each B sliver, read from L2);
// the group lets an A chunk serve eight slivers before the next is read.
// Measured at 2048³: chunks of 8 steps 330–700 GFLOP per CPU-second, of 32
// or 64 steps 870–950.
const (
	bfChunk = 64
	bfGroup = 8
)

// amxTile is where amxBlock accumulates one 32×32 tile: its address and
// row stride in bytes (C itself, or a tile buffer). The addresses are of
// heap memory (C escapes into the call's bfOp), which Go does not move.
type amxTile struct {
	p  uintptr
	ld int
}

// columns computes the column slivers [lo,hi) of C, bfGroup at a time.
// Full tiles with beta 0 accumulate in C itself; the others in a tile
// buffer merged at the end.
func (op *bfOp) columns(lo, hi int) {
	step := op.ks * bfTile * bfTile
	rbs := ceilDiv(op.m, bfTile)
	w := bfPool.Get().(*bfWorker)
	defer bfPool.Put(w)
	var bsl []uint32
	if op.pb == nil {
		w.b = grow(w.b, bfGroup*step/2)
		bsl = w.b
	}
	w.t = grow(w.t, bfGroup*rbs*bfTile*bfTile)
	w.tiles = grow(w.tiles, bfGroup*rbs)
	tbuf, tiles := w.t, w.tiles
	var bs [bfGroup][]uint32
	var bp [bfGroup]*uint32
	for g0 := lo; g0 < hi; g0 += bfGroup {
		g1 := min(g0+bfGroup, hi)
		nsb := g1 - g0
		for sb := g0; sb < g1; sb++ {
			if op.pb != nil {
				bs[sb-g0] = op.pb.b[sb*step/2:]
			} else {
				bs[sb-g0] = bsl[(sb-g0)*step/2:]
				op.packBSliverFor(bs[sb-g0], sb, w)
			}
		}
		for rb := range rbs {
			for sb := g0; sb < g1; sb++ {
				i0, j0 := rb*bfTile, sb*bfTile
				t := &tiles[rb*nsb+sb-g0]
				if op.direct(i0, min(bfTile, op.n-j0)) {
					_ = op.c[(i0+bfTile-1)*op.ldc+j0+bfTile-1]
					t.p, t.ld = uintptr(unsafe.Pointer(&op.c[i0*op.ldc+j0])), 4*op.ldc
				} else {
					t.p, t.ld = uintptr(unsafe.Pointer(&tbuf[((sb-g0)*rbs+rb)*bfTile*bfTile])), 4*bfTile
				}
			}
		}
		for k0 := 0; k0 < op.ks; k0 += bfChunk {
			acc := 0
			if k0 > 0 {
				acc = 1
			}
			for s := range nsb {
				bp[s] = &bs[s][k0*bfTile*bfTile/2]
			}
			tileBlock(min(bfChunk, op.ks-k0), &op.abuf[k0*bfTile*bfTile], 2*step, rbs, &bp, nsb, &tiles[0], acc, &amxConfig[0])
		}
		for sb := g0; sb < g1; sb++ {
			j0 := sb * bfTile
			nw := min(bfTile, op.n-j0)
			for rb := range rbs {
				i0 := rb * bfTile
				mh := min(bfTile, op.m-i0)
				if !op.direct(i0, nw) {
					mergeTile(op.c[i0*op.ldc+j0:], op.ldc, tbuf[((sb-g0)*rbs+rb)*bfTile*bfTile:], bfTile, mh, nw, op.beta)
				}
				if op.ep != nil {
					op.ep.applyTile(op.c, op.ldc, i0, j0, mh, nw)
				}
			}
		}
	}
	runtime.KeepAlive(tbuf)
	runtime.KeepAlive(op.c)
}

// direct reports whether the tile at row i0 (of nw columns) accumulates
// in C: whole tiles when C's old values are not needed.
func (op *bfOp) direct(i0, nw int) bool {
	return op.beta == 0 && nw == bfTile && i0+bfTile <= op.m
}

// bfWorker holds the buffers of one BF16 GEMM worker (or, in bfOp, the
// call's packed A); they are pooled so that calls allocate nothing after
// warm-up.
type bfWorker struct {
	a     []uint16
	b     []uint32
	t     []float32
	tiles []amxTile
	p     []uint32 // rows of a transposed B sliver, rounded (packBSliverFor)
	a2    []uint16 // the next A block, rounded by the kernels (bfRowsA.block)
}

var bfPool = sync.Pool{New: func() any { return new(bfWorker) }}

// grow returns b resized to n, reallocated only when too small.
func grow[T any](b []T, n int) []T {
	if cap(b) < n {
		return make([]T, n)
	}
	return b[:n]
}
