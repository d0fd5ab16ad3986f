// Package gemm is metasurv's single-precision matrix multiply, the engine
// under every dense layer, 1×1×1 convolution, patch embedding and
// implicit-GEMM convolution.
//
// Sgemm follows BLAS sgemm for row-major matrices. Internally it is a
// BLIS-style blocked algorithm: op(B) is packed into panels of KC×NC floats
// (L3), op(A) into blocks of MC×KC (L2), and a register-blocked micro-kernel
// multiplies an MR-row sliver of A by an NR-column sliver of B (L1),
// accumulating the MR×NR tile of C in registers. Micro-kernels exist in Go
// assembly for AVX-512 (14×32, accumulators in 28 Z registers, plus
// column-masked edge kernels for 1…13 rows so ragged tiles are written in
// place) and AVX2 (6×16), and in portable Go (3×2, the largest tile the Go
// compiler keeps in registers); the level is chosen by internal/cpu at call
// time. The AVX-512 kernels prefetch the C tile one row per unrolled
// iteration, and the full 14×32 kernel also the next packed B sliver into
// L2. At AVX-512, transposed panels are packed by in-register 16×16
// transposes and full-width untransposed B slivers by a row copy that
// prefetches ahead (their rows are a stride apart, which the hardware
// prefetchers do not follow). When m fits one
// A block and B is not transposed (a convolution W·cols with few output
// channels), "strided" kernels read B in place instead of packing it.
//
// Multi-threading uses the internal/parallel pool. When B must be packed,
// the workers pack the B panel and the A block of each (jc, pc) step
// together into shared buffers and take the tiles of C in items handed out
// dynamically, so nothing is packed twice and a worker slowed down by
// another process on its core does not hold the others back. The steps are
// pipelined over two sets of buffers: one parallel phase multiplies step s
// and then packs step s+1, so a worker that runs out of items packs
// instead of waiting, and each step costs one barrier. Otherwise
// (B pre-packed or read in place) C is cut into items that each run the
// whole blocked loop. Buffers are recycled, so a call allocates nothing
// after warm-up.
//
// A product x·Wᵀ with few rows of x and a large W (Sgemm(false, true, …)
// with m ≤ 512 < n, beta 0: a linear layer over a few hundred tokens) is
// computed transposed, Cᵀ = W·xᵀ, with W read in place by a 7-row AVX-512
// kernel and only xᵀ packed, so the weights are never copied (rowsa.go);
// SgemmBF16 does the same with W rounded to bfloat16 block by block
// (rowsa_bf16.go). At inference two such products in a row (a
// transformer's MLP) can run as one SgemmPair / SgemmBF16Pair, the first
// product's Cᵀ tiles written straight into the second's packed xᵀ, so the
// hidden activations are never stored (pair.go; SgemmBF16WPair does the
// same on weights packed by PackWeightsBF16); and SgemmSource /
// SgemmBF16Source read x's rows through a RowSource (a ViT's patches,
// gathered from the image) right before packing them, so x is never
// stored (source.go). Both give the bits of the unfused calls.
//
// SgemmEx fuses an Epilogue (bias, residual add, ReLU or exact GELU) into
// the last pass over each C tile, while it is still in L1 cache. PackA and
// PackB pack a constant operand (network weights) once; SgemmPackedA and
// SgemmPackedB reuse it. KernelFor exposes the micro-kernel and its tile
// sizes so a convolution can drive it on its own packed panels.
//
// SgemmBF16 (and its PackABF16/PackBBF16 variants) is an opt-in inference
// path for CPUs with AVX512_BF16: both operands are rounded to bfloat16 and
// products accumulate in float32, on the AMX tile unit where present (32×32
// tiles: 760–950 GFLOP per CPU-second at 2048³ on Sapphire Rapids, against
// 100–130 for Sgemm; it requests the tile state from Linux on first use),
// else with VDPBF16PS (about 200 GFLOP per CPU-second on Zen 4). HaveBF16
// says whether it can run, UsesAMX which unit the packed products use.
// Float32 stays the default and the reference. On CPUs with AVX512_BF16
// but no AMX, tests can run the AMX path with the tile kernel's arithmetic
// emulated in Go (EmulateAMX, or METASURV_EMULATE_AMX=1): everything but
// the tile instructions is then tested on every development machine.
package gemm
