//go:build !amd64 || purego

package gemm

// haveTranspose is false: without assembly every panel is packed by Go loops.
const haveTranspose = false

func transposePack(dst, src *float32, ld, k, dstStep, live int, storeMask uint16, alpha float32) {
	panic("gemm: transposePack called in a build without assembly")
}

func transposeStoreEp(dst, src *float32, ld, k, dstStep, live int, storeMask uint16, alpha float32, add1, add2, resid *float32, act int) {
	panic("gemm: transposeStoreEp called in a build without assembly")
}

// copyRows32 is the AVX-512 sliver copy; packB never calls it in this build.
func copyRows32(dst, src *float32, ld, k int) {
	panic("gemm: copyRows32 called in a build without assembly")
}

const haveEpilogueAsm = false

func epilogueTileAVX512(c *float32, ldc, rows, cols int, colBias, rowBias, resid *float32, act int) {
	panic("gemm: epilogueTileAVX512 called in a build without assembly")
}
