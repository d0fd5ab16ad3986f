//go:build !amd64 || purego

package gemm

// haveGather is false: without assembly every panel is packed by Go loops.
const haveGather = false

func gatherPack(dst, src *float32, idx *int32, k, dstStep int, loadMask, storeMask uint16, alpha float32) {
	panic("gemm: gatherPack called in a build without assembly")
}

const haveEpilogueAsm = false

func epilogueTileAVX512(c *float32, ldc, rows, cols int, colBias, rowBias, resid *float32, act int) {
	panic("gemm: epilogueTileAVX512 called in a build without assembly")
}
