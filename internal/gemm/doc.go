// Package gemm is metasurv's single-precision matrix multiply, the engine
// under every dense layer, 1×1×1 convolution, patch embedding and
// implicit-GEMM convolution.
//
// Sgemm follows BLAS sgemm for row-major matrices. Internally it is a
// BLIS-style blocked algorithm: op(B) is packed into panels of KC×NC floats
// (L3), op(A) into blocks of MC×KC (L2), and a register-blocked micro-kernel
// multiplies an MR-row sliver of A by an NR-column sliver of B (L1),
// accumulating the MR×NR tile of C in registers. Micro-kernels exist in Go
// assembly for AVX-512 (14×32, accumulators in 28 Z registers) and AVX2
// (6×16) and in portable Go (3×2); the level is chosen by internal/cpu at
// call time. C is split across the internal/parallel worker pool as a grid
// of parts chosen by a cost model; pack buffers are recycled, so a call
// allocates nothing after warm-up.
//
// SgemmEx fuses an Epilogue (bias, residual add, ReLU or exact GELU) into
// the last pass over each C tile, while it is still in L1 cache. PackA and
// PackB pack a constant operand (network weights) once; SgemmPackedA and
// SgemmPackedB reuse it. KernelFor exposes the micro-kernel and its tile
// sizes so a convolution can drive it on its own packed panels.
package gemm
