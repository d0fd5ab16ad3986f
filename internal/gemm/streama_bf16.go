package gemm

import (
	"sync"

	"github.com/metasurv/metasurv/internal/parallel"
)

// SgemmBF16StreamA is the bfloat16 product C = Act(A·B + bias + residual)
// for weights A (m×k, row-major) that are used by few columns (a deep
// convolution layer's W·cols with a few hundred output voxels): each block
// of 32 rows of A is rounded to bfloat16 just before the VDPBF16PS kernel
// uses it, a K chunk at a time into a worker buffer that stays in L2,
// instead of being kept as a PackABF16 copy (half the float32 weights
// again, resident). B (k×n, row-major, small) is rounded and packed once
// per call into pooled slivers shared by the workers. Work items are row
// blocks of A, so a product with a single column sliver still runs on
// every worker (a packed A runs in parallel over column slivers only).
// A costs one streaming read per call; memory beyond it is the pooled
// B slivers (about half the float32 size of B) and per-worker buffers of
// up to 1 MB. C is overwritten. It panics on invalid arguments like Sgemm,
// and with ErrNoBF16 when HaveBF16 is false. It does not use AMX, whose
// packed products are several times faster (see UsesAMX).
func SgemmBF16StreamA(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, ep *Epilogue) {
	if !HaveBF16() {
		panic(ErrNoBF16)
	}
	checkDims(m, n, k)
	checkMatrix("A", "lda", false, m, k, a, lda)
	checkMatrix("B", "ldb", false, k, n, b, ldb)
	checkMatrix("C", "ldc", false, m, n, c, ldc)
	checkEpilogue(ep, m, n, ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		scaleC(&operands{m: m, n: n, c: c, ldc: ldc, ep: ep})
		return
	}
	s := streamPool.Get().(*streamA)
	defer streamPool.Put(s)
	s.m, s.n, s.k, s.a, s.lda, s.b, s.ldb, s.c, s.ldc, s.ep = m, n, k, a, lda, b, ldb, c, ldc, ep
	s.ks = ceilDiv(k, bfTile)
	s.sbs = ceilDiv(n, bfTile)
	s.kp = s.ks * bfTile / 2
	s.kcs = ceilDiv(s.ks, streamChunk)
	s.bs = grow(s.bs, s.sbs*s.kp*bfTile)
	parallel.ForChunks(s.sbs*s.kcs, 1, s.packFn)
	parallel.ForChunks(ceilDiv(m, bfTile), 1, s.rowsFn)
	s.a, s.b, s.c, s.ep = nil, nil, nil, nil
}

// streamChunk is the most K steps (of 32) of a block of A rounded at a
// time: whole rows up to k = 16384 (1 MB of bfloat16 for the block, of
// which the kernel streams 8-row quarters from L2). Rounding whole rows
// reads A in long sequential runs; at ResNet18's layer4 shape (512×27×
// 13824) that took 30 % less CPU time than chunks of 64 or 256 steps.
var streamChunk = 512

// streamA is one SgemmBF16StreamA call; pooled with its buffers and the
// bound method values of its parallel loops, so calls allocate nothing
// after warm-up.
type streamA struct {
	m, n, k, lda, ldb, ldc int
	a, b, c                []float32
	ep                     *Epilogue
	ks, sbs, kp, kcs       int
	bs                     []uint32 // B: sbs slivers of kp rows of 32 pairs
	packFn, rowsFn         func(lo, hi int)
}

// streamWorker is one worker's A chunk and C band.
type streamWorker struct {
	a  []uint16  // 32 rows × streamChunk steps, packed as PackABF16's blocks
	ct []float32 // 32 rows × sbs·32 columns of C
}

var streamPool = sync.Pool{New: func() any {
	s := new(streamA)
	s.packFn, s.rowsFn = s.packB, s.rows
	return s
}}

var streamWorkers = sync.Pool{New: func() any { return new(streamWorker) }}

// packB rounds items [lo, hi) of B: item i is K chunk i%kcs of sliver
// i/kcs (rows of pairs are independent, so chunks pack separately).
func (s *streamA) packB(lo, hi int) {
	for it := lo; it < hi; it++ {
		sb, kc := it/s.kcs, it%s.kcs
		k0 := kc * streamChunk * bfTile
		kn := min(streamChunk*bfTile, s.k-k0)
		dst := s.bs[(sb*s.kp+k0/2)*bfTile:]
		packBSliver(dst, s.b[k0*s.ldb:], s.ldb, false, sb*bfTile, s.n, kn)
	}
}

// rows computes the row blocks [lo, hi) of C: for each K chunk, the
// block's rows of A are rounded into the worker's buffer and multiplied
// by every B sliver into the worker's band of C, 8 rows × 32 columns per
// kernel call; the band is then copied into C and the epilogue applied.
func (s *streamA) rows(lo, hi int) {
	w := streamWorkers.Get().(*streamWorker)
	defer streamWorkers.Put(w)
	const q = bfTile / 4
	np := s.sbs * bfTile
	w.a = grow(w.a, min(streamChunk, s.ks)*bfTile*bfTile)
	w.ct = grow(w.ct, bfTile*np)
	for rb := lo; rb < hi; rb++ {
		i0 := rb * bfTile
		mh := min(bfTile, s.m-i0)
		for kc := range s.kcs {
			k0 := kc * streamChunk * bfTile
			kn := min(streamChunk*bfTile, s.k-k0)
			steps := ceilDiv(kn, bfTile)
			for r := range bfTile {
				if r < mh {
					bf16RowSteps(&w.a[r*bfTile], &s.a[(i0+r)*s.lda+k0], kn)
					continue
				}
				for st := range steps {
					clear(w.a[st*bfTile*bfTile+r*bfTile : st*bfTile*bfTile+(r+1)*bfTile])
				}
			}
			add := min(kc, 1)
			for sb := range s.sbs {
				bp := &s.bs[(sb*s.kp+k0/2)*bfTile]
				kern := dpbf16Kern8x32
				if s.n-sb*bfTile <= 24 {
					kern = dpbf16Kern8x24
				}
				for rq := range 4 {
					if rq*q >= mh {
						break
					}
					kern(steps, &w.a[rq*q*bfTile], bp, &w.ct[rq*q*np+sb*bfTile], np, add)
				}
			}
		}
		mergeTile(s.c[i0*s.ldc:], s.ldc, w.ct, np, mh, s.n, 0)
		if s.ep != nil {
			s.ep.applyTile(s.c, s.ldc, i0, 0, mh, s.n)
		}
	}
}
