package gemm

import (
	"fmt"

	"github.com/metasurv/metasurv/internal/cpu"
)

// PackedB is op(B) (k×n) packed once into the micro-kernel's panel layout,
// for inference where the same weights multiply many inputs. Layout: k is
// cut into blocks of KC rows; block q (rows k0 = q·KC … k0+kb) stores the
// ceil(n/NR) slivers of NR columns one after the other, each kb×NR floats
// k-major, columns past n zero. Element (p, j) therefore lives at
//
//	k0·Npad + (j/NR)·kb·NR + (p-k0)·NR + j%NR,   Npad = ceil(n/NR)·NR
//
// with NR and KC those of the kernel for the level current at packing time
// (see KernelFor). A PackedB is read-only and safe for concurrent use.
type PackedB struct {
	bl   *blocking
	k, n int
	npad int
	data []float32
}

// PackedA is alpha·op(A) (m×k) packed once, the mirror of PackedB: block q
// of KC columns stores ceil(m/MR) slivers of MR rows, each kb×MR floats
// k-major, so element (i, p) lives at k0·Mpad + (i/MR)·kb·MR + (p-k0)·MR + i%MR.
// This is what a convolution computed as W·cols wants for its weights W.
type PackedA struct {
	bl   *blocking
	m, k int
	mpad int
	data []float32
}

// PackB packs op(B), a k×n matrix stored row-major with stride ldb (n×k if
// transB), for the current kernel. It panics on invalid arguments as Sgemm.
func PackB(transB bool, k, n int, b []float32, ldb int) *PackedB {
	checkDims(0, n, k)
	checkMatrix("B", "ldb", transB, k, n, b, ldb)
	bl := blockingFor(cpu.Current())
	p := &PackedB{bl: bl, k: k, n: n, npad: ceilDiv(n, bl.nr) * bl.nr}
	p.data = alignedFloats(k * p.npad)
	for k0 := 0; k0 < k; k0 += bl.kc {
		kb := min(bl.kc, k-k0)
		packB(p.data[k0*p.npad:], b, ldb, transB, k0, 0, kb, n, bl.nr)
	}
	return p
}

// PackA packs alpha·op(A), an m×k matrix stored row-major with stride lda
// (k×m if transA), for the current kernel.
func PackA(transA bool, m, k int, alpha float32, a []float32, lda int) *PackedA {
	return RepackA(nil, transA, m, k, alpha, a, lda)
}

// RepackA is PackA reusing the storage of dst when dst was packed with the
// same shape for the current kernel (it returns dst then), so layers that
// re-pack their weights after every optimizer step allocate nothing. A nil
// or incompatible dst is left alone and a new PackedA is returned.
func RepackA(dst *PackedA, transA bool, m, k int, alpha float32, a []float32, lda int) *PackedA {
	checkDims(m, 0, k)
	checkMatrix("A", "lda", transA, m, k, a, lda)
	bl := blockingFor(cpu.Current())
	p := dst
	if p == nil || p.bl != bl || p.m != m || p.k != k {
		p = &PackedA{bl: bl, m: m, k: k, mpad: ceilDiv(m, bl.mr) * bl.mr}
		p.data = alignedFloats(k * p.mpad)
	}
	for k0 := 0; k0 < k; k0 += bl.kc {
		kb := min(bl.kc, k-k0)
		packA(p.data[k0*p.mpad:], a, lda, transA, alpha, 0, k0, m, kb, bl.mr)
	}
	return p
}

// Dims returns the k×n shape of op(B).
func (p *PackedB) Dims() (k, n int) { return p.k, p.n }

// Dims returns the m×k shape of op(A).
func (p *PackedA) Dims() (m, k int) { return p.m, p.k }

// panel returns the packed slivers of block (k0, j0); j0 is a multiple of NR.
func (p *PackedB) panel(k0, j0, kb int) []float32 {
	return p.data[k0*p.npad+(j0/p.bl.nr)*kb*p.bl.nr:]
}

// panel returns the packed slivers of block (i0, k0); i0 is a multiple of MR.
func (p *PackedA) panel(k0, i0, kb int) []float32 {
	return p.data[k0*p.mpad+(i0/p.bl.mr)*kb*p.bl.mr:]
}

// SgemmPackedB is SgemmEx with op(B) pre-packed by PackB: C (m×n) =
// Act(alpha·op(A)·B + beta·C + bias + residual).
func SgemmPackedB(transA bool, m int, alpha float32, a []float32, lda int, pb *PackedB, beta float32, c []float32, ldc int, ep *Epilogue) {
	if pb == nil {
		panic("gemm: SgemmPackedB with nil PackedB")
	}
	checkDims(m, pb.n, pb.k)
	checkMatrix("A", "lda", transA, m, pb.k, a, lda)
	checkMatrix("C", "ldc", false, m, pb.n, c, ldc)
	checkEpilogue(ep, m, pb.n, ldc)
	run(&operands{transA: transA, m: m, n: pb.n, k: pb.k, alpha: alpha, a: a, lda: lda, pb: pb, beta: beta, c: c, ldc: ldc, ep: ep})
}

// SgemmPackedA is SgemmEx with alpha·op(A) pre-packed by PackA: C (m×n) =
// Act(A·op(B) + beta·C + bias + residual). This is the convolution form
// W·cols with the weights W packed once.
func SgemmPackedA(pa *PackedA, transB bool, n int, b []float32, ldb int, beta float32, c []float32, ldc int, ep *Epilogue) {
	if pa == nil {
		panic("gemm: SgemmPackedA with nil PackedA")
	}
	checkDims(pa.m, n, pa.k)
	checkMatrix("B", "ldb", transB, pa.k, n, b, ldb)
	checkMatrix("C", "ldc", false, pa.m, n, c, ldc)
	checkEpilogue(ep, pa.m, n, ldc)
	run(&operands{transB: transB, m: pa.m, n: n, k: pa.k, alpha: 1, b: b, ldb: ldb, pa: pa, beta: beta, c: c, ldc: ldc, ep: ep})
}

// String describes the packing, for logs.
func (p *PackedB) String() string {
	return fmt.Sprintf("PackedB(%d×%d, %v NR=%d KC=%d)", p.k, p.n, p.bl.level, p.bl.nr, p.bl.kc)
}
