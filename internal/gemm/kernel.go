package gemm

import (
	"fmt"

	"github.com/metasurv/metasurv/internal/cpu"
)

// Kernel is a micro-kernel with its tile and blocking sizes, for code (such
// as a direct or implicit-GEMM convolution) that packs its own panels in
// the PackedA/PackedB sliver layout and drives the kernel itself.
type Kernel struct {
	// Level is the instruction level the kernel needs.
	Level cpu.Level
	// MR×NR is the tile of C computed per call.
	MR, NR int
	// MC, KC, NC are the cache blocking sizes Sgemm uses with this kernel:
	// an MC×KC block of A fits in L2, a KC×NR sliver of B in L1.
	MC, KC, NC int
	bl         *blocking
}

// KernelFor returns the micro-kernel Sgemm uses at level l (clamped to the
// levels this build has kernels for); KernelFor(cpu.Current()) is the one
// in use now.
func KernelFor(l cpu.Level) Kernel {
	bl := blockingFor(min(l, cpu.Detected()))
	return Kernel{Level: bl.level, MR: bl.mr, NR: bl.nr, MC: bl.mc, KC: bl.kc, NC: bl.nc, bl: bl}
}

// Run multiplies a packed sliver of A (k steps of MR floats: a[p·MR+i]) by a
// packed sliver of B (k steps of NR floats: b[p·NR+j]) and stores the
// MR×NR tile into c with row stride ldc: c = acc when beta == 0 (c is not
// read), else c = acc + beta·c. It panics if a slice is too short.
func (kn Kernel) Run(k int, a, b, c []float32, ldc int, beta float32) {
	if kn.bl == nil {
		panic("gemm: Kernel.Run on a zero Kernel; use KernelFor")
	}
	if k < 1 || len(a) < k*kn.MR || len(b) < k*kn.NR || ldc < kn.NR || len(c) < (kn.MR-1)*ldc+kn.NR {
		panic(fmt.Sprintf("gemm: Kernel.Run k=%d len(a)=%d len(b)=%d len(c)=%d ldc=%d for a %d×%d tile", k, len(a), len(b), len(c), ldc, kn.MR, kn.NR))
	}
	kn.bl.kern(k, &a[0], &b[0], &c[0], ldc, beta)
}

// RunRows is Run for the first rows ≤ MR rows of the tile only (the other
// rows of the packed A sliver are not multiplied and their C rows are not
// written), for a last sliver of output channels. Levels without row-edge
// kernels compute the whole tile, so c must always hold MR rows.
func (kn Kernel) RunRows(rows, k int, a, b, c []float32, ldc int, beta float32) {
	if rows >= kn.MR || kn.bl.edge == nil {
		kn.Run(k, a, b, c, ldc, beta)
		return
	}
	if rows < 1 || k < 1 || len(a) < k*kn.MR || len(b) < k*kn.NR || ldc < kn.NR || len(c) < (kn.MR-1)*ldc+kn.NR {
		panic(fmt.Sprintf("gemm: Kernel.RunRows rows=%d k=%d len(a)=%d len(b)=%d len(c)=%d ldc=%d for a %d×%d tile", rows, k, len(a), len(b), len(c), ldc, kn.MR, kn.NR))
	}
	kn.bl.edge[rows](k, &a[0], &b[0], &c[0], ldc, beta, kn.NR)
}
