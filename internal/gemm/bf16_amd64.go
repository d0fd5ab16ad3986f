//go:build amd64 && !purego

package gemm

//go:generate go run asm/gen_bf16.go

// haveBF16Asm says this build has the AMX kernels.
const haveBF16Asm = true

// amxBlock runs the AMX kernel over rbs row blocks × nsb column slivers
// for kn K steps (bf16_amd64.s).
//
//go:noescape
func amxBlock(kn int, a *uint16, aStride, rbs int, b *[bfGroup]*uint32, nsb int, c *amxTile, acc int, cfg *byte)

// bf16PackPairs rounds two rows of 32 columns per step into bfloat16 pairs
// (bf16_amd64.s).
//
//go:noescape
func bf16PackPairs(dst *uint32, r0, r1 *float32, ld, kp int, m0, m1 uint64)

// bf16Row rounds n ≤ 32 floats to bfloat16 and zero-fills dst to 32.
//
//go:noescape
func bf16Row(dst *uint16, src *float32, n int)

// bf16RowSteps rounds one row of k floats into its place in a packed A
// block (K steps of 32 values, 1024 apart), zero-filling the last step.
//
//go:noescape
func bf16RowSteps(dst *uint16, src *float32, k int)

// bf16BlockSteps rounds the first rows (1–32) rows of a packed A block
// (lda floats apart) step by step, storing through dst in order: the
// values of bf16RowSteps on each row.
//
//go:noescape
func bf16BlockSteps(dst *uint16, src *float32, lda, rows, k int)

// bf16RowContig rounds a row of k floats to bfloat16, contiguous, and
// zero-fills dst to a whole 32 values (bf16_amd64.s).
//
//go:noescape
func bf16RowContig(dst *uint16, src *float32, k int)
