//go:build amd64 && !purego

package gemm

import "github.com/metasurv/metasurv/internal/cpu"

//go:generate go run asm/gen.go asm/gelu.go -out kernel_amd64.s -decl kernel_decl_amd64.go

func init() {
	blockings[cpu.AVX2] = &blocking{
		level: cpu.AVX2, mr: 6, nr: 16, mc: 6 * 40, kc: 256, nc: 4096,
		kern: kernAVX2_6x16, strided: kernAVX2_6x16_strided,
	}
	blockings[cpu.AVX512] = &blocking{
		level: cpu.AVX512, mr: 14, nr: 32, mc: 14 * 24, kc: 256, nc: 4096,
		kern: kernAVX512_14x32, strided: kernAVX512_14x32_strided,
		edge: avx512Edge[:], stridedEdge: avx512StridedEdge[:], rowsA: kernAVX512_7x32_rowsA, rowsAMR: 7, rowsATail: kernAVX512Y_7x24_rowsA,
	}
}

// haveTranspose says the AVX-512 packing routines (transposePack,
// copyRows32) exist in this build.
const haveTranspose = true

// transposePack packs a transposed panel of up to 16 lanes with in-register
// 16×16 transposes: for p in [0,k), lane l of dst[p·dstStep:] gets
// alpha·src[l·ld + p] (0 for l ≥ live); only the lanes in storeMask are
// written.
//
//go:noescape
func transposePack(dst, src *float32, ld, k, dstStep, live int, storeMask uint16, alpha float32)

// transposeStoreEp is transposePack storing into C with a fused epilogue
// in registers: each stored vector x = alpha·src is added add1 (16
// floats, always), then add2 (if not nil), then the residual at the same
// offset from resid as the store's from dst (if not nil), then the
// activation act (an Activation: the epilogue's ReLU or GELU, same
// bits). Lanes outside storeMask are neither read nor written.
//
//go:noescape
func transposeStoreEp(dst, src *float32, ld, k, dstStep, live int, storeMask uint16, alpha float32, add1, add2, resid *float32, act int)

// copyRows32 copies k rows of 32 floats, src + p·ld, to dst + 32·p, the
// packing of a full-width sliver of an untransposed B (AVX-512 only).
//
//go:noescape
func copyRows32(dst, src *float32, ld, k int)

// epilogueTileAVX512 applies a fused epilogue to a rows×cols block of C
// (stride ldc): x += rowBias[r] + colBias[j] + resid[r·ldc+j], then act
// (0 none, 1 ReLU, 2 GELU). Nil pointers skip their term.
//
//go:noescape
func epilogueTileAVX512(c *float32, ldc, rows, cols int, colBias, rowBias, resid *float32, act int)

const haveEpilogueAsm = true
